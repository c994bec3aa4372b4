"""Cluster access: every admin is an explicit access entry, the creator gets no implicit one on a
new cluster, and a deployment by an identity that is not an admin is refused before anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_eks as eks
import pytest

from arc_eks import access
from arc_eks.components import cluster as cluster_module
from arc_eks.errors import ConfigError
from arc_eks.review.offline import ArcMocks
from tests.program_fixtures import ADMIN, ONCALL, pool, run_fixture, write_teams


class CallerMocks(ArcMocks):
    def __init__(self, caller_arn: str) -> None:
        self.caller_arn = caller_arn

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        result, _ = super().call(args)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            result = {**result, "arn": self.caller_arn}
        return result, []


@pytest.fixture
def teams(tmp_path: Path) -> Path:
    return write_teams(tmp_path / "teams", {"alpha": [pool("build")]})


def _child_props(bootstrap: bool = True) -> dict[str, Any]:
    """The child cluster's inputs as pulumi-eks registers them (authenticationMode API)."""
    return {
        "name": "arc-eks-dev",
        "accessConfig": {
            "authenticationMode": "API",
            "bootstrapClusterCreatorAdminPermissions": bootstrap,
        },
    }


def test_transform_turns_the_creator_bootstrap_off_on_the_child_cluster_only() -> None:
    opts = pulumi.ResourceOptions(
        ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"]
    )
    result = access.creator_bootstrap_off(
        pulumi.ResourceTransformArgs(True, "aws:eks/cluster:Cluster", "c", _child_props(), opts)
    )
    assert result is not None
    assert result.props["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    assert result.props["name"] == "arc-eks-dev"
    # pulumi-eks's ignoreChanges stays: an existing cluster sees no diff, so no replacement.
    assert result.opts is opts
    for typ in ("eks:index:Cluster", "aws:eks/accessEntry:AccessEntry", "aws:eks/addon:Addon"):
        args = pulumi.ResourceTransformArgs(True, typ, "x", _child_props(), opts)
        assert access.creator_bootstrap_off(args) is None


def test_the_cluster_component_carries_the_transform(
    teams: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[pulumi.ResourceOptions | None] = []

    class Spy(eks.Cluster):  # type: ignore[misc]
        def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs.get("opts"))
            super().__init__(resource_name, *args, **kwargs)

    monkeypatch.setattr(cluster_module.eks, "Cluster", Spy)
    run_fixture(teams)
    transforms = [t for opts in seen if opts is not None for t in opts.transforms or []]
    assert transforms == [access.creator_bootstrap_off], seen


def test_every_admin_is_an_explicit_access_entry(teams: Path) -> None:
    inputs = run_fixture(teams).one("eks:index:Cluster").inputs
    assert inputs["authenticationMode"] == "API"
    entries = inputs["accessEntries"].values()
    assert sorted(e["principalArn"] for e in entries) == sorted([ADMIN, ONCALL])


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:sts::111122223333:assumed-role/platform-admin/alice",  # ADMIN has a path
        "arn:aws:sts::111122223333:assumed-role/platform-oncall/bob",
        "arn:aws:iam::111122223333:role/platform-oncall",
    ],
)
def test_an_admin_may_deploy(teams: Path, caller: str) -> None:
    assert run_fixture(teams, mocks=CallerMocks(caller)).of_type("eks:index:Cluster")


@pytest.mark.parametrize(
    ("caller", "named"),
    [
        ("arn:aws:sts::111122223333:assumed-role/ci-deployer/run-42", "'ci-deployer'"),
        # Same role name in another account is another role.
        ("arn:aws:sts::444455556666:assumed-role/platform-admin/x", "account 444455556666"),
        ("arn:aws:iam::111122223333:user/alice", "(not a role)"),
        ("arn:aws:iam::111122223333:root", "(not a role)"),
    ],
)
def test_a_deployer_outside_the_admins_is_refused_before_anything(
    teams: Path, caller: str, named: str
) -> None:
    run = run_fixture(teams, mocks=CallerMocks(caller), raise_errors=False)
    assert isinstance(run.error, ConfigError)
    assert run.resources == []
    message = str(run.error)
    assert "arc-eks:cluster.adminRoleArns" in message
    assert named in message


def test_no_admins_is_refused(teams: Path) -> None:
    caller = "arn:aws:sts::111122223333:assumed-role/platform-admin/alice"
    cluster = {"publicAccessCidrs": ["203.0.113.0/24"], "adminRoleArns": []}
    run = run_fixture(teams, mocks=CallerMocks(caller), raise_errors=False, cluster=cluster)
    assert isinstance(run.error, ConfigError)
    assert run.resources == []
    assert "at least one role" in str(run.error)


@pytest.mark.parametrize(
    ("arn", "role"),
    [
        ("arn:aws:iam::111122223333:role/a/b/name", ("111122223333", "name")),
        ("arn:aws-us-gov:sts::111122223333:assumed-role/name/s", ("111122223333", "name")),
        ("arn:aws:iam::111122223333:user/name", None),
        ("arn:aws:sts::111122223333:federated-user/name", None),
    ],
)
def test_role_of(arn: str, role: tuple[str, str] | None) -> None:
    assert access.role_of(arn) == role
