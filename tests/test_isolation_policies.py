"""The isolation rules on the raw kubernetes:* (and node group) resources as a program run
captures them: the package's own output passes; one change per guarantee is caught.

Fixtures: tests/fixtures/isolation-stack.yaml and tests/fixtures/isolation-teams.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from arc_eks.review.offline import CapturedResource, ProgramRun
from arc_eks.review.policies import run_policies
from tests.test_node_groups import _run

RD = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"

RUNNER_CLASS = "arc-runner-pod-isolation-class"
PRIVILEGED_PLACEMENT = "kubernetes-privileged-only-on-marked-node-groups"
DEFAULT_DENY = "kubernetes-runner-namespace-default-deny"
HOOKS_RBAC = "kubernetes-container-hooks-role-least-privilege"
RULES = (RUNNER_CLASS, PRIVILEGED_PLACEMENT, DEFAULT_DENY, HOOKS_RBAC)


@pytest.fixture(scope="module")
def captured() -> ProgramRun:
    return _run()


def findings(resources: list[CapturedResource]) -> dict[str, list[str]]:
    _policies, found = run_policies(resources, {"all": "mandatory"})
    out: dict[str, list[str]] = {rule: [] for rule in RULES}
    for finding in found:
        if finding.policy in out:
            assert not finding.skipped, finding
            out[finding.policy].append(finding.message)
    return out


def changed(
    run: ProgramRun, typ: str, name: str, change: Callable[[dict[str, Any]], None]
) -> list[CapturedResource]:
    """The run's resources with one resource's inputs changed in place by `change`."""
    out = []
    hit = False
    for resource in run.resources:
        if resource.type == typ and resource.name == name:
            inputs = copy.deepcopy(resource.inputs)
            change(inputs)
            out.append(dataclasses.replace(resource, inputs=inputs))
            hit = True
        else:
            out.append(resource)
    assert hit, (typ, name)
    return out


def only(found: dict[str, list[str]], rule: str) -> list[str]:
    assert {r: m for r, m in found.items() if m and r != rule} == {}
    return found[rule]


def test_the_package_output_passes_every_isolation_rule(captured: ProgramRun) -> None:
    assert findings(captured.resources) == {rule: [] for rule in RULES}


def test_runner_pod_without_its_class_toleration(captured: ProgramRun) -> None:
    def drop(inputs: dict[str, Any]) -> None:
        del inputs["spec"]["template"]["spec"]["tolerations"]

    (message,) = only(findings(changed(captured, RD, "alpha-plain-runners", drop)), RUNNER_CLASS)
    assert "arc-eks.io/isolation=standard:NoSchedule" in message


def test_runner_pod_tolerating_every_class(captured: ProgramRun) -> None:
    def widen(inputs: dict[str, Any]) -> None:
        inputs["spec"]["template"]["spec"]["tolerations"].append({"operator": "Exists"})

    found = findings(changed(captured, RD, "alpha-plain-runners", widen))
    (message,) = found[RUNNER_CLASS]
    assert "tolerates other isolation classes" in message


def test_privileged_container_outside_a_marked_node_group(captured: ProgramRun) -> None:
    def to_standard(inputs: dict[str, Any]) -> None:
        spec = inputs["spec"]["template"]["spec"]
        spec["nodeSelector"] = {"arc-eks.io/isolation": "standard"}
        spec["tolerations"][0]["value"] = "standard"

    found = findings(changed(captured, RD, "alpha-build-runners", to_standard))
    (message,) = found[PRIVILEGED_PLACEMENT]
    assert "['docker']" in message and "'runner-nodes-standard'" in message
    assert found[RUNNER_CLASS]  # the class rule sees it from the pod alone


def test_runner_namespace_without_default_deny(captured: ProgramRun) -> None:
    resources = [
        r
        for r in captured.resources
        if not (r.type == NP and r.name == "beta-namespace-default-deny")
    ]
    (message,) = only(findings(resources), DEFAULT_DENY)
    assert "'runners-beta' has no default-deny" in message


def test_network_policy_opening_the_metadata_address(captured: ProgramRun) -> None:
    def open_all(inputs: dict[str, Any]) -> None:
        inputs["spec"]["egress"][0]["to"][0]["ipBlock"]["except"] = ["10.0.0.0/8"]

    resources = changed(captured, NP, "alpha-namespace-allow-internet-egress", open_all)
    (message,) = only(findings(resources), DEFAULT_DENY)
    assert "169.254.169.254" in message


def test_hooks_role_wider_than_the_hooks_need(captured: ProgramRun) -> None:
    def widen(inputs: dict[str, Any]) -> None:
        inputs["rules"].append(
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}
        )

    (message,) = only(findings(changed(captured, ROLE, "alpha-jobs-hooks-role", widen)), HOOKS_RBAC)
    assert "'serviceaccounts/token' is not one the hooks use" in message


def test_rights_bound_to_the_default_service_account(captured: ProgramRun) -> None:
    def to_default(inputs: dict[str, Any]) -> None:
        inputs["subjects"][0]["name"] = "default"

    resources = changed(captured, BINDING, "alpha-jobs-hooks-binding", to_default)
    (message,) = only(findings(resources), HOOKS_RBAC)
    assert "default ServiceAccount" in message
