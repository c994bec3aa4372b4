"""RunnerNodeGroups: the tainted managed node groups runner pods run on, one per isolation class.

The system node group and what every group shares (node role, launch template with IMDSv2 hop
limit 1 and an encrypted gp3 root) come from RunnerCluster; each runner group here is built the
same way (AMI type, pinned Kubernetes version, launch template, cluster-autoscaler discovery
tags) and adds its class's label and taint (builders/node_groups.py). Runner groups scale from
zero: min 0, desired 0 at creation, cluster-autoscaler owns the size afterwards, and each group's
Auto Scaling group is tagged with the node template (labels, taint) cluster-autoscaler needs to
scale it up from no node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from arc_eks.builders.node_groups import RunnerNodeGroupPlan
from arc_eks.components.cluster import NODE_AMI_TYPE


@dataclass(frozen=True)
class RunnerNodeGroupsArgs:
    cluster: eks.Cluster
    cluster_name: str
    kubernetes_version: str
    """Every node group gets the pinned version explicitly (a node group with its own launch
    template does not follow the cluster's version otherwise)."""
    node_role_arn: pulumi.Input[str]
    launch_template: aws.ec2.LaunchTemplate
    subnet_ids: pulumi.Input[list[str]]
    instance_type: str
    plans: Sequence[RunnerNodeGroupPlan]
    depends_on: Sequence[pulumi.Resource] = ()
    """What the nodes need before they boot: the control plane, the node role's policies, the
    private subnets' egress."""
    tags: dict[str, str] = field(default_factory=dict)


class RunnerNodeGroups(pulumi.ComponentResource):
    """One eks.ManagedNodeGroup per runner isolation class, with its ASG's node-template tags."""

    node_groups: dict[str, eks.ManagedNodeGroup]
    """Per isolation class."""

    def __init__(
        self, name: str, args: RunnerNodeGroupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:cluster:RunnerNodeGroups", name, None, opts)
        self.node_groups = {}
        for plan in args.plans:
            self.node_groups[plan.isolation] = self._node_group(
                f"{name}-{plan.isolation}", args, plan
            )
        self.register_outputs({"isolationClasses": sorted(self.node_groups)})

    def _node_group(
        self, name: str, args: RunnerNodeGroupsArgs, plan: RunnerNodeGroupPlan
    ) -> eks.ManagedNodeGroup:
        template_tags = plan.autoscaler_tags()
        group = eks.ManagedNodeGroup(
            name,
            cluster=args.cluster,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            instance_types=[args.instance_type],
            ami_type=NODE_AMI_TYPE,
            version=args.kubernetes_version,
            capacity_type="ON_DEMAND",
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=args.launch_template.id,
                version=args.launch_template.latest_version.apply(str),
            ),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=0, desired_size=0, max_size=plan.max_size
            ),
            # cluster-autoscaler owns the desired size once the group exists.
            ignore_scaling_changes=True,
            labels=plan.labels,
            taints=[aws.eks.NodeGroupTaintArgs(**plan.taint)],
            tags={
                **args.tags,
                "k8s.io/cluster-autoscaler/enabled": "true",
                f"k8s.io/cluster-autoscaler/{args.cluster_name}": "owned",
                # On the node group for review; the copies cluster-autoscaler reads are the ASG
                # tags below (EKS does not copy node group tags to the ASG).
                **template_tags,
            },
            # Explicit: a resource reference passed into a remote component is not recorded as
            # a dependency.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.cluster, *args.depends_on]),
        )
        asg_name: pulumi.Output[str] = group.node_group.apply(_asg_name)
        for key, value in sorted(template_tags.items()):
            suffix = key.removeprefix("k8s.io/cluster-autoscaler/node-template/").replace("/", "-")
            aws.autoscaling.Tag(
                f"{name}-asg-{suffix}",
                autoscaling_group_name=asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[group]),
            )
        return group


def _asg_name(node_group: aws.eks.NodeGroup | None) -> pulumi.Output[str]:
    """The Auto Scaling group EKS created for the managed node group (its one ASG)."""
    if node_group is None:  # offline runs: the remote component reports no outputs
        return pulumi.Output.from_input("")
    return node_group.resources.apply(_first_asg)


def _first_asg(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    groups = resources[0].autoscaling_groups or []
    return groups[0].name or ""
