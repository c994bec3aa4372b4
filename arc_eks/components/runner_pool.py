"""RunnerPool: one pool's RunnerDeployment and HorizontalRunnerAutoscaler (and hooks RBAC)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from arc_eks.builders.admission import job_pod_policy
from arc_eks.builders.registry import ImageCachePlan
from arc_eks.builders.runner import (
    container_hooks_rbac,
    hook_template_config_map,
    horizontal_runner_autoscaler_manifest,
    runner_deployment_manifest,
)
from arc_eks.config.teams import ResolvedPool


@dataclass(frozen=True)
class RunnerPoolArgs:
    """Inputs of a RunnerPool."""

    pool: ResolvedPool
    node_selector: dict[str, str]
    """Places runner pods on their isolation class's node group (`builders.node_groups`)."""
    webhook_server: bool
    """Whether the controller runs its webhook server (adds webhook scale-up triggers)."""
    service_account: pulumi.Resource
    """The pool's ServiceAccount (IrsaServiceAccount): it must exist before runner pods do."""
    controller: Sequence[pulumi.Resource] = ()
    """The ARC controller release: its CRDs and admission webhooks must exist first."""
    tolerations: Sequence[dict[str, Any]] = ()
    """The taint of that node group, exactly."""
    isolation: Sequence[pulumi.Resource] = ()
    image_cache: ImageCachePlan | None = None
    """Runner and dind images through the ECR pull-through cache (None: as set)."""
    registry_mirror: str | None = None
    """Docker Hub mirror of the dind daemons (imageCache.dindRegistryMirror)."""
    """The pool's namespace and its NetworkPolicies (RunnerTeam.isolation_for): no runner pod
    starts before default-deny is in place."""


class RunnerPool(pulumi.ComponentResource):
    """The runners of one pool. The Kubernetes provider comes from the parent's `providers`."""

    runner_deployment_name: pulumi.Output[str]
    autoscaler_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RunnerPoolArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:runners:RunnerPool", name, None, opts)
        pool = args.pool
        waits_for = [*args.controller, *args.isolation, args.service_account]

        waits_for += kubernetes_mode_resources(
            name,
            pool,
            parent=self,
            service_account=args.service_account,
            isolation=args.isolation,
            node_selector=args.node_selector,
            tolerations=args.tolerations,
        )

        deployment = runner_deployment_manifest(
            pool,
            node_selector=args.node_selector,
            tolerations=args.tolerations,
            image_cache=args.image_cache,
            registry_mirror=args.registry_mirror,
        )
        runners = k8s.apiextensions.CustomResource(
            f"{name}-runners",
            api_version=deployment["apiVersion"],
            kind=deployment["kind"],
            metadata=deployment["metadata"],
            spec=deployment["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for),
        )
        autoscaler = horizontal_runner_autoscaler_manifest(pool, webhook_server=args.webhook_server)
        hra = k8s.apiextensions.CustomResource(
            f"{name}-autoscaler",
            api_version=autoscaler["apiVersion"],
            kind=autoscaler["kind"],
            metadata=autoscaler["metadata"],
            spec=autoscaler["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.controller, runners]),
        )
        # Resolved through the resources' ids, so readers wait for them to exist.
        self.runner_deployment_name = runners.id.apply(
            lambda _: str(deployment["metadata"]["name"])
        )
        self.autoscaler_name = hra.id.apply(lambda _: str(autoscaler["metadata"]["name"]))
        self.register_outputs(
            {
                "runnerDeploymentName": self.runner_deployment_name,
                "autoscalerName": self.autoscaler_name,
            }
        )


def kubernetes_mode_resources(
    name: str,
    pool: ResolvedPool,
    *,
    parent: pulumi.Resource,
    service_account: pulumi.Resource,
    isolation: Sequence[pulumi.Resource],
    node_selector: dict[str, str],
    tolerations: Sequence[dict[str, Any]],
) -> list[pulumi.Resource]:
    """A `docker: kubernetes` pool's job pod fence, container hooks RBAC and job pod template
    (nothing for other modes); the runners wait for what this returns. Shared by RunnerPool and
    RunnerScaleSet."""
    waits_for: list[pulumi.Resource] = []
    # kubernetes mode: the fence on the job pods exists before the hooks get the right to
    # create any (the RoleBinding waits for the policy and its binding).
    fences: list[pulumi.Resource] = []
    for manifest in job_pod_policy(pool):
        if manifest["kind"] == "ValidatingAdmissionPolicy":
            fences.append(
                k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                    f"{name}-job-pod-policy",
                    metadata=manifest["metadata"],
                    spec=manifest["spec"],
                    opts=pulumi.ResourceOptions(parent=parent),
                )
            )
        else:
            fences.append(
                k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                    f"{name}-job-pod-policy-binding",
                    metadata=manifest["metadata"],
                    spec=manifest["spec"],
                    opts=pulumi.ResourceOptions(parent=parent, depends_on=list(fences)),
                )
            )
    rbac_waits_for = [service_account, *fences]
    for manifest in container_hooks_rbac(pool):
        kind = manifest["kind"]
        if kind == "Role":
            role = k8s.rbac.v1.Role(
                f"{name}-hooks-role",
                metadata=manifest["metadata"],
                rules=manifest["rules"],
                opts=pulumi.ResourceOptions(parent=parent, depends_on=rbac_waits_for),
            )
            waits_for.append(role)
        else:
            binding = k8s.rbac.v1.RoleBinding(
                f"{name}-hooks-binding",
                metadata=manifest["metadata"],
                role_ref=manifest["roleRef"],
                subjects=manifest["subjects"],
                opts=pulumi.ResourceOptions(parent=parent, depends_on=rbac_waits_for),
            )
            waits_for.append(binding)

    template = hook_template_config_map(pool, node_selector, tolerations)
    if template is not None:
        waits_for.append(
            k8s.core.v1.ConfigMap(
                f"{name}-hooks-template",
                metadata=template["metadata"],
                data=template["data"],
                opts=pulumi.ResourceOptions(parent=parent, depends_on=list(isolation)),
            )
        )
    return waits_for
