"""Pool IAM policies: least privilege by construction, linted, and enforced in moto's IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from parliament import analyze_policy_string

from arc_eks.builders.s3_grants import (
    cross_account_bucket_statements,
    pool_permission_policy,
    s3_statements,
)
from arc_eks.config.teams import EcrGrant, ResolvedS3Grant

REGION = "eu-west-1"
ACCOUNT = "123456789012"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CACHE = ResolvedS3Grant("acme-build-cache", "payments/", "readwrite", KMS_KEY, None)
ARTIFACTS = ResolvedS3Grant("acme-artifacts", "", "read", None, None)
PARTNER = ResolvedS3Grant("partner-exchange", "acme/", "write", None, "444455556666")


def _statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from document["Statement"]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_no_wildcard_action_or_resource_for_s3_grants() -> None:
    policy = pool_permission_policy([CACHE, ARTIFACTS, PARTNER], region=REGION, account_id=ACCOUNT)
    for statement in _statements(policy):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, action
        for resource in _as_list(statement["Resource"]):
            assert resource != "*"
            assert not resource.endswith(":::*")
        assert statement["Effect"] == "Allow"


def test_object_actions_only_on_the_prefix_and_list_only_on_the_bucket() -> None:
    statements = s3_statements([CACHE])
    objects, listing, kms = statements
    assert objects["Resource"] == "arn:aws:s3:::acme-build-cache/payments/*"
    assert set(objects["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
    }
    assert listing == {
        "Sid": "List0",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::acme-build-cache",
        "Condition": {"StringLike": {"s3:prefix": ["payments/*"]}},
    }
    assert kms["Resource"] == KMS_KEY
    assert set(kms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


def test_access_levels() -> None:
    read, listing = s3_statements([ARTIFACTS])
    assert (
        read["Action"] == ["s3:GetObject"] and read["Resource"] == "arn:aws:s3:::acme-artifacts/*"
    )
    assert "Condition" not in listing  # the whole bucket: nothing to narrow
    (write,) = s3_statements([PARTNER])  # write-only: no read, no list, no delete
    assert write["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    read_kms = s3_statements([ResolvedS3Grant("b-1", "x/", "read", KMS_KEY, None)])[-1]
    assert read_kms["Action"] == ["kms:Decrypt"]


def test_never_bucket_policy_or_acl_management() -> None:
    policy = pool_permission_policy([CACHE, ARTIFACTS, PARTNER], region=REGION, account_id=ACCOUNT)
    actions = {a for s in _statements(policy) for a in _as_list(s["Action"])}
    forbidden = {a for a in actions if "Policy" in a or "Acl" in a or a.startswith("s3:PutBucket")}
    assert forbidden == set()


def test_ecr_login_is_the_only_star_resource() -> None:
    policy = pool_permission_policy(
        [],
        [EcrGrant(repository="data-platform/trainer", access="push")],
        region=REGION,
        account_id=ACCOUNT,
    )
    stars = [s for s in _statements(policy) if "*" in _as_list(s["Resource"])]
    assert [s["Action"] for s in stars] == ["ecr:GetAuthorizationToken"]
    push = next(s for s in _statements(policy) if s["Sid"] == "EcrPush")
    assert push["Resource"] == [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/data-platform/trainer"]


def test_pool_without_grants_gets_no_policy() -> None:
    with pytest.raises(ValueError, match="no role"):
        pool_permission_policy([], region=REGION, account_id=ACCOUNT)


@pytest.mark.parametrize(
    "policy",
    [
        pool_permission_policy([CACHE, ARTIFACTS, PARTNER], region=REGION, account_id=ACCOUNT),
        pool_permission_policy(
            [ARTIFACTS],
            [EcrGrant(repository="data-platform/trainer", access="push")],
            region=REGION,
            account_id=ACCOUNT,
        ),
    ],
    ids=["s3", "s3+ecr"],
)
def test_parliament_reports_no_findings(policy: dict[str, Any]) -> None:
    # Parliament lints identity policies; the trust policy is checked in test_pools_components.
    findings = analyze_policy_string(json.dumps(policy)).findings
    assert [(f.issue, f.detail) for f in findings] == []


def test_cross_account_statement_names_the_pool_role_only() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/arc-eks-dev-data-platform-images"
    (statement,) = cross_account_bucket_statements(PARTNER, role_arn=role, sid_prefix="DataImages")
    assert statement["Principal"] == {"AWS": role}
    assert statement["Resource"] == "arn:aws:s3:::partner-exchange/acme/*"
    assert statement["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert statement["Sid"].isalnum()
    read = ResolvedS3Grant("partner-exchange", "acme/", "read", None, "444455556666")
    listing = cross_account_bucket_statements(read, role_arn=role, sid_prefix="X")[1]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["acme/*"]}}


# --- enforced by moto's IAM: allowed on the grant, denied elsewhere --------------------------

# Setup calls made before IAM is enforced: 2 buckets, 2 objects, user, policy, access key.
_SETUP_CALLS = 7


@set_initial_no_auth_action_count(_SETUP_CALLS)
@mock_aws(config={"iam": {"load_aws_managed_policies": False}})
def test_moto_enforces_the_generated_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    grant = ResolvedS3Grant("acme-build-cache", "payments/", "readwrite", None, None)
    policy = pool_permission_policy([grant], region=REGION, account_id=ACCOUNT)
    admin_s3 = boto3.client("s3", region_name=REGION)
    location = {"LocationConstraint": REGION}
    admin_s3.create_bucket(Bucket="acme-build-cache", CreateBucketConfiguration=location)
    admin_s3.create_bucket(Bucket="acme-other", CreateBucketConfiguration=location)
    admin_s3.put_object(Bucket="acme-build-cache", Key="web/secret.txt", Body=b"web")
    admin_s3.put_object(Bucket="acme-other", Key="payments/x.txt", Body=b"other")
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="pool")
    iam.put_user_policy(UserName="pool", PolicyName="pool", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="pool")["AccessKey"]
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    # Allowed: read and write on its own prefix, listing it.
    s3.put_object(Bucket="acme-build-cache", Key="payments/cache.tar", Body=b"cache")
    assert (
        s3.get_object(Bucket="acme-build-cache", Key="payments/cache.tar")["Body"].read()
        == b"cache"
    )
    s3.list_objects_v2(Bucket="acme-build-cache", Prefix="payments/")

    def denied(call: Any, **kwargs: Any) -> None:
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        assert caught.value.response["Error"]["Code"] == "AccessDenied", kwargs

    # Denied: another prefix, another bucket, bucket policy and ACL management.
    denied(s3.get_object, Bucket="acme-build-cache", Key="web/secret.txt")
    denied(s3.put_object, Bucket="acme-build-cache", Key="web/evil.txt", Body=b"x")
    denied(s3.get_object, Bucket="acme-other", Key="payments/x.txt")
    denied(s3.put_object, Bucket="acme-other", Key="payments/y.txt", Body=b"x")
    denied(
        s3.put_bucket_policy,
        Bucket="acme-build-cache",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    denied(s3.put_bucket_acl, Bucket="acme-build-cache", ACL="public-read")
    denied(s3.delete_bucket, Bucket="acme-build-cache")


# --- whole documents: every key and value of what the builders produce ------------------------

KMS_OTHER_REGION = "arn:aws:kms:us-east-2:123456789012:key/abcd"


def test_write_only_sse_kms_grant_keeps_its_kms_actions() -> None:
    """Writing to an SSE-KMS bucket needs GenerateDataKey (and Decrypt for multipart)."""
    grant = ResolvedS3Grant("acme-uploads", "ci/", "write", KMS_OTHER_REGION, None)
    assert s3_statements([grant]) == [
        {
            "Sid": "ObjectsWrite0",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": "arn:aws:s3:::acme-uploads/ci/*",
        },
        {
            "Sid": "Kms0",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": KMS_OTHER_REGION,
            # the region of the key, not of the stack
            "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}},
        },
    ]


def test_readwrite_sse_kms_grant_whole() -> None:
    assert s3_statements([ARTIFACTS, CACHE]) == [
        {
            "Sid": "ObjectsRead0",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": "arn:aws:s3:::acme-artifacts/*",
        },
        {
            "Sid": "List0",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::acme-artifacts",
        },
        {
            "Sid": "ObjectsReadwrite1",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
            ],
            "Resource": "arn:aws:s3:::acme-build-cache/payments/*",
        },
        {
            "Sid": "List1",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::acme-build-cache",
            "Condition": {"StringLike": {"s3:prefix": ["payments/*"]}},
        },
        {
            "Sid": "Kms1",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": KMS_KEY,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}},
        },
    ]


def test_unknown_access_grants_no_object_action() -> None:
    from arc_eks.builders.s3_grants import object_actions

    assert object_actions("admin") == []
    assert object_actions("read") == ["s3:GetObject"]


REPO_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository"
PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
LOGIN = {
    "Sid": "EcrLogin",
    "Effect": "Allow",
    "Action": "ecr:GetAuthorizationToken",
    "Resource": "*",
}


def test_pull_only_ecr_grants_get_login_and_a_pull_statement() -> None:
    policy = pool_permission_policy(
        [],
        [
            EcrGrant(repository="web/base", access="pull"),
            EcrGrant(repository="web/app", access="pull"),
        ],
        region=REGION,
        account_id=ACCOUNT,
    )
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            LOGIN,
            {
                "Sid": "EcrPull",
                "Effect": "Allow",
                "Action": PULL,
                "Resource": [f"{REPO_ARN}/web/app", f"{REPO_ARN}/web/base"],
            },
        ],
    }


def test_push_and_pull_ecr_grants_whole_after_s3() -> None:
    policy = pool_permission_policy(
        [ARTIFACTS],
        [
            EcrGrant(repository="web/cache", access="push"),
            EcrGrant(repository="web/base", access="pull"),
        ],
        region=REGION,
        account_id=ACCOUNT,
    )
    assert [s["Sid"] for s in policy["Statement"]] == [
        "ObjectsRead0",
        "List0",
        "EcrLogin",
        "EcrPull",
        "EcrPush",
    ]
    assert policy["Statement"][2:] == [
        LOGIN,
        {"Sid": "EcrPull", "Effect": "Allow", "Action": PULL, "Resource": [f"{REPO_ARN}/web/base"]},
        {
            "Sid": "EcrPush",
            "Effect": "Allow",
            "Action": [
                *PULL,
                "ecr:CompleteLayerUpload",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            "Resource": [f"{REPO_ARN}/web/cache"],
        },
    ]


def test_cross_account_statements_whole() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/arc-eks-dev-data-platform-images"
    grant = ResolvedS3Grant("partner-exchange", "acme/", "readwrite", None, "444455556666")
    assert cross_account_bucket_statements(grant, role_arn=role, sid_prefix="data-images") == [
        {
            "Sid": "DataimagesObjectsReadwrite",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
            ],
            "Resource": "arn:aws:s3:::partner-exchange/acme/*",
        },
        {
            "Sid": "DataimagesList",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::partner-exchange",
            "Condition": {"StringLike": {"s3:prefix": ["acme/*"]}},
        },
    ]


def test_sids_are_alphanumeric_and_at_most_100_characters() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    (statement,) = cross_account_bucket_statements(PARTNER, role_arn=role, sid_prefix="a" * 120)
    assert statement["Sid"] == "A" + "a" * 99


def test_access_compared_by_value_not_identity() -> None:
    """Access levels read from YAML are new string objects, not the interned literals."""
    readwrite = "".join(["read", "write"])
    grant = ResolvedS3Grant("acme-build-cache", "", readwrite, None, None)
    assert "s3:DeleteObject" in s3_statements([grant])[0]["Action"]
    pull = EcrGrant.model_validate({"repository": "web/app", "access": "".join(["pu", "ll"])})
    policy = pool_permission_policy([], [pull], region=REGION, account_id=ACCOUNT)
    assert [s["Sid"] for s in policy["Statement"]] == ["EcrLogin", "EcrPull"]
