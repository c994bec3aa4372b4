"""The ECR pull-through cache (imageCache): the setting, the one image rewrite, the node role's
import permission, the resources the program registers and what waits for them, and every image
the cluster would pull coming through the cache where the stack turns it on."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string
from pydantic import ValidationError

from arc_eks import versions
from arc_eks.builders import registry
from arc_eks.builders.registry import (
    ImageCachePlan,
    cached_image,
    image_cache_plan,
    image_source,
    node_pull_through_policy,
    parse_image,
)
from arc_eks.config.stack import StackConfig
from arc_eks.resource_graph import image_cache_order_problems
from arc_eks.review import artifacts as review_artifacts
from arc_eks.review import run as review
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, CapturedResource, ProgramRun, is_secret
from tests.conftest import FIXTURE_PROJECT, run_stack

HOST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
CHART_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "charts"
RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"


def _plan(*upstreams: str, prefix: str = "arc-eks-staging") -> ImageCachePlan:
    names = upstreams or ("docker-hub", "quay", "k8s")
    return ImageCachePlan(
        account_id="111122223333",
        region="eu-west-1",
        prefix=prefix,
        upstreams=tuple(registry.UPSTREAMS[n] for n in names),
        usernames={"docker-hub": "acme"},
    )


def _stack(**cache: Any) -> StackConfig:
    return StackConfig.model_validate(
        {
            "environment": "staging",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "imageCache": cache,
        }
    )


# --- the rewrite ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        # Docker Hub official image: the library/ namespace is part of the cached path.
        ("docker:28.0.4-dind", f"{HOST}/arc-eks-staging/docker-hub/library/docker:28.0.4-dind"),
        (
            "docker.io/library/docker:28.0.4-dind",
            f"{HOST}/arc-eks-staging/docker-hub/library/docker:28.0.4-dind",
        ),
        (
            "index.docker.io/summerwind/actions-runner:v1",
            f"{HOST}/arc-eks-staging/docker-hub/summerwind/actions-runner:v1",
        ),
        (
            "summerwind/actions-runner:v2.335.1-ubuntu-22.04",
            f"{HOST}/arc-eks-staging/docker-hub/summerwind/actions-runner:v2.335.1-ubuntu-22.04",
        ),
        (
            "quay.io/jetstack/cert-manager-controller:v1.21.1",
            f"{HOST}/arc-eks-staging/quay/jetstack/cert-manager-controller:v1.21.1",
        ),
        (
            "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0",
            f"{HOST}/arc-eks-staging/k8s/autoscaling/cluster-autoscaler:v1.35.0",
        ),
        # A pinned digest stays the pin (with or without a tag).
        (
            "docker@sha256:" + "a" * 64,
            f"{HOST}/arc-eks-staging/docker-hub/library/docker@sha256:" + "a" * 64,
        ),
        (
            "quay.io/a/b:v1@sha256:" + "b" * 64,
            f"{HOST}/arc-eks-staging/quay/a/b:v1@sha256:" + "b" * 64,
        ),
        # Registries the cache does not serve are left alone: the stack's own ECR, ghcr.io when
        # not an upstream, a private registry with a port.
        (f"{HOST}/team/runner:v1", f"{HOST}/team/runner:v1"),
        ("ghcr.io/acme/runner:v1", "ghcr.io/acme/runner:v1"),
        ("registry.example.com:5000/runner:v1", "registry.example.com:5000/runner:v1"),
    ],
)
def test_cached_image(reference: str, expected: str) -> None:
    assert cached_image(reference, _plan()) == expected


def test_cached_image_with_the_cache_off_is_the_reference() -> None:
    for reference in ("docker:28.0.4-dind", "quay.io/a/b:v1", versions.RUNNER_IMAGE):
        assert cached_image(reference, None) == reference


def test_ghcr_is_rewritten_when_it_is_an_upstream() -> None:
    plan = _plan("docker-hub", "github-container-registry", "quay", "k8s")
    assert (
        cached_image("ghcr.io/acme/runner:v1", plan)
        == f"{HOST}/arc-eks-staging/ghcr/acme/runner:v1"
    )


def test_parse_image_keeps_registry_port_apart_from_tag() -> None:
    image = parse_image("localhost:5000/runner")
    assert (image.registry, image.path, image.tag) == ("localhost:5000", "runner", None)
    with pytest.raises(ValueError, match="not a digest"):
        parse_image("docker@sha256:short")


def test_image_source_names_the_cache_the_account_or_the_upstream() -> None:
    plan = _plan("docker-hub", "github-container-registry", "quay", "k8s")
    assert image_source(cached_image("docker:dind", plan)) == "ECR cache (docker-hub)"
    assert (
        image_source(cached_image("ghcr.io/a/b:1", plan)) == "ECR cache (github-container-registry)"
    )
    assert image_source(cached_image("quay.io/a/b:1", plan)) == "ECR cache (quay)"
    assert image_source(f"{HOST}/team/runner:v1") == "ECR 111122223333"
    assert image_source(f"{HOST}/team/quay:v1") == "ECR 111122223333"
    assert image_source("docker:dind") == "upstream docker.io"
    assert image_source("quay.io/a/b:1") == "upstream quay.io"


def test_china_regions_use_their_own_domain_and_partition() -> None:
    plan = dataclasses.replace(_plan(), region="cn-north-1")
    assert plan.host == "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn"
    assert plan.repository_arns()[0].startswith("arn:aws-cn:ecr:cn-north-1:")


# --- the setting -----------------------------------------------------------------------------


def test_off_by_default_and_then_needs_no_docker_hub_account() -> None:
    stack = _stack()
    assert stack.image_cache_enabled is False
    assert image_cache_plan(stack, region="eu-west-1", account_ids=["111122223333"]) == (None, [])


def test_on_needs_the_docker_hub_user() -> None:
    with pytest.raises(ValidationError, match=r"imageCache\.dockerHubUsername"):
        _stack(enabled=True)
    with pytest.raises(ValidationError, match=r"imageCache\.githubUsername"):
        _stack(
            enabled=True,
            dockerHubUsername="acme",
            upstreams=["docker-hub", "github-container-registry", "quay", "k8s"],
        )


def test_prefix_length_fits_ecr_rule_prefixes() -> None:
    # arc-eks-<environment>/docker-hub must stay within ECR's 30 characters.
    raw: dict[str, Any] = {
        "environment": "integration1",
        "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
        "imageCache": {"enabled": True, "dockerHubUsername": "acme"},
    }
    with pytest.raises(ValidationError, match=r"imageCache\.repositoryPrefix of at most 19"):
        StackConfig.model_validate(raw)
    raw["imageCache"]["repositoryPrefix"] = "arc-integration1"
    assert StackConfig.model_validate(raw).image_cache_prefix == "arc-integration1"
    raw["environment"] = "integration"  # arc-eks-integration: exactly 19
    del raw["imageCache"]["repositoryPrefix"]
    assert len(StackConfig.model_validate(raw).image_cache_prefix) == 19


def test_duplicate_upstreams_refused() -> None:
    with pytest.raises(ValidationError, match="each upstream once"):
        _stack(upstreams=["quay", "quay"])


def test_plan_needs_one_account_a_region_and_the_platforms_upstreams() -> None:
    stack = _stack(enabled=True, dockerHubUsername="acme", upstreams=["docker-hub", "k8s"])
    plan, problems = image_cache_plan(stack, region=None, account_ids=[])
    assert plan is None
    paths = [p.path for p in problems]
    assert paths == ["aws:region", "aws:allowedAccountIds", "arc-eks:imageCache.upstreams"]
    assert "'quay' too" in problems[2].expected
    stack = _stack(enabled=True, dockerHubUsername="acme")
    plan, problems = image_cache_plan(stack, region="eu-west-1", account_ids=["111122223333"])
    assert problems == [] and plan is not None
    assert [plan.rule_prefix(u) for u in plan.upstreams] == [
        "arc-eks-staging/docker-hub",
        "arc-eks-staging/quay",
        "arc-eks-staging/k8s",
    ]


def test_every_platform_image_is_served_by_the_default_upstreams() -> None:
    plan = _plan()
    for what, reference in registry.platform_images().items():
        assert cached_image(reference, plan).startswith(f"{HOST}/arc-eks-staging/"), what


# --- the node role's permission --------------------------------------------------------------


def test_node_policy_is_exactly_import_and_create_on_the_cached_repositories() -> None:
    document = node_pull_through_policy(_plan())
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == [
        "arn:aws:ecr:eu-west-1:111122223333:repository/arc-eks-staging/docker-hub/*",
        "arn:aws:ecr:eu-west-1:111122223333:repository/arc-eks-staging/quay/*",
        "arn:aws:ecr:eu-west-1:111122223333:repository/arc-eks-staging/k8s/*",
    ]
    assert "Condition" not in statement


def test_node_policy_through_parliament() -> None:
    findings = analyze_policy_string(json.dumps(node_pull_through_policy(_plan()))).findings
    # parliament 1.6.4's data has no resource type for BatchImportUpstreamImage (the Service
    # Authorization Reference lists repository*); that one finding is known and only that one.
    assert [(f.issue, f.detail) for f in findings] == [
        ("RESOURCE_MISMATCH", [{"action": "ecr:BatchImportUpstreamImage", "required_format": "*"}])
    ]
    assert all(review_artifacts._outdated_parliament_data(f) for f in findings)


def test_the_parliament_exception_is_only_for_that_action() -> None:
    document = node_pull_through_policy(_plan())
    document["Statement"][0]["Action"].append("ecr:GetAuthorizationToken")
    findings = analyze_policy_string(json.dumps(document)).findings
    assert findings and not all(review_artifacts._outdated_parliament_data(f) for f in findings)


# --- the program -----------------------------------------------------------------------------


@cache
def _run(env: str) -> ProgramRun:
    return run_stack(env)


def test_dev_has_no_cache() -> None:
    run = _run("dev")
    assert not run.of_type(RULE) and not run.of_type(TEMPLATE)
    assert not run.of_type("aws:secretsmanager/secret:Secret")


def test_rules_templates_and_credentials() -> None:
    run = _run("staging")
    rules = {r.inputs["ecrRepositoryPrefix"]: r for r in run.of_type(RULE)}
    assert {p: r.inputs["upstreamRegistryUrl"] for p, r in rules.items()} == {
        "arc-eks-staging/docker-hub": "registry-1.docker.io",
        "arc-eks-staging/ghcr": "ghcr.io",
        "arc-eks-staging/quay": "quay.io",
        "arc-eks-staging/k8s": "registry.k8s.io",
    }
    secrets = {r.inputs["namePrefix"]: r for r in run.of_type("aws:secretsmanager/secret:Secret")}
    assert sorted(secrets) == [
        "ecr-pullthroughcache/arc-eks-staging/docker-hub-",
        "ecr-pullthroughcache/arc-eks-staging/ghcr-",
    ]
    assert (
        rules["arc-eks-staging/docker-hub"]
        .inputs["credentialArn"]
        .startswith("arn:aws:secretsmanager:")
    )
    assert "credentialArn" not in rules["arc-eks-staging/quay"].inputs
    version = next(
        v
        for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if v.name == "image-cache-docker-hub-credentials"
    )
    assert is_secret(version.inputs["secretString"])
    assert json.loads(version.inputs["secretString"]["value"]) == {
        "username": "acme-ci-pulls",
        "accessToken": f"{OFFLINE_SECRET_PREFIX}docker-hub",
    }
    assert version.urn in rules["arc-eks-staging/docker-hub"].dependencies
    templates = {t.inputs["prefix"]: t for t in run.of_type(TEMPLATE)}
    assert set(templates) == set(rules)
    for prefix, template in templates.items():
        assert template.inputs["appliedFors"] == ["PULL_THROUGH_CACHE"]
        (rule,) = json.loads(template.inputs["lifecyclePolicy"])["rules"]
        assert rule["selection"]["tagStatus"] == "untagged"
        assert rule["action"] == {"type": "expire"}
        assert template.urn in rules[prefix].dependencies


def test_the_token_is_never_plain_in_any_input() -> None:
    for token in (f"{OFFLINE_SECRET_PREFIX}docker-hub", f"{OFFLINE_SECRET_PREFIX}ghcr"):
        for resource in _run("staging"):
            masked = json.dumps(resource.plain_inputs(mask="***"))
            assert token not in masked, resource.name


def test_node_role_gets_the_policy() -> None:
    run = _run("staging")
    policy = next(
        r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.startswith("image-cache")
    )
    role = run.one("aws:iam/role:Role", "cluster-node")
    assert role.urn in policy.dependencies
    assert policy.inputs["role"] == "cluster-node"  # the role's name as the mocks give it
    plan = _plan("docker-hub", "github-container-registry", "quay", "k8s")
    assert json.loads(policy.inputs["policy"]) == node_pull_through_policy(plan)


def test_everything_in_cluster_waits_for_the_cache() -> None:
    run = _run("staging")
    assert run.of_type(RULE)
    assert image_cache_order_problems(run.resources) == []
    # Drop the provider's edges to the cache: every in-cluster resource is then reported.
    cache_urns = {r.urn for r in run if r.type in (RULE, TEMPLATE, "aws:iam/rolePolicy:RolePolicy")}
    broken: list[CapturedResource] = [
        dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in cache_urns])
        if r.type == "pulumi:providers:kubernetes"
        else r
        for r in run
    ]
    flagged = {p.resource.name for p in image_cache_order_problems(broken)}
    assert flagged == {r.name for r in run if r.type.startswith("kubernetes:")}
    assert "does not wait for the image cache" in image_cache_order_problems(broken)[0].render()


# --- every image the cluster would pull ----------------------------------------------------


def _images(obj: Any) -> list[str]:
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "image" and isinstance(value, str):
                found.append(value)
            elif isinstance(value, str) and value.startswith("--acme-http01-solver-image="):
                found.append(value.split("=", 1)[1])
            else:
                found += _images(value)
    elif isinstance(obj, list):
        for value in obj:
            if isinstance(value, str) and value.startswith(
                ("--acme-http01-solver-image=", "--docker-image=", "--runner-image=")
            ):
                found.append(value.split("=", 1)[1])
            else:
                found += _images(value)
    return found


@pytest.fixture(scope="module")
def staging_review(tmp_path_factory: pytest.TempPathFactory) -> review.ReviewResult:
    return review.run_review(
        "staging",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        out_dir=tmp_path_factory.mktemp("review-staging"),
    )


def test_every_rendered_and_runner_image_comes_through_the_cache(
    staging_review: review.ReviewResult,
) -> None:
    assert staging_review.validation.errors == []
    images = []
    for resource in [*staging_review.rendered, *staging_review.resources]:
        if resource.type.startswith("kubernetes:") and "helm.sh" not in resource.type:
            images += _images(resource.plain_inputs())
    assert len(images) >= 10
    # Every image from this account's ECR: the cache, or a team's own repository (the fixture's
    # kaniko pool). Helm's templates quote some image values; compare the reference itself.
    images = [i.strip('"') for i in images]
    assert sorted({i for i in images if not i.startswith(f"{HOST}/")}) == []
    cached = [i for i in images if i.startswith(f"{HOST}/arc-eks-staging/")]
    assert {image_source(i) for i in images} == {
        "ECR 111122223333",
        "ECR cache (docker-hub)",
        "ECR cache (github-container-registry)",
        "ECR cache (quay)",
        "ECR cache (k8s)",
    }
    names = {i.split("/", 3)[3].rsplit(":", 1)[0] for i in cached}
    assert {
        "jetstack/cert-manager-controller",
        "jetstack/cert-manager-webhook",
        "jetstack/cert-manager-cainjector",
        "brancz/kube-rbac-proxy",
        "summerwind/actions-runner-controller",
        "autoscaling/cluster-autoscaler",
        "library/docker",
        "summerwind/actions-runner",
    } <= names


# --- the token ---------------------------------------------------------------------------------


def test_the_token_must_be_a_pulumi_secret() -> None:
    github = {
        "arc-eks:githubAppPrivateKey": f"{OFFLINE_SECRET_PREFIX}app-key",
        "arc-eks:githubWebhookSecret": f"{OFFLINE_SECRET_PREFIX}webhook",
    }
    missing = run_stack("staging", secrets=github, raise_errors=False)
    assert "arc-eks:imageCacheDockerHubToken: got (missing)" in str(missing.error)
    plain = run_stack(
        "staging",
        secrets=github,
        set_config={"arc-eks:imageCacheDockerHubToken": "dckr_pat_plain"},
        raise_errors=False,
    )
    assert "arc-eks:imageCacheDockerHubToken: got (set in plain text)" in str(plain.error)
    assert "dckr_pat_plain" not in str(plain.error)
    # The cache off: no token needed.
    off = run_stack(
        "staging", secrets=github, set_config={"arc-eks:imageCache": {"enabled": False}}
    )
    assert not off.of_type(RULE)


def test_preflight_names_the_token_the_stack_file_needs() -> None:
    from arc_eks.ops.stackfile import check_stack_file
    from arc_eks.review.offline import stack_file

    staging = check_stack_file(stack_file(FIXTURE_PROJECT, "staging"), "staging")
    assert "arc-eks:imageCacheDockerHubToken" in {p.path for p in staging}
    dev = check_stack_file(stack_file(FIXTURE_PROJECT, "dev"), "dev")
    assert "arc-eks:imageCacheDockerHubToken" not in {p.path for p in dev}


def test_the_review_shows_where_each_pools_images_come_from(
    staging_review: review.ReviewResult,
) -> None:
    from arc_eks.review import image_sources

    uses = image_sources.image_uses(staging_review.resources, staging_review.rendered)
    pools = {(u.owner, u.container): u.source for u in uses if u.owner.startswith("pool ")}
    assert pools[("pool runners-payments/build", "runner")] == "ECR cache (docker-hub)"
    assert pools[("pool runners-payments/build", "docker")] == "ECR cache (docker-hub)"
    assert pools[("pool runners-data-platform/images", "runner")] == "ECR 111122223333"
    platform = {u.source for u in uses if u.owner.startswith("platform ")}
    assert platform == {
        "ECR cache (docker-hub)",
        "ECR cache (github-container-registry)",
        "ECR cache (quay)",
        "ECR cache (k8s)",
    }
    text = review.render(staging_review, show_plan=False)
    assert "Images (where each pool's and the platform's images come from):" in text
    assert "pool runners-payments/build  docker: ECR cache (docker-hub)" in text
    # Without the cache (dev), the same pools pull from Docker Hub directly, and the review says so.
    dev = review.run_review(
        "dev", project_dir=FIXTURE_PROJECT, chart_cache=CHART_CACHE, check_ignored_values=False
    )
    sources = {u.source for u in image_sources.image_uses(dev.resources, dev.rendered)}
    assert "upstream docker.io" in sources and not any("cache" in s for s in sources)
