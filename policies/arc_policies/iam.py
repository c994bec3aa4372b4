"""IAM: no wildcard actions or resources, S3 only on allowlisted buckets, IRSA trust pinned to one
ServiceAccount.

Policy documents reach a policy as JSON strings (`policy`, `assumeRolePolicy`, `inlinePolicies[].policy`)
or, from some programs, as objects; both are read.

Exception for `Resource: "*"` (documented in docs/policy-and-review.md): AWS offers no resource-level
permissions for read-only Describe/List calls (cluster-autoscaler's `autoscaling:Describe*`,
`ec2:DescribeInstanceTypes`, `ecr:GetAuthorizationToken`), so read-only actions may use `*`. A write
action may use `*` only when a `ResourceTag/` condition scopes it to tagged resources (the
cluster-autoscaler pattern: `autoscaling:SetDesiredCapacity` only on ASGs tagged for this cluster);
never bare.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, as_list, get, iter_statements, json_document, show

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
PERMISSION_TYPES = frozenset({ROLE, ROLE_POLICY, MANAGED_POLICY, USER_POLICY, GROUP_POLICY})

# DOTALL: a resource with a newline in it is still read as an S3 ARN (and its bucket checked).
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/]*)(?P<key>/.*)?$", re.DOTALL)


def permission_documents(typ: str, props: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, parsed document) of every permissions policy a resource carries (not trust)."""
    if typ == ROLE:
        for index, inline in enumerate(as_list(get(props, "inlinePolicies"))):
            raw = get(inline, "policy")
            if raw is not None and raw is not UNKNOWN:
                yield f"inlinePolicies[{index}].policy", json_document(raw)
        return
    raw = get(props, "policy")
    if raw is not None and raw is not UNKNOWN:
        yield "policy", json_document(raw)


def _allow_statements(typ: str, props: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, document in permission_documents(typ, props):
        if not isinstance(document, dict):
            continue
        for index, statement in iter_statements(document):
            if get(statement, "Effect") == "Allow":
                yield f"{path}.Statement[{index}]", statement


def _known_strings(values: Any) -> list[str]:
    return [v for v in as_list(values) if isinstance(v, str)]


def is_read_only(action: str, config: Mapping[str, Any]) -> bool:
    if action in config["readOnlyActions"]:
        return True
    _, _, verb = action.partition(":")
    return any(verb.startswith(prefix) for prefix in config["readOnlyActionPrefixes"])


def _wildcard_action(action: str, config: Mapping[str, Any]) -> bool:
    if action == "*" or action.endswith(":*"):
        return True
    # A partial wildcard is acceptable only on a read-only verb (autoscaling:Describe*).
    return ("*" in action or "?" in action) and not is_read_only(action.rstrip("*?"), config)


READ_ONLY_CONFIG: dict[str, dict[str, Any]] = {
    "readOnlyActionPrefixes": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["Describe", "List"],
        "description": 'Action verbs treated as read-only (may use wildcards and Resource "*").',
    },
    "readOnlyActions": {
        "type": "array",
        "items": {"type": "string"},
        "default": [
            "ec2:GetInstanceTypesFromInstanceRequirements",
            "ecr:GetAuthorizationToken",
            "sts:GetCallerIdentity",
        ],
        "description": "Further non-mutating actions that AWS authorizes only on Resource "
        '"*" (no resource-level permissions); they may use "*".',
    },
}


def check_wildcard_actions(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    for path, statement in _allow_statements(typ, props):
        if get(statement, "NotAction") is not None:
            yield Finding(f"{path}.NotAction", "Allow with NotAction grants every other action")
        for action in _known_strings(get(statement, "Action")):
            if _wildcard_action(action, config):
                yield Finding(f"{path}.Action", f"{show(action)} grants a wildcard of actions")


NO_WILDCARD_ACTIONS = Rule(
    name="aws-iam-no-wildcard-actions",
    description='Runner and add-on IAM policies name their actions: no "*", no "service:*", no '
    "Allow+NotAction (wildcards on read-only Describe/List verbs are allowed).",
    remediation="list the exact actions the workload calls (e.g. s3:GetObject, s3:PutObject) in "
    "the pool's s3 grants or the add-on's policy builder",
    resource_types=PERMISSION_TYPES,
    check=check_wildcard_actions,
    config=READ_ONLY_CONFIG,
    severity=Severity.CRITICAL,
)


# Operators that require the tag to be present with a matching value. Not StringNotEquals/NotLike
# (every resource without that value, untagged ones included), not ...IfExists (an absent tag
# passes), not Null (only says whether the tag exists).
_TAG_SCOPING_OPERATORS = frozenset({"StringEquals", "StringLike"})


def _tag_scoped(statement: dict[str, Any]) -> bool:
    condition = get(statement, "Condition")
    if not isinstance(condition, dict):
        return False
    for operator, entries in condition.items():
        if not isinstance(entries, dict) or operator not in _TAG_SCOPING_OPERATORS:
            continue
        if any("ResourceTag/" in key for key in entries):
            return True
    return False


def check_wildcard_resources(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    for path, statement in _allow_statements(typ, props):
        if get(statement, "NotResource") is not None:
            yield Finding(
                f"{path}.NotResource", "Allow with NotResource grants every other resource"
            )
        resources = _known_strings(get(statement, "Resource"))
        if "*" not in resources:
            continue
        actions = _known_strings(get(statement, "Action"))
        writes = [a for a in actions if not is_read_only(a, config)]
        if not writes:
            continue
        if config["allowTagScopedWrites"] and _tag_scoped(statement):
            continue
        yield Finding(
            f"{path}.Resource",
            f'"*" for non-read-only actions {writes} (only Describe/List-style reads, or writes '
            'scoped by a ResourceTag condition, may use "*")',
        )


NO_WILDCARD_RESOURCES = Rule(
    name="aws-iam-no-wildcard-resources",
    description="Runner and add-on IAM policies scope write actions to named resources: Resource "
    '"*" only for read-only Describe/List actions (AWS has no resource-level permissions for '
    "them) or for writes restricted by a ResourceTag condition (cluster-autoscaler).",
    remediation="name the resource ARNs (bucket/prefix ARNs, the cluster's ASGs) or add a "
    "StringEquals aws:ResourceTag/<key> condition for tag-scoped writes",
    resource_types=PERMISSION_TYPES,
    check=check_wildcard_resources,
    config={
        **READ_ONLY_CONFIG,
        "allowTagScopedWrites": {
            "type": "boolean",
            "default": True,
            "description": 'Allow write actions on "*" when a ResourceTag condition scopes them.',
        },
    },
    severity=Severity.CRITICAL,
)


def _bucket_allowed(bucket: str, allowed: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(bucket, pattern) for pattern in allowed)


def check_s3_buckets(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    allowed = list(config["allowedS3Buckets"])
    for path, statement in _allow_statements(typ, props):
        actions = _known_strings(get(statement, "Action"))
        if not any(a == "*" or a.lower().startswith("s3:") for a in actions):
            continue
        for resource in as_list(get(statement, "Resource")):
            if resource is UNKNOWN or not isinstance(resource, str):
                continue
            if resource == "*":
                yield Finding(f"{path}.Resource", 'S3 actions on "*" reach every bucket')
                continue
            match = _S3_ARN.match(resource)
            if match is None:
                continue  # not an S3 ARN (a KMS key used with the bucket, for instance)
            bucket = match.group("bucket")
            if any(ch in bucket for ch in "*?"):
                yield Finding(f"{path}.Resource", f"{show(resource)}: wildcard in the bucket name")
            elif not _bucket_allowed(bucket, allowed):
                yield Finding(
                    f"{path}.Resource",
                    f"{show(resource)}: bucket {bucket!r} is not in the allowlist {allowed}",
                )


S3_BUCKET_ALLOWLIST = Rule(
    name="aws-iam-irsa-no-wildcard-s3",
    description='S3 permissions name exact buckets from the environment\'s allowlist: no "*", '
    "no wildcard bucket names, no bucket the platform team has not allowed.",
    remediation="grant only buckets listed for the team in the stack config (teams.<team>."
    "s3Buckets) and in this policy's allowedS3Buckets; ask the platform team to add a bucket",
    resource_types=PERMISSION_TYPES,
    check=check_s3_buckets,
    config={
        "allowedS3Buckets": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Bucket names (glob patterns set by the platform team) S3 grants may "
            "name.",
        }
    },
    severity=Severity.HIGH,
)


def _federated(statement: dict[str, Any]) -> list[str]:
    principal = get(statement, "Principal")
    if not isinstance(principal, dict):
        return []
    return _known_strings(get(principal, "Federated"))


def _check_operators(path: str, condition: dict[str, Any]) -> Iterator[Finding]:
    for operator, entries in condition.items():
        if operator == "StringEquals" or not isinstance(entries, dict):
            continue
        for key in entries:
            if key.endswith((":sub", ":aud")):
                yield Finding(
                    f"{path}.Condition.{operator}",
                    f"{key} under {operator}: only StringEquals pins one ServiceAccount",
                )


def _check_subject(path: str, key: str, values: list[Any]) -> Iterator[Finding]:
    if any(v is UNKNOWN for v in values):
        return
    if len(values) != 1:
        yield Finding(
            f"{path}.Condition.StringEquals.{key}",
            f"{show(values)}: exactly one ServiceAccount, not {len(values)}",
        )
        return
    parts = values[0].split(":") if isinstance(values[0], str) else []
    exact = len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]
    if not exact or any(not part or "*" in part or "?" in part for part in parts[2:]):
        yield Finding(
            f"{path}.Condition.StringEquals.{key}",
            f"{show(values[0])}, expected system:serviceaccount:<namespace>:<name> with no "
            "wildcard",
        )


def _check_web_identity(path: str, statement: dict[str, Any], audience: str) -> Iterator[Finding]:
    condition = get(statement, "Condition")
    if condition is UNKNOWN:
        return
    condition = condition if isinstance(condition, dict) else {}
    yield from _check_operators(path, condition)
    equals = get(condition, "StringEquals")
    equals = equals if isinstance(equals, dict) else {}
    subs = [k for k in equals if k.endswith(":sub")]
    auds = [k for k in equals if k.endswith(":aud")]
    if not subs:
        yield Finding(
            f"{path}.Condition.StringEquals",
            "no <issuer>:sub condition: every ServiceAccount of the cluster can assume the role",
        )
    for key in subs:
        yield from _check_subject(path, key, as_list(equals[key]))
    if not auds:
        yield Finding(
            f"{path}.Condition.StringEquals", f"no <issuer>:aud condition (expected {audience})"
        )
    for key in auds:
        values = as_list(equals[key])
        if not any(v is UNKNOWN for v in values) and values != [audience]:
            yield Finding(
                f"{path}.Condition.StringEquals.{key}", f"{show(values)}, expected {audience}"
            )


def check_irsa_trust(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    raw = get(props, "assumeRolePolicy")
    if raw is None or raw is UNKNOWN:
        return
    document = json_document(raw)
    if not isinstance(document, dict):
        return
    for index, statement in iter_statements(document):
        path = f"assumeRolePolicy.Statement[{index}]"
        if get(statement, "Effect") != "Allow":
            continue
        principal = get(statement, "Principal")
        if principal == "*" or "*" in _known_strings(get(principal, "AWS")):
            yield Finding(f"{path}.Principal", '"*" lets any AWS account assume the role')
        elif any("oidc-provider/" in p for p in _federated(statement)):
            yield from _check_web_identity(path, statement, config["audience"])


IRSA_TRUST = Rule(
    name="aws-iam-irsa-trust-exact-service-account",
    description="An IRSA role (trusted through the cluster's OIDC provider) is assumable by one "
    "exact ServiceAccount: StringEquals on <issuer>:sub = system:serviceaccount:<ns>:<sa> (no "
    "wildcard, no StringLike) and on <issuer>:aud = sts.amazonaws.com.",
    remediation="build the trust with arc_eks.builders.iam.irsa_trust_policy(provider_arn, "
    "issuer, namespace, service_account)",
    resource_types=frozenset({ROLE}),
    check=check_irsa_trust,
    config={
        "audience": {
            "type": "string",
            "default": "sts.amazonaws.com",
            "description": "The token audience IRSA roles must require.",
        }
    },
    severity=Severity.CRITICAL,
)

RULES = (NO_WILDCARD_ACTIONS, NO_WILDCARD_RESOURCES, S3_BUCKET_ALLOWLIST, IRSA_TRUST)
