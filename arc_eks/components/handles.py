"""What the platform components hand to the runner pools."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ClusterHandles:
    """The cluster as the runner pools need it."""

    cluster_name: str
    """Physical EKS cluster name (static, known before deploy)."""
    oidc_provider_arn: pulumi.Output[str]
    """ARN of the cluster's IAM OIDC provider (IRSA trust principal)."""
    oidc_issuer: pulumi.Output[str]
    """Issuer host and path, without `https://` (the IRSA condition key prefix)."""
    k8s_provider: k8s.Provider
    """Kubernetes provider built from the cluster's kubeconfig."""
    region: pulumi.Output[str]
    account_id: pulumi.Output[str]
