"""Shared fixtures: offline program runs under Pulumi mocks, and the reference schemas."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from arc_eks.review.offline import (
    OFFLINE_SECRET_PREFIX,
    ProgramRun,
    config_map_from_stack_file,
    run_program,
    stack_file,
)

PROJECT_DIR = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_DIR.parent / "shared" / "reference"
# The tests' own copy of an example project (stacks, teams, policy configs): a user who edits
# the shipped stacks/ or teams/ never breaks the package's tests (`make review-all` checks theirs).
FIXTURE_PROJECT = PROJECT_DIR / "tests" / "fixtures" / "project"
STACKS = ("dev", "staging", "prod")


def default_secrets(config: Mapping[str, str]) -> dict[str, str]:
    """The Pulumi secrets a user would have set for this config (placeholders, marked secret)."""
    secrets = {
        "arc-eks:githubToken": f"{OFFLINE_SECRET_PREFIX}token",
        "arc-eks:githubAppPrivateKey": f"{OFFLINE_SECRET_PREFIX}app-key",
        "arc-eks:githubWebhookSecret": f"{OFFLINE_SECRET_PREFIX}webhook",
        "arc-eks:imageCacheDockerHubToken": f"{OFFLINE_SECRET_PREFIX}docker-hub",
        "arc-eks:imageCacheGithubToken": f"{OFFLINE_SECRET_PREFIX}ghcr",
    }
    return {k: v for k, v in secrets.items() if k not in config}


def run_stack(
    env: str,
    *,
    set_config: Mapping[str, Any] | None = None,
    remove_config: tuple[str, ...] = (),
    secrets: Mapping[str, str] | None = None,
    teams_dir: Path | None = None,
    raise_errors: bool = True,
) -> ProgramRun:
    """Run the real program for the fixture project's stacks/Pulumi.<env>.yaml under mocks.

    `set_config` replaces whole `arc-eks:<key>` values (objects as dicts); `remove_config` drops
    keys; `secrets` replaces the default secret placeholders (pass {} for none).
    """
    import json

    from arc_eks import program

    config, secret_keys = config_map_from_stack_file(stack_file(FIXTURE_PROJECT, env))
    for key in remove_config:
        config.pop(key, None)
    for key, value in (set_config or {}).items():
        config[key] = value if isinstance(value, str) else json.dumps(value)
    chosen = default_secrets(config) if secrets is None else dict(secrets)
    config.update(chosen)
    secret_keys = sorted(set(secret_keys) | set(chosen))
    return run_program(
        lambda: program.main(project_dir=FIXTURE_PROJECT, teams_dir=teams_dir),
        config=config,
        secret_keys=secret_keys,
        stack=env,
        raise_errors=raise_errors,
    )


@pytest.fixture
def stack_runner() -> Callable[..., ProgramRun]:
    return run_stack


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"../shared/reference is absent ({REFERENCE_DIR}); schema checks need it")
    return REFERENCE_DIR
