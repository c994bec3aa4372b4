"""Benchmark `make review` at 10, 100 and 1,000 runner pools (`make bench`).

Generates team files in a temporary folder (10 pools per team, each with a dind sidecar, an S3 grant
and an autoscaler), allows those teams in the dev stack's config through overrides, and runs the
whole offline review (program under mocks, artifacts written to a temp folder, validation, every
policy) once per size after a warm-up. Prints wall times per phase and the ratio between sizes:
linear scaling shows as a ratio near 10 for 10x the pools. It prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from arc_eks.review import run as review  # noqa: E402

POOLS_PER_TEAM = 10
BUCKET = "acme-build-cache"


def team_files(pools: int, folder: Path) -> dict[str, Any]:
    """Write team files for `pools` pools; return the `arc-eks:teams` allowlist they need."""
    allowlist: dict[str, Any] = {}
    for team_index in range(math.ceil(pools / POOLS_PER_TEAM)):
        team = f"bench-{team_index:04d}"
        count = min(POOLS_PER_TEAM, pools - team_index * POOLS_PER_TEAM)
        document = {
            "team": team,
            "pools": [
                {
                    "name": f"pool-{i:02d}",
                    "scope": {"organization": "acme"},
                    "labels": ["linux", "x64", team],
                    "docker": "dind",
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "512Mi"},
                        "limits": {"cpu": "1", "memory": "2Gi"},
                    },
                    "autoscaling": {
                        "min": 1,
                        "max": 2,
                        "metric": {
                            "type": "PercentageRunnersBusy",
                            "scaleUpThreshold": 0.75,
                            "scaleDownThreshold": 0.25,
                        },
                    },
                    "s3": [{"bucket": BUCKET, "prefix": f"{team}/{i}/", "access": "readwrite"}],
                    "environments": ["dev"],
                }
                for i in range(count)
            ],
        }
        (folder / f"{team}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        allowlist[team] = {
            "organizations": ["acme"],
            "s3Buckets": [{"bucket": BUCKET}],
            "maxRunnersPerPool": 4,
        }
    return allowlist


def bench(pools: int, *, write: bool) -> tuple[float, review.ReviewResult]:
    with tempfile.TemporaryDirectory(prefix=f"arc-bench-{pools}-") as tmp:
        teams_dir, out_dir = Path(tmp) / "teams", Path(tmp) / "out"
        teams_dir.mkdir()
        allowlist = team_files(pools, teams_dir)
        started = time.perf_counter()
        result = review.run_review(
            "dev",
            project_dir=PROJECT_DIR,
            teams_dir=teams_dir,
            out_dir=out_dir if write else None,
            set_config={"arc-eks:teams": allowlist},
        )
        elapsed = time.perf_counter() - started
    if result.config_errors:
        raise SystemExit("\n".join(result.config_errors))
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--no-write", action="store_true", help="skip writing the artifacts")
    args = parser.parse_args()

    print(f"offline review of the dev stack, artifacts {'not ' if args.no_write else ''}written")
    header = (
        f"{'pools':>6} {'resources':>9} {'total s':>8} {'program':>8} {'render':>8} "
        f"{'share':>6} {'artifacts':>9} {'policies':>8} {'ms/pool':>8} {'ratio':>6}"
    )
    print(header)
    # The first review of a process pays the imports, Helm's first renders and the CRD parsing
    # (what one `make review` pays); later ones reuse the per-process caches.
    elapsed, result = bench(1, write=False)
    print(_row("1 cold", elapsed, 1, result, ""))
    previous: tuple[int, float] | None = None
    for pools in args.sizes:
        elapsed, result = bench(pools, write=not args.no_write)
        ratio = ""
        if previous is not None:
            ratio = f"{elapsed / previous[1]:.1f}x/{pools / previous[0]:.0f}x"
        print(_row(str(pools), elapsed, pools, result, ratio))
        previous = (pools, elapsed)


def _row(label: str, elapsed: float, pools: int, result: review.ReviewResult, ratio: str) -> str:
    t = result.timings
    return (
        f"{label:>6} {len(result.resources):>9} {elapsed:>8.2f} {t.get('program', 0):>8.2f} "
        f"{t.get('render', 0):>8.2f} {t.get('render', 0) / elapsed:>6.0%} "
        f"{t.get('artifacts', 0):>9.2f} {t.get('policies', 0):>8.2f} "
        f"{1000 * elapsed / pools:>8.1f} {ratio:>6}"
    )


if __name__ == "__main__":
    main()
