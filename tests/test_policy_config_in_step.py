"""The policy configs repeat two allowlists of the stack files on purpose (a second key: the pack
also runs in a real `pulumi preview`, where it cannot read the stack program's config). They must
stay in step, or a bucket the platform allowed would fail review for a reason nobody can see."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import FIXTURE_PROJECT, STACKS


def _stack(env: str) -> dict:
    document = yaml.safe_load((FIXTURE_PROJECT / "stacks" / f"Pulumi.{env}.yaml").read_text())
    return {k.removeprefix("arc-eks:"): v for k, v in document["config"].items()}


def _policy(env: str) -> dict:
    return json.loads((FIXTURE_PROJECT / "policies" / "config" / f"{env}.json").read_text())


@pytest.mark.parametrize("env", STACKS)
def test_every_bucket_the_stack_allows_is_allowed_by_the_policy_config(env: str) -> None:
    allowed = set(_policy(env)["aws-iam-irsa-no-wildcard-s3"]["allowedS3Buckets"])
    stack_buckets = {
        entry["bucket"]
        for team in _stack(env).get("teams", {}).values()
        for entry in (team or {}).get("s3Buckets", [])
    }
    assert stack_buckets <= allowed, (
        f"add {sorted(stack_buckets - allowed)} to policies/config/{env}.json"
    )


@pytest.mark.parametrize("env", STACKS)
def test_public_endpoint_cidrs_are_allowed_by_the_policy_config(env: str) -> None:
    rule = _policy(env)["aws-eks-cluster-endpoint-restricted"]
    cluster = _stack(env)["cluster"]
    if cluster.get("endpointPublicAccess", True):
        assert rule["allowPublicEndpoint"] is True
        assert set(cluster["publicAccessCidrs"]) <= set(rule["allowedPublicAccessCidrs"])


@pytest.mark.parametrize("env", STACKS)
def test_replica_cap_is_at_least_every_team_ceiling(env: str) -> None:
    cap = _policy(env)["arc-hra-max-replicas-cap"]["maxReplicas"]
    ceilings = [t.get("maxRunnersPerPool", 20) for t in _stack(env).get("teams", {}).values()]
    assert max(ceilings) <= cap
