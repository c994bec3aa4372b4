"""Runner and dind images come through the stack's ECR pull-through cache where the stack turns it on.

With `arc-eks:imageCache` on, the program rewrites every runner and dind image from a cached
upstream (Docker Hub, Quay, registry.k8s.io, ghcr.io when listed) to the account's ECR
(`arc_eks.builders.registry.cached_image`). An image still naming such an upstream would be pulled
from it directly by every runner pod, through the NAT address whose Docker Hub quota the cache
exists to spare. The stack's setting reaches the pack as this rule's `cachedRegistries` (generated
from the stack file, `arc_eks.review.policy_config`); empty (the cache off): nothing to check.

Read: every container of runner pods (legacy ARC runner kinds; scale sets as AutoscalingRunnerSet
or gha-runner-scale-set release values, read as `scale_sets` reads them) and the runner and dind
defaults the legacy ARC chart gives runners that name none (`image.actionsRunnerRepositoryAndTag`,
`image.dindSidecarRepositoryAndTag`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, get, show
from .helm import CHART_V4, RELEASE
from .scale_sets import SCALE_SET_TYPES, chart_name, scale_set
from .scale_sets import containers as scale_set_containers
from .workloads import RUNNER_KINDS, pod_containers

HELM_TYPES = frozenset({RELEASE, CHART_V4})
ARC_CHART = "actions-runner-controller"
ARC_RUNNER_DEFAULTS = ("actionsRunnerRepositoryAndTag", "dindSidecarRepositoryAndTag")
# Docker Hub's other names in image references (distribution/reference normalises them).
DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def registry_of(image: str) -> str:
    """The registry host of an image reference: its first component when that contains `.` or
    `:` or is `localhost` (the rule Docker applies), else Docker Hub (`docker.io`)."""
    head, slash, _ = image.partition("/")
    if slash and ("." in head or ":" in head or head == "localhost"):
        host = head.lower()
        return "docker.io" if host in DOCKER_HUB_NAMES else host
    return "docker.io"


def _bypass(image: Any, cached: frozenset[str]) -> str | None:
    if not isinstance(image, str) or not image.strip():
        return None  # no image at all is kubernetes-images-pinned's finding
    registry = registry_of(image.strip())
    if registry in cached:
        return (
            f"{show(image)} is pulled from {registry} directly; this environment pulls it "
            "through its ECR pull-through cache"
        )
    return None


def _images(typ: str, props: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(path, container name, image) of every image the rule reads in a resource."""
    ss = scale_set(typ, props) if typ in SCALE_SET_TYPES else None
    if ss is not None:
        if ss.pod is not UNKNOWN:
            for container in scale_set_containers(ss.pod, ss.pod_base):
                yield f"{container.path}.image", container.name, get(container.item, "image")
        return
    if typ in HELM_TYPES:
        if chart_name(props) == ARC_CHART:
            for key in ARC_RUNNER_DEFAULTS:
                yield f"values.image.{key}", None, get(props, "values", "image", key)
        return
    for runner_container in pod_containers(typ, props):
        yield f"{runner_container.path}.image", runner_container.name, runner_container.image


def check_through_cache(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    cached = frozenset(str(r).lower() for r in config.get("cachedRegistries") or ())
    if not cached:
        return
    for path, name, image in _images(typ, props):
        if image is UNKNOWN:
            continue
        problem = _bypass(image, cached)
        if problem:
            where = "" if name is None else f" ({show(name)})"
            yield Finding(path, problem + where)


RUNNER_IMAGES_THROUGH_CACHE = Rule(
    name="arc-runner-images-through-cache",
    description="Where the stack turns the ECR pull-through cache on, runner pods' images "
    "(runner, dind sidecar) and the controller's runner/dind defaults come through it, never "
    "straight from Docker Hub or another cached upstream (whose anonymous pull quota per NAT "
    "address the cache exists to spare).",
    remediation="let the program set the image (it rewrites cached upstreams to the account's "
    "ECR), or name the cached path <account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<upstream>/"
    "<image> (docs/image-cache.md)",
    resource_types=RUNNER_KINDS | SCALE_SET_TYPES | HELM_TYPES,
    check=check_through_cache,
    config={
        "cachedRegistries": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Registry hosts the stack's ECR pull-through cache serves "
            "(docker.io, quay.io, ...): generated from arc-eks:imageCache; empty when it is off.",
        }
    },
    severity=Severity.MEDIUM,
)

RULES = (RUNNER_IMAGES_THROUGH_CACHE,)
