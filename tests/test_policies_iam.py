"""The IAM rules of the pack, guard by guard: each refuses what it names and accepts the boundary,
on every resource type it claims, and still finds a violation after something it skips.

The checks run directly on plain props (what `Rule.validate` hands them after `plain()`), with the
rule's config defaults; tests/test_policies.py runs the same rules through the engine's wrapping.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.arc_policies._support import UNKNOWN, Rule
from policies.arc_policies.iam import (
    GROUP_POLICY,
    IRSA_TRUST,
    MANAGED_POLICY,
    NO_WILDCARD_ACTIONS,
    NO_WILDCARD_RESOURCES,
    PERMISSION_TYPES,
    ROLE,
    ROLE_POLICY,
    S3_BUCKET_ALLOWLIST,
    USER_POLICY,
)

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
SUB, AUD = f"{ISSUER}:sub", f"{ISSUER}:aud"
GOOD_SUB = "system:serviceaccount:runners-payments:build-runner"


def check(rule: Rule, typ: str, props: dict[str, Any], **config: Any) -> list[str]:
    """The paths of the rule's findings (config: the rule's defaults, overridden)."""
    merged = {k: v["default"] for k, v in rule.config.items() if "default" in v}
    merged.update(config)
    return [f.path for f in rule.check(typ, props, merged)]


def messages(rule: Rule, typ: str, props: dict[str, Any], **config: Any) -> list[str]:
    merged = {k: v["default"] for k, v in rule.config.items() if "default" in v}
    merged.update(config)
    return [f.problem for f in rule.check(typ, props, merged)]


def doc(*statements: dict[str, Any]) -> Any:
    """The document as a JSON string, as Pulumi passes it (an object when it holds UNKNOWN)."""
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    try:
        return json.dumps(document)
    except TypeError:
        return document


def allow(action: Any, resource: Any = "arn:aws:s3:::acme-build-cache/*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


CLEAN = allow("s3:GetObject")
POLICY_TYPES = sorted(PERMISSION_TYPES - {ROLE})


def test_rules_claim_every_policy_carrying_type() -> None:
    assert {
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    } == PERMISSION_TYPES
    for rule in (NO_WILDCARD_ACTIONS, NO_WILDCARD_RESOURCES, S3_BUCKET_ALLOWLIST):
        assert rule.resource_types == PERMISSION_TYPES
    assert IRSA_TRUST.resource_types == {ROLE}
    assert {ROLE_POLICY, MANAGED_POLICY, USER_POLICY, GROUP_POLICY} < PERMISSION_TYPES


# --- where the documents are ------------------------------------------------------------------


@pytest.mark.parametrize("typ", POLICY_TYPES)
def test_every_policy_type_is_read_after_a_clean_and_a_deny_statement(typ: str) -> None:
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    props = {"policy": doc(CLEAN, deny, allow("s3:*", "*"))}
    assert check(NO_WILDCARD_ACTIONS, typ, props) == ["policy.Statement[2].Action"]
    assert check(NO_WILDCARD_RESOURCES, typ, props) == ["policy.Statement[2].Resource"]
    assert check(S3_BUCKET_ALLOWLIST, typ, props, allowedS3Buckets=["acme-build-cache"]) == [
        "policy.Statement[2].Resource"
    ]


def test_role_inline_policies_are_read_after_skipped_entries() -> None:
    props = {
        "policy": doc(allow("s3:*")),  # a Role has no `policy`: not read
        "inlinePolicies": [
            {"name": "a", "policy": doc(CLEAN)},
            {"name": "b"},
            {"name": "c", "policy": UNKNOWN},
            {"name": "d", "policy": doc(CLEAN, allow("iam:*"))},
        ],
    }
    assert check(NO_WILDCARD_ACTIONS, ROLE, props) == [
        "inlinePolicies[3].policy.Statement[1].Action"
    ]


def test_documents_as_objects_and_unreadable_documents() -> None:
    document = {"Statement": [CLEAN, allow("s3:*")]}
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, {"policy": document}) == [
        "policy.Statement[1].Action"
    ]
    for unreadable in ("not json", "[1, 2]", UNKNOWN, None):
        assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, {"policy": unreadable}) == []
    props = {"inlinePolicies": [{"policy": "not json"}, {"policy": doc(allow("s3:*"))}]}
    assert check(NO_WILDCARD_ACTIONS, ROLE, props) == [
        "inlinePolicies[1].policy.Statement[0].Action"
    ]


def test_single_statement_object_and_non_object_statements() -> None:
    single = json.dumps({"Statement": allow("s3:*")})
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, {"policy": single}) == [
        "policy.Statement[0].Action"
    ]
    listed = json.dumps({"Statement": ["junk", allow("s3:*")]})
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, {"policy": listed}) == [
        "policy.Statement[1].Action"
    ]


# --- aws-iam-no-wildcard-actions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "wildcard"),
    [
        ("*", True),
        ("s3:*", True),
        ("sts:*", True),
        ("s3:Get*", True),
        ("s3:Get?bject", True),
        ("autoscaling:Set*", True),
        ("autoscaling:Describe*", False),
        ("ec2:List*", False),
        ("ec2:Describe?nstances", False),
        ("s3:GetObject", False),
        ("sts:AssumeRoleWithWebIdentity", False),
    ],
)
def test_wildcard_actions(action: str, wildcard: bool) -> None:
    props = {"policy": doc(CLEAN, allow(["s3:GetObject", 7, action]))}
    expected = ["policy.Statement[1].Action"] if wildcard else []
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, props) == expected


def test_read_only_prefixes_come_from_config() -> None:
    props = {"policy": doc(allow("ec2:Describe*"))}
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, props, readOnlyActionPrefixes=["List"]) == [
        "policy.Statement[0].Action"
    ]
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, props) == []


def test_not_action_is_a_wildcard_even_after_a_clean_statement() -> None:
    props = {"policy": doc(CLEAN, {"Effect": "Allow", "NotAction": "iam:*", "Resource": "x"})}
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, props) == ["policy.Statement[1].NotAction"]
    assert "every other action" in messages(NO_WILDCARD_ACTIONS, ROLE_POLICY, props)[0]


# --- aws-iam-no-wildcard-resources --------------------------------------------------------------

TAG = "aws:ResourceTag/k8s.io/cluster-autoscaler/arc-eks-dev"


@pytest.mark.parametrize(
    ("actions", "condition", "violates"),
    [
        (["ec2:DescribeInstances", "autoscaling:DescribeTags"], None, False),
        (["ecr:GetAuthorizationToken", "sts:GetCallerIdentity"], None, False),
        (["ec2:GetInstanceTypesFromInstanceRequirements"], None, False),
        (["ec2:DescribeInstances", "autoscaling:SetDesiredCapacity"], None, True),
        (["s3:GetObject"], None, True),
        (["autoscaling:SetDesiredCapacity"], {"StringEquals": {TAG: "owned"}}, False),
        (["autoscaling:SetDesiredCapacity"], {"StringLike": {TAG: "*"}}, False),
        (["autoscaling:SetDesiredCapacity"], {"StringEquals": {"aws:RequestTag/x": "y"}}, True),
        # not scoping: a Null test, a negation, or a tag that may be absent
        (["autoscaling:SetDesiredCapacity"], {"Null": {TAG: "false"}}, True),
        (["autoscaling:SetDesiredCapacity"], {"StringNotEquals": {TAG: "other"}}, True),
        (["autoscaling:SetDesiredCapacity"], {"StringNotLike": {TAG: "x*"}}, True),
        (["autoscaling:SetDesiredCapacity"], {"StringEqualsIfExists": {TAG: "owned"}}, True),
        (["autoscaling:SetDesiredCapacity"], {"StringEquals": "junk"}, True),
        (["autoscaling:SetDesiredCapacity"], "junk", True),
        # a junk operator first does not hide a scoping one after it
        (
            ["autoscaling:SetDesiredCapacity"],
            {"Bool": "junk", "Null": {"x": "y"}, "StringEquals": {TAG: "owned"}},
            False,
        ),
    ],
)
def test_star_resource(actions: list[str], condition: Any, violates: bool) -> None:
    extra = {} if condition is None else {"Condition": condition}
    props = {"policy": doc(CLEAN, allow(actions, ["arn:aws:s3:::b/*", "*"], **extra))}
    expected = ["policy.Statement[1].Resource"] if violates else []
    assert check(NO_WILDCARD_RESOURCES, ROLE_POLICY, props) == expected


def test_tag_scoped_writes_can_be_switched_off() -> None:
    props = {
        "policy": doc(
            allow("autoscaling:SetDesiredCapacity", "*", Condition={"StringEquals": {TAG: "owned"}})
        )
    }
    assert check(NO_WILDCARD_RESOURCES, ROLE_POLICY, props) == []
    assert check(NO_WILDCARD_RESOURCES, ROLE_POLICY, props, allowTagScopedWrites=False) == [
        "policy.Statement[0].Resource"
    ]


def test_star_resource_message_names_the_write_actions() -> None:
    props = {"policy": doc(allow(["ec2:DescribeInstances", "ec2:TerminateInstances"], "*"))}
    (message,) = messages(NO_WILDCARD_RESOURCES, ROLE_POLICY, props)
    assert "['ec2:TerminateInstances']" in message


def test_not_resource_is_a_wildcard() -> None:
    props = {
        "policy": doc(CLEAN, {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "x"})
    }
    assert check(NO_WILDCARD_RESOURCES, ROLE_POLICY, props) == ["policy.Statement[1].NotResource"]


# --- aws-iam-irsa-no-wildcard-s3 ----------------------------------------------------------------

ALLOWED = ["acme-build-cache", "team-*-artifacts"]


@pytest.mark.parametrize(
    ("action", "resource", "violates"),
    [
        ("s3:GetObject", "arn:aws:s3:::acme-build-cache/*", False),
        ("s3:ListBucket", "arn:aws:s3:::acme-build-cache", False),
        ("s3:GetObject", "arn:aws:s3:::team-web-artifacts/x/*", False),
        ("s3:GetObject", "arn:aws-cn:s3:::acme-build-cache/*", False),
        ("S3:GetObject", "arn:aws:s3:::other/*", True),
        ("*", "arn:aws:s3:::other/*", True),
        ("s3:GetObject", "arn:aws:s3:::other/*", True),
        ("s3:GetObject", "arn:aws:s3:::acme-build-cache-2/*", True),
        ("s3:GetObject", "arn:aws:s3:::xacme-build-cache/*", True),
        ("s3:GetObject", "arn:aws:s3:::acme-*/*", True),
        ("s3:GetObject", "arn:aws:s3:::acme-build-cach?/*", True),
        ("s3:GetObject", "*", True),
        ("kms:Decrypt", "arn:aws:s3:::other/*", False),  # no S3 action: not this rule's
    ],
)
def test_s3_buckets(action: str, resource: str, violates: bool) -> None:
    skipped = [
        UNKNOWN,
        42,
        "arn:aws:kms:eu-west-1:123456789012:key/k",
        "arn:aws:s3:::acme-build-cache/*",
    ]
    props = {"policy": doc(CLEAN, allow([action], [*skipped, resource]))}
    expected = ["policy.Statement[1].Resource"] if violates else []
    assert check(S3_BUCKET_ALLOWLIST, ROLE_POLICY, props, allowedS3Buckets=ALLOWED) == expected


def test_s3_messages_say_what_is_wrong() -> None:
    props = {"policy": doc(allow("s3:GetObject", ["*", "arn:aws:s3:::a*/*", "arn:aws:s3:::zz/*"]))}
    found = messages(S3_BUCKET_ALLOWLIST, ROLE_POLICY, props, allowedS3Buckets=ALLOWED)
    assert len(found) == 3
    assert "every bucket" in found[0]
    assert "wildcard in the bucket name" in found[1]
    assert "'zz' is not in the allowlist" in found[2]


def test_empty_allowlist_allows_no_bucket() -> None:
    props = {"policy": doc(CLEAN)}
    assert check(S3_BUCKET_ALLOWLIST, ROLE_POLICY, props) == ["policy.Statement[0].Resource"]


# --- aws-iam-irsa-trust-exact-service-account ---------------------------------------------------


def trust(condition: Any = None, principal: Any = None, **extra: Any) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER} if principal is None else principal,
        "Action": "sts:AssumeRoleWithWebIdentity",
        **extra,
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


EXACT = {"StringEquals": {SUB: GOOD_SUB, AUD: "sts.amazonaws.com"}}
SERVICE = {
    "Effect": "Allow",
    "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole",
}
DENY = {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}


def trust_paths(*statements: dict[str, Any], **config: Any) -> list[str]:
    return check(IRSA_TRUST, ROLE, {"assumeRolePolicy": doc(*statements)}, **config)


def test_exact_trust_passes_and_a_later_statement_is_still_read() -> None:
    assert trust_paths(trust(EXACT)) == []
    assert trust_paths(SERVICE, DENY, trust(EXACT)) == []
    assert trust_paths(
        SERVICE, DENY, trust(EXACT), trust({"StringEquals": {AUD: "sts.amazonaws.com"}})
    ) == ["assumeRolePolicy.Statement[3].Condition.StringEquals"]


@pytest.mark.parametrize(
    "principal",
    ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::111122223333:root", "*"]}],
    ids=["star", "aws-star", "aws-list-with-star"],
)
def test_any_aws_principal_is_refused(principal: Any) -> None:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    assert trust_paths(SERVICE, statement) == ["assumeRolePolicy.Statement[1].Principal"]


def test_a_federated_principal_that_is_not_an_oidc_provider_is_not_irsa() -> None:
    saml = {"Federated": "arn:aws:iam::123456789012:saml-provider/corp"}
    assert trust_paths(trust({}, principal=saml)) == []
    # one OIDC provider among several federated principals is enough to be IRSA
    both = {"Federated": ["arn:aws:iam::123456789012:saml-provider/corp", PROVIDER]}
    assert trust_paths(trust({}, principal=both)) == [
        "assumeRolePolicy.Statement[0].Condition.StringEquals",
        "assumeRolePolicy.Statement[0].Condition.StringEquals",
    ]
    assert trust_paths(trust({}, principal={"AWS": "arn:aws:iam::1:root"})) == []


@pytest.mark.parametrize(
    "subject",
    [
        "system:serviceaccount:*:build-runner",
        "system:serviceaccount:runners-payments:*",
        "system:serviceaccount:runners-?:build-runner",
        "system:serviceaccount:runners-payments:build-?",
        "system:serviceaccount::build-runner",
        "system:serviceaccount:runners-payments:",
        "system:serviceaccount:runners-payments",
        "system:serviceaccount:a:b:c",
        "system:serviceaccounts:runners-payments:build-runner",
        "sys:serviceaccount:runners-payments:build-runner",
        "*",
        7,
        ["system:serviceaccount:a:b", "system:serviceaccount:c:d"],
        [],
    ],
)
def test_subject_that_is_not_one_exact_service_account(subject: Any) -> None:
    condition = {"StringEquals": {SUB: subject, AUD: "sts.amazonaws.com"}}
    assert trust_paths(trust(condition)) == [
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{SUB}"
    ]


def test_a_second_subject_key_is_checked_too() -> None:
    other = "oidc.eks.eu-west-1.amazonaws.com/id/OTHER:sub"
    condition = {
        "StringEquals": {
            SUB: GOOD_SUB,
            other: "system:serviceaccount:*:x",
            AUD: "sts.amazonaws.com",
        }
    }
    assert trust_paths(trust(condition)) == [
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{other}"
    ]


@pytest.mark.parametrize(
    "operator",
    ["StringLike", "StringNotEquals", "ForAnyValue:StringLike", "StringEqualsIgnoreCase"],
)
def test_sub_or_aud_under_another_operator(operator: str) -> None:
    for key in (SUB, AUD):
        condition = {"Null": "junk", **EXACT, operator: {key: "x"}}
        assert trust_paths(trust(condition)) == [
            f"assumeRolePolicy.Statement[0].Condition.{operator}"
        ]
    # other keys under other operators are not this rule's concern
    assert trust_paths(trust({**EXACT, operator: {f"{ISSUER}:amr": "x"}})) == []


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ({"StringEquals": {AUD: "sts.amazonaws.com"}}, "StringEquals"),
        ({"StringEquals": {SUB: GOOD_SUB}}, "StringEquals"),
        ({"StringEquals": {SUB: GOOD_SUB, AUD: "sts.example.com"}}, f"StringEquals.{AUD}"),
        (
            {"StringEquals": {SUB: GOOD_SUB, AUD: ["sts.amazonaws.com", "other"]}},
            f"StringEquals.{AUD}",
        ),
    ],
    ids=["no-sub", "no-aud", "wrong-aud", "two-auds"],
)
def test_sub_and_aud_are_both_required(condition: dict[str, Any], path: str) -> None:
    assert trust_paths(trust(condition)) == [f"assumeRolePolicy.Statement[0].Condition.{path}"]


def test_no_condition_at_all_misses_both() -> None:
    (no_sub, no_aud) = messages(IRSA_TRUST, ROLE, {"assumeRolePolicy": doc(trust())})
    assert "every ServiceAccount of the cluster" in no_sub
    assert "sts.amazonaws.com" in no_aud
    bad_equals = trust({"StringEquals": "junk"})
    assert len(trust_paths(bad_equals)) == 2
    assert len(trust_paths(trust("junk"))) == 2


def test_audience_comes_from_config() -> None:
    assert trust_paths(trust(EXACT), audience="other.example") == [
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{AUD}"
    ]


def test_unknown_values_are_not_violations() -> None:
    assert check(IRSA_TRUST, ROLE, {"assumeRolePolicy": UNKNOWN}) == []
    assert check(IRSA_TRUST, ROLE, {}) == []
    assert check(IRSA_TRUST, ROLE, {"assumeRolePolicy": "not json"}) == []
    assert trust_paths(trust(UNKNOWN)) == []
    unknown_values = {"StringEquals": {SUB: [UNKNOWN], AUD: [UNKNOWN]}}
    document = {"Statement": [trust(unknown_values)]}
    assert check(IRSA_TRUST, ROLE, {"assumeRolePolicy": document}) == []
    # an unknown subject does not hide a wrong audience beside it
    mixed = {"StringEquals": {SUB: UNKNOWN, AUD: "other"}}
    document = {"Statement": [trust(mixed)]}
    assert check(IRSA_TRUST, ROLE, {"assumeRolePolicy": document}) == [
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{AUD}"
    ]


def test_exact_read_only_action_with_a_trailing_wildcard() -> None:
    # ecr:GetAuthorizationToken* names nothing more than the read-only action itself
    props = {"policy": doc(allow(["sts:GetCallerIdentity*", "ecr:GetAuthorizationToken?"], "*"))}
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, props) == []


def test_only_a_whole_s3_arn_is_an_s3_arn() -> None:
    props = {"policy": doc(allow("s3:GetObject", ["xarn:aws:s3:::other/*"]))}
    assert check(S3_BUCKET_ALLOWLIST, ROLE_POLICY, props, allowedS3Buckets=ALLOWED) == []


RULE_NAMES = {
    "aws-iam-no-wildcard-actions": NO_WILDCARD_ACTIONS,
    "aws-iam-no-wildcard-resources": NO_WILDCARD_RESOURCES,
    "aws-iam-irsa-no-wildcard-s3": S3_BUCKET_ALLOWLIST,
    "aws-iam-irsa-trust-exact-service-account": IRSA_TRUST,
}


@pytest.mark.parametrize("name", sorted(RULE_NAMES))
def test_rule_names_and_complete_config_schemas(name: str) -> None:
    """The engine validates a pack's config against these schemas and shows the descriptions."""
    rule = RULE_NAMES[name]
    assert rule.name == name
    for key, spec in rule.config.items():
        assert set(spec) >= {"type", "default", "description"}, key
        assert spec["type"] in {"array", "boolean", "string", "number", "integer"}
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}, key
    expected = {
        "aws-iam-no-wildcard-actions": {"readOnlyActionPrefixes", "readOnlyActions"},
        "aws-iam-no-wildcard-resources": {
            "readOnlyActionPrefixes",
            "readOnlyActions",
            "allowTagScopedWrites",
        },
        "aws-iam-irsa-no-wildcard-s3": {"allowedS3Buckets"},
        "aws-iam-irsa-trust-exact-service-account": {"audience"},
    }
    assert set(rule.config) == expected[name]


def test_edge_values_are_not_wildcards_and_skipped_statements_do_not_stop_the_scan() -> None:
    # an empty action or resource is not a wildcard; a statement without Effect is not an Allow
    no_effect = {"Action": "s3:*", "Resource": "*"}
    props = {"policy": doc(no_effect, allow(["", "s3:GetObject"]), allow("s3:*"))}
    assert check(NO_WILDCARD_ACTIONS, ROLE_POLICY, props) == ["policy.Statement[2].Action"]
    kms_only = allow(["kms:Decrypt", ""], "arn:aws:s3:::other/*")
    props = {"policy": doc(kms_only, allow("s3:GetObject", ["", "arn:aws:s3:::other/*"]))}
    assert check(S3_BUCKET_ALLOWLIST, ROLE_POLICY, props, allowedS3Buckets=ALLOWED) == [
        "policy.Statement[1].Resource"
    ]
    newline = {"policy": doc(allow("s3:GetObject", "arn:aws:s3:::other/x\nacme-build-cache"))}
    assert check(S3_BUCKET_ALLOWLIST, ROLE_POLICY, newline, allowedS3Buckets=ALLOWED) == [
        "policy.Statement[0].Resource"
    ]
    trust_no_effect = {"Principal": "*", "Action": "sts:AssumeRole"}
    assert trust_paths(trust_no_effect, trust(EXACT)) == []


def test_a_tag_scoped_statement_does_not_end_the_scan() -> None:
    scoped = allow(
        "autoscaling:SetDesiredCapacity", "*", Condition={"StringEquals": {TAG: "owned"}}
    )
    props = {"policy": doc(scoped, allow("ec2:TerminateInstances", "*"))}
    assert check(NO_WILDCARD_RESOURCES, ROLE_POLICY, props) == ["policy.Statement[1].Resource"]
    reads = allow("ec2:DescribeInstances", "*")
    props = {"policy": doc(reads, allow("ec2:TerminateInstances", "*"))}
    assert check(NO_WILDCARD_RESOURCES, ROLE_POLICY, props) == ["policy.Statement[1].Resource"]
