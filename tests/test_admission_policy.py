"""The admission policy of a `docker: kubernetes` pool's job pods, compared whole, and each of its
CEL validations evaluated on its own (cel-python) against the pods it must admit and refuse.

tests/test_isolation.py checks the policy as a whole against the pods runner-container-hooks
creates; here every validation is pinned separately, so a clause that stops refusing (hostIPC,
an ephemeral container, a selector with the wrong class) fails by name even when another
validation would still refuse the same pod.
"""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest

from arc_eks.builders.admission import (
    job_pod_policy,
    job_pod_validations,
    policy_name,
    pool_user,
)
from arc_eks.config.pool_spec import PoolSpec
from arc_eks.config.teams import DockerMode, ResolvedPool


def _pool(team: str, name: str, docker: str) -> ResolvedPool:
    image = {"runnerImage": "acme/kaniko:1.2"} if docker == "kaniko" else {}
    spec = PoolSpec.model_validate(
        {
            **image,
            "name": name,
            "scope": {"repository": "acme/app"},
            "labels": [f"{team}-{name}"],
            "docker": docker,
            "autoscaling": {
                "min": 0,
                "max": 2,
                "metric": {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"},
            },
        }
    )
    return ResolvedPool(team, "dev", f"teams/{team}.yaml", spec, ())


JOBS = _pool("alpha", "jobs", "kubernetes")
USER = "system:serviceaccount:runners-alpha-jobs:jobs-runner"


def test_the_policy_and_its_binding_whole() -> None:
    labels = {
        "app.kubernetes.io/managed-by": "arc-eks",
        "arc-eks.io/team": "alpha",
        "arc-eks.io/pool": "jobs",
    }
    validations = [
        {"expression": expression, "message": message, "reason": "Forbidden"}
        for expression, message in job_pod_validations("standard")
    ]
    assert len(validations) == 8
    assert job_pod_policy(JOBS) == [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "arc-eks-job-pods-alpha-jobs", "labels": labels},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["pods", "pods/ephemeralcontainers"],
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "pool-service-account",
                        "expression": f"request.userInfo.username == '{USER}'",
                    }
                ],
                "validations": validations,
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "arc-eks-job-pods-alpha-jobs", "labels": labels},
            "spec": {"policyName": "arc-eks-job-pods-alpha-jobs", "validationActions": ["Deny"]},
        },
    ]


def test_names_and_user_follow_team_and_pool() -> None:
    other = _pool("beta", "ci", "kubernetes")
    assert policy_name(other) == "arc-eks-job-pods-beta-ci"
    assert pool_user(other) == "system:serviceaccount:runners-beta-ci:ci-runner"
    policy, binding = job_pod_policy(other)
    assert policy["metadata"]["name"] == binding["metadata"]["name"] == "arc-eks-job-pods-beta-ci"
    assert binding["spec"]["policyName"] == "arc-eks-job-pods-beta-ci"
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == (
        "request.userInfo.username == 'system:serviceaccount:runners-beta-ci:ci-runner'"
    )


@pytest.mark.parametrize("docker", sorted(set(DockerMode) - {DockerMode.KUBERNETES}))
def test_other_modes_get_no_policy(docker: DockerMode) -> None:
    assert job_pod_policy(_pool("alpha", "build", docker.value)) == []


# --- CEL ----------------------------------------------------------------------------------------


def _evaluate(expression: str, activation: dict[str, Any]) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression))
    result = program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})
    assert isinstance(result, celpy.celtypes.BoolType), (expression, result)
    return bool(result)


def test_only_the_pools_service_account_is_subject_to_it() -> None:
    (condition,) = job_pod_policy(JOBS)[0]["spec"]["matchConditions"]
    for username, matches in (
        (USER, True),
        ("system:serviceaccount:runners-alpha-jobs:default", False),
        ("system:serviceaccount:runners-alpha:jobs-runner", False),
        ("system:serviceaccount:runners-beta-jobs:jobs-runner", False),
        (USER + "x", False),
        ("system:serviceaccount:actions-runner-system:arc-controller", False),
    ):
        request = {"userInfo": {"username": username}}
        assert _evaluate(condition["expression"], {"request": request}) is matches, username


# Short names of the validations, in the order job_pod_validations returns them.
NAMES = (
    "service-account",
    "privileged",
    "host-path",
    "host-namespaces",
    "pool-label",
    "api-token",
    "node-name",
    "node-group",
)


def _admissible() -> dict[str, Any]:
    """A job pod every validation admits (as the hooks create it with the pool's template)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "alpha-jobs-xyz-workflow",
            "labels": {"runner-pod": "alpha-jobs-xyz", "arc-eks.io/team": "alpha"},
        },
        "spec": {
            "serviceAccountName": "default",
            "automountServiceAccountToken": False,
            "nodeSelector": {"arc-eks.io/isolation": "standard", "kubernetes.io/os": "linux"},
            "hostNetwork": False,
            "hostPID": False,
            "hostIPC": False,
            "initContainers": [
                {"name": "fs-init", "image": "busybox:1", "securityContext": {"runAsUser": 1001}}
            ],
            "containers": [
                {"name": "job", "image": "node:22"},
                {"name": "redis", "image": "redis:7", "securityContext": {"privileged": False}},
            ],
            "ephemeralContainers": [
                {"name": "debug", "image": "busybox:1", "securityContext": {}},
            ],
            "volumes": [{"name": "work", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}],
        },
    }


def _minimal() -> dict[str, Any]:
    """No optional field at all: only what the validations require."""
    return {
        "metadata": {"name": "job"},
        "spec": {
            "automountServiceAccountToken": False,
            "nodeSelector": {"arc-eks.io/isolation": "standard"},
            "containers": [{"name": "job", "image": "node:22"}],
        },
    }


def _set(pod: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    pod = copy.deepcopy(pod)
    target: Any = pod
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return pod


def _drop(pod: dict[str, Any], path: str) -> dict[str, Any]:
    pod = copy.deepcopy(pod)
    *parents, last = path.split(".")
    target: Any = pod
    for part in parents:
        target = target[part]
    del target[last]
    return pod


PRIVILEGED = {"privileged": True}
HOST_PATH = {"name": "root", "hostPath": {"path": "/"}}

# (pod, names of the validations that refuse it, exactly)
CASES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "admissible": (_admissible(), set()),
    "minimal": (_minimal(), set()),
    "no serviceAccountName": (_drop(_admissible(), "spec.serviceAccountName"), set()),
    "another ServiceAccount": (
        _set(_admissible(), "spec.serviceAccountName", "jobs-runner"),
        {"service-account"},
    ),
    "empty ServiceAccount": (
        _set(_admissible(), "spec.serviceAccountName", ""),
        {"service-account"},
    ),
    "privileged first container": (
        _set(_admissible(), "spec.containers.0.securityContext", PRIVILEGED),
        {"privileged"},
    ),
    "privileged second container": (
        _set(_admissible(), "spec.containers.1.securityContext", PRIVILEGED),
        {"privileged"},
    ),
    "privileged init container": (
        _set(_admissible(), "spec.initContainers.0.securityContext", PRIVILEGED),
        {"privileged"},
    ),
    "privileged second init container": (
        _set(
            _admissible(),
            "spec.initContainers",
            [
                {"name": "a", "image": "b:1"},
                {"name": "c", "image": "d:1", "securityContext": PRIVILEGED},
            ],
        ),
        {"privileged"},
    ),
    "privileged ephemeral container": (
        _set(_admissible(), "spec.ephemeralContainers.0.securityContext", PRIVILEGED),
        {"privileged"},
    ),
    "privileged second ephemeral container": (
        _set(
            _admissible(),
            "spec.ephemeralContainers",
            [
                {"name": "a", "image": "b:1"},
                {"name": "c", "image": "d:1", "securityContext": PRIVILEGED},
            ],
        ),
        {"privileged"},
    ),
    "privileged container, nothing optional": (
        _set(_minimal(), "spec.containers.0.securityContext", PRIVILEGED),
        {"privileged"},
    ),
    "privileged ephemeral container, no init containers": (
        _set(
            _drop(_admissible(), "spec.initContainers"),
            "spec.ephemeralContainers.0.securityContext",
            PRIVILEGED,
        ),
        {"privileged"},
    ),
    "privileged init container, no ephemeral containers": (
        _set(
            _drop(_admissible(), "spec.ephemeralContainers"),
            "spec.initContainers.0.securityContext",
            PRIVILEGED,
        ),
        {"privileged"},
    ),
    "no volumes": (_drop(_admissible(), "spec.volumes"), set()),
    "hostPath first": (_set(_admissible(), "spec.volumes.0", HOST_PATH), {"host-path"}),
    "hostPath second": (_set(_admissible(), "spec.volumes.1", HOST_PATH), {"host-path"}),
    "host network": (_set(_admissible(), "spec.hostNetwork", True), {"host-namespaces"}),
    "host PID": (_set(_admissible(), "spec.hostPID", True), {"host-namespaces"}),
    "host IPC": (_set(_admissible(), "spec.hostIPC", True), {"host-namespaces"}),
    "host IPC, nothing else set": (
        _set(_minimal(), "spec.hostIPC", True),
        {"host-namespaces"},
    ),
    "no labels": (_drop(_admissible(), "metadata.labels"), set()),
    "the pool label": (
        _set(_admissible(), "metadata.labels", {"arc-eks.io/pool": "jobs"}),
        {"pool-label"},
    ),
    "the pool label with another value": (
        _set(_admissible(), "metadata.labels", {"x": "y", "arc-eks.io/pool": "other"}),
        {"pool-label"},
    ),
    "a label like the pool label": (
        _set(_admissible(), "metadata.labels", {"arc-eks.io/pool-name": "jobs"}),
        set(),
    ),
    "token by default": (_drop(_admissible(), "spec.automountServiceAccountToken"), {"api-token"}),
    "token mounted": (
        _set(_admissible(), "spec.automountServiceAccountToken", True),
        {"api-token"},
    ),
    "a node named": (_set(_admissible(), "spec.nodeName", "ip-10-0-1-1"), {"node-name"}),
    "no node selector": (_drop(_admissible(), "spec.nodeSelector"), {"node-group"}),
    "empty node selector": (_set(_admissible(), "spec.nodeSelector", {}), {"node-group"}),
    "other selector keys only": (
        _set(_admissible(), "spec.nodeSelector", {"kubernetes.io/os": "linux"}),
        {"node-group"},
    ),
    "the system nodes": (
        _set(_admissible(), "spec.nodeSelector", {"arc-eks.io/isolation": "system"}),
        {"node-group"},
    ),
    "a privileged class": (
        _set(_admissible(), "spec.nodeSelector", {"arc-eks.io/isolation": "privileged-alpha"}),
        {"node-group"},
    ),
    "a class that starts like its own": (
        _set(_admissible(), "spec.nodeSelector", {"arc-eks.io/isolation": "standardx"}),
        {"node-group"},
    ),
    "everything wrong": (
        {
            "metadata": {"labels": {"arc-eks.io/pool": "jobs"}},
            "spec": {
                "serviceAccountName": "jobs-runner",
                "nodeName": "n",
                "hostPID": True,
                "containers": [{"name": "x", "image": "y:1", "securityContext": PRIVILEGED}],
                "volumes": [HOST_PATH],
            },
        },
        set(NAMES),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_validation_refuses_exactly_its_pods(case: str) -> None:
    pod, refusing = CASES[case]
    validations = job_pod_validations("standard")
    assert len(validations) == len(NAMES)
    found = {
        name
        for name, (expression, _message) in zip(NAMES, validations, strict=True)
        if not _evaluate(expression, {"object": pod})
    }
    assert found == refusing


def test_messages_name_what_each_validation_refuses() -> None:
    fragments = (
        "'default' ServiceAccount",
        "no privileged container",
        "no hostPath",
        "hostNetwork, hostPID, hostIPC",
        "arc-eks.io/pool",
        "automountServiceAccountToken: false",
        "spec.nodeName",
        "arc-eks.io/isolation=standard",
    )
    for (_expression, message), fragment in zip(
        job_pod_validations("standard"), fragments, strict=True
    ):
        assert fragment in message


def test_the_node_group_validation_names_its_class() -> None:
    *_, (expression, message) = job_pod_validations("privileged-beta")
    assert "arc-eks.io/isolation=privileged-beta" in message
    selector = {"arc-eks.io/isolation": "privileged-beta"}
    assert _evaluate(expression, {"object": {"spec": {"nodeSelector": selector}}})
    standard = {"arc-eks.io/isolation": "standard"}
    assert not _evaluate(expression, {"object": {"spec": {"nodeSelector": standard}}})
