"""Compliant resources, one per type the policies read, as the program would register them.

Each policy test starts from one of these and changes one property per violation case.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

ACCOUNT = "123456789012"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041A"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
RUNNER_IMAGE = "summerwind/actions-runner:v2.335.1-ubuntu-22.04"
DIND_IMAGE = "docker:28.0.4-dind"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
DELETE = object()

SUMMERWIND = "kubernetes:actions.summerwind.dev/v1alpha1:"
TYPES = {
    "eks_cluster": "eks:index:Cluster",
    "aws_cluster": "aws:eks/cluster:Cluster",
    "mng": "eks:index:ManagedNodeGroup",
    "aws_node_group": "aws:eks/nodeGroup:NodeGroup",
    "launch_template": "aws:ec2/launchTemplate:LaunchTemplate",
    "irsa_role": "aws:iam/role:Role",
    "runner_policy": "aws:iam/rolePolicy:RolePolicy",
    "autoscaler_policy": "aws:iam/policy:Policy",
    "service_account": "kubernetes:core/v1:ServiceAccount",
    "runner_deployment": SUMMERWIND + "RunnerDeployment",
    "hra": SUMMERWIND + "HorizontalRunnerAutoscaler",
    "arc_release": "kubernetes:helm.sh/v3:Release",
    "pod": "kubernetes:core/v1:Pod",
    "deployment": "kubernetes:apps/v1:Deployment",
}


def trust(namespace: str = "payments", account: str = "payments-build") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{ISSUER}:sub": f"system:serviceaccount:{namespace}:{account}",
                        f"{ISSUER}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def runner_spec() -> dict[str, Any]:
    return {
        "organization": "acme",
        "labels": ["linux", "x64", "payments"],
        "image": RUNNER_IMAGE,
        "dockerEnabled": False,
        "ephemeral": True,
        "serviceAccountName": "payments-build",
        "securityContext": {"fsGroup": 1001},
        # A dind pool: its team's privileged node group, exactly.
        "nodeSelector": {"arc-eks.io/isolation": "privileged-payments"},
        "tolerations": [
            {
                "key": "arc-eks.io/isolation",
                "operator": "Equal",
                "value": "privileged-payments",
                "effect": "NoSchedule",
            }
        ],
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "1500m", "memory": "6Gi"},
        },
        "env": [{"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"}],
        "volumeMounts": [{"name": "var-run", "mountPath": "/var/run"}],
        "sidecarContainers": [
            {
                "name": "docker",
                "image": DIND_IMAGE,
                "securityContext": {"privileged": True},
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": "2Gi"},
                },
                "volumeMounts": [{"name": "var-run", "mountPath": "/var/run"}],
            }
        ],
        "volumes": [{"name": "var-run", "emptyDir": {}}],
    }


def pod_spec() -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "app",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }
        ]
    }


# The payments team's dind node group (labels and taint as the package sets them).
_PRIVILEGED_GROUP: dict[str, Any] = {
    "labels": {
        "arc-eks.io/node-role": "runners",
        "arc-eks.io/isolation": "privileged-payments",
        "arc-eks.io/privileged-pods": "true",
    },
    "taints": [
        {"key": "arc-eks.io/isolation", "value": "privileged-payments", "effect": "NO_SCHEDULE"}
    ],
}


def _baselines() -> dict[str, dict[str, Any]]:
    return {
        "eks_cluster": {
            "skipDefaultNodeGroup": True,
            "createOidcProvider": True,
            "encryptionConfigKeyArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/secrets-0000",
            "enabledClusterLogTypes": list(LOG_TYPES),
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
            "version": "1.35",
        },
        "aws_cluster": {
            "encryptionConfig": {
                "provider": {"keyArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/secrets-0000"},
                "resources": ["secrets"],
            },
            "enabledClusterLogTypes": list(LOG_TYPES),
            "vpcConfig": {
                "endpointPrivateAccess": True,
                "endpointPublicAccess": False,
                "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            },
        },
        "mng": {
            "instanceTypes": ["t3a.large"],
            "amiType": "AL2023_x86_64_STANDARD",
            "scalingConfig": {"minSize": 2, "desiredSize": 2, "maxSize": 6},
            "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "1"},
            **_PRIVILEGED_GROUP,
        },
        "aws_node_group": {
            "instanceTypes": ["t3a.large"],
            "amiType": "AL2023_x86_64_STANDARD",
            "scalingConfig": {"minSize": 2, "desiredSize": 2, "maxSize": 6},
            "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "1"},
        },
        "launch_template": {
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {"encrypted": "true", "volumeSize": 50, "volumeType": "gp3"},
                }
            ],
        },
        "irsa_role": {"assumeRolePolicy": json.dumps(trust())},
        "runner_policy": {
            "role": "payments-build",
            "policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:ListBucket"],
                            "Resource": ["arn:aws:s3:::acme-build-cache"],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:PutObject"],
                            "Resource": ["arn:aws:s3:::acme-build-cache/payments/*"],
                        },
                    ],
                }
            ),
        },
        "autoscaler_policy": {
            "policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "autoscaling:DescribeAutoScalingGroups",
                                "autoscaling:DescribeAutoScalingInstances",
                                "ec2:DescribeInstanceTypes",
                                "ec2:GetInstanceTypesFromInstanceRequirements",
                                "eks:DescribeNodegroup",
                            ],
                            "Resource": "*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "autoscaling:SetDesiredCapacity",
                                "autoscaling:TerminateInstanceInAutoScalingGroup",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {
                                    "aws:ResourceTag/k8s.io/cluster-autoscaler/arc": "owned"
                                }
                            },
                        },
                    ],
                }
            )
        },
        "service_account": {
            "metadata": {
                "name": "payments-build",
                "namespace": "payments",
                "annotations": {
                    "eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/payments-build"
                },
            }
        },
        "runner_deployment": {
            "apiVersion": "actions.summerwind.dev/v1alpha1",
            "kind": "RunnerDeployment",
            "metadata": {"name": "payments-build", "namespace": "payments"},
            "spec": {"template": {"spec": runner_spec()}},
        },
        "hra": {
            "apiVersion": "actions.summerwind.dev/v1alpha1",
            "kind": "HorizontalRunnerAutoscaler",
            "metadata": {"name": "payments-build", "namespace": "payments"},
            "spec": {
                "scaleTargetRef": {"kind": "RunnerDeployment", "name": "payments-build"},
                "minReplicas": 1,
                "maxReplicas": 16,
                "metrics": [
                    {
                        "type": "PercentageRunnersBusy",
                        "scaleUpThreshold": "0.75",
                        "scaleDownThreshold": "0.25",
                        "scaleUpFactor": "2",
                        "scaleDownFactor": "0.5",
                    }
                ],
                "scheduledOverrides": [
                    {
                        "startTime": "2026-01-03T00:00:00+09:00",
                        "endTime": "2026-01-05T00:00:00+09:00",
                        "recurrenceRule": {"frequency": "Weekly"},
                        "minReplicas": 1,
                    }
                ],
            },
        },
        "arc_release": {
            "chart": "actions-runner-controller",
            "version": "0.23.7",
            "namespace": "actions-runner-system",
            "repositoryOpts": {
                "repo": "https://actions-runner-controller.github.io/actions-runner-controller"
            },
            "values": {
                "replicaCount": 2,
                "authSecret": {"enabled": True, "create": False, "name": "controller-manager"},
                "image": {
                    "actionsRunnerRepositoryAndTag": RUNNER_IMAGE,
                    "dindSidecarRepositoryAndTag": DIND_IMAGE,
                },
            },
        },
        "pod": {"metadata": {"name": "probe"}, "spec": pod_spec()},
        "deployment": {
            "metadata": {"name": "tool"},
            "spec": {"selector": {}, "template": {"spec": pod_spec()}},
        },
    }


def baseline(kind: str) -> dict[str, Any]:
    """A fresh deep copy of the compliant inputs of `kind` (a key of TYPES)."""
    return copy.deepcopy(_baselines()[kind])


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def mutate(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `inputs` with `path` (a.b[0].c; keys may not contain dots) set, or deleted."""
    out = copy.deepcopy(inputs)
    parts = _parts(path)
    node: Any = out
    for part in parts[:-1]:
        node = node[part] if isinstance(part, int) or part in node else node.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out
