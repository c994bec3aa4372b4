"""RunnerCluster: the EKS control plane (pulumi-eks) and the t3a.large managed node group."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from arc_eks import versions
from arc_eks.access import creator_bootstrap_off
from arc_eks.builders.node_groups import system_node_labels
from arc_eks.builders.node_iam import NODE_MANAGED_POLICIES, ec2_trust_policy
from arc_eks.config.stack import ClusterConfig, NodeGroupConfig

# All five control-plane log types. Ref: https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html
CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
# Ref: https://docs.aws.amazon.com/eks/latest/userguide/eks-optimized-ami.html (AL2023, x86_64)
NODE_AMI_TYPE = "AL2023_x86_64_STANDARD"
# AL2023 EKS AMIs boot from /dev/xvda.
ROOT_DEVICE_NAME = "/dev/xvda"
CLUSTER_ADMIN_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class RunnerClusterArgs:
    cluster_name: str
    """Physical EKS cluster name; also the cluster-autoscaler discovery tag."""
    cluster: ClusterConfig
    node_group: NodeGroupConfig
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    public_subnet_ids: pulumi.Input[list[str]]
    tags: dict[str, str] = field(default_factory=dict)
    node_dependencies: Sequence[pulumi.Resource] = ()
    """What nodes need before they boot besides the control plane: the private subnets' routes to
    the internet (NAT), without which they cannot pull images and never join."""


class RunnerCluster(pulumi.ComponentResource):
    """An EKS cluster with IRSA, API access entries, KMS-encrypted Secrets and audit logs, and one
    managed node group of t3a.large nodes behind the project's own launch template."""

    cluster_name: str
    """Physical cluster name."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (JSON) that authenticates with `aws eks get-token`."""
    oidc_provider_arn: pulumi.Output[str]
    """ARN of the IAM OIDC provider (the principal of every IRSA trust policy)."""
    oidc_issuer: pulumi.Output[str]
    """OIDC issuer, host and path without `https://` (IRSA condition keys start with it)."""
    k8s_provider: k8s.Provider
    """Kubernetes provider for everything deployed into the cluster (`kubernetes_provider()`)."""

    def __init__(
        self, name: str, args: RunnerClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:cluster:RunnerCluster", name, None, opts)
        self.cluster_name = args.cluster_name
        protect = args.cluster.protect

        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes Secrets in EKS cluster {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=args.cluster.kms_key_deletion_window_days,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.kms.Alias(
            f"{name}-secrets",
            name=f"alias/{args.cluster_name}-secrets",
            target_key_id=secrets_key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

        minor = versions.pins(args.cluster.kubernetes_version)
        self.cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.cluster.kubernetes_version,
            # EKS add-ons that run before nodes, created by pulumi-eks after the control plane,
            # each pinned for the minor (versions.MINOR_PINS); CoreDNS needs nodes and is created
            # after them by the program (components/addons.py), so pulumi-eks must not.
            vpc_cni_options=eks.VpcCniOptionsArgs(
                addon_version=minor.vpc_cni,
                # The VPC CNI's network policy agent enforces the runner namespaces'
                # NetworkPolicies (builders.network_policy); without it they are accepted and
                # ignored. pulumi-eks writes it as the add-on's configuration value
                # `enableNetworkPolicy: "true"`.
                enable_network_policy=True,
            ),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(version=minor.kube_proxy),
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            node_associate_public_ip_address=False,
            skip_default_node_group=True,
            create_oidc_provider=True,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                f"admin-{index}": eks.AccessEntryArgs(
                    principal_arn=arn,
                    access_policies={
                        "cluster-admin": eks.AccessPolicyAssociationArgs(
                            policy_arn=CLUSTER_ADMIN_POLICY_ARN,
                            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                                type="cluster"
                            ),
                        )
                    },
                )
                for index, arn in enumerate(args.cluster.admin_role_arns)
            },
            endpoint_private_access=True,
            endpoint_public_access=args.cluster.endpoint_public_access,
            public_access_cidrs=list(args.cluster.public_access_cidrs) or None,
            encryption_config_key_arn=secrets_key.arn,
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            deletion_protection=protect,
            tags=args.tags,
            # No implicit admin for the creator on a new cluster: every admin is an access entry
            # above (arc_eks/access.py says why, and why existing clusters are left as they are).
            opts=pulumi.ResourceOptions(
                parent=self, protect=protect, transforms=[creator_bootstrap_off]
            ),
        )

        node_role = aws.iam.Role(
            f"{name}-node",
            assume_role_policy=json.dumps(ec2_trust_policy()),
            description=f"Nodes of EKS cluster {args.cluster_name} (pods use IRSA, never this role)",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=pulumi.Output.concat(
                    "arn:", _partition(self), f":iam::aws:policy/{policy}"
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for policy in NODE_MANAGED_POLICIES
        ]

        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes",
            description=f"Runner nodes of {args.cluster_name}: IMDSv2 only, encrypted gp3 root",
            # IMDSv2 with hop limit 1: a pod (one hop further) cannot reach the node's metadata
            # and so cannot borrow the node role; pods get AWS access through IRSA only.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE_NAME,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.node_group.root_volume_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            # No vpc_security_group_ids: EKS then attaches the cluster security group, which the
            # control plane needs to call admission webhooks (cert-manager, ARC on 9443).
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind,
                    tags={**args.tags, "Name": f"{args.cluster_name}-runner-node"},
                )
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.node_group = eks.ManagedNodeGroup(
            f"{name}-runners",
            cluster=self.cluster,
            node_role_arn=node_role.arn,
            subnet_ids=args.private_subnet_ids,
            instance_types=[args.node_group.instance_type],
            ami_type=NODE_AMI_TYPE,
            # pulumi-eks fills the version only without a launch template: without this the nodes
            # stay on the old minor when the control plane moves (EKS AMI of that version).
            version=args.cluster.kubernetes_version,
            capacity_type="ON_DEMAND",
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id,
                version=launch_template.latest_version.apply(str),
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.node_group.min_size,
                desired_size=args.node_group.desired_size,
                max_size=args.node_group.max_size,
            ),
            # cluster-autoscaler owns the desired size once the group exists.
            ignore_scaling_changes=True,
            # The system node group (resource name kept from when it also ran runners): untainted,
            # labelled system; runner pods select their own tainted groups (node_groups.py).
            labels=system_node_labels(args.node_group.labels),
            tags={
                **args.tags,
                # EKS tags the node group's ASG with these; repeated here so they show in review.
                "k8s.io/cluster-autoscaler/enabled": "true",
                f"k8s.io/cluster-autoscaler/{args.cluster_name}": "owned",
            },
            # Explicit: a resource reference passed into a remote component is not recorded as
            # a dependency, and the nodes need the control plane and their subnets' egress.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*attachments, self.cluster, *args.node_dependencies],
            ),
        )

        # What the runner node groups (components/node_groups.py) share with the system group.
        self.node_role = node_role
        self.node_role_attachments = attachments
        self.launch_template = launch_template
        self.kubeconfig = self.cluster.kubeconfig_json
        self.oidc_provider_arn = self.cluster.oidc_provider_arn
        self.oidc_issuer = self.cluster.oidc_issuer
        self._name = name
        self.register_outputs(
            {
                "kubeconfig": pulumi.Output.secret(self.kubeconfig),
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer": self.oidc_issuer,
            }
        )

    def kubernetes_provider(self, node_groups: Sequence[pulumi.Resource]) -> k8s.Provider:
        """The Kubernetes provider for everything deployed into the cluster, waiting for every
        node group: each resource waits for its provider, so nothing in-cluster (Helm releases
        included) starts before there are nodes to schedule its pods on. Call once, after every
        node group exists. (Same name and parent as before: existing stacks keep the provider.)"""
        if not node_groups:
            raise ValueError("the Kubernetes provider needs the node groups to wait for")
        self.k8s_provider = k8s.Provider(
            f"{self._name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(node_groups)),
        )
        return self.k8s_provider


def _partition(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition
