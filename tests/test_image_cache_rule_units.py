"""arc-runner-images-through-cache (policies/arc_policies/image_cache.py) on every kind it reads,
hand-built in the shapes of the ARC CRDs (Runner: the runner spec itself; RunnerDeployment and
RunnerReplicaSet: spec.template.spec; RunnerSet: a StatefulSet pod template with a `runner`
container), the gha-runner-scale-set release values and the AutoscalingRunnerSet they render, and
the ARC chart's runner defaults on both Helm release kinds: a bypass in a later container or
default, the registry of every reference form, config keys. Props wrapped as the engine wraps
them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arc_eks.review import policies as review_policies
from policies.arc_policies import image_cache, registry
from policies.arc_policies.testing import (
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    violation_messages,
)
from tests.policy_baselines import SUMMERWIND, baseline, runner_spec
from tests.scale_set_fixtures import BASE_VALUES, release

RULE = "arc-runner-images-through-cache"
POLICY = {p.name: p for p in registry.build_policies()}[RULE]
HOST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
CACHED_RUNNER = f"{HOST}/arc-eks-prod/docker-hub/summerwind/actions-runner:v2.335.1-ubuntu-22.04"
CACHED_DIND = f"{HOST}/arc-eks-prod/docker-hub/library/docker:28.0.4-dind"
CACHED_GHCR = f"{HOST}/arc-eks-prod/ghcr/actions/actions-runner:2.329.0"
UPSTREAM = "docker:28.0.4-dind"
ON = {"cachedRegistries": ["docker.io", "quay.io", "registry.k8s.io", "ghcr.io"]}
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
AUTOSCALING_RUNNER_SET = "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"


def run(typ: str, inputs: dict[str, Any], config: dict[str, Any] | None = ON) -> list[str]:
    return violation_messages(POLICY, typ, "pool", inputs, config)


def cached_spec() -> dict[str, Any]:
    spec = runner_spec()
    spec["image"] = CACHED_RUNNER
    spec["sidecarContainers"][0]["image"] = CACHED_DIND
    return spec


def runner() -> dict[str, Any]:
    return {"kind": "Runner", "metadata": {"name": "payments-build-x"}, "spec": cached_spec()}


def templated(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "payments-build"},
        "spec": {"replicas": 1, "template": {"spec": cached_spec()}},
    }


def runner_set() -> dict[str, Any]:
    """A RunnerSet: runner config beside a StatefulSet spec whose pod has a `runner` container."""
    return {
        "kind": "RunnerSet",
        "metadata": {"name": "payments-build"},
        "spec": {
            "organization": "acme",
            "ephemeral": True,
            "dockerEnabled": False,
            "replicas": 1,
            "selector": {"matchLabels": {"app": "payments-build"}},
            "serviceName": "payments-build",
            "template": {
                "metadata": {"labels": {"app": "payments-build"}},
                "spec": {
                    "containers": [
                        {"name": "runner", "image": CACHED_RUNNER},
                        {"name": "docker", "image": CACHED_DIND},
                    ]
                },
            },
        },
    }


# (type, compliant inputs, where a runner pod's second container's image lives)
LEGACY = [
    (SUMMERWIND + "Runner", runner, ("spec", "sidecarContainers", 0, "image")),
    (
        SUMMERWIND + "RunnerDeployment",
        lambda: templated("RunnerDeployment"),
        ("spec", "template", "spec", "sidecarContainers", 0, "image"),
    ),
    (
        SUMMERWIND + "RunnerReplicaSet",
        lambda: templated("RunnerReplicaSet"),
        ("spec", "template", "spec", "sidecarContainers", 0, "image"),
    ),
    (SUMMERWIND + "RunnerSet", runner_set, ("spec", "template", "spec", "containers", 1, "image")),
]


def _set(inputs: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = inputs
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def test_the_rule_claims_every_runner_kind_scale_sets_and_releases() -> None:
    assert {typ for typ, _, _ in LEGACY} | {AUTOSCALING_RUNNER_SET, RELEASE, CHART_V4} == set(
        image_cache.RUNNER_IMAGES_THROUGH_CACHE.resource_types
    )


@pytest.mark.parametrize(("typ", "build", "path"), LEGACY, ids=lambda v: str(v)[-20:])
def test_every_legacy_runner_kind_later_container(typ: str, build: Any, path: tuple) -> None:
    inputs = build()
    assert run(typ, inputs) == []
    _set(inputs, path, UPSTREAM)
    (message,) = run(typ, inputs)
    dotted = ".".join(str(p) for p in path).replace(".0.", "[0].").replace(".1.", "[1].")
    assert f"{dotted}:" in message and "docker.io" in message and '"docker"' in message


def test_a_runner_image_given_only_on_the_runner_spec_is_read() -> None:
    inputs = runner()
    inputs["spec"]["image"] = "summerwind/actions-runner:v2.335.1-ubuntu-22.04"
    (message,) = run(SUMMERWIND + "Runner", inputs)
    assert "spec.image:" in message and '"runner"' in message


def test_a_scale_set_release_and_its_autoscaling_runner_set_later_container() -> None:
    values = copy.deepcopy(BASE_VALUES)
    pod = values["template"]["spec"]
    for field in ("initContainers", "containers"):
        for container in pod[field]:
            container["image"] = CACHED_GHCR
    assert run(RELEASE, release(values)) == [] and run(CHART_V4, release(values)) == []
    pod["containers"][-1]["image"] = "ghcr.io/actions/actions-runner:2.329.0"
    last = len(pod["containers"]) - 1
    for typ in (RELEASE, CHART_V4):
        (message,) = run(typ, release(values))
        assert f"values.template.spec.containers[{last}].image:" in message
        assert "ghcr.io directly" in message
    as_set = {"metadata": {"name": "payments-build"}, "spec": copy.deepcopy(values)}
    (message,) = run(AUTOSCALING_RUNNER_SET, as_set)
    assert f"spec.template.spec.containers[{last}].image:" in message


def test_a_bypass_after_an_unknown_image_is_found() -> None:
    values = copy.deepcopy(BASE_VALUES)
    pod = values["template"]["spec"]
    for field in ("initContainers", "containers"):
        for container in pod[field]:
            container["image"] = CACHED_GHCR
    pod["initContainers"][0]["image"] = UNKNOWN_STRING_VALUE
    pod["containers"][-1]["image"] = UPSTREAM
    (message,) = run(RELEASE, release(values))
    assert f"values.template.spec.containers[{len(pod['containers']) - 1}].image:" in message


def test_an_unknown_scale_set_pod_or_image_is_not_a_violation() -> None:
    values = copy.deepcopy(BASE_VALUES)
    for field in ("initContainers", "containers"):
        for container in values["template"]["spec"][field]:
            container["image"] = UNKNOWN_STRING_VALUE
    assert run(RELEASE, release(values)) == []
    values["template"]["spec"] = UNKNOWN_OBJECT_VALUE
    assert run(RELEASE, release(values)) == []
    as_set = {"metadata": {"name": "payments-build"}, "spec": {"template": UNKNOWN_OBJECT_VALUE}}
    assert run(AUTOSCALING_RUNNER_SET, as_set) == []


def _arc(image: dict[str, Any], chart: str = "actions-runner-controller") -> dict[str, Any]:
    inputs = baseline("arc_release")
    inputs["chart"] = chart
    inputs["values"]["image"] = image
    return inputs


@pytest.mark.parametrize("typ", [RELEASE, CHART_V4])
def test_the_arc_chart_defaults_later_one_on_both_release_kinds(typ: str) -> None:
    image = {
        "actionsRunnerRepositoryAndTag": CACHED_RUNNER,
        "dindSidecarRepositoryAndTag": UPSTREAM,
    }
    (message,) = run(typ, _arc(image))
    assert "values.image.dindSidecarRepositoryAndTag:" in message
    assert "(unset)" not in message  # a chart value names no container
    assert "this environment pulls it through its ECR pull-through cache. Remediation:" in message
    image["dindSidecarRepositoryAndTag"] = CACHED_DIND
    assert run(typ, _arc(image)) == []
    oci = "oci://registry.example.com/charts/actions-runner-controller"
    image["actionsRunnerRepositoryAndTag"] = "quay.io/acme/runner:1.0"
    (message,) = run(typ, _arc(image, chart=oci))
    assert "values.image.actionsRunnerRepositoryAndTag:" in message


def test_other_charts_are_not_read_for_runner_defaults() -> None:
    image = {"actionsRunnerRepositoryAndTag": UPSTREAM, "dindSidecarRepositoryAndTag": UPSTREAM}
    for chart in ("aad-pod-identity", "cert-manager", "gha-runner-scale-set-controller"):
        assert run(RELEASE, _arc(image, chart=chart)) == []


@pytest.mark.parametrize(
    ("reference", "host"),
    [
        ("docker:28.0.4-dind", "docker.io"),
        ("summerwind/actions-runner:v2", "docker.io"),
        ("acme/runner:1.0", "docker.io"),  # an organisation sorting before "localhost"
        ("docker.io/library/docker:28", "docker.io"),
        ("index.docker.io/library/docker:28", "docker.io"),
        ("registry-1.docker.io/library/docker:28", "docker.io"),
        ("Quay.IO/acme/runner:1", "quay.io"),
        ("localhost/runner:1", "localhost"),
        ("localhost:5000/runner:1", "localhost:5000"),
        ("registry.example.com:5000/runner:1", "registry.example.com:5000"),
        ("ghcr.io/actions/actions-runner:2.329.0", "ghcr.io"),
        (f"{HOST}/p/docker-hub/library/docker:28", HOST),
    ],
)
def test_the_registry_of_every_reference_form(reference: str, host: str) -> None:
    assert image_cache.registry_of(reference) == host


def test_a_local_registry_is_not_docker_hub() -> None:
    inputs = templated("RunnerDeployment")
    inputs["spec"]["template"]["spec"]["image"] = "localhost/runner:1.0"
    assert run(SUMMERWIND + "RunnerDeployment", inputs, {"cachedRegistries": ["docker.io"]}) == []


@pytest.mark.parametrize("image", ["", "   ", 5])
def test_no_image_is_another_rules_finding(image: Any) -> None:
    inputs = templated("RunnerDeployment")
    inputs["spec"]["template"]["spec"]["image"] = image
    assert run(SUMMERWIND + "RunnerDeployment", inputs) == []


def test_padded_references_and_upper_case_config_are_read() -> None:
    inputs = templated("RunnerDeployment")
    inputs["spec"]["template"]["spec"]["image"] = " quay.io/acme/runner:1.0 "
    (message,) = run(SUMMERWIND + "RunnerDeployment", inputs, {"cachedRegistries": ["QUAY.IO"]})
    assert "quay.io directly" in message


def test_only_the_registries_the_config_lists_are_refused() -> None:
    inputs = templated("RunnerDeployment")
    inputs["spec"]["template"]["spec"]["image"] = "quay.io/acme/runner:1.0"
    assert run(SUMMERWIND + "RunnerDeployment", inputs, {"cachedRegistries": ["docker.io"]}) == []
    assert run(SUMMERWIND + "RunnerDeployment", inputs, {"cachedRegistries": ["quay.io"]})
    assert run(SUMMERWIND + "RunnerDeployment", inputs, {}) == []


def test_the_config_is_a_list_of_registry_hosts() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({RULE: {"cachedRegistries": value}}, policies)

    assert problems(["docker.io"]) == [] and problems([]) == []
    assert problems("docker.io") and problems([1])
    schema = POLICY.config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["default"] == [] and entry["description"]
