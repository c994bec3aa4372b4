"""The stack model, rule by rule: each refusal refuses, and the value at its boundary is accepted.

Validates `StackConfig` directly (no stack file, no Pulumi). A refusal is asserted by its key path
and a fragment that carries its meaning, not by the whole wording.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from arc_eks.config.stack import StackConfig, narrow_ipv4_cidrs
from arc_eks.versions import KUBERNETES_VERSION

CIDR = "203.0.113.0/24"


def stack(**sections: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"environment": "dev", "cluster": {"publicAccessCidrs": [CIDR]}}
    raw.update(sections)
    return raw


def problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        StackConfig.model_validate(raw)
    except ValidationError as exc:
        return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
    return []


def refused(raw: dict[str, Any], path: str, fragment: str = "") -> None:
    found = problems(raw)
    assert any(p == path and fragment in m for p, m in found), (path, fragment, found)


def accepted(raw: dict[str, Any]) -> StackConfig:
    assert problems(raw) == []
    return StackConfig.model_validate(raw)


# --- CIDR allowlists ----------------------------------------------------------------------------


def test_narrow_ipv4_cidrs() -> None:
    assert narrow_ipv4_cidrs([CIDR, "10.0.0.0/9", "198.51.100.7/32"]) == [
        CIDR,
        "10.0.0.0/9",
        "198.51.100.7/32",
    ]
    for bad, fragment in (
        ("0.0.0.0/0", "whole internet"),
        ("0.0.0.0/1", "more than a /8"),
        ("10.0.0.1/24", "IPv4 CIDRs"),
        ("2001:db8::/32", "IPv4 CIDRs"),
        ("anywhere", "IPv4 CIDRs"),
    ):
        with pytest.raises(ValueError, match=fragment):
            narrow_ipv4_cidrs([CIDR, bad])


def test_cidr_allowlists_are_compared_as_address_space() -> None:
    # Two halves of the internet are the whole internet, though neither is a /0.
    with pytest.raises(ValueError, match="whole internet"):
        narrow_ipv4_cidrs(["0.0.0.0/1", "128.0.0.0/1"])
    # Many small ranges that add up past a /8 are refused too; exactly a /8 is accepted.
    with pytest.raises(ValueError, match="more than a /8"):
        narrow_ipv4_cidrs(["10.0.0.0/8", "11.0.0.0/32"])
    halves = ["10.0.0.0/9", "10.128.0.0/9"]
    assert narrow_ipv4_cidrs(halves) == halves


def test_public_endpoint_cidrs() -> None:
    refused(stack(cluster={"publicAccessCidrs": [CIDR, "0.0.0.0/0"]}), "cluster.publicAccessCidrs")
    refused(stack(cluster={}), "cluster", "publicAccessCidrs")
    refused(
        stack(cluster={"endpointPublicAccess": False, "publicAccessCidrs": [CIDR]}),
        "cluster",
        "publicAccessCidrs",
    )
    config = accepted(stack(cluster={"endpointPublicAccess": False}))
    assert config.cluster.endpoint_public_access is False


# --- network ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "10.8.0.0/22", "172.16.0.0/20"])
def test_vpc_cidr_accepted(cidr: str) -> None:
    assert accepted(stack(network={"vpcCidr": cidr})).network.vpc_cidr == cidr


@pytest.mark.parametrize("cidr", ["10.0.0.0/15", "10.0.0.0/23", "10.0.0.1/16", "10.0.0.0/33", "x"])
def test_vpc_cidr_refused(cidr: str) -> None:
    found = problems(stack(network={"vpcCidr": cidr}))
    assert [p for p, _ in found] == ["network.vpcCidr"]
    assert ("/16 and /22" in found[0][1]) is cidr.endswith(("/15", "/23"))


EXISTING = {
    "vpcId": "vpc-0123abcd",
    "privateSubnetIds": ["subnet-0123abcd", "subnet-0123456789abcdef0"],
}


def test_existing_vpc_alone_and_with_new_vpc_settings() -> None:
    config = accepted(stack(network={"existingVpc": EXISTING}))
    assert config.network.existing_vpc is not None
    for key, value in (
        ("vpcCidr", "10.0.0.0/16"),
        ("availabilityZoneCount", 2),
        ("natGateways", "single"),
    ):
        refused(stack(network={"existingVpc": EXISTING, key: value}), "network", "existingVpc")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("vpcId", "vpc-0123abc"),
        ("vpcId", "vpc-0123456789abcdef01"),
        ("vpcId", "vpc-0123ABCD"),
        ("vpcId", "xvpc-0123abcd"),
        ("vpcId", "vpc-0123abcdz"),
        ("privateSubnetIds", ["subnet-0123abcd"]),
        ("privateSubnetIds", ["subnet-0123abcd", "subnet-0123abc"]),
        ("privateSubnetIds", ["subnet-0123abcd", "xsubnet-0123abcd"]),
        ("privateSubnetIds", ["subnet-0123abcd", "subnet-0123abcdz"]),
        ("publicSubnetIds", ["subnet-0123456789abcdef01"]),
    ],
)
def test_existing_vpc_ids(key: str, value: Any) -> None:
    found = problems(stack(network={"existingVpc": {**EXISTING, key: value}}))
    assert any(p.startswith(f"network.existingVpc.{key}") for p, _ in found), found


def test_existing_vpc_id_boundaries() -> None:
    ids = {"vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": ["subnet-0123456789abcdef0"]}
    accepted(stack(network={"existingVpc": {**EXISTING, **ids}}))


def test_network_choices() -> None:
    accepted(stack(network={"availabilityZoneCount": 3, "natGateways": "perAz"}))
    refused(stack(network={"availabilityZoneCount": 4}), "network.availabilityZoneCount")
    refused(stack(network={"natGateways": "none"}), "network.natGateways")


# --- cluster, node group ------------------------------------------------------------------------


def test_kubernetes_version_is_the_pinned_one() -> None:
    accepted(stack(cluster={"publicAccessCidrs": [CIDR], "kubernetesVersion": KUBERNETES_VERSION}))
    refused(
        stack(cluster={"publicAccessCidrs": [CIDR], "kubernetesVersion": "1.20"}),
        "cluster.kubernetesVersion",
        KUBERNETES_VERSION,
    )


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        ("arn:aws:iam::123456789012:role/platform/admins", True),
        ("arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f-g_h", True),
        ("arn:aws:iam::123456789012:user/alice", False),
        ("arn:aws:iam::12345678901:role/admins", False),
        ("xarn:aws:iam::123456789012:role/admins", False),
        ("arn:aws:iam::123456789012:role/admins x", False),
    ],
)
def test_admin_role_arns(arn: str, ok: bool) -> None:
    raw = stack(cluster={"publicAccessCidrs": [CIDR], "adminRoleArns": [arn]})
    if ok:
        assert accepted(raw).cluster.admin_role_arns == [arn]
    else:
        refused(raw, "cluster.adminRoleArns.0")


@pytest.mark.parametrize(("days", "ok"), [(7, True), (30, True), (6, False), (31, False)])
def test_kms_deletion_window(days: int, ok: bool) -> None:
    raw = stack(cluster={"publicAccessCidrs": [CIDR], "kmsKeyDeletionWindowDays": days})
    if ok:
        assert accepted(raw).cluster.kms_key_deletion_window_days == days
    else:
        refused(raw, "cluster.kmsKeyDeletionWindowDays")


def test_node_group_instance_type() -> None:
    assert (
        accepted(stack(nodeGroup={"instanceType": "t3a.large"})).node_group.instance_type
        == "t3a.large"
    )
    refused(stack(nodeGroup={"instanceType": "m5.large"}), "nodeGroup.instanceType", "t3a.large")


@pytest.mark.parametrize(
    ("key", "ok", "bad"),
    [
        ("minSize", [1], [0, 101]),
        ("desiredSize", [1, 100], [0, 101]),
        ("maxSize", [100], [0, 101]),
        ("rootVolumeGib", [20, 1000], [19, 1001]),
    ],
)
def test_node_group_bounds(key: str, ok: list[int], bad: list[int]) -> None:
    base = {"minSize": 1, "desiredSize": 1, "maxSize": 100}
    for value in ok:
        sizes = {**base, key: value}
        if key == "desiredSize":
            sizes["minSize"] = 1
        accepted(stack(nodeGroup=sizes))
    for value in bad:
        refused(stack(nodeGroup={**base, key: value}), f"nodeGroup.{key}")


@pytest.mark.parametrize(
    ("sizes", "ok"),
    [
        ((2, 2, 2), True),
        ((1, 2, 3), True),
        ((3, 2, 4), False),
        ((1, 5, 4), False),
        ((5, 5, 4), False),
    ],
)
def test_node_group_size_order(sizes: tuple[int, int, int], ok: bool) -> None:
    raw = stack(nodeGroup=dict(zip(("minSize", "desiredSize", "maxSize"), sizes, strict=True)))
    if ok:
        accepted(raw)
    else:
        refused(raw, "nodeGroup", "minSize <= desiredSize <= maxSize")


# --- GitHub, controller -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("github", "ok"),
    [
        ({}, True),
        ({"auth": "pat"}, True),
        ({"auth": "app", "appId": "1", "installationId": "22"}, True),
        ({"auth": "app"}, False),
        ({"auth": "app", "appId": "1"}, False),
        ({"auth": "app", "installationId": "22"}, False),
        ({"auth": "pat", "appId": "1"}, False),
        ({"auth": "pat", "installationId": "22"}, False),
        ({"auth": "oauth"}, False),
    ],
)
def test_github_auth(github: dict[str, Any], ok: bool) -> None:
    found = problems(stack(github=github))
    assert (found == []) is ok, found
    if not ok:
        assert found[0][0].startswith("github")


@pytest.mark.parametrize("value", ["12a", "a12", "", "1.5"])
def test_github_app_ids_are_numbers(value: str) -> None:
    refused(stack(github={"auth": "app", "appId": value, "installationId": "2"}), "github.appId")
    refused(
        stack(github={"auth": "app", "appId": "1", "installationId": value}),
        "github.installationId",
    )


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://github.example.com", True),
        ("https://github.example.com:8443/", True),
        ("http://github.example.com", False),
        ("https://github.example.com/api/v3", False),
        ("xhttps://github.example.com", False),
        ("https://", False),
    ],
)
def test_github_enterprise_url(url: str, ok: bool) -> None:
    raw = stack(github={"enterpriseUrl": url})
    if ok:
        assert accepted(raw).github.enterprise_url == url
    else:
        refused(raw, "github.enterpriseUrl")


def test_controller_replicas_and_sync_period() -> None:
    for replicas in (1, 5):
        accepted(stack(controller={"replicas": replicas}))
    for replicas in (0, 6):
        refused(stack(controller={"replicas": replicas}), "controller.replicas")
    for period in ("30s", "1m", "2h"):
        accepted(stack(controller={"syncPeriod": period}))
    for period in ("1", "1d", "x1m", "1mx", "m"):
        refused(stack(controller={"syncPeriod": period}), "controller.syncPeriod")


CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_webhook_server_exposure() -> None:
    config = accepted(
        stack(
            controller={
                "webhookServer": True,
                "webhookAllowedCidrs": [CIDR],
                "webhookCertificateArn": CERT,
                "webhookHostname": "hooks.example.com",
            }
        )
    )
    assert config.controller.webhook_certificate_arn == CERT
    refused(stack(controller={"webhookServer": True}), "controller", "webhookAllowedCidrs")
    refused(stack(controller={"webhookAllowedCidrs": [CIDR]}), "controller", "webhookServer")
    refused(stack(controller={"webhookCertificateArn": CERT}), "controller", "webhookServer")
    refused(
        stack(controller={"webhookServer": True, "webhookAllowedCidrs": [CIDR, "0.0.0.0/0"]}),
        "controller.webhookAllowedCidrs",
        "whole internet",
    )
    for cert in (
        "arn:aws:acm:eu-west-1:123456789012:certificate/XYZ",
        "xarn:aws:acm:eu-west-1:123456789012:certificate/0a1b",
        CERT + "/x",
    ):
        refused(
            stack(
                controller={
                    "webhookServer": True,
                    "webhookAllowedCidrs": [CIDR],
                    "webhookCertificateArn": cert,
                    "webhookHostname": "hooks.example.com",
                }
            ),
            "controller.webhookCertificateArn",
        )


# --- teams and names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "ok"),
    [
        ("abc", True),
        ("a.b-c" + "d" * 58, True),
        ("ab", False),
        ("a" * 64, False),
        ("Abc", False),
        ("-abc", False),
        ("abc-", False),
        ("ab_c", False),
    ],
)
def test_bucket_names(bucket: str, ok: bool) -> None:
    raw = stack(teams={"payments": {"s3Buckets": [{"bucket": bucket}]}})
    if ok:
        assert accepted(raw).teams["payments"].s3_buckets[0].bucket == bucket
    else:
        refused(raw, "teams.payments.s3Buckets.0.bucket")


@pytest.mark.parametrize(
    ("account", "ok"),
    [
        ("123456789012", True),
        ("12345678901", False),
        ("1234567890123", False),
        ("12345678901x", False),
    ],
)
def test_bucket_owner_account(account: str, ok: bool) -> None:
    raw = stack(teams={"payments": {"s3Buckets": [{"bucket": "acme-logs", "accountId": account}]}})
    if ok:
        assert accepted(raw).teams["payments"].s3_buckets[0].account_id == account
    else:
        refused(raw, "teams.payments.s3Buckets.0.accountId")


def test_team_runner_ceiling() -> None:
    assert accepted(stack(teams={"payments": {}})).teams["payments"].max_runners_per_pool == 20
    for value in (1, 500):
        accepted(stack(teams={"payments": {"maxRunnersPerPool": value}}))
    for value in (0, 501):
        refused(
            stack(teams={"payments": {"maxRunnersPerPool": value}}),
            "teams.payments.maxRunnersPerPool",
        )


@pytest.mark.parametrize(
    ("team", "ok"),
    [
        ("web", True),
        ("a" * 32, True),
        ("ab", False),
        ("a" * 33, False),
        ("web-", False),
        ("1web", False),
        ("Web", False),
    ],
)
def test_team_names(team: str, ok: bool) -> None:
    found = problems(stack(teams={team: {}}))
    assert (found == []) is ok, found
    if not ok:
        assert found[0][0].startswith(f"teams.{team}")


@pytest.mark.parametrize(
    ("env", "ok"),
    [
        ("dev", True),
        ("d1", True),
        ("e" * 16, True),
        ("d", False),
        ("e" * 17, False),
        ("Dev", False),
        ("1dev", False),
        ("dev!", False),
    ],
)
def test_environment_names(env: str, ok: bool) -> None:
    found = problems(stack(environment=env))
    assert (found == []) is ok, found
    if not ok:
        assert [p for p, _ in found] == ["environment"]


def test_defaults_are_what_the_docs_promise() -> None:
    config = accepted(stack())
    dumped = config.model_dump()
    assert dumped["network"] == {
        "vpc_cidr": "10.0.0.0/16",
        "availability_zone_count": 2,
        "nat_gateways": "single",
        "existing_vpc": None,
    }
    assert dumped["cluster"] == {
        "kubernetes_version": KUBERNETES_VERSION,
        "endpoint_public_access": True,
        "public_access_cidrs": [CIDR],
        "admin_role_arns": [],
        "protect": False,
        "kms_key_deletion_window_days": 30,
    }
    assert dumped["node_group"] == {
        "instance_type": "t3a.large",
        "min_size": 2,
        "desired_size": 2,
        "max_size": 6,
        "root_volume_gib": 50,
        "labels": {},
    }
    assert dumped["github"] == {
        "auth": "pat",
        "app_id": None,
        "installation_id": None,
        "enterprise_url": None,
        "enterprise_ca_certificate": None,
    }
    assert dumped["scale_sets"] == {"default_mode": "runnerDeployment", "controller_replicas": 2}
    assert dumped["controller"] == {
        "replicas": 2,
        "sync_period": "1m",
        "service_monitor": False,
        "log_format": "json",
        "webhook_server": False,
        "webhook_allowed_cidrs": [],
        "webhook_certificate_arn": None,
        "webhook_hostname": None,
        "webhook_hosted_zone_id": None,
    }
    assert dumped["teams"] == {} and dumped["tags"] == {}
    existing = accepted(stack(network={"existingVpc": EXISTING})).network.existing_vpc
    assert existing is not None and existing.public_subnet_ids == []
    allowance = accepted(stack(teams={"web": {"s3Buckets": [{"bucket": "acme-logs"}]}})).teams[
        "web"
    ]
    assert allowance.s3_buckets[0].account_id is None


WEBHOOK = {
    "webhookServer": True,
    "webhookAllowedCidrs": [CIDR],
    "webhookCertificateArn": CERT,
    "webhookHostname": "hooks.example.com",
}


@pytest.mark.parametrize(
    ("hostname", "ok"),
    [
        ("hooks.example.com", True),
        ("a.io", True),
        (("a" * 63 + ".") * 3 + "b" * 58 + ".io", True),  # 253 characters
        (("a" * 63 + ".") * 3 + "b" * 59 + ".io", False),  # 254
        ("a" * 64 + ".example.com", False),
        ("hooks", False),
        ("-hooks.example.com", False),
        ("hooks-.example.com", False),
        ("hooks.example.c", False),
        ("Hooks.example.com", False),
        ("hooks.example.com.", False),
        ("https://hooks.example.com", False),
    ],
)
def test_webhook_hostname(hostname: str, ok: bool) -> None:
    raw = stack(controller={**WEBHOOK, "webhookHostname": hostname})
    if ok:
        assert accepted(raw).controller.webhook_hostname == hostname
    else:
        refused(raw, "controller.webhookHostname")


@pytest.mark.parametrize(
    ("zone", "ok"),
    [
        ("Z1", True),
        ("Z" + "A1" * 15 + "B", True),
        ("Z", False),
        ("Z" + "A" * 32, False),
        ("z1", False),
        ("XZ1", False),
        ("Z1-", False),
    ],
)
def test_webhook_hosted_zone_id(zone: str, ok: bool) -> None:
    raw = stack(controller={**WEBHOOK, "webhookHostedZoneId": zone})
    if ok:
        assert accepted(raw).controller.webhook_hosted_zone_id == zone
    else:
        refused(raw, "controller.webhookHostedZoneId")


def test_webhook_names_need_each_other_and_the_server() -> None:
    without_name = {k: v for k, v in WEBHOOK.items() if k != "webhookHostname"}
    refused(stack(controller=without_name), "controller", "webhookHostname")
    refused(
        stack(
            controller={**without_name, "webhookCertificateArn": None, "webhookHostedZoneId": "Z1"}
        ),
        "controller",
        "webhookHostname",
    )
    for key, value in (("webhookHostname", "hooks.example.com"), ("webhookHostedZoneId", "Z1")):
        refused(stack(controller={key: value}), "controller", "webhookServer")
    accepted(stack(controller={**WEBHOOK, "webhookHostedZoneId": "Z1"}))


def test_plain_http_webhook_only_in_dev() -> None:
    plain = {"webhookServer": True, "webhookAllowedCidrs": [CIDR]}
    accepted(stack(controller=plain))
    for env in ("prod", "staging", "devx"):
        refused(stack(environment=env, controller=plain), "", "webhookCertificateArn")
        accepted(stack(environment=env, controller=WEBHOOK))
    accepted(stack(environment="prod"))
