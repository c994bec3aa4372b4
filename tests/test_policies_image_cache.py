"""arc-runner-images-through-cache: where the stack's ECR pull-through cache is on, no runner or dind
image comes straight from a cached upstream; the setting reaches the pack through the generated
policy config. Props wrapped as the engine wraps them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arc_eks.builders import registry as image_registry
from arc_eks.review import policy_config
from policies.arc_policies import image_cache, registry
from policies.arc_policies.testing import (
    UNKNOWN_STRING_VALUE,
    Skipped,
    Violation,
    engine_props,
    run_resource_policy,
)
from tests.conftest import FIXTURE_PROJECT
from tests.policy_baselines import TYPES, baseline
from tests.scale_set_fixtures import BASE_VALUES, release

RULE = "arc-runner-images-through-cache"
POLICY = {p.name: p for p in registry.build_policies()}[RULE]
HOST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
ON = {"cachedRegistries": ["docker.io", "quay.io", "registry.k8s.io"]}
CACHED_RUNNER = f"{HOST}/arc-eks-staging/docker-hub/summerwind/actions-runner:v2.335.1-ubuntu-22.04"
CACHED_DIND = f"{HOST}/arc-eks-staging/docker-hub/library/docker:28.0.4-dind"
AUTOSCALING_RUNNER_SET = "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"


def run(typ: str, inputs: dict[str, Any], config: dict[str, Any] | None = ON) -> list[Violation]:
    report = run_resource_policy(POLICY, typ, "res", engine_props(inputs), config)
    assert not [r for r in report if isinstance(r, Skipped)], report
    return [r for r in report if isinstance(r, Violation)]


def cached_runner_deployment() -> dict[str, Any]:
    inputs = baseline("runner_deployment")
    spec = inputs["spec"]["template"]["spec"]
    spec["image"] = CACHED_RUNNER
    spec["sidecarContainers"][0]["image"] = CACHED_DIND
    return inputs


def test_registered_in_the_pack() -> None:
    assert image_cache.RUNNER_IMAGES_THROUGH_CACHE in registry.RESOURCE_RULES


def test_cached_images_pass_and_upstream_ones_fail() -> None:
    assert run(TYPES["runner_deployment"], cached_runner_deployment()) == []
    upstream = baseline("runner_deployment")  # summerwind/actions-runner, docker:...-dind
    found = run(TYPES["runner_deployment"], upstream)
    assert len(found) == 2
    assert "spec.template.spec.image" in found[0].message
    assert "pulled from docker.io directly" in found[0].message
    assert "spec.template.spec.sidecarContainers[0].image" in found[1].message


def test_a_bypassing_image_in_a_later_container_is_found() -> None:
    inputs = cached_runner_deployment()
    sidecars = inputs["spec"]["template"]["spec"]["sidecarContainers"]
    sidecars.insert(0, {"name": "log-shipper", "image": f"{HOST}/team/log-shipper:1.0"})
    sidecars[1]["image"] = "index.docker.io/library/docker:28.0.4-dind"
    (found,) = run(TYPES["runner_deployment"], inputs)
    assert "sidecarContainers[1].image" in found.message
    assert '"docker"' in found.message


@pytest.mark.parametrize(
    "image",
    [
        "docker:28.0.4-dind",
        "docker.io/library/docker:28.0.4-dind",
        "registry-1.docker.io/library/docker:28.0.4-dind",
        "quay.io/acme/runner:1.0",
        "DOCKER.IO/library/docker:28.0.4-dind",
    ],
)
def test_every_spelling_of_a_cached_upstream_fails(image: str) -> None:
    inputs = cached_runner_deployment()
    inputs["spec"]["template"]["spec"]["image"] = image
    assert len(run(TYPES["runner_deployment"], inputs)) == 1


@pytest.mark.parametrize(
    "image",
    [
        f"{HOST}/payments/runner:1.0",  # the account's own ECR
        "registry.example.com:5000/runner:1.0",  # not a cached upstream
        "ghcr.io/acme/runner:1.0",  # ghcr.io is not in this stack's upstreams
    ],
)
def test_registries_the_cache_does_not_serve_pass(image: str) -> None:
    inputs = cached_runner_deployment()
    inputs["spec"]["template"]["spec"]["image"] = image
    assert run(TYPES["runner_deployment"], inputs) == []


def test_cache_off_checks_nothing() -> None:
    assert run(TYPES["runner_deployment"], baseline("runner_deployment"), None) == []
    assert (
        run(TYPES["runner_deployment"], baseline("runner_deployment"), {"cachedRegistries": []})
        == []
    )


def test_unknown_image_during_preview_is_no_violation() -> None:
    inputs = cached_runner_deployment()
    inputs["spec"]["template"]["spec"]["image"] = UNKNOWN_STRING_VALUE
    assert run(TYPES["runner_deployment"], inputs) == []


def test_the_controllers_runner_and_dind_defaults() -> None:
    arc = baseline("arc_release")
    found = run(TYPES["arc_release"], arc)
    assert [f.message.split(": ")[1] for f in found] == [
        "values.image.actionsRunnerRepositoryAndTag",
        "values.image.dindSidecarRepositoryAndTag",
    ]
    arc["values"]["image"] = {
        "actionsRunnerRepositoryAndTag": CACHED_RUNNER,
        "dindSidecarRepositoryAndTag": CACHED_DIND,
    }
    assert run(TYPES["arc_release"], arc) == []
    other = baseline("arc_release")
    other["chart"] = "cert-manager"
    assert run(TYPES["arc_release"], other) == []


def test_scale_set_pods_later_container() -> None:
    plan_images = {"docker.io", "quay.io", "registry.k8s.io", "ghcr.io"}
    config = {"cachedRegistries": sorted(plan_images)}
    values = copy.deepcopy(BASE_VALUES)
    for field in ("initContainers", "containers"):
        for container in values["template"]["spec"][field]:
            container["image"] = f"{HOST}/arc-eks-staging/ghcr/actions/actions-runner:2.329.0"
    assert run("kubernetes:helm.sh/v3:Release", release(values), config) == []
    values["template"]["spec"]["initContainers"][1]["image"] = "docker:28.0.4-dind"
    (found,) = run("kubernetes:helm.sh/v3:Release", release(values), config)
    assert "values.template.spec.initContainers[1].image" in found.message
    as_set = {"metadata": {"name": "payments-build"}, "spec": copy.deepcopy(values)}
    (found,) = run(AUTOSCALING_RUNNER_SET, as_set, config)
    assert "spec.template.spec.initContainers[1].image" in found.message


def test_the_stack_setting_reaches_the_pack() -> None:
    staging = policy_config.generate(FIXTURE_PROJECT, "staging")
    assert staging[RULE]["cachedRegistries"] == [
        "docker.io",
        "ghcr.io",
        "quay.io",
        "registry.k8s.io",
    ]
    dev = policy_config.generate(FIXTURE_PROJECT, "dev")
    assert dev[RULE]["cachedRegistries"] == []
    # The pack's view of a registry agrees with the program's rewrite.
    for reference in image_registry.platform_images().values():
        assert image_cache.registry_of(reference) == image_registry.parse_image(reference).registry
