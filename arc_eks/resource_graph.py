"""What waits for what: the deployment order of a program's resources, from what it registered.

Pure analysis over the resources an offline run captured (`arc_eks.review.offline`): no Pulumi runtime.
A resource waits for

- every URN in its `dependencies` (explicit `depends_on` plus the resources its inputs came from;
  the Python SDK has already replaced a local component there by the custom resources and remote
  components below it, so a component listed here is a remote one, e.g. `eks:index:*`, whose
  registration only completes once all its children exist);
- its provider (the SDK resolves `urn::id` of the provider before it registers the resource, and
  the provider's id is only known once the provider, and so everything it waits for, exists);
- its parent when the parent is a custom resource (the SDK awaits the parent's URN, known once the
  parent is registered). Children of components wait for nothing through their parent.

The checks here are what `tests/test_deploy_order.py` and `make review` run on the whole program.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

# Everything that puts nodes into the cluster. A new kind of node group must be listed here.
NODE_GROUP_TYPES = frozenset(
    {
        "eks:index:ManagedNodeGroup",
        "eks:index:NodeGroup",
        "eks:index:NodeGroupV2",
        "aws:eks/nodeGroup:NodeGroup",
    }
)
# EKS add-ons whose pods must schedule before EKS reports them ACTIVE (registered by this program;
# vpc-cni and kube-proxy are DaemonSets created inside the pulumi-eks cluster component).
NODE_BOUND_TYPES = frozenset({"aws:eks/addon:Addon"})
KUBERNETES_PREFIX = "kubernetes:"

# Ranking weights of the resources that take long to become ready (a control plane, then nodes
# joining, then a NAT gateway, an awaited Helm release or an EKS add-on becoming ACTIVE). Only
# used to pick and measure the critical path: they order the steps, they do not predict times.
# Every other resource weighs nothing (ties are broken by the number of resources).
SLOW_WEIGHTS: dict[str, int] = {
    "eks:index:Cluster": 8,
    **dict.fromkeys(NODE_GROUP_TYPES, 4),
    "aws:ec2/natGateway:NatGateway": 2,
    "kubernetes:helm.sh/v3:Release": 2,
    "aws:eks/addon:Addon": 2,
}


class Registered(Protocol):
    """The fields of a captured resource the graph reads (`arc_eks.review.offline.CapturedResource` has them)."""

    @property
    def urn(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def custom(self) -> bool: ...
    @property
    def parent(self) -> str: ...
    @property
    def dependencies(self) -> list[str]: ...
    @property
    def provider(self) -> str: ...


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    custom: bool

    def label(self) -> str:
        return f"{self.type} {self.name}"


@dataclass
class ResourceGraph:
    """Resources and the edges "waits for" between them (URN -> URNs)."""

    nodes: dict[str, Node]
    waits_for: dict[str, set[str]]
    children: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, resources: Iterable[Registered]) -> ResourceGraph:
        captured = list(resources)
        nodes = {r.urn: Node(r.urn, r.type, r.name, r.custom) for r in captured}
        children: dict[str, set[str]] = {}
        for r in captured:
            if r.parent:
                children.setdefault(r.parent, set()).add(r.urn)
        waits: dict[str, set[str]] = {}
        for r in captured:
            edges = set(r.dependencies)
            if r.provider:
                edges.add(_provider_urn(r.provider))
            parent = nodes.get(r.parent)
            if parent is not None and parent.custom:
                edges.add(parent.urn)
            waits[r.urn] = {e for e in edges if e in nodes and e != r.urn}
        return cls(nodes=nodes, waits_for=waits, children=children)

    def descendants(self, urn: str) -> set[str]:
        out: set[str] = set()
        stack = [urn]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def direct(self, urn: str) -> set[str]:
        """What `urn` waits for directly; waiting for a component is waiting for all below it."""
        out: set[str] = set()
        for dep in self.waits_for.get(urn, ()):
            out.add(dep)
            if not self.nodes[dep].custom:
                out |= self.descendants(dep)
        return out

    def ancestors(self, urn: str) -> set[str]:
        """Everything `urn` transitively waits for."""
        seen: set[str] = set()
        stack = [urn]
        while stack:
            for dep in self.direct(stack.pop()):
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen

    def of_types(self, types: Iterable[str]) -> list[Node]:
        wanted = set(types)
        return sorted((n for n in self.nodes.values() if n.type in wanted), key=lambda n: n.urn)

    def critical_path(self) -> list[Node]:
        """The chain of resources that must be created one after the other with the largest
        total weight (`SLOW_WEIGHTS`), then the most resources; local components do not count."""
        best: dict[str, tuple[tuple[int, int], str | None]] = {}
        for urn in self._topological():
            prev = max(self.direct(urn), key=lambda d: (best[d][0], d), default=None)
            (weight, count) = best[prev][0] if prev is not None else (0, 0)
            if not self._is_local_component(urn):
                weight += SLOW_WEIGHTS.get(self.nodes[urn].type, 0)
                count += 1
            best[urn] = ((weight, count), prev)
        if not best:
            return []
        end: str | None = max(best, key=lambda u: (best[u][0], u))
        path: list[Node] = []
        while end is not None:
            if not self._is_local_component(end):
                path.append(self.nodes[end])
            end = best[end][1]
        return list(reversed(path))

    def _is_local_component(self, urn: str) -> bool:
        node = self.nodes[urn]
        return not node.custom and not node.type.startswith("eks:index:")

    def _topological(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done
        for root in sorted(self.nodes):
            if root in state:
                continue
            stack: list[tuple[str, bool]] = [(root, False)]
            while stack:
                urn, expanded = stack.pop()
                if expanded:
                    state[urn] = 2
                    order.append(urn)
                    continue
                if state.get(urn) == 2:
                    continue
                if state.get(urn) == 1:
                    raise ValueError(f"dependency cycle through {urn}")
                state[urn] = 1
                stack.append((urn, True))
                for dep in sorted(self.direct(urn)):
                    if state.get(dep) != 2:
                        if state.get(dep) == 1:
                            raise ValueError(f"dependency cycle through {dep}")
                        stack.append((dep, False))
        return order


def _provider_urn(reference: str) -> str:
    """`urn:pulumi:...::name::id` -> the URN (the id is the last `::` part)."""
    return reference.rsplit("::", 1)[0]


@dataclass(frozen=True)
class OrderProblem:
    resource: Node
    missing: tuple[Node, ...]
    what: str = "node group(s)"

    def render(self) -> str:
        names = ", ".join(n.label() for n in self.missing)
        return f"{self.resource.label()} does not wait for {self.what}: {names}"


def in_cluster_order_problems(
    resources: Iterable[Registered],
    *,
    node_group_types: Iterable[str] = NODE_GROUP_TYPES,
    node_bound_types: Iterable[str] = NODE_BOUND_TYPES,
) -> list[OrderProblem]:
    """Every in-cluster resource (any `kubernetes:*` resource, and the EKS add-ons whose pods
    need nodes) that does not transitively wait for every node group."""
    graph = ResourceGraph.build(resources)
    groups = graph.of_types(node_group_types)
    bound = set(node_bound_types)
    problems = []
    for node in sorted(graph.nodes.values(), key=lambda n: n.urn):
        if not (node.type.startswith(KUBERNETES_PREFIX) or node.type in bound):
            continue
        before = graph.ancestors(node.urn)
        missing = tuple(g for g in groups if g.urn not in before)
        if missing:
            problems.append(OrderProblem(node, missing))
    return problems


# What a pull through the ECR cache needs (components.image_cache): the rules, the templates of
# the repositories they create, and the node role's import permission.
IMAGE_CACHE_TYPES = frozenset(
    {
        "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
        "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
    }
)
IMAGE_CACHE_COMPONENT = "arc-eks:registry:ImageCache"


def image_cache_order_problems(resources: Iterable[Registered]) -> list[OrderProblem]:
    """Every in-cluster resource that does not transitively wait for every part of the image
    cache (its rules, templates and the node role policy): a pod created earlier would ask ECR
    for an image whose rule does not exist yet. Empty when the stack has no cache."""
    captured = list(resources)
    graph = ResourceGraph.build(captured)
    components = {r.urn for r in captured if r.type == IMAGE_CACHE_COMPONENT}
    needed = [
        graph.nodes[r.urn]
        for r in captured
        if r.type in IMAGE_CACHE_TYPES
        or (r.type == "aws:iam/rolePolicy:RolePolicy" and r.parent in components)
    ]
    problems = []
    for node in sorted(graph.nodes.values(), key=lambda n: n.urn):
        if not node.type.startswith(KUBERNETES_PREFIX):
            continue
        before = graph.ancestors(node.urn)
        missing = tuple(n for n in needed if n.urn not in before)
        if missing:
            problems.append(OrderProblem(node, missing, what="the image cache"))
    return problems


def path_weight(path: Iterable[Node]) -> int:
    return sum(SLOW_WEIGHTS.get(node.type, 0) for node in path)


def describe_critical_path(resources: Iterable[Registered]) -> list[str]:
    """Lines for `make review`: the chain that bounds how long a first `pulumi up` takes, the
    slow steps marked with `*`."""
    path = ResourceGraph.build(resources).critical_path()
    slow = [n for n in path if n.type in SLOW_WEIGHTS]
    lines = [
        f"Critical path: {len(path)} resources one after the other, {len(slow)} slow "
        f"(weight {path_weight(path)}): " + " -> ".join(n.name for n in slow)
    ]
    lines += [f"  {'*' if node.type in SLOW_WEIGHTS else ' '} {node.label()}" for node in path]
    return lines
