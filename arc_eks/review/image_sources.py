"""Where each image the stack runs comes from, for the review: per runner pool (its runner, dind
and other containers) and for the platform's own workloads (the objects its Helm releases render).

A source is `ECR cache (<upstream>)` (the stack's pull-through cache), `ECR <account>` (another
repository of an account's private registry) or `upstream <registry>` (pulled from the internet
registry directly): `arc_eks.builders.registry.image_source`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from arc_eks.builders.registry import image_source
from arc_eks.review.offline import CapturedResource

RUNNER_DEPLOYMENT = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"
AUTOSCALING_RUNNER_SET = "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
RUNNER_SET_CHART = "gha-runner-scale-set"
WORKLOAD_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "Pod"})
CONTAINER_FIELDS = ("initContainers", "containers", "sidecarContainers")


@dataclass(frozen=True)
class ImageUse:
    owner: str
    """`pool <namespace>/<name>` or `platform <namespace>/<kind>/<name>`."""
    container: str
    image: str
    source: str


def _containers(spec: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(spec, dict):
        return
    for field in CONTAINER_FIELDS:
        for item in spec.get(field) or []:
            if isinstance(item, dict) and isinstance(item.get("image"), str):
                yield str(item.get("name")), item["image"]


def _pod_spec(manifest: dict[str, Any]) -> Any:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "Pod":
        return spec
    if manifest.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec")


def _name(metadata: Any) -> str:
    metadata = metadata if isinstance(metadata, dict) else {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


def image_uses(
    resources: Iterable[CapturedResource], rendered: Iterable[CapturedResource]
) -> list[ImageUse]:
    """Every image of every runner pool (as the program sets it) and of every rendered workload."""
    uses: list[ImageUse] = []
    for resource in resources:
        inputs = resource.plain_inputs(mask="***")
        owner = f"pool {_name(inputs.get('metadata'))}"
        if resource.type == RUNNER_DEPLOYMENT:
            spec = ((inputs.get("spec") or {}).get("template") or {}).get("spec") or {}
            found = dict(_containers(spec))
            if "runner" not in found and isinstance(spec.get("image"), str):
                uses.append(ImageUse(owner, "runner", spec["image"], image_source(spec["image"])))
            uses += [ImageUse(owner, n, i, image_source(i)) for n, i in _containers(spec)]
        elif resource.type == AUTOSCALING_RUNNER_SET:
            spec = ((inputs.get("spec") or {}).get("template") or {}).get("spec")
            uses += [ImageUse(owner, n, i, image_source(i)) for n, i in _containers(spec)]
        elif resource.type == HELM_RELEASE and str(inputs.get("chart", "")).endswith(
            RUNNER_SET_CHART
        ):
            values = inputs.get("values") or {}
            owner = f"pool {inputs.get('namespace', '')}/{inputs.get('name', resource.name)}"
            spec = (values.get("template") or {}).get("spec")
            uses += [ImageUse(owner, n, i, image_source(i)) for n, i in _containers(spec)]
    for resource in rendered:
        manifest = resource.plain_inputs(mask="***")
        if manifest.get("kind") not in WORKLOAD_KINDS:
            continue
        owner = f"platform {_name(manifest.get('metadata'))} ({manifest.get('kind')})"
        uses += [
            ImageUse(owner, n, i, image_source(i)) for n, i in _containers(_pod_spec(manifest))
        ]
    return sorted(uses, key=lambda u: (not u.owner.startswith("pool"), u.owner, u.container))


def render_lines(uses: Iterable[ImageUse]) -> list[str]:
    return [f"  {u.owner}  {u.container}: {u.source}  {u.image}" for u in uses]
