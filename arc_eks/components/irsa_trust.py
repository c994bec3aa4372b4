"""The IRSA trust policy of a role, from the cluster's OIDC outputs (known only at deploy time)."""

from __future__ import annotations

import json

import pulumi

from arc_eks.builders.iam import irsa_trust_policy


def irsa_trust_policy_json(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
) -> pulumi.Output[str]:
    """`assume_role_policy` for a role only `<namespace>/<service_account>` of this cluster may
    assume (see `arc_eks.builders.iam.irsa_trust_policy`)."""
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda values: json.dumps(
            irsa_trust_policy(values[0], values[1], namespace, service_account)
        )
    )
