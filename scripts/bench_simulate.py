"""Benchmark the scaling model (`make bench`): how long a month of jobs takes to simulate.

Generates 30 days of the example workloads (arc_eks.simulate.tracegen.EXAMPLE_WORKLOADS) at 1x
and 4x the shipped trace's rate and replays them against the fixture stack of the tests
(tests/fixtures/simulate), once each after a warm-up. Prints jobs, wall time and jobs per second.
It prints figures; it is not a test.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from arc_eks.simulate.model import simulate  # noqa: E402
from arc_eks.simulate.params import Params  # noqa: E402
from arc_eks.simulate.setup import load  # noqa: E402
from arc_eks.simulate.trace import synthetic_trace  # noqa: E402
from arc_eks.simulate.tracegen import EXAMPLE_WORKLOADS  # noqa: E402

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "simulate"


def main() -> int:
    loaded = load(FIXTURE, "sim")
    params = Params()
    start = datetime(2026, 11, 2, tzinfo=UTC)
    print("scaling model, 30 days of jobs, fixture stack (2 pools, 2 node groups)")
    print(f"{'rate':>6} {'jobs':>8} {'seconds':>9} {'jobs/s':>9}")
    for scale in (1.0, 4.0):
        workloads = [
            dataclasses.replace(w, jobs_per_workday=w.jobs_per_workday * scale)
            for w in EXAMPLE_WORKLOADS
        ]
        jobs = synthetic_trace(workloads, start=start, days=30, seed=16)
        simulate(loaded, jobs[:200], params)  # warm-up
        began = time.perf_counter()
        simulate(loaded, jobs, params)
        took = time.perf_counter() - began
        print(f"{scale:>5.0f}x {len(jobs):>8} {took:>9.2f} {len(jobs) / took:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
