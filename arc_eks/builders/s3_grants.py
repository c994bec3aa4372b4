"""Least-privilege IAM documents for a runner pool: S3 (and SSE-KMS) grants, ECR repositories.

Rules every document here keeps (tests check them, parliament lints them):
- object actions only on `arn:aws:s3:::<bucket>/<prefix>*`; `s3:ListBucket` only on the bucket,
  narrowed by an `s3:prefix` condition when the grant has a prefix;
- no `s3:*`, no bucket-policy, lifecycle or versioning management; no ACL change but the one
  canned ACL `bucket-owner-full-control` where a grant asks for it (`objectAcl`);
- KMS actions only on the named key, and only when called by S3 (`kms:ViaService`);
- the one `*` resource is `ecr:GetAuthorizationToken`, which has no resource-level permissions
  (the token it returns grants nothing by itself: pulls and pushes are scoped by repository ARN).
Ref: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from arc_eks.builders.iam import policy_document
from arc_eks.config.teams import EcrGrant, ResolvedS3Grant

READ_OBJECT_ACTIONS = ("s3:GetObject",)
WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")
DELETE_OBJECT_ACTIONS = ("s3:DeleteObject",)
LIST_ACTION = "s3:ListBucket"
# With an `x-amz-acl` header, PutObject also needs PutObjectAcl.
OBJECT_ACL_ACTION = "s3:PutObjectAcl"
KMS_READ_ACTIONS = ("kms:Decrypt",)
# Multipart uploads to an SSE-KMS bucket need Decrypt as well as GenerateDataKey.
KMS_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
ECR_LOGIN_ACTION = "ecr:GetAuthorizationToken"
ECR_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
ECR_PUSH_ACTIONS = (
    *ECR_PULL_ACTIONS,
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def objects_arn(bucket: str, prefix: str) -> str:
    """Objects under the prefix (the whole bucket when the prefix is empty)."""
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def object_actions(access: str) -> list[str]:
    actions: list[str] = []
    if access in ("read", "readwrite"):
        actions += READ_OBJECT_ACTIONS
    if access in ("write", "readwrite"):
        actions += WRITE_OBJECT_ACTIONS
    if access == "readwrite":
        actions += DELETE_OBJECT_ACTIONS
    return actions


def _sid(*parts: str) -> str:
    """IAM Sids are alphanumeric."""
    cleaned = (re.sub(r"[^A-Za-z0-9]", "", p) for p in parts)
    return "".join(c[:1].upper() + c[1:] for c in cleaned)[:100]


def _grant_statements(
    grant: ResolvedS3Grant, index: int, principal: dict[str, str] | None
) -> list[dict[str, Any]]:
    extra: dict[str, Any] = {"Principal": principal} if principal else {}
    statements: list[dict[str, Any]] = [
        {
            "Sid": _sid("Objects", grant.access, str(index)),
            "Effect": "Allow",
            **extra,
            "Action": object_actions(grant.access),
            "Resource": objects_arn(grant.bucket, grant.prefix),
        }
    ]
    if grant.object_acl is not None:
        # Uploads to an ACL-enabled bucket of another account hand the owner full control;
        # exactly that canned ACL, never one that could make objects public.
        statements.append(
            {
                "Sid": _sid("ObjectAcl", str(index)),
                "Effect": "Allow",
                **extra,
                "Action": OBJECT_ACL_ACTION,
                "Resource": objects_arn(grant.bucket, grant.prefix),
                "Condition": {"StringEquals": {"s3:x-amz-acl": grant.object_acl}},
            }
        )
    if grant.access in ("read", "readwrite"):
        listing: dict[str, Any] = {
            "Sid": _sid("List", str(index)),
            "Effect": "Allow",
            **extra,
            "Action": LIST_ACTION,
            "Resource": bucket_arn(grant.bucket),
        }
        if grant.prefix:
            listing["Condition"] = {"StringLike": {"s3:prefix": [f"{grant.prefix}*"]}}
        statements.append(listing)
    return statements


def _kms_statement(grant: ResolvedS3Grant, index: int) -> dict[str, Any] | None:
    if grant.kms_key_arn is None:
        return None
    actions: list[str] = []
    if grant.access in ("read", "readwrite"):
        actions += KMS_READ_ACTIONS
    if grant.access in ("write", "readwrite"):
        actions += [a for a in KMS_WRITE_ACTIONS if a not in actions]
    key_region = grant.kms_key_arn.split(":")[3]
    return {
        "Sid": _sid("Kms", str(index)),
        "Effect": "Allow",
        "Action": actions,
        "Resource": grant.kms_key_arn,
        # The key is only usable through S3, for this bucket's objects.
        "Condition": {"StringEquals": {"kms:ViaService": f"s3.{key_region}.amazonaws.com"}},
    }


def s3_statements(grants: Sequence[ResolvedS3Grant]) -> list[dict[str, Any]]:
    """Identity-policy statements for the pool's role (cross-account buckets need them too)."""
    statements: list[dict[str, Any]] = []
    for index, grant in enumerate(grants):
        statements += _grant_statements(grant, index, principal=None)
        kms = _kms_statement(grant, index)
        if kms is not None:
            statements.append(kms)
    return statements


def ecr_repository_arn(region: str, account_id: str, repository: str) -> str:
    return f"arn:aws:ecr:{region}:{account_id}:repository/{repository}"


def ecr_statements(
    grants: Sequence[EcrGrant], *, region: str, account_id: str
) -> list[dict[str, Any]]:
    if not grants:
        return []
    statements: list[dict[str, Any]] = [
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ECR_LOGIN_ACTION, "Resource": "*"}
    ]
    for access, actions in (("pull", ECR_PULL_ACTIONS), ("push", ECR_PUSH_ACTIONS)):
        repos = sorted(g.repository for g in grants if g.access == access)
        if repos:
            statements.append(
                {
                    "Sid": _sid("Ecr", access),
                    "Effect": "Allow",
                    "Action": list(actions),
                    "Resource": [ecr_repository_arn(region, account_id, r) for r in repos],
                }
            )
    return statements


def pool_permission_policy(
    s3: Sequence[ResolvedS3Grant],
    ecr: Sequence[EcrGrant] = (),
    *,
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """The inline policy of one pool's role. Call only for a pool with grants."""
    statements = s3_statements(s3) + ecr_statements(ecr, region=region, account_id=account_id)
    if not statements:
        raise ValueError("a pool without grants gets no role and no policy")
    return policy_document(statements)


def cross_account_bucket_statements(
    grant: ResolvedS3Grant, *, role_arn: str, sid_prefix: str
) -> list[dict[str, Any]]:
    """The bucket-policy statements the owner of a bucket in another account must add.

    Same actions and resources as the role's own statements, with the pool role as the only
    principal: cross-account access needs both sides to allow it.
    Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html
    """
    statements = _grant_statements(grant, 0, principal={"AWS": role_arn})
    for statement in statements:
        statement["Sid"] = _sid(sid_prefix, statement["Sid"].removesuffix("0"))
    return statements
