"""`make preflight`: the account checks against moto (STS, EC2, S3, KMS, ACM, ECR, IAM), and
botocore's Stubber with the documented response shapes where moto lacks the API (Service Quotas
for EC2, EKS DescribeClusterVersions / DescribeAddonVersions). No test calls AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from arc_eks.ops.checks import Aws, Report, Status
from arc_eks.ops.preflight import covers, main, run
from arc_eks.ops.stackfile import ADDON_PIN_FIELDS, addons
from arc_eks.versions import KUBERNETES_VERSION
from tests.ops_fixtures import (
    ACCOUNT,
    ADMIN_ROLE,
    REGION,
    account,
    answer,
    aws_session,
    write_project,
)

EBS = "aws-ebs-csi-driver"
__all__ = ["account"]  # the fixture, imported


def seed(*, buckets: dict[str, str] | None = None, repos: tuple[str, ...] = ("blue/app",)) -> str:
    """The account a correct stack expects; returns the KMS key ARN."""
    key = aws_session().client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    wanted = buckets or {"blue-cache": REGION, "shared-artifacts": REGION, "green-cache": REGION}
    for bucket, region in wanted.items():
        s3 = aws_session().client("s3", region_name=region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
    for repo in repos:
        aws_session().client("ecr", region_name=REGION).create_repository(repositoryName=repo)
    aws_session().client("iam").create_role(
        RoleName="platform-admin",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    return key


def quota(code: str, value: float, service: str = "ec2") -> dict[str, Any]:
    """GetServiceQuota / GetAWSDefaultServiceQuota response, as documented for the AWS CLI."""
    return {
        "Quota": {
            "ServiceCode": service,
            "QuotaArn": f"arn:aws:servicequotas:{REGION}::{service}/{code}",
            "QuotaCode": code,
            "QuotaName": code,
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }


def stub_quotas(aws: Aws, vcpus: float = 32.0, eips: float = 5.0, vpcs: float = 5.0) -> Stubber:
    """moto implements Service Quotas for `vpc` only: stub all three with real shapes (the
    vCPU quota as never changed, so the default is read)."""
    stubber = Stubber(aws.client("service-quotas"))
    stubber.add_client_error(
        "get_service_quota",
        service_error_code="NoSuchResourceException",
        expected_params={"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"},
    )
    stubber.add_response(
        "get_aws_default_service_quota",
        quota("L-1216C47A", vcpus),
        {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"},
    )
    stubber.add_response(
        "get_service_quota",
        quota("L-0263D0A3", eips),
        {"ServiceCode": "ec2", "QuotaCode": "L-0263D0A3"},
    )
    stubber.add_response(
        "get_service_quota",
        quota("L-F678F1CE", vpcs, "vpc"),
        {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"},
    )
    stubber.activate()
    return stubber


def addon_versions_response(name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    """DescribeAddonVersions, shape as in botocore's eks service model."""
    return {
        "addons": [
            {
                "addonName": name,
                "type": "networking",
                "addonVersions": [
                    {
                        "addonVersion": v,
                        "architecture": ["amd64", "arm64"],
                        "compatibilities": [
                            {
                                "clusterVersion": KUBERNETES_VERSION,
                                "platformVersions": ["*"],
                                "defaultVersion": i == 0,
                            }
                        ],
                        "requiresConfiguration": False,
                    }
                    for i, v in enumerate(versions)
                ],
                "publisher": "eks",
                "owner": "aws",
            }
        ]
    }


def stub_eks(
    aws: Aws,
    *,
    version_status: str = "STANDARD_SUPPORT",
    offered: dict[str, tuple[str, ...]] | None = None,
) -> Stubber:
    """EKS's version catalogue (moto lacks it). By default every pinned add-on version is offered
    (after a newer one), and EBS CSI (unpinned) has a default."""
    stubber = Stubber(aws.client("eks"))
    stubber.add_response(
        "describe_cluster_versions",
        {
            "clusterVersions": [
                {
                    "clusterVersion": KUBERNETES_VERSION,
                    "clusterType": "eks",
                    "defaultPlatformVersion": "eks.1",
                    "defaultVersion": False,
                    "status": version_status.lower().replace("_", "-"),
                    "versionStatus": version_status,
                    "kubernetesPatchVersion": f"{KUBERNETES_VERSION}.2",
                }
            ]
        },
        {"clusterVersions": [KUBERNETES_VERSION], "includeAll": True},
    )
    for name, pinned in addons(KUBERNETES_VERSION).items():
        default = ("v9.9.9-eksbuild.1", pinned) if pinned else ("v1.50.0-eksbuild.1",)
        listed = (offered or {}).get(name, default)
        stubber.add_response(
            "describe_addon_versions",
            addon_versions_response(name, listed),
            {"addonName": name, "kubernetesVersion": KUBERNETES_VERSION},
        )
    stubber.activate()
    return stubber


def admin_session() -> boto3.Session:
    """Credentials of a session of the stack's admin role (as an operator deploys)."""
    credentials = (
        aws_session()
        .client("sts")
        .assume_role(RoleArn=ADMIN_ROLE, RoleSessionName="alice")["Credentials"]
    )
    return aws_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def preflight(tmp_path: Path, aws: Aws | None = None, **project: Any) -> Report:
    stack_path, teams_dir = write_project(tmp_path, **project)
    aws = aws or Aws(REGION, admin_session())
    if not any(k.startswith("service-quotas@") for k in aws._clients):
        stub_quotas(aws)
    if not any(k.startswith("eks@") for k in aws._clients):
        stub_eks(aws)
    return run("test", stack_path=stack_path, teams_dir=teams_dir, aws=aws)


def lines(report: Report) -> dict[str, tuple[Status, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


def test_a_ready_account_passes_every_check(account: None, tmp_path: Path) -> None:
    key = seed()
    report = preflight(tmp_path, kms_key_arn=key)
    found = lines(report)
    assert report.exit_code() == 0, report.text()
    for name in (
        "config",
        "availability-zones",
        "identity",
        "quota/on-demand-standard-vcpus",
        "quota/elastic-ips",
        "quota/vpcs",
        "bucket/blue-cache",
        "bucket/shared-artifacts",
        "bucket/green-cache",
        f"kms-key/{key.rsplit('/', 1)[-1]}",
        "ecr/blue/app",
        f"eks-version/{KUBERNETES_VERSION}",
        *(f"eks-addon/{name}" for name in ADDON_PIN_FIELDS),
    ):
        assert found[name][0] is Status.OK, (name, found[name])
    # Every node group at its maximum, 2 vCPUs per t3a.large: the system group (maxSize 4) and
    # one runner group per isolation class the pools use (standard for green's pool, blue's own
    # privileged group for its dind pool), runnerNodes.maxSize 3 each: 8 + 6 + 6.
    for group in ("system", "standard", "privileged-blue"):
        assert found[f"instance-type/{group}/t3a.large"][0] is Status.OK
    assert found["quota/on-demand-standard-vcpus"][1].startswith("20 vCPUs needed")
    # perAz NAT over 2 zones.
    assert found["quota/elastic-ips"][1].startswith("2 Elastic IPs needed")
    assert found["availability-zones"][1].startswith(f"{REGION}a, {REGION}b")
    # Another account's bucket: said plainly what cannot be checked from here.
    status, detail = found["bucket/partner-drop"]
    assert status is Status.CANNOT_CHECK and "account 444455556666" in detail


def test_missing_or_misplaced_resources_fail(account: None, tmp_path: Path) -> None:
    key = seed(buckets={"blue-cache": REGION, "shared-artifacts": "us-east-1"}, repos=())
    aws_session().client("kms", region_name=REGION).disable_key(KeyId=key.rsplit("/", 1)[-1])
    report = preflight(tmp_path, kms_key_arn=key)
    found = lines(report)
    assert report.exit_code() == 1
    assert found["bucket/green-cache"][0] is Status.FAIL
    assert "NoSuchBucket" in found["bucket/green-cache"][1]
    assert found["bucket/shared-artifacts"] == (
        Status.FAIL,
        f"in us-east-1, not in the stack's region {REGION} (for the teams blue)",
    )
    assert found[f"kms-key/{key.rsplit('/', 1)[-1]}"][0] is Status.FAIL
    assert "Disabled" in found[f"kms-key/{key.rsplit('/', 1)[-1]}"][1]
    assert found["ecr/blue/app"][0] is Status.FAIL
    assert found["bucket/blue-cache"][0] is Status.OK


def test_kms_key_in_another_region_than_its_bucket_fails(account: None, tmp_path: Path) -> None:
    seed()
    other = "arn:aws:kms:us-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"
    found = lines(preflight(tmp_path, kms_key_arn=other))
    status, detail = found["kms-key/11111111-1111-1111-1111-111111111111"]
    assert status is Status.FAIL and "blue-cache needs a key in eu-west-1" in detail


def test_quotas_too_small_for_the_maximum_sizes_fail(account: None, tmp_path: Path) -> None:
    key = seed()
    aws = Aws(REGION, admin_session())
    # 4 vCPUs of other instances already running, 8 needed at max: a quota of 10 is short.
    aws_session().client("ec2", region_name=REGION).run_instances(
        ImageId="ami-12c6146b", MinCount=2, MaxCount=2, InstanceType="t3.medium"
    )
    stub_quotas(aws, vcpus=10.0, eips=1.0)
    found = lines(preflight(tmp_path, aws, kms_key_arn=key))
    status, detail = found["quota/on-demand-standard-vcpus"]
    assert status is Status.FAIL
    assert "20 vCPUs needed" in detail and "4 in use by others" in detail
    assert "L-1216C47A to at least 24" in detail
    status, detail = found["quota/elastic-ips"]
    assert status is Status.FAIL and "L-0263D0A3 to at least 2" in detail


def test_a_local_zone_the_program_would_pick_fails(account: None, tmp_path: Path) -> None:
    """Opted-in Local Zones are in the data source's list and sort first by name."""
    key = seed()
    aws = Aws(REGION, admin_session())

    def zones(params: dict[str, Any]) -> dict[str, Any]:
        def zone(name: str, kind: str, zone_id: str) -> dict[str, Any]:
            return {
                "ZoneName": name,
                "ZoneId": zone_id,
                "ZoneType": kind,
                "State": "available",
                "RegionName": REGION,
                "OptInStatus": "opted-in" if kind == "local-zone" else "opt-in-not-required",
                "GroupName": f"{REGION}-xyz-1" if kind == "local-zone" else REGION,
                "NetworkBorderGroup": REGION,
                "Messages": [],
            }

        assert params["Filters"] == [{"Name": "state", "Values": ["available"]}]
        return {
            "AvailabilityZones": [
                zone(f"{REGION}a", "availability-zone", "euw1-az1"),
                zone(f"{REGION}b", "availability-zone", "euw1-az2"),
                zone(f"{REGION}-xyz-1a", "local-zone", "euw1-xyz1-az1"),
            ]
        }

    answer(aws.client("ec2"), "DescribeAvailabilityZones", zones)
    found = lines(preflight(tmp_path, aws, kms_key_arn=key))
    status, detail = found["availability-zones"]
    assert status is Status.FAIL
    assert f"subnets in {REGION}-xyz-1a (local-zone" in detail


def test_the_clusters_own_nodes_are_not_counted_twice(account: None, tmp_path: Path) -> None:
    key = seed()
    aws_session().client("ec2", region_name=REGION).run_instances(
        ImageId="ami-12c6146b",
        MinCount=3,
        MaxCount=3,
        InstanceType="t3a.large",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "eks:cluster-name", "Value": "arc-eks-test"}],
            }
        ],
    )
    found = lines(preflight(tmp_path, kms_key_arn=key))
    assert "0 in use by others" in found["quota/on-demand-standard-vcpus"][1]


def test_access_denied_is_cannot_check_naming_the_permission(account: None, tmp_path: Path) -> None:
    key = seed()
    aws = Aws(REGION, admin_session())
    s3 = Stubber(aws.client("s3"))
    for _ in range(3):
        s3.add_client_error(
            "get_bucket_location", service_error_code="AccessDenied", http_status_code=403
        )
    s3.activate()
    report = preflight(tmp_path, aws, kms_key_arn=key)
    found = {r.name: r for r in report.results}
    denied = found["bucket/blue-cache"]
    assert denied.status is Status.CANNOT_CHECK
    assert denied.permission == "s3:GetBucketLocation"
    assert "(needs s3:GetBucketLocation)" in denied.render()
    assert report.exit_code() == 0


def test_deploying_as_an_admin_role_session(account: None, tmp_path: Path) -> None:
    key = seed()
    found = lines(preflight(tmp_path, kms_key_arn=key))
    status, detail = found["identity"]
    assert status is Status.OK
    assert "session of arn:aws:iam::123456789012:role/platform-admin" in detail


def test_deploying_as_an_iam_user_fails(account: None, tmp_path: Path) -> None:
    """moto's default credentials are the IAM user `moto`: not a role, so no access entry."""
    key = seed()
    found = lines(preflight(tmp_path, Aws(REGION, aws_session()), kms_key_arn=key))
    status, detail = found["identity"]
    assert status is Status.FAIL and "user/moto (not a role)" in detail


def test_deploying_as_a_role_that_is_not_an_admin_fails(account: None, tmp_path: Path) -> None:
    key = seed()
    cluster = {
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
        "adminRoleArns": ["arn:aws:iam::123456789012:role/someone-else"],
    }
    found = lines(preflight(tmp_path, kms_key_arn=key, stack={"arc-eks:cluster": cluster}))
    status, detail = found["identity"]
    assert status is Status.FAIL
    assert "role 'platform-admin' of account 123456789012" in detail


def test_existing_vpc_subnets_must_belong_and_carry_the_load_balancer_tags(
    account: None, tmp_path: Path
) -> None:
    key = seed()
    ec2 = aws_session().client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]

    def subnet(vpc_id: str, cidr: str, zone: str, tags: dict[str, str]) -> str:
        spec = [
            {"ResourceType": "subnet", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
        created = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=spec
        )
        return str(created["Subnet"]["SubnetId"])

    internal = {"kubernetes.io/role/internal-elb": "1"}
    good_a = subnet(vpc, "10.1.1.0/24", f"{REGION}a", internal)
    untagged_b = subnet(vpc, "10.1.2.0/24", f"{REGION}b", {"Name": "b"})
    foreign = subnet(other, "10.2.1.0/24", f"{REGION}c", {"kubernetes.io/role/elb": "1"})
    network = {
        "existingVpc": {
            "vpcId": vpc,
            "privateSubnetIds": [good_a, untagged_b],
            "publicSubnetIds": [foreign],
        }
    }
    found = lines(preflight(tmp_path, kms_key_arn=key, stack={"arc-eks:network": network}))
    status, detail = found[f"existing-vpc/{vpc}"]
    assert status is Status.FAIL
    assert f"private subnet {untagged_b} lacks the tag kubernetes.io/role/internal-elb=1" in detail
    assert f"public subnet {foreign} is in {other}" in detail
    assert good_a not in detail
    # No VPC or Elastic IP is created with an existing VPC.
    assert found["quota/elastic-ips"][0] is Status.OK
    assert found["availability-zones"][1].endswith(f"{REGION}a, {REGION}b")


def _webhook_stack(
    certificate_arn: str, host: str = "hooks.example.com", zone: str | None = None
) -> dict[str, Any]:
    controller = {
        "webhookServer": True,
        "webhookAllowedCidrs": ["192.30.252.0/22"],
        "webhookCertificateArn": certificate_arn,
        "webhookHostname": host,
    }
    if zone:
        controller["webhookHostedZoneId"] = zone
    return {
        "arc-eks:controller": controller,
        "arc-eks:githubWebhookSecret": {"secure": "v1:c2VjcmV0:AAAAAAAAAAAA"},
    }


def self_signed(*names: str) -> tuple[bytes, bytes]:
    """A certificate (and key) for `names`, valid for a year, to import into ACM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), pem_key


def test_webhook_certificate_must_be_issued(account: None, tmp_path: Path) -> None:
    key = seed()
    pending = (
        aws_session()
        .client("acm", region_name=REGION)
        .request_certificate(DomainName="hooks.example.com")["CertificateArn"]
    )
    found = lines(preflight(tmp_path, kms_key_arn=key, stack=_webhook_stack(pending)))
    status, detail = found["webhook-certificate"]
    assert status is Status.FAIL and "not ISSUED" in detail and "hooks.example.com" in detail


def test_webhook_certificate_must_cover_the_webhook_hostname(account: None, tmp_path: Path) -> None:
    key = seed()
    certificate, private_key = self_signed("*.example.com")
    arn = (
        aws_session()
        .client("acm", region_name=REGION)
        .import_certificate(Certificate=certificate, PrivateKey=private_key)["CertificateArn"]
    )
    found = lines(preflight(tmp_path / "ok", kms_key_arn=key, stack=_webhook_stack(arn)))
    assert found["webhook-certificate"] == (Status.OK, "ISSUED, covers hooks.example.com")
    other = _webhook_stack(arn, host="hooks.example.org")
    found = lines(preflight(tmp_path / "other", kms_key_arn=key, stack=other))
    assert found["webhook-certificate"] == (
        Status.FAIL,
        "covers *.example.com, not hooks.example.org",
    )


def _zone(name: str, private: bool) -> dict[str, Any]:
    """Route 53 GetHostedZone, shape as in botocore's route53 model."""
    return {
        "HostedZone": {
            "Id": "/hostedzone/Z0123456789ABCDEFGHIJ",
            "Name": name,
            "CallerReference": "arc-eks",
            "Config": {"PrivateZone": private},
            "ResourceRecordSetCount": 2,
        },
        "DelegationSet": {"NameServers": ["ns-1.awsdns-01.org"]},
    }


@pytest.mark.parametrize(
    ("zone_name", "private", "expected"),
    [
        ("example.com.", False, (Status.OK, "public zone example.com holds hooks.example.com")),
        ("example.org.", False, (Status.FAIL, "hooks.example.com is not in the zone example.org")),
        (
            "example.com.",
            True,
            (Status.FAIL, "example.com is a private zone: GitHub cannot resolve hooks.example.com"),
        ),
    ],
)
def test_webhook_hosted_zone_must_be_public_and_hold_the_hostname(
    account: None, tmp_path: Path, zone_name: str, private: bool, expected: tuple[Status, str]
) -> None:
    key = seed()
    certificate, private_key = self_signed("hooks.example.com")
    arn = (
        aws_session()
        .client("acm", region_name=REGION)
        .import_certificate(Certificate=certificate, PrivateKey=private_key)["CertificateArn"]
    )
    aws = Aws(REGION, admin_session())
    route53 = Stubber(aws.client("route53"))
    route53.add_response(
        "get_hosted_zone", _zone(zone_name, private), {"Id": "Z0123456789ABCDEFGHIJ"}
    )
    route53.activate()
    stack = _webhook_stack(arn, zone="Z0123456789ABCDEFGHIJ")
    found = lines(preflight(tmp_path, aws, kms_key_arn=key, stack=stack))
    assert found["webhook-zone/Z0123456789ABCDEFGHIJ"] == expected


def test_certificate_name_matching() -> None:
    assert covers("hooks.example.com", "hooks.example.com")
    assert covers("*.example.com", "hooks.example.com")
    assert not covers("*.example.com", "a.hooks.example.com")
    assert not covers("*.example.com", "example.com")
    assert not covers("hooks.example.com", "hooks.example.org")


def test_kubernetes_and_addon_versions_must_be_offered(account: None, tmp_path: Path) -> None:
    key = seed()
    aws = Aws(REGION, admin_session())
    stub_eks(
        aws,
        version_status="UNSUPPORTED",
        offered={"coredns": ("v1.0.0-eksbuild.1",), EBS: ()},
    )
    found = lines(preflight(tmp_path, aws, kms_key_arn=key))
    assert found[f"eks-version/{KUBERNETES_VERSION}"][0] is Status.FAIL
    pinned = addons(KUBERNETES_VERSION)["coredns"]
    assert found["eks-addon/coredns"] == (
        Status.FAIL,
        f"pinned {pinned} is not offered for Kubernetes {KUBERNETES_VERSION} (offered: "
        "v1.0.0-eksbuild.1)",
    )
    assert found["eks-addon/vpc-cni"][0] is Status.OK
    assert found[f"eks-addon/{EBS}"] == (
        Status.FAIL,
        f"no version offered for Kubernetes {KUBERNETES_VERSION}",
    )


def test_every_minor_pin_is_an_addon_or_a_cluster_autoscaler_pin() -> None:
    """A new add-on pin in versions.MinorPins is checked by preflight and verify only when
    ADDON_PIN_FIELDS names it: fail until it does."""
    import dataclasses

    from arc_eks.versions import MinorPins

    fields = {f.name for f in dataclasses.fields(MinorPins)}
    autoscaler = {f for f in fields if f.startswith("cluster_autoscaler_")}
    assert fields - autoscaler == set(ADDON_PIN_FIELDS.values())


def test_invalid_config_stops_before_any_aws_call(tmp_path: Path) -> None:
    """No moto here: an AWS call would fail the test (Stubber without responses raises)."""
    aws = Aws(REGION, aws_session(aws_access_key_id="x", aws_secret_access_key="x"))
    Stubber(aws.client("sts")).activate()
    stack_path, teams_dir = write_project(
        tmp_path, stack={"arc-eks:githubToken": None, "aws:region": None}
    )
    report = run("test", stack_path=stack_path, teams_dir=teams_dir, aws=aws)
    assert report.exit_code() == 1
    details = [r.detail for r in report.results]
    assert len(details) == 2
    assert any(d.startswith("aws:region: got (missing)") for d in details)
    assert any("pulumi config set --secret --stack test arc-eks:githubToken" in d for d in details)


def test_a_missing_secret_fails_but_the_account_is_still_checked(
    account: None, tmp_path: Path
) -> None:
    key = seed()
    report = preflight(tmp_path, kms_key_arn=key, stack={"arc-eks:githubToken": None})
    found = lines(report)
    assert report.exit_code() == 1
    assert found["config/Pulumi.test.yaml"][0] is Status.FAIL
    assert "config" not in found
    assert found["bucket/blue-cache"][0] is Status.OK


def test_cli_json_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack_path, teams_dir = write_project(tmp_path)
    argv = ["--stack", "test", "--stack-file", str(stack_path), "--teams-dir", str(teams_dir)]
    assert main([*argv, "--config-only", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["failed"] is False
    assert document["checks"][0]["name"] == "config"
    assert document["checks"][0]["status"] == "ok"
    stack_path.write_text(stack_path.read_text().replace("t3a.large", "m5.large"))
    assert main([*argv, "--config-only"]) == 1
    assert (
        "fail         config/Pulumi.test.yaml: arc-eks:nodeGroup.instanceType"
        in capsys.readouterr().out
    )
