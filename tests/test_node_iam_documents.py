"""The platform's own IAM documents, compared whole: the node role's trust and managed policies and
the cluster-autoscaler's permissions. Small documents whose every key matters (a dropped
condition lets cluster-autoscaler scale any Auto Scaling group in the account)."""

from __future__ import annotations

import json
from functools import cache

from arc_eks.builders.node_iam import cluster_autoscaler_policy, ec2_trust_policy
from arc_eks.review.offline import FAKE_ACCOUNT, ProgramRun
from tests.conftest import run_stack


@cache
def _run() -> ProgramRun:
    return run_stack("dev")


def test_only_ec2_instances_may_assume_the_node_role() -> None:
    assert ec2_trust_policy() == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def test_cluster_autoscaler_policy_whole() -> None:
    # Another partition, region, account and cluster than the stacks', so none is hard-coded.
    document = cluster_autoscaler_policy(
        partition="aws-cn", region="cn-north-1", account_id="210987654321", cluster_name="ci"
    )
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
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
                "Resource": "arn:aws-cn:eks:cn-north-1:210987654321:nodegroup/ci/*/*",
            },
            {
                "Sid": "ScaleOnlyThisClustersGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": (
                    "arn:aws-cn:autoscaling:cn-north-1:210987654321:autoScalingGroup:*"
                    ":autoScalingGroupName/*"
                ),
                "Condition": {
                    "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/ci": "owned"}
                },
            },
        ],
    }


def test_the_stack_wires_the_documents_with_its_own_account_and_cluster() -> None:
    run = _run()
    node_role = run.one("aws:iam/role:Role", "cluster-node")
    assert json.loads(node_role.inputs["assumeRolePolicy"]) == ec2_trust_policy()
    attached = sorted(
        a.inputs["policyArn"]
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("cluster-node-")
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    scaling = run.one("aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler-scaling")
    assert json.loads(scaling.inputs["policy"]) == cluster_autoscaler_policy(
        partition="aws", region="eu-west-1", account_id=FAKE_ACCOUNT, cluster_name="arc-eks-dev"
    )
