"""The workload rules of the pack, on every kind they claim: each refuses what it names, accepts the
boundary, and still finds a violation in a later container or volume (after ones it skips).

The checks run directly on plain props with the rule's config defaults; tests/test_policies.py runs
the same rules through the engine's wrapping.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies.arc_policies._support import UNKNOWN, Rule
from policies.arc_policies.workloads import (
    BASELINE_CAPABILITIES,
    CRON_JOB,
    IMAGES_PINNED,
    NO_HOST_ACCESS,
    NO_PRIVILEGED,
    POD,
    RUNNER,
    RUNNER_DEPLOYMENT,
    RUNNER_EPHEMERAL,
    RUNNER_KINDS,
    RUNNER_REPLICA_SET,
    RUNNER_RESOURCES,
    RUNNER_SET,
    TEMPLATED,
    WORKLOAD_KINDS,
    image_problem,
)

SW = "kubernetes:actions.summerwind.dev/v1alpha1:"
BUILT_IN = {
    "kubernetes:core/v1:Pod",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:ReplicationController",
}
RUNNERS = {SW + "RunnerDeployment", SW + "RunnerReplicaSet", SW + "RunnerSet", SW + "Runner"}
# Runner kinds for which ARC creates the runner (and dind) containers from the runner spec.
IMPLICIT = sorted(RUNNERS - {SW + "RunnerSet"})
ALL_KINDS = sorted(BUILT_IN | RUNNERS)

RES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
DIND_IMAGE = "docker:27.3.1-dind"
RUNNER_IMAGE = "summerwind/actions-runner:v2.320.0-ubuntu-22.04"


def base_of(typ: str) -> str:
    if typ in (POD, RUNNER):
        return "spec"
    if typ == CRON_JOB:
        return "spec.jobTemplate.spec.template.spec"
    return "spec.template.spec"


def wrap(typ: str, spec: Any) -> dict[str, Any]:
    if typ in (POD, RUNNER):
        return {"spec": spec}
    if typ == CRON_JOB:
        return {"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}
    return {"spec": {"template": {"spec": spec}}}


def check(rule: Rule, typ: str, props: dict[str, Any], **config: Any) -> list[str]:
    merged = {k: v["default"] for k, v in rule.config.items() if "default" in v}
    merged.update(config)
    return [f.path for f in rule.check(typ, props, merged)]


def messages(rule: Rule, typ: str, props: dict[str, Any]) -> list[str]:
    merged = {k: v["default"] for k, v in rule.config.items() if "default" in v}
    return [f.problem for f in rule.check(typ, props, merged)]


def container(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": RUNNER_IMAGE, "resources": RES, **fields}


def clean_spec(typ: str) -> dict[str, Any]:
    """A compliant pod (or runner) spec: runner pods with their dind sidecar resources."""
    spec: dict[str, Any] = {"containers": [container("main")]}
    if typ in IMPLICIT:
        spec = {"image": RUNNER_IMAGE, "resources": RES, "dockerdContainerResources": RES}
    return spec


def test_kinds_claimed() -> None:
    assert WORKLOAD_KINDS == BUILT_IN | RUNNERS
    assert RUNNER_KINDS == RUNNERS
    assert BUILT_IN - {POD, CRON_JOB} == TEMPLATED
    assert (RUNNER_DEPLOYMENT, RUNNER_REPLICA_SET, RUNNER_SET, RUNNER) == (
        SW + "RunnerDeployment",
        SW + "RunnerReplicaSet",
        SW + "RunnerSet",
        SW + "Runner",
    )
    for rule in (NO_PRIVILEGED, NO_HOST_ACCESS, IMAGES_PINNED):
        assert rule.resource_types == WORKLOAD_KINDS
    for rule in (RUNNER_RESOURCES, RUNNER_EPHEMERAL):
        assert rule.resource_types == RUNNER_KINDS


@pytest.mark.parametrize("typ", ALL_KINDS)
def test_clean_spec_passes_every_rule(typ: str) -> None:
    props = wrap(typ, clean_spec(typ))
    for rule in (NO_PRIVILEGED, NO_HOST_ACCESS, IMAGES_PINNED, RUNNER_RESOURCES, RUNNER_EPHEMERAL):
        assert check(rule, typ, props) == [], rule.name


def test_no_pod_spec_no_finding() -> None:
    for rule in (NO_PRIVILEGED, NO_HOST_ACCESS, IMAGES_PINNED, RUNNER_RESOURCES):
        for typ in ALL_KINDS:
            assert check(rule, typ, {"spec": UNKNOWN}) == []
            assert (
                check(rule, typ, {"spec": {"template": {"spec": UNKNOWN}}}) == [] or typ == RUNNER
            )
            assert check(rule, typ, {}) == []


# --- kubernetes-no-privileged-except-dind ------------------------------------------------------

FIELDS = ("initContainers", "containers", "sidecarContainers", "ephemeralContainers")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("typ", ALL_KINDS)
def test_privileged_second_container_in_every_list_of_every_kind(typ: str, field: str) -> None:
    spec = clean_spec(typ)
    spec[field] = [
        "junk",
        container("first"),
        container("second", securityContext={"privileged": True}),
    ]
    assert check(NO_PRIVILEGED, typ, wrap(typ, spec)) == [
        f"{base_of(typ)}.{field}[2].securityContext.privileged"
    ]


@pytest.mark.parametrize(
    ("name", "image", "allowed"),
    [
        ("docker", DIND_IMAGE, True),
        ("docker", "docker:dind", True),
        ("docker", "mirror.example.com/docker:27-dind-rootless", True),
        ("docker", "mirror.example.com/library/docker:27-dind", True),
        ("docker", UNKNOWN, True),
        ("docker", "ubuntu:22.04", False),
        ("docker", "docker:27-cli", False),
        ("dind", DIND_IMAGE, False),
        ("runner", DIND_IMAGE, False),
    ],
)
def test_only_the_docker_sidecar_running_dind_may_be_privileged(
    name: str, image: Any, allowed: bool
) -> None:
    spec = {
        "containers": [
            container("main"),
            {"name": name, "image": image, "securityContext": {"privileged": "true"}},
        ]
    }
    expected = [] if allowed else ["spec.containers[1].securityContext.privileged"]
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == expected


def test_dind_images_come_from_config() -> None:
    spec = {
        "containers": [
            {"name": "docker", "image": DIND_IMAGE, "securityContext": {"privileged": True}}
        ]
    }
    assert check(NO_PRIVILEGED, POD, {"spec": spec}, dindImages=["mirror/dind:*"]) == [
        "spec.containers[0].securityContext.privileged"
    ]


def test_unprivileged_and_false_strings_pass() -> None:
    spec = {
        "containers": [
            container("a", securityContext={"privileged": False}),
            container("b", securityContext={"privileged": "false"}),
            container("c", securityContext=UNKNOWN),
        ]
    }
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == []


@pytest.mark.parametrize("typ", ALL_KINDS)
@pytest.mark.parametrize("field", FIELDS)
def test_an_added_capability_in_a_later_container_of_every_kind(typ: str, field: str) -> None:
    spec = clean_spec(typ)
    spec[field] = [
        container("first", securityContext={"capabilities": {"add": ["NET_BIND_SERVICE"]}}),
        container("second", securityContext={"capabilities": {"add": ["CHOWN", "SYS_ADMIN"]}}),
    ]
    assert check(NO_PRIVILEGED, typ, wrap(typ, spec)) == [
        f"{base_of(typ)}.{field}[1].securityContext.capabilities.add[1]"
    ]


@pytest.mark.parametrize(
    ("capability", "lifted"),
    [
        ("SYS_ADMIN", True),
        ("cap_sys_admin", True),
        (" NET_ADMIN ", True),
        ("ALL", True),
        ("SYS_PTRACE", True),
        ("BPF", True),
        (7, True),
        ("CAP_CHOWN", False),
        ("sys_chroot", False),
        ("AUDIT_WRITE", False),
        ("SETFCAP", False),
        (UNKNOWN, False),
    ],
)
def test_capabilities_beyond_pod_security_baseline(capability: Any, lifted: bool) -> None:
    spec = {
        "containers": [container("main", securityContext={"capabilities": {"add": [capability]}})]
    }
    expected = ["spec.containers[0].securityContext.capabilities.add[0]"] if lifted else []
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == expected


# Pod Security Standards, baseline, "Capabilities": the only ones a container may add.
POD_SECURITY_BASELINE = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)


@pytest.mark.parametrize("capability", POD_SECURITY_BASELINE)
def test_every_baseline_capability_passes(capability: str) -> None:
    context = {"capabilities": {"add": [capability], "drop": ["ALL"]}}
    spec = {"containers": [container("a", securityContext=context)]}
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == []


def test_the_baseline_list_is_pod_securitys_and_the_message_names_the_capability() -> None:
    assert frozenset(POD_SECURITY_BASELINE) == BASELINE_CAPABILITIES
    spec = {"containers": [container("a", securityContext={"capabilities": {"add": ["NET_RAW"]}})]}
    (message,) = messages(NO_PRIVILEGED, POD, {"spec": spec})
    assert '"NET_RAW"' in message and "as good as privileged" in message


def test_an_unknown_capability_does_not_hide_a_later_one() -> None:
    context = {"capabilities": {"add": [UNKNOWN, "SYS_ADMIN"]}}
    spec = {"containers": [container("a", securityContext=context)]}
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == [
        "spec.containers[0].securityContext.capabilities.add[1]"
    ]


@pytest.mark.parametrize(
    ("proc_mount", "lifted"),
    [("Unmasked", True), ("Default", False), (None, False), (UNKNOWN, False)],
)
def test_an_unmasked_proc_is_privileged(proc_mount: Any, lifted: bool) -> None:
    spec = {
        "containers": [container("main"), container("b", securityContext={"procMount": proc_mount})]
    }
    expected = ["spec.containers[1].securityContext.procMount"] if lifted else []
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == expected


def test_the_dind_sidecar_may_add_capabilities_and_a_privileged_runner_reports_both() -> None:
    sidecar = {
        "name": "docker",
        "image": DIND_IMAGE,
        "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
    }
    assert check(NO_PRIVILEGED, POD, {"spec": {"containers": [container("main"), sidecar]}}) == []
    both = container(
        "runner", securityContext={"privileged": True, "capabilities": {"add": ["ALL"]}}
    )
    assert check(NO_PRIVILEGED, POD, {"spec": {"containers": [both]}}) == [
        "spec.containers[0].securityContext.privileged",
        "spec.containers[0].securityContext.capabilities.add[0]",
    ]


@pytest.mark.parametrize("flag", [True, "true", " TRUE "])
@pytest.mark.parametrize("typ", IMPLICIT)
def test_dockerd_within_runner_container_is_privileged(typ: str, flag: Any) -> None:
    spec = {**clean_spec(typ), "dockerdWithinRunnerContainer": flag}
    assert check(NO_PRIVILEGED, typ, wrap(typ, spec)) == [
        f"{base_of(typ)}.dockerdWithinRunnerContainer"
    ]
    message = messages(NO_PRIVILEGED, typ, wrap(typ, spec))[0]
    assert '"runner"' in message and "privileged" in message


@pytest.mark.parametrize("typ", sorted(RUNNERS))
def test_dockerd_within_a_listed_runner_container(typ: str) -> None:
    spec = {
        "dockerdWithinRunnerContainer": True,
        "containers": [
            container("sidecar"),
            {"name": "runner", "securityContext": {"runAsUser": 1000}},
        ],
    }
    assert check(NO_PRIVILEGED, typ, wrap(typ, spec)) == [
        f"{base_of(typ)}.dockerdWithinRunnerContainer"
    ]


def test_dockerd_within_runner_container_means_nothing_outside_arc_kinds() -> None:
    spec = {"dockerdWithinRunnerContainer": True, "containers": [container("runner")]}
    assert check(NO_PRIVILEGED, POD, {"spec": spec}) == []


def test_a_privileged_listed_runner_is_reported_at_its_security_context() -> None:
    spec = {
        **clean_spec(RUNNER_DEPLOYMENT),
        "containers": [container("runner", securityContext={"privileged": True})],
    }
    assert check(NO_PRIVILEGED, RUNNER_DEPLOYMENT, wrap(RUNNER_DEPLOYMENT, spec)) == [
        "spec.template.spec.containers[0].securityContext.privileged"
    ]


# --- kubernetes-no-host-namespaces-or-hostpath --------------------------------------------------


@pytest.mark.parametrize("typ", ALL_KINDS)
def test_host_namespaces_on_every_kind(typ: str) -> None:
    spec = {**clean_spec(typ), "hostNetwork": True, "hostPID": "true", "hostIPC": True}
    base = base_of(typ)
    assert check(NO_HOST_ACCESS, typ, wrap(typ, spec)) == [
        f"{base}.hostNetwork",
        f"{base}.hostPID",
        f"{base}.hostIPC",
    ]
    spec = {**clean_spec(typ), "hostNetwork": False, "hostPID": "false", "hostIPC": UNKNOWN}
    assert check(NO_HOST_ACCESS, typ, wrap(typ, spec)) == []


@pytest.mark.parametrize("typ", ALL_KINDS)
def test_host_path_in_a_later_volume_of_every_kind(typ: str) -> None:
    volumes = [
        {"name": "work", "emptyDir": {}},
        {"name": "pending", "hostPath": UNKNOWN},
        {"name": "data", "hostPath": {"path": "/data"}},
    ]
    spec = {**clean_spec(typ), "volumes": volumes}
    assert check(NO_HOST_ACCESS, typ, wrap(typ, spec)) == [f"{base_of(typ)}.volumes[2].hostPath"]


@pytest.mark.parametrize(
    ("path", "socket"),
    [
        ("/var/run/docker.sock", True),
        ("/run/containerd/containerd.sock", True),
        ("/var/run", True),
        ("/run", True),
        ("/var/lib/docker", False),
        ("/data", False),
        (7, False),
    ],
)
def test_host_path_message_says_socket_or_directory(path: Any, socket: bool) -> None:
    spec = {"volumes": [{"name": "v", "hostPath": {"path": path}}]}
    (message,) = messages(NO_HOST_ACCESS, POD, {"spec": spec})
    assert ("Docker/containerd socket" in message) is socket
    assert ("node directory" in message) is not socket


# --- arc-runner-requests-and-limits -------------------------------------------------------------


@pytest.mark.parametrize("typ", IMPLICIT)
def test_implicit_runner_and_dind_need_resources(typ: str) -> None:
    base = base_of(typ)
    spec = {"image": RUNNER_IMAGE}
    assert check(RUNNER_RESOURCES, typ, wrap(typ, spec)) == [
        f"{base}.resources.requests",
        f"{base}.resources.limits",
        f"{base}.dockerdContainerResources.requests",
        f"{base}.dockerdContainerResources.limits",
    ]
    half = {"requests": {"cpu": "1", "memory": ""}, "limits": {"cpu": "1"}}
    spec = {"image": RUNNER_IMAGE, "resources": half, "dockerdContainerResources": RES}
    found = messages(RUNNER_RESOURCES, typ, wrap(typ, spec))
    assert found == [
        "container \"runner\" has no requests for ['memory']",
        "container \"runner\" has no limits for ['memory']",
    ]


@pytest.mark.parametrize("typ", sorted(RUNNERS))
def test_a_later_sidecar_without_limits(typ: str) -> None:
    spec = {
        **clean_spec(typ),
        "initContainers": [{"name": "init", "image": RUNNER_IMAGE}],  # not checked
        "sidecarContainers": [
            container("first"),
            {"name": "second", "image": RUNNER_IMAGE, "resources": {"requests": RES["requests"]}},
        ],
    }
    assert check(RUNNER_RESOURCES, typ, wrap(typ, spec)) == [
        f"{base_of(typ)}.sidecarContainers[1].resources.limits"
    ]


def test_listed_runner_takes_the_runner_spec_resources() -> None:
    spec = {**clean_spec(RUNNER), "containers": [{"name": "runner"}]}
    assert check(RUNNER_RESOURCES, RUNNER, {"spec": spec}) == []
    spec = {
        "image": RUNNER_IMAGE,
        "dockerdContainerResources": RES,
        "containers": [{"name": "runner"}],
    }
    assert check(RUNNER_RESOURCES, RUNNER, {"spec": spec}) == [
        "spec.containers[0].resources.requests",
        "spec.containers[0].resources.limits",
    ]


def test_no_implicit_dind_when_docker_is_off_unknown_inside_or_listed() -> None:
    base = {"image": RUNNER_IMAGE, "resources": RES}
    for extra in (
        {"dockerEnabled": False},
        {"dockerEnabled": "false"},
        {"dockerEnabled": UNKNOWN},
        {"dockerdWithinRunnerContainer": True},
        {"sidecarContainers": [container("docker", image=DIND_IMAGE)]},
    ):
        spec = {**base, **extra}
        assert check(RUNNER_RESOURCES, RUNNER, {"spec": spec}) == [], extra
    assert check(RUNNER_RESOURCES, RUNNER, {"spec": {**base, "dockerEnabled": True}}) == [
        "spec.dockerdContainerResources.requests",
        "spec.dockerdContainerResources.limits",
    ]


def test_unknown_resources_and_config() -> None:
    spec = {
        "image": RUNNER_IMAGE,
        "resources": UNKNOWN,
        "dockerdContainerResources": {"requests": UNKNOWN, "limits": RES["limits"]},
    }
    assert check(RUNNER_RESOURCES, RUNNER, {"spec": spec}) == []
    spec = {**clean_spec(RUNNER)}
    assert check(
        RUNNER_RESOURCES, RUNNER, {"spec": spec}, requiredResources=["ephemeral-storage"]
    ) == [
        "spec.resources.requests",
        "spec.resources.limits",
        "spec.dockerdContainerResources.requests",
        "spec.dockerdContainerResources.limits",
    ]


# --- kubernetes-images-pinned -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (None, "no image"),
        ("", "no image"),
        ("   ", "no image"),
        (7, "no image"),
        ("ubuntu", "no tag"),
        ("registry.example.com:5000/ubuntu", "no tag"),
        ("ubuntu:latest", "tag latest"),
        ("ubuntu:", "tag latest"),
        ("registry.example.com:5000/ubuntu:latest", "tag latest"),
        ("ubuntu:22.04", None),
        ("registry.example.com:5000/team/ubuntu:22.04", None),
        ("ubuntu@sha256:" + "a" * 64, None),
        ("ubuntu:latest@sha256:" + "a" * 64, None),
        # a tag naming no version moves like latest (the ARC chart's default docker:dind)
        ("docker:dind", "tag 'dind' names no version"),
        ("registry.example.com:5000/ubuntu:stable", "tag 'stable' names no version"),
        ("docker:29.5.3-dind", None),
        ("ubuntu:v2", None),
        ("docker:dind@sha256:" + "a" * 64, None),
    ],
)
def test_image_problem(image: Any, problem: str | None) -> None:
    found = image_problem(image)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem), found


@pytest.mark.parametrize("typ", ALL_KINDS)
def test_unpinned_image_in_a_later_container_of_every_kind(typ: str) -> None:
    spec = clean_spec(typ)
    spec["containers"] = [
        container("first"),
        container("pending", image=UNKNOWN),
        container("third", image="busybox"),
    ]
    if typ in IMPLICIT:
        spec["containers"].insert(0, {"name": "runner"})  # takes the spec's pinned image
    offset = 1 if typ in IMPLICIT else 0
    assert check(IMAGES_PINNED, typ, wrap(typ, spec)) == [
        f"{base_of(typ)}.containers[{2 + offset}].image"
    ]


@pytest.mark.parametrize("typ", IMPLICIT)
def test_implicit_runner_without_image(typ: str) -> None:
    spec = {"resources": RES, "dockerdContainerResources": RES}
    assert check(IMAGES_PINNED, typ, wrap(typ, spec)) == [f"{base_of(typ)}.image"]
    spec["image"] = UNKNOWN
    assert check(IMAGES_PINNED, typ, wrap(typ, spec)) == []


# --- arc-runner-ephemeral -----------------------------------------------------------------------


@pytest.mark.parametrize("typ", IMPLICIT)
def test_ephemeral_false_on_runner_specs(typ: str) -> None:
    for value in (False, "false"):
        spec = {**clean_spec(typ), "ephemeral": value}
        assert check(RUNNER_EPHEMERAL, typ, wrap(typ, spec)) == [f"{base_of(typ)}.ephemeral"]
    for value in (True, "true", UNKNOWN, None):
        spec = {**clean_spec(typ), "ephemeral": value}
        assert check(RUNNER_EPHEMERAL, typ, wrap(typ, spec)) == []
    assert check(RUNNER_EPHEMERAL, typ, {"spec": {"ephemeral": False, "template": "junk"}}) == (
        ["spec.ephemeral"] if typ == RUNNER else []
    )


def test_ephemeral_false_on_a_runner_set() -> None:
    template = {"spec": {"containers": [container("runner")]}}
    assert check(
        RUNNER_EPHEMERAL, RUNNER_SET, {"spec": {"ephemeral": False, "template": template}}
    ) == ["spec.ephemeral"]
    assert check(RUNNER_EPHEMERAL, RUNNER_SET, {"spec": {"ephemeral": "false"}}) == [
        "spec.ephemeral"
    ]
    assert (
        check(RUNNER_EPHEMERAL, RUNNER_SET, {"spec": {"ephemeral": True, "template": template}})
        == []
    )
    # a RunnerSet's pod template has no ephemeral field of its own
    template = {"spec": {"ephemeral": False, "containers": [container("runner")]}}
    assert check(RUNNER_EPHEMERAL, RUNNER_SET, {"spec": {"template": template}}) == []


RULE_NAMES = {
    "kubernetes-no-privileged-except-dind": NO_PRIVILEGED,
    "kubernetes-no-host-namespaces-or-hostpath": NO_HOST_ACCESS,
    "arc-runner-requests-and-limits": RUNNER_RESOURCES,
    "kubernetes-images-pinned": IMAGES_PINNED,
    "arc-runner-ephemeral": RUNNER_EPHEMERAL,
}


@pytest.mark.parametrize("name", sorted(RULE_NAMES))
def test_rule_names_and_complete_config_schemas(name: str) -> None:
    """The engine validates a pack's config against these schemas and shows the descriptions."""
    rule = RULE_NAMES[name]
    assert rule.name == name
    for key, spec in rule.config.items():
        assert set(spec) == {"type", "items", "default", "description"}, key
        assert spec["type"] == "array" and spec["items"] == {"type": "string"}, key
    expected = {
        "kubernetes-no-privileged-except-dind": {"dindImages"},
        "arc-runner-requests-and-limits": {"requiredResources"},
    }
    assert set(rule.config) == expected.get(name, set())
    if rule.config:
        assert all(isinstance(v, str) and v for v in next(iter(rule.config.values()))["default"])


def fresh(text: str) -> str:
    """`text` as a new string object, the way the engine's props arrive (never the interned
    literal the rule compares with)."""
    return "".join(list(text))


@pytest.mark.parametrize("typ", IMPLICIT)
def test_dockerd_within_runner_with_runtime_names_and_other_privileged_sidecars(typ: str) -> None:
    spec = {
        **clean_spec(typ),
        "dockerdWithinRunnerContainer": True,
        "containers": [
            {"name": fresh("runner")},  # no securityContext of its own
            container("aa", securityContext={"privileged": True}),
            container("zz", securityContext={"privileged": True}),
        ],
    }
    base = base_of(fresh(typ))
    assert check(NO_PRIVILEGED, fresh(typ), wrap(typ, spec)) == [
        f"{base}.dockerdWithinRunnerContainer",
        f"{base}.containers[1].securityContext.privileged",
        f"{base}.containers[2].securityContext.privileged",
    ]


def test_runner_set_read_with_a_runtime_type_string() -> None:
    typ = fresh(RUNNER_SET)
    template = {"spec": {"containers": [container("runner")]}}
    assert check(RUNNER_EPHEMERAL, typ, {"spec": {"ephemeral": False, "template": template}}) == [
        "spec.ephemeral"
    ]
    assert check(IMAGES_PINNED, typ, {"spec": {"template": template}}) == []
    spec = {"template": {"spec": {"containers": [container("runner", image="busybox")]}}}
    assert check(IMAGES_PINNED, typ, {"spec": spec}) == ["spec.template.spec.containers[0].image"]


def test_limits_missing_after_unknown_requests() -> None:
    spec = {
        "image": RUNNER_IMAGE,
        "resources": RES,
        "dockerdContainerResources": {"requests": UNKNOWN, "limits": {"cpu": "1"}},
    }
    assert check(RUNNER_RESOURCES, RUNNER, {"spec": spec}) == [
        "spec.dockerdContainerResources.limits"
    ]
