"""Where images come from: image references, the ECR pull-through cache plan, and the one function
that rewrites an image reference to its cached ECR path (`cached_image`).

Every image the program sets (Helm values, runner pods) goes through `cached_image`; with the
cache off it returns the reference unchanged.

Facts used here (Amazon ECR user guide, "Sync an upstream registry with an Amazon ECR private
registry" and CreatePullThroughCacheRule in the ECR API reference):
- a rule maps `<ecr repository prefix>/` to one upstream registry URL; images are pulled as
  `<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<upstream repository>:<tag>` (or `@<digest>`);
  Docker Hub official images keep their `library/` namespace in that path;
- the prefix is 2-30 characters; Docker Hub and GitHub Container Registry need credentials in a
  Secrets Manager secret whose name starts with `ecr-pullthroughcache/` (JSON keys `username`,
  `accessToken`); Quay and the Kubernetes registry need none;
- the puller needs `ecr:BatchImportUpstreamImage`, and `ecr:CreateRepository` when the cached
  repository does not exist yet (the first pull of an image), on top of the usual pull actions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from arc_eks import versions
from arc_eks.builders.iam import policy_document
from arc_eks.config.stack import StackConfig
from arc_eks.errors import ConfigProblem

DOCKER_HUB = "docker.io"
# Names Docker Hub is also written as in image references (distribution/reference normalises them).
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
SECRET_NAME_PREFIX = "ecr-pullthroughcache/"


@dataclass(frozen=True)
class Upstream:
    """One upstream registry ECR can cache."""

    name: str
    """ECR's name for it (`upstreamRegistry`), also the stack setting's value."""
    registry: str
    """The host as image references name it."""
    url: str
    """The rule's `upstreamRegistryUrl`."""
    suffix: str
    """Second part of the cached repositories' prefix (`<stack prefix>/<suffix>`)."""
    secret_key: str | None
    """The Pulumi secret (under `arc-eks:`) holding its access token; None: no credentials."""


UPSTREAMS: dict[str, Upstream] = {
    u.name: u
    for u in (
        Upstream(
            "docker-hub",
            DOCKER_HUB,
            "registry-1.docker.io",
            "docker-hub",
            "imageCacheDockerHubToken",
        ),
        Upstream(
            "github-container-registry", "ghcr.io", "ghcr.io", "ghcr", "imageCacheGithubToken"
        ),
        Upstream("quay", "quay.io", "quay.io", "quay", None),
        Upstream("k8s", "registry.k8s.io", "registry.k8s.io", "k8s", None),
    )
}
UPSTREAM_BY_REGISTRY = {u.registry: u for u in UPSTREAMS.values()}


@dataclass(frozen=True)
class ImageRef:
    """An image reference, normalised as Docker does (`docker:dind` is
    `docker.io/library/docker:dind`)."""

    registry: str
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return f"{self.registry}/{self.path}{self.suffix}"

    @property
    def suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


def parse_image(reference: str) -> ImageRef:
    """Split an image reference into registry, repository path, tag and digest.

    The first path component is a registry when it contains `.` or `:` or is `localhost`
    (distribution/reference's rule); otherwise the image is on Docker Hub, where a one-part name
    is an official image under `library/`.
    """
    rest, digest = reference, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise ValueError(f"image {reference!r}: {digest!r} is not a digest")
    head, slash, tail = rest.partition("/")
    if slash and ("." in head or ":" in head or head == "localhost"):
        registry, path = head.lower(), tail
    else:
        registry, path = DOCKER_HUB, rest
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
    last = path.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if not path:
        raise ValueError(f"image {reference!r} names no repository")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest)


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def ecr_host(account_id: str, region: str) -> str:
    """The private registry's host (China regions end in amazonaws.com.cn)."""
    domain = "amazonaws.com.cn" if partition_of(region) == "aws-cn" else "amazonaws.com"
    return f"{account_id}.dkr.ecr.{region}.{domain}"


@dataclass(frozen=True)
class ImageCachePlan:
    """The stack's pull-through cache: where it lives and which upstreams it serves."""

    account_id: str
    region: str
    prefix: str
    """The stack's repository prefix (`arc-eks-<environment>` by default)."""
    upstreams: tuple[Upstream, ...]
    usernames: dict[str, str]
    """Per upstream name that needs credentials: the user the token belongs to."""
    untagged_expiry_days: int = 14

    @property
    def host(self) -> str:
        return ecr_host(self.account_id, self.region)

    def rule_prefix(self, upstream: Upstream) -> str:
        return f"{self.prefix}/{upstream.suffix}"

    def upstream_for(self, registry: str) -> Upstream | None:
        return next((u for u in self.upstreams if u.registry == registry), None)

    def repository_arns(self) -> list[str]:
        """Every repository the cache may create: `<prefix>/<suffix>/*` per upstream."""
        partition = partition_of(self.region)
        return [
            f"arn:{partition}:ecr:{self.region}:{self.account_id}:repository/"
            f"{self.rule_prefix(u)}/*"
            for u in self.upstreams
        ]


def cached_image(reference: str, plan: ImageCachePlan | None) -> str:
    """THE rewrite: `reference` as pulled through the cache, or unchanged when the cache is off or
    does not serve its registry (the stack's own ECR, a private registry). Tag and digest are
    kept as they are, so a pinned digest still pins the cached image."""
    if plan is None:
        return reference
    image = parse_image(reference)
    upstream = plan.upstream_for(image.registry)
    if upstream is None:
        return reference
    return f"{plan.host}/{plan.rule_prefix(upstream)}/{image.path}{image.suffix}"


def cached_repository(repository: str, plan: ImageCachePlan | None) -> str:
    """A Helm `image.repository` value (no tag) through the cache."""
    return cached_image(repository, plan)


def cached_registry(registry: str, plan: ImageCachePlan | None) -> str:
    """A chart's registry value (a host that image paths are appended to) through the cache:
    `<ecr host>/<prefix>/<suffix>` for a cached upstream other than Docker Hub (whose one-part
    names need `library/`, so it is never given as a bare registry), else unchanged."""
    if plan is None:
        return registry
    upstream = plan.upstream_for(registry.lower())
    if upstream is None:
        return registry
    if upstream.registry == DOCKER_HUB:
        raise ValueError("Docker Hub images are rewritten one by one (cached_image)")
    return f"{plan.host}/{plan.rule_prefix(upstream)}"


def image_source(reference: str) -> str:
    """Where an image as set comes from, in words for the review: `ECR cache (<upstream>)` (a
    cached path: `<account>.dkr.ecr...../<prefix>/<upstream suffix>/...`), `ECR <account>` (any
    other repository of an account's private registry) or `upstream <registry>`."""
    image = parse_image(reference)
    if ".dkr.ecr." not in image.registry:
        return f"upstream {image.registry}"
    parts = image.path.split("/")
    by_suffix = {u.suffix: u for u in UPSTREAMS.values()}
    if len(parts) > 2 and parts[1] in by_suffix:
        return f"ECR cache ({by_suffix[parts[1]].name})"
    return f"ECR {image.registry.split('.', 1)[0]}"


def platform_images() -> dict[str, str]:
    """Every image the platform itself pins, by what it is (versions.py): the upstreams the
    cache must serve when it is on."""
    cert_manager = (
        f"{versions.CERT_MANAGER_IMAGE_REGISTRY}/{versions.CERT_MANAGER_IMAGE_NAMESPACE}"
        f"/cert-manager-controller:{versions.CERT_MANAGER_CHART_VERSION}"
    )
    autoscaler = f"{versions.CLUSTER_AUTOSCALER_IMAGE_REPOSITORY}:{versions.pins().cluster_autoscaler_image_tag}"
    return {
        "actions-runner-controller": (
            f"{versions.ARC_CONTROLLER_IMAGE_REPOSITORY}:v{versions.ARC_APP_VERSION}"
        ),
        "kube-rbac-proxy": versions.KUBE_RBAC_PROXY_IMAGE,
        "runner": versions.RUNNER_IMAGE,
        "dind": versions.DIND_IMAGE,
        "cert-manager": cert_manager,
        "cluster-autoscaler": autoscaler,
    }


def image_cache_plan(
    stack: StackConfig,
    *,
    region: str | None,
    account_ids: Iterable[str],
    source: str = "stack config",
) -> tuple[ImageCachePlan | None, list[ConfigProblem]]:
    """The stack's cache plan (None when off), or the problems that prevent it."""
    if not stack.image_cache_enabled:
        return None, []
    problems: list[ConfigProblem] = []
    accounts = list(account_ids)
    if not region:
        problems.append(
            ConfigProblem(
                source,
                "aws:region",
                "(missing)",
                "the stack's region with imageCache on (the cached images' ECR registry)",
            )
        )
    if len(accounts) != 1:
        problems.append(
            ConfigProblem(
                source,
                "aws:allowedAccountIds",
                "(missing)" if not accounts else f"{len(accounts)} accounts",
                "exactly one account with imageCache on: the account whose ECR caches the "
                "images (the provider then refuses to deploy anywhere else)",
            )
        )
    cache = stack.image_cache
    upstreams = tuple(UPSTREAMS[name] for name in cache.upstreams)
    served = {u.registry for u in upstreams}
    missing: dict[str, list[str]] = {}
    for what, reference in platform_images().items():
        registry = parse_image(reference).registry
        if registry not in served:
            missing.setdefault(registry, []).append(what)
    for registry, images in missing.items():
        needed = UPSTREAM_BY_REGISTRY.get(registry)
        problems.append(
            ConfigProblem(
                source,
                "arc-eks:imageCache.upstreams",
                repr(list(cache.upstreams)),
                f"{needed.name if needed else registry!r} too: the platform's "
                f"{', '.join(images)} image(s) come from {registry}",
            )
        )
    if problems or not region:
        return None, problems
    usernames: dict[str, str] = {
        name: user
        for name, user in (
            ("docker-hub", cache.docker_hub_username),
            ("github-container-registry", cache.github_username),
        )
        if user is not None and name in cache.upstreams
    }
    return (
        ImageCachePlan(
            account_id=accounts[0],
            region=region,
            prefix=stack.image_cache_prefix,
            upstreams=upstreams,
            usernames=usernames,
            untagged_expiry_days=cache.untagged_expiry_days,
        ),
        [],
    )


def cached_registries(stack: StackConfig) -> list[str]:
    """The registry hosts the stack's cache serves (sorted; empty when the cache is off): what the
    policy pack's arc-runner-images-through-cache rule refuses straight from upstream."""
    if not stack.image_cache_enabled:
        return []
    return sorted(UPSTREAMS[name].registry for name in stack.image_cache.upstreams)


def upstream_credentials(username: str, token: str) -> str:
    """The secret value ECR reads for an authenticated upstream."""
    return json.dumps({"username": username, "accessToken": token})


def node_pull_through_policy(plan: ImageCachePlan) -> dict[str, Any]:
    """What the node role needs beyond AmazonEC2ContainerRegistryReadOnly (which already has
    GetAuthorizationToken, BatchGetImage and GetDownloadUrlForLayer) for kubelet to pull through
    the cache: import an upstream image, and create its repository on the first pull. Only on
    the stack's cached repositories (`<prefix>/<upstream>/*`), never `*`."""
    return policy_document(
        [
            {
                "Sid": "PullThroughCacheImport",
                "Effect": "Allow",
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                "Resource": plan.repository_arns(),
            }
        ]
    )


def lifecycle_policy(untagged_expiry_days: int) -> dict[str, Any]:
    """Lifecycle of every cached repository: images that lost their tag (an upstream tag moved)
    expire. Tagged images stay: they are the pins in use.
    Ref: https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html"""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged cached images after {untagged_expiry_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expiry_days,
                },
                "action": {"type": "expire"},
            }
        ]
    }
