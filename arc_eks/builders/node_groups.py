"""Which node group a runner pool runs on, and the node groups a stack needs.

Isolation classes (the value of the node label and taint `arc-eks.io/isolation`):

- `system`: the system node group (no taint): controller, cert-manager, cluster-autoscaler,
  CoreDNS, add-ons. No runner pod selects it, and kubernetes-mode job pods may not either.
- `standard`: every unprivileged pool (`none`, `kaniko`, `kubernetes`) of every team.
- `privileged-<team>` (privilegedIsolation `perTeam`, the default) or `privileged` (`shared`):
  dind pools, whose sidecar is privileged (root on the node). Never shared with unprivileged
  pools; per team by default, so a job that takes its node reaches only its own team's pods.

Runner node groups are tainted `arc-eks.io/isolation=<class>:NoSchedule`: only pods that
tolerate that exact class (the runner pods of that class) schedule there, and each runner pod
also selects its class by node label, so it never lands anywhere else. They scale from zero:
cluster-autoscaler learns a group's labels and taints with no node to look at from the
`k8s.io/cluster-autoscaler/node-template/{label,taint}/...` tags on the group's Auto Scaling group
(the project tags the ASG itself: EKS does not copy node group tags to it) and from
eks:DescribeNodegroup (its IAM policy allows that on this cluster's node groups).
Ref: kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws (aws_manager.go,
extractLabelsFromAsg / extractTaintsFromAsg: taint tag value `<value>:<Effect>`; managed node
group cache via DescribeNodegroup).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from arc_eks.config.teams import DockerMode, ResolvedPool

# Every node the program creates carries its role: runners (any isolation class) or system.
RUNNER_NODE_LABEL_KEY = "arc-eks.io/node-role"
RUNNER_NODE_LABEL_VALUE = "runners"

ISOLATION_KEY = "arc-eks.io/isolation"
SYSTEM_CLASS = "system"
STANDARD_CLASS = "standard"
PRIVILEGED_CLASS = "privileged"
SYSTEM_NODE_ROLE = "system"
# Marks the node groups whose nodes may run privileged containers (the policy pack reads it).
PRIVILEGED_NODES_LABEL = "arc-eks.io/privileged-pods"
TAINT_EFFECT = "NoSchedule"
# The EKS API spells taint effects in upper snake case.
EKS_TAINT_EFFECT = "NO_SCHEDULE"
CA_LABEL_TAG = "k8s.io/cluster-autoscaler/node-template/label/"
CA_TAINT_TAG = "k8s.io/cluster-autoscaler/node-template/taint/"

PrivilegedIsolation = Literal["perTeam", "shared"]


def isolation_class(pool: ResolvedPool, privileged_isolation: PrivilegedIsolation) -> str:
    """The class (node group) a pool's runner pods run on."""
    if pool.spec.docker != DockerMode.DIND:
        return STANDARD_CLASS
    if privileged_isolation == "shared":
        return PRIVILEGED_CLASS
    return f"{PRIVILEGED_CLASS}-{pool.team}"


def node_selector(isolation: str) -> dict[str, str]:
    return {ISOLATION_KEY: isolation}


def tolerations(isolation: str) -> list[dict[str, Any]]:
    """Exactly the runner class's taint: no `operator: Exists`, no other class."""
    return [{"key": ISOLATION_KEY, "operator": "Equal", "value": isolation, "effect": TAINT_EFFECT}]


@dataclass(frozen=True)
class Placement:
    """Where a pool's runner pods (and, in kubernetes mode, its job pods) go."""

    isolation: str
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]


def placement(pool: ResolvedPool, privileged_isolation: PrivilegedIsolation) -> Placement:
    isolation = isolation_class(pool, privileged_isolation)
    return Placement(isolation, node_selector(isolation), tolerations(isolation))


@dataclass(frozen=True)
class RunnerNodeGroupPlan:
    """One tainted runner node group."""

    isolation: str
    privileged: bool
    teams: tuple[str, ...]
    """Teams whose pools run here (documentation and review output)."""
    max_size: int

    @property
    def labels(self) -> dict[str, str]:
        labels = {RUNNER_NODE_LABEL_KEY: RUNNER_NODE_LABEL_VALUE, ISOLATION_KEY: self.isolation}
        if self.privileged:
            labels[PRIVILEGED_NODES_LABEL] = "true"
        return labels

    @property
    def taint(self) -> dict[str, str]:
        """As `aws.eks.NodeGroupTaintArgs` takes it."""
        return {"key": ISOLATION_KEY, "value": self.isolation, "effect": EKS_TAINT_EFFECT}

    def autoscaler_tags(self) -> dict[str, str]:
        """The node-template tags cluster-autoscaler reads from the group's ASG when it has no
        node: every label, and the taint as `<value>:<Effect>`."""
        tags = {f"{CA_LABEL_TAG}{key}": value for key, value in self.labels.items()}
        tags[f"{CA_TAINT_TAG}{ISOLATION_KEY}"] = f"{self.isolation}:{TAINT_EFFECT}"
        return tags


def plan_runner_node_groups(
    pools: Iterable[ResolvedPool], *, privileged_isolation: PrivilegedIsolation, max_size: int
) -> list[RunnerNodeGroupPlan]:
    """One node group per isolation class some pool of this stack uses, in a stable order."""
    teams: dict[str, set[str]] = {}
    for pool in pools:
        teams.setdefault(isolation_class(pool, privileged_isolation), set()).add(pool.team)
    return [
        RunnerNodeGroupPlan(
            isolation=isolation,
            privileged=isolation != STANDARD_CLASS,
            teams=tuple(sorted(members)),
            max_size=max_size,
        )
        for isolation, members in sorted(teams.items())
    ]


def system_node_labels(extra: dict[str, str]) -> dict[str, str]:
    """Labels of the system node group: the platform's own extra labels, then its role."""
    return {**extra, RUNNER_NODE_LABEL_KEY: SYSTEM_NODE_ROLE, ISOLATION_KEY: SYSTEM_CLASS}
