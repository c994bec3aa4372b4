"""Stack rules: one IRSA role per ServiceAccount, and pools at max fit the node group.

Resources are wrapped as `AnalyzeStack` wraps them (engine props, PolicyResource with parents).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from arc_eks.capacity import NODE_CAPACITY
from policies.arc_policies import registry
from policies.arc_policies.stack import _DEFAULT_ALLOCATABLE, pod_requests
from policies.arc_policies.testing import (
    UNKNOWN_SENTINELS,
    Skipped,
    StackEntry,
    Violation,
    engine_props,
    policy_resources,
    run_stack_policy,
    urn_for,
)
from tests.policy_baselines import ACCOUNT, TYPES, baseline, mutate, trust

POLICIES = {p.name: p for p in registry.build_policies()}
ONE_ROLE = "kubernetes-irsa-one-role-per-service-account"
CAPACITY = "arc-runner-capacity-fits-node-group"
ROLE_ARN = "eks.amazonaws.com/role-arn"


def pool(team: str, max_replicas: int = 4) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, inputs) of one pool: role, ServiceAccount, RunnerDeployment, HRA."""
    sa, rd, hra = baseline("service_account"), baseline("runner_deployment"), baseline("hra")
    sa["metadata"].update(name=f"{team}-runner", namespace=team)
    sa["metadata"]["annotations"][ROLE_ARN] = f"arn:aws:iam::{ACCOUNT}:role/{team}"
    rd["metadata"].update(name="build", namespace=team)
    rd["spec"]["template"]["spec"]["serviceAccountName"] = f"{team}-runner"
    hra["metadata"].update(name="build", namespace=team)
    hra["spec"]["maxReplicas"] = max_replicas
    hra["spec"]["scaleTargetRef"]["name"] = "build"
    role = {"name": team, "assumeRolePolicy": json.dumps(trust(team, f"{team}-runner"))}
    return [
        ("irsa_role", f"{team}-role", role),
        ("service_account", f"{team}-sa", sa),
        ("runner_deployment", f"{team}-runners", rd),
        ("hra", f"{team}-autoscaler", hra),
    ]


def stack(*pools: list[tuple[str, str, dict[str, Any]]], max_size: int = 6) -> list[tuple]:
    group = mutate(baseline("mng"), "scalingConfig.maxSize", max_size)
    return [("mng", "runners", group), *[item for p in pools for item in p]]


def run(policy: str, items: list[tuple], config: dict[str, Any] | None = None) -> list[Violation]:
    entries = [
        StackEntry(TYPES[kind], name, urn_for(TYPES[kind], name), engine_props(inputs))
        for kind, name, inputs in items
    ]
    report = run_stack_policy(POLICIES[policy], policy_resources(entries), config)
    assert not [r for r in report if isinstance(r, Skipped)], report
    return [r for r in report if isinstance(r, Violation)]


def test_baseline_passes() -> None:
    items = stack(pool("payments"), pool("web"))
    assert run(ONE_ROLE, items) == [] and run(CAPACITY, items) == []


def test_two_service_accounts_with_one_role() -> None:
    web = pool("web")
    web[1][2]["metadata"]["annotations"][ROLE_ARN] = f"arn:aws:iam::{ACCOUNT}:role/payments"
    found = run(ONE_ROLE, stack(pool("payments"), web))
    found = [f for f in found if "is shared by" in f.message]  # (it also trusts another SA)
    assert len(found) == 1
    assert "kubernetes:core/v1:ServiceAccount 'web-sa'" in found[0].message
    assert f"metadata.annotations[{ROLE_ARN}]" in found[0].message
    assert found[0].urn == urn_for(TYPES["service_account"], "web-sa")


def test_role_trusted_by_two_service_accounts() -> None:
    payments = pool("payments")
    document = trust("payments", "payments-runner")
    condition = document["Statement"][0]["Condition"]["StringEquals"]
    sub = next(k for k in condition if k.endswith(":sub"))
    condition[sub] = [
        "system:serviceaccount:payments:payments-runner",
        "system:serviceaccount:web:x",
    ]
    payments[0][2]["assumeRolePolicy"] = json.dumps(document)
    found = run(ONE_ROLE, stack(payments))
    assert (
        len(found) == 1
        and "aws:iam/role:Role 'payments-role': assumeRolePolicy" in found[0].message
    )


def test_annotation_names_a_role_trusting_another_service_account() -> None:
    payments, web = pool("payments"), pool("web")
    web[1][2]["metadata"]["name"] = "renamed"  # the role still trusts web/web-runner
    found = run(ONE_ROLE, stack(payments, web))
    assert len(found) == 1
    assert "kubernetes:core/v1:ServiceAccount 'web-sa'" in found[0].message
    assert (
        "trusts ['system:serviceaccount:web:web-runner'], not system:serviceaccount:web:renamed"
        in found[0].message
    )


def test_two_pools_sharing_a_service_account() -> None:
    payments = pool("payments")
    second = copy.deepcopy(payments[2])
    second[2]["metadata"]["name"] = "deploy"
    items = stack([*payments, ("runner_deployment", "payments-deploy-runners", second[2])])
    found = run(ONE_ROLE, items)
    assert len(found) == 1 and "spec.template.spec.serviceAccountName" in found[0].message


def test_pools_beyond_the_node_group() -> None:
    # per pod 500m + 250m (dind sidecar) CPU; 6 nodes x 1930m = 11580m; 2 pools x 8 = 12000m.
    found = run(CAPACITY, stack(pool("payments", 8), pool("web", 8)))
    assert len(found) == 1
    assert "CPU 12000m > 11580m" in found[0].message
    assert "eks:index:ManagedNodeGroup 'runners'" in found[0].message
    assert "scalingConfig.maxSize" in found[0].message
    assert run(CAPACITY, stack(pool("payments", 8), pool("web", 8), max_size=7)) == []


def test_pod_count_and_config_table() -> None:
    many = [pool(f"team{i}", 20) for i in range(6)]  # 120 pods; 3 nodes hold 105
    tiny = {"allocatable": {"t3a.large": {"cpuMillis": 100000, "memoryMib": 1e6, "maxPods": 35}}}
    found = run(CAPACITY, stack(*many, max_size=3), tiny)
    assert found and "pods 120 > 105" in found[0].message


def test_unknown_instance_type_is_reported_and_unknown_size_skipped() -> None:
    items = stack(pool("payments"))
    items[0] = ("mng", "runners", mutate(items[0][2], "instanceTypes", ["m7i.large"]))
    found = run(CAPACITY, items)
    assert found and "no allocatable figures" in found[0].message
    items[0] = (
        "mng",
        "runners",
        mutate(baseline("mng"), "scalingConfig.maxSize", UNKNOWN_SENTINELS["number"]),
    )
    assert run(CAPACITY, items) == []


def test_unknown_role_arns_never_violate() -> None:
    payments, web = pool("payments"), pool("web")
    for p in (payments, web):
        p[1][2]["metadata"]["annotations"][ROLE_ARN] = UNKNOWN_SENTINELS["string"]
        p[0][2]["assumeRolePolicy"] = UNKNOWN_SENTINELS["string"]
    assert run(ONE_ROLE, stack(payments, web)) == []


def test_component_children_are_not_counted_twice() -> None:
    items = stack(pool("payments", 8), pool("web", 8), max_size=7)
    entries = [StackEntry(TYPES[k], n, urn_for(TYPES[k], n), engine_props(i)) for k, n, i in items]
    child = StackEntry(
        TYPES["aws_node_group"],
        "runners-ng",
        urn_for(TYPES["aws_node_group"], "runners-ng"),
        engine_props(baseline("aws_node_group")),
        parent=entries[0].urn,
    )
    report = run_stack_policy(POLICIES[CAPACITY], policy_resources([*entries, child]))
    assert report == []  # 7 nodes, not 7 + 6


def test_pod_requests_include_the_dind_sidecar() -> None:
    cpu, memory = pod_requests(TYPES["runner_deployment"], baseline("runner_deployment"))
    assert (cpu, memory) == (750.0, 1536.0)


def test_policy_allocatable_matches_the_package_capacity_table() -> None:
    for instance_type, capacity in NODE_CAPACITY.items():
        figures = _DEFAULT_ALLOCATABLE[instance_type]
        assert figures["cpuMillis"] == capacity.allocatable_cpu_millis
        assert figures["memoryMib"] == capacity.allocatable_memory_mib
        assert figures["maxPods"] == capacity.max_pods


def test_pack_modules_import_without_arc_eks() -> None:
    """The pack runs in its own virtualenv: its rules must not need the arc_eks package."""
    policies_dir = Path(__file__).resolve().parents[1] / "policies"
    code = (
        "import sys; sys.path[:0] = ['.']; import arc_policies.registry as r; "
        "assert len(r.build_policies()) >= 20; "
        "assert not [m for m in sys.modules if m.startswith('arc_eks')], 'arc_eks imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=policies_dir, check=True, timeout=60)
