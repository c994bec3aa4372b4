"""IAM documents of the platform's own roles: the node role and the cluster-autoscaler role."""

from __future__ import annotations

from typing import Any

from arc_eks.builders.iam import policy_document

# Ref: https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html
NODE_MANAGED_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEKS_CNI_Policy",
)


def ec2_trust_policy() -> dict[str, Any]:
    """Nodes (EC2 instances) may assume the node role."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def cluster_autoscaler_policy(
    *, partition: str, region: str, account_id: str, cluster_name: str
) -> dict[str, Any]:
    """What cluster-autoscaler needs, and no more.

    Describe calls do not support resource-level permissions, so they take `*` (read-only). The
    two write actions only reach Auto Scaling groups tagged as owned by this cluster, which EKS
    adds to every managed node group's ASG.
    Ref: kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md ("Full Cluster
    Autoscaler Features Policy (Recommended)").
    """
    return policy_document(
        [
            {
                "Sid": "DescribeIsReadOnlyAndUnscoped",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                "Sid": "DescribeThisClustersNodegroups",
                "Effect": "Allow",
                "Action": ["eks:DescribeNodegroup"],
                "Resource": f"arn:{partition}:eks:{region}:{account_id}:nodegroup/{cluster_name}/*/*",
            },
            {
                "Sid": "ScaleOnlyThisClustersGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": (
                    f"arn:{partition}:autoscaling:{region}:{account_id}:autoScalingGroup:*"
                    ":autoScalingGroupName/*"
                ),
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                    }
                },
            },
        ]
    )
