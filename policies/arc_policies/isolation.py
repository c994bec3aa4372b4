"""Isolation between pools: node classes, privileged placement, default-deny, container hooks RBAC.

- Runner pods select their isolation class's node group and tolerate exactly its taint; dind
  (privileged) pods only privileged classes, unprivileged pods never those nor the system nodes.
- A privileged container may only be placed on node groups marked for it.
- Every runner namespace has a default-deny NetworkPolicy, and none of its policies opens ingress,
  all egress, or the node metadata address.
- Roles in runner namespaces grant no more than the runner container hooks check for (the
  scale-set controller's manager Role no more than the chart gives it), and no binding there hands
  a ClusterRole or the namespace's default ServiceAccount any rights.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, StackResource, StackRule, as_list, get, show
from .nodes import AWS_NODE_GROUP, EKS_MANAGED_NODE_GROUP
from .stack import group_fits
from .workloads import RUNNER_KINDS, WORKLOAD_KINDS, containers, lifted, pod_spec

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
TEAM_LABEL = "arc-eks.io/team"
# A scale set's runners (gha-runner-scale-set) live in its namespace like ARC's legacy runners.
AUTOSCALING_RUNNER_SET = "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"
IMDS = ipaddress.ip_address("169.254.169.254")


def _privileged(typ: str, spec: Any, base: str) -> list[str]:
    """Containers that are privileged or lifted towards the node short of it (an added
    capability beyond Pod Security baseline's, an unmasked /proc): both belong on privileged
    classes only."""
    return [str(c.name) for c in containers(typ, spec, base) if lifted(c.security_context)]


# --- runner pods carry their class's selector and toleration ------------------------------------


def check_runner_class(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    base, spec = pod_spec(typ, props)
    if not isinstance(spec, dict):
        return
    key = config["isolationKey"]
    selector = get(spec, "nodeSelector")
    tolerations = get(spec, "tolerations")
    if selector is UNKNOWN or tolerations is UNKNOWN:
        return
    isolation = get(selector, key)
    if not isinstance(isolation, str) or not isolation:
        yield Finding(
            f"{base}.nodeSelector",
            f"{show(selector)} selects no isolation class ({key}): the pod may land on any "
            "untainted node, the system nodes included",
        )
        return
    own = [
        t
        for t in as_list(tolerations)
        if get(t, "key") == key
        and get(t, "operator") in (None, "", "Equal")  # unset or empty: Equal, the API's default
        and get(t, "value") == isolation
        and get(t, "effect") == "NoSchedule"
    ]
    if not own:
        yield Finding(
            f"{base}.tolerations",
            f"no toleration for its class's taint {key}={isolation}:NoSchedule, so it never "
            "schedules on its node group",
        )
    for index, toleration in enumerate(as_list(tolerations)):
        if toleration in own:
            continue
        t_key = get(toleration, "key")
        if t_key in (None, "", key):
            yield Finding(
                f"{base}.tolerations[{index}]",
                f"{show(toleration)} tolerates other isolation classes' taints",
            )
    if any(get(c.security_context, "privileged") is UNKNOWN for c in containers(typ, spec, base)):
        return  # whether it is privileged is only known at update time
    privileged = _privileged(typ, spec, base)
    prefix = config["privilegedClassPrefix"]
    if privileged and not isolation.startswith(prefix):
        yield Finding(
            f"{base}.nodeSelector.{key}",
            f"{isolation!r} for a pod with privileged containers {privileged}: they belong on a "
            f"{prefix}* class of their own",
        )
    if not privileged and (isolation.startswith(prefix) or isolation == config["systemClass"]):
        yield Finding(
            f"{base}.nodeSelector.{key}",
            f"{isolation!r} for an unprivileged runner: it would share nodes with privileged "
            "jobs (or the platform's own pods)",
        )


RUNNER_CLASS = Rule(
    name="arc-runner-pod-isolation-class",
    description="Every runner pod selects its isolation class's node group (nodeSelector "
    "arc-eks.io/isolation) and tolerates exactly that class's taint; privileged (dind) runners "
    "use a privileged class, unprivileged runners never a privileged class or the system nodes "
    "(an added capability beyond Pod Security baseline's or procMount Unmasked counts as "
    "privileged).",
    remediation="let the package place pools (builders/node_groups.py placement); never add "
    "tolerations with operator Exists or for another class",
    resource_types=RUNNER_KINDS,
    check=check_runner_class,
    config={
        "isolationKey": {
            "type": "string",
            "default": "arc-eks.io/isolation",
            "description": "Node label and taint key of the isolation classes.",
        },
        "privilegedClassPrefix": {
            "type": "string",
            "default": "privileged",
            "description": "Classes whose node groups may run privileged containers start so.",
        },
        "systemClass": {
            "type": "string",
            "default": "system",
            "description": "The system node group's class: no runner pod may select it.",
        },
    },
    severity=Severity.CRITICAL,
)


# --- privileged containers only on node groups marked for them -----------------------------------


def _node_groups(resources: list[StackResource]) -> list[StackResource]:
    components = [r for r in resources if r.type == EKS_MANAGED_NODE_GROUP]
    raw = [
        r for r in resources if r.type == AWS_NODE_GROUP and r.parent_type != EKS_MANAGED_NODE_GROUP
    ]
    return components + raw


def check_privileged_placement(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    groups = _node_groups(resources)
    if not groups:
        return
    label, value = config["privilegedNodesLabel"], config["privilegedNodesValue"]
    for resource in resources:
        if resource.type not in WORKLOAD_KINDS:
            continue
        base, spec = pod_spec(resource.type, resource.props)
        if not isinstance(spec, dict):
            continue
        privileged = _privileged(resource.type, spec, base)
        if not privileged:
            continue
        if get(spec, "nodeSelector") is UNKNOWN:
            continue  # where it may be scheduled is only known at update time
        fits = [(g, group_fits(spec, g)) for g in groups]
        if any(f is None for _, f in fits):
            continue
        unmarked = [g for g, f in fits if f and get(g.props, "labels", label) != value]
        if unmarked:
            names = ", ".join(f"{g.type} '{g.name}'" for g in unmarked)
            yield (
                resource.urn,
                f"{resource.type} '{resource.name}': privileged containers {privileged} can be "
                f"scheduled on node groups not marked {label}={value} ({names}): a privileged "
                "container is root on its node and reaches every pod there",
            )


PRIVILEGED_PLACEMENT = StackRule(
    name="kubernetes-privileged-only-on-marked-node-groups",
    description="A pod with a privileged container (or one adding a capability beyond Pod "
    "Security baseline's, or unmasking /proc) can only be scheduled (by its nodeSelector "
    "and tolerations) on node groups labelled arc-eks.io/privileged-pods=true, never on the "
    "system nodes or the unprivileged runners' nodes.",
    remediation="give the pool docker: dind so the package places it on its team's privileged "
    "node group; never run privileged containers elsewhere",
    check=check_privileged_placement,
    config={
        "privilegedNodesLabel": {
            "type": "string",
            "default": "arc-eks.io/privileged-pods",
            "description": "Node group label that marks nodes for privileged pods.",
        },
        "privilegedNodesValue": {
            "type": "string",
            "default": "true",
            "description": "Its value.",
        },
    },
    severity=Severity.CRITICAL,
)


# --- runner namespaces are default-deny -------------------------------------------------------------


def _namespace_of(resource: StackResource) -> str:
    namespace = get(resource.props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def _runner_namespaces(resources: list[StackResource]) -> dict[str, str]:
    """Namespace -> the URN to report on: namespaces holding runners (legacy ARC or a scale set)
    or labelled for a team."""
    found: dict[str, str] = {}
    for resource in resources:
        if resource.type == NAMESPACE and isinstance(
            get(resource.props, "metadata", "labels", TEAM_LABEL), str
        ):
            name = get(resource.props, "metadata", "name")
            if isinstance(name, str):
                found[name] = resource.urn
    for resource in resources:
        if resource.type in RUNNER_KINDS or resource.type == AUTOSCALING_RUNNER_SET:
            found.setdefault(_namespace_of(resource), resource.urn)
    return found


def _selects_all(policy: StackResource) -> bool:
    selector = get(policy.props, "spec", "podSelector")
    return isinstance(selector, dict) and not any(selector.get(k) for k in selector)


def _is_default_deny(policy: StackResource) -> bool:
    types = get(policy.props, "spec", "policyTypes")
    return (
        _selects_all(policy)
        and isinstance(types, list)
        and {"Ingress", "Egress"} <= set(types)
        and not get(policy.props, "spec", "ingress")
        and not get(policy.props, "spec", "egress")
    )


def _reaches_imds(rule: Any) -> bool:
    peers = get(rule, "to")
    if not peers:
        return True  # no `to`: every destination
    for peer in as_list(peers):
        block = get(peer, "ipBlock")
        if not isinstance(block, dict):
            continue
        try:
            # strict=False: the API server accepts host bits (10.1.2.3/0 is every address).
            if IMDS in ipaddress.ip_network(str(block.get("cidr")), strict=False) and not any(
                IMDS in ipaddress.ip_network(str(e), strict=False)
                for e in as_list(block.get("except"))
            ):
                return True
        except ValueError:
            continue
    return False


def _pending(policy: StackResource) -> bool:
    """Whether what the policy selects, denies or admits is only known at update time."""
    spec = get(policy.props, "spec")
    return spec is UNKNOWN or any(
        get(spec, key) is UNKNOWN for key in ("podSelector", "policyTypes", "ingress", "egress")
    )


def check_default_deny(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    namespaces = _runner_namespaces(resources)
    policies: dict[str, list[StackResource]] = {}
    for resource in resources:
        if resource.type == NETWORK_POLICY:
            policies.setdefault(_namespace_of(resource), []).append(resource)
    for namespace, urn in sorted(namespaces.items()):
        present = policies.get(namespace, [])
        if any(_pending(p) for p in present):
            continue
        if not any(_is_default_deny(p) for p in present):
            yield (
                urn,
                f"runner namespace {namespace!r} has no default-deny NetworkPolicy (podSelector "
                "{}, policyTypes [Ingress, Egress], no rules): its pods reach, and are reachable "
                "from, every pod in the cluster",
            )
        for policy in present:
            spec = get(policy.props, "spec")
            for index, rule in enumerate(as_list(get(spec, "ingress"))):
                yield (
                    policy.urn,
                    f"NetworkPolicy '{policy.name}' in runner namespace {namespace!r}: "
                    f"spec.ingress[{index}] {show(rule)} lets traffic in to runner pods",
                )
            for index, rule in enumerate(as_list(get(spec, "egress"))):
                if _reaches_imds(rule):
                    yield (
                        policy.urn,
                        f"NetworkPolicy '{policy.name}' in runner namespace {namespace!r}: "
                        f"spec.egress[{index}] {show(rule)} reaches the node metadata address "
                        f"{IMDS} (every destination, or an ipBlock not excepting it)",
                    )


DEFAULT_DENY = StackRule(
    name="kubernetes-runner-namespace-default-deny",
    description="Every runner namespace (one holding runners or a scale set, or labelled "
    "arc-eks.io/team) has a default-deny NetworkPolicy, and none of its NetworkPolicies admits "
    "ingress or egress to every destination or to the node metadata address 169.254.169.254.",
    remediation="let the package create the namespace (RunnerTeam) with its NetworkPolicies "
    "(builders/network_policy.py); allow egress with ipBlock 0.0.0.0/0 except private and "
    "link-local ranges",
    check=check_default_deny,
    severity=Severity.HIGH,
)


# --- the container hooks' Role and what is bound in runner namespaces ------------------------------

# (apiGroup, resource) -> verbs the runner container hooks check for (runner-container-hooks 0.8.1,
# requiredPermissions in packages/k8s/src/k8s/index.ts).
_HOOKS_DEFAULT = {
    "pods": ["get", "list", "create", "delete"],
    "pods/exec": ["get", "create"],
    "pods/log": ["get", "list", "watch"],
    "secrets": ["get", "list", "create", "delete"],
}


def _binding_findings(props: dict[str, Any], namespace: str) -> Iterator[Finding]:
    ref_kind = get(props, "roleRef", "kind")
    if ref_kind == "ClusterRole":
        yield Finding(
            "roleRef.kind",
            f"ClusterRole {show(get(props, 'roleRef', 'name'))} bound in runner namespace "
            f"{namespace!r}: its rights are not reviewed with the hooks' Role",
        )
    for index, subject in enumerate(as_list(get(props, "subjects"))):
        if get(subject, "kind") == "ServiceAccount" and get(subject, "name") == "default":
            yield Finding(
                f"subjects[{index}]",
                "the namespace's default ServiceAccount, which kubernetes-mode job pods run "
                "as: it must have no rights",
            )
        if get(subject, "kind") == "Group":
            yield Finding(
                f"subjects[{index}]",
                f"group {show(get(subject, 'name'))}: only the pool's own ServiceAccount",
            )


# The gha-runner-scale-set chart puts the scale-set controller's own Role (manager_role.yaml:
# pods, secrets, ServiceAccounts, Roles and RoleBindings of the scale set) in the runner namespace,
# bound by its manager RoleBinding to the controller's ServiceAccount in the controller's namespace
# only (that binding is still checked). It is not the hooks' Role: nothing in the pool is bound to it.
SCALE_SET_MANAGER_ROLE_LABELS = {
    "app.kubernetes.io/part-of": "gha-rs",
    "app.kubernetes.io/component": "manager-role",
}
# Anyone can put those labels on a Role, so a Role carrying them may grant no more than the chart's
# manager Role does: (apiGroup, resource) -> verbs, from gha-runner-scale-set 0.14.2
# templates/manager_role.yaml (configmaps get only with githubServerTLS).
_RBAC_GROUP = "rbac.authorization.k8s.io"
_SCALE_SET_MANAGER_RULES = {
    ("", "pods"): ("create", "delete", "get"),
    ("", "pods/status"): ("get",),
    ("", "secrets"): ("create", "delete", "get", "list", "patch", "update"),
    ("", "serviceaccounts"): ("create", "delete", "get", "list", "patch", "update"),
    ("", "configmaps"): ("get",),
    (_RBAC_GROUP, "rolebindings"): ("create", "delete", "get", "patch", "update"),
    (_RBAC_GROUP, "roles"): ("create", "delete", "get", "patch", "update"),
}


def _is_scale_set_manager_role(props: dict[str, Any]) -> bool:
    labels = get(props, "metadata", "labels")
    return isinstance(labels, Mapping) and all(
        labels.get(key) == value for key, value in SCALE_SET_MANAGER_ROLE_LABELS.items()
    )


def _known_rules(props: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key path, rule) of each of a Role's rules known at preview."""
    for index, rule in enumerate(as_list(get(props, "rules"))):
        if rule is not UNKNOWN:
            yield f"rules[{index}]", rule


def _non_resource_urls(where: str, rule: Any) -> Iterator[Finding]:
    if get(rule, "nonResourceURLs"):
        yield Finding(f"{where}.nonResourceURLs", "non-resource URLs are never needed")


def _manager_role_findings(props: dict[str, Any]) -> Iterator[Finding]:
    """What a Role labelled as the chart's manager Role grants beyond that Role."""
    for where, rule in _known_rules(props):
        yield from _non_resource_urls(where, rule)
        verbs = as_list(get(rule, "verbs"))
        for group in as_list(get(rule, "apiGroups")):
            for resource in as_list(get(rule, "resources")):
                granted = _SCALE_SET_MANAGER_RULES.get((str(group), str(resource)))
                if granted is None:
                    yield Finding(
                        f"{where}.resources",
                        f"{resource!r} in API group {group!r}: labelled as the scale-set "
                        "manager Role, which grants no such thing",
                    )
                    continue
                extra = [v for v in verbs if v not in granted]
                if extra:
                    yield Finding(
                        f"{where}.verbs",
                        f"{extra} on {resource!r}: labelled as the scale-set manager Role, which "
                        f"grants only {list(granted)}",
                    )


def check_hooks_rbac(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    namespace = get(props, "metadata", "namespace")
    if not isinstance(namespace, str) or not any(
        fnmatch.fnmatchcase(namespace, p) for p in config["runnerNamespaces"]
    ):
        return
    if typ == ROLE_BINDING:
        yield from _binding_findings(props, namespace)
        return
    if _is_scale_set_manager_role(props):
        yield from _manager_role_findings(props)
        return
    allowed: Mapping[str, Any] = config["allowedRules"]
    for where, rule in _known_rules(props):
        yield from _non_resource_urls(where, rule)
        groups = as_list(get(rule, "apiGroups"))
        if groups != [""]:
            yield Finding(
                f"{where}.apiGroups", f"{show(groups)}: the hooks only use the core group"
            )
        verbs = as_list(get(rule, "verbs"))
        for resource in as_list(get(rule, "resources")):
            permitted = allowed.get(str(resource))
            if permitted is None:
                yield Finding(f"{where}.resources", f"{resource!r} is not one the hooks use")
                continue
            extra = [v for v in verbs if v not in permitted]
            if extra:
                yield Finding(
                    f"{where}.verbs",
                    f"{extra} on {resource!r}: the hooks need only {list(permitted)}",
                )


HOOKS_RBAC = Rule(
    name="kubernetes-container-hooks-role-least-privilege",
    description="Roles in runner namespaces grant no more than the runner container hooks check "
    "for (pods get/list/create/delete, pods/exec get/create, pods/log get/list/watch, secrets "
    "get/list/create/delete; core group only, no wildcards); RoleBindings there bind no "
    "ClusterRole, no group and never the default ServiceAccount. The scale-set controller's "
    "manager Role, which the gha-runner-scale-set chart puts there, is not the hooks' Role: a "
    "Role labelled as it grants no more than the chart's manager Role.",
    remediation="use the package's container_hooks_rbac; job pods run as the default "
    "ServiceAccount, which must keep no rights",
    resource_types=frozenset({ROLE, ROLE_BINDING}),
    check=check_hooks_rbac,
    config={
        "runnerNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["runners-*"],
            "description": "Glob patterns of the runner namespaces.",
        },
        "allowedRules": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": _HOOKS_DEFAULT,
            "description": "Core-group resource -> verbs a Role in a runner namespace may grant.",
        },
    },
    severity=Severity.HIGH,
)

RULES = (RUNNER_CLASS, HOOKS_RBAC)
STACK_RULES = (PRIVILEGED_PLACEMENT, DEFAULT_DENY)
