"""The isolation resource rules (policies/arc_policies/isolation.py) on hand-built inputs: each
guard refuses what it must and accepts its boundary, and a violation in a later position (second
toleration, second rule, second subject) is found. The whole-program view is
tests/test_isolation_policies.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from policies.arc_policies import isolation
from policies.arc_policies._support import Rule

RUNNER = "kubernetes:actions.summerwind.dev/v1alpha1:Runner"
KEY = "arc-eks.io/isolation"


def defaults(rule: Rule) -> dict[str, Any]:
    return {name: schema["default"] for name, schema in rule.config.items()}


def runner_class(props: dict[str, Any], config: Mapping[str, Any] | None = None) -> list[str]:
    config = config or defaults(isolation.RUNNER_CLASS)
    return [f.path or "" for f in isolation.check_runner_class(RUNNER, props, config)]


def toleration(cls: str, **over: Any) -> dict[str, Any]:
    return {"key": KEY, "operator": "Equal", "value": cls, "effect": "NoSchedule", **over}


def runner(
    cls: str, tolerations: list[dict[str, Any]] | None = None, privileged: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeSelector": {KEY: cls},
        "tolerations": [toleration(cls)] if tolerations is None else tolerations,
        "dockerEnabled": False,
        "containers": [{"name": "runner", "image": "r@sha256:" + "a" * 64}],
    }
    if privileged:
        spec["containers"].append(
            {"name": "helper", "image": "h:1", "securityContext": {"privileged": True}}
        )
    return {"spec": spec}


def test_a_standard_runner_with_its_own_toleration_passes() -> None:
    assert runner_class(runner("standard")) == []


def test_the_operator_may_be_left_out_it_defaults_to_equal() -> None:
    own = toleration("standard")
    del own["operator"]
    assert runner_class(runner("standard", [own])) == []


@pytest.mark.parametrize(
    "change",
    [
        {"operator": "Exists"},
        {"value": "privileged-payments"},
        {"value": "standarz"},
        {"effect": "NoExecute"},
        {"effect": "PreferNoSchedule"},
        {"key": "arc-eks.io/isolatio"},
    ],
)
def test_a_toleration_that_is_not_exactly_the_class_taint_is_not_its_own(
    change: dict[str, Any],
) -> None:
    found = runner_class(runner("standard", [toleration("standard", **change)]))
    assert "spec.tolerations" in found


@pytest.mark.parametrize(
    "extra",
    [
        {"operator": "Exists"},  # no key: every taint
        {"key": "", "operator": "Exists"},
        {"key": KEY, "operator": "Exists"},
        toleration("privileged-payments"),
    ],
)
def test_a_second_toleration_for_other_classes_is_found_at_its_index(
    extra: dict[str, Any],
) -> None:
    found = runner_class(runner("standard", [toleration("standard"), extra]))
    assert found == ["spec.tolerations[1]"]


def test_a_toleration_of_an_unrelated_taint_is_left_alone() -> None:
    other = {"key": "example.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert runner_class(runner("standard", [toleration("standard"), other])) == []


@pytest.mark.parametrize("selector", [{}, {KEY: ""}, {KEY: 3}])
def test_no_class_in_the_selector_is_refused(selector: dict[str, Any]) -> None:
    props = runner("standard")
    props["spec"]["nodeSelector"] = selector
    assert runner_class(props) == ["spec.nodeSelector"]


def test_privileged_containers_need_a_privileged_class() -> None:
    assert runner_class(runner("standard", privileged=True)) == [f"spec.nodeSelector.{KEY}"]
    assert runner_class(runner("privileged-payments", privileged=True)) == []
    assert runner_class(runner("privileged", privileged=True)) == []


@pytest.mark.parametrize("cls", ["privileged-payments", "privileged", "system"])
def test_an_unprivileged_runner_never_selects_a_privileged_or_the_system_class(cls: str) -> None:
    assert runner_class(runner(cls)) == [f"spec.nodeSelector.{KEY}"]


def test_a_class_merely_containing_the_prefix_is_not_privileged() -> None:
    assert runner_class(runner("not-privileged")) == []
    assert runner_class(runner("not-privileged", privileged=True)) == [f"spec.nodeSelector.{KEY}"]


def test_arcs_implicit_docker_sidecar_counts_as_privileged() -> None:
    props = runner("standard")
    del props["spec"]["dockerEnabled"]  # ARC adds its privileged docker sidecar
    assert runner_class(props) == [f"spec.nodeSelector.{KEY}"]


def test_the_keys_come_from_the_config() -> None:
    config = {
        **defaults(isolation.RUNNER_CLASS),
        "isolationKey": "example.com/class",
        "privilegedClassPrefix": "root",
        "systemClass": "platform",
    }
    props: dict[str, Any] = {
        "spec": {
            "nodeSelector": {"example.com/class": "platform"},
            "tolerations": [
                {"key": "example.com/class", "value": "platform", "effect": "NoSchedule"}
            ],
            "dockerEnabled": False,
            "containers": [{"name": "runner", "image": "r:1"}],
        }
    }
    assert runner_class(props, config) == ["spec.nodeSelector.example.com/class"]
    props["spec"]["nodeSelector"]["example.com/class"] = "root-a"
    props["spec"]["tolerations"][0]["value"] = "root-a"
    assert runner_class(props, config) == ["spec.nodeSelector.example.com/class"]


# --- the hooks' Role and its bindings in runner namespaces ----------------------------------------


def hooks(typ: str, props: dict[str, Any]) -> list[str]:
    config = defaults(isolation.HOOKS_RBAC)
    return [f.path or "" for f in isolation.check_hooks_rbac(typ, props, config)]


def role(*rules: dict[str, Any], namespace: str = "runners-web-k8s", **meta: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, **meta}, "rules": list(rules)}


def core(resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": [""], "resources": resources, "verbs": verbs}


EXACT = (
    core(["pods"], ["get", "list", "create", "delete"]),
    core(["pods/exec"], ["get", "create"]),
    core(["pods/log"], ["get", "list", "watch"]),
    core(["secrets"], ["get", "list", "create", "delete"]),
)


def test_the_hooks_exact_role_passes() -> None:
    assert hooks(isolation.ROLE, role(*EXACT)) == []


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        (core(["pods"], ["patch"]), "rules[4].verbs"),
        (core(["pods"], ["*"]), "rules[4].verbs"),
        (core(["*"], ["get"]), "rules[4].resources"),
        (core(["serviceaccounts/token"], ["create"]), "rules[4].resources"),
        ({"apiGroups": ["batch"], "resources": ["pods"], "verbs": ["get"]}, "rules[4].apiGroups"),
        (
            {"apiGroups": ["", "apps"], "resources": ["pods"], "verbs": ["get"]},
            "rules[4].apiGroups",
        ),
        ({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}, "rules[4].apiGroups"),
        (
            {"nonResourceURLs": ["/metrics"], "apiGroups": [""], "verbs": ["get"]},
            "rules[4].nonResourceURLs",
        ),
    ],
)
def test_anything_beyond_the_hooks_needs_is_found_in_a_later_rule(
    bad: dict[str, Any], path: str
) -> None:
    assert path in hooks(isolation.ROLE, role(*EXACT, bad))


@pytest.mark.parametrize("namespace", ["runners-web", "runners-x-y"])
def test_every_runner_namespace_is_checked(namespace: str) -> None:
    assert hooks(isolation.ROLE, role(core(["nodes"], ["get"]), namespace=namespace))


@pytest.mark.parametrize("namespace", ["arc-system", "kube-system", "my-runners-web", None])
def test_roles_outside_runner_namespaces_are_not_this_rules_business(
    namespace: str | None,
) -> None:
    assert hooks(isolation.ROLE, role(core(["nodes"], ["get"]), namespace=namespace)) == []  # type: ignore[arg-type]


def test_the_scale_set_manager_role_needs_both_chart_labels_to_be_exempt() -> None:
    wide = core(["serviceaccounts"], ["create"])
    # The labels the gha-runner-scale-set 0.14.2 chart puts on its manager Role
    # (templates/manager_role.yaml, _helpers.tpl), written out: not read from the rule's constant.
    labels = {"app.kubernetes.io/part-of": "gha-rs", "app.kubernetes.io/component": "manager-role"}
    assert hooks(isolation.ROLE, role(wide, labels=labels)) == []
    for key in labels:
        one_missing = {k: v for k, v in labels.items() if k != key}
        assert hooks(isolation.ROLE, role(wide, labels=one_missing)) == ["rules[0].resources"]
        wrong = {**labels, key: "x"}
        assert hooks(isolation.ROLE, role(wide, labels=wrong)) == ["rules[0].resources"]


def binding(*subjects: dict[str, Any], kind: str = "Role") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "runners-web-k8s"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": "hooks"},
        "subjects": list(subjects),
    }


POOL_SA = {"kind": "ServiceAccount", "name": "web-k8s", "namespace": "runners-web-k8s"}


def test_a_binding_of_the_hooks_role_to_the_pools_service_account_passes() -> None:
    assert hooks(isolation.ROLE_BINDING, binding(POOL_SA)) == []


def test_a_cluster_role_bound_in_a_runner_namespace_is_found() -> None:
    assert hooks(isolation.ROLE_BINDING, binding(POOL_SA, kind="ClusterRole")) == ["roleRef.kind"]


@pytest.mark.parametrize(
    "subject",
    [
        {"kind": "ServiceAccount", "name": "default", "namespace": "runners-web-k8s"},
        {"kind": "Group", "name": "system:serviceaccounts"},
    ],
)
def test_the_default_service_account_or_a_group_is_found_as_a_later_subject(
    subject: dict[str, Any],
) -> None:
    assert hooks(isolation.ROLE_BINDING, binding(POOL_SA, subject)) == ["subjects[1]"]


def test_a_user_named_default_is_not_the_default_service_account() -> None:
    user = {"kind": "User", "name": "default", "apiGroup": "rbac.authorization.k8s.io"}
    assert hooks(isolation.ROLE_BINDING, binding(POOL_SA, user)) == []
