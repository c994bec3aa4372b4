"""`make preflight STACK=<env>`: before `pulumi up`, check what only the real account knows.

Read-only, with the operator's credentials. First the stack file and team files (valid config,
every secret set as a Pulumi secret: no AWS call), then the account: who is deploying, the
instance types in the chosen availability zones, the service quotas the stack's maximum sizes
need, the allowlisted buckets and KMS keys, the ECR repositories pools push to, the webhook
certificate, an existing VPC's subnets, and the Kubernetes and add-on versions EKS offers.
`scripts/deploy.sh` (`make up`, `make preview`) runs it before Pulumi.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from arc_eks.access import deployer_problems, role_of
from arc_eks.config.stack import StackConfig
from arc_eks.ops.checks import Aws, Report, checking, error_code
from arc_eks.ops.stackfile import StackExpectations, load_expectations

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Service Quotas codes. Ref: https://docs.aws.amazon.com/servicequotas/latest/userguide/ and the
# quota pages of the EC2 and VPC consoles (the codes are stable identifiers).
VCPU_QUOTA = (
    "ec2",
    "L-1216C47A",
)  # Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances
EIP_QUOTA = ("ec2", "L-0263D0A3")  # EC2-VPC Elastic IPs
VPC_QUOTA = ("vpc", "L-F678F1CE")  # VPCs per Region
# Instance families the standard On-Demand vCPU quota counts (first letter of the type name).
STANDARD_FAMILIES = frozenset("acdhimrtz")
# The tag every taggable resource of the stack carries (arc_eks.program).
ENVIRONMENT_TAG = "arc-eks/environment"
# EKS puts this tag on the instances of a managed node group.
# Ref: https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html
EKS_CLUSTER_TAG = "eks:cluster-name"
# Subnet tags the AWS Load Balancer Controller and the in-tree service controller select by.
# Ref: https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html
INTERNAL_ELB_TAG = "kubernetes.io/role/internal-elb"
PUBLIC_ELB_TAG = "kubernetes.io/role/elb"
CERTIFICATE_WARN_DAYS = 30


class Preflight:
    """The account checks of one stack; each method adds its lines to the report."""

    def __init__(self, expected: StackExpectations, aws: Aws, report: Report) -> None:
        self.expected = expected
        self.aws = aws
        self.report = report
        self.account_id: str | None = None
        self.bucket_regions: dict[str, str] = {}

    @property
    def stack(self) -> StackConfig:
        return self.expected.stack

    def run(self) -> None:
        self.identity()
        if self.account_id is None:
            return  # no usable credentials: every other call would fail the same way
        zones = self.availability_zones()
        if zones:
            self.instance_type_offerings(zones)
        self.vcpu_quota()
        self.elastic_ip_quota()
        self.vpc_quota()
        self.existing_vpc()
        self.buckets()
        self.kms_keys()
        self.ecr_repositories()
        self.webhook_certificate()
        self.webhook_hosted_zone()
        self.kubernetes_version()
        self.addon_versions()

    # -- who is deploying ------------------------------------------------------------------

    def identity(self) -> None:
        """Who runs Pulumi, and whether the stack makes it a cluster admin: the program refuses
        a deployer that is not in cluster.adminRoleArns (arc_eks.access), so this fails too."""
        name = "identity"
        with checking(self.report, name):
            caller = self.aws.client("sts").get_caller_identity()
            self.account_id = caller["Account"]
            arn = caller["Arn"]
            role = role_of(arn)
            shown = arn
            if role is not None and ":assumed-role/" in arn:
                resolved = self._role_arn(role[1])
                shown = f"{arn} (session of {resolved or 'role ' + role[1]})"
            problems = deployer_problems(arn, list(self.stack.cluster.admin_role_arns))
            if problems:
                self.report.fail(name, f"{shown}: {problems[0].expected}")
            else:
                self.report.ok(
                    name, f"{shown}, account {self.account_id}; in cluster.adminRoleArns"
                )

    def _role_arn(self, role_name: str) -> str | None:
        """The full ARN (with path) of a role; None when this principal may not read it."""
        try:
            return str(self.aws.client("iam").get_role(RoleName=role_name)["Role"]["Arn"])
        except ClientError:
            return None

    # -- capacity ----------------------------------------------------------------------------

    def availability_zones(self) -> list[str]:
        name = "availability-zones"
        count = self.stack.network.availability_zone_count
        with checking(self.report, name):
            ec2 = self.aws.client("ec2")
            if self.stack.network.existing_vpc is not None:
                subnet_ids = list(self.stack.network.existing_vpc.private_subnet_ids)
                subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
                zones = sorted({s["AvailabilityZone"] for s in subnets})
                self.report.ok(name, f"existing VPC's private subnets are in {', '.join(zones)}")
                return zones
            response = ec2.describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}]
            )
            # The program takes the first N zones of the aws.getAvailabilityZones data source
            # (state available): sorted by name, and including opted-in Local and Wavelength
            # Zones, whose names sort before the region's own (`eu-west-1-xyz-1a` < `eu-west-1a`).
            kinds = {
                z["ZoneName"]: z.get("ZoneType", "availability-zone")
                for z in response["AvailabilityZones"]
            }
            available = sorted(kinds)
            if len(available) < count:
                self.report.fail(
                    name,
                    f"network.availabilityZoneCount is {count} but {self.aws.region} has "
                    f"{len(available)} available zone(s): {', '.join(available) or 'none'}",
                )
                return available
            odd = [z for z in available[:count] if kinds[z] != "availability-zone"]
            if odd:
                self.report.fail(
                    name,
                    f"the program would place subnets in {', '.join(odd)} "
                    f"({', '.join(kinds[z] for z in odd)}, which the EKS control plane cannot "
                    "use): opt out of that zone group, or use network.existingVpc",
                )
                return available[:count]
            zones = available[:count]
            self.report.ok(name, f"{', '.join(zones)} (first {count} available)")
            return zones
        return []

    def instance_type_offerings(self, zones: list[str]) -> None:
        for group in self.expected.node_groups:
            for instance_type in group.instance_types:
                name = f"instance-type/{group.name}/{instance_type}"
                with checking(self.report, name):
                    paginator = self.aws.client("ec2").get_paginator(
                        "describe_instance_type_offerings"
                    )
                    offered: set[str] = set()
                    for page in paginator.paginate(
                        LocationType="availability-zone",
                        Filters=[
                            {"Name": "instance-type", "Values": [instance_type]},
                            {"Name": "location", "Values": zones},
                        ],
                    ):
                        offered |= {o["Location"] for o in page["InstanceTypeOfferings"]}
                    missing = [z for z in zones if z not in offered]
                    if missing:
                        self.report.fail(
                            name, f"{instance_type} is not offered in {', '.join(missing)}"
                        )
                    else:
                        self.report.ok(name, f"offered in {', '.join(zones)}")

    def _quota(self, service: str, code: str) -> float:
        """The applied quota, or AWS's default when the account never changed it."""
        client = self.aws.client("service-quotas")
        try:
            return float(
                client.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
            )
        except ClientError as error:
            if error_code(error) != "NoSuchResourceException":
                raise
        return float(
            client.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"][
                "Value"
            ]
        )

    def _vcpus(self, instance_types: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(instance_types))
        if not wanted:
            return {}
        out: dict[str, int] = {}
        paginator = self.aws.client("ec2").get_paginator("describe_instance_types")
        for page in paginator.paginate(InstanceTypes=wanted):
            for info in page["InstanceTypes"]:
                out[info["InstanceType"]] = int(info["VCpuInfo"]["DefaultVCpus"])
        return out

    def vcpu_quota(self) -> None:
        name = "quota/on-demand-standard-vcpus"
        with checking(self.report, name):
            groups = self.expected.node_groups
            vcpus = self._vcpus(t for g in groups for t in g.instance_types)
            needed = 0
            for group in groups:
                standard = [t for t in group.instance_types if t[:1] in STANDARD_FAMILIES]
                if standard:
                    needed += group.max_size * max(vcpus.get(t, 0) for t in standard)
            if needed == 0:
                self.report.ok(name, "no node group uses a standard instance family")
                return
            self._compare(
                name,
                unit="vCPUs",
                needed=needed,
                in_use=self._vcpus_in_use(),
                quota=VCPU_QUOTA,
                what="node groups at maxSize",
            )

    def _vcpus_in_use(self) -> int:
        """vCPUs of running standard-family instances, other than this cluster's own nodes."""
        paginator = self.aws.client("ec2").get_paginator("describe_instances")
        counted: list[str] = []
        for page in paginator.paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        ):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                    if tags.get(EKS_CLUSTER_TAG) == self.expected.cluster_name:
                        continue
                    if instance["InstanceType"][:1] in STANDARD_FAMILIES:
                        counted.append(instance["InstanceType"])
        vcpus = self._vcpus(counted)
        return sum(vcpus.get(t, 0) for t in counted)

    def _compare(
        self, name: str, *, unit: str, needed: int, in_use: int, quota: tuple[str, str], what: str
    ) -> None:
        limit = self._quota(*quota)
        detail = f"{needed} {unit} needed ({what}); {in_use} in use by others; quota {limit:g}"
        if in_use + needed > limit:
            self.report.fail(
                name,
                f"{detail}: request an increase of {quota[0]} quota {quota[1]} to at least "
                f"{in_use + needed}",
            )
        else:
            self.report.ok(name, detail)

    def _others(self, items: list[dict[str, Any]]) -> int:
        """Resources not tagged as this environment's own (an upgrade does not count them twice)."""
        return sum(
            1
            for item in items
            if {t["Key"]: t["Value"] for t in item.get("Tags", [])}.get(ENVIRONMENT_TAG)
            != self.expected.environment
        )

    def elastic_ip_quota(self) -> None:
        name = "quota/elastic-ips"
        needed = self.expected.nat_gateways
        if needed == 0:
            self.report.ok(name, "existing VPC: the stack allocates no Elastic IP")
            return
        with checking(self.report, name):
            addresses = self.aws.client("ec2").describe_addresses()["Addresses"]
            self._compare(
                name,
                unit="Elastic IPs",
                needed=needed,
                in_use=self._others(addresses),
                quota=EIP_QUOTA,
                what="NAT gateways",
            )

    def vpc_quota(self) -> None:
        name = "quota/vpcs"
        if not self.expected.new_vpc:
            self.report.ok(name, "existing VPC: the stack creates no VPC")
            return
        with checking(self.report, name):
            paginator = self.aws.client("ec2").get_paginator("describe_vpcs")
            vpcs = [v for page in paginator.paginate() for v in page["Vpcs"]]
            self._compare(
                name,
                unit="VPCs",
                needed=1,
                in_use=self._others(vpcs),
                quota=VPC_QUOTA,
                what="the stack's network",
            )

    # -- an existing VPC -------------------------------------------------------------------

    def existing_vpc(self) -> None:
        existing = self.stack.network.existing_vpc
        if existing is None:
            return
        name = f"existing-vpc/{existing.vpc_id}"
        with checking(self.report, name):
            ec2 = self.aws.client("ec2")
            ids = [*existing.private_subnet_ids, *existing.public_subnet_ids]
            subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=ids)["Subnets"]}
            problems: list[str] = []
            for subnet_id, role, tag in [
                *((s, "private", INTERNAL_ELB_TAG) for s in existing.private_subnet_ids),
                *((s, "public", PUBLIC_ELB_TAG) for s in existing.public_subnet_ids),
            ]:
                subnet = subnets.get(subnet_id)
                if subnet is None:
                    problems.append(f"{subnet_id} not found")
                    continue
                if subnet["VpcId"] != existing.vpc_id:
                    problems.append(f"{role} subnet {subnet_id} is in {subnet['VpcId']}")
                tags = {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}
                if tags.get(tag) != "1":
                    problems.append(f"{role} subnet {subnet_id} lacks the tag {tag}=1")
            zones = {
                subnets[s]["AvailabilityZone"] for s in existing.private_subnet_ids if s in subnets
            }
            if len(zones) < 2:
                problems.append(
                    f"the private subnets span {len(zones)} availability zone(s); EKS needs 2+"
                )
            if self.stack.controller.webhook_server and not existing.public_subnet_ids:
                problems.append("controller.webhookServer needs publicSubnetIds for its NLB")
            if problems:
                self.report.fail(name, "; ".join(problems))
            else:
                self.report.ok(
                    name,
                    f"{len(existing.private_subnet_ids)} private and "
                    f"{len(existing.public_subnet_ids)} public subnet(s) in the VPC, tagged for "
                    "load balancers",
                )

    # -- buckets, keys, repositories --------------------------------------------------------

    def buckets(self) -> None:
        for bucket in self.expected.buckets:
            name = f"bucket/{bucket.name}"
            if bucket.account_id is not None and bucket.account_id != self.account_id:
                self.report.cannot_check(
                    name,
                    f"bucket of account {bucket.account_id}: its existence, region and policy "
                    "are visible to that account only; its owner adds the statements of the "
                    "stack output crossAccountBucketPolicyStatements",
                )
                continue
            with checking(self.report, name):
                location = self.aws.client("s3").get_bucket_location(
                    Bucket=bucket.name, ExpectedBucketOwner=self.account_id
                )
                # Ref: S3 GetBucketLocation: null for us-east-1, "EU" for the legacy eu-west-1.
                region = location.get("LocationConstraint") or "us-east-1"
                region = "eu-west-1" if region == "EU" else region
                self.bucket_regions[bucket.name] = region
                if region != self.aws.region:
                    self.report.fail(
                        name,
                        f"in {region}, not in the stack's region {self.aws.region} (for the "
                        f"teams {', '.join(bucket.teams)})",
                    )
                else:
                    self.report.ok(name, f"exists in {region}, owned by account {self.account_id}")

    def kms_keys(self) -> None:
        for key in self.expected.kms_keys:
            name = f"kms-key/{key.arn.rsplit('/', 1)[-1]}"
            expected_region = self.bucket_regions.get(key.bucket, self.aws.region)
            if key.region != expected_region:
                self.report.fail(
                    name,
                    f"{key.arn} is in {key.region}; bucket {key.bucket} needs a key in "
                    f"{expected_region} (SSE-KMS keys are regional)",
                )
                continue
            with checking(self.report, name):
                metadata = self.aws.client("kms", region=key.region).describe_key(KeyId=key.arn)[
                    "KeyMetadata"
                ]
                state = metadata.get("KeyState", "Enabled" if metadata.get("Enabled") else "?")
                if state != "Enabled":
                    self.report.fail(name, f"{key.arn} is {state}, not Enabled")
                else:
                    self.report.ok(name, f"{key.arn} is Enabled (bucket {key.bucket})")

    def ecr_repositories(self) -> None:
        for repo in self.expected.ecr_repositories:
            name = f"ecr/{repo.repository}"
            with checking(self.report, name):
                try:
                    self.aws.client("ecr").describe_repositories(repositoryNames=[repo.repository])
                except ClientError as error:
                    if error_code(error) != "RepositoryNotFoundException":
                        raise
                    message = (
                        f"does not exist in {self.aws.region} of account {self.account_id} "
                        f"({repo.access} by {', '.join(repo.pools)})"
                    )
                    if repo.access == "push":
                        self.report.fail(name, message)
                    else:
                        self.report.warn(name, message)
                    continue
                self.report.ok(name, f"exists ({repo.access} by {', '.join(repo.pools)})")

    # -- webhook certificate ------------------------------------------------------------------

    def webhook_certificate(self) -> None:
        arn = self.expected.webhook_certificate_arn
        if arn is None:
            return
        name = "webhook-certificate"
        cert_region = arn.split(":")[3]
        if cert_region != self.aws.region:
            self.report.fail(
                name,
                f"{arn} is in {cert_region}; the NLB in {self.aws.region} needs a certificate there",
            )
            return
        with checking(self.report, name):
            cert = self.aws.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
            status = cert.get("Status")
            names = [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]
            names = sorted({n for n in names if n})
            if status != "ISSUED":
                self.report.fail(name, f"status {status}, not ISSUED ({', '.join(names)})")
                return
            host = self.expected.webhook_hostname
            if host is not None and not any(covers(n, host) for n in names):
                self.report.fail(name, f"covers {', '.join(names)}, not {host}")
                return
            not_after = cert.get("NotAfter")
            if isinstance(not_after, datetime) and not_after - datetime.now(UTC) < timedelta(
                days=CERTIFICATE_WARN_DAYS
            ):
                self.report.warn(name, f"ISSUED, but expires {not_after:%Y-%m-%d}")
                return
            self.report.ok(name, f"ISSUED, covers {host}")

    def webhook_hosted_zone(self) -> None:
        zone_id, host = self.expected.webhook_hosted_zone_id, self.expected.webhook_hostname
        if zone_id is None or host is None:
            return
        name = f"webhook-zone/{zone_id}"
        with checking(self.report, name):
            zone = self.aws.client("route53").get_hosted_zone(Id=zone_id)["HostedZone"]
            domain = str(zone.get("Name", "")).rstrip(".").lower()
            if zone.get("Config", {}).get("PrivateZone"):
                self.report.fail(name, f"{domain} is a private zone: GitHub cannot resolve {host}")
            elif host != domain and not host.endswith(f".{domain}"):
                self.report.fail(name, f"{host} is not in the zone {domain}")
            else:
                self.report.ok(name, f"public zone {domain} holds {host}")

    # -- versions ---------------------------------------------------------------------------

    def kubernetes_version(self) -> None:
        version = self.expected.kubernetes_version
        name = f"eks-version/{version}"
        with checking(self.report, name):
            response = self.aws.client("eks").describe_cluster_versions(
                clusterVersions=[version], includeAll=True
            )
            found = [
                v for v in response.get("clusterVersions", []) if v.get("clusterVersion") == version
            ]
            if not found:
                self.report.fail(
                    name, f"EKS in {self.aws.region} does not offer Kubernetes {version}"
                )
                return
            status = str(found[0].get("versionStatus") or found[0].get("status") or "").upper()
            status = status.replace("-", "_")
            if status == "STANDARD_SUPPORT":
                self.report.ok(name, "offered, in standard support")
            elif status == "EXTENDED_SUPPORT":
                self.report.warn(name, "offered in extended support only (extra cost per hour)")
            else:
                self.report.fail(
                    name, f"status {status or 'unknown'}: not offered for new clusters"
                )

    def addon_versions(self) -> None:
        version = self.expected.kubernetes_version
        for addon, pinned in self.expected.addons.items():
            name = f"eks-addon/{addon}"
            with checking(self.report, name):
                paginator = self.aws.client("eks").get_paginator("describe_addon_versions")
                offered: list[str] = []
                default: str | None = None
                for page in paginator.paginate(addonName=addon, kubernetesVersion=version):
                    for entry in page.get("addons", []):
                        for item in entry.get("addonVersions", []):
                            offered.append(item["addonVersion"])
                            for compat in item.get("compatibilities", []):
                                if compat.get("clusterVersion") == version and compat.get(
                                    "defaultVersion"
                                ):
                                    default = item["addonVersion"]
                if pinned is not None:
                    if pinned in offered:
                        self.report.ok(name, f"{pinned} offered for Kubernetes {version}")
                    else:
                        self.report.fail(
                            name,
                            f"pinned {pinned} is not offered for Kubernetes {version} (offered: "
                            f"{', '.join(offered[:5]) or 'none'})",
                        )
                elif default is not None:
                    self.report.ok(name, f"default {default} for Kubernetes {version}")
                elif offered:
                    self.report.ok(name, f"{offered[0]} offered for Kubernetes {version}")
                else:
                    self.report.fail(name, f"no version offered for Kubernetes {version}")


def covers(certificate_name: str, host: str) -> bool:
    """Whether a certificate name (possibly `*.example.com`) covers a host name (one label per
    wildcard, as TLS clients match)."""
    certificate_name, host = certificate_name.lower().rstrip("."), host.lower().rstrip(".")
    if certificate_name.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == certificate_name[2:]
    return certificate_name == host


def run(
    environment: str,
    *,
    stack_path: Path,
    teams_dir: Path,
    config_only: bool = False,
    aws: Aws | None = None,
) -> Report:
    """Every preflight check of one stack, as a report (never raises for a failed check)."""
    report = Report("preflight", environment)
    expected, problems = load_expectations(stack_path, teams_dir, environment)
    for problem in problems:
        report.fail(
            f"config/{problem.source}",
            f"{problem.path}: got {problem.value}; expected {problem.expected}",
        )
    if expected is None:
        return report  # nothing to compare the account against
    if not problems:
        report.ok(
            "config",
            f"{stack_path.name} and {len(expected.pools)} pool(s) of {teams_dir.name}/ valid; "
            "secrets set",
        )
    if config_only:
        return report
    Preflight(expected, aws or Aws(expected.region), report).run()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arc_eks.ops.preflight", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack", required=True, help="environment / stack name, e.g. dev")
    parser.add_argument("--stack-file", type=Path, help="default: stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--teams-dir", type=Path, help="default: teams/")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--config-only",
        action="store_true",
        help="check the stack and team files only (no AWS call)",
    )
    args = parser.parse_args(argv)
    report = run(
        args.stack,
        stack_path=args.stack_file or PROJECT_DIR / "stacks" / f"Pulumi.{args.stack}.yaml",
        teams_dir=args.teams_dir or PROJECT_DIR / "teams",
        config_only=args.config_only,
    )
    print(report.as_json() if args.json else report.text())
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
