"""The team files product teams write in teams/<team>.yaml, and the loader that resolves them.

A team file declares runner pools and the environments each pool exists in, with optional
per-environment overrides (deep-merged onto the pool: mappings merge, lists and scalars replace).
The loader validates every pool in every environment it declares (so a mistake in a prod override
fails the dev review too), checks the current stack's allowlist (`arc-eks:teams`) and returns the
pools of the current environment. Every problem in every file is reported at once, with the file,
the key path in the file's own camelCase names, the value and what was expected.

The pool model itself is `arc_eks.config.pool_spec.PoolSpec`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from arc_eks.config.base import ConfigModel
from arc_eks.config.pool_spec import (
    DOCKER_RESOURCES_DEFAULT,
    RUNNER_RESOURCES_DEFAULT,
    DockerMode,
    EcrGrant,
    EnvironmentName,
    Metric,
    PercentageRunnersBusy,
    PoolSpec,
    Resources,
    S3Grant,
    TotalNumberOfQueuedAndInProgressWorkflowRuns,
    WebhookOnly,
    WorkVolume,
)
from arc_eks.config.stack import StackConfig, TeamAllowance, TeamName
from arc_eks.errors import ConfigError, ConfigProblem, problems_from_validation_error

__all__ = [
    "DOCKER_RESOURCES_DEFAULT",
    "RUNNER_RESOURCES_DEFAULT",
    "DockerMode",
    "EcrGrant",
    "Metric",
    "PercentageRunnersBusy",
    "PoolSpec",
    "ResolvedPool",
    "ResolvedS3Grant",
    "Resources",
    "S3Grant",
    "TotalNumberOfQueuedAndInProgressWorkflowRuns",
    "WebhookOnly",
    "WorkVolume",
    "load_team_pools",
]


class PoolOverride(ConfigModel):
    """What one environment may change on a pool. Merged onto the pool before validation."""

    group: Any = None
    labels: Any = None
    runner_image: Any = None
    resources: Any = None
    docker_resources: Any = None
    autoscaling: Any = None
    s3: Any = None
    ecr: Any = None
    work_volume: Any = None
    dind_image: Any = None
    runner_uid: Any = None
    docker_gid: Any = None
    metadata: Any = None


class PoolEnvironments(ConfigModel):
    """Where a pool exists: a list of environments, or a map of environment -> overrides."""

    environments: list[EnvironmentName] | dict[EnvironmentName, PoolOverride | None] = Field(
        min_length=1, description="Environments this pool exists in, optionally with overrides."
    )


class TeamFile(ConfigModel):
    """A teams/<team>.yaml file. The pools are validated one by one, per environment."""

    team: TeamName = Field(description="The team; its namespace and the stack allowlist key.")
    pools: list[dict[str, Any]] = Field(min_length=1, description="The team's runner pools.")


@dataclass(frozen=True)
class ResolvedS3Grant:
    """An S3 grant with the owner account from the stack's allowlist."""

    bucket: str
    prefix: str
    access: str
    kms_key_arn: str | None
    account_id: str | None
    """Owner account when the bucket is in another account (a bucket-policy statement is due)."""
    object_acl: str | None = None
    """The one canned ACL uploads may set (`bucket-owner-full-control`), or None for no ACLs."""


@dataclass(frozen=True)
class ResolvedPool:
    """One pool of one team in the current environment, validated against the stack."""

    team: str
    environment: str
    source: str
    spec: PoolSpec
    s3: tuple[ResolvedS3Grant, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        """Unique across the stack; the component name of the pool's resources."""
        return f"{self.team}-{self.spec.name}"

    @property
    def has_aws_access(self) -> bool:
        return bool(self.s3 or self.spec.ecr)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _has_path(raw: Any, loc: Sequence[int | str]) -> bool:
    """Whether the override holds the first key of `loc` (then the error is the override's)."""
    return isinstance(raw, Mapping) and bool(loc) and loc[0] in raw


def _load_yaml(path: Path, source: str) -> tuple[Any, list[ConfigProblem]]:
    try:
        return yaml.safe_load(path.read_text()), []
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f"line {where.line + 1}" if where is not None else "(file)"
        return None, [ConfigProblem(source, at, "(unparsable)", f"valid YAML ({exc})")]


def _resolve_s3(spec: PoolSpec, allowance: TeamAllowance) -> tuple[ResolvedS3Grant, ...]:
    owners = {b.bucket: b.account_id for b in allowance.s3_buckets}
    return tuple(
        ResolvedS3Grant(
            g.bucket, g.prefix, g.access, g.kms_key_arn, owners.get(g.bucket), g.object_acl
        )
        for g in spec.s3
    )


def _validate_pool(
    raw_pool: Mapping[str, Any],
    index: int,
    *,
    team: str,
    source: str,
    stack: StackConfig,
    allowance: TeamAllowance | None,
) -> tuple[list[str], dict[str, PoolSpec], list[ConfigProblem]]:
    """Validate one pool in every environment it declares.

    Returns the environments, the valid spec per environment, and the problems. A mistake in the
    pool's own keys is reported once (with the environments it breaks, if not all); a mistake in
    an override is reported at `pools[i].environments.<env>.<key>`.
    """
    prefix = f"pools[{index}]"
    try:
        envs = PoolEnvironments.model_validate({"environments": raw_pool.get("environments")})
    except ValidationError as exc:
        return [], {}, problems_from_validation_error(exc, source=source, prefix=prefix)
    overrides: dict[str, dict[str, Any]] = (
        {e: {} for e in envs.environments}
        if isinstance(envs.environments, list)
        else {
            e: (o.model_dump(by_alias=True, exclude_none=True) if o else {})
            for e, o in envs.environments.items()
        }
    )
    base = {k: v for k, v in raw_pool.items() if k != "environments"}
    specs: dict[str, PoolSpec] = {}
    found: dict[tuple[str, str, str], list[str]] = {}  # (path, value, expected) -> environments
    for env, override in overrides.items():
        context = {
            "team": team,
            "instance_type": stack.node_group.instance_type,
            # The allowlist is the current stack's: other environments are checked by their stack.
            "allowance": allowance if env == stack.environment else None,
            "webhook_server": stack.controller.webhook_server if env == stack.environment else None,
        }
        try:
            specs[env] = PoolSpec.model_validate(_deep_merge(base, override), context=context)
        except ValidationError as exc:
            # problems_from_validation_error yields one problem per error, in order.
            rendered = problems_from_validation_error(exc, source=source)
            for err, problem in zip(exc.errors(include_url=False), rendered, strict=True):
                loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
                where = f"{prefix}.environments.{env}" if _has_path(override, loc) else prefix
                path = f"{where}.{problem.path}" if problem.path else where
                found.setdefault((path, problem.value, problem.expected), []).append(env)
    problems = []
    for (path, value, expected), where_envs in found.items():
        partial = ".environments." not in path and len(where_envs) < len(overrides)
        suffix = f" (in {', '.join(where_envs)})" if partial else ""
        problems.append(ConfigProblem(source, path, value, expected + suffix))
    return list(overrides), specs, problems


def _load_team_file(
    path: Path, stack: StackConfig, teams_seen: dict[str, str]
) -> tuple[list[ResolvedPool], list[ConfigProblem]]:
    source = f"teams/{path.name}"
    raw, problems = _load_yaml(path, source)
    if problems:
        return [], problems
    if not isinstance(raw, Mapping):
        return [], [ConfigProblem(source, "(file)", repr(type(raw).__name__), "a mapping")]
    try:
        header = TeamFile.model_validate(raw)
        team, raw_pools = header.team, header.pools
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, source=source)
        # Still check the pools when only the header is wrong: every problem in one run.
        team = str(raw.get("team") or path.stem)
        maybe_pools = raw.get("pools")
        raw_pools = maybe_pools if isinstance(maybe_pools, list) else []
    if path.stem != team:
        problems.append(
            ConfigProblem(source, "team", repr(team), f"the file name: teams/{team}.yaml")
        )
    if team in teams_seen:
        problems.append(
            ConfigProblem(source, "team", repr(team), f"one file per team ({teams_seen[team]})")
        )
    teams_seen.setdefault(team, source)
    allowance = stack.teams.get(team)
    if allowance is None:
        problems.append(
            ConfigProblem(
                source,
                "team",
                repr(team),
                f"a team listed in arc-eks:teams of stack {stack.environment!r} "
                f"({', '.join(sorted(stack.teams)) or 'none listed'}); the platform team adds it",
            )
        )

    per_env: dict[str, dict[str, int]] = {}
    resolved: list[ResolvedPool] = []
    for index, raw_pool in enumerate(raw_pools):
        if not isinstance(raw_pool, Mapping):
            problems.append(ConfigProblem(source, f"pools[{index}]", repr(raw_pool), "a mapping"))
            continue
        envs, specs, pool_problems = _validate_pool(
            raw_pool, index, team=team, source=source, stack=stack, allowance=allowance
        )
        problems += pool_problems
        raw_name = raw_pool.get("name")
        for env in envs:
            names = per_env.setdefault(env, {})
            if isinstance(raw_name, str) and raw_name in names:
                problems.append(
                    ConfigProblem(
                        source,
                        f"pools[{index}].name",
                        repr(raw_name),
                        "a pool name unique in the team per environment "
                        f"(pools[{names[raw_name]}] is also {raw_name!r} in {env})",
                    )
                )
                break
            if isinstance(raw_name, str):
                names[raw_name] = index
        current = specs.get(stack.environment)
        if current is not None and allowance is not None:
            resolved.append(
                ResolvedPool(
                    team, stack.environment, source, current, _resolve_s3(current, allowance)
                )
            )
    return resolved, problems


def load_team_pools(teams_dir: Path, stack: StackConfig) -> list[ResolvedPool]:
    """Every pool of every teams/*.yaml that exists in the current environment, sorted by key.

    Raises one `ConfigError` listing every problem of every file; nothing is returned partially.
    """
    problems: list[ConfigProblem] = []
    pools: list[ResolvedPool] = []
    teams_seen: dict[str, str] = {}
    files = sorted(p for p in teams_dir.glob("*.y*ml") if p.suffix in {".yaml", ".yml"})
    for path in files:
        file_pools, file_problems = _load_team_file(path, stack, teams_seen)
        pools += file_pools
        problems += file_problems
    if problems:
        raise ConfigError(problems)
    return sorted(pools, key=lambda p: p.key)
