"""Stack-wide rules: relations between resources that no single resource shows.

- every runner pool's ServiceAccount has its own IRSA role (no role ARN on two ServiceAccounts, no
  role trusted by two ServiceAccounts, no ServiceAccount shared by two runner pools);
- the pools' maximum demand (maxReplicas x per-pod requests, sidecars included) fits the node
  group's maximum capacity (maxSize x allocatable of the instance type, from policy config).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import (
    UNKNOWN,
    StackResource,
    StackRule,
    as_list,
    as_number,
    get,
    iter_statements,
    json_document,
)
from .nodes import AWS_NODE_GROUP, EKS_MANAGED_NODE_GROUP
from .quantities import cpu_millis, memory_mib
from .workloads import RUNNER_DEPLOYMENT, RUNNER_KINDS, RUNNER_SET, containers, pod_spec

SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
ROLE = "aws:iam/role:Role"
HRA = "kubernetes:actions.summerwind.dev/v1alpha1:HorizontalRunnerAutoscaler"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def _namespace(resource: StackResource) -> str:
    namespace = get(resource.props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def _k8s_name(resource: StackResource) -> str:
    name = get(resource.props, "metadata", "name")
    return name if isinstance(name, str) and name else resource.name


def _trusted_subjects(role: StackResource) -> set[str]:
    document = json_document(get(role.props, "assumeRolePolicy"))
    subjects: set[str] = set()
    if not isinstance(document, dict):
        return subjects
    for _, statement in iter_statements(document):
        federated = as_list(get(statement, "Principal", "Federated"))
        if not any(isinstance(p, str) and "oidc-provider/" in p for p in federated):
            continue
        condition = get(statement, "Condition")
        if not isinstance(condition, dict):
            continue
        for entries in condition.values():
            if not isinstance(entries, dict):
                continue
            for key, values in entries.items():
                if key.endswith(":sub"):
                    subjects |= {v for v in as_list(values) if isinstance(v, str)}
    return subjects


def _role_path_and_name(role: StackResource) -> str | None:
    """`<path><name>` as it ends the role's ARN, when the program names the role."""
    name = get(role.props, "name")
    path = get(role.props, "path", default="/")
    if not isinstance(name, str) or not name or not isinstance(path, str):
        return None
    return f"{path.strip('/')}/{name}".lstrip("/")


def _annotation_matches_trust(
    resources: list[StackResource], by_arn: Mapping[str, list[StackResource]]
) -> Iterator[tuple[str | None, str]]:
    """A ServiceAccount annotated with a role of this stack must be the one that role trusts
    (otherwise its pods cannot assume it, or the role serves some other ServiceAccount)."""
    roles: dict[str, StackResource] = {}
    for candidate in (r for r in resources if r.type == ROLE):
        key = _role_path_and_name(candidate)
        if key is not None:
            roles[key] = candidate
    for arn, accounts in by_arn.items():
        role = roles.get(arn.split(":role/", 1)[-1]) if ":role/" in arn else None
        if role is None or get(role.props, "assumeRolePolicy") is UNKNOWN:
            continue
        subjects = _trusted_subjects(role)
        for account in accounts:
            subject = f"system:serviceaccount:{_namespace(account)}:{_k8s_name(account)}"
            if subjects and subject not in subjects:
                yield (
                    account.urn,
                    f"{SERVICE_ACCOUNT} '{account.name}': metadata.annotations"
                    f"[{ROLE_ARN_ANNOTATION}] = {arn}, but {ROLE} '{role.name}' trusts "
                    f"{sorted(subjects)}, not {subject}",
                )


def _pools_sharing_a_service_account(
    resources: list[StackResource],
) -> Iterator[tuple[str | None, str]]:
    # (namespace, ServiceAccount) -> (pool, key path of its pod spec) of each pool using it
    users: dict[tuple[str, str], list[tuple[StackResource, str]]] = defaultdict(list)
    for pool in (r for r in resources if r.type in RUNNER_KINDS):
        base, spec = pod_spec(pool.type, pool.props)
        if not isinstance(spec, dict):
            continue
        sa_name = get(spec, "serviceAccountName")
        if sa_name in (None, ""):
            # Unset, the pods run as the namespace's `default` ServiceAccount: two such pools
            # share it, and whatever role is annotated on it.
            sa_name = "default"
        if isinstance(sa_name, str):
            users[(_namespace(pool), sa_name)].append((pool, base))
    for (namespace, sa_name), pools in users.items():
        if len(pools) > 1:
            names = sorted(p.name for p, _ in pools)
            for pool, base in pools[1:]:
                yield (
                    pool.urn,
                    f"{pool.type} '{pool.name}': {base}.serviceAccountName = "
                    f"{namespace}/{sa_name} is shared by runner pools {names}",
                )


def check_one_role_per_service_account(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    by_arn: dict[str, list[StackResource]] = defaultdict(list)
    for sa in (r for r in resources if r.type == SERVICE_ACCOUNT):
        arn = get(sa.props, "metadata", "annotations", ROLE_ARN_ANNOTATION)
        if isinstance(arn, str) and arn:
            by_arn[arn].append(sa)
    for arn, accounts in by_arn.items():
        if len(accounts) > 1:
            names = sorted(f"{_namespace(a)}/{_k8s_name(a)}" for a in accounts)
            for account in accounts[1:]:
                yield (
                    account.urn,
                    f"{SERVICE_ACCOUNT} '{account.name}': metadata.annotations"
                    f"[{ROLE_ARN_ANNOTATION}] = {arn} is shared by ServiceAccounts {names}",
                )
    yield from _annotation_matches_trust(resources, by_arn)
    for role in (r for r in resources if r.type == ROLE):
        subjects = _trusted_subjects(role)
        if len(subjects) > 1:
            yield (
                role.urn,
                f"{ROLE} '{role.name}': assumeRolePolicy trusts {len(subjects)} ServiceAccounts "
                f"{sorted(subjects)}; one role per ServiceAccount",
            )
    yield from _pools_sharing_a_service_account(resources)


ONE_ROLE_PER_SERVICE_ACCOUNT = StackRule(
    name="kubernetes-irsa-one-role-per-service-account",
    description="Every runner pool has its own ServiceAccount and IRSA role: no role ARN annotated "
    "on two ServiceAccounts, no role trusting two ServiceAccounts, no ServiceAccount used by two "
    "pools (one pool's jobs must not get another pool's AWS permissions).",
    remediation="give each pool its own IrsaServiceAccount (the package does this per pool); do "
    "not reuse serviceAccountName or role ARNs across pools",
    check=check_one_role_per_service_account,
    severity=Severity.HIGH,
)


def pod_requests(typ: str, props: dict[str, Any]) -> tuple[float, float]:
    """(CPU millicores, memory MiB) one pod of this runner pool requests, sidecars included."""
    base, spec = pod_spec(typ, props)
    if not isinstance(spec, dict):
        return 0.0, 0.0
    cpu = memory = init_cpu = init_memory = 0.0
    for container in containers(typ, spec, base):
        requests = get(container.resources, "requests")
        c = cpu_millis(get(requests, "cpu")) or 0.0
        m = memory_mib(get(requests, "memory")) or 0.0
        if ".initContainers[" in container.path:
            init_cpu, init_memory = max(init_cpu, c), max(init_memory, m)
        else:
            cpu, memory = cpu + c, memory + m
    return max(cpu, init_cpu), max(memory, init_memory)


def _node_groups(resources: list[StackResource]) -> list[StackResource]:
    components = [r for r in resources if r.type == EKS_MANAGED_NODE_GROUP]
    raw = [
        r for r in resources if r.type == AWS_NODE_GROUP and r.parent_type != EKS_MANAGED_NODE_GROUP
    ]
    return components + raw


_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}


def _tolerates(tolerations: Any, key: Any, value: Any, effect: str) -> bool:
    for toleration in as_list(tolerations):
        t_key, t_effect = get(toleration, "key"), get(toleration, "effect")
        if t_key not in (None, "", key) or t_effect not in (None, "", effect):
            continue
        if get(toleration, "operator") == "Exists" or get(toleration, "value") == value:
            return True
    return False


def group_fits(spec: Any, group: StackResource) -> bool | None:
    """Whether a runner pod (its runner spec) may run on the node group's nodes: its
    nodeSelector matches the group's labels and it tolerates every NoSchedule/NoExecute taint.
    None when the group's labels or taints are unknown (preview)."""
    labels, taints = get(group.props, "labels"), get(group.props, "taints")
    if labels is UNKNOWN or taints is UNKNOWN:
        return None
    labels = labels if isinstance(labels, dict) else {}
    selector = get(spec, "nodeSelector")
    if isinstance(selector, dict) and any(labels.get(k) != v for k, v in selector.items()):
        return False
    for taint in as_list(taints):
        effect = _TAINT_EFFECTS.get(str(get(taint, "effect")))
        if effect is None:  # PreferNoSchedule only steers
            continue
        if not _tolerates(get(spec, "tolerations"), get(taint, "key"), get(taint, "value"), effect):
            return False
    return True


def _group_capacity(
    groups: list[StackResource], config: Mapping[str, Any]
) -> dict[str, tuple[float, float, float]] | tuple[str, str] | None:
    """Per node group URN: (CPU millicores, memory MiB, pods) at maxSize. None when a size or
    type is unknown (preview); (urn, message) for an instance type without figures."""
    table: Mapping[str, Any] = config["allocatable"]
    capacity: dict[str, tuple[float, float, float]] = {}
    for group in groups:
        max_size = as_number(get(group.props, "scalingConfig", "maxSize"))
        types = get(group.props, "instanceTypes")
        if max_size is None or types is UNKNOWN:
            return None
        instance_type = next(iter(as_list(types)), None) or config["defaultInstanceType"]
        figures = table.get(instance_type)
        if not isinstance(figures, dict):
            return (
                group.urn,
                f"{group.type} '{group.name}': instanceTypes = {instance_type!r} has no "
                "allocatable figures in the policy config (allocatable)",
            )
        capacity[group.urn] = (
            max_size * (float(figures["cpuMillis"]) - config["perNodeOverheadCpuMillis"]),
            max_size * (float(figures["memoryMib"]) - config["perNodeOverheadMemoryMib"]),
            max_size * float(figures["maxPods"]),
        )
    return capacity


def _peak_replicas(
    resources: list[StackResource], deployments: Mapping[tuple[str, str], StackResource]
) -> dict[tuple[str, str], float]:
    """Runners per pool at peak: the autoscaler's maxReplicas, else the pool's replicas (1)."""
    replicas: dict[tuple[str, str], float] = {}
    for hra in (r for r in resources if r.type == HRA):
        target = (_namespace(hra), str(get(hra.props, "spec", "scaleTargetRef", "name")))
        max_replicas = as_number(get(hra.props, "spec", "maxReplicas"))
        if target in deployments and max_replicas is not None:
            replicas[target] = max_replicas
    for key, pool in deployments.items():
        if key not in replicas:
            count = as_number(get(pool.props, "spec", "replicas"))
            replicas[key] = 1.0 if count is None else count
    return replicas


def _excess(demand: list[float], capacity: list[float]) -> list[str]:
    over = []
    if demand[0] > capacity[0]:
        over.append(f"CPU {int(demand[0])}m > {int(capacity[0])}m")
    if demand[1] > capacity[1]:
        over.append(f"memory {int(demand[1])}Mi > {int(capacity[1])}Mi")
    if demand[2] > capacity[2]:
        over.append(f"pods {int(demand[2])} > {int(capacity[2])}")
    return over


def check_capacity(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    """Per node group: the pools whose runner pods can only run on a set of node groups (their
    nodeSelector and tolerations) must fit those groups' maximum capacity."""
    groups = _node_groups(resources)
    if not groups:
        return
    capacity = _group_capacity(groups, config)
    if capacity is None:
        return  # unknown during preview: nothing to compare against
    if isinstance(capacity, tuple):
        yield capacity
        return
    deployments = {
        (_namespace(r), _k8s_name(r)): r
        for r in resources
        if r.type in (RUNNER_DEPLOYMENT, RUNNER_SET)
    }
    replicas = _peak_replicas(resources, deployments)
    # Pools grouped by the node groups they can run on.
    demand: dict[tuple[str, ...], list[float]] = {}
    lines: dict[tuple[str, ...], list[str]] = {}
    for key, pool in deployments.items():
        _base, spec = pod_spec(pool.type, pool.props)
        fits = [group_fits(spec, g) for g in groups]
        if any(f is None for f in fits):
            continue
        where = tuple(g.urn for g, f in zip(groups, fits, strict=True) if f)
        if not where:
            yield (
                pool.urn,
                f"runner pool {key[0]}/{key[1]} fits no node group: no group's labels match its "
                "nodeSelector with every taint tolerated, so its runners stay Pending",
            )
            continue
        cpu, memory = pod_requests(pool.type, pool.props)
        count = replicas[key]
        totals = demand.setdefault(where, [0.0, 0.0, 0.0])
        for index, value in enumerate((count * cpu, count * memory, count)):
            totals[index] += value
        lines.setdefault(where, []).append(
            f"{key[0]}/{key[1]} {int(count)}x({int(cpu)}m, {int(memory)}Mi)"
        )
    by_urn = {g.urn: g for g in groups}
    for where, totals in demand.items():
        held = [sum(capacity[u][i] for u in where) for i in range(3)]
        over = _excess(totals, held)
        if over:
            groups_text = ", ".join(f"{by_urn[u].type} '{by_urn[u].name}'" for u in where)
            yield (
                where[0],
                f"runner pools at maxReplicas request {'; '.join(over)}, beyond the node group "
                f"maximum ({groups_text}: scalingConfig.maxSize x allocatable); largest pools: "
                f"{sorted(lines[where], key=len)[-3:]}",
            )


_DEFAULT_ALLOCATABLE = {
    # EKS AL2023 allocatable of t3a.large (2 vCPU, 35 pods): kube-reserved 70m CPU, 255Mi + 11Mi
    # per pod + 100Mi eviction from ~7,859 MiB MemTotal. Mirrors arc_eks/capacity.py (which this
    # pack cannot import: it runs in its own virtualenv).
    "t3a.large": {"cpuMillis": 1930, "memoryMib": 7119, "maxPods": 35},
}

CAPACITY_FITS_NODE_GROUP = StackRule(
    name="arc-runner-capacity-fits-node-group",
    description="Per node group: the maximum demand of the runner pools that can run there (by "
    "nodeSelector and tolerations; sum of maxReplicas x per-pod requests, sidecars included) "
    "fits its maximum capacity (maxSize x allocatable CPU, memory and pods of the instance "
    "type), and every pool fits some node group; beyond it runners stay Pending at peak.",
    remediation="lower pools' autoscaling.max or requests, or raise runnerNodes.maxSize in the "
    "stack config",
    check=check_capacity,
    config={
        "allocatable": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "cpuMillis": {"type": "number", "minimum": 1},
                    "memoryMib": {"type": "number", "minimum": 1},
                    "maxPods": {"type": "number", "minimum": 1},
                },
                "required": ["cpuMillis", "memoryMib", "maxPods"],
            },
            "default": _DEFAULT_ALLOCATABLE,
            "description": "Allocatable CPU (millicores), memory (MiB) and pods per instance type.",
        },
        "defaultInstanceType": {
            "type": "string",
            "default": "t3a.large",
            "description": "Instance type assumed when a node group names none in instanceTypes "
            "(it comes from its launch template).",
        },
        "perNodeOverheadCpuMillis": {
            "type": "number",
            "minimum": 0,
            "default": 0,
            "description": "CPU each node keeps for DaemonSets/add-ons, subtracted from allocatable.",
        },
        "perNodeOverheadMemoryMib": {
            "type": "number",
            "minimum": 0,
            "default": 0,
            "description": "Memory each node keeps for DaemonSets/add-ons.",
        },
    },
    severity=Severity.MEDIUM,
)

RULES = (ONE_ROLE_PER_SERVICE_ACCOUNT, CAPACITY_FITS_NODE_GROUP)
