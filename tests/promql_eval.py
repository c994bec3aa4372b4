"""A small PromQL evaluator for the alert tests, over promql-parser's syntax tree.

It evaluates the subset the alert rules use (selectors with label matchers, range selectors,
rate/increase, histogram_quantile, sum by, arithmetic, comparisons and `and` between vectors
with identical labels or a vector and a number) and alerting rules with `for`, with Prometheus's
semantics as of Prometheus 2.x (whose promtool the tests also run): the 5-minute lookback
[t - 5m, t] of instant selectors, the range window [t - range, t], the extrapolation of
`extrapolatedRate`, `bucketQuantile`, and an alert firing once its expression has returned it at
every evaluation for its `for` duration
(prometheus/prometheus promql/engine.go, promql/functions.go, promql/quantile.go,
rules/alerting.go).

Anything outside that subset raises `UnsupportedError`: a rule that needs more fails its test here
rather than being evaluated wrongly. Where promtool is installed the same cases also run through
Prometheus itself (tests/test_monitoring_rules.py), so the two must agree.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser

LOOKBACK_SECONDS = 300.0
Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]

_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')
_VALUE = re.compile(r"^(-?[0-9.]+)(?:([+-])([0-9.]+))?(?:x([0-9]+))?$")

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: a / b if b else math.copysign(math.inf, a) if a else math.nan,
}


class UnsupportedError(ValueError):
    """The expression uses PromQL this evaluator does not implement."""


def parse_series(text: str) -> Labels:
    """`name{a="b",c="d"}` as a label set (with __name__)."""
    match = _SERIES.match(text.strip())
    if not match:
        raise ValueError(f"not a series: {text!r}")
    labels = {"__name__": match.group(1)}
    rest = match.group(2)
    position = 0
    while position < len(rest):
        label = _LABEL.match(rest, position)
        if not label:
            raise ValueError(f"bad labels in {text!r}")
        labels[label.group(1)] = label.group(2)
        position = label.end()
    # Prometheus drops empty labels.
    return frozenset((k, v) for k, v in labels.items() if v)


def expand_values(text: str) -> list[float]:
    """promtool's notation: `a+bxn` is a, a+b, ..., a+nb; `axn` is a repeated n+1 times."""
    out: list[float] = []
    for token in text.split():
        match = _VALUE.match(token)
        if not match:
            raise ValueError(f"unsupported value notation {token!r}")
        start = float(match.group(1))
        step = float(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
        times = int(match.group(4)) if match.group(4) else 0
        out += [start + step * i for i in range(times + 1)]
    return out


@dataclass
class Storage:
    """Samples per series, at `interval` seconds from t=0."""

    series: dict[Labels, list[tuple[float, float]]]

    @classmethod
    def from_input(cls, input_series: Iterable[Mapping[str, str]], interval: float) -> Storage:
        series = {}
        for item in input_series:
            values = expand_values(item["values"])
            series[parse_series(item["series"])] = [(i * interval, v) for i, v in enumerate(values)]
        return cls(series)


def _matches(labels: Labels, selector: Any) -> bool:
    as_dict = dict(labels)
    if selector.name and as_dict.get("__name__") != selector.name:
        return False
    for matcher in selector.matchers.matchers:
        value = as_dict.get(matcher.name, "")
        op = str(matcher.op)
        if op.endswith("Equal") and "Not" not in op:
            ok = value == matcher.value
        elif op.endswith("NotEqual"):
            ok = value != matcher.value
        elif op.endswith("NotRe"):
            ok = re.fullmatch(matcher.value, value) is None
        elif op.endswith("Re"):
            ok = re.fullmatch(matcher.value, value) is not None
        else:
            raise UnsupportedError(f"matcher {op}")
        if not ok:
            return False
    return not selector.matchers.or_matchers


def _without_name(labels: Labels) -> Labels:
    return frozenset((k, v) for k, v in labels if k != "__name__")


def _extrapolated_rate(
    samples: list[tuple[float, float]], start: float, end: float, *, rate: bool
) -> float | None:
    if len(samples) < 2:
        return None
    first_t, first_v = samples[0]
    last_t, last_v = samples[-1]
    result = last_v - first_v
    previous = first_v
    for _, value in samples[1:]:  # counter resets
        if value < previous:
            result += previous
        previous = value
    duration_to_start = first_t - start
    duration_to_end = end - last_t
    sampled = last_t - first_t
    average = sampled / (len(samples) - 1)
    if result > 0 and first_v >= 0:
        duration_to_zero = sampled * (first_v / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else average / 2
    interval += duration_to_end if duration_to_end < threshold else average / 2
    result *= interval / sampled
    if rate:
        result /= end - start
    return result


def _bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    if not 0 <= q <= 1:
        return -math.inf if q < 0 else math.inf
    buckets = sorted(buckets)
    if len(buckets) < 2 or buckets[-1][0] != math.inf:
        return math.nan
    # Monotonic counts (bucketQuantile's ensureMonotonic).
    fixed, highest = [], 0.0
    for upper, count in buckets:
        highest = max(highest, count)
        fixed.append((upper, highest))
    total = fixed[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(fixed) if count >= rank)
    if index == len(fixed) - 1 or (index == 0 and fixed[0][0] <= 0):
        # In the +Inf bucket: the last finite bound; in a first bucket bounded at or below 0:
        # that bound.
        return fixed[-2][0] if index == len(fixed) - 1 else fixed[0][0]
    start, end, count = 0.0, fixed[index][0], fixed[index][1]
    if index > 0:
        start = fixed[index - 1][0]
        count -= fixed[index - 1][1]
        rank -= fixed[index - 1][1]
    return start + (end - start) * (rank / count)


class Evaluator:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def instant(self, node: Any, t: float) -> Vector | float:
        handlers: dict[type, Callable[[Any, float], Vector | float]] = {
            promql_parser.NumberLiteral: lambda n, _: float(n.val),
            promql_parser.ParenExpr: lambda n, at: self.instant(n.expr, at),
            promql_parser.VectorSelector: self._select,
            promql_parser.Call: self._call,
            promql_parser.AggregateExpr: self._aggregate,
            promql_parser.BinaryExpr: self._binary,
        }
        handler = handlers.get(type(node))
        if handler is None:
            raise UnsupportedError(type(node).__name__)
        return handler(node, t)

    def _select(self, selector: Any, t: float) -> Vector:
        if selector.offset or selector.at:
            raise UnsupportedError("offset/@")
        out: Vector = {}
        for labels, samples in self.storage.series.items():
            if not _matches(labels, selector):
                continue
            recent = [v for ts, v in samples if t - LOOKBACK_SECONDS <= ts <= t]
            if recent:
                out[labels] = recent[-1]
        return out

    def _range(
        self, matrix: Any, t: float
    ) -> tuple[dict[Labels, list[tuple[float, float]]], float]:
        seconds = matrix.range.total_seconds()
        out = {}
        for labels, samples in self.storage.series.items():
            if _matches(labels, matrix.vector_selector):
                window = [(ts, v) for ts, v in samples if t - seconds <= ts <= t]
                if window:
                    out[labels] = window
        return out, seconds

    def _call(self, call: Any, t: float) -> Vector:
        name = call.func.name
        if name in ("rate", "increase"):
            (matrix,) = call.args
            if not isinstance(matrix, promql_parser.MatrixSelector):
                raise UnsupportedError(f"{name} of {type(matrix).__name__}")
            windows, seconds = self._range(matrix, t)
            out: Vector = {}
            for labels, samples in windows.items():
                value = _extrapolated_rate(samples, t - seconds, t, rate=name == "rate")
                if value is not None:
                    out[_without_name(labels)] = value
            return out
        if name == "histogram_quantile":
            q = self.instant(call.args[0], t)
            vector = self.instant(call.args[1], t)
            if not isinstance(q, float) or isinstance(vector, float):
                raise UnsupportedError("histogram_quantile arguments")
            groups: dict[Labels, list[tuple[float, float]]] = {}
            for labels, value in vector.items():
                as_dict = dict(labels)
                if "le" not in as_dict:
                    continue
                key = frozenset((k, v) for k, v in labels if k not in ("le", "__name__"))
                groups.setdefault(key, []).append((float(as_dict["le"]), value))
            return {key: _bucket_quantile(q, buckets) for key, buckets in groups.items()}
        raise UnsupportedError(f"function {name}")

    def _aggregate(self, node: Any, t: float) -> Vector:
        if str(node.op) != "sum" or node.param is not None:
            raise UnsupportedError(f"aggregation {node.op}")
        vector = self.instant(node.expr, t)
        if isinstance(vector, float):
            raise UnsupportedError("sum of a number")
        keep = set(node.modifier.labels) if node.modifier is not None else set()
        if node.modifier is not None and "By" not in str(node.modifier.type):
            raise UnsupportedError("sum without")
        out: Vector = {}
        for labels, value in vector.items():
            key = frozenset((k, v) for k, v in labels if k in keep)
            out[key] = out.get(key, 0.0) + value
        return out

    def _binary(self, node: Any, t: float) -> Vector | float:
        op = str(node.op)
        modifier = node.modifier
        # `and` carries the parser's default many-to-many modifier; nothing else is supported.
        if modifier is not None and (
            modifier.matching is not None or modifier.return_bool or op != "and"
        ):
            raise UnsupportedError("vector matching modifiers")
        lhs, rhs = self.instant(node.lhs, t), self.instant(node.rhs, t)
        if op == "and":
            # Set intersection: the left samples whose labels (name aside) the right has.
            if isinstance(lhs, float) or isinstance(rhs, float):
                raise UnsupportedError("and with a number")
            right_keys = {_without_name(k) for k in rhs}
            return {k: v for k, v in lhs.items() if _without_name(k) in right_keys}
        if op in COMPARISONS:
            return _compare(COMPARISONS[op], lhs, rhs)
        if op in ARITHMETIC:
            return _arithmetic(ARITHMETIC[op], lhs, rhs)
        raise UnsupportedError(f"operator {op}")


def _compare(
    compare: Callable[[float, float], bool], lhs: Vector | float, rhs: Vector | float
) -> Vector:
    """A filtering comparison: the samples for which it holds, labels and values kept."""
    if isinstance(lhs, float) and isinstance(rhs, float):
        raise UnsupportedError("number comparison")
    if isinstance(rhs, float):
        assert not isinstance(lhs, float)
        return {k: v for k, v in lhs.items() if compare(v, rhs)}
    if isinstance(lhs, float):
        return {k: v for k, v in rhs.items() if compare(lhs, v)}
    right = {_without_name(k): v for k, v in rhs.items()}
    return {
        k: v
        for k, v in lhs.items()
        if _without_name(k) in right and compare(v, right[_without_name(k)])
    }


def _arithmetic(
    apply: Callable[[float, float], float], lhs: Vector | float, rhs: Vector | float
) -> Vector | float:
    """Arithmetic: one-to-one on identical labels; the metric name is dropped."""
    if isinstance(lhs, float) and isinstance(rhs, float):
        return apply(lhs, rhs)
    if isinstance(rhs, float):
        assert not isinstance(lhs, float)
        return {_without_name(k): apply(v, rhs) for k, v in lhs.items()}
    if isinstance(lhs, float):
        return {_without_name(k): apply(lhs, v) for k, v in rhs.items()}
    right = {_without_name(k): v for k, v in rhs.items()}
    return {
        _without_name(k): apply(v, right[_without_name(k)])
        for k, v in lhs.items()
        if _without_name(k) in right
    }


def firing_alerts(
    rule: Mapping[str, Any], storage: Storage, *, eval_time: float, interval: float
) -> list[dict[str, str]]:
    """The label sets of the rule's alerts firing at `eval_time`, the rule evaluated every
    `interval` seconds from 0 as Prometheus does (pending until `for` has passed)."""
    expr = promql_parser.parse(rule["expr"])
    hold = promql_parser.parse_duration(rule.get("for", "0s")).total_seconds()
    evaluator = Evaluator(storage)
    active: dict[Labels, float] = {}
    steps = round(eval_time / interval)
    result: Vector = {}
    for step in range(steps + 1):
        t = step * interval
        result_or_number = evaluator.instant(expr, t)
        if isinstance(result_or_number, float):
            raise UnsupportedError("an alert expression must return a vector")
        result = {_without_name(k): v for k, v in result_or_number.items()}
        active = {labels: active.get(labels, t) for labels in result}
    firing = [labels for labels, since in active.items() if eval_time - since >= hold]
    extra = {"alertname": rule["alert"], **(rule.get("labels") or {})}
    return sorted(({**dict(labels), **extra} for labels in firing), key=lambda d: sorted(d.items()))
