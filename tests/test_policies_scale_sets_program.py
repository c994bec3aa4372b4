"""The scale-set rules on what the program itself builds: a whole program run under Pulumi mocks
with scale-set pools in every Docker mode beside a RunnerDeployment pool, its Helm releases
rendered by Helm's engine from the pinned charts (as `make review` does), and the whole pack run
with the policy config generated from the same stack config. The package's scale sets break no
rule; the same objects with one guard broken do."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from arc_eks.config.stack import StackConfig
from arc_eks.review import helm_render, policy_config
from arc_eks.review.offline import CapturedResource, ProgramRun
from arc_eks.review.policies import PolicyFinding, run_policies
from policies.arc_policies import scale_sets
from tests.program_fixtures import pool, run_fixture, stack_config, write_teams

KUBERNETES_IMAGE = "ghcr.io/acme/runner-hooks:2.335.1-hooks0.8.1"
KANIKO_IMAGE = "ghcr.io/acme/kaniko-runner:2.335.1-kaniko1.28.0"
IMAGES = {"allowedRegistries": ["ghcr.io", "docker.io"]}
TEAMS = {
    "alpha": [
        pool("build", "dind", mode="scaleSet", autoscaling={"min": 0, "max": 5}),
        # docker: kubernetes is never a scale set: this pool stays a RunnerDeployment
        pool("pods", "kubernetes", runnerImage=KUBERNETES_IMAGE),
        pool("images", "kaniko", mode="scaleSet", runnerImage=KANIKO_IMAGE),
        pool("old", "dind"),
    ],
    "beta": [pool("lint", mode="scaleSet")],
}
SCALE_SET_RULES = {r.name for r in (*scale_sets.RULES, *scale_sets.STACK_RULES)}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    teams = write_teams(tmp_path_factory.mktemp("teams"), TEAMS)
    return run_fixture(teams, images=IMAGES)


@pytest.fixture(scope="module")
def everything(run: ProgramRun) -> list[CapturedResource]:
    rendered = helm_render.render_all(run.resources)
    assert rendered.errors == []
    return [*run.resources, *rendered.resources]


@pytest.fixture(scope="module")
def pack_config() -> dict[str, Any]:
    """What `make review` / scripts/deploy.sh generate from this stack config (team caps 5)."""
    stack = StackConfig.model_validate({"environment": "dev", **stack_config(images=IMAGES)})
    return policy_config.from_stack(stack)


def scale_set_findings(
    resources: list[CapturedResource], config: dict[str, Any]
) -> list[PolicyFinding]:
    _, findings = run_policies(resources, config)
    return [f for f in findings if f.policy in SCALE_SET_RULES]


def test_the_pack_sees_every_scale_set_of_the_program(
    run: ProgramRun, everything: list[CapturedResource], pack_config: dict[str, Any]
) -> None:
    assert pack_config["arc-scale-set-max-runners-cap"]["teamMaxRunners"] == {"alpha": 5, "beta": 5}
    sets = [r for r in everything if r.type == scale_sets.AUTOSCALING_RUNNER_SET]
    releases = [r for r in run.resources if scale_sets.scale_set(r.type, r.inputs) is not None]
    assert len(sets) == len(releases) == 3  # both shapes of every scale-set pool
    charts = {scale_sets.chart_name(r.inputs) for r in run.resources if "chart" in r.inputs}
    assert {scale_sets.CONTROLLER_CHART, scale_sets.RUNNER_SET_CHART} <= charts


def test_the_packages_scale_sets_break_no_rule(
    everything: list[CapturedResource], pack_config: dict[str, Any]
) -> None:
    found = scale_set_findings(everything, pack_config)
    assert [(f.policy, f.message) for f in found] == []
    # Nor any other rule of the pack, on a scale set's release or what its chart renders.
    _, every = run_policies(everything, pack_config)
    pools = {r.urn for r in everything if scale_sets.scale_set(r.type, r.inputs) is not None}
    pools |= {r.urn for r in everything if r.parent in pools}
    assert [f.message for f in every if f.urn in pools] == []


def _changed(
    resources: list[CapturedResource], name_end: str, change: Any
) -> list[CapturedResource]:
    (target,) = [r for r in resources if r.name.endswith(name_end)]
    inputs = copy.deepcopy(target.inputs)
    change(inputs)
    return [dataclasses.replace(r, inputs=inputs) if r is target else r for r in resources]


CASES: list[tuple[str, str, Any, str]] = [
    (
        "privileged runner in the rendered set",
        "AutoscalingRunnerSet/alpha-build-dev",
        lambda i: i["spec"]["template"]["spec"]["containers"][0].update(
            securityContext={"privileged": True}
        ),
        "arc-scale-set-privileged-only-dind-sidecar",
    ),
    (
        "a pool above its team's cap in the release values",
        "beta-lint-scale-set",
        lambda i: i["values"].update(maxRunners=6),
        "arc-scale-set-max-runners-cap",
    ),
    (
        "the API token on a dind pool",
        "alpha-build-scale-set",
        lambda i: i["values"]["template"]["spec"].update(automountServiceAccountToken=True),
        "arc-scale-set-no-api-token",
    ),
    (
        "a runner set of another chart version",
        "alpha-images-scale-set",
        lambda i: i.update(version="0.13.1"),
        "arc-scale-set-charts-in-step",
    ),
    (
        "the chart's container mode kubernetes",
        "alpha-images-scale-set",
        lambda i: i["values"].update(containerMode={"type": "kubernetes"}),
        "arc-scale-set-no-kubernetes-mode",
    ),
    (
        "two pools on one ServiceAccount",
        "alpha-images-scale-set",
        lambda i: i["values"]["template"]["spec"].update(serviceAccountName="build-runner"),
        "arc-scale-set-one-service-account-per-pool",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_broken_guard_is_found(
    everything: list[CapturedResource],
    pack_config: dict[str, Any],
    case: tuple[str, str, Any, str],
) -> None:
    _, name_end, change, rule = case
    found = scale_set_findings(_changed(everything, name_end, change), pack_config)
    assert {f.policy for f in found} == {rule}, [f.message for f in found]
