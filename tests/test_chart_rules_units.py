"""The rules on what Helm charts create (policies/arc_policies/charts.py) on hand-built rendered
objects, each a child of its release as `make review` hands them to the pack
(`<release>/<Kind>/<name>`), shaped as the pinned charts render them (actions-runner-controller
0.23.7 templates/deployment.yaml and githubwebhook.deployment.yaml: containers manager and
kube-rbac-proxy, selector labels app.kubernetes.io/name and instance; gha-runner-scale-set-controller
0.14.2 templates/deployment.yaml: container manager, pod labels part-of/component/version beside the
selector labels): every workload kind, a problem in a later container, term, document or volume,
both release kinds, config keys and their schema, every boundary. Props wrapped as the engine
wraps them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arc_eks.builders.scale_set import SCALE_SET_CONTROLLER_NAMESPACE, SCALE_SET_CONTROLLER_RELEASE
from arc_eks.review import policies as review_policies
from policies.arc_policies import charts, registry
from policies.arc_policies.testing import (
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    Skipped,
    StackEntry,
    engine_props,
    policy_resources,
    run_stack_policy,
    urn_for,
)

POLICIES = {p.name: p for p in registry.build_policies()}
SPREAD = "arc-controllers-spread-with-resources"
PRIVILEGES = "kubernetes-helm-chart-no-privilege-or-host-access"
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ARC = "actions-runner-controller"
CONTROLLER = f"{ARC}/Deployment/{ARC}"
WEBHOOK = f"{ARC}/Deployment/{ARC}-github-webhook-server"
SCALE_SET = f"{SCALE_SET_CONTROLLER_RELEASE}/Deployment/{SCALE_SET_CONTROLLER_RELEASE}"
REQUESTS = {"cpu": "100m", "memory": "128Mi"}


def arc_labels(name: str = ARC) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": ARC}


def anti_affinity(labels: dict[str, Any], key: str = "kubernetes.io/hostname") -> dict[str, Any]:
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": key,
                        "labelSelector": {"matchLabels": dict(labels)},
                    },
                }
            ]
        }
    }


def arc_controller(name: str = ARC, replicas: Any = 2) -> dict[str, Any]:
    """The ARC controller Deployment as the chart renders it (manager + kube-rbac-proxy)."""
    labels = arc_labels(name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "actions-runner-system", "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": ARC,
                    "securityContext": {},
                    "containers": [
                        {
                            "name": "manager",
                            "image": "summerwind/actions-runner-controller:v0.27.6",
                            "args": ["--metrics-addr=127.0.0.1:8080"],
                            "resources": {"requests": dict(REQUESTS)},
                        },
                        {
                            "name": "kube-rbac-proxy",
                            "image": "quay.io/brancz/kube-rbac-proxy:v0.13.1",
                            "resources": {"requests": dict(REQUESTS)},
                        },
                    ],
                    "volumes": [
                        {"name": "secret", "secret": {"secretName": "controller-manager"}},
                        {
                            "name": "cert",
                            "secret": {"secretName": "actions-runner-controller-serving-cert"},
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                    "affinity": anti_affinity(labels),
                },
            },
        },
    }


def scale_set_controller(replicas: Any = 2) -> dict[str, Any]:
    """The gha-runner-scale-set-controller Deployment as the chart renders it."""
    selector = {
        "app.kubernetes.io/name": "gha-rs-controller",
        "app.kubernetes.io/namespace": SCALE_SET_CONTROLLER_NAMESPACE,
        "app.kubernetes.io/instance": SCALE_SET_CONTROLLER_RELEASE,
    }
    pod_labels = {
        "app.kubernetes.io/part-of": "gha-rs-controller",
        "app.kubernetes.io/component": "controller-manager",
        "app.kubernetes.io/version": "0.14.2",
        **selector,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": SCALE_SET_CONTROLLER_RELEASE,
            "namespace": SCALE_SET_CONTROLLER_NAMESPACE,
            "labels": {**selector, "app.kubernetes.io/part-of": "gha-rs-controller"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "annotations": {"kubectl.kubernetes.io/default-container": "manager"},
                    "labels": pod_labels,
                },
                "spec": {
                    "serviceAccountName": SCALE_SET_CONTROLLER_RELEASE,
                    "containers": [
                        {
                            "name": "manager",
                            "image": "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2",
                            "args": ["--auto-scaling-runner-set-only", "--enable-leader-election"],
                            "command": ["/manager"],
                            "resources": {
                                "requests": dict(REQUESTS),
                                "limits": {"memory": "512Mi"},
                            },
                            "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}],
                        }
                    ],
                    "terminationGracePeriodSeconds": 10,
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "affinity": anti_affinity(
                        {
                            "app.kubernetes.io/part-of": "gha-rs-controller",
                            "app.kubernetes.io/instance": SCALE_SET_CONTROLLER_RELEASE,
                        }
                    ),
                },
            },
        },
    }


def release_entry(release: str, typ: str = RELEASE) -> StackEntry:
    inputs = {"name": release, "chart": release, "version": "1.0.0", "values": {}}
    return StackEntry(typ, release, urn_for(typ, release), engine_props(inputs))


def child(release: StackEntry, typ: str, name: str, manifest: dict[str, Any]) -> StackEntry:
    """A rendered object the way `helm_render.captured` names and parents it."""
    return StackEntry(
        typ, name, f"{release.urn}$rendered::{name}", engine_props(manifest), release.urn
    )


def run(
    rule: str,
    objects: list[tuple[str, str, dict[str, Any]]],
    config: dict[str, Any] | None = None,
    release_type: str = RELEASE,
) -> list[str]:
    """`rule` over (type, `<release>/<Kind>/<name>`, manifest) objects, each under its release."""
    releases: dict[str, StackEntry] = {}
    entries: list[StackEntry] = []
    for typ, name, manifest in objects:
        release_name = name.split("/", 1)[0]
        if release_name not in releases:
            releases[release_name] = release_entry(release_name, release_type)
            entries.append(releases[release_name])
        entries.append(child(releases[release_name], typ, name, manifest))
    report = run_stack_policy(POLICIES[rule], policy_resources(entries), config)
    assert not [r for r in report if isinstance(r, Skipped)], report
    return [r.message for r in report]


def controllers() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (DEPLOYMENT, CONTROLLER, arc_controller()),
        (DEPLOYMENT, WEBHOOK, arc_controller(f"{ARC}-github-webhook-server")),
        (DEPLOYMENT, SCALE_SET, scale_set_controller()),
    ]


def pod(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def test_both_rules_are_stack_rules_of_the_pack() -> None:
    assert charts.CONTROLLERS_SPREAD in registry.STACK_RULES
    assert charts.CHART_PRIVILEGES in registry.STACK_RULES


# --- arc-controllers-spread-with-resources --------------------------------------------------------


def test_the_controllers_as_the_charts_render_them_pass() -> None:
    assert run(SPREAD, controllers()) == []
    assert run(SPREAD, controllers(), release_type=CHART_V4) == []


@pytest.mark.parametrize("name", [CONTROLLER, WEBHOOK, SCALE_SET])
def test_every_listed_controller_below_the_minimum(name: str) -> None:
    objects = controllers()
    for _, object_name, manifest in objects:
        if object_name == name:
            manifest["spec"]["replicas"] = 1
    (message,) = run(SPREAD, objects)
    assert message.startswith(f"{name}: spec.replicas is 1, below 2")


@pytest.mark.parametrize("release_type", [RELEASE, CHART_V4])
def test_both_release_kinds_parent_rendered_objects(release_type: str) -> None:
    (message,) = run(
        SPREAD, [(DEPLOYMENT, SCALE_SET, scale_set_controller(1))], release_type=release_type
    )
    assert SCALE_SET in message


def test_an_object_that_no_release_rendered_is_not_read() -> None:
    entries = [
        StackEntry(
            DEPLOYMENT,
            CONTROLLER,
            urn_for(DEPLOYMENT, "c"),
            engine_props(arc_controller(replicas=1)),
        )
    ]
    assert run_stack_policy(POLICIES[SPREAD], policy_resources(entries), {}) == []


def test_replicas_unset_is_the_kubernetes_default_of_one() -> None:
    manifest = arc_controller()
    del manifest["spec"]["replicas"]
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])
    assert "spec.replicas is 1, below 2" in message
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, arc_controller(replicas=0))])
    assert "spec.replicas is 0, below 2" in message


def test_unknown_replicas_are_not_read() -> None:
    manifest = arc_controller(replicas=UNKNOWN_NUMBER_VALUE)
    pod(manifest).pop("affinity")
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)]) == []


def test_a_controller_after_one_of_unknown_replicas_is_read() -> None:
    pending = arc_controller(replicas=UNKNOWN_NUMBER_VALUE)
    objects = [(DEPLOYMENT, CONTROLLER, pending), (DEPLOYMENT, WEBHOOK, arc_controller(replicas=1))]
    (message,) = run(SPREAD, objects)
    assert message.startswith(f"{WEBHOOK}: spec.replicas is 1, below 2")


def test_more_replicas_than_the_minimum_pass() -> None:
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, arc_controller(replicas=5))]) == []


def test_no_replicas_need_no_spread() -> None:
    manifest = arc_controller(replicas=0)
    pod(manifest).pop("affinity")
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])
    assert "spec.replicas is 0, below 2" in message


def test_the_minimum_comes_from_the_config_inclusive() -> None:
    single = arc_controller(replicas=1)
    pod(single).pop("affinity")  # one replica needs no spread
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, single)], {"minReplicas": 1}) == []
    three = [(DEPLOYMENT, CONTROLLER, arc_controller(replicas=3))]
    assert run(SPREAD, three, {"minReplicas": 3}) == []
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, arc_controller())], {"minReplicas": 3})
    assert "spec.replicas is 2, below 3" in message


def test_a_zero_minimum_reads_as_one() -> None:
    # The schema refuses 0 (make review checks the config first); the rule itself reads it as 1.
    single = arc_controller(replicas=1)
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, single)], {"minReplicas": 0}) == []
    none = arc_controller(replicas=0)
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, none)], {"minReplicas": 0})
    assert "spec.replicas is 0, below 1" in message


def test_the_deployments_come_from_the_config_as_globs() -> None:
    tool = arc_controller("tool", replicas=1)
    objects = [(DEPLOYMENT, "tools/Deployment/tool", tool)]
    assert run(SPREAD, objects) == []  # not listed by default
    (message,) = run(SPREAD, objects, {"deployments": ["tools/*"]})
    assert message.startswith("tools/Deployment/tool:")
    assert run(SPREAD, objects, {"deployments": ["tools/other", "other/*"]}) == []


@pytest.mark.parametrize(
    "kind", ["StatefulSet", "DaemonSet"]
)  # sorting after and before Deployment
def test_only_deployments_are_read(kind: str) -> None:
    other = arc_controller(replicas=1)
    other["kind"] = kind
    name = f"{ARC}/{kind}/{ARC}"
    assert run(SPREAD, [(f"kubernetes:apps/v1:{kind}", name, other)], {"deployments": ["*"]}) == []


@pytest.mark.parametrize(
    "placement",
    [
        lambda labels: anti_affinity(labels, "topology.kubernetes.io/zone"),
        lambda labels: {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": labels},
                    }
                ]
            }
        },
        lambda labels: {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/os",
                            "labelSelector": {"matchLabels": labels},
                        },
                    },
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "app.kubernetes.io/name",
                                        "operator": "In",
                                        "values": ["other", ARC],
                                    },
                                    {
                                        "key": "app.kubernetes.io/instance",
                                        "operator": "In",
                                        "values": [ARC],
                                    },
                                ]
                            },
                        },
                    },
                ]
            }
        },
    ],
    ids=["zone", "required", "later-preferred-expressions"],
)
def test_every_form_of_spread_passes(placement: Any) -> None:
    manifest = arc_controller()
    pod(manifest)["affinity"] = placement(arc_labels())
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)]) == []


def test_a_later_topology_spread_constraint_passes() -> None:
    manifest = arc_controller()
    spec = pod(manifest)
    spec.pop("affinity")
    spec["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": "node.kubernetes.io/instance-type",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": arc_labels()},
        },
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": arc_labels()},
        },
    ]
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)]) == []


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"app.kubernetes.io/name": "someone-else"}},
        {"matchLabels": {**arc_labels(), "extra": "x"}},
        {"matchLabels": "app=arc"},
        {},
        None,
        {
            "matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["x"]}
            ]
        },
        {
            "matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": ["x"]}
            ]
        },
        {
            "matchLabels": arc_labels(),
            "matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": [ARC]},
                {"key": "app.kubernetes.io/instance", "operator": "In", "values": ["other"]},
            ],
        },
        {"matchLabels": arc_labels(), "matchExpressions": [{"key": "x", "operator": "Exists"}]},
        {
            "matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": [ARC]}
            ]
        },
    ],
)
def test_a_term_that_does_not_select_the_pods_own_labels_is_no_spread(selector: Any) -> None:
    manifest = arc_controller()
    term = pod(manifest)["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ][0]
    term["podAffinityTerm"]["labelSelector"] = selector
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])
    assert message.startswith(
        f"{CONTROLLER}: 2 replicas but spec.template.spec has no pod anti-affinity"
    )


def test_a_term_over_another_topology_is_no_spread() -> None:
    manifest = arc_controller()
    pod(manifest)["affinity"] = anti_affinity(arc_labels(), "kubernetes.io/os")
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])
    assert "no pod anti-affinity" in message


def test_pod_labels_that_are_not_an_object_match_nothing() -> None:
    manifest = arc_controller()
    manifest["spec"]["template"]["metadata"]["labels"] = "app=arc"
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])


@pytest.mark.parametrize(
    ("requests", "missing"),
    [
        (None, "['cpu', 'memory']"),
        ({"cpu": "100m"}, "['memory']"),
        ({"memory": "128Mi"}, "['cpu']"),
        ({"cpu": "", "memory": "128Mi"}, "['cpu']"),
    ],
)
def test_a_later_container_without_requests(requests: Any, missing: str) -> None:
    manifest = arc_controller()
    proxy = pod(manifest)["containers"][1]
    if requests is None:
        proxy["resources"] = {"limits": {"memory": "64Mi"}}
    else:
        proxy["resources"] = {"requests": requests}
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])
    assert f'container "kube-rbac-proxy" requests no {missing}' in message
    assert "spec.template.spec.containers[1].resources.requests" in message


def test_init_containers_and_unknown_requests_are_not_read() -> None:
    manifest = arc_controller()
    pod(manifest)["initContainers"] = [{"name": "wait", "image": "busybox:1.36"}]
    pod(manifest)["containers"][1]["resources"] = {"requests": UNKNOWN_OBJECT_VALUE}
    assert run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)]) == []


def test_a_container_without_requests_after_an_init_container_without_them() -> None:
    manifest = arc_controller()
    pod(manifest)["initContainers"] = [{"name": "wait", "image": "busybox:1.36"}]
    pod(manifest)["containers"][1].pop("resources")
    (message,) = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)])
    assert 'container "kube-rbac-proxy" requests no' in message


def test_one_message_per_problem_in_one_deployment() -> None:
    manifest = arc_controller(replicas=3)
    spec = pod(manifest)
    spec.pop("affinity")
    for container in spec["containers"]:
        container.pop("resources")
    found = run(SPREAD, [(DEPLOYMENT, CONTROLLER, manifest)], {"minReplicas": 4})
    assert len(found) == 4
    assert "below 4" in found[0] and "3 replicas but" in found[1]
    assert '"manager"' in found[2] and '"kube-rbac-proxy"' in found[3]


def test_the_spread_config_schema() -> None:
    policies = registry.build_policies()

    def problems(entry: dict[str, Any]) -> list[str]:
        return review_policies.config_problems({SPREAD: entry}, policies)

    assert problems({"minReplicas": 1, "deployments": ["a/*"]}) == []
    assert problems({"minReplicas": 0}) and problems({"minReplicas": "two"})
    assert problems({"deployments": "a/*"}) and problems({"deployments": [1]})
    schema = POLICIES[SPREAD].config_schema
    assert schema is not None
    for entry in schema.properties.values():
        assert entry["description"] and entry["type"] in {"array", "integer"}
    assert schema.properties["minReplicas"]["default"] == 2
    assert schema.properties["minReplicas"]["minimum"] == 1
    assert set(schema.properties["deployments"]["default"]) == {
        f"{ARC}/{ARC}",
        f"{ARC}/{ARC}-github-webhook-server",
        f"{SCALE_SET_CONTROLLER_RELEASE}/{SCALE_SET_CONTROLLER_RELEASE}",
    }


# --- kubernetes-helm-chart-no-privilege-or-host-access --------------------------------------------


def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"template": {"metadata": {"labels": {"app": "x"}}, "spec": spec}}


def _base_pod() -> dict[str, Any]:
    return {
        "containers": [
            {"name": "main", "image": "registry.k8s.io/pause:3.10"},
            {"name": "sidecar", "image": "registry.k8s.io/pause:3.10"},
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}}],
    }


# (type, Kind, manifest around a pod spec, where the pod spec is)
WORKLOADS = [
    (
        "kubernetes:apps/v1:Deployment",
        "Deployment",
        lambda s: {"spec": {"replicas": 1, **_template(s)}},
        "spec.template.spec",
    ),
    (
        "kubernetes:apps/v1:StatefulSet",
        "StatefulSet",
        lambda s: {"spec": {"serviceName": "x", **_template(s)}},
        "spec.template.spec",
    ),
    (
        "kubernetes:apps/v1:DaemonSet",
        "DaemonSet",
        lambda s: {"spec": _template(s)},
        "spec.template.spec",
    ),
    (
        "kubernetes:apps/v1:ReplicaSet",
        "ReplicaSet",
        lambda s: {"spec": _template(s)},
        "spec.template.spec",
    ),
    (
        "kubernetes:core/v1:ReplicationController",
        "ReplicationController",
        lambda s: {"spec": _template(s)},
        "spec.template.spec",
    ),
    ("kubernetes:batch/v1:Job", "Job", lambda s: {"spec": _template(s)}, "spec.template.spec"),
    (
        "kubernetes:batch/v1:CronJob",
        "CronJob",
        lambda s: {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": _template(s)}}},
        "spec.jobTemplate.spec.template.spec",
    ),
    ("kubernetes:core/v1:Pod", "Pod", lambda s: {"spec": s}, "spec"),
]


def _object(kind: str, wrap: Any, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "x", "namespace": "tools"}, **wrap(spec)}


@pytest.mark.parametrize(("typ", "kind", "wrap", "base"), WORKLOADS, ids=[w[1] for w in WORKLOADS])
def test_every_workload_kind_later_container_and_volume(
    typ: str, kind: str, wrap: Any, base: str
) -> None:
    name = f"tools/{kind}/x"
    assert run(PRIVILEGES, [(typ, name, _object(kind, wrap, _base_pod()))]) == []
    spec = _base_pod()
    spec["containers"][1]["securityContext"] = {"privileged": True}
    spec["volumes"][1] = {"name": "logs", "hostPath": {"path": "/var/log"}}
    found = run(PRIVILEGES, [(typ, name, _object(kind, wrap, spec))])
    assert [m.split(". Remediation: ")[0] for m in found] == [
        f'{name}: {base}.containers[1].securityContext.privileged: container "sidecar" is privileged',
        f'{name}: {base}.volumes[1].hostPath: mounts the node\'s "/var/log"',
    ]


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
def test_every_node_namespace(field: str) -> None:
    spec = _base_pod()
    spec[field] = True
    (message,) = run(
        PRIVILEGES,
        [(DEPLOYMENT, "tools/Deployment/x", _object("Deployment", WORKLOADS[0][2], spec))],
    )
    assert f"spec.template.spec.{field}:" in message


def test_a_privileged_init_container_and_string_true() -> None:
    spec = _base_pod()
    spec["initContainers"] = [
        {"name": "setup", "image": "busybox:1.36", "securityContext": {"privileged": "true"}}
    ]
    (message,) = run(
        PRIVILEGES,
        [(DEPLOYMENT, "tools/Deployment/x", _object("Deployment", WORKLOADS[0][2], spec))],
    )
    assert "spec.template.spec.initContainers[0].securityContext.privileged" in message


def test_capabilities_beyond_baseline_and_an_unmasked_proc_count_as_privilege() -> None:
    spec = _base_pod()
    # NET_BIND_SERVICE and CHOWN are in Pod Security baseline's list: no finding for them.
    spec["containers"][0]["securityContext"] = {"capabilities": {"add": ["NET_BIND_SERVICE"]}}
    spec["containers"][1]["securityContext"] = {
        "capabilities": {"add": ["CHOWN", "cap_sys_admin"]},
        "procMount": "Unmasked",
    }
    found = run(
        PRIVILEGES,
        [(DEPLOYMENT, "tools/Deployment/x", _object("Deployment", WORKLOADS[0][2], spec))],
    )
    base = "tools/Deployment/x: spec.template.spec.containers[1].securityContext"
    assert [m.split(". Remediation: ")[0] for m in found] == [
        f'{base}.capabilities.add[1]: container "sidecar" adds capability "cap_sys_admin"',
        f'{base}.procMount: container "sidecar" procMount "Unmasked" unmasks the node\'s /proc',
    ]


def test_false_values_pass() -> None:
    spec = _base_pod()
    spec.update(hostNetwork=False, hostPID=False, hostIPC=False)
    spec["containers"][0]["securityContext"] = {"privileged": False}
    assert (
        run(
            PRIVILEGES,
            [(DEPLOYMENT, "tools/Deployment/x", _object("Deployment", WORKLOADS[0][2], spec))],
        )
        == []
    )


def test_a_later_object_of_a_later_release() -> None:
    bad = _base_pod()
    bad["hostNetwork"] = True
    objects = [
        (DEPLOYMENT, CONTROLLER, arc_controller()),
        ("kubernetes:core/v1:Service", "tools/Service/x", {"spec": {"ports": []}}),
        (DEPLOYMENT, "tools/Deployment/ok", _object("Deployment", WORKLOADS[0][2], _base_pod())),
        (
            "kubernetes:apps/v1:DaemonSet",
            "agent/DaemonSet/node-agent",
            _object("DaemonSet", WORKLOADS[2][2], bad),
        ),
    ]
    (message,) = run(PRIVILEGES, objects)
    assert message.startswith("agent/DaemonSet/node-agent: spec.template.spec.hostNetwork")


def test_an_unknown_pod_or_a_non_workload_is_not_read() -> None:
    unknown = {
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"template": UNKNOWN_OBJECT_VALUE},
    }
    service = {
        "kind": "Service",
        "spec": {"hostNetwork": True, "template": {"spec": {"hostNetwork": True}}},
    }
    assert (
        run(
            PRIVILEGES,
            [
                (DEPLOYMENT, "tools/Deployment/x", unknown),
                ("kubernetes:core/v1:Service", "tools/Service/x", service),
            ],
        )
        == []
    )


def test_the_allowlist_names_objects_exactly() -> None:
    spec = _base_pod()
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/var/lib"}})
    objects = [
        (DEPLOYMENT, "tools/Deployment/x", _object("Deployment", WORKLOADS[0][2], spec)),
        (
            DEPLOYMENT,
            "tools/Deployment/y",
            _object("Deployment", WORKLOADS[0][2], copy.deepcopy(spec)),
        ),
    ]
    allowed = {"allowed": [{"object": "tools/Deployment/x", "reason": "reads node logs"}]}
    (message,) = run(PRIVILEGES, objects, allowed)
    assert message.startswith("tools/Deployment/y: spec.template.spec.volumes[2].hostPath")


def test_the_allowlist_schema_needs_an_object_and_a_reason() -> None:
    policies = registry.build_policies()

    def problems(entry: Any) -> list[str]:
        return review_policies.config_problems({PRIVILEGES: {"allowed": [entry]}}, policies)

    assert problems({"object": "a/Deployment/b", "reason": "0123456789"}) == []
    assert problems({"object": "x", "reason": "reads node logs"}) == []
    assert problems({"object": "a/Deployment/b", "reason": "012345678"})
    assert problems({"object": "", "reason": "reads node logs"})
    assert problems({"object": "a/Deployment/b"}) and problems({"reason": "reads node logs"})
    assert problems({"object": "a/Deployment/b", "reason": "reads node logs", "until": "x"})
    assert problems({"object": 1, "reason": "reads node logs"})
    assert problems({"object": "a/Deployment/b", "reason": 1234567890})
    assert problems("a/Deployment/b")
    schema = POLICIES[PRIVILEGES].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["default"] == [] and entry["description"] and entry["type"] == "array"
