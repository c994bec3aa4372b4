"""IAM documents shared by every IRSA role: the trust policy and the document envelope."""

from __future__ import annotations

from typing import Any

POLICY_VERSION = "2012-10-17"
IRSA_AUDIENCE = "sts.amazonaws.com"


def policy_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """An IAM policy document around `statements`."""
    return {"Version": POLICY_VERSION, "Statement": statements}


def service_account_subject(namespace: str, service_account: str) -> str:
    """The `sub` claim of a projected ServiceAccount token."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def irsa_trust_policy(
    oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str
) -> dict[str, Any]:
    """Trust for exactly one ServiceAccount of one cluster, through the cluster's OIDC provider.

    Both conditions are `StringEquals`: `:sub` pins the namespace and ServiceAccount (no wildcard,
    so no other pod can assume the role) and `:aud` pins the STS audience.
    Ref: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
    """
    issuer = oidc_issuer.removeprefix("https://")
    if not issuer or "*" in namespace or "*" in service_account:
        raise ValueError("an IRSA trust needs the issuer and an exact namespace/ServiceAccount")
    return policy_document(
        [
            {
                "Sid": "AssumeFromOneServiceAccount",
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": service_account_subject(namespace, service_account),
                        f"{issuer}:aud": IRSA_AUDIENCE,
                    }
                },
            }
        ]
    )
