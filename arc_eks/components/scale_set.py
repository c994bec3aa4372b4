"""Runner scale sets: the scale-set controller (one per stack with scale-set pools), the GitHub
credentials of each runner namespace that holds scale sets, and one runner-set release per pool.

The credentials reach each namespace as a Kubernetes Secret built from the stack's Pulumi secrets
(the same keys as the legacy controller's Secret); the runner-set release only names it
(`githubConfigSecret: <name>`), so no credential sits in Helm values or in the Helm release record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from arc_eks import versions
from arc_eks.builders.registry import ImageCachePlan
from arc_eks.builders.runner import MANAGED_BY
from arc_eks.builders.scale_set import (
    GITHUB_CONFIG_SECRET_NAME,
    SCALE_SET_CONTROLLER_NAMESPACE,
    SCALE_SET_CONTROLLER_RELEASE,
    github_server_ca_config_map,
    runner_scale_set_values,
    scale_set_controller_values,
    scale_set_name,
)
from arc_eks.components.actions_runner_controller import _auth_data
from arc_eks.config.loader import GitHubSecrets
from arc_eks.config.stack import GitHubConfig
from arc_eks.config.teams import ResolvedPool

# Helm waits for the controller Deployment to be ready (the runner sets need its CRDs and the
# controller to reconcile them), and for each runner set's objects.
RELEASE_TIMEOUT_SECONDS = 600
SCALE_SET_CHART_REF = f"{versions.SCALE_SET_REPO}/{versions.SCALE_SET_CHART}"
SCALE_SET_CONTROLLER_CHART_REF = f"{versions.SCALE_SET_REPO}/{versions.SCALE_SET_CONTROLLER_CHART}"


@dataclass(frozen=True)
class ScaleSetControllerArgs:
    replicas: int
    log_format: str
    image_cache: ImageCachePlan | None = None


class ScaleSetController(pulumi.ComponentResource):
    """The gha-runner-scale-set-controller in its own namespace, beside the legacy controller
    (different CRD group, different namespace). Kubernetes children use `opts.providers`."""

    namespace: str
    release: k8s.helm.v3.Release
    """The runner-set releases wait for it: the actions.github.com CRDs come with it."""

    def __init__(
        self,
        name: str,
        args: ScaleSetControllerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("arc-eks:arc:ScaleSetController", name, None, opts)
        self.namespace = SCALE_SET_CONTROLLER_NAMESPACE
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SCALE_SET_CONTROLLER_NAMESPACE,
                labels={
                    **MANAGED_BY,
                    # The controller and the listeners it creates here need nothing privileged.
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=SCALE_SET_CONTROLLER_RELEASE,
            chart=SCALE_SET_CONTROLLER_CHART_REF,
            version=versions.SCALE_SET_CHART_VERSION,
            namespace=SCALE_SET_CONTROLLER_NAMESPACE,
            values=scale_set_controller_values(
                replicas=args.replicas, log_format=args.log_format, image_cache=args.image_cache
            ),
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        self.register_outputs({"namespace": self.namespace, "release_status": self.release.status})


def github_config_secret(
    name: str,
    namespace: str,
    *,
    github: GitHubConfig,
    secrets: GitHubSecrets,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.core.v1.Secret:
    """The namespace's `githubConfigSecret`: github_token, or github_app_id,
    github_app_installation_id and github_app_private_key, from the stack's Pulumi secrets only."""
    data = {key: pulumi.Output.secret(value) for key, value in _auth_data(github, secrets).items()}
    return k8s.core.v1.Secret(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=GITHUB_CONFIG_SECRET_NAME, namespace=namespace, labels=dict(MANAGED_BY)
        ),
        type="Opaque",
        string_data=data,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def github_server_ca(
    name: str,
    namespace: str,
    certificate: str,
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.core.v1.ConfigMap:
    manifest = github_server_ca_config_map(namespace, certificate)
    return k8s.core.v1.ConfigMap(
        name,
        metadata=manifest["metadata"],
        data=manifest["data"],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


@dataclass(frozen=True)
class RunnerScaleSetArgs:
    """Inputs of a RunnerScaleSet."""

    pool: ResolvedPool
    namespace: str
    node_selector: dict[str, str]
    service_account: pulumi.Resource
    """The pool's IRSA ServiceAccount (template.spec.serviceAccountName)."""
    controller: Sequence[pulumi.Resource]
    """The scale-set controller release (CRDs, and the controller that reconciles the set)."""
    namespace_config: Sequence[pulumi.Resource]
    """The namespace's githubConfigSecret (and GHES CA ConfigMap)."""
    tolerations: Sequence[dict[str, Any]] = ()
    isolation: Sequence[pulumi.Resource] = ()
    """The namespace and its NetworkPolicies: no runner pod starts before default-deny."""
    enterprise_url: str | None = None
    enterprise_ca: bool = False
    image_cache: ImageCachePlan | None = None
    """Runner and dind images through the ECR pull-through cache (where it serves ghcr.io/Docker Hub)."""
    registry_mirror: str | None = None
    """Docker Hub mirror of the dind daemon (imageCache.dindRegistryMirror)."""


class RunnerScaleSet(pulumi.ComponentResource):
    """The runners of one scale-set pool: one gha-runner-scale-set release (never container mode
    kubernetes: the pool model refuses it)."""

    scale_set_name: str
    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: RunnerScaleSetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:runners:RunnerScaleSet", name, None, opts)
        pool = args.pool
        waits_for: list[pulumi.Resource] = [
            *args.controller,
            *args.isolation,
            *args.namespace_config,
            args.service_account,
        ]
        self.scale_set_name = scale_set_name(pool)
        self.release = k8s.helm.v3.Release(
            f"{name}-scale-set",
            # At most 45 characters (checked before anything is created): within Helm's 53.
            name=self.scale_set_name,
            chart=SCALE_SET_CHART_REF,
            version=versions.SCALE_SET_CHART_VERSION,
            namespace=args.namespace,
            values=runner_scale_set_values(
                pool,
                node_selector=args.node_selector,
                tolerations=args.tolerations,
                enterprise_url=args.enterprise_url,
                enterprise_ca=args.enterprise_ca,
                image_cache=args.image_cache,
                registry_mirror=args.registry_mirror,
            ),
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for),
        )
        self.register_outputs({"scaleSetName": self.scale_set_name})
