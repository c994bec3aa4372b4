"""The test evaluator's semantics, on values computed by hand from Prometheus's definitions."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml

from tests.promql_eval import Evaluator, Storage, UnsupportedError, expand_values, firing_alerts


def _storage(*series: tuple[str, str]) -> Storage:
    return Storage.from_input([{"series": s, "values": v} for s, v in series], interval=60)


def _value(expr: str, storage: Storage, minute: float) -> dict[frozenset[tuple[str, str]], float]:
    result = Evaluator(storage).instant(promql_parser.parse(expr), minute * 60)
    assert not isinstance(result, float)
    return result


def test_value_notation_is_promtools() -> None:
    assert expand_values("1x2 0+5x2") == [1, 1, 1, 0, 5, 10]
    assert expand_values("10-1x2") == [10, 9, 8]


def test_rate_and_increase_of_a_steady_counter() -> None:
    storage = _storage(('c_total{job="a"}', "0+60x60"))  # one per second
    assert list(_value("rate(c_total[5m])", storage, 30).values()) == pytest.approx([1.0])
    assert list(_value("increase(c_total[10m])", storage, 30).values()) == pytest.approx([600.0])


def test_increase_extrapolates_to_the_window_start_and_counts_resets() -> None:
    # Samples from minute 0 only: at minute 5 a 10m window holds 6 samples over 300 s; the start
    # extrapolates to zero (the counter starts at 0), the end is exact.
    storage = _storage(('c_total{job="a"}', "0+2x5"))
    assert list(_value("increase(c_total[10m])", storage, 5).values()) == pytest.approx([10.0])
    # Starting at 100: the start is 300 s before the first sample, more than 1.1 sample
    # intervals, so it extrapolates by half an interval only: 10 * 330 / 300.
    late = _storage(('c_total{job="a"}', "100+2x5"))
    assert list(_value("increase(c_total[10m])", late, 5).values()) == pytest.approx([11.0])
    reset = _storage(('c_total{job="a"}', "5 6 7 1 2 3"))
    # 7-5 before the reset, then 3 after it (from 0); the window is fully sampled.
    assert list(_value("increase(c_total[5m])", reset, 5).values()) == pytest.approx([5.0])


def test_histogram_quantile_interpolates_in_the_bucket() -> None:
    series = [
        ('h_bucket{le="10"}', "0"),
        ('h_bucket{le="300"}', "0"),
        ('h_bucket{le="600"}', "10"),
        ('h_bucket{le="+Inf"}', "10"),
    ]
    storage = _storage(*series)
    assert list(_value("histogram_quantile(0.95, h_bucket)", storage, 0).values()) == [585.0]
    only_inf = _storage(('h_bucket{le="10"}', "0"), ('h_bucket{le="+Inf"}', "4"))
    # In the +Inf bucket: the upper bound of the last finite one.
    assert list(_value("histogram_quantile(0.5, h_bucket)", only_inf, 0).values()) == [10.0]
    empty = _storage(('h_bucket{le="10"}', "0"), ('h_bucket{le="+Inf"}', "0"))
    assert math.isnan(next(iter(_value("histogram_quantile(0.5, h_bucket)", empty, 0).values())))


def test_instant_selector_looks_back_five_minutes() -> None:
    storage = _storage(('g{a="x"}', "1x2"))  # samples at minutes 0-2
    assert _value("g", storage, 7)  # 5 minutes after the last sample: still there
    assert not _value("g", storage, 7.01)


def test_vectors_match_on_identical_labels_and_sum_by_groups() -> None:
    storage = _storage(('a{p="1",q="x"}', "5"), ('a{p="2",q="x"}', "1"), ('b{p="1",q="x"}', "3"))
    assert list(_value("a - b", storage, 0).values()) == [2.0]
    sums = _value("sum by (q) (a)", storage, 0)
    assert sums == {frozenset({("q", "x")}): 6.0}
    assert len(_value("a >= b", storage, 0)) == 1
    # `and`: the left samples whose labels the right has, the left's values and name kept.
    both = _value("a and b", storage, 0)
    assert both == {frozenset({("__name__", "a"), ("p", "1"), ("q", "x")}): 5.0}


def test_alert_fires_only_after_its_for_duration() -> None:
    storage = _storage(('g{a="x"}', "0x9 1x30"))  # 1 from minute 10
    rule = {"alert": "A", "expr": "g > 0", "for": "10m", "labels": {"severity": "s"}}
    assert firing_alerts(rule, storage, eval_time=19 * 60, interval=60) == []
    fired = firing_alerts(rule, storage, eval_time=20 * 60, interval=60)
    assert fired == [{"a": "x", "alertname": "A", "severity": "s"}]
    # A gap resets the pending time.
    flapping = _storage(('g{a="x"}', "1x8 0 1x20"))
    assert firing_alerts(rule, flapping, eval_time=18 * 60, interval=60) == []


def test_outside_the_subset_is_refused() -> None:
    storage = _storage(('g{a="x"}', "1"))
    for expr in ("avg(g)", "g offset 5m", "g > on(a) g", "absent(g)"):
        with pytest.raises(UnsupportedError):
            Evaluator(storage).instant(promql_parser.parse(expr), 0)


# The same values from Prometheus itself, where promtool is installed: the evaluator agrees.
CROSS_SERIES = [
    ('c_total{job="a"}', "100+2x5"),
    ('r_total{job="a"}', "5 6 7 1 2 3"),
    ('h_bucket{le="10"}', "0"),
    ('h_bucket{le="300"}', "0"),
    ('h_bucket{le="600"}', "10"),
    ('h_bucket{le="+Inf"}', "10"),
    ('g{a="x"}', "1x2"),
]
CROSS_CASES = [
    ("increase(c_total[10m])", 5, '{job="a"}', 11.0),
    ("rate(c_total[10m])", 5, '{job="a"}', 11.0 / 600),
    ("increase(r_total[5m])", 5, '{job="a"}', 5.0),
    ("histogram_quantile(0.95, h_bucket)", 0, "{}", 585.0),
    ("g", 7, 'g{a="x"}', 1.0),
]


@pytest.mark.parametrize(("expr", "minute", "labels", "value"), CROSS_CASES)
def test_cross_case_in_python(expr: str, minute: int, labels: str, value: float) -> None:
    assert list(_value(expr, _storage(*CROSS_SERIES), minute).values()) == pytest.approx([value])


def test_cross_cases_in_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian/Ubuntu: apt-get install prometheus)")
    (tmp_path / "rules.yaml").write_text("groups: []\n")
    test = {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in CROSS_SERIES],
        "promql_expr_test": [
            {
                "expr": expr,
                "eval_time": f"{minute}m",
                "exp_samples": [{"labels": labels, "value": value}],
            }
            for expr, minute, labels, value in CROSS_CASES
        ],
    }
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [test]})
    )
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
