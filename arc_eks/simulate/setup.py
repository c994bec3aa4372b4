"""From a stack and its team files (read by the package's own config loaders) to the model's
pools and node groups, with `--set` overrides re-validated by the same loaders."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

from arc_eks.builders.node_groups import placement, plan_runner_node_groups
from arc_eks.capacity import NODE_CAPACITY
from arc_eks.config.loader import NAMESPACE, SECRET_KEYS, load_stack_config, load_stack_context
from arc_eks.config.pool_spec import (
    DAEMONSET_RESERVED_CPU_MILLIS,
    DAEMONSET_RESERVED_MEMORY_MIB,
    DOCKER_RESOURCES_DEFAULT,
    DockerMode,
    PercentageRunnersBusy,
    Schedule,
    TotalNumberOfQueuedAndInProgressWorkflowRuns,
)
from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import ResolvedPool, load_team_pools
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, config_map_from_stack_file, stack_file


@dataclass(frozen=True)
class NodeGroupModel:
    name: str
    instance_type: str
    min_size: int
    max_size: int
    initial_size: int
    cpu_millis: float
    """Room for runner pods on one node: allocatable minus the per-node DaemonSets."""
    memory_mib: float


@dataclass(frozen=True)
class PoolModel:
    key: str
    """team-pool."""
    labels: frozenset[str]
    """The pool's runs-on labels, self-hosted included (ARC adds it)."""
    scope_kind: str
    scope_value: str
    node_group: str
    cpu_millis: float
    """Pod request: runner plus the dind sidecar."""
    memory_mib: float
    min: int
    max: int
    metric: str
    """PercentageRunnersBusy, TotalNumberOfQueuedAndInProgressWorkflowRuns or WebhookOnly (no
    metric: min plus webhook reservations)."""
    scale_up_threshold: float
    scale_down_threshold: float
    scale_up_factor: float
    scale_down_factor: float
    scale_up_adjustment: int | None
    """Add this many instead of multiplying (ARC: scaleUpAdjustment; the factor is then unset)."""
    scale_down_adjustment: int | None
    repository_names: tuple[str, ...]
    scale_down_delay_seconds: float
    schedules: tuple[Schedule, ...]
    webhook_duration_seconds: float | None
    """Webhook scale-up trigger duration; None when the stack runs no webhook server."""

    def runners_per_node(self, group: NodeGroupModel) -> int:
        return int(min(group.cpu_millis // self.cpu_millis, group.memory_mib // self.memory_mib))


def node_group_for(pool: ResolvedPool, stack: StackConfig) -> str:
    """The runner node group a pool's pods land on: its isolation class, as the program places
    it (arc_eks.builders.node_groups.placement)."""
    return placement(pool, stack.runner_nodes.privileged_isolation).isolation


def node_groups(stack: StackConfig, pools: Sequence[ResolvedPool]) -> dict[str, NodeGroupModel]:
    """The runner node groups the program would create for these pools (one per isolation
    class, scaling from zero up to runnerNodes.maxSize, nodeGroup's instance type)."""
    instance_type = stack.node_group.instance_type
    cap = NODE_CAPACITY[instance_type]
    plans = plan_runner_node_groups(
        pools,
        privileged_isolation=stack.runner_nodes.privileged_isolation,
        max_size=stack.runner_nodes.max_size,
    )
    return {
        plan.isolation: NodeGroupModel(
            name=plan.isolation,
            instance_type=instance_type,
            min_size=0,
            max_size=plan.max_size,
            initial_size=0,
            cpu_millis=cap.allocatable_cpu_millis - DAEMONSET_RESERVED_CPU_MILLIS,
            memory_mib=cap.allocatable_memory_mib - DAEMONSET_RESERVED_MEMORY_MIB,
        )
        for plan in plans
    }


def duration_seconds(text: str) -> float:
    """`30m` / `90s` / `1h` (the forms the config models accept)."""
    unit = {"s": 1, "m": 60, "h": 3600}[text[-1]]
    return float(text[:-1]) * unit


def pool_model(pool: ResolvedPool, stack: StackConfig) -> PoolModel:
    spec = pool.spec
    cpu, memory = spec.resources.requests.cpu_millis, spec.resources.requests.memory_mib
    if spec.docker == DockerMode.DIND:
        sidecar = spec.docker_resources or DOCKER_RESOURCES_DEFAULT
        cpu += sidecar.requests.cpu_millis
        memory += sidecar.requests.memory_mib
    scaling = spec.autoscaling
    metric = scaling.metric
    busy = metric if isinstance(metric, PercentageRunnersBusy) else None
    queued = metric if isinstance(metric, TotalNumberOfQueuedAndInProgressWorkflowRuns) else None
    return PoolModel(
        key=pool.key,
        labels=frozenset({"self-hosted", *spec.labels}),
        scope_kind=spec.scope.kind,
        scope_value=spec.scope.value,
        node_group=node_group_for(pool, stack),
        cpu_millis=cpu,
        memory_mib=memory,
        min=scaling.min,
        max=scaling.max,
        metric=metric.type,
        scale_up_threshold=busy.scale_up_threshold if busy else 0.0,
        scale_down_threshold=busy.scale_down_threshold if busy else 0.0,
        scale_up_factor=busy.scale_up_factor if busy else 0.0,
        scale_down_factor=busy.scale_down_factor if busy else 0.0,
        scale_up_adjustment=busy.scale_up_adjustment if busy else None,
        scale_down_adjustment=busy.scale_down_adjustment if busy else None,
        repository_names=tuple(queued.repository_names) if queued else (),
        scale_down_delay_seconds=float(scaling.scale_down_delay_seconds),
        schedules=tuple(scaling.schedules),
        webhook_duration_seconds=(
            duration_seconds(scaling.webhook_scale_up_duration)
            if stack.controller.webhook_server
            else None
        ),
    )


@dataclass(frozen=True)
class Setting:
    """One `--set` override: `team/pool.autoscaling.min=0` or a stack key `nodeGroup.maxSize=8`."""

    team: str | None
    pool: str | None
    path: tuple[str, ...]
    value: Any

    @classmethod
    def parse(cls, text: str) -> Setting:
        target, sep, raw_value = text.partition("=")
        if not sep or not target:
            raise ValueError(f"--set {text!r}: expected KEY=VALUE")
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
        head, _, rest = target.partition(".")
        if "/" in head:
            team, _, pool = head.partition("/")
            if not rest or not team or not pool:
                raise ValueError(f"--set {text!r}: expected TEAM/POOL.KEY=VALUE")
            return cls(team, pool, tuple(rest.split(".")), value)
        return cls(None, None, tuple(target.split(".")), value)


def _set_path(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
            target[key] = nxt
        target = nxt
    target[path[-1]] = value


@dataclass(frozen=True)
class LoadedStack:
    stack: StackConfig
    pools: tuple[PoolModel, ...]
    node_groups: dict[str, NodeGroupModel]


def load(
    project_dir: Path,
    stack_name: str,
    *,
    teams_dir: Path | None = None,
    settings: Sequence[Setting] = (),
) -> LoadedStack:
    """The stack config and team pools as `pulumi up` would validate them (ConfigError if not),
    with the settings applied: stack keys in the stack's config, pool keys as an override of the
    pool in this environment (so they win over the team file's own environment overrides)."""
    # The stack file as the engine passes it, placeholders for secrets (as `make review` does:
    # the model never needs a credential).
    config, secret_keys = config_map_from_stack_file(stack_file(project_dir, stack_name))
    placeholders = {
        f"{NAMESPACE}:{key}": f"{OFFLINE_SECRET_PREFIX}{key}"
        for key in SECRET_KEYS
        if f"{NAMESPACE}:{key}" not in config
    }
    config.update(placeholders)
    secret_keys = sorted(set(secret_keys) | set(placeholders))
    for s in settings:
        if s.team is None:
            key = f"{NAMESPACE}:{s.path[0]}"
            if len(s.path) == 1:
                config[key] = s.value if isinstance(s.value, str) else json.dumps(s.value)
            else:
                current = json.loads(config[key]) if key in config else {}
                _set_path(current, s.path[1:], s.value)
                config[key] = json.dumps(current)
    pulumi.runtime.set_all_config(config, secret_keys)
    stack, _secrets = load_stack_config(stack_name)
    teams = teams_dir or project_dir / "teams"
    pool_settings = [s for s in settings if s.team is not None]
    context = load_stack_context(stack, project_dir / "stacks")
    with tempfile.TemporaryDirectory(prefix="arc-eks-simulate-") as tmp:
        if pool_settings:
            teams = _teams_with_settings(teams, Path(tmp), stack.environment, pool_settings)
        resolved = load_team_pools(teams, stack, context)
    return LoadedStack(
        stack=stack,
        pools=tuple(pool_model(p, stack) for p in resolved),
        node_groups=node_groups(stack, resolved),
    )


def _teams_with_settings(
    teams: Path, out: Path, environment: str, settings: Sequence[Setting]
) -> Path:
    """A copy of the team files with each setting written as the pool's override for this
    environment; the copy is then loaded (and validated) exactly like the originals."""
    files = {p.stem: p for p in sorted(teams.glob("*")) if p.suffix in {".yaml", ".yml"}}
    documents: dict[str, Any] = {}
    for s in settings:
        assert s.team is not None
        if s.team not in files:
            raise ValueError(f"--set {s.team}/{s.pool}: no team file teams/{s.team}.yaml")
        doc: dict[str, Any] = documents.setdefault(
            s.team, yaml.safe_load(files[s.team].read_text())
        )
        pools = [
            p for p in doc.get("pools") or [] if isinstance(p, dict) and p.get("name") == s.pool
        ]
        if not pools:
            raise ValueError(f"--set {s.team}/{s.pool}: teams/{s.team}.yaml has no pool {s.pool!r}")
        pool = pools[0]
        envs = pool.get("environments")
        if isinstance(envs, list):
            envs = {e: {} for e in envs}
        if not isinstance(envs, dict) or environment not in envs:
            raise ValueError(f"--set {s.team}/{s.pool}: the pool does not exist in {environment}")
        override = copy.deepcopy(envs[environment] or {})
        _set_path(override, s.path, s.value)
        envs[environment] = override
        pool["environments"] = envs
    for stem, path in files.items():
        target = out / path.name
        if stem in documents:
            target.write_text(yaml.safe_dump(documents[stem], sort_keys=False))
        else:
            shutil.copyfile(path, target)
    return out
