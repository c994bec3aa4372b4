"""The benchmark's generated team files stay valid team files (a bench that fails on its own
input measures nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import load_team_pools

PROJECT_DIR = Path(__file__).resolve().parents[1]


def test_generated_teams_load_with_the_allowlist_they_come_with(tmp_path: Path) -> None:
    sys.path.insert(0, str(PROJECT_DIR / "scripts"))
    try:
        import bench_review
    finally:
        sys.path.remove(str(PROJECT_DIR / "scripts"))
    allowlist = bench_review.team_files(12, tmp_path)
    stack = StackConfig.model_validate(
        {
            "environment": "dev",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "teams": allowlist,
        }
    )
    assert len(load_team_pools(tmp_path, stack)) == 12
