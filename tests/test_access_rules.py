"""arc_eks.access rule by rule, without a program run: which ARNs name a role, when the deploying
identity is refused (the whole problem compared), and the transform's edge cases.

tests/test_cluster_access.py checks the same code wired into the program under Pulumi mocks.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from arc_eks import access
from arc_eks.errors import ConfigProblem

ACCOUNT = "111122223333"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform/admin"
ONCALL = f"arn:aws:iam::{ACCOUNT}:role/oncall"


@pytest.mark.parametrize(
    ("arn", "role"),
    [
        (ADMIN, (ACCOUNT, "admin")),
        (ONCALL, (ACCOUNT, "oncall")),
        (f"arn:aws:iam::{ACCOUNT}:role/a/b/c/d+=,.@_-9", (ACCOUNT, "d+=,.@_-9")),
        (f"arn:aws-cn:iam::{ACCOUNT}:role/x", (ACCOUNT, "x")),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/bob", (ACCOUNT, "oncall")),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/a+=,.@_-9/s/t", (ACCOUNT, "a+=,.@_-9")),
        (f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/oncall/bob", (ACCOUNT, "oncall")),
        # Not roles.
        (f"arn:aws:iam::{ACCOUNT}:user/oncall", None),
        (f"arn:aws:iam::{ACCOUNT}:root", None),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/oncall", None),
        # An assumed role needs a session; a role needs a name.
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/", None),
        (f"arn:aws:iam::{ACCOUNT}:role/", None),
        (f"arn:aws:iam::{ACCOUNT}:role/path/", None),
        # Anchored at both ends, exact partition prefix and account length.
        (f"xarn:aws:iam::{ACCOUNT}:role/oncall", None),
        (f"arn:aws:iam::{ACCOUNT}:role/oncall x", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/bob\nx", None),
        (f"arn:azure:iam::{ACCOUNT}:role/oncall", None),
        ("arn:aws:iam::11112222333:role/oncall", None),
        ("arn:aws:iam::1111222233334:role/oncall", None),
        ("arn:aws:sts::11112222333:assumed-role/oncall/bob", None),
        (f"arn:aws:iam::{ACCOUNT}:assumed-role/oncall/bob", None),
        (f"arn:aws:sts::{ACCOUNT}:role/oncall", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/on call/bob", None),
    ],
)
def test_role_of(arn: str, role: tuple[str, str] | None) -> None:
    assert access.role_of(arn) == role


@pytest.mark.parametrize(
    "caller",
    [
        ONCALL,
        f"arn:aws:sts::{ACCOUNT}:assumed-role/oncall/bob",
        # The session of a role with a path: STS leaves the path out.
        f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/alice",
    ],
)
def test_an_admin_role_may_deploy(caller: str) -> None:
    assert access.deployer_problems(caller, [ADMIN, ONCALL]) == []
    # The order of the list does not matter; a single admin is enough.
    assert access.deployer_problems(caller, [ONCALL, ADMIN]) == []


def _outsider(who: str, count: int) -> list[ConfigProblem]:
    return [
        ConfigProblem(
            source="stack config",
            path="arc-eks:cluster.adminRoleArns",
            value=f"{count} role(s) without the deploying identity",
            expected=(
                f"the role `pulumi` runs as ({who}) among the admins: it deploys into the "
                "cluster and has no access there otherwise. Add its role ARN, or run as one "
                "of the listed roles"
            ),
        )
    ]


@pytest.mark.parametrize(
    ("caller", "who"),
    [
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/run-1",
            f"role 'deployer' of account {ACCOUNT}",
        ),
        (f"arn:aws:iam::{ACCOUNT}:role/deployer", f"role 'deployer' of account {ACCOUNT}"),
        # The same name in another account is another role.
        (
            "arn:aws:sts::444455556666:assumed-role/oncall/bob",
            "role 'oncall' of account 444455556666",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:user/oncall",
            f"arn:aws:iam::{ACCOUNT}:user/oncall (not a role)",
        ),
        (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:root (not a role)"),
    ],
)
def test_a_deployer_outside_the_admins_is_refused(caller: str, who: str) -> None:
    assert access.deployer_problems(caller, [ADMIN, ONCALL]) == _outsider(who, 2)
    assert access.deployer_problems(caller, [ONCALL]) == _outsider(who, 1)


def test_no_admins_is_refused_for_every_caller() -> None:
    expected = [
        ConfigProblem(
            "stack config",
            "arc-eks:cluster.adminRoleArns",
            "[]",
            "at least one role, including the one `pulumi up` runs as: the cluster grants "
            "admin access only to these roles (no implicit creator access)",
        )
    ]
    for caller in (ONCALL, f"arn:aws:iam::{ACCOUNT}:user/oncall"):
        assert access.deployer_problems(caller, []) == expected


def test_a_caller_that_is_no_role_is_refused_whatever_the_list_holds() -> None:
    """A user or root is never an admin, even next to an entry that is not a role either."""
    caller = f"arn:aws:iam::{ACCOUNT}:user/oncall"
    user_entry = f"arn:aws:iam::{ACCOUNT}:user/other"
    found = access.deployer_problems(caller, [ONCALL, user_entry])
    assert found == _outsider(f"{caller} (not a role)", 2)


def _args(typ: str, props: dict[str, Any]) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(True, typ, "c", props, pulumi.ResourceOptions())


def test_transform_keeps_everything_else_and_sets_only_the_bootstrap_flag() -> None:
    props = {
        "name": "arc-eks-dev",
        "version": "1.35",
        "accessConfig": {"authenticationMode": "API"},
    }
    args = _args(access.CHILD_CLUSTER_TYPE, props)
    result = access.creator_bootstrap_off(args)
    assert result is not None
    assert dict(result.props) == {
        "name": "arc-eks-dev",
        "version": "1.35",
        "accessConfig": {
            "authenticationMode": "API",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    }
    assert result.opts is args.opts
    # The registered inputs are not modified in place.
    assert props["accessConfig"] == {"authenticationMode": "API"}
    assert access.CHILD_CLUSTER_TYPE == "aws:eks/cluster:Cluster"


@pytest.mark.parametrize("config", [None, "API", ["API"]])
def test_transform_leaves_a_cluster_without_an_access_config_mapping(config: Any) -> None:
    props: dict[str, Any] = {"name": "arc-eks-dev"}
    if config is not None:
        props["accessConfig"] = config
    assert access.creator_bootstrap_off(_args(access.CHILD_CLUSTER_TYPE, props)) is None
