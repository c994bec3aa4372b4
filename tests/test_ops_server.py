"""The commands as an operator runs them, against a local moto server through AWS_ENDPOINT_URL
(no account, no network beyond 127.0.0.1; every subprocess has a deadline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.ops_fixtures import REGION, write_project

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run_command(endpoint: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )


def test_preflight_against_a_local_moto_server(endpoint: str, tmp_path: Path) -> None:
    key = client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    for bucket in ("blue-cache", "green-cache"):  # shared-artifacts is missing
        client(endpoint, "s3").create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    client(endpoint, "ecr").create_repository(repositoryName="blue/app")
    stack_path, teams_dir = write_project(tmp_path, kms_key_arn=key)
    result = run_command(
        endpoint,
        tmp_path,
        "-m",
        "arc_eks.ops.preflight",
        "--stack",
        "test",
        "--stack-file",
        str(stack_path),
        "--teams-dir",
        str(teams_dir),
        "--json",
    )
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert result.returncode == 1 and report["failed"] is True
    # What moto implements is checked for real through the endpoint...
    assert status["identity"] == "fail"  # moto's caller is the IAM user `moto`, not an admin role
    for name in (
        "availability-zones",
        "instance-type/system/t3a.large",
        "quota/vpcs",
        "bucket/blue-cache",
        "ecr/blue/app",
        f"kms-key/{key.rsplit('/', 1)[-1]}",
    ):
        assert status[name] in ("ok", "warn"), (name, report)
    assert status["bucket/shared-artifacts"] == "fail"
    # ...and what it lacks (EC2 quotas, EKS version catalogue) is a short line, not a page of HTML.
    details = {c["name"]: c["detail"] for c in report["checks"]}
    assert "<html" not in json.dumps(details)
    assert "eks:DescribeClusterVersions" in next(
        d for n, d in details.items() if n.startswith("eks-version/")
    )


def test_verify_against_a_local_moto_server(endpoint: str, tmp_path: Path) -> None:
    """The AWS part of verify through AWS_ENDPOINT_URL, outputs from a file; moto lacks
    eks:DescribeAddon and iam:SimulatePrincipalPolicy, which then show as short failing lines."""
    eks, iam = client(endpoint, "eks"), client(endpoint, "iam")
    role = iam.create_role(RoleName="verify-cluster", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.create_cluster(
        name="arc-eks-test",
        version="1.35",
        roleArn=role,
        resourcesVpcConfig={
            "subnetIds": ["subnet-0a", "subnet-0b"],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
        },
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:x"}}],
    )
    stack_path, teams_dir = write_project(tmp_path)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"clusterName": "arc-eks-test", "runnerPools": {}}))
    result = run_command(
        endpoint,
        tmp_path,
        "-m",
        "arc_eks.ops.verify",
        "--stack",
        "test",
        "--stack-file",
        str(stack_path),
        "--teams-dir",
        str(teams_dir),
        "--outputs",
        str(outputs),
        "--no-cluster",
        "--json",
    )
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert result.returncode == 1
    assert status["cluster/arc-eks-test"] == "ok"
    assert status["cluster/version"] == "ok"
    assert status["cluster/endpoint"] == "ok"
    # moto's default logging is off for every type, as a cluster created without logging.
    assert status["cluster/logging"] == "fail"
    assert status["node-group/system"] == "fail"  # none created here
    assert status["pool-role/blue-build"] == "fail"  # not in the outputs: not deployed
    assert "eks:DescribeAddon" in next(
        c["detail"] for c in report["checks"] if c["name"] == "addon/coredns"
    )
    assert "<html" not in result.stdout
