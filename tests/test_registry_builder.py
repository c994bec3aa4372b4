"""arc_eks/builders/registry.py on its own: how an image reference is read (Docker's rules), the
upstreams ECR can cache, the platform's own images, the cache plan's refusals and the small
documents it writes (the node role's statement, the repositories' lifecycle), compared whole."""

from __future__ import annotations

from typing import Any

import pytest

from arc_eks import versions
from arc_eks.builders import registry
from arc_eks.builders.registry import (
    ImageCachePlan,
    ImageRef,
    cached_registry,
    image_cache_plan,
    image_source,
    lifecycle_policy,
    node_pull_through_policy,
    parse_image,
)
from arc_eks.config.stack import StackConfig
from tests.pool_fixtures import cache_plan, stack_config

DIGEST = "sha256:" + "c" * 64
HOST = "210987654321.dkr.ecr.us-east-2.amazonaws.com"


def _stack(**cache: Any) -> StackConfig:
    return stack_config("staging", imageCache=cache)


def _plan(*names: str) -> ImageCachePlan:
    return cache_plan(*names, untagged_expiry_days=9)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("docker:dind", ImageRef("docker.io", "library/docker", "dind")),
        # A first component without `.` or `:` that is not localhost is a Docker Hub namespace,
        # whether it sorts before or after "localhost".
        ("acme/tool:1.2", ImageRef("docker.io", "acme/tool", "1.2")),
        ("zeta/tool:1.2", ImageRef("docker.io", "zeta/tool", "1.2")),
        ("localhost/tool:1.2", ImageRef("localhost", "tool", "1.2")),
        # library/ is Docker Hub's alone, whichever side of docker.io a registry sorts on.
        ("acme.example.com/tool:1", ImageRef("acme.example.com", "tool", "1")),
        ("zeta.example.com/tool:1", ImageRef("zeta.example.com", "tool", "1")),
        ("localhost:5000/a/b", ImageRef("localhost:5000", "a/b")),
        ("Registry.Example.com/a/b:v1", ImageRef("registry.example.com", "a/b", "v1")),
        ("docker.io/acme/tool:1", ImageRef("docker.io", "acme/tool", "1")),
        ("index.docker.io/acme/tool:1", ImageRef("docker.io", "acme/tool", "1")),
        ("registry-1.docker.io/library/docker:1", ImageRef("docker.io", "library/docker", "1")),
        ("registry-1.docker.io/docker:1", ImageRef("docker.io", "library/docker", "1")),
        ("quay.io/a/b/c:1.0", ImageRef("quay.io", "a/b/c", "1.0")),
        (f"ghcr.io/a/b@{DIGEST}", ImageRef("ghcr.io", "a/b", None, DIGEST)),
        (f"ghcr.io/a/b:v2@{DIGEST}", ImageRef("ghcr.io", "a/b", "v2", DIGEST)),
        ("ghcr.io/a/b", ImageRef("ghcr.io", "a/b")),
    ],
)
def test_parse_image(reference: str, expected: ImageRef) -> None:
    assert parse_image(reference) == expected


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("ghcr.io/:v1", "names no repository"),
        (":v1", "names no repository"),
        ("docker@sha256:short", "is not a digest"),
        (f"docker@{DIGEST}@{DIGEST}", "is not a digest"),
        ("docker@" + "c" * 64, "is not a digest"),
    ],
)
def test_parse_image_refuses(reference: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_image(reference)


def test_the_upstreams_ecr_can_cache() -> None:
    table = {
        name: (u.registry, u.url, u.suffix, u.secret_key) for name, u in registry.UPSTREAMS.items()
    }
    assert table == {
        "docker-hub": (
            "docker.io",
            "registry-1.docker.io",
            "docker-hub",
            "imageCacheDockerHubToken",
        ),
        "github-container-registry": ("ghcr.io", "ghcr.io", "ghcr", "imageCacheGithubToken"),
        "quay": ("quay.io", "quay.io", "quay", None),
        "k8s": ("registry.k8s.io", "registry.k8s.io", "k8s", None),
    }


def test_image_source_of_an_account_repository_of_one_or_two_parts() -> None:
    assert image_source(f"{HOST}/tool:1") == "ECR 210987654321"
    assert image_source(f"{HOST}/team/tool:1") == "ECR 210987654321"
    assert image_source(f"{HOST}/ci/quay/tool:1") == "ECR cache (quay)"


def test_cached_registry_for_charts_that_take_a_registry() -> None:
    plan = _plan("docker-hub", "quay", "k8s")
    assert cached_registry("quay.io", plan) == f"{HOST}/ci/quay"
    assert cached_registry("Registry.K8s.io", plan) == f"{HOST}/ci/k8s"
    assert cached_registry("ghcr.io", plan) == "ghcr.io"  # not an upstream of this plan
    assert cached_registry("quay.io", None) == "quay.io"
    with pytest.raises(ValueError, match="one by one"):
        cached_registry("docker.io", plan)


def test_the_platform_images_are_every_pinned_image() -> None:
    assert registry.platform_images() == {
        "actions-runner-controller": (
            f"summerwind/actions-runner-controller:v{versions.ARC_APP_VERSION}"
        ),
        "kube-rbac-proxy": f"quay.io/brancz/kube-rbac-proxy:{versions.KUBE_RBAC_PROXY_IMAGE_TAG}",
        "runner": versions.RUNNER_IMAGE,
        "dind": versions.DIND_IMAGE,
        "cert-manager": (
            f"quay.io/jetstack/cert-manager-controller:{versions.CERT_MANAGER_CHART_VERSION}"
        ),
        "cluster-autoscaler": (
            "registry.k8s.io/autoscaling/cluster-autoscaler:"
            f"{versions.pins().cluster_autoscaler_image_tag}"
        ),
    }


def test_a_missing_upstream_names_every_platform_image_it_would_serve() -> None:
    stack = _stack(enabled=True, dockerHubUsername="acme", upstreams=["docker-hub", "k8s"])
    _, problems = image_cache_plan(stack, region="us-east-2", account_ids=["210987654321"])
    (problem,) = problems
    assert problem.path == "arc-eks:imageCache.upstreams"
    assert problem.expected == (
        "'quay' too: the platform's kube-rbac-proxy, cert-manager image(s) come from quay.io"
    )
    stack = _stack(enabled=True, dockerHubUsername="acme", upstreams=["quay", "k8s"])
    _, problems = image_cache_plan(stack, region="us-east-2", account_ids=["210987654321"])
    (problem,) = problems
    assert problem.expected.startswith(
        "'docker-hub' too: the platform's actions-runner-controller, runner, dind image(s)"
    )


@pytest.mark.parametrize(
    ("accounts", "shown"),
    [([], "(missing)"), (["210987654321", "111122223333"], "2 accounts")],
)
def test_the_plan_needs_exactly_one_account(accounts: list[str], shown: str) -> None:
    stack = _stack(enabled=True, dockerHubUsername="acme")
    plan, problems = image_cache_plan(stack, region="us-east-2", account_ids=accounts)
    assert plan is None
    (problem,) = problems
    assert (problem.path, problem.value) == ("aws:allowedAccountIds", shown)


def test_the_plan_needs_the_region() -> None:
    stack = _stack(enabled=True, dockerHubUsername="acme")
    plan, problems = image_cache_plan(stack, region=None, account_ids=["210987654321"])
    assert plan is None
    (problem,) = problems
    assert (problem.path, problem.value) == ("aws:region", "(missing)")


def test_the_plan_of_a_stack_with_the_cache_on_and_off() -> None:
    off = _stack(dockerHubUsername="acme")
    assert image_cache_plan(off, region="us-east-2", account_ids=["210987654321"]) == (None, [])
    assert registry.cached_registries(off) == []
    on = _stack(
        enabled=True,
        dockerHubUsername="acme",
        githubUsername="octo",
        upstreams=["docker-hub", "github-container-registry", "quay", "k8s"],
        untaggedExpiryDays=30,
    )
    plan, problems = image_cache_plan(on, region="us-east-2", account_ids=["210987654321"])
    assert problems == []
    assert plan == ImageCachePlan(
        account_id="210987654321",
        region="us-east-2",
        prefix="arc-eks-staging",
        upstreams=tuple(registry.UPSTREAMS[n] for n in on.image_cache.upstreams),
        usernames={"docker-hub": "acme", "github-container-registry": "octo"},
        untagged_expiry_days=30,
    )
    assert registry.cached_registries(on) == ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"]


def test_node_pull_through_policy_whole() -> None:
    assert node_pull_through_policy(_plan("quay", "k8s")) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullThroughCacheImport",
                "Effect": "Allow",
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                "Resource": [
                    "arn:aws:ecr:us-east-2:210987654321:repository/ci/quay/*",
                    "arn:aws:ecr:us-east-2:210987654321:repository/ci/k8s/*",
                ],
            }
        ],
    }


def test_lifecycle_policy_whole() -> None:
    assert lifecycle_policy(9) == {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Expire untagged cached images after 9 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 9,
                },
                "action": {"type": "expire"},
            }
        ]
    }


@pytest.mark.parametrize(
    ("region", "partition", "host"),
    [
        ("eu-west-1", "aws", "1.dkr.ecr.eu-west-1.amazonaws.com"),
        ("cn-north-1", "aws-cn", "1.dkr.ecr.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "1.dkr.ecr.us-gov-west-1.amazonaws.com"),
    ],
)
def test_partition_and_registry_host_of_each_partition(
    region: str, partition: str, host: str
) -> None:
    assert registry.partition_of(region) == partition
    assert registry.ecr_host("1", region) == host


def test_usernames_only_for_the_upstreams_the_cache_serves() -> None:
    stack = _stack(enabled=True, dockerHubUsername="acme", githubUsername="octo")
    plan, problems = image_cache_plan(stack, region="us-east-2", account_ids=["210987654321"])
    assert problems == [] and plan is not None
    assert plan.usernames == {"docker-hub": "acme"}
