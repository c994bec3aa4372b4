"""The IRSA trust policy, whole: the document is the product, so every key and value is asserted."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from arc_eks.builders.iam import (
    IRSA_AUDIENCE,
    POLICY_VERSION,
    irsa_trust_policy,
    policy_document,
    service_account_subject,
)
from arc_eks.components.irsa_trust import irsa_trust_policy_json
from arc_eks.review.offline import run_program

ISSUER_HOST = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER_HOST}"


def _expected(namespace: str, service_account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeFromOneServiceAccount",
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{ISSUER_HOST}:sub": (
                            f"system:serviceaccount:{namespace}:{service_account}"
                        ),
                        f"{ISSUER_HOST}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


@pytest.mark.parametrize("issuer", [f"https://{ISSUER_HOST}", ISSUER_HOST])
def test_trust_policy_is_exactly_one_service_account_of_one_cluster(issuer: str) -> None:
    # EKS reports the issuer as an https URL; the condition keys use it without the scheme.
    document = irsa_trust_policy(PROVIDER_ARN, issuer, "runners-payments", "build-runner")
    assert document == _expected("runners-payments", "build-runner")


def test_constants_and_helpers() -> None:
    assert POLICY_VERSION == "2012-10-17"
    assert IRSA_AUDIENCE == "sts.amazonaws.com"
    assert policy_document([{"Sid": "A"}]) == {"Version": "2012-10-17", "Statement": [{"Sid": "A"}]}
    assert service_account_subject("ns", "sa") == "system:serviceaccount:ns:sa"


@pytest.mark.parametrize(
    ("issuer", "namespace", "service_account"),
    [
        ("", "runners-payments", "build-runner"),
        ("https://", "runners-payments", "build-runner"),
        (ISSUER_HOST, "*", "build-runner"),
        (ISSUER_HOST, "runners-*", "build-runner"),
        (ISSUER_HOST, "runners-payments", "*"),
        (ISSUER_HOST, "runners-payments", "build-*"),
    ],
    ids=["no-issuer", "scheme-only", "any-namespace", "namespace-glob", "any-sa", "sa-glob"],
)
def test_refuses_a_trust_that_is_not_one_exact_service_account(
    issuer: str, namespace: str, service_account: str
) -> None:
    with pytest.raises(ValueError, match="exact namespace/ServiceAccount"):
        irsa_trust_policy(PROVIDER_ARN, issuer, namespace, service_account)


def test_trust_json_takes_the_provider_arn_as_principal_and_the_issuer_for_the_keys() -> None:
    """The Output helper passes its two inputs in order (an issuer as principal would pass a
    partial check but trust nothing, or the wrong thing)."""

    def program() -> None:
        aws.iam.Role(
            "role",
            assume_role_policy=irsa_trust_policy_json(
                pulumi.Output.from_input(PROVIDER_ARN),
                pulumi.Output.from_input(f"https://{ISSUER_HOST}"),
                "kube-system",
                "cluster-autoscaler",
            ),
        )

    run = run_program(program, config={}, secret_keys=[], stack="dev")
    role = run.one("aws:iam/role:Role")
    assert json.loads(role.inputs["assumeRolePolicy"]) == _expected(
        "kube-system", "cluster-autoscaler"
    )
