"""The isolation stack rules (policies/arc_policies/isolation.py) on hand-built stacks, wrapped
the way `AnalyzeStack` wraps them (engine props, parents linked): privileged pods only on node
groups marked for them, and a default-deny NetworkPolicy in every runner namespace. Each guard
refuses what it must and accepts its boundary; a violation in a later position (second container,
second workload, second rule, second peer) is found. The whole-program view is
tests/test_isolation_policies.py."""

from __future__ import annotations

from typing import Any

import pytest

from policies.arc_policies import isolation
from policies.arc_policies._support import StackRule
from policies.arc_policies.testing import (
    UNKNOWN_SENTINELS,
    Skipped,
    StackEntry,
    engine_props,
    policy_resources,
    run_stack_policy,
    urn_for,
)

MNG = "eks:index:ManagedNodeGroup"
AWS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SELF_MANAGED = "eks:index:NodeGroupV2"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
POD = "kubernetes:core/v1:Pod"
CRON_JOB = "kubernetes:batch/v1:CronJob"
SUMMERWIND = "kubernetes:actions.summerwind.dev/v1alpha1:"
RUNNER = SUMMERWIND + "Runner"
RUNNER_DEPLOYMENT = SUMMERWIND + "RunnerDeployment"
RUNNER_KINDS = [
    RUNNER_DEPLOYMENT,
    SUMMERWIND + "RunnerReplicaSet",
    SUMMERWIND + "RunnerSet",
    RUNNER,
]
WORKLOAD_KINDS = [
    POD,
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:core/v1:ReplicationController",
    CRON_JOB,
    *RUNNER_KINDS,
]
SCALE_SET = "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
KEY = "arc-eks.io/isolation"
MARK = "arc-eks.io/privileged-pods"

Item = tuple[str, str, dict[str, Any]]


def entries(items: list[Item]) -> list[StackEntry]:
    """Engine-wrapped entries; an item named `parent/child` has the item named `parent` as parent."""
    out: list[StackEntry] = []
    for typ, name, inputs in items:
        parent = next((e.urn for e in out if "/" in name and e.name == name.split("/")[0]), None)
        out.append(StackEntry(typ, name, urn_for(typ, name), engine_props(inputs), parent))
    return out


def report(rule: StackRule, items: list[Item], config: dict[str, Any] | None = None) -> list[Any]:
    found = run_stack_policy(rule.policy(), policy_resources(entries(items)), config)
    assert not [r for r in found if isinstance(r, Skipped)], found
    return found


def run(rule: StackRule, items: list[Item], config: dict[str, Any] | None = None) -> list[str]:
    """URNs of the rule's violations, in order."""
    return [r.urn or "" for r in report(rule, items, config)]


def messages(rule: StackRule, items: list[Item]) -> list[str]:
    return [r.message for r in report(rule, items)]


def urn(typ: str, name: str) -> str:
    return urn_for(typ, name)


# --- privileged pods only on node groups marked for them ------------------------------------------


def node_group(cls: str | None, *, marked: bool = False) -> dict[str, Any]:
    """A node group as the package builds it: a tainted runner class, or with None the untainted
    system group."""
    labels = {"arc-eks.io/node-role": "runners" if cls else "system"}
    if cls:
        labels[KEY] = cls
    if marked:
        labels[MARK] = "true"
    taints = [{"key": KEY, "value": cls, "effect": "NO_SCHEDULE"}] if cls else []
    return {"instanceTypes": ["t3a.large"], "labels": labels, "taints": taints}


GROUPS: list[Item] = [
    (MNG, "system", node_group(None)),
    (MNG, "standard", node_group("standard")),
    (MNG, "privileged", node_group("privileged-payments", marked=True)),
]


def pod(cls: str | None, *, privileged: bool = True) -> dict[str, Any]:
    """A pod spec placed on a class (nodeSelector and its taint's toleration), with a privileged
    container second, after an unprivileged one."""
    spec: dict[str, Any] = {
        "dockerEnabled": False,  # no implicit dind sidecar on the runner kinds
        "containers": [
            {"name": "runner", "image": "r:1"},
            {"name": "build", "image": "b:1", "securityContext": {"privileged": privileged}},
        ],
    }
    if cls:
        spec["nodeSelector"] = {KEY: cls}
        spec["tolerations"] = [
            {"key": KEY, "operator": "Equal", "value": cls, "effect": "NoSchedule"}
        ]
    return spec


def workload(kind: str, spec: dict[str, Any], namespace: str = "runners-a") -> dict[str, Any]:
    """A workload of `kind` with `spec` as its pod (or runner) spec, where that kind keeps it."""
    metadata = {"name": "w", "namespace": namespace}
    if kind in (POD, RUNNER):
        return {"metadata": metadata, "spec": spec}
    if kind == CRON_JOB:
        return {
            "metadata": metadata,
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": spec}}}},
        }
    return {"metadata": metadata, "spec": {"template": {"spec": spec}}}


def placement(items: list[Item], config: dict[str, Any] | None = None) -> list[str]:
    return run(isolation.PRIVILEGED_PLACEMENT, items, config)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_a_privileged_pod_on_its_marked_group_passes(kind: str) -> None:
    items = [*GROUPS, (kind, "pool", workload(kind, pod("privileged-payments")))]
    assert placement(items) == []


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_a_privileged_pod_on_an_unmarked_group_is_found_for_every_workload_kind(kind: str) -> None:
    items = [*GROUPS, (kind, "pool", workload(kind, pod("standard")))]
    assert placement(items) == [urn(kind, "pool")]
    (message,) = messages(isolation.PRIVILEGED_PLACEMENT, items)
    assert "['build']" in message and "'standard'" in message
    assert "'system'" not in message and "'privileged'" not in message


@pytest.mark.parametrize(
    "context",
    [{"capabilities": {"add": ["NET_ADMIN"]}}, {"procMount": "Unmasked"}],
    ids=["NET_ADMIN", "procMount"],
)
def test_a_container_lifted_short_of_privileged_counts(context: dict[str, Any]) -> None:
    spec = pod("standard", privileged=False)
    spec["containers"][1]["securityContext"] = context
    items = [*GROUPS, (POD, "pool", workload(POD, spec))]
    assert placement(items) == [urn(POD, "pool")]
    spec["containers"][1]["securityContext"] = {"capabilities": {"add": ["KILL"]}}
    assert placement([*GROUPS, (POD, "pool", workload(POD, spec))]) == []


def test_a_privileged_init_container_counts() -> None:
    spec = pod("standard", privileged=False)
    spec["initContainers"] = [
        {"name": "setup", "image": "s:1", "securityContext": {"privileged": True}}
    ]
    items = [*GROUPS, (POD, "pool", workload(POD, spec))]
    assert placement(items) == [urn(POD, "pool")]


def test_the_implicit_dind_sidecar_of_a_runner_counts() -> None:
    spec = pod("standard", privileged=False)
    del spec["dockerEnabled"]  # ARC adds its privileged docker sidecar
    items = [*GROUPS, (RUNNER_DEPLOYMENT, "pool", workload(RUNNER_DEPLOYMENT, spec))]
    assert placement(items) == [urn(RUNNER_DEPLOYMENT, "pool")]
    (message,) = messages(isolation.PRIVILEGED_PLACEMENT, items)
    assert "['docker']" in message


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_unprivileged_pods_go_anywhere(kind: str) -> None:
    items = [*GROUPS, (kind, "pool", workload(kind, pod(None, privileged=False)))]
    assert placement(items) == []


def test_a_later_workload_is_judged_after_ones_the_rule_passes() -> None:
    items = [
        *GROUPS,
        (POD, "fine", workload(POD, pod("privileged-payments"))),
        (POD, "unprivileged", workload(POD, pod(None, privileged=False))),
        (POD, "elsewhere", workload(POD, pod("standard"))),
    ]
    assert placement(items) == [urn(POD, "elsewhere")]


def test_each_misplaced_workload_is_found() -> None:
    items = [
        *GROUPS,
        (POD, "first", workload(POD, pod("standard"))),
        (CRON_JOB, "second", workload(CRON_JOB, pod(None))),
    ]
    assert placement(items) == [urn(POD, "first"), urn(CRON_JOB, "second")]


@pytest.mark.parametrize("kind", [POD, RUNNER_DEPLOYMENT])
def test_a_workload_without_a_pod_spec_has_nothing_to_place(kind: str) -> None:
    # A runner without one would otherwise be given ARC's implicit privileged dind sidecar.
    items = [
        *GROUPS,
        (kind, "empty", {"metadata": {"name": "w", "namespace": "runners-a"}}),
        (POD, "later", workload(POD, pod("standard"))),
    ]
    assert placement(items) == [urn(POD, "later")]


def test_a_resource_that_is_not_a_workload_is_not_judged() -> None:
    # A ConfigMap (or any CustomResource) shaped like a Deployment schedules nothing.
    items = [*GROUPS, (CONFIG_MAP, "lookalike", workload("x", pod("standard")))]
    assert placement(items) == []


def test_without_a_node_selector_the_untainted_system_group_takes_the_pod() -> None:
    items = [*GROUPS, (POD, "pool", workload(POD, pod(None)))]
    assert placement(items) == [urn(POD, "pool")]
    (message,) = messages(isolation.PRIVILEGED_PLACEMENT, items)
    assert "'system'" in message and "'standard'" not in message


def test_a_toleration_of_every_taint_without_a_selector_reaches_every_unmarked_group() -> None:
    spec = pod(None)
    spec["tolerations"] = [{"operator": "Exists"}]
    items = [*GROUPS, (POD, "pool", workload(POD, spec))]
    (message,) = messages(isolation.PRIVILEGED_PLACEMENT, items)
    assert f"{MNG} 'system', {MNG} 'standard'" in message
    assert "'privileged'" not in message


def test_node_affinity_alone_is_not_trusted_to_keep_a_privileged_pod_in_place() -> None:
    # The rule reads nodeSelector and tolerations only (its description says so): a pod steered by
    # affinity alone may still land on the system nodes as far as the rule can tell.
    spec = pod(None)
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": KEY, "operator": "In", "values": ["privileged-payments"]}
                        ]
                    }
                ]
            }
        }
    }
    assert placement([*GROUPS, (POD, "pool", workload(POD, spec))]) == [urn(POD, "pool")]


def test_a_group_label_other_than_true_is_not_the_mark() -> None:
    group = node_group("privileged-payments", marked=True)
    group["labels"][MARK] = "True"
    items = [(MNG, "privileged", group), (POD, "pool", workload(POD, pod("privileged-payments")))]
    assert placement(items) == [urn(POD, "pool")]
    del group["labels"][MARK]
    assert placement(items) == [urn(POD, "pool")]


def test_the_raw_aws_node_group_is_judged_like_the_component() -> None:
    raw = [
        (AWS_NODE_GROUP, "standard-ng", node_group("standard")),
        (AWS_NODE_GROUP, "privileged-ng", node_group("privileged-payments", marked=True)),
    ]
    assert placement([*raw, (POD, "ok", workload(POD, pod("privileged-payments")))]) == []
    assert placement([*raw, (POD, "pool", workload(POD, pod("standard")))]) == [urn(POD, "pool")]
    (message,) = messages(
        isolation.PRIVILEGED_PLACEMENT, [*raw, (POD, "pool", workload(POD, pod("standard")))]
    )
    assert f"{AWS_NODE_GROUP} 'standard-ng'" in message


def test_the_raw_node_group_of_a_component_is_not_judged_twice() -> None:
    # eks.ManagedNodeGroup creates an aws.eks.NodeGroup child with the same labels: the component
    # alone is named (a marked component's child is not judged on its own, unmarked, labels).
    child = node_group("standard")
    items = [
        (MNG, "standard", node_group("standard")),
        (AWS_NODE_GROUP, "standard/ng", child),
        (POD, "pool", workload(POD, pod("standard"))),
    ]
    (message,) = messages(isolation.PRIVILEGED_PLACEMENT, items)
    assert "'standard/ng'" not in message and f"{MNG} 'standard'" in message
    marked = [
        (MNG, "privileged", node_group("privileged-payments", marked=True)),
        (AWS_NODE_GROUP, "privileged/ng", node_group("privileged-payments")),
        (POD, "pool", workload(POD, pod("privileged-payments"))),
    ]
    assert placement(marked) == []


@pytest.mark.parametrize(
    "typ", ["aws:eks/cluster:Cluster", "aws:ec2/launchTemplate:LaunchTemplate", SELF_MANAGED]
)
def test_other_node_related_resources_are_not_node_groups(typ: str) -> None:
    # A pod tolerating every taint, without a selector, fits only the marked group here.
    spec = pod(None)
    spec["tolerations"] = [{"operator": "Exists"}]
    items = [
        (MNG, "privileged", node_group("privileged-payments", marked=True)),
        (typ, "other", {"labels": {}, "taints": []}),
        (POD, "pool", workload(POD, spec)),
    ]
    assert placement(items) == []


def test_a_stack_without_node_groups_has_nothing_to_judge() -> None:
    assert placement([(POD, "pool", workload(POD, pod(None)))]) == []


@pytest.mark.parametrize("field", ["labels", "taints"])
def test_a_group_whose_labels_or_taints_are_unknown_leaves_the_pod_unjudged(field: str) -> None:
    pending = {**node_group(None), field: UNKNOWN_SENTINELS["object"]}
    items = [
        *GROUPS,
        (MNG, "pending", pending),
        (POD, "pool", workload(POD, pod("standard"))),
        (POD, "later", workload(POD, pod("standard"))),
    ]
    assert placement(items) == []


def test_a_pod_whose_node_selector_is_unknown_is_not_judged() -> None:
    spec = pod("standard")
    spec["nodeSelector"] = UNKNOWN_SENTINELS["object"]
    items = [
        *GROUPS,
        (POD, "pending", workload(POD, spec)),
        (POD, "later", workload(POD, pod("standard"))),
    ]
    assert placement(items) == [urn(POD, "later")]


def test_unknown_tolerations_still_reach_the_untainted_groups_their_selector_allows() -> None:
    # Tolerations only matter on tainted groups: an untainted one takes the pod whatever they are.
    spec = pod("standard")
    spec["tolerations"] = UNKNOWN_SENTINELS["array"]
    assert placement([*GROUPS, (POD, "pinned", workload(POD, spec))]) == []
    del spec["nodeSelector"]
    assert placement([*GROUPS, (POD, "anywhere", workload(POD, spec))]) == [urn(POD, "anywhere")]


def test_an_unknown_privileged_flag_is_not_a_privileged_container() -> None:
    spec = pod("standard")
    spec["containers"][1]["securityContext"]["privileged"] = UNKNOWN_SENTINELS["boolean"]
    assert placement([*GROUPS, (POD, "pool", workload(POD, spec))]) == []


def test_the_mark_comes_from_the_config() -> None:
    group = node_group("privileged-payments")
    group["labels"]["example.com/root"] = "yes"
    items = [(MNG, "privileged", group), (POD, "pool", workload(POD, pod("privileged-payments")))]
    config = {"privilegedNodesLabel": "example.com/root", "privilegedNodesValue": "yes"}
    assert placement(items, config) == []
    assert placement(items) == [urn(POD, "pool")]
    assert placement(items, {**config, "privilegedNodesValue": "true"}) == [urn(POD, "pool")]


# --- runner namespaces are default-deny -----------------------------------------------------------


def net_pol(
    namespace: str | None = "runners-a",
    *,
    selector: dict[str, Any] | None = None,
    types: list[str] | None = None,
    ingress: list[Any] | None = None,
    egress: list[Any] | None = None,
) -> dict[str, Any]:
    """A NetworkPolicy: by default the default-deny one (every pod, both directions, no rules)."""
    spec: dict[str, Any] = {
        "podSelector": {} if selector is None else selector,
        "policyTypes": ["Ingress", "Egress"] if types is None else types,
    }
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    metadata: dict[str, Any] = {"name": "p"}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"metadata": metadata, "spec": spec}


def team_namespace(name: str = "runners-a", team: Any = "a") -> dict[str, Any]:
    labels = {} if team is None else {"arc-eks.io/team": team}
    return {"metadata": {"name": name, "labels": labels}}


def runners(namespace: str | None = "runners-a", kind: str = RUNNER_DEPLOYMENT) -> dict[str, Any]:
    props = workload(kind, pod("standard", privileged=False))
    if namespace is None:
        del props["metadata"]["namespace"]
    else:
        props["metadata"]["namespace"] = namespace
    return props


def deny(items: list[Item]) -> list[str]:
    return run(isolation.DEFAULT_DENY, items)


INTERNET = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"]}}]}


def test_a_team_namespace_with_its_default_deny_passes() -> None:
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "deny", net_pol()),
        (NETWORK_POLICY, "internet", net_pol(types=["Egress"], egress=[INTERNET])),
        (RUNNER_DEPLOYMENT, "pool", runners()),
    ]
    assert deny(items) == []


def test_a_team_namespace_without_one_is_reported_on_the_namespace() -> None:
    items = [(NAMESPACE, "ns", team_namespace()), (RUNNER_DEPLOYMENT, "pool", runners())]
    assert deny(items) == [urn(NAMESPACE, "ns")]
    (message,) = messages(isolation.DEFAULT_DENY, items)
    assert "'runners-a'" in message


@pytest.mark.parametrize("team", [None, UNKNOWN_SENTINELS["string"]])
def test_a_namespace_without_a_known_team_label_is_not_a_runner_namespace(team: Any) -> None:
    assert deny([(NAMESPACE, "ns", team_namespace(team=team))]) == []


def test_a_team_namespace_whose_name_is_unknown_is_left_for_the_update() -> None:
    pending = team_namespace(name=UNKNOWN_SENTINELS["string"])
    assert deny([(NAMESPACE, "ns", pending)]) == []


@pytest.mark.parametrize("kind", [*RUNNER_KINDS, SCALE_SET])
def test_a_namespace_holding_runners_is_a_runner_namespace(kind: str) -> None:
    assert deny([(kind, "pool", runners(kind=kind))]) == [urn(kind, "pool")]
    assert deny([(kind, "pool", runners(kind=kind)), (NETWORK_POLICY, "deny", net_pol())]) == []


def test_a_namespace_holding_only_other_workloads_is_not_a_runner_namespace() -> None:
    assert deny([("kubernetes:apps/v1:Deployment", "app", runners(kind="x"))]) == []


def test_runners_without_a_namespace_run_in_default() -> None:
    assert deny([(RUNNER, "pool", runners(None))]) == [urn(RUNNER, "pool")]
    assert (
        deny([(RUNNER, "pool", runners(None)), (NETWORK_POLICY, "deny", net_pol("default"))]) == []
    )
    assert deny([(RUNNER, "pool", runners(None)), (NETWORK_POLICY, "deny", net_pol(None))]) == []
    assert deny([(RUNNER, "pool", runners("")), (NETWORK_POLICY, "deny", net_pol(None))]) == []
    assert deny([(RUNNER, "pool", runners("runners-a")), (NETWORK_POLICY, "d", net_pol(None))]) == [
        urn(RUNNER, "pool")
    ]


def test_a_resource_shaped_like_a_default_deny_that_is_not_a_network_policy_does_not_count() -> (
    None
):
    lookalike = net_pol()
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (CONFIG_MAP, "lookalike", lookalike),
        ("kubernetes:networking.k8s.io/v1:Ingress", "ingress", lookalike),
        ("kubernetes:policy/v1:PodDisruptionBudget", "pdb", lookalike),
    ]
    assert deny(items) == [urn(NAMESPACE, "ns")]


def test_a_default_deny_in_another_namespace_does_not_count() -> None:
    items = [
        (NAMESPACE, "a", team_namespace("runners-a")),
        (NAMESPACE, "b", team_namespace("runners-b", team="b")),
        (NETWORK_POLICY, "deny-a", net_pol("runners-a")),
    ]
    assert deny(items) == [urn(NAMESPACE, "b")]


def test_every_runner_namespace_is_reported_once() -> None:
    items = [
        (NAMESPACE, "a", team_namespace("runners-a")),
        (RUNNER_DEPLOYMENT, "a-pool", runners("runners-a")),
        (RUNNER_DEPLOYMENT, "b-pool", runners("runners-b")),
        (RUNNER_DEPLOYMENT, "b-other", runners("runners-b")),
    ]
    assert deny(items) == [urn(NAMESPACE, "a"), urn(RUNNER_DEPLOYMENT, "b-pool")]


def test_the_namespace_is_reported_even_when_its_runners_come_first() -> None:
    items = [(RUNNER_DEPLOYMENT, "pool", runners()), (NAMESPACE, "ns", team_namespace())]
    assert deny(items) == [urn(NAMESPACE, "ns")]


@pytest.mark.parametrize(
    "policy",
    [
        net_pol(types=["Ingress"]),
        net_pol(types=["Egress"]),
        net_pol(types=[]),
        {"metadata": {"name": "p", "namespace": "runners-a"}, "spec": {"podSelector": {}}},
        net_pol(selector={"matchLabels": {"app": "build"}}),
        net_pol(selector={"matchExpressions": [{"key": "app", "operator": "Exists"}]}),
        {"metadata": {"name": "p", "namespace": "runners-a"}, "spec": {"policyTypes": ["Egress"]}},
        net_pol(egress=[INTERNET]),
    ],
)
def test_a_policy_short_of_default_deny_does_not_count(policy: dict[str, Any]) -> None:
    items = [(NAMESPACE, "ns", team_namespace()), (NETWORK_POLICY, "p", policy)]
    assert deny(items) == [urn(NAMESPACE, "ns")]


@pytest.mark.parametrize(
    "selector",
    [
        {},
        {"matchLabels": {}},
        {"matchExpressions": []},
        {"matchLabels": {}, "matchExpressions": []},
    ],
)
def test_an_empty_pod_selector_in_any_form_selects_every_pod(selector: dict[str, Any]) -> None:
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "deny", net_pol(selector=selector)),
    ]
    assert deny(items) == []


@pytest.mark.parametrize(
    "types",
    [
        ["Egress", "Ingress"],
        ["Ingress", "Egress", "Ingress"],
        ["Ingress", "Egress", UNKNOWN_SENTINELS["string"]],  # both known: the rest cannot undo it
    ],
)
def test_the_policy_types_may_come_in_any_order_among_others(types: list[str]) -> None:
    policy = net_pol(types=types)
    assert deny([(NAMESPACE, "ns", team_namespace()), (NETWORK_POLICY, "deny", policy)]) == []


def test_a_default_deny_after_other_policies_counts() -> None:
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "ingress-only", net_pol(types=["Ingress"])),
        (NETWORK_POLICY, "internet", net_pol(types=["Egress"], egress=[INTERNET])),
        (NETWORK_POLICY, "deny", net_pol()),
    ]
    assert deny(items) == []


def test_an_unknown_policy_spec_leaves_its_namespace_for_the_update() -> None:
    pending: dict[str, Any] = {"metadata": {"name": "p", "namespace": "runners-a"}}
    pending["spec"] = UNKNOWN_SENTINELS["object"]
    opens = net_pol(types=["Ingress"], ingress=[{}])
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "opens", opens),
        (NETWORK_POLICY, "pending", pending),
        (NAMESPACE, "b", team_namespace("runners-b", team="b")),
    ]
    assert deny(items) == [urn(NAMESPACE, "b")]


@pytest.mark.parametrize("field", ["podSelector", "policyTypes", "ingress", "egress"])
def test_a_policy_unknown_in_what_it_selects_denies_or_admits_leaves_its_namespace_for_the_update(
    field: str,
) -> None:
    pending = net_pol()
    pending["spec"][field] = UNKNOWN_SENTINELS["object" if field == "podSelector" else "array"]
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "pending", pending),
        (RUNNER, "b-pool", runners("runners-b", kind=RUNNER)),
    ]
    assert deny(items) == [urn(RUNNER, "b-pool")]


def test_a_policy_with_ingress_rules_is_not_the_default_deny_and_its_rules_are_found() -> None:
    items = [(NAMESPACE, "ns", team_namespace()), (NETWORK_POLICY, "p", net_pol(ingress=[{}]))]
    assert deny(items) == [urn(NAMESPACE, "ns"), urn(NETWORK_POLICY, "p")]


def test_every_ingress_rule_is_found_at_its_index() -> None:
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "deny", net_pol()),
        (NETWORK_POLICY, "opens", net_pol(types=["Ingress"], ingress=[{}, {"from": []}])),
    ]
    assert deny(items) == [urn(NETWORK_POLICY, "opens")] * 2
    first, second = messages(isolation.DEFAULT_DENY, items)
    assert "spec.ingress[0]" in first and "spec.ingress[1]" in second


def test_rules_of_policies_outside_runner_namespaces_are_not_judged() -> None:
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "deny", net_pol()),
        (
            NETWORK_POLICY,
            "web",
            net_pol("web", types=["Ingress", "Egress"], ingress=[{}], egress=[{}]),
        ),
    ]
    assert deny(items) == []


@pytest.mark.parametrize(
    "rule",
    [
        {},  # no `to`: every destination
        {"to": []},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]},
        {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}]},
        {"to": [{"ipBlock": {"cidr": "169.254.0.0/16", "except": ["169.254.169.0/30"]}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": "10.0.0.0/8"}}]},
        # Host bits set: the API server takes it as the network (every address here).
        {"to": [{"ipBlock": {"cidr": "10.1.2.3/0"}}]},
        {"to": [{"ipBlock": {"cidr": "169.254.1.1/16", "except": ["169.254.1.1/24"]}}]},
        # A peer the rule skips (a pod selector, a bad CIDR, no CIDR), then one that reaches it.
        {
            "to": [
                {"podSelector": {}},
                {"ipBlock": {"cidr": "not-a-cidr"}},
                {"ipBlock": {}},
                {"ipBlock": {"cidr": "10.0.0.0/8"}},
                {"ipBlock": {"cidr": "169.254.0.0/16"}},
            ]
        },
    ],
)
def test_egress_reaching_the_metadata_address_is_found_in_a_later_rule(
    rule: dict[str, Any],
) -> None:
    internet = net_pol(types=["Egress"], egress=[INTERNET, rule])
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "deny", net_pol()),
        (NETWORK_POLICY, "internet", internet),
    ]
    assert deny(items) == [urn(NETWORK_POLICY, "internet")]
    (message,) = messages(isolation.DEFAULT_DENY, items)
    assert "spec.egress[1]" in message and "169.254.169.254" in message


@pytest.mark.parametrize(
    "rule",
    [
        {"to": [{"podSelector": {}}, {"namespaceSelector": {"matchLabels": {"x": "y"}}}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
        {"to": [{"ipBlock": {"cidr": "169.254.169.255/32"}}]},
        {"to": [{"ipBlock": {"cidr": "169.254.169.253/32"}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"]}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": "169.254.0.0/16"}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.1.1/16"]}}]},
        {"to": [{"ipBlock": {"cidr": "not-a-cidr"}}]},
        {"to": [{"ipBlock": {"cidr": UNKNOWN_SENTINELS["string"]}}]},
    ],
)
def test_egress_that_keeps_away_from_the_metadata_address_passes(rule: dict[str, Any]) -> None:
    items = [
        (NAMESPACE, "ns", team_namespace()),
        (NETWORK_POLICY, "deny", net_pol()),
        (NETWORK_POLICY, "egress", net_pol(types=["Egress"], egress=[rule])),
    ]
    assert deny(items) == []
