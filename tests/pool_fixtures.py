"""Shared test data for the runner-pool tests: a stack config, team files, fake cluster handles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from arc_eks.builders.registry import UPSTREAMS, ImageCachePlan
from arc_eks.components.handles import ClusterHandles
from arc_eks.config.stack import PIN_REGISTRIES, StackConfig
from arc_eks.review.offline import FAKE_ACCOUNT, FAKE_OIDC_ID, FAKE_REGION

PROJECT_DIR = Path(__file__).resolve().parents[1]
TEAMS_DIR = PROJECT_DIR / "tests" / "fixtures" / "project" / "teams"
EXAMPLE_ECR = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
ISSUER = f"oidc.eks.{FAKE_REGION}.amazonaws.com/id/{FAKE_OIDC_ID}"

ALLOWLIST: dict[str, Any] = {
    "payments": {
        "organizations": ["acme"],
        "s3Buckets": [{"bucket": "acme-build-cache"}, {"bucket": "acme-artifacts"}],
    },
    "data-platform": {
        "organizations": ["acme"],
        "runnerGroups": ["data-platform"],
        "s3Buckets": [
            {"bucket": "acme-ml-datasets"},
            {"bucket": "partner-exchange", "accountId": "444455556666"},
        ],
        "maxRunnersPerPool": 10,
    },
    "web": {"organizations": ["acme"]},
}


def stack_config(env: str = "dev", **overrides: Any) -> StackConfig:
    raw: dict[str, Any] = {
        "environment": env,
        "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
        "teams": ALLOWLIST,
        # The shipped stacks allow their account's ECR through aws:allowedAccountIds.
        "images": {"allowedRegistries": [*PIN_REGISTRIES, EXAMPLE_ECR]},
    }
    raw.update(overrides)
    return StackConfig.model_validate(raw)


def cache_plan(*upstreams: str, **fields: Any) -> ImageCachePlan:
    """A pull-through cache plan for `upstreams` in an account, region and prefix that no stack
    uses, so a value hard-coded in a builder does not pass."""
    plan: dict[str, Any] = {
        "account_id": "210987654321",
        "region": "us-east-2",
        "prefix": "ci",
        "upstreams": tuple(UPSTREAMS[name] for name in upstreams),
        "usernames": {},
    }
    return ImageCachePlan(**{**plan, **fields})


def write_team(directory: Path, team: str, document: dict[str, Any]) -> Path:
    path = directory / f"{team}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def example_team(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((TEAMS_DIR / f"{name}.yaml").read_text())
    return loaded


def fake_cluster() -> ClusterHandles:
    """ClusterHandles as the platform components would hand them over (call inside a program)."""
    return ClusterHandles(
        cluster_name="arc-eks-dev",
        oidc_provider_arn=pulumi.Output.from_input(
            f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/{ISSUER}"
        ),
        oidc_issuer=pulumi.Output.from_input(ISSUER),
        k8s_provider=k8s.Provider("k8s", kubeconfig="{}"),
        region=pulumi.Output.from_input(FAKE_REGION),
        account_id=pulumi.Output.from_input(FAKE_ACCOUNT),
    )
