"""Job traces: one row per job (queued time, duration, `runs-on` labels, repository).

CSV columns: `queued_at` (ISO 8601 with offset), `duration_seconds`, `labels` (the job's
`runs-on` labels separated by `;`), `repository` (owner/name, may be empty). The synthetic
generator shapes load by weekday/weekend and working hours and adds bursts; it is deterministic
for a seed.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

COLUMNS = ("queued_at", "duration_seconds", "labels", "repository")


@dataclass(frozen=True)
class Job:
    queued_at: float
    """Seconds since the epoch (UTC)."""
    duration: float
    """Seconds the job runs once a runner has it."""
    labels: tuple[str, ...]
    repository: str = ""


class TraceError(ValueError):
    """A trace file that cannot be read: names the file, the row and what was expected."""


def read_trace(path: Path) -> list[Job]:
    """Read a CSV trace; every bad row is reported at once."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the trace ({exc})") from None
    return parse_trace(text, str(path))


def parse_trace(text: str, source: str = "trace") -> list[Job]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
    if missing:
        raise TraceError(
            f"{source}: header needs the columns {', '.join(COLUMNS)} (missing: {', '.join(missing)})"
        )
    jobs: list[Job] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        try:
            stamp = datetime.fromisoformat(row["queued_at"])
            if stamp.tzinfo is None:
                raise ValueError("queued_at with a UTC offset, e.g. 2026-11-02T09:00:00+00:00")
            duration = float(row["duration_seconds"])
            if not math.isfinite(duration) or duration < 0:
                raise ValueError("duration_seconds a number >= 0")
        except (ValueError, TypeError) as exc:
            problems.append(f"{source}: row {line}: {exc}")
            continue
        labels = tuple(sorted({x.strip() for x in (row["labels"] or "").split(";") if x.strip()}))
        if not labels:
            problems.append(f"{source}: row {line}: labels: at least one runs-on label")
            continue
        jobs.append(Job(stamp.timestamp(), duration, labels, (row.get("repository") or "").strip()))
    if problems:
        raise TraceError(
            "\n".join(
                problems[:20] + ([f"... {len(problems) - 20} more"] if len(problems) > 20 else [])
            )
        )
    if not jobs:
        raise TraceError(f"{source}: no jobs")
    return sorted(jobs, key=lambda j: j.queued_at)


def format_trace(jobs: Iterable[Job]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for job in jobs:
        stamp = datetime.fromtimestamp(job.queued_at, UTC).isoformat()
        writer.writerow((stamp, f"{job.duration:g}", ";".join(job.labels), job.repository))
    return out.getvalue()


@dataclass(frozen=True)
class Workload:
    """One stream of jobs of the synthetic generator."""

    labels: tuple[str, ...]
    repositories: tuple[str, ...]
    jobs_per_workday: float
    """Mean jobs on a weekday; weekends get `weekend_share` of it."""
    duration_median_seconds: float
    duration_sigma: float = 0.6
    """Log-normal spread of durations."""
    weekend_share: float = 0.1
    burst_probability: float = 0.02
    """Chance per job that it starts a burst (a push fanning out into a matrix)."""
    burst_size: int = 8


def synthetic_trace(
    workloads: Sequence[Workload],
    *,
    start: datetime,
    days: int,
    seed: int,
    workday_hours: tuple[int, int] = (8, 19),
    utc_offset_hours: int = 0,
) -> list[Job]:
    """Jobs over `days` days from `start` (midnight, local time at `utc_offset_hours`).

    Weekdays carry the load in working hours (85% of it; the rest spread over the night),
    weekends `weekend_share` of a weekday. Deterministic for the seed.
    """
    rng = random.Random(seed)
    jobs: list[Job] = []
    timezone_offset = timedelta(hours=utc_offset_hours)
    for day in range(days):
        day_start = start + timedelta(days=day)
        weekday = (day_start + timezone_offset).weekday() < 5
        for w in workloads:
            mean = w.jobs_per_workday * (1.0 if weekday else w.weekend_share)
            count = _poisson(rng, mean)
            for _ in range(count):
                working = weekday and rng.random() < 0.85
                hour = rng.uniform(*workday_hours) if working else rng.uniform(0, 24)
                at = day_start + timedelta(hours=hour) - timezone_offset
                size = w.burst_size if rng.random() < w.burst_probability else 1
                repo = rng.choice(w.repositories) if w.repositories else ""
                for k in range(size):
                    duration = w.duration_median_seconds * math.exp(rng.gauss(0, w.duration_sigma))
                    jobs.append(
                        Job(
                            float(round(at.timestamp() + k * rng.uniform(0, 3))),
                            round(duration),
                            w.labels,
                            repo,
                        )
                    )
    return sorted(jobs, key=lambda j: (j.queued_at, j.labels, j.repository, j.duration))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation keeps large means fast
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
