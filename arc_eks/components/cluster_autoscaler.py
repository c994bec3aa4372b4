"""ClusterAutoscaler: the official chart with its own IRSA role, scoped to this cluster's groups."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from arc_eks import versions
from arc_eks.builders.helm_values import (
    CLUSTER_AUTOSCALER_NAMESPACE,
    CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
    cluster_autoscaler_values,
)
from arc_eks.builders.node_iam import cluster_autoscaler_policy
from arc_eks.builders.registry import ImageCachePlan
from arc_eks.components.irsa_trust import irsa_trust_policy_json

# How long Helm waits for the autoscaler Deployment to be ready before the update fails.
RELEASE_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    cluster_name: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    image_cache: ImageCachePlan | None = None
    """Image through the ECR pull-through cache (None: from registry.k8s.io)."""


class ClusterAutoscaler(pulumi.ComponentResource):
    """Adds nodes when runner pods are Pending and removes idle ones; without it runners beyond
    the base nodes never schedule. Kubernetes children use the provider passed in `opts.providers`."""

    role_arn: pulumi.Output[str]
    """ARN of the autoscaler's IRSA role."""
    release: k8s.helm.v3.Release
    """The Helm release."""

    def __init__(
        self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:addons:ClusterAutoscaler", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id

        trust = irsa_trust_policy_json(
            args.oidc_provider_arn,
            args.oidc_issuer,
            CLUSTER_AUTOSCALER_NAMESPACE,
            CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust,
            description=f"cluster-autoscaler of EKS cluster {args.cluster_name} (IRSA)",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-scaling",
            role=role.id,
            policy=pulumi.Output.all(partition, region, account_id).apply(
                lambda a: json.dumps(
                    cluster_autoscaler_policy(
                        partition=a[0], region=a[1], account_id=a[2], cluster_name=args.cluster_name
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_arn = role.arn
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="cluster-autoscaler",
            chart=versions.CLUSTER_AUTOSCALER_CHART,
            version=versions.pins().cluster_autoscaler_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.CLUSTER_AUTOSCALER_REPO),
            namespace=CLUSTER_AUTOSCALER_NAMESPACE,
            values=cluster_autoscaler_values(
                cluster_name=args.cluster_name,
                region=region,
                role_arn=role.arn,
                image_cache=args.image_cache,
            ),
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"role_arn": self.role_arn})
