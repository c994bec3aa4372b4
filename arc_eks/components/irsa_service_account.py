"""IrsaServiceAccount: one pool's ServiceAccount and, when the pool has grants, its own IAM role."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from arc_eks.builders.runner import pool_namespace, service_account_manifest, service_account_name
from arc_eks.builders.s3_grants import pool_permission_policy
from arc_eks.components.irsa_trust import irsa_trust_policy_json
from arc_eks.config.teams import ResolvedPool

_ROLE_NAME_MAX = 64


def role_name(cluster_name: str, pool: ResolvedPool) -> str:
    """A readable, stable IAM role name; shortened with a hash past IAM's 64 characters."""
    name = f"{cluster_name}-{pool.team}-{pool.name}"
    if len(name) <= _ROLE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _ROLE_NAME_MAX - 9]}-{digest}"


@dataclass(frozen=True)
class IrsaServiceAccountArgs:
    """Inputs of an IrsaServiceAccount."""

    pool: ResolvedPool
    """The pool: its grants decide whether a role exists at all."""
    role_name: str
    """Physical IAM role name (see `role_name`)."""
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    """Issuer host and path, with or without `https://`."""
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()
    """What the ServiceAccount waits for (the team Namespace)."""


class IrsaServiceAccount(pulumi.ComponentResource):
    """A ServiceAccount for one pool; with grants, an IAM role only it can assume.

    The role trusts exactly `system:serviceaccount:<namespace>:<sa>` of this cluster (`:sub` and
    `:aud` both `StringEquals`) and carries one inline policy built from the pool's typed grants,
    so it is never shared. A pool without grants gets no role and no policy, and a ServiceAccount
    that does not even mount an API token.
    """

    role_arn: pulumi.Output[str] | None
    """ARN of the pool's role, or None when the pool has no AWS access."""
    service_account_name: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(
        self, name: str, args: IrsaServiceAccountArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:irsa:IrsaServiceAccount", name, None, opts)
        pool = args.pool
        namespace = pool_namespace(pool)
        sa_name = service_account_name(pool)

        self.role_arn = None
        if pool.has_aws_access:
            self.role_arn = self._role(name, args, namespace, sa_name).arn
        # The ARN goes into the annotation as an Output; name and namespace stay plain, so a
        # preview (and the policy pack) sees which ServiceAccount this is before the role exists.
        manifest = service_account_manifest(pool, self.role_arn)
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=manifest["metadata"],
            automount_service_account_token=manifest.get("automountServiceAccountToken"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.service_account_name = pulumi.Output.from_input(sa_name)
        self.namespace = pulumi.Output.from_input(namespace)
        self.register_outputs(
            {
                "roleArn": self.role_arn,
                "serviceAccountName": self.service_account_name,
                "namespace": self.namespace,
            }
        )

    def _role(
        self, name: str, args: IrsaServiceAccountArgs, namespace: str, sa_name: str
    ) -> aws.iam.Role:
        pool = args.pool
        trust = irsa_trust_policy_json(args.oidc_provider_arn, args.oidc_issuer, namespace, sa_name)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"arc-eks runner pool {pool.team}/{pool.name} ({pool.environment})",
            assume_role_policy=trust,
            max_session_duration=3600,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = pulumi.Output.all(args.region, args.account_id).apply(
            lambda a: json.dumps(
                pool_permission_policy(pool.s3, pool.spec.ecr, region=a[0], account_id=a[1])
            )
        )
        # Inline, so the policy lives and dies with this role and is never attached elsewhere.
        aws.iam.RolePolicy(
            f"{name}-access",
            name="runner-pool-access",
            role=role.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role
