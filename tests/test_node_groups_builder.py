"""arc_eks/builders/node_groups.py on its own: the class each pool runs on, its selector and
toleration, and the runner node groups' labels, taints and cluster-autoscaler tags, written out as
the nodes, the pods and cluster-autoscaler read them (not from the module's constants)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from arc_eks.builders.node_groups import (
    placement,
    plan_runner_node_groups,
    system_node_labels,
)
from arc_eks.config.teams import ResolvedPool, load_team_pools
from tests.pool_fixtures import stack_config

TEAMS = Path(__file__).resolve().parent / "fixtures" / "isolation-teams"


def _pools() -> dict[str, ResolvedPool]:
    granted = {"organizations": ["acme"]}
    stack = stack_config("dev", teams={"alpha": granted, "beta": granted})
    return {f"{p.team}/{p.name}": p for p in load_team_pools(TEAMS, stack)}


def test_each_docker_mode_lands_on_its_class_per_team_and_shared() -> None:
    pools = _pools()
    per_team = {key: placement(pool, "perTeam").isolation for key, pool in pools.items()}
    assert per_team == {
        "alpha/build": "privileged-alpha",
        "alpha/jobs": "standard",
        "alpha/plain": "standard",
        "beta/build": "privileged-beta",
    }
    shared = {key: placement(pool, "shared").isolation for key, pool in pools.items()}
    assert shared == {
        "alpha/build": "privileged",
        "alpha/jobs": "standard",
        "alpha/plain": "standard",
        "beta/build": "privileged",
    }


def test_a_pool_selects_its_class_and_tolerates_exactly_its_taint() -> None:
    found = placement(_pools()["beta/build"], "perTeam")
    assert found.node_selector == {"arc-eks.io/isolation": "privileged-beta"}
    assert found.tolerations == [
        {
            "key": "arc-eks.io/isolation",
            "operator": "Equal",
            "value": "privileged-beta",
            "effect": "NoSchedule",
        }
    ]


def test_the_runner_node_groups_labels_taints_and_autoscaler_tags() -> None:
    plans = plan_runner_node_groups(_pools().values(), privileged_isolation="perTeam", max_size=7)
    assert [(p.isolation, p.privileged, p.teams, p.max_size) for p in plans] == [
        ("privileged-alpha", True, ("alpha",), 7),
        ("privileged-beta", True, ("beta",), 7),
        ("standard", False, ("alpha",), 7),
    ]
    privileged, _, standard = plans
    assert privileged.labels == {
        "arc-eks.io/node-role": "runners",
        "arc-eks.io/isolation": "privileged-alpha",
        "arc-eks.io/privileged-pods": "true",
    }
    assert standard.labels == {
        "arc-eks.io/node-role": "runners",
        "arc-eks.io/isolation": "standard",
    }
    assert privileged.taint == {
        "key": "arc-eks.io/isolation",
        "value": "privileged-alpha",
        "effect": "NO_SCHEDULE",
    }
    assert privileged.autoscaler_tags() == {
        "k8s.io/cluster-autoscaler/node-template/label/arc-eks.io/node-role": "runners",
        "k8s.io/cluster-autoscaler/node-template/label/arc-eks.io/isolation": "privileged-alpha",
        "k8s.io/cluster-autoscaler/node-template/label/arc-eks.io/privileged-pods": "true",
        "k8s.io/cluster-autoscaler/node-template/taint/arc-eks.io/isolation": (
            "privileged-alpha:NoSchedule"
        ),
    }
    assert standard.autoscaler_tags() == {
        "k8s.io/cluster-autoscaler/node-template/label/arc-eks.io/node-role": "runners",
        "k8s.io/cluster-autoscaler/node-template/label/arc-eks.io/isolation": "standard",
        "k8s.io/cluster-autoscaler/node-template/taint/arc-eks.io/isolation": (
            "standard:NoSchedule"
        ),
    }


def test_shared_privileged_isolation_puts_every_team_on_one_group() -> None:
    plans = plan_runner_node_groups(_pools().values(), privileged_isolation="shared", max_size=3)
    assert [(p.isolation, p.privileged, p.teams) for p in plans] == [
        ("privileged", True, ("alpha", "beta")),
        ("standard", False, ("alpha",)),
    ]


def test_the_system_labels_keep_the_extra_labels_and_win_over_them() -> None:
    assert system_node_labels({"team": "platform", "arc-eks.io/isolation": "standard"}) == {
        "team": "platform",
        "arc-eks.io/node-role": "system",
        "arc-eks.io/isolation": "system",
    }


def test_the_privileged_isolation_setting_is_compared_by_value() -> None:
    # A setting read at run time is not the literal object the module compares with.
    shared = "".join(["sha", "red"])
    assert placement(_pools()["beta/build"], shared).isolation == "privileged"  # type: ignore[arg-type]


def test_placements_and_plans_cannot_be_changed_once_made() -> None:
    # Components share one placement or plan; none may change it for the others.
    found = placement(_pools()["alpha/plain"], "perTeam")
    (plan,) = plan_runner_node_groups(
        [_pools()["alpha/plain"]], privileged_isolation="perTeam", max_size=1
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.isolation = "system"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.privileged = True  # type: ignore[misc]
