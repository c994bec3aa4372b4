"""What the account must hold for one stack, derived from the validated stack file and team files.

Nothing here calls AWS: the expectations (instance types and node group maxima, NAT gateways,
buckets, KMS keys, ECR repositories, the webhook certificate, an existing VPC, Kubernetes and
add-on versions) come from the same config models and pins the stack program uses, so a node
group or a grant added there is checked here without a second list to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from arc_eks import versions
from arc_eks.builders.node_groups import SYSTEM_CLASS, plan_runner_node_groups, system_node_labels
from arc_eks.components.addons import COREDNS_ADDON
from arc_eks.components.cluster import NODE_AMI_TYPE
from arc_eks.components.ebs_csi_driver import ADDON_NAME as EBS_CSI_ADDON_NAME
from arc_eks.config.loader import (
    GITHUB_APP_PRIVATE_KEY,
    GITHUB_TOKEN,
    GITHUB_WEBHOOK_SECRET,
    IMAGE_CACHE_TOKENS,
    NAMESPACE,
)
from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import ResolvedPool, StackContext, known_environments, load_team_pools
from arc_eks.config.yaml_files import STACK_FILE_MAX_BYTES, load_yaml
from arc_eks.errors import ConfigError, ConfigProblem, problems_from_validation_error
from arc_eks.program import cluster_name_for

REGION_KEY = "aws:region"


@dataclass(frozen=True)
class NodeGroupExpectation:
    """One managed node group as the stack configures it."""

    name: str
    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    ami_type: str
    labels: dict[str, str]
    taints: tuple[dict[str, str], ...] = ()
    """As the EKS API reports them: key, value, effect (NO_SCHEDULE)."""


@dataclass(frozen=True)
class BucketExpectation:
    name: str
    account_id: str | None
    """Owner account when the stack says the bucket is another account's."""
    teams: tuple[str, ...]


@dataclass(frozen=True)
class KmsKeyExpectation:
    arn: str
    bucket: str

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def account_id(self) -> str:
        return self.arn.split(":")[4]


@dataclass(frozen=True)
class EcrExpectation:
    repository: str
    access: str
    pools: tuple[str, ...]


@dataclass(frozen=True)
class StackExpectations:
    """Everything preflight and verify compare the account against."""

    environment: str
    region: str
    stack: StackConfig
    pools: list[ResolvedPool]
    cluster_name: str
    kubernetes_version: str
    node_groups: list[NodeGroupExpectation]
    addons: dict[str, str | None]
    """EKS add-on name -> pinned version (None: the default EKS offers for the Kubernetes version)."""
    buckets: list[BucketExpectation] = field(default_factory=list)
    kms_keys: list[KmsKeyExpectation] = field(default_factory=list)
    ecr_repositories: list[EcrExpectation] = field(default_factory=list)

    @property
    def new_vpc(self) -> bool:
        return self.stack.network.existing_vpc is None

    @property
    def nat_gateways(self) -> int:
        """NAT gateways (and so Elastic IPs) the stack creates."""
        network = self.stack.network
        if network.existing_vpc is not None:
            return 0
        return 1 if network.nat_gateways == "single" else network.availability_zone_count

    @property
    def webhook_certificate_arn(self) -> str | None:
        return self.stack.controller.webhook_certificate_arn

    @property
    def webhook_hostname(self) -> str | None:
        """The host name GitHub delivers webhooks to (required with a certificate)."""
        return self.stack.controller.webhook_hostname

    @property
    def webhook_hosted_zone_id(self) -> str | None:
        """The Route 53 zone the stack creates the webhook's alias record in, if any."""
        return self.stack.controller.webhook_hosted_zone_id


def node_groups(stack: StackConfig, pools: list[ResolvedPool]) -> list[NodeGroupExpectation]:
    """The managed node groups the program creates: the system group (components/cluster.py)
    and one tainted runner group per isolation class the pools use (components/node_groups.py,
    which creates them with minSize 0: they scale from zero)."""
    instance_types = (stack.node_group.instance_type,)
    groups = [
        NodeGroupExpectation(
            name=SYSTEM_CLASS,
            instance_types=instance_types,
            min_size=stack.node_group.min_size,
            max_size=stack.node_group.max_size,
            ami_type=NODE_AMI_TYPE,
            labels=system_node_labels(stack.node_group.labels),
        )
    ]
    for plan in plan_runner_node_groups(
        pools,
        privileged_isolation=stack.runner_nodes.privileged_isolation,
        max_size=stack.runner_nodes.max_size,
    ):
        groups.append(
            NodeGroupExpectation(
                name=plan.isolation,
                instance_types=instance_types,
                min_size=0,
                max_size=plan.max_size,
                ami_type=NODE_AMI_TYPE,
                labels=plan.labels,
                taints=(plan.taint,),
            )
        )
    return groups


# EKS add-on name -> the field of versions.MinorPins that pins it (None there: EKS's default
# for the minor). A test checks every MinorPins field is either here or a cluster-autoscaler pin.
ADDON_PIN_FIELDS = {
    "vpc-cni": "vpc_cni",
    "kube-proxy": "kube_proxy",
    COREDNS_ADDON: "coredns",
    EBS_CSI_ADDON_NAME: "ebs_csi_driver",
}


def addons(kubernetes_version: str) -> dict[str, str | None]:
    """EKS managed add-ons the program installs, with their pinned versions."""
    pinned = versions.pins(kubernetes_version)
    return {name: getattr(pinned, field_name) for name, field_name in ADDON_PIN_FIELDS.items()}


def read_stack_file(
    path: Path, environment: str
) -> tuple[StackConfig | None, str | None, list[ConfigProblem]]:
    """The validated stack config, its `aws:region`, and every problem (secrets included)."""
    if not path.is_file():
        return (
            None,
            None,
            [
                ConfigProblem(
                    source=str(path),
                    path="(file)",
                    value="(missing)",
                    expected=f"a stack file; copy stacks/Pulumi.dev.yaml to {path.name} and edit it",
                )
            ],
        )
    loaded = load_yaml(path, path.name, max_bytes=STACK_FILE_MAX_BYTES)
    if loaded.problems:
        return None, None, loaded.problems
    document = loaded.document or {}
    config: dict[str, Any] = (document.get("config") if isinstance(document, dict) else None) or {}
    raw: dict[str, object] = {"environment": environment}
    secure: set[str] = set()
    plain: set[str] = set()
    region = config.get(REGION_KEY)
    problems: list[ConfigProblem] = []
    if not isinstance(region, str) or not region:
        problems.append(
            ConfigProblem(
                path.name, REGION_KEY, "(missing)", "the AWS region of the stack, e.g. eu-west-1"
            )
        )
        region = None
    for full_key, value in config.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(key)
        elif key in (GITHUB_TOKEN, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET) or (
            key in IMAGE_CACHE_TOKENS.values()
        ):
            plain.add(key)
        else:
            raw[key] = value
    try:
        stack = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, source=path.name, prefix=f"{NAMESPACE}:")
        return None, region, problems

    for key in _needed_secrets(stack):
        if key in secure:
            continue
        full = f"{NAMESPACE}:{key}"
        problems.append(
            ConfigProblem(
                source=path.name,
                path=full,
                value="(set in plain text)" if key in plain else "(missing)",
                expected=f"a Pulumi secret: pulumi config set --secret --stack {environment} "
                f"{full} {'< app-private-key.pem' if key == GITHUB_APP_PRIVATE_KEY else '<value>'}",
            )
        )
    return stack, region, problems


def _needed_secrets(stack: StackConfig) -> list[str]:
    needed = [GITHUB_APP_PRIVATE_KEY if stack.github.auth == "app" else GITHUB_TOKEN]
    if stack.controller.webhook_server:
        needed.append(GITHUB_WEBHOOK_SECRET)
    if stack.image_cache_enabled:
        cache = stack.image_cache
        needed += [IMAGE_CACHE_TOKENS[u] for u in cache.upstreams if u in IMAGE_CACHE_TOKENS]
    return needed


def check_stack_file(path: Path, environment: str) -> list[ConfigProblem]:
    """Every problem with this stack file, as `pulumi up` would report it (empty if none)."""
    return read_stack_file(path, environment)[2]


def expectations(stack: StackConfig, region: str, pools: list[ResolvedPool]) -> StackExpectations:
    """What the account must hold for this stack and these pools."""
    bucket_teams: dict[str, set[str]] = {}
    owners: dict[str, str | None] = {}
    for team, allowance in stack.teams.items():
        for bucket in allowance.s3_buckets:
            bucket_teams.setdefault(bucket.bucket, set()).add(team)
            owners[bucket.bucket] = bucket.account_id
    kms: dict[str, str] = {}
    ecr: dict[tuple[str, str], set[str]] = {}
    for pool in pools:
        for grant in pool.s3:
            if grant.kms_key_arn:
                kms.setdefault(grant.kms_key_arn, grant.bucket)
        for ecr_grant in pool.spec.ecr or ():
            ecr.setdefault((ecr_grant.repository, ecr_grant.access), set()).add(pool.key)
    return StackExpectations(
        environment=stack.environment,
        region=region,
        stack=stack,
        pools=pools,
        cluster_name=cluster_name_for(stack.environment),
        kubernetes_version=stack.cluster.kubernetes_version,
        node_groups=node_groups(stack, pools),
        addons=addons(stack.cluster.kubernetes_version),
        buckets=[
            BucketExpectation(name, owners[name], tuple(sorted(teams)))
            for name, teams in sorted(bucket_teams.items())
        ],
        kms_keys=[KmsKeyExpectation(arn, bucket) for arn, bucket in sorted(kms.items())],
        ecr_repositories=[
            EcrExpectation(repo, access, tuple(sorted(keys)))
            for (repo, access), keys in sorted(ecr.items())
        ],
    )


def load_expectations(
    stack_path: Path, teams_dir: Path, environment: str
) -> tuple[StackExpectations | None, list[ConfigProblem]]:
    """The expectations (None when the stack or team files do not validate) and every problem,
    missing secrets included (they do not stop the account checks)."""
    stack, region, problems = read_stack_file(stack_path, environment)
    if stack is None or region is None:
        return None, problems
    loaded = load_yaml(stack_path, stack_path.name, max_bytes=STACK_FILE_MAX_BYTES)
    document = loaded.document if isinstance(loaded.document, dict) else {}
    accounts = (document.get("config") or {}).get("aws:allowedAccountIds")
    context = StackContext(
        environments=known_environments(stack_path.parent) | {environment},
        own_accounts=tuple(str(a) for a in accounts) if isinstance(accounts, list) else (),
        region=region,
    )
    try:
        pools = load_team_pools(teams_dir, stack, context)
    except ConfigError as exc:
        return None, [*problems, *exc.problems]
    return expectations(stack, region, pools), problems
