"""Node isolation: a system node group, tainted runner node groups per isolation class, dind
pools on their own (per team by default) groups that scale from zero.

Fixtures: tests/fixtures/isolation-stack.yaml and tests/fixtures/isolation-teams (team alpha:
dind, none, kubernetes pools; team beta: a dind pool).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arc_eks import versions
from arc_eks.builders.node_groups import (
    CA_LABEL_TAG,
    CA_TAINT_TAG,
    ISOLATION_KEY,
    PRIVILEGED_NODES_LABEL,
    plan_runner_node_groups,
)
from arc_eks.config.teams import load_team_pools
from arc_eks.review.offline import (
    CapturedResource,
    ProgramRun,
    config_map_from_stack_file,
    run_program,
)
from tests.pool_fixtures import stack_config

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEAMS = FIXTURES / "isolation-teams"
NODE_GROUP = "eks:index:ManagedNodeGroup"
RD = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"
ASG_TAG = "aws:autoscaling/tag:Tag"
SYSTEM_GROUP = "cluster-runners"
EKS_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}


def _run(runner_nodes: dict[str, Any] | None = None) -> ProgramRun:
    from arc_eks import program
    from tests.conftest import PROJECT_DIR, default_secrets

    config, secret_keys = config_map_from_stack_file(FIXTURES / "isolation-stack.yaml")
    if runner_nodes is not None:
        config["arc-eks:runnerNodes"] = json.dumps(runner_nodes)
    secrets = default_secrets(config)
    config.update(secrets)
    return run_program(
        lambda: program.main(project_dir=PROJECT_DIR, teams_dir=TEAMS),
        config=config,
        secret_keys=sorted({*secret_keys, *secrets}),
        stack="dev",
    )


@pytest.fixture(scope="module")
def per_team() -> ProgramRun:
    return _run()


@pytest.fixture(scope="module")
def shared() -> ProgramRun:
    return _run({"privilegedIsolation": "shared", "maxSize": 3})


def _taints(group: CapturedResource) -> list[dict[str, str]]:
    return [
        {"key": t["key"], "value": t["value"], "effect": EKS_EFFECTS[t["effect"]]}
        for t in group.inputs.get("taints", [])
    ]


def _fits(pod_spec: dict[str, Any], labels: dict[str, str], taints: list[dict[str, str]]) -> bool:
    """The scheduler's node selector and taint checks (NoSchedule/NoExecute taints)."""
    if any(labels.get(k) != v for k, v in pod_spec.get("nodeSelector", {}).items()):
        return False
    for taint in taints:
        tolerated = any(
            t.get("key") == taint["key"]
            and t.get("effect", taint["effect"]) == taint["effect"]
            and (t.get("operator") == "Exists" or t.get("value") == taint["value"])
            for t in pod_spec.get("tolerations", [])
        )
        if not tolerated:
            return False
    return True


def _groups_for(run: ProgramRun, pod_spec: dict[str, Any]) -> set[str]:
    return {
        g.name
        for g in run.of_type(NODE_GROUP)
        if _fits(pod_spec, g.inputs.get("labels", {}), _taints(g))
    }


def _pods(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {
        f"{r.inputs['metadata']['namespace']}/{r.inputs['metadata']['name']}": r.inputs["spec"][
            "template"
        ]["spec"]
        for r in run.of_type(RD)
    }


def test_per_team_each_pool_lands_on_exactly_its_group(per_team: ProgramRun) -> None:
    placements = {key: _groups_for(per_team, spec) for key, spec in _pods(per_team).items()}
    assert placements == {
        "runners-alpha/build": {"runner-nodes-privileged-alpha"},
        "runners-beta/build": {"runner-nodes-privileged-beta"},
        "runners-alpha/plain": {"runner-nodes-standard"},
        "runners-alpha-jobs/jobs": {"runner-nodes-standard"},
    }


def test_shared_puts_every_team_dind_pool_on_one_privileged_group(shared: ProgramRun) -> None:
    placements = {key: _groups_for(shared, spec) for key, spec in _pods(shared).items()}
    assert placements == {
        "runners-alpha/build": {"runner-nodes-privileged"},
        "runners-beta/build": {"runner-nodes-privileged"},
        "runners-alpha/plain": {"runner-nodes-standard"},
        "runners-alpha-jobs/jobs": {"runner-nodes-standard"},
    }
    for group in shared.of_type(NODE_GROUP):
        if group.name != SYSTEM_GROUP:
            assert group.inputs["scalingConfig"]["maxSize"] == 3


def test_privileged_and_unprivileged_never_share_and_system_runs_no_runner(
    per_team: ProgramRun,
) -> None:
    groups = {g.name: g for g in per_team.of_type(NODE_GROUP)}
    system = groups[SYSTEM_GROUP]
    assert "taints" not in system.inputs
    assert system.inputs["labels"][ISOLATION_KEY] == "system"
    for spec in _pods(per_team).values():
        privileged = any(
            c.get("securityContext", {}).get("privileged")
            for c in spec.get("sidecarContainers", [])
        )
        (group,) = _groups_for(per_team, spec)
        labels = groups[group].inputs["labels"]
        assert (labels.get(PRIVILEGED_NODES_LABEL) == "true") is privileged
        assert group != SYSTEM_GROUP
        # Exactly one toleration, for its own class: never Exists, never another class.
        (toleration,) = spec["tolerations"]
        assert toleration["operator"] == "Equal" and toleration["value"] == labels[ISOLATION_KEY]


def test_runner_groups_are_built_like_the_system_group_and_scale_from_zero(
    per_team: ProgramRun,
) -> None:
    system = per_team.one(NODE_GROUP, SYSTEM_GROUP).inputs
    runner_groups = [g for g in per_team.of_type(NODE_GROUP) if g.name != SYSTEM_GROUP]
    assert len(runner_groups) == 3
    for group in runner_groups:
        inputs = group.inputs
        for key in ("amiType", "instanceTypes", "launchTemplate", "capacityType", "subnetIds"):
            assert inputs[key] == system[key], key
        assert inputs["instanceTypes"] == ["t3a.large"]
        assert inputs["version"] == versions.KUBERNETES_VERSION
        assert inputs["ignoreScalingChanges"] is True
        scaling = inputs["scalingConfig"]
        assert (scaling["minSize"], scaling["desiredSize"]) == (0, 0)
        assert inputs["tags"]["k8s.io/cluster-autoscaler/arc-eks-dev"] == "owned"
        assert set(system_deps := per_team.one(NODE_GROUP, SYSTEM_GROUP).dependencies) <= set(
            group.dependencies
        ), system_deps


def _asg_template(
    run: ProgramRun, group: CapturedResource
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The node template cluster-autoscaler builds from a group's ASG tags with no node (as
    aws_manager.go's extractLabelsFromAsg / extractTaintsFromAsg read them)."""
    labels: dict[str, str] = {}
    taints: list[dict[str, str]] = []
    for tag in run.of_type(ASG_TAG):
        if group.urn not in tag.dependencies:
            continue
        key, value = tag.inputs["tag"]["key"], tag.inputs["tag"]["value"]
        assert tag.inputs["tag"]["propagateAtLaunch"] is False
        if key.startswith(CA_LABEL_TAG):
            labels[key.removeprefix(CA_LABEL_TAG)] = value
        elif key.startswith(CA_TAINT_TAG):
            taint_value, effect = value.split(":", 1)
            taints.append(
                {"key": key.removeprefix(CA_TAINT_TAG), "value": taint_value, "effect": effect}
            )
    return labels, taints


def test_cluster_autoscaler_sees_labels_and_taints_of_an_empty_group(per_team: ProgramRun) -> None:
    pods = _pods(per_team)
    for group in per_team.of_type(NODE_GROUP):
        if group.name == SYSTEM_GROUP:
            continue
        labels, taints = _asg_template(per_team, group)
        # The template is the group's real labels and taints, nothing less.
        assert labels == group.inputs["labels"]
        assert taints == _taints(group)
        # A Pending runner of this class fits the template: the autoscaler scales the group up.
        fitting = {key for key, spec in pods.items() if _fits(spec, labels, taints)}
        assert fitting == {
            key for key, spec in pods.items() if group.name in _groups_for(per_team, spec)
        }
        assert fitting


def test_autoscaler_may_describe_this_clusters_node_groups(per_team: ProgramRun) -> None:
    policy = json.loads(
        per_team.one("aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler-scaling").inputs["policy"]
    )
    describe = [s for s in policy["Statement"] if "eks:DescribeNodegroup" in s["Action"]]
    assert describe and describe[0]["Resource"].endswith(":nodegroup/arc-eks-dev/*/*")


def test_everything_in_cluster_waits_for_every_node_group(per_team: ProgramRun) -> None:
    provider = per_team.one("pulumi:providers:kubernetes", "cluster-k8s")
    assert {g.urn for g in per_team.of_type(NODE_GROUP)} <= set(provider.dependencies)


def test_plan_without_dind_pools_has_no_privileged_group() -> None:
    granted = {"organizations": ["acme"]}
    stack = stack_config("dev", teams={"alpha": granted, "beta": granted})
    pools = [p for p in load_team_pools(TEAMS, stack) if p.spec.docker != "dind"]
    plans = plan_runner_node_groups(pools, privileged_isolation="perTeam", max_size=5)
    assert [(p.isolation, p.privileged, p.teams) for p in plans] == [
        ("standard", False, ("alpha",))
    ]
    assert plan_runner_node_groups([], privileged_isolation="perTeam", max_size=5) == []


def _stack_rule(resources: list[CapturedResource], name: str) -> list[str]:
    from arc_eks.review.policies import run_policies

    _policies, findings = run_policies(resources, {"all": "mandatory"})
    return [f.message for f in findings if f.policy == name and not f.skipped]


def test_capacity_is_checked_per_node_group(per_team: ProgramRun) -> None:
    import copy
    import dataclasses

    rule = "arc-runner-capacity-fits-node-group"
    assert _stack_rule(per_team.resources, rule) == []
    # beta's dind pool at 100 runners overflows its own group (10 t3a.large), although the three
    # runner groups together would hold more than the standard group's pools need.
    resources = []
    for r in per_team.resources:
        beta_hra = r.type.endswith(":HorizontalRunnerAutoscaler") and (
            r.inputs["metadata"]["namespace"] == "runners-beta"
        )
        if beta_hra:
            inputs = copy.deepcopy(r.inputs)
            inputs["spec"]["maxReplicas"] = 30
            resources.append(dataclasses.replace(r, inputs=inputs))
        else:
            resources.append(r)
    (message,) = _stack_rule(resources, rule)
    assert "'runner-nodes-privileged-beta'" in message and "runners-beta/build 30x" in message
    assert "runner-nodes-standard" not in message and "cluster-runners" not in message
