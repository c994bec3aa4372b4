"""Figures from a simulation result: per pool and in total, as text, JSON and an HTML plot."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from arc_eks.simulate.model import Result
from arc_eks.simulate.params import Params


@dataclass(frozen=True)
class PoolFigures:
    jobs: int
    wait_p50: float
    wait_p95: float
    wait_max: float
    waited_over_threshold: int
    never_started: int
    runner_hours_busy: float
    runner_hours_idle: float
    runner_hours_starting: float


@dataclass(frozen=True)
class Figures:
    pools: dict[str, PoolFigures]
    total: PoolFigures
    unroutable_jobs: int
    node_hours: dict[str, float]
    nodes_max: dict[str, int]
    cost_usd: dict[str, float]
    cost_total_usd: float
    hours_simulated: float


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _pool_figures(
    *, waits: list[float], never: int, busy: float, idle: float, starting: float, threshold: float
) -> PoolFigures:
    return PoolFigures(
        jobs=len(waits) + never,
        wait_p50=percentile(waits, 50),
        wait_p95=percentile(waits, 95),
        wait_max=max(waits, default=0.0),
        waited_over_threshold=sum(1 for w in waits if w > threshold) + never,
        never_started=never,
        runner_hours_busy=busy / 3600,
        runner_hours_idle=idle / 3600,
        runner_hours_starting=starting / 3600,
    )


def figures(result: Result, params: Params) -> Figures:
    threshold = params.wait_threshold_seconds
    waits: dict[str, list[float]] = {k: [] for k in result.pools}
    never: dict[str, int] = dict.fromkeys(result.pools, 0)
    unroutable = 0
    for record in result.jobs:
        if not record.pools:
            unroutable += 1
            continue
        if record.started is None or record.pool is None:
            never[record.pools[0]] += 1
        else:
            waits[record.pool].append(record.started - record.job.queued_at)
    pools = {
        key: _pool_figures(
            waits=waits[key],
            never=never[key],
            busy=s.busy_seconds,
            idle=s.idle_seconds,
            starting=s.starting_seconds,
            threshold=threshold,
        )
        for key, s in result.pools.items()
    }
    total = _pool_figures(
        waits=[w for ws in waits.values() for w in ws],
        never=sum(never.values()),
        busy=sum(s.busy_seconds for s in result.pools.values()),
        idle=sum(s.idle_seconds for s in result.pools.values()),
        starting=sum(s.starting_seconds for s in result.pools.values()),
        threshold=threshold,
    )
    node_hours = {g: s / 3600 for g, s in result.node_seconds.items()}
    cost = {g: h * params.prices[result.instance_types[g]] for g, h in node_hours.items()}
    return Figures(
        pools=pools,
        total=total,
        unroutable_jobs=unroutable,
        node_hours=node_hours,
        nodes_max=result.nodes_max,
        cost_usd=cost,
        cost_total_usd=sum(cost.values()),
        hours_simulated=(result.end - result.start) / 3600,
    )


def to_json(named: dict[str, Figures]) -> dict[str, Any]:
    return {name: asdict(f) for name, f in named.items()}


_ROWS = (
    ("jobs", "jobs", "{:.0f}"),
    ("queue wait p50 (s)", "wait_p50", "{:.0f}"),
    ("queue wait p95 (s)", "wait_p95", "{:.0f}"),
    ("queue wait max (s)", "wait_max", "{:.0f}"),
    ("jobs waiting > {t:.0f} s", "waited_over_threshold", "{:.0f}"),
    ("jobs never started", "never_started", "{:.0f}"),
    ("runner-hours busy", "runner_hours_busy", "{:.1f}"),
    ("runner-hours idle", "runner_hours_idle", "{:.1f}"),
    ("runner-hours starting", "runner_hours_starting", "{:.1f}"),
)


def render_text(named: dict[str, Figures], params: Params) -> str:
    """One table per pool and for the total; one column per scenario (baseline first)."""
    names = list(named)
    first = named[names[0]]
    width = max(14, *(len(n) + 2 for n in names))
    lines: list[str] = []

    def header(title: str) -> None:
        lines.append("")
        lines.append(title)
        lines.append(f"  {'':<34}" + "".join(f"{n:>{width}}" for n in names))

    for key in [*first.pools, "TOTAL"]:
        header(f"pool {key}" if key != "TOTAL" else "all pools")
        for label, attr, fmt in _ROWS:
            cells = []
            for n in names:
                f = named[n].total if key == "TOTAL" else named[n].pools.get(key)
                cells.append(fmt.format(getattr(f, attr)) if f is not None else "-")
            label_text = label.format(t=params.wait_threshold_seconds)
            lines.append(f"  {label_text:<34}" + "".join(f"{c:>{width}}" for c in cells))
    header("nodes")
    for group in first.node_hours:
        for label, value in (
            (f"{group} node-hours", lambda f, g=group: f"{f.node_hours[g]:.1f}"),
            (f"{group} most nodes", lambda f, g=group: f"{f.nodes_max[g]}"),
            (f"{group} on-demand USD", lambda f, g=group: f"{f.cost_usd[g]:.2f}"),
        ):
            lines.append(f"  {label:<34}" + "".join(f"{value(named[n]):>{width}}" for n in names))
    lines.append(
        f"  {'total on-demand USD':<34}"
        + "".join(f"{named[n].cost_total_usd:>{width}.2f}" for n in names)
    )
    lines.append(
        f"  {'jobs no pool can run':<34}"
        + "".join(f"{named[n].unroutable_jobs:>{width}}" for n in names)
    )
    lines.append(f"\nsimulated {first.hours_simulated:.1f} h")
    return "\n".join(lines).lstrip("\n") + "\n"


def render_html(results: dict[str, Result], named: dict[str, Figures], title: str) -> str:
    """A self-contained page: one SVG per scenario (queued jobs, runners, busy runners, nodes)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>",
        html.escape(title),
        "</title><style>body{font-family:sans-serif;margin:1em}svg{background:#fafafa;"
        "border:1px solid #ccc}td,th{padding:2px 8px;text-align:right}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    series = (
        ("queued jobs", "#d62728"),
        ("runners", "#1f77b4"),
        ("busy runners", "#2ca02c"),
        ("nodes", "#7f7f7f"),
    )
    for name, result in results.items():
        f = named[name]
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(
            f"<p>queue wait p50 {f.total.wait_p50:.0f} s, p95 {f.total.wait_p95:.0f} s, max "
            f"{f.total.wait_max:.0f} s; node-hours {sum(f.node_hours.values()):.1f}; on-demand "
            f"USD {f.cost_total_usd:.2f}</p>"
        )
        parts.append(_svg(result, series))
    parts.append(
        "<p>"
        + " ".join(f"<span style='color:{c}'>&#9632; {html.escape(n)}</span>" for n, c in series)
        + "</p>"
    )
    parts.append("</body></html>\n")
    return "".join(parts)


def _svg(result: Result, series: tuple[tuple[str, str], ...]) -> str:
    width, height, pad = 1000, 260, 30
    samples = result.samples
    if not samples:
        return "<p>no samples</p>"
    values = {
        "queued jobs": [sum(s.queued.values()) for s in samples],
        "runners": [sum(s.runners.values()) for s in samples],
        "busy runners": [sum(s.busy.values()) for s in samples],
        "nodes": [sum(s.nodes.values()) for s in samples],
    }
    top = max(1, *(max(v) for v in values.values()))
    t0, t1 = samples[0].t, max(samples[-1].t, samples[0].t + 1)

    def x(t: float) -> float:
        return pad + (t - t0) / (t1 - t0) * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - v / top * (height - 2 * pad)

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"]
    out.append(f"<text x='2' y='{pad - 5}' font-size='11'>{top}</text>")
    out.append(f"<text x='2' y='{height - pad}' font-size='11'>0</text>")
    for label_t in (t0, (t0 + t1) / 2, t1):
        stamp = datetime.fromtimestamp(label_t, UTC).strftime("%Y-%m-%d %H:%M")
        out.append(
            f"<text x='{x(label_t) - 40:.0f}' y='{height - 8}' font-size='11'>{stamp}</text>"
        )
    for name, colour in series:
        points = " ".join(
            f"{x(s.t):.1f},{y(v):.1f}" for s, v in zip(samples, values[name], strict=True)
        )
        out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1' points='{points}'/>")
    out.append("</svg>")
    return "".join(out)
