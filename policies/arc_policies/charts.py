"""What the Helm charts create: the objects of each release, rendered from the pinned chart.

A Helm release is one resource to the engine; the objects its chart creates reach the pack only
from the offline review (`make review`), which renders every release with Helm's engine and hands
each object to the rules as a child of its release, named `<release>/<Kind>/<name>`. Stack rules
see that parent; in a real `pulumi preview` these rules find no rendered objects and report nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, StackResource, StackRule, as_list, as_number, get, is_true, show
from .workloads import WORKLOAD_KINDS, elevated, pod_containers, pod_spec

RELEASE_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SPREAD_KEYS = ("kubernetes.io/hostname", "topology.kubernetes.io/zone")


def chart_objects(resources: list[StackResource]) -> Iterator[StackResource]:
    """The objects rendered from a Helm release (children of a release resource)."""
    return (r for r in resources if r.parent_type in RELEASE_TYPES)


def _selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a label selector (matchLabels only, or matchExpressions In) matches the labels."""
    if not isinstance(selector, dict):
        return False
    match = get(selector, "matchLabels") or {}
    if not isinstance(match, dict) or any(labels.get(k) != v for k, v in match.items()):
        return False
    for expression in as_list(get(selector, "matchExpressions")):
        key, operator = get(expression, "key"), get(expression, "operator")
        if operator != "In" or labels.get(key) not in as_list(get(expression, "values")):
            return False
    return bool(match) or bool(as_list(get(selector, "matchExpressions")))


def _spread(spec: Any, labels: Mapping[str, Any]) -> bool:
    """Replicas repel each other: an anti-affinity term or a spread constraint over the node or
    zone whose selector matches the pods' own labels."""
    anti = get(spec, "affinity", "podAntiAffinity") or {}
    terms = [
        *as_list(get(anti, "requiredDuringSchedulingIgnoredDuringExecution")),
        *(
            get(t, "podAffinityTerm")
            for t in as_list(get(anti, "preferredDuringSchedulingIgnoredDuringExecution"))
        ),
    ]
    terms += as_list(get(spec, "topologySpreadConstraints"))
    return any(
        get(term, "topologyKey") in SPREAD_KEYS and _selects(get(term, "labelSelector"), labels)
        for term in terms
    )


def check_controllers_spread(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    wanted = [str(p) for p in config["deployments"]]
    minimum = as_number(config["minReplicas"]) or 1
    for resource in chart_objects(resources):
        release, _, name = resource.name.partition(f"/{DEPLOYMENT.rsplit(':', 1)[-1]}/")
        if resource.type != DEPLOYMENT or not any(
            fnmatch.fnmatchcase(f"{release}/{name}", p) for p in wanted
        ):
            continue
        props = resource.props
        replicas = get(props, "spec", "replicas", default=1)
        if replicas is UNKNOWN:
            continue
        where = f"{resource.name}"
        count = as_number(replicas) or 0
        if count < minimum:
            yield resource.urn, f"{where}: spec.replicas is {count:g}, below {minimum:g}"
        base, spec = pod_spec(resource.type, props)
        labels = get(props, "spec", "template", "metadata", "labels") or {}
        if count > 1 and not _spread(spec, labels if isinstance(labels, dict) else {}):
            yield (
                resource.urn,
                f"{where}: {count:g} replicas but {base} has no pod anti-affinity or "
                f"topology spread over {' or '.join(SPREAD_KEYS)} matching its own labels: "
                "they may all land on one node",
            )
        for container in pod_containers(resource.type, props):
            if ".initContainers[" in container.path:
                continue
            requests = get(container.resources, "requests")
            missing = [r for r in ("cpu", "memory") if get(requests, r) in (None, "")]
            if missing and requests is not UNKNOWN:
                yield (
                    resource.urn,
                    f"{where}: container {show(container.name)} requests no {missing} "
                    f"({container.path}.resources.requests)",
                )


CONTROLLERS_SPREAD = StackRule(
    name="arc-controllers-spread-with-resources",
    description="The ARC controller, its GitHub webhook server and the scale-set controller run "
    "several replicas, spread over nodes (pod anti-affinity or topology spread matching their "
    "own labels), and every container requests CPU and memory: one node lost, or one busy node, "
    "must not stop scaling.",
    remediation="set replicaCount / githubWebhookServer.replicaCount, affinity and resources in "
    "the ARC values (arc_eks/builders/helm_values.py) or the scale-set controller's values "
    "(arc_eks/builders/scale_set.py; replicas from arc-eks:scaleSets.controllerReplicas)",
    check=check_controllers_spread,
    config={
        "deployments": {
            "type": "array",
            "items": {"type": "string"},
            "default": [
                "actions-runner-controller/actions-runner-controller",
                "actions-runner-controller/actions-runner-controller-github-webhook-server",
                # The gha-runner-scale-set-controller's Deployment is named after its release
                # (arc_eks.builders.scale_set.SCALE_SET_CONTROLLER_RELEASE; the chart's fullname).
                "gha-rs-controller/gha-rs-controller",
            ],
            "description": "Glob patterns of `<release>/<Deployment name>` the rule applies to.",
        },
        "minReplicas": {
            "type": "integer",
            "minimum": 1,
            "default": 2,
            "description": "The fewest replicas each of those Deployments may run.",
        },
    },
    severity=Severity.MEDIUM,
)


def _privilege_problems(resource: StackResource) -> Iterator[str]:
    base, spec = pod_spec(resource.type, resource.props)
    if not isinstance(spec, dict):
        return
    for container in pod_containers(resource.type, resource.props):
        name = show(container.name)
        if is_true(get(container.security_context, "privileged")):
            yield f"{container.path}.securityContext.privileged: container {name} is privileged"
        for path, why in elevated(container.security_context, f"{container.path}.securityContext"):
            yield f"{path}: container {name} {why}"
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if is_true(get(spec, field)):
            yield f"{base}.{field}: the pod shares the node's namespace"
    for index, volume in enumerate(as_list(get(spec, "volumes"))):
        host_path = get(volume, "hostPath")
        if isinstance(host_path, dict):
            target = show(get(host_path, "path"))
            yield f"{base}.volumes[{index}].hostPath: mounts the node's {target}"


def check_chart_privileges(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    allowed = {get(entry, "object") for entry in as_list(config["allowed"])}
    for resource in chart_objects(resources):
        if resource.type not in WORKLOAD_KINDS or resource.name in allowed:
            continue
        for problem in _privilege_problems(resource):
            yield resource.urn, f"{resource.name}: {problem}"


CHART_PRIVILEGES = StackRule(
    name="kubernetes-helm-chart-no-privilege-or-host-access",
    description="Nothing a Helm chart creates runs privileged (or adds a capability beyond Pod "
    "Security baseline's, or unmasks /proc), mounts a node path (hostPath) or "
    "shares the node's network, PID or IPC namespace, unless that object is allowlisted with a "
    "reason: a chart upgrade must not quietly hand a pod the node.",
    remediation="set the chart values that drop the privilege, or allowlist the object in the "
    'policy config: "allowed": [{"object": "<release>/<Kind>/<name>", "reason": "..."}]',
    check=check_chart_privileges,
    config={
        "allowed": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "object": {"type": "string", "minLength": 1},
                    "reason": {"type": "string", "minLength": 10},
                },
                "required": ["object", "reason"],
                "additionalProperties": False,
            },
            "default": [],
            "description": "Rendered objects (`<release>/<Kind>/<name>`) allowed privileges, "
            "each with the reason it needs them.",
        }
    },
    severity=Severity.HIGH,
)

STACK_RULES = (CONTROLLERS_SPREAD, CHART_PRIVILEGES)
