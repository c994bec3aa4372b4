"""The isolation resource rules (policies/arc_policies/isolation.py) on hand-built inputs: each
guard refuses what it must and accepts its boundary, and a violation in a later position (second
toleration, second rule, second subject) is found. The whole-program view is
tests/test_isolation_policies.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from arc_eks.review import policies as review_policies
from policies.arc_policies import isolation, registry
from policies.arc_policies._support import UNKNOWN, Rule, StackRule
from policies.arc_policies.testing import Violation, engine_props, run_resource_policy

SUMMERWIND = "kubernetes:actions.summerwind.dev/v1alpha1:"
RUNNER = SUMMERWIND + "Runner"
RUNNER_KINDS = {RUNNER, SUMMERWIND + "RunnerDeployment", SUMMERWIND + "RunnerReplicaSet"}
RUNNER_KINDS |= {SUMMERWIND + "RunnerSet"}
KEY = "arc-eks.io/isolation"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


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
    assert runner_class(runner("standard", [toleration("standard", operator="")])) == []


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


@pytest.mark.parametrize(
    "context",
    [{"capabilities": {"add": ["SYS_ADMIN"]}}, {"procMount": "Unmasked"}],
    ids=["SYS_ADMIN", "procMount"],
)
def test_a_container_lifted_short_of_privileged_needs_a_privileged_class(
    context: dict[str, Any],
) -> None:
    props = runner("standard")
    props["spec"]["containers"].append(
        {"name": "helper", "image": "h:1", "securityContext": context}
    )
    assert runner_class(props) == [f"spec.nodeSelector.{KEY}"]
    props["spec"]["nodeSelector"] = {KEY: "privileged-payments"}
    props["spec"]["tolerations"] = [toleration("privileged-payments")]
    assert runner_class(props) == []
    # Pod Security baseline's own capabilities lift nothing.
    props = runner("standard")
    baseline = {"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}, "procMount": "Default"}
    props["spec"]["containers"].append({"name": "h", "image": "h:1", "securityContext": baseline})
    assert runner_class(props) == []


@pytest.mark.parametrize("cls", ["privileged-payments", "privileged", "system"])
def test_an_unprivileged_runner_never_selects_a_privileged_or_the_system_class(cls: str) -> None:
    assert runner_class(runner(cls)) == [f"spec.nodeSelector.{KEY}"]


def test_the_system_class_is_refused_on_props_as_the_engine_sends_them() -> None:
    found = engine_paths(isolation.RUNNER_CLASS, RUNNER, runner("system"))
    assert found == [f"spec.nodeSelector.{KEY}"]


@pytest.mark.parametrize("cls", ["standard", "web", "zeta", "systems"])
def test_an_unprivileged_runner_may_select_any_other_class(cls: str) -> None:
    assert runner_class(runner(cls)) == []


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


def test_a_runner_without_a_spec_has_nothing_to_place() -> None:
    assert runner_class({}) == []
    assert runner_class({"spec": UNKNOWN}) == []


@pytest.mark.parametrize("field", ["nodeSelector", "tolerations"])
def test_an_unknown_selector_or_tolerations_leave_the_pod_for_the_update(field: str) -> None:
    props = runner("standard", privileged=True)
    props["spec"][field] = UNKNOWN
    assert runner_class(props) == []


def test_an_unknown_privileged_flag_leaves_only_the_class_choice_unjudged() -> None:
    for cls in ("standard", "privileged-payments", "system"):
        props = runner(cls)
        props["spec"]["containers"].append(
            {"name": "helper", "image": "h:1", "securityContext": {"privileged": UNKNOWN}}
        )
        assert runner_class(props) == []
    # ... while the tolerations are still judged.
    props = runner("standard", [toleration("standard"), {"operator": "Exists"}])
    props["spec"]["containers"].append(
        {"name": "helper", "image": "h:1", "securityContext": {"privileged": UNKNOWN}}
    )
    assert runner_class(props) == ["spec.tolerations[1]"]


def test_a_missing_toleration_and_a_foreign_one_are_both_found() -> None:
    found = runner_class(runner("standard", [toleration("privileged-payments")]))
    assert found == ["spec.tolerations", "spec.tolerations[0]"]


@pytest.mark.parametrize("kind", sorted(RUNNER_KINDS))
def test_every_runner_kind_is_placed_by_its_pod_template(kind: str) -> None:
    config = defaults(isolation.RUNNER_CLASS)
    props = runner("standard", privileged=True)
    if kind != RUNNER:
        props = {"spec": {"template": props}}
    found = [f.path for f in isolation.check_runner_class(kind, props, config)]
    base = "spec" if kind == RUNNER else "spec.template.spec"
    assert found == [f"{base}.nodeSelector.{KEY}"]
    assert isolation.RUNNER_CLASS.resource_types == frozenset(RUNNER_KINDS)


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
    assert hooks(ROLE, role(*EXACT)) == []


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
    assert path in hooks(ROLE, role(*EXACT, bad))


@pytest.mark.parametrize("namespace", ["runners-web", "runners-x-y"])
def test_every_runner_namespace_is_checked(namespace: str) -> None:
    assert hooks(ROLE, role(core(["nodes"], ["get"]), namespace=namespace))


@pytest.mark.parametrize("namespace", ["arc-system", "kube-system", "my-runners-web", None])
def test_roles_outside_runner_namespaces_are_not_this_rules_business(
    namespace: str | None,
) -> None:
    assert hooks(ROLE, role(core(["nodes"], ["get"]), namespace=namespace)) == []  # type: ignore[arg-type]


def test_the_scale_set_manager_role_needs_both_chart_labels_to_be_exempt() -> None:
    wide = core(["serviceaccounts"], ["create"])
    # The labels the gha-runner-scale-set 0.14.2 chart puts on its manager Role
    # (templates/manager_role.yaml, _helpers.tpl), written out: not read from the rule's constant.
    labels = {"app.kubernetes.io/part-of": "gha-rs", "app.kubernetes.io/component": "manager-role"}
    assert hooks(ROLE, role(wide, labels=labels)) == []
    for key in labels:
        one_missing = {k: v for k, v in labels.items() if k != key}
        assert hooks(ROLE, role(wide, labels=one_missing)) == ["rules[0].resources"]
        wrong = {**labels, key: "x"}
        assert hooks(ROLE, role(wide, labels=wrong)) == ["rules[0].resources"]


def binding(*subjects: dict[str, Any], kind: str = "Role") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "runners-web-k8s"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": "hooks"},
        "subjects": list(subjects),
    }


POOL_SA = {"kind": "ServiceAccount", "name": "web-k8s", "namespace": "runners-web-k8s"}


def test_a_binding_of_the_hooks_role_to_the_pools_service_account_passes() -> None:
    assert hooks(ROLE_BINDING, binding(POOL_SA)) == []


def test_a_cluster_role_bound_in_a_runner_namespace_is_found() -> None:
    assert hooks(ROLE_BINDING, binding(POOL_SA, kind="ClusterRole")) == ["roleRef.kind"]


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
    assert hooks(ROLE_BINDING, binding(POOL_SA, subject)) == ["subjects[1]"]


def test_the_cluster_role_is_named_in_the_finding() -> None:
    cluster_wide = binding(POOL_SA, kind="ClusterRole")
    cluster_wide["roleRef"]["name"] = "cluster-admin"
    config = defaults(isolation.HOOKS_RBAC)
    (finding,) = isolation.check_hooks_rbac(ROLE_BINDING, cluster_wide, config)
    assert '"cluster-admin"' in finding.problem


def test_the_group_is_named_in_the_finding() -> None:
    group = {"kind": "Group", "name": "system:authenticated"}
    config = defaults(isolation.HOOKS_RBAC)
    (finding,) = isolation.check_hooks_rbac(ROLE_BINDING, binding(group), config)
    assert '"system:authenticated"' in finding.problem


def engine_paths(rule: Rule, typ: str, props: dict[str, Any]) -> list[str]:
    """The rule run as the engine runs it: props off the wire (fresh strings, never the module's
    own constants), config defaults from the schema."""
    report = run_resource_policy(rule.policy(), typ, "r", engine_props(props))
    assert all(isinstance(v, Violation) for v in report), report
    return [v.message.split(": ")[1] for v in report]


def test_a_cluster_role_binding_or_a_group_is_found_on_props_as_the_engine_sends_them() -> None:
    group = {"kind": "Group", "name": "system:serviceaccounts"}
    found = engine_paths(isolation.HOOKS_RBAC, ROLE_BINDING, binding(group, kind="ClusterRole"))
    assert found == ["roleRef.kind", "subjects[0]"]


def test_a_group_named_default_is_found_once_as_a_group() -> None:
    group = {"kind": "Group", "name": "default", "apiGroup": "rbac.authorization.k8s.io"}
    assert hooks(ROLE_BINDING, binding(POOL_SA, group)) == ["subjects[1]"]


def test_an_unknown_role_ref_kind_or_subject_kind_is_left_for_the_update() -> None:
    pending = binding(POOL_SA, {"kind": UNKNOWN, "name": "default"})
    pending["roleRef"]["kind"] = UNKNOWN
    assert hooks(ROLE_BINDING, pending) == []


def test_a_user_named_default_is_not_the_default_service_account() -> None:
    user = {"kind": "User", "name": "default", "apiGroup": "rbac.authorization.k8s.io"}
    assert hooks(ROLE_BINDING, binding(POOL_SA, user)) == []


def test_the_rule_reads_roles_and_role_bindings() -> None:
    assert isolation.HOOKS_RBAC.resource_types == {ROLE, ROLE_BINDING}


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        (core(["pods", "nodes"], ["get"]), "rules[0].resources"),
        (core(["pods/log", "pods"], ["get", "watch"]), "rules[0].verbs"),
        (core(["pods"], ["get", "list", "patch"]), "rules[0].verbs"),
        (core(["pods/exec"], ["get", "create", "*"]), "rules[0].verbs"),
        (core(["secrets", "*"], ["get"]), "rules[0].resources"),
        ({"resources": ["pods"], "verbs": ["get"]}, "rules[0].apiGroups"),
        ({"apiGroups": ["", "*"], "resources": ["pods"], "verbs": ["get"]}, "rules[0].apiGroups"),
    ],
)
def test_a_later_resource_verb_or_group_in_one_rule_is_found(
    bad: dict[str, Any], path: str
) -> None:
    assert hooks(ROLE, role(bad)) == [path]


def test_every_violation_of_a_rule_is_found() -> None:
    rule = {
        "apiGroups": ["apps"],
        "resources": ["pods", "deployments", "secrets"],
        "verbs": ["get", "patch"],
        "nonResourceURLs": ["/healthz"],
    }
    assert hooks(ROLE, role(*EXACT, rule)) == [
        "rules[4].nonResourceURLs",
        "rules[4].apiGroups",
        "rules[4].verbs",
        "rules[4].resources",
        "rules[4].verbs",
    ]


def test_an_unknown_rule_is_left_for_the_update_and_the_next_is_judged() -> None:
    assert hooks(ROLE, role(UNKNOWN, core(["nodes"], ["get"]))) == ["rules[1].resources"]


def test_a_role_without_rules_grants_nothing() -> None:
    assert hooks(ROLE, {"metadata": {"namespace": "runners-web-k8s"}}) == []


def test_the_runner_namespaces_and_allowed_rules_come_from_the_config() -> None:
    config = {
        **defaults(isolation.HOOKS_RBAC),
        "runnerNamespaces": ["ci", "jobs-*"],
        "allowedRules": {"configmaps": ["get"], "pods": []},
    }

    def found(props: dict[str, Any], typ: str = ROLE) -> list[str]:
        return [f.path for f in isolation.check_hooks_rbac(typ, props, config)]

    assert found(role(core(["configmaps"], ["get"]), namespace="ci")) == []
    assert found(role(core(["configmaps"], ["get"]), namespace="jobs-x")) == []
    assert found(role(core(["pods"], ["get"]), namespace="jobs-x")) == ["rules[0].verbs"]
    assert found(role(core(["secrets"], ["get"]), namespace="ci")) == ["rules[0].resources"]
    assert found(role(core(["configmaps"], ["list"]), namespace="ci")) == ["rules[0].verbs"]
    assert found(role(core(["nodes"], ["get"]), namespace="runners-web")) == []
    assert found(role(core(["nodes"], ["get"]), namespace="cix")) == []
    cluster_wide = binding(POOL_SA, kind="ClusterRole")
    cluster_wide["metadata"]["namespace"] = "ci"
    assert found(cluster_wide, ROLE_BINDING) == ["roleRef.kind"]


def test_bindings_outside_runner_namespaces_are_not_this_rules_business() -> None:
    outside = binding({"kind": "Group", "name": "system:authenticated"}, kind="ClusterRole")
    outside["metadata"]["namespace"] = "arc-system"
    assert hooks(ROLE_BINDING, outside) == []


def test_a_binding_is_never_exempt_by_the_manager_roles_labels() -> None:
    labels = {"app.kubernetes.io/part-of": "gha-rs", "app.kubernetes.io/component": "manager-role"}
    labelled = binding({"kind": "ServiceAccount", "name": "default"}, kind="ClusterRole")
    labelled["metadata"]["labels"] = labels
    assert hooks(ROLE_BINDING, labelled) == ["roleRef.kind", "subjects[0]"]


def test_a_binding_is_judged_on_its_subjects_not_as_a_role() -> None:
    # No `rules`: a RoleBinding is never judged as a Role, even one with stray rules.
    stray = binding(POOL_SA)
    stray["rules"] = [core(["nodes"], ["get"])]
    assert hooks(ROLE_BINDING, stray) == []


def test_every_subject_of_a_binding_is_judged() -> None:
    default_sa = {"kind": "ServiceAccount", "name": "default", "namespace": "runners-web-k8s"}
    group = {"kind": "Group", "name": "system:serviceaccounts"}
    found = hooks(ROLE_BINDING, binding(group, POOL_SA, default_sa, kind="ClusterRole"))
    assert found == ["roleRef.kind", "subjects[0]", "subjects[2]"]


def test_a_service_account_named_otherwise_or_another_kind_named_default_is_left_alone() -> None:
    others = [
        {"kind": "ServiceAccount", "name": "defaults", "namespace": "runners-web-k8s"},
        {"kind": "ServiceAccount", "name": "builder", "namespace": "runners-web-k8s"},
        {"kind": "User", "name": "default"},
        {"kind": "Groups", "name": "x"},
    ]
    assert hooks(ROLE_BINDING, binding(*others)) == []


# --- a Role labelled as the scale-set controller's manager Role --------------------------------

MANAGER_LABELS = {
    "app.kubernetes.io/part-of": "gha-rs",
    "app.kubernetes.io/component": "manager-role",
}
RBAC = "rbac.authorization.k8s.io"
# gha-runner-scale-set 0.14.2 templates/manager_role.yaml, written out (the configmaps rule with
# githubServerTLS).
CHART_MANAGER_RULES = (
    core(["pods"], ["create", "delete", "get"]),
    core(["pods/status"], ["get"]),
    core(["secrets"], ["create", "delete", "get", "list", "patch", "update"]),
    core(["serviceaccounts"], ["create", "delete", "get", "list", "patch", "update"]),
    {
        "apiGroups": [RBAC],
        "resources": ["rolebindings"],
        "verbs": ["create", "delete", "get", "patch", "update"],
    },
    {
        "apiGroups": [RBAC],
        "resources": ["roles"],
        "verbs": ["create", "delete", "get", "patch", "update"],
    },
    core(["configmaps"], ["get"]),
)


def manager(*rules: Any) -> dict[str, Any]:
    return role(*rules, labels={**MANAGER_LABELS, "app.kubernetes.io/instance": "web-k8s"})


def test_the_charts_manager_role_passes() -> None:
    assert hooks(ROLE, manager(*CHART_MANAGER_RULES)) == []


def test_the_manager_roles_rules_may_be_combined_and_narrowed() -> None:
    combined = core(["pods", "secrets", "serviceaccounts"], ["get", "create", "delete"])
    both = {"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": ["get"]}
    named = {**core(["secrets"], ["get"]), "resourceNames": ["web-k8s-github-secret"]}
    assert hooks(ROLE, manager(combined, both, named)) == []


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        (core(["secrets"], ["watch"]), "rules[7].verbs"),
        (core(["pods"], ["get", "list"]), "rules[7].verbs"),
        (core(["pods/status"], ["get", "update"]), "rules[7].verbs"),
        (core(["configmaps"], ["get", "list"]), "rules[7].verbs"),
        (core(["secrets"], ["*"]), "rules[7].verbs"),
        (core(["pods/exec"], ["create"]), "rules[7].resources"),
        (core(["pods", "pods/exec"], ["get"]), "rules[7].resources"),
        (core(["*"], ["get"]), "rules[7].resources"),
        (core(["roles"], ["get"]), "rules[7].resources"),
        ({"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["get"]}, "rules[7].resources"),
        ({"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["escalate"]}, "rules[7].verbs"),
        ({"apiGroups": [RBAC], "resources": ["rolebindings"], "verbs": ["bind"]}, "rules[7].verbs"),
        ({"apiGroups": [RBAC], "resources": ["secrets"], "verbs": ["get"]}, "rules[7].resources"),
        ({"apiGroups": ["", RBAC], "resources": ["pods"], "verbs": ["get"]}, "rules[7].resources"),
        (
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
            "rules[7].resources",
        ),
        ({"nonResourceURLs": ["/metrics"], "verbs": ["get"]}, "rules[7].nonResourceURLs"),
    ],
)
def test_a_role_labelled_as_the_manager_role_granting_more_is_refused(
    bad: dict[str, Any], path: str
) -> None:
    assert hooks(ROLE, manager(*CHART_MANAGER_RULES, bad)) == [path]


def test_every_resource_and_group_of_a_manager_role_rule_is_judged() -> None:
    rule = {"apiGroups": ["apps", ""], "resources": ["pods/exec", "pods"], "verbs": ["get", "list"]}
    assert hooks(ROLE, manager(rule)) == [
        "rules[0].resources",
        "rules[0].resources",
        "rules[0].resources",
        "rules[0].verbs",
    ]


def test_an_unknown_rule_of_the_manager_role_is_left_for_the_update() -> None:
    found = hooks(ROLE, manager(UNKNOWN, core(["pods/exec"], ["create"])))
    assert found == ["rules[1].resources"]


# --- the config the engine validates against each rule's schema -----------------------------------


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        (
            "arc-runner-pod-isolation-class",
            {"isolationKey": "k", "privilegedClassPrefix": "p", "systemClass": "s"},
            [{"isolationKey": 3}, {"privilegedClassPrefix": ["p"]}, {"systemClass": True}],
        ),
        (
            "kubernetes-privileged-only-on-marked-node-groups",
            {"privilegedNodesLabel": "l", "privilegedNodesValue": "v"},
            [{"privilegedNodesLabel": 1}, {"privilegedNodesValue": ["v"]}],
        ),
        (
            "kubernetes-container-hooks-role-least-privilege",
            {"runnerNamespaces": ["ci-*"], "allowedRules": {"pods": ["get"]}},
            [
                {"runnerNamespaces": "ci-*"},
                {"runnerNamespaces": [1]},
                {"allowedRules": ["pods"]},
                {"allowedRules": {"pods": "get"}},
                {"allowedRules": {"pods": [1]}},
            ],
        ),
    ],
)
def test_the_engine_refuses_a_config_of_the_wrong_type(
    name: str, good: dict[str, Any], bad: list[dict[str, Any]]
) -> None:
    policies = registry.build_policies()
    assert review_policies.config_problems({name: good}, policies) == []
    for entry in bad:
        assert review_policies.config_problems({name: entry}, policies), entry


@pytest.mark.parametrize(
    "rule", [isolation.RUNNER_CLASS, isolation.PRIVILEGED_PLACEMENT, isolation.HOOKS_RBAC]
)
def test_every_config_key_is_described(rule: Rule | StackRule) -> None:
    for key, spec in rule.config.items():
        assert spec["description"], key
