"""Deploy order over the whole program's resource graph: everything in-cluster waits for every node
group, Helm releases have explicit timeouts, and the critical path is the inherent one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from arc_eks import resource_graph
from arc_eks.components import actions_runner_controller, cert_manager, cluster_autoscaler
from arc_eks.resource_graph import ResourceGraph, in_cluster_order_problems
from arc_eks.review.offline import CapturedResource, ProgramRun
from tests.program_fixtures import pool, run_fixture, write_teams

NODE_GROUP = "eks:index:ManagedNodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    teams = write_teams(
        tmp_path_factory.mktemp("teams"),
        {
            "alpha": [pool("build", "dind"), pool("pods", "kubernetes")],
            "beta": [pool("lint")],
        },
    )
    return run_fixture(
        teams,
        controller={
            "replicas": 1,
            "webhookServer": True,
            "webhookAllowedCidrs": ["192.30.252.0/22"],
        },
    )


def test_every_in_cluster_resource_waits_for_every_node_group(run: ProgramRun) -> None:
    in_cluster = [r for r in run if r.type.startswith("kubernetes:")]
    # The check covers the releases, namespaces, secrets, RBAC, ServiceAccounts and pools.
    assert {r.type for r in in_cluster} >= {
        RELEASE,
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment",
    }
    assert run.of_type(NODE_GROUP)
    assert [p.render() for p in in_cluster_order_problems(run.resources)] == []


def _without_edge(run: ProgramRun, typ: str, dropped: str) -> list[CapturedResource]:
    """The captured resources with `typ`'s dependency on resources of type `dropped` removed."""
    urns = {r.urn for r in run.of_type(dropped)}
    return [
        dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in urns])
        if r.type == typ
        else r
        for r in run
    ]


def test_the_check_fails_when_the_provider_does_not_wait_for_the_nodes(run: ProgramRun) -> None:
    broken = _without_edge(run, "pulumi:providers:kubernetes", NODE_GROUP)
    problems = in_cluster_order_problems(broken)
    flagged = {p.resource.name for p in problems}
    assert {r.name for r in run if r.type.startswith("kubernetes:")} <= flagged
    assert "cluster-runners" in problems[0].render()


def test_the_check_fails_when_an_addon_does_not_wait_for_the_nodes(run: ProgramRun) -> None:
    broken = _without_edge(run, "aws:eks/addon:Addon", NODE_GROUP)
    assert {p.resource.type for p in in_cluster_order_problems(broken)} == {"aws:eks/addon:Addon"}


def test_the_check_covers_every_node_group_not_only_the_first(run: ProgramRun) -> None:
    # A second node group (issue: system and runner groups) that nothing waits for.
    group = run.one(NODE_GROUP, "cluster-runners")
    extra = dataclasses.replace(group, urn=group.urn + "-system", name="system", dependencies=[])
    extra_raw = dataclasses.replace(
        group, urn=group.urn + "-raw", name="raw", type="aws:eks/nodeGroup:NodeGroup"
    )
    problems = in_cluster_order_problems([*run.resources, extra, extra_raw])
    assert problems
    assert all({m.name for m in p.missing} == {"system", "raw"} for p in problems)


def _record(urn: str, typ: str = "aws:x/y:Y", **fields: object) -> CapturedResource:
    values: dict = {"inputs": {}, "custom": True, "name": urn}
    values.update(fields)
    return CapturedResource(type=typ, urn=urn, **values)


def test_waiting_for_a_component_waits_for_its_children_and_custom_parents_count() -> None:
    group = _record("ng", NODE_GROUP, custom=False)
    component = _record("comp", "arc-eks:x:Component", custom=False)
    child = _record("child", parent="comp", dependencies=["ng"])
    via_component = _record("a", "kubernetes:core/v1:Namespace", dependencies=["comp"])
    via_parent = _record("b", "kubernetes:core/v1:Secret", parent="child")
    provider = _record("urn:p", "pulumi:providers:kubernetes", dependencies=["child"])
    via_provider = _record("c", "kubernetes:core/v1:ConfigMap", provider="urn:p::id-1")
    alone = _record("d", "kubernetes:core/v1:ConfigMap", parent="comp")
    resources = [group, component, child, via_component, via_parent, provider, via_provider, alone]
    problems = in_cluster_order_problems(resources)
    # A child of a component waits for nothing through its parent.
    assert [p.resource.urn for p in problems] == ["d"]


def test_a_dependency_cycle_is_reported() -> None:
    resources = [_record("a", dependencies=["b"]), _record("b", dependencies=["a"])]
    with pytest.raises(ValueError, match="cycle"):
        ResourceGraph.build(resources).critical_path()


def test_every_helm_release_has_an_explicit_timeout(run: ProgramRun) -> None:
    timeouts = {r.inputs["chart"]: r.inputs.get("timeout") for r in run.of_type(RELEASE)}
    assert timeouts == {
        "cert-manager": cert_manager.RELEASE_TIMEOUT_SECONDS,
        "cluster-autoscaler": cluster_autoscaler.RELEASE_TIMEOUT_SECONDS,
        "actions-runner-controller": actions_runner_controller.RELEASE_TIMEOUT_SECONDS,
    }
    assert all(t >= 300 for t in timeouts.values())


def test_nodes_wait_for_the_control_plane_and_the_private_routes(run: ProgramRun) -> None:
    private = [
        r
        for r in run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if "private" in r.name
    ]
    groups = run.of_type(NODE_GROUP)
    assert {g.name for g in groups} == {
        "cluster-runners",  # the system node group
        "runner-nodes-standard",
        "runner-nodes-privileged-alpha",
    }
    for group in groups:
        assert run.one("eks:index:Cluster").urn in group.dependencies
        assert private and {r.urn for r in private} <= set(group.dependencies)


def _slow(path: list[resource_graph.Node]) -> list[str]:
    return [n.name for n in path if n.type in resource_graph.SLOW_WEIGHTS]


def test_the_critical_path_is_the_inherent_one(run: ProgramRun) -> None:
    path = ResourceGraph.build(run.resources).critical_path()
    assert path[0].type == "aws:ec2/vpc:Vpc"
    slow = _slow(path)
    # Any one node group (they are created side by side).
    assert slow[1] in {g.name for g in run.of_type(NODE_GROUP)}
    assert [slow[0], *slow[2:]] == ["cluster-eks", "cert-manager-release", "arc-release"]
    assert path[-1].type.startswith("kubernetes:actions.summerwind.dev/")
    # Nothing else adds weight: VPC -> EKS -> nodes -> cert-manager -> ARC -> pools.
    weights = resource_graph.SLOW_WEIGHTS
    inherent = weights["eks:index:Cluster"] + weights[NODE_GROUP] + 2 * weights[RELEASE]
    assert resource_graph.path_weight(path) == inherent
    lines = resource_graph.describe_critical_path(run.resources)
    assert f"cluster-eks -> {slow[1]} -> cert-manager-release -> arc-release" in lines[0]


def test_more_pools_add_no_depth(tmp_path: Path) -> None:
    def measure(teams: dict) -> tuple[int, int]:
        run = run_fixture(write_teams(tmp_path / str(len(teams["alpha"])), teams))
        path = ResourceGraph.build(run.resources).critical_path()
        return resource_graph.path_weight(path), len(path)

    one = measure({"alpha": [pool("a")]})
    many = measure(
        {
            "alpha": [pool("a"), pool("b", "dind"), pool("c", "kubernetes"), pool("d")],
            "beta": [pool("e"), pool("f", "kubernetes")],
        }
    )
    assert many == one
