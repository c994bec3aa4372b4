"""A small stack file and team files for the preflight/verify tests (never the shipped examples)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
import yaml
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator
from moto import mock_aws

REGION = "eu-west-1"
# moto's default account: resources a test creates belong to it.
ACCOUNT = "123456789012"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
KMS_PLACEHOLDER = "KMS_KEY_ARN"

STACK: dict[str, Any] = {
    "aws:region": REGION,
    "aws:allowedAccountIds": [ACCOUNT],
    "arc-eks:network": {
        "vpcCidr": "10.40.0.0/16",
        "availabilityZoneCount": 2,
        "natGateways": "perAz",
    },
    "arc-eks:cluster": {
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
        "adminRoleArns": [ADMIN_ROLE],
    },
    "arc-eks:nodeGroup": {
        "instanceType": "t3a.large",
        "minSize": 1,
        "desiredSize": 1,
        "maxSize": 4,
    },
    "arc-eks:runnerNodes": {"maxSize": 3},
    "arc-eks:github": {"auth": "pat"},
    "arc-eks:githubToken": {"secure": "v1:c2VjcmV0:AAAAAAAAAAAA"},
    "arc-eks:teams": {
        "blue": {
            "organizations": ["acme"],
            "s3Buckets": [
                {"bucket": "blue-cache"},
                {"bucket": "shared-artifacts"},
                {"bucket": "partner-drop", "accountId": "444455556666"},
            ],
        },
        "green": {"organizations": ["acme"], "s3Buckets": [{"bucket": "green-cache"}]},
    },
}

BLUE: dict[str, Any] = {
    "team": "blue",
    "pools": [
        {
            "name": "build",
            "scope": {"organization": "acme"},
            "labels": ["linux", "blue"],
            "docker": "dind",
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            },
            "autoscaling": {"min": 1, "max": 4},
            "environments": {"test": {}},
            "s3": [
                {
                    "bucket": "blue-cache",
                    "prefix": "blue/",
                    "access": "readwrite",
                    "kmsKeyArn": KMS_PLACEHOLDER,
                },
                {"bucket": "shared-artifacts", "access": "read"},
            ],
            "ecr": [{"repository": "blue/app", "access": "push"}],
        }
    ],
}

GREEN: dict[str, Any] = {
    "team": "green",
    "pools": [
        {
            "name": "ci",
            "scope": {"organization": "acme"},
            "labels": ["linux", "green"],
            "docker": "none",
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "2Gi"},
            },
            "autoscaling": {"min": 1, "max": 4},
            "environments": {"test": {}},
            "s3": [{"bucket": "green-cache", "access": "write"}],
        }
    ],
}


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return new if value == old else value


def write_project(
    root: Path,
    *,
    env: str = "test",
    kms_key_arn: str = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
    stack: dict[str, Any] | None = None,
    teams: dict[str, dict[str, Any]] | None = None,
) -> tuple[Path, Path]:
    """Write stacks/Pulumi.<env>.yaml and teams/*.yaml under `root`; return (stack file, teams dir).

    `stack` entries replace whole top-level keys (None removes one)."""
    config = copy.deepcopy(STACK)
    for key, value in (stack or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    stack_path = root / "stacks" / f"Pulumi.{env}.yaml"
    stack_path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    teams_dir = root / "teams"
    teams_dir.mkdir(exist_ok=True)
    for name, document in (teams if teams is not None else {"blue": BLUE, "green": GREEN}).items():
        text = yaml.safe_dump(_replace(document, KMS_PLACEHOLDER, kms_key_arn), sort_keys=False)
        (teams_dir / f"{name}.yaml").write_text(text)
    return stack_path, teams_dir


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process AWS, with test credentials and nothing from the caller's environment."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # moto's EC2 start-up loads a catalogue of public AMIs by default; none is needed here.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        yield


# botocore reads each service's model (EC2's is megabytes of JSON) once per session; the tests
# make many sessions, so they share one loader (production makes one session per run).
_LOADER = botocore.loaders.create_loader()


def aws_session(**credentials: str) -> boto3.Session:
    """A boto3 session in the stack's region, with the shared model loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=REGION, **credentials)


def answer(
    client: Any, operation: str, respond: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Answer `operation` on this (moto) client with `respond(api_params)`, shape-validated
    against the service model: for APIs moto lacks, while the client's other calls reach moto.
    (botocore's before-call hook, the mechanism its Stubber uses.)"""
    captured: dict[str, Any] = {}

    def capture(params: dict[str, Any], **_: Any) -> None:
        captured.clear()
        captured.update(params)

    def reply(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = respond(dict(captured))
        report = ParamValidator().validate(body, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        return AWSResponse("https://stub", 200, {}, None), {
            **body,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-parameter-build.{service}.{operation}", capture)
    client.meta.events.register(f"before-call.{service}.{operation}", reply)
