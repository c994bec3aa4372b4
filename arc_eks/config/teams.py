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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, TypeAdapter, ValidationError

from arc_eks.config.base import ConfigModel
from arc_eks.config.pool_spec import (
    DEFAULT_RUNNER_LABELS,
    DOCKER_RESOURCES_DEFAULT,
    MAX_LABELS,
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
    resolved_mode,
)
from arc_eks.config.stack import StackConfig, TeamAllowance, TeamName
from arc_eks.config.yaml_files import TEAM_FILE_MAX_BYTES, load_yaml
from arc_eks.errors import (
    ConfigError,
    ConfigProblem,
    credential_problems,
    problems_from_validation_error,
    show,
)

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

    mode: Any = None
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


MAX_POOLS_PER_TEAM = 50
NAMESPACE_MAX_LENGTH = 63
TEAM_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class TeamFile(ConfigModel):
    """A teams/<team>.yaml file. The pools are validated one by one, per environment."""

    team: TeamName = Field(description="The team; its namespace and the stack allowlist key.")
    pools: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_POOLS_PER_TEAM, description="The team's runner pools."
    )


@dataclass(frozen=True)
class StackContext:
    """What the stack being built says about the world beyond its `arc-eks:` keys."""

    environments: frozenset[str] | None = None
    """Every environment a stack file defines (stacks/Pulumi.<env>.yaml); None: not checked."""
    own_accounts: tuple[str, ...] = ()
    """aws:allowedAccountIds: the account(s) this stack deploys to."""
    region: str | None = None
    """aws:region."""

    def allowed_registries(self, stack: StackConfig) -> frozenset[str]:
        ecr = {f"{a}.dkr.ecr.{self.region}.amazonaws.com" for a in self.own_accounts if self.region}
        return frozenset({*(r.lower() for r in stack.images.allowed_registries), *ecr})


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


def _resolve_s3(spec: PoolSpec, allowance: TeamAllowance) -> tuple[ResolvedS3Grant, ...]:
    owners = {b.bucket: b.account_id for b in allowance.s3_buckets}
    return tuple(
        ResolvedS3Grant(
            g.bucket, g.prefix, g.access, g.kms_key_arn, owners.get(g.bucket), g.object_acl
        )
        for g in spec.s3
    )


@dataclass(frozen=True)
class _Declared:
    """A valid pool in one environment, for the checks across pools and files."""

    team: str
    source: str
    index: int
    environment: str
    spec: PoolSpec


@dataclass(frozen=True)
class _LabelClaim:
    """Labels a pool carries in an environment where it failed validation: still compared with
    every other team's labels, so one mistake never hides a routing conflict."""

    team: str
    source: str
    where: str  # e.g. pools[0].environments.dev.labels
    labels: tuple[str, ...]


def _raw_label_claims(
    raw_pool: Mapping[str, Any], index: int, valid: Mapping[str, PoolSpec], team: str, source: str
) -> list[_LabelClaim]:
    envs = raw_pool.get("environments")
    entries = envs.items() if isinstance(envs, Mapping) else []
    claims = []
    for env, override in entries:
        if env in valid:
            continue
        own = isinstance(override, Mapping) and "labels" in override
        labels = override["labels"] if own else raw_pool.get("labels")
        where = f"pools[{index}].environments.{env}.labels" if own else f"pools[{index}].labels"
        if isinstance(labels, list):
            texts = tuple(x for x in labels[:MAX_LABELS] if isinstance(x, str))
            claims.append(_LabelClaim(team, source, where, texts))
    if not isinstance(envs, Mapping) and not valid and isinstance(raw_pool.get("labels"), list):
        texts = tuple(x for x in raw_pool["labels"][:MAX_LABELS] if isinstance(x, str))
        claims.append(_LabelClaim(team, source, f"pools[{index}].labels", texts))
    return claims


def _environments(
    raw: Any, prefix: str, source: str, known: frozenset[str] | None
) -> tuple[dict[str, dict[str, Any]], list[ConfigProblem]]:
    """Environment -> override of one pool. Each environment and each override is checked on
    its own, so one bad entry never hides the others (or the pool's own problems)."""
    problems: list[ConfigProblem] = []
    where = f"{prefix}.environments"
    if isinstance(raw, list):
        entries: list[tuple[str, Any, str]] = [
            (e, None, f"{where}[{i}]") for i, e in enumerate(raw)
        ]
    elif isinstance(raw, Mapping):
        entries = [(e, o, f"{where}.{e}") for e, o in raw.items()]
    else:
        expected = "a list of environments, e.g. [dev, prod], or a map {dev: {overrides}, prod: {}}"
        value = "(missing)" if raw is None else show(raw)
        return {}, [ConfigProblem(source, where, value, expected)]
    if not entries:
        problems.append(ConfigProblem(source, where, "(empty)", "at least one environment"))
    out: dict[str, dict[str, Any]] = {}
    for env, override, path in entries:
        try:
            name = TypeAdapter(EnvironmentName).validate_python(env)
        except ValidationError:
            problems.append(
                ConfigProblem(source, path, show(env), "an environment name such as dev")
            )
            continue
        if known is not None and name not in known:
            problems.append(
                ConfigProblem(
                    source,
                    path,
                    show(name),
                    f"an environment a stack defines ({', '.join(sorted(known))}); a pool in an "
                    "environment without a stack is never created",
                )
            )
            continue
        if name in out:
            problems.append(ConfigProblem(source, path, show(name), "each environment once"))
            continue
        if override is None:
            out[name] = {}
            continue
        try:
            checked = PoolOverride.model_validate(override)
        except ValidationError as exc:
            problems += problems_from_validation_error(
                exc, source=source, prefix=path, model=PoolOverride
            )
            continue
        out[name] = checked.model_dump(by_alias=True, exclude_none=True)
    return out, problems


def _validate_pool(
    raw_pool: Mapping[str, Any],
    index: int,
    *,
    team: str,
    source: str,
    stack: StackConfig,
    allowance: TeamAllowance | None,
    context: StackContext,
) -> tuple[dict[str, PoolSpec], list[ConfigProblem]]:
    """Validate one pool in every environment it declares.

    Returns the valid spec per environment and the problems. A mistake in the pool's own keys is
    reported once (with the environments it breaks, if not all); a mistake in an override is
    reported at `pools[i].environments.<env>.<key>`.
    """
    prefix = f"pools[{index}]"
    overrides, problems = _environments(
        raw_pool.get("environments"), prefix, source, context.environments
    )
    base = {k: v for k, v in raw_pool.items() if k != "environments"}
    # With no usable environment, still check the pool itself once (every problem in one run).
    checks = overrides or {"": {}}
    specs: dict[str, PoolSpec] = {}
    found: dict[tuple[str, str, str], list[str]] = {}  # (path, value, expected) -> environments
    for env, override in checks.items():
        current = env == stack.environment
        merged = _deep_merge(base, override)
        mode = resolved_mode(merged, stack.scale_sets.default_mode)
        validation_context = {
            "team": team,
            # The pool's mode (its own, else the stack's default): nested models check what the
            # mode supports (Autoscaling refuses HRA-only keys for a scale set).
            "mode": mode if isinstance(mode, str) else None,
            "default_mode": stack.scale_sets.default_mode,
            "instance_type": stack.node_group.instance_type,
            # The current stack's facts; other environments are checked by their own stack.
            "allowance": allowance if current else None,
            "webhook_server": stack.controller.webhook_server if current else None,
            "github_auth": stack.github.auth if current else None,
            "own_accounts": context.own_accounts if current else (),
            "allowed_registries": context.allowed_registries(stack) if current else None,
        }
        try:
            spec = PoolSpec.model_validate(merged, context=validation_context)
        except ValidationError as exc:
            # problems_from_validation_error yields one problem per error, in order.
            rendered = problems_from_validation_error(exc, source=source, model=PoolSpec)
            for err, problem in zip(exc.errors(include_url=False), rendered, strict=True):
                loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
                where = f"{prefix}.environments.{env}" if _has_path(override, loc) else prefix
                path = f"{where}.{problem.path}" if problem.path else where
                found.setdefault((path, problem.value, problem.expected), []).append(env)
            continue
        if env:
            specs[env] = spec
    for (path, value, expected), where_envs in found.items():
        named = [e for e in where_envs if e]
        partial = ".environments." not in path and named and len(named) < len(overrides)
        suffix = f" (in {', '.join(named)})" if partial else ""
        problems.append(ConfigProblem(source, path, value, expected + suffix))
    return specs, problems


def _load_team_file(
    path: Path,
    stack: StackConfig,
    context: StackContext,
    teams_seen: dict[str, str],
    declared: list[_Declared],
    *,
    label_claims: list[_LabelClaim],
) -> tuple[list[ResolvedPool], list[ConfigProblem]]:
    source = f"teams/{path.name}"
    loaded = load_yaml(path, source, max_bytes=TEAM_FILE_MAX_BYTES)
    if loaded.problems:
        return [], loaded.problems
    raw = loaded.document
    if not isinstance(raw, Mapping):
        # Never the content: a credential file copied in place of a team file is one string.
        what = "(a list)" if isinstance(raw, list) else "(not a mapping; its content is not shown)"
        return [], [ConfigProblem(source, "(file)", what, "a mapping with team and pools")]
    problems: list[ConfigProblem] = credential_problems(raw, source)
    try:
        header = TeamFile.model_validate(raw)
        team, raw_pools = header.team, header.pools
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, source=source, model=TeamFile)
        # Still check the pools when only the header is wrong: every problem in one run.
        maybe_team = raw.get("team")
        team = (
            maybe_team if isinstance(maybe_team, str) and TEAM_NAME.match(maybe_team) else path.stem
        )
        maybe_pools = raw.get("pools")
        raw_pools = maybe_pools[:MAX_POOLS_PER_TEAM] if isinstance(maybe_pools, list) else []
    if path.stem != team:
        problems.append(
            ConfigProblem(source, "team", show(team), f"the file name: teams/{team}.yaml")
        )
    if team in teams_seen:
        problems.append(
            ConfigProblem(source, "team", show(team), f"one file per team ({teams_seen[team]})")
        )
    teams_seen.setdefault(team, source)
    allowance = stack.teams.get(team)

    per_env: dict[str, dict[str, int]] = {}
    resolved: list[ResolvedPool] = []
    in_this_stack = False
    for index, raw_pool in enumerate(raw_pools):
        if not isinstance(raw_pool, Mapping):
            problems.append(ConfigProblem(source, f"pools[{index}]", show(raw_pool), "a mapping"))
            continue
        specs, pool_problems = _validate_pool(
            raw_pool,
            index,
            team=team,
            source=source,
            stack=stack,
            allowance=allowance,
            context=context,
        )
        problems += pool_problems
        label_claims += _raw_label_claims(raw_pool, index, specs, team, source)
        raw_name = raw_pool.get("name")
        for env, spec in specs.items():
            declared.append(_Declared(team, source, index, env, spec))
            names = per_env.setdefault(env, {})
            if spec.name in names:
                problems.append(
                    ConfigProblem(
                        source,
                        f"pools[{index}].name",
                        show(raw_name),
                        "a pool name unique in the team per environment "
                        f"(pools[{names[spec.name]}] is also {spec.name!r} in {env})",
                    )
                )
                break
            names[spec.name] = index
        declares_current = stack.environment in specs or _declares(raw_pool, stack.environment)
        in_this_stack = in_this_stack or declares_current
        current = specs.get(stack.environment)
        if current is not None and allowance is not None:
            resolved.append(
                ResolvedPool(
                    team, stack.environment, source, current, _resolve_s3(current, allowance)
                )
            )
    if allowance is None and in_this_stack:
        problems.append(
            ConfigProblem(
                source,
                "team",
                show(team),
                f"a team listed in arc-eks:teams of stack {stack.environment!r} "
                f"({', '.join(sorted(stack.teams)) or 'none listed'}), since it has pools in "
                f"{stack.environment}; the platform team adds it",
            )
        )
    return resolved, problems


def _declares(raw_pool: Mapping[str, Any], environment: str) -> bool:
    envs = raw_pool.get("environments")
    return isinstance(envs, list | Mapping) and environment in envs


def _cross_pool_problems(
    declared: list[_Declared],
    teams_seen: dict[str, str],
    label_claims: list[_LabelClaim] | None = None,
) -> list[ConfigProblem]:
    """What no single file can see: labels another team's pools carry, names two different
    (team, pool) pairs would share, a kubernetes-mode namespace that is another team's."""
    problems: list[ConfigProblem] = []
    claims = [
        _LabelClaim(d.team, d.source, f"pools[{d.index}].labels", tuple(d.spec.labels))
        for d in declared
    ] + list(label_claims or [])
    label_teams: dict[str, dict[str, str]] = {}  # label -> team -> source
    for c in claims:
        for label in c.labels:
            if label.lower() not in DEFAULT_RUNNER_LABELS:
                label_teams.setdefault(label.lower(), {}).setdefault(c.team, c.source)
    reported: set[tuple[str, str, str]] = set()
    for c in claims:
        for position, label in enumerate(c.labels):
            owners = label_teams.get(label.lower(), {})
            others = sorted(t for t in owners if t != c.team)
            key = (c.source, f"{c.where}/{position}", label.lower())
            if others and key not in reported:
                reported.add(key)
                problems.append(
                    ConfigProblem(
                        c.source,
                        f"{c.where}[{position}]",
                        show(label),
                        "a label no other team's pool carries (also on team "
                        f"{others[0]!r}'s pools, {owners[others[0]]}): jobs pick runners by "
                        "label, so a shared label lets one team's jobs run on another's runners",
                    )
                )
    keys: dict[str, tuple[str, str, str]] = {}  # team-pool -> (team, pool, source)
    role_keys: dict[str, tuple[str, str, str, str]] = {}  # env-team-pool -> (env, team, pool, src)
    for d in declared:
        joined = f"{d.team}-{d.spec.name}"
        first = keys.setdefault(joined, (d.team, d.spec.name, d.source))
        if first[:2] != (d.team, d.spec.name):
            problems.append(
                ConfigProblem(
                    d.source,
                    f"pools[{d.index}].name",
                    show(d.spec.name),
                    f"a pool name that does not make team {first[0]!r}'s pool {first[1]!r} "
                    f"({first[2]}) ambiguous: both are named {joined!r} in IAM and Kubernetes",
                )
            )
        # IAM role names are account-wide and carry the environment (arc-eks-<env>-<team>-<pool>),
        # and two stacks may share an account: `dev`/`a-x` and `dev-a`/`x` would share a role.
        with_env = f"{d.environment}-{joined}"
        first_env = role_keys.setdefault(with_env, (d.environment, d.team, d.spec.name, d.source))
        if first_env[0] != d.environment:
            problems.append(
                ConfigProblem(
                    d.source,
                    f"pools[{d.index}].name",
                    show(d.spec.name),
                    f"a pool name that does not make team {first_env[1]!r}'s pool {first_env[2]!r} "
                    f"in {first_env[0]} ({first_env[3]}) ambiguous: both would get the IAM role "
                    f"arc-eks-{with_env} (roles are named arc-eks-<environment>-<team>-<pool>, and "
                    "stacks may share an account)",
                )
            )
        if d.spec.docker == DockerMode.KUBERNETES:
            namespace = f"runners-{joined}"
            if joined in teams_seen and joined != d.team:
                problems.append(
                    ConfigProblem(
                        d.source,
                        f"pools[{d.index}].name",
                        show(d.spec.name),
                        f"a pool name whose namespace {namespace!r} is not team {joined!r}'s "
                        f"namespace ({teams_seen[joined]})",
                    )
                )
            if len(namespace) > NAMESPACE_MAX_LENGTH:
                problems.append(
                    ConfigProblem(
                        d.source,
                        f"pools[{d.index}].name",
                        show(d.spec.name),
                        f"a shorter name: a docker: kubernetes pool gets its own namespace "
                        f"{namespace!r}, over Kubernetes' {NAMESPACE_MAX_LENGTH} characters",
                    )
                )
    return _unique(problems)


def _unique(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return list(dict.fromkeys(problems))


def load_team_pools(
    teams_dir: Path, stack: StackConfig, context: StackContext | None = None
) -> list[ResolvedPool]:
    """Every pool of every teams/*.yaml that exists in the current environment, sorted by key.

    Raises one `ConfigError` listing every problem of every file; nothing is returned partially.
    """
    context = context or StackContext()
    problems: list[ConfigProblem] = []
    pools: list[ResolvedPool] = []
    teams_seen: dict[str, str] = {}
    declared: list[_Declared] = []
    label_claims: list[_LabelClaim] = []
    files = sorted(p for p in teams_dir.glob("*") if p.suffix in {".yaml", ".yml"})
    for path in files:
        file_pools, file_problems = _load_team_file(
            path, stack, context, teams_seen, declared, label_claims=label_claims
        )
        pools += file_pools
        problems += file_problems
    problems += _cross_pool_problems(declared, teams_seen, label_claims)
    if problems:
        raise ConfigError(problems)
    return sorted(pools, key=lambda p: p.key)


def known_environments(stacks_dir: Path) -> frozenset[str]:
    """The environments that have a stack file (stacks/Pulumi.<env>.yaml)."""
    return frozenset(
        p.name.removeprefix("Pulumi.").rsplit(".", 1)[0]
        for p in stacks_dir.glob("Pulumi.*.y*ml")
        if p.suffix in {".yaml", ".yml"}
    )
