"""A self-contained stack config and team files for whole-program runs (no shipped example)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml

from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, ProgramRun, run_program

ADMIN = "arn:aws:iam::111122223333:role/ops/platform-admin"
ONCALL = "arn:aws:iam::111122223333:role/platform-oncall"


def stack_config(**overrides: Any) -> dict[str, Any]:
    """`arc-eks:` keys (without the namespace) of a small dev stack."""
    config: dict[str, Any] = {
        "cluster": {"publicAccessCidrs": ["203.0.113.0/24"], "adminRoleArns": [ADMIN, ONCALL]},
        "nodeGroup": {"minSize": 1, "desiredSize": 1, "maxSize": 3},
        "github": {"auth": "pat"},
        "controller": {"replicas": 1},
        "teams": {
            "alpha": {"organizations": ["example"], "maxRunnersPerPool": 5},
            "beta": {"organizations": ["example"], "maxRunnersPerPool": 5},
        },
    }
    config.update(overrides)
    return config


def pool(name: str, docker: str = "none", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "scope": {"organization": "example"},
        "labels": ["linux", name],
        "docker": docker,
        "autoscaling": {"min": 1, "max": 2},
        "environments": {"dev": {}, "staging": {}, "prod": {}},
        **extra,
    }


def write_teams(directory: Path, teams: Mapping[str, list[dict[str, Any]]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for team, pools in teams.items():
        document = {"team": team, "pools": pools}
        (directory / f"{team}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def run_fixture(
    teams_dir: Path,
    *,
    env: str = "dev",
    mocks: pulumi.runtime.Mocks | None = None,
    raise_errors: bool = True,
    aws: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> ProgramRun:
    """The program over `teams_dir` with a small dev stack; `overrides` replace `arc-eks:` keys,
    `aws` adds `aws:` keys (e.g. allowedAccountIds)."""
    from arc_eks import program

    config = {
        f"arc-eks:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in stack_config(**overrides).items()
    }
    config["aws:region"] = "eu-west-1"
    for key, value in (aws or {}).items():
        config[f"aws:{key}"] = value if isinstance(value, str) else json.dumps(value)
    secrets = {
        "arc-eks:githubToken": f"{OFFLINE_SECRET_PREFIX}token",
        "arc-eks:githubWebhookSecret": f"{OFFLINE_SECRET_PREFIX}webhook",
        "arc-eks:imageCacheDockerHubToken": f"{OFFLINE_SECRET_PREFIX}docker-hub",
        "arc-eks:imageCacheGithubToken": f"{OFFLINE_SECRET_PREFIX}ghcr",
    }
    return run_program(
        lambda: program.main(teams_dir=teams_dir),
        config={**config, **secrets},
        secret_keys=sorted(secrets),
        stack=env,
        mocks=mocks,
        raise_errors=raise_errors,
    )
