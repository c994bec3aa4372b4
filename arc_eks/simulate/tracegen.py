"""Make a job trace: `python -m arc_eks.simulate.tracegen synthetic ...` (see `make trace`).

`synthetic` writes a generated trace (EXAMPLE_WORKLOADS by default: the shape of
examples/traces/week.csv, which is regenerated with `--seed 16 --days 7 --start 2026-11-02`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from arc_eks.simulate.trace import Workload, format_trace, synthetic_trace

# The example teams' workloads (teams/*.yaml labels), sized for one busy organisation.
EXAMPLE_WORKLOADS = (
    Workload(
        ("linux", "payments", "self-hosted", "x64"),
        ("acme/payments-api", "acme/ledger"),
        80,
        540,
        burst_probability=0.03,
    ),
    Workload(
        ("linux", "self-hosted", "web", "x64"),
        ("acme/web-app", "acme/design-system"),
        100,
        300,
        burst_probability=0.02,
        burst_size=6,
    ),
    Workload(
        ("kaniko", "linux", "self-hosted", "x64"), ("acme/trainer", "acme/feature-store"), 12, 900
    ),
    Workload(
        ("k8s", "linux", "self-hosted", "x64"),
        ("acme/feature-store",),
        20,
        480,
        burst_probability=0.05,
        burst_size=4,
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arc_eks.simulate.tracegen", description=__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    synth = sub.add_parser("synthetic", help="generate a trace from EXAMPLE_WORKLOADS")
    synth.add_argument("--start", default="2026-11-02", help="first day (UTC midnight), YYYY-MM-DD")
    synth.add_argument("--days", type=int, default=7)
    synth.add_argument("--seed", type=int, default=16)
    synth.add_argument("--scale", type=float, default=1.0, help="multiply every job rate")
    synth.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start + "T00:00:00+00:00")
    workloads = [
        Workload(
            w.labels,
            w.repositories,
            w.jobs_per_workday * args.scale,
            w.duration_median_seconds,
            w.duration_sigma,
            w.weekend_share,
            w.burst_probability,
            w.burst_size,
        )
        for w in EXAMPLE_WORKLOADS
    ]
    jobs = synthetic_trace(workloads, start=start, days=args.days, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(format_trace(jobs))
    print(f"{len(jobs)} jobs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
