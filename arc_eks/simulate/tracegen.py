"""Make a job trace: `python -m arc_eks.simulate.tracegen synthetic ...` (see `make trace`).

`github` exports the jobs of a time window from GitHub's REST API (arc_eks.simulate.github_export;
token from the environment variable named by --token-env, GITHUB_TOKEN by default).
`synthetic` writes a generated trace (EXAMPLE_WORKLOADS by default: the shape of
examples/traces/week.csv, which is regenerated with `--seed 16 --days 7 --start 2026-11-02`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from arc_eks.simulate.github_export import (
    ExportError,
    GitHubClient,
    export_jobs,
    organization_repositories,
)
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
    gh = sub.add_parser("github", help="export the jobs of a time window from GitHub's REST API")
    gh.add_argument("--repository", action="append", default=[], help="owner/name (repeatable)")
    gh.add_argument("--organization", help="every repository of this organization")
    gh.add_argument(
        "--since", required=True, help="window start, ISO 8601 (e.g. 2026-11-02T00:00:00Z)"
    )
    gh.add_argument("--until", required=True, help="window end, ISO 8601")
    gh.add_argument(
        "--token-env", default="GITHUB_TOKEN", help="environment variable with the token"
    )
    gh.add_argument("--api-url", default="https://api.github.com", help="GHES: https://HOST/api/v3")
    gh.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "github":
        return _github(args)
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


def _github(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env, "")
    if not token:
        print(f"trace: set {args.token_env} to a token that can read Actions", file=sys.stderr)
        return 2
    try:
        since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        until = datetime.fromisoformat(args.until.replace("Z", "+00:00"))
    except ValueError as exc:
        print(f"trace: --since/--until: ISO 8601 with an offset ({exc})", file=sys.stderr)
        return 2
    if not args.repository and not args.organization:
        print("trace: --repository owner/name or --organization org", file=sys.stderr)
        return 2
    client = GitHubClient(args.api_url, token)
    try:
        repos = list(args.repository)
        if args.organization:
            repos += organization_repositories(client, args.organization)
        jobs = export_jobs(client, repos, since, until)
    except ExportError as exc:
        print(f"trace: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(format_trace(jobs))
    print(
        f"{len(jobs)} jobs from {len(repos)} repositories ({client.requests} requests) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
