"""EbsCsiDriver: the EKS-managed aws-ebs-csi-driver add-on, with its own IRSA role.

Since Kubernetes 1.23 EBS volumes are provisioned only through the CSI driver: without it every
PersistentVolumeClaim (the work volume of `docker: kubernetes` pools) stays Pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from arc_eks import versions
from arc_eks.components.irsa_trust import irsa_trust_policy_json

ADDON_NAME = "aws-ebs-csi-driver"
# The add-on's controller ServiceAccount. Ref: https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html
SERVICE_ACCOUNT_NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "ebs-csi-controller-sa"
# AWS-managed: its write actions carry `aws:RequestTag/ebs.csi.aws.com/cluster` conditions.
MANAGED_POLICY = "service-role/AmazonEBSCSIDriverPolicy"


@dataclass(frozen=True)
class EbsCsiDriverArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The node group: the add-on only becomes ACTIVE once its pods run."""
    tags: dict[str, str] = field(default_factory=dict)


class EbsCsiDriver(pulumi.ComponentResource):
    """The EBS CSI add-on at the version versions.MINOR_PINS gives the cluster's minor (or, where
    that is None, the default version EKS publishes for it)."""

    role_arn: pulumi.Output[str]
    """ARN of the driver controller's IRSA role."""
    addon_version: pulumi.Output[str]
    """The add-on version installed."""

    def __init__(
        self, name: str, args: EbsCsiDriverArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:addons:EbsCsiDriver", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition

        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=irsa_trust_policy_json(
                args.oidc_provider_arn, args.oidc_issuer, SERVICE_ACCOUNT_NAMESPACE, SERVICE_ACCOUNT
            ),
            description="aws-ebs-csi-driver controller (IRSA)",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-policy",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:", partition, f":iam::aws:policy/{MANAGED_POLICY}"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        pinned = versions.pins(args.kubernetes_version).ebs_csi_driver
        self.addon_version = (
            pulumi.Output.from_input(pinned)
            if pinned is not None
            # The version EKS marks default for the pinned minor (a data source: under mocks too).
            else aws.eks.get_addon_version_output(
                addon_name=ADDON_NAME,
                kubernetes_version=args.kubernetes_version,
                most_recent=False,
                opts=invoke,
            ).version
        )
        aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=ADDON_NAME,
            addon_version=self.addon_version,
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment, *args.depends_on]),
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn, "addon_version": self.addon_version})
