"""imageCache.dindRegistryMirror: the jobs' own Docker Hub pulls in dind pools go through the
organisation's mirror (dockerd --registry-mirror on the package's own dind sidecar), and a mirror on
a private address is reachable from those runner pods only, on its port only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from arc_eks.builders.network_policy import PRIVATE_RANGES, registry_mirror_policy
from arc_eks.config.stack import StackConfig
from arc_eks.review.offline import ProgramRun
from tests.program_fixtures import pool, run_fixture, write_teams

MIRROR = "https://mirror.example.com"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RUNNERS = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"


def _cache(**settings: Any) -> StackConfig:
    return StackConfig.model_validate(
        {
            "environment": "dev",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "imageCache": settings,
        }
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://mirror.example.com",  # dockerd would need it listed as insecure
        "https://mirror.example.com/v2/docker-hub",  # a mirror must be the root of a host
        "https://mirror.example.com/docker-hub/",
        "mirror.example.com",
        "https://user:pass@mirror.example.com",
    ],
)
def test_mirror_must_be_an_https_host_root(url: str) -> None:
    with pytest.raises(ValidationError, match="dindRegistryMirror"):
        _cache(dindRegistryMirror=url)


def test_mirror_port() -> None:
    assert _cache(dindRegistryMirror=MIRROR).image_cache.dind_registry_mirror_port == 443
    with_port = _cache(dindRegistryMirror="https://mirror.example.com:5000/")
    assert with_port.image_cache.dind_registry_mirror_port == 5000
    with pytest.raises(ValidationError, match="port between 1 and 65535"):
        _cache(dindRegistryMirror="https://mirror.example.com:70000")


@pytest.mark.parametrize(
    ("cidrs", "problem"),
    [
        (["10.20.0.0/16"], "at most a /24"),
        (["169.254.169.254/32"], "link-local"),
        (["10.20.30.1/24"], "network address"),
    ],
)
def test_mirror_networks_are_narrow(cidrs: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        _cache(dindRegistryMirror=MIRROR, dindRegistryMirrorCidrs=cidrs)


def test_mirror_networks_need_the_mirror() -> None:
    with pytest.raises(ValidationError, match="only with dindRegistryMirror"):
        _cache(dindRegistryMirrorCidrs=["10.20.30.0/28"])


def test_the_mirror_policy_is_narrow() -> None:
    policy = registry_mirror_policy("runners-alpha", ["build"], ("10.20.30.0/28",), 5000)
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["podSelector"] == {
        "matchExpressions": [{"key": "arc-eks.io/pool", "operator": "In", "values": ["build"]}]
    }
    assert spec["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "10.20.30.0/28"}}],
            "ports": [{"protocol": "TCP", "port": 5000}],
        }
    ]
    assert "ingress" not in spec


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    teams = write_teams(
        Path(tmp_path_factory.mktemp("teams")),
        {
            "alpha": [pool("build", "dind"), pool("lint")],
            "beta": [pool("docs"), pool("pods", "kubernetes")],
        },
    )
    return run_fixture(
        teams,
        imageCache={
            "dindRegistryMirror": "https://mirror.example.com:5000",
            "dindRegistryMirrorCidrs": ["10.20.30.0/28"],
        },
    )


def _runner_spec(run: ProgramRun, name: str) -> dict[str, Any]:
    deployment = next(r for r in run.of_type(RUNNERS) if r.inputs["metadata"]["name"] == name)
    spec: dict[str, Any] = deployment.inputs["spec"]["template"]["spec"]
    return spec


def test_dind_daemons_use_the_mirror(run: ProgramRun) -> None:
    (sidecar,) = _runner_spec(run, "build")["sidecarContainers"]
    assert sidecar["name"] == "docker"
    assert sidecar["args"][-1] == "--registry-mirror=https://mirror.example.com:5000"
    assert sum(a.startswith("--registry-mirror") for a in sidecar["args"]) == 1
    # Pools without a daemon are untouched, and no ARC dockerRegistryMirror is set (it would
    # only reach ARC's own dind container, which these pools never use).
    assert "sidecarContainers" not in _runner_spec(run, "lint")
    assert all("dockerRegistryMirror" not in _runner_spec(run, n) for n in ("build", "lint"))


def test_only_namespaces_with_dind_pools_reach_the_mirror(run: ProgramRun) -> None:
    mirror = [
        r
        for r in run.of_type(NETWORK_POLICY)
        if r.inputs["metadata"]["name"] == "allow-registry-mirror"
    ]
    assert [r.inputs["metadata"]["namespace"] for r in mirror] == ["runners-alpha"]
    (policy,) = mirror
    assert policy.inputs["spec"]["podSelector"]["matchExpressions"][0]["values"] == ["build"]
    # The runners of the dind pool wait for it, as for every other policy of their namespace.
    deployment = next(r for r in run.of_type(RUNNERS) if r.inputs["metadata"]["name"] == "build")
    assert policy.urn in deployment.dependencies
    # The internet rule still excepts every private range: the mirror's /28 is the one opening.
    internet = next(
        r
        for r in run.of_type(NETWORK_POLICY)
        if r.inputs["metadata"]["name"] == "allow-internet-egress"
        and r.inputs["metadata"]["namespace"] == "runners-alpha"
    )
    (block,) = internet.inputs["spec"]["egress"][0]["to"]
    assert block["ipBlock"]["except"] == list(PRIVATE_RANGES)


def test_without_a_mirror_nothing_changes(tmp_path: Path) -> None:
    teams = write_teams(tmp_path / "teams", {"alpha": [pool("build", "dind")]})
    plain = run_fixture(teams)
    (sidecar,) = _runner_spec(plain, "build")["sidecarContainers"]
    assert not any(a.startswith("--registry-mirror") for a in sidecar["args"])
    assert not [
        r
        for r in plain.of_type(NETWORK_POLICY)
        if r.inputs["metadata"]["name"] == "allow-registry-mirror"
    ]


def test_scale_set_pools_get_the_mirror_and_the_cache(tmp_path: Path) -> None:
    """A scale-set dind pool: the mirror on its dind native sidecar, its images (runner from
    ghcr.io, dind from Docker Hub) and the scale-set controller's through the ECR cache when it
    serves their registries, and its runner pods reach the private mirror like a legacy pool's."""
    from arc_eks.builders.registry import image_source

    teams = write_teams(tmp_path / "teams", {"alpha": [pool("sets", "dind", mode="scaleSet")]})
    run = run_fixture(
        teams,
        imageCache={
            "enabled": True,
            "dockerHubUsername": "acme",
            "githubUsername": "acme-bot",
            "upstreams": ["docker-hub", "github-container-registry", "quay", "k8s"],
            "dindRegistryMirror": MIRROR,
            "dindRegistryMirrorCidrs": ["10.20.30.0/28"],
        },
        aws={"allowedAccountIds": ["111122223333"]},
    )
    releases = {
        r.inputs["chart"].rsplit("/", 1)[-1]: r
        for r in run.of_type("kubernetes:helm.sh/v3:Release")
    }
    pod = releases["gha-runner-scale-set"].inputs["values"]["template"]["spec"]
    dind = next(c for c in pod["initContainers"] if c["name"] == "dind")
    assert dind["args"][-1] == f"--registry-mirror={MIRROR}"
    images = [c["image"] for c in [*pod["initContainers"], *pod["containers"]]]
    assert {image_source(i) for i in images} == {
        "ECR cache (docker-hub)",
        "ECR cache (github-container-registry)",
    }
    controller = releases["gha-runner-scale-set-controller"].inputs["values"]["image"]
    assert image_source(controller["repository"] + ":" + controller["tag"]) == (
        "ECR cache (github-container-registry)"
    )
    mirror = [
        r
        for r in run.of_type(NETWORK_POLICY)
        if r.inputs["metadata"]["name"] == "allow-registry-mirror"
    ]
    assert [r.inputs["spec"]["podSelector"]["matchExpressions"][0]["values"] for r in mirror] == [
        ["sets"]
    ]
