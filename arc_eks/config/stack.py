"""The stack config a platform team writes in stacks/Pulumi.<env>.yaml (namespace `arc-eks:`).

Every field here is documented; the descriptions are also the JSON Schema (`StackConfig.model_json_schema()`).
Secrets never pass through these models: they stay Pulumi secrets (see `arc_eks.config.loader`).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from arc_eks.capacity import NODE_CAPACITY
from arc_eks.config.base import ConfigModel
from arc_eks.config.monitoring import MonitoringConfig
from arc_eks.config.policy_pack import PolicyPackConfig
from arc_eks.versions import KUBERNETES_VERSION

VpcId = Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="An existing VPC id.")]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$", description="A subnet id.")]
IamRoleArn = Annotated[
    str,
    Field(
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="An IAM role ARN.",
    ),
]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$", description="A 12-digit AWS account id.")]
# S3 bucket naming rules: 3-63 chars, lowercase letters, digits, dots and hyphens.
BucketName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="An S3 bucket name (3-63 lowercase letters, digits, dots, hyphens).",
    ),
]
TeamName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$",
        description="A team name: lowercase DNS label, 3-32 chars (it becomes a namespace).",
    ),
]


# Environments where a webhook server may listen on plain HTTP (flagged at deploy time).
PLAIN_HTTP_WEBHOOK_ENVIRONMENTS = frozenset({"dev"})


# An allowlist that admits more addresses than a /8 in total is not an allowlist.
MAX_ALLOWLIST_ADDRESSES = 2**24


def narrow_ipv4_cidrs(value: list[str]) -> list[str]:
    """IPv4 CIDRs of an allowlist, compared as address space: together they may admit at most a
    /8's worth of addresses (two halves of 0.0.0.0/0 are the whole internet, like /0 itself)."""
    networks = []
    for cidr in value:
        try:
            networks.append(ipaddress.IPv4Network(cidr, strict=True))
        except ValueError:
            raise ValueError(
                f"IPv4 CIDRs such as 203.0.113.0/24 (the network address, then /prefix); "
                f"{cidr!r} is not one"
            ) from None
    total = sum(n.num_addresses for n in ipaddress.collapse_addresses(networks))
    if total > MAX_ALLOWLIST_ADDRESSES:
        share = "the whole internet" if total == 2**32 else f"{total:,} addresses"
        raise ValueError(
            f"a narrow allowlist: together these CIDRs admit {share}, more than a /8 "
            f"({MAX_ALLOWLIST_ADDRESSES:,} addresses); list the networks that need access"
        )
    return value


class ExistingVpc(ConfigModel):
    """Bring your own VPC instead of creating one."""

    vpc_id: VpcId
    private_subnet_ids: list[SubnetId] = Field(
        min_length=2,
        description="Private subnets (in 2+ AZs) for the nodes and the control plane ENIs. They "
        "need a route to the internet (NAT) for GitHub and the image registries.",
    )
    public_subnet_ids: list[SubnetId] = Field(
        default_factory=list,
        description="Public subnets for internet-facing load balancers (the webhook server), if any.",
    )


class NetworkConfig(ConfigModel):
    """Where the cluster lives: a new VPC (default) or an existing one."""

    vpc_cidr: str = Field(
        default="10.0.0.0/16",
        description="CIDR of the new VPC (/16 to /22). Ignored with existingVpc.",
    )
    availability_zone_count: Literal[2, 3] = Field(
        default=2, description="How many AZs the new VPC spans (2 or 3)."
    )
    nat_gateways: Literal["single", "perAz"] = Field(
        default="single",
        description="One shared NAT gateway (cheaper) or one per AZ (survives an AZ outage).",
    )
    existing_vpc: ExistingVpc | None = Field(
        default=None, description="Use this VPC instead of creating one."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr_size(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"an IPv4 network such as 10.0.0.0/16 ({exc})") from None
        if not 16 <= net.prefixlen <= 22:
            raise ValueError("a prefix between /16 and /22 (room for 2x3 subnets and 35 pods/node)")
        return value

    @model_validator(mode="after")
    def _new_or_existing(self) -> NetworkConfig:
        if self.existing_vpc is not None:
            clash = {"vpc_cidr", "availability_zone_count", "nat_gateways"} & self.model_fields_set
            if clash:
                raise ValueError(
                    "either existingVpc or the new-VPC settings (vpcCidr, availabilityZoneCount, "
                    "natGateways), not both"
                )
        return self


class ClusterConfig(ConfigModel):
    """The EKS control plane."""

    kubernetes_version: str = Field(
        default=KUBERNETES_VERSION,
        description="Kubernetes minor version. Pinned in arc_eks/versions.py together with the "
        "cluster-autoscaler image, whose minor must match it.",
    )
    endpoint_public_access: bool = Field(
        default=True,
        description="Whether the API server is reachable from the internet (from publicAccessCidrs "
        "only). The private endpoint is always on.",
    )
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="IPv4 CIDRs allowed to reach the public endpoint. Required when "
        "endpointPublicAccess is true; 0.0.0.0/0 is refused.",
    )
    admin_role_arns: list[IamRoleArn] = Field(
        default_factory=list,
        description="IAM roles given cluster-admin through EKS access entries.",
    )
    protect: bool = Field(
        default=False,
        description="Pulumi `protect` on the cluster and its KMS key (a destroy must unprotect first).",
    )
    kms_key_deletion_window_days: int = Field(
        default=30, ge=7, le=30, description="Waiting period before the secrets KMS key is deleted."
    )

    @field_validator("kubernetes_version")
    @classmethod
    def _pinned_version(cls, value: str) -> str:
        if value != KUBERNETES_VERSION:
            raise ValueError(
                f"{KUBERNETES_VERSION!r}, the version pinned in arc_eks/versions.py (the "
                "cluster-autoscaler image is pinned to the same minor; bump both there)"
            )
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return narrow_ipv4_cidrs(value)

    @model_validator(mode="after")
    def _public_endpoint(self) -> ClusterConfig:
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ValueError(
                "publicAccessCidrs to list the networks allowed to reach the public endpoint, "
                "or endpointPublicAccess: false"
            )
        if not self.endpoint_public_access and self.public_access_cidrs:
            raise ValueError("no publicAccessCidrs when endpointPublicAccess is false")
        return self


class NodeGroupConfig(ConfigModel):
    """The system node group (controller, add-ons, CoreDNS). Its instance type and root volume
    are also those of the runner node groups (runnerNodes)."""

    instance_type: str = Field(
        default="t3a.large",
        description="EC2 instance type; one of arc_eks.capacity.NODE_CAPACITY (t3a.large).",
    )
    min_size: int = Field(default=2, ge=1, le=100, description="Fewest nodes.")
    desired_size: int = Field(
        default=2,
        ge=1,
        le=100,
        description="Nodes at creation; cluster-autoscaler owns it afterwards (changes ignored).",
    )
    max_size: int = Field(default=6, ge=1, le=100, description="Most nodes.")
    root_volume_gib: int = Field(
        default=50,
        ge=20,
        le=1000,
        description="Encrypted gp3 root volume size (images, work dirs).",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra Kubernetes labels on every node."
    )

    @field_validator("instance_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in NODE_CAPACITY:
            raise ValueError(f"one of {sorted(NODE_CAPACITY)} (capacity known to the package)")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> NodeGroupConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"minSize <= desiredSize <= maxSize (got {self.min_size}, {self.desired_size}, "
                f"{self.max_size})"
            )
        return self


class RunnerNodesConfig(ConfigModel):
    """The tainted node groups runner pods run on (one per isolation class; nodeGroup is the
    system node group). Same instance type and root volume as nodeGroup."""

    privileged_isolation: Literal["perTeam", "shared"] = Field(
        default="perTeam",
        description="Where dind (privileged) pools run. perTeam: a node group per team with dind "
        "pools, so a privileged job can only reach its own team's pods on its node; costs a node "
        "per team that has dind jobs running (partly idle nodes, one more node group to patch). "
        "shared: one privileged node group for every team's dind pools, packed tighter, but a "
        "job that escapes to the node reaches the other teams' dind runners and their IAM "
        "credentials there. Unprivileged pools never share a node with dind pools either way.",
    )
    max_size: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Most nodes of each runner node group. Every runner node group scales from "
        "zero (cluster-autoscaler adds nodes for Pending runners).",
    )


class GitHubConfig(ConfigModel):
    """How the controller authenticates to GitHub. The credential itself is a Pulumi secret:
    `arc-eks:githubToken` (auth: pat) or `arc-eks:githubAppPrivateKey` (auth: app)."""

    auth: Literal["pat", "app"] = Field(
        default="pat", description="Personal access token or GitHub App."
    )
    app_id: str | None = Field(
        default=None, pattern=r"^\d+$", description="GitHub App id (auth: app)."
    )
    installation_id: str | None = Field(
        default=None, pattern=r"^\d+$", description="GitHub App installation id (auth: app)."
    )
    enterprise_url: str | None = Field(
        default=None,
        pattern=r"^https://[A-Za-z0-9.-]+(:\d+)?/?$",
        description="GitHub Enterprise Server base URL, e.g. https://github.example.com.",
    )
    enterprise_ca_certificate: str | None = Field(
        default=None,
        max_length=65536,
        description="PEM CA certificate(s) of enterpriseUrl when a private CA signs it (not a "
        "secret). Scale-set pools: the controller, the listener and the runners trust it (a "
        "ConfigMap in each runner namespace, the runner-set chart's githubServerTLS).",
    )

    @model_validator(mode="after")
    def _app_fields(self) -> GitHubConfig:
        has_app = self.app_id is not None or self.installation_id is not None
        if self.auth == "app" and (self.app_id is None or self.installation_id is None):
            raise ValueError("appId and installationId with auth: app")
        if self.auth == "pat" and has_app:
            raise ValueError("no appId/installationId with auth: pat (set auth: app)")
        if self.enterprise_ca_certificate is not None:
            if self.enterprise_url is None:
                raise ValueError("enterpriseCaCertificate only with enterpriseUrl (GHES)")
            text = self.enterprise_ca_certificate
            if "-----BEGIN CERTIFICATE-----" not in text or "-----END CERTIFICATE-----" not in text:
                raise ValueError(
                    "enterpriseCaCertificate as PEM text: -----BEGIN CERTIFICATE----- ... "
                    "-----END CERTIFICATE-----"
                )
            if "PRIVATE KEY" in text:
                raise ValueError(
                    "enterpriseCaCertificate without a private key (only the CA certificate; "
                    "rotate the key: it was in the stack file)"
                )
        return self


# How a pool's runners are managed. Ref: ARC docs (actions/actions-runner-controller docs/
# gha-runner-scale-set-controller/README.md): runner scale sets are the mode GitHub supports;
# RunnerDeployment + HorizontalRunnerAutoscaler is the community-maintained legacy mode.
RunnerMode = Literal["runnerDeployment", "scaleSet"]


class ScaleSetsConfig(ConfigModel):
    """Runner scale sets (ARC's gha-runner-scale-set charts) beside the RunnerDeployment pools."""

    default_mode: RunnerMode = Field(
        default="runnerDeployment",
        description="The mode of every pool that names none (pools[].mode): runnerDeployment "
        "(legacy ARC, HorizontalRunnerAutoscaler) or scaleSet; a docker: kubernetes pool that "
        "names none stays runnerDeployment (never a scale set). The scale-set controller is "
        "installed only where the stack has a scale-set pool.",
    )
    controller_replicas: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Scale-set controller replicas; above 1 the chart turns leader election on.",
    )


class ControllerConfig(ConfigModel):
    """The actions-runner-controller deployment."""

    replicas: int = Field(default=2, ge=1, le=5, description="Controller replicas (2+ is HA).")
    sync_period: str = Field(
        default="1m",
        pattern=r"^\d+(s|m|h)$",
        description="How often the controller reconciles runners and polls GitHub (API rate!).",
    )
    service_monitor: bool = Field(
        default=False,
        description="Create a Prometheus Operator ServiceMonitor for the controller's metrics "
        "(port 8443 behind kube-rbac-proxy; needs the monitoring.coreos.com CRDs in the cluster).",
    )
    log_format: Literal["text", "json"] = Field(
        default="json", description="Controller log format."
    )
    webhook_server: bool = Field(
        default=False,
        description="Run ARC's GitHub webhook server for webhook-driven scale-up, behind an "
        "internet-facing NLB that admits only webhookAllowedCidrs; its secret is "
        "`arc-eks:githubWebhookSecret` (a Pulumi secret).",
    )
    webhook_allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="Who may reach the webhook server: GitHub.com's `hooks` ranges from "
        "https://api.github.com/meta, or your GHES egress addresses. Required with webhookServer.",
    )
    webhook_certificate_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
        description="ACM certificate for TLS on the NLB (port 443). Without it the server listens "
        "on plain HTTP port 80 (deliveries stay HMAC-signed, but their content is readable).",
    )

    webhook_hostname: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="The DNS name GitHub delivers webhooks to, covered by webhookCertificateArn "
        "(required with it: GitHub verifies TLS against this name, never the NLB's own "
        "*.elb.amazonaws.com name). The webhook URL output is https://<this>/.",
    )
    webhook_hosted_zone_id: str | None = Field(
        default=None,
        pattern=r"^Z[A-Z0-9]{1,31}$",
        description="Route 53 public hosted zone in which the stack creates an alias record "
        "webhookHostname -> the webhook NLB. Without it, point the name at the NLB yourself "
        "(output webhookLoadBalancerHostname).",
    )

    @field_validator("webhook_allowed_cidrs")
    @classmethod
    def _webhook_cidrs(cls, value: list[str]) -> list[str]:
        return narrow_ipv4_cidrs(value)

    @model_validator(mode="after")
    def _webhook_exposure(self) -> ControllerConfig:
        if self.webhook_server and not self.webhook_allowed_cidrs:
            raise ValueError(
                "webhookAllowedCidrs with webhookServer: GitHub's hooks ranges "
                "(https://api.github.com/meta) or your GHES egress addresses"
            )
        webhook_only = (
            self.webhook_allowed_cidrs
            or self.webhook_certificate_arn
            or self.webhook_hostname
            or self.webhook_hosted_zone_id
        )
        if not self.webhook_server and webhook_only:
            raise ValueError(
                "webhookAllowedCidrs / webhookCertificateArn / webhookHostname / "
                "webhookHostedZoneId only with webhookServer: true"
            )
        if self.webhook_certificate_arn and not self.webhook_hostname:
            raise ValueError(
                "webhookHostname with webhookCertificateArn: the name the certificate covers, "
                "which GitHub is given as the webhook URL"
            )
        if self.webhook_hosted_zone_id and not self.webhook_hostname:
            raise ValueError("webhookHostname with webhookHostedZoneId (the record to create)")
        return self


class BucketAllowance(ConfigModel):
    """A bucket a team may be granted, as the platform team allows it."""

    bucket: BucketName
    account_id: AccountId | None = Field(
        default=None,
        description="Owner account when the bucket lives in another account; the stack then "
        "exports the bucket-policy statement its owner must add.",
    )


GitHubLogin = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$",
        description="A GitHub organization, user or enterprise slug (letters, digits, -).",
    ),
]
RunnerGroupName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$",
        description="A runner group name (letters, digits, space, . _ -; 1-64 characters).",
    ),
]


class TeamAllowance(ConfigModel):
    """What the platform allows one team's pools to reach."""

    organizations: list[GitHubLogin] = Field(
        default_factory=list,
        max_length=20,
        description="Organizations (and users) the team's pools may register in: an "
        "`organization` scope, or a `repository` scope whose owner is one of these.",
    )
    enterprises: list[GitHubLogin] = Field(
        default_factory=list,
        max_length=5,
        description="Enterprises the team's pools may register in (enterprise runners need a PAT).",
    )
    runner_groups: list[RunnerGroupName] = Field(
        default_factory=list,
        max_length=20,
        description="Runner groups the team's pools may join (they decide which repositories "
        "may send jobs). Empty: the pools join the default group and may not name one. A group "
        "belongs to one team.",
    )
    s3_buckets: list[BucketAllowance] = Field(
        default_factory=list,
        max_length=50,
        description="Buckets this team's pools may be granted.",
    )
    max_runners_per_pool: int = Field(
        default=20, ge=1, le=500, description="Ceiling on a pool's autoscaling max in this stack."
    )


# Registries of the platform's own pins (arc_eks/versions.py): Docker Hub (summerwind runner,
# docker:dind) and ghcr.io (the kaniko fork).
PIN_REGISTRIES = ("docker.io", "ghcr.io")


class ImagesConfig(ConfigModel):
    """Registries that pools' `runnerImage` and `dindImage` may come from."""

    allowed_registries: list[
        Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$")]
    ] = Field(
        default_factory=lambda: list(PIN_REGISTRIES),
        max_length=50,
        description="Registry hosts (e.g. docker.io, ghcr.io, 111122223333.dkr.ecr.eu-west-1."
        "amazonaws.com). Default: the registries of the platform's pinned images; the ECR of the "
        "accounts in aws:allowedAccountIds, in the stack's region, is always allowed.",
    )


# Upstream registries the ECR pull-through cache can serve for the platform, by the name ECR
# gives them (CreatePullThroughCacheRule `upstreamRegistry`). Docker Hub and GitHub Container
# Registry need credentials; Quay and the Kubernetes registry do not.
# Ref: https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html
ImageCacheUpstream = Literal["docker-hub", "github-container-registry", "quay", "k8s"]


def _default_upstreams() -> list[ImageCacheUpstream]:
    return ["docker-hub", "quay", "k8s"]


# The dind mirror's private networks: each at most a /24.
MIRROR_CIDR_MIN_PREFIX = 24
# ECR rule prefixes are at most 30 characters; the longest suffix is `/docker-hub` (11).
IMAGE_CACHE_PREFIX_MAX = 19


class ImageCacheConfig(ConfigModel):
    """Platform images pulled through this account's ECR (pull-through cache rules) instead of
    from Docker Hub and the other public registries directly. Upstream credentials are Pulumi
    secrets: `arc-eks:imageCacheDockerHubToken` (docker-hub) and `arc-eks:imageCacheGithubToken`
    (github-container-registry). Needs aws:region and exactly one aws:allowedAccountIds."""

    enabled: bool = Field(
        default=False,
        description="Pull platform images through the ECR cache (the shipped staging and prod "
        "stacks turn it on). Off by default so that an existing stack does not need Docker Hub "
        "credentials to upgrade.",
    )
    upstreams: list[ImageCacheUpstream] = Field(
        default_factory=_default_upstreams,
        min_length=1,
        max_length=4,
        description="Upstream registries to cache (a pull-through cache rule each). Must include "
        "the registries of the platform's pinned images (docker-hub, quay, k8s).",
    )
    repository_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
        max_length=19,
        description="First part of the cached repositories' names (`<this>/docker-hub/...`): "
        "pull-through cache rules are per account and region, so two stacks sharing both need "
        "different prefixes. Default: arc-eks-<environment> (environments of up to 11 "
        "characters; set a shorter prefix for longer ones).",
    )
    docker_hub_username: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$",
        description="Docker Hub user of the access token in arc-eks:imageCacheDockerHubToken "
        "(required with the docker-hub upstream). Use an account and a read-only public-repo "
        "token: every node can pull through it.",
    )
    github_username: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$",
        description="GitHub user of the token in arc-eks:imageCacheGithubToken (required with "
        "the github-container-registry upstream; a token with read:packages only).",
    )
    dind_registry_mirror: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?/?$",
        description="Docker Hub mirror of your organisation for the jobs' own pulls in dind "
        "pools (dockerd --registry-mirror): https://host[:port], the root of a host (dockerd "
        "uses a mirror for Docker Hub only, and only at a host's root, so the ECR cache cannot "
        "be one). Applies whether or not `enabled` is set.",
    )
    dind_registry_mirror_cidrs: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Private IPv4 networks (each at most a /24) the mirror's address is in, when "
        "it is not public: runner pods of dind pools may then reach them on the mirror's port "
        "only (the runner NetworkPolicies otherwise deny every private address).",
    )
    untagged_expiry_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="Cached images that lost their tag are deleted after this many days "
        "(lifecycle policy of every cached repository).",
    )

    @field_validator("upstreams")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each upstream once")
        return value

    @field_validator("dind_registry_mirror_cidrs")
    @classmethod
    def _mirror_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise ValueError(
                    f"IPv4 networks such as 10.20.30.0/28 (the network address, then /prefix); "
                    f"{cidr!r} is not one"
                ) from None
            if network.prefixlen < MIRROR_CIDR_MIN_PREFIX:
                raise ValueError(
                    f"narrow networks (at most a /{MIRROR_CIDR_MIN_PREFIX}): {cidr} admits "
                    f"{network.num_addresses} addresses; list the mirror's own"
                )
            if network.overlaps(ipaddress.IPv4Network("169.254.0.0/16")):
                raise ValueError(f"no link-local network ({cidr}: the instance metadata service)")
        return value

    @model_validator(mode="after")
    def _mirror_for_cidrs(self) -> ImageCacheConfig:
        if self.dind_registry_mirror_cidrs and not self.dind_registry_mirror:
            raise ValueError("dindRegistryMirrorCidrs only with dindRegistryMirror")
        if self.dind_registry_mirror and not 1 <= self.dind_registry_mirror_port <= 65535:
            raise ValueError("a dindRegistryMirror port between 1 and 65535")
        return self

    @property
    def dind_registry_mirror_port(self) -> int:
        """The mirror's TCP port (443 unless the URL names one)."""
        host = (self.dind_registry_mirror or "").removeprefix("https://").rstrip("/")
        _, colon, port = host.partition(":")
        return int(port) if colon else 443


class StackConfig(ConfigModel):
    """Everything a stack file sets under `arc-eks:`."""

    environment: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,15}$",
        description="The environment name (the stack name): dev, staging, prod. Team files "
        "select pools by it.",
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="VPC settings.")
    cluster: ClusterConfig = Field(description="EKS control plane settings.")
    node_group: NodeGroupConfig = Field(
        default_factory=NodeGroupConfig,
        description="The system node group: controller, cert-manager, cluster-autoscaler, "
        "CoreDNS and add-ons; runner pods never run there.",
    )
    runner_nodes: RunnerNodesConfig = Field(
        default_factory=RunnerNodesConfig,
        description="The runner node groups: one per isolation class, tainted, scaling from zero.",
    )
    github: GitHubConfig = Field(default_factory=GitHubConfig, description="GitHub auth.")
    controller: ControllerConfig = Field(
        default_factory=ControllerConfig, description="actions-runner-controller."
    )
    scale_sets: ScaleSetsConfig = Field(
        default_factory=ScaleSetsConfig,
        description="Runner scale sets: the default pool mode and the scale-set controller.",
    )
    teams: dict[TeamName, TeamAllowance] = Field(
        default_factory=dict,
        description="Teams allowed to have pools in this stack, with what they may reach.",
    )
    images: ImagesConfig = Field(
        default_factory=ImagesConfig, description="Where runner images may come from."
    )
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="Metrics, scraping and alert rules (docs/monitoring.md).",
    )
    image_cache: ImageCacheConfig = Field(
        default_factory=ImageCacheConfig,
        description="Platform images through the account's ECR pull-through cache.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="AWS tags on every taggable resource."
    )
    policies: PolicyPackConfig = Field(
        default_factory=PolicyPackConfig, description="Enforcement of the policy pack."
    )

    @model_validator(mode="after")
    def _one_service_monitor(self) -> StackConfig:
        # The chart's ServiceMonitor scrapes through kube-rbac-proxy; monitoring turns the proxy
        # off and brings its own monitoring objects (arc_eks/builders/monitoring.py).
        if self.controller.service_monitor and self.monitoring.mode != "none":
            raise ValueError(
                "controller.serviceMonitor: false with monitoring.mode "
                f"{self.monitoring.mode!r} (monitoring creates the controller's ServiceMonitor)"
            )
        return self

    @model_validator(mode="after")
    def _image_cache_settings(self) -> StackConfig:
        # Checked only where the cache is on (dev stacks need no Docker Hub account).
        if not self.image_cache_enabled:
            return self
        cache = self.image_cache
        if "docker-hub" in cache.upstreams and cache.docker_hub_username is None:
            raise ValueError(
                "imageCache.dockerHubUsername with the docker-hub upstream: ECR pulls from Docker "
                "Hub only with credentials (the token is the secret arc-eks:imageCacheDockerHubToken)"
            )
        if "github-container-registry" in cache.upstreams and cache.github_username is None:
            raise ValueError(
                "imageCache.githubUsername with the github-container-registry upstream (the token "
                "is the secret arc-eks:imageCacheGithubToken)"
            )
        if len(self.image_cache_prefix) > IMAGE_CACHE_PREFIX_MAX:
            raise ValueError(
                f"imageCache.repositoryPrefix of at most {IMAGE_CACHE_PREFIX_MAX} characters: the "
                f"default {self.image_cache_prefix!r} is too long for ECR's 30-character rule "
                "prefix (`<prefix>/docker-hub`)"
            )
        return self

    @property
    def image_cache_prefix(self) -> str:
        """The cached repositories' common prefix (ECR rule prefixes are `<this>/<upstream>`)."""
        return self.image_cache.repository_prefix or f"arc-eks-{self.environment}"

    @property
    def image_cache_enabled(self) -> bool:
        """Whether the ECR pull-through cache is on."""
        return self.image_cache.enabled

    @model_validator(mode="after")
    def _runner_groups_belong_to_one_team(self) -> StackConfig:
        owners: dict[str, str] = {}
        for team, allowance in sorted(self.teams.items()):
            for group in allowance.runner_groups:
                other = owners.setdefault(group.lower(), team)
                if other != team:
                    raise ValueError(
                        f"teams.{team}.runnerGroups: {group!r} is also team {other!r}'s; a runner "
                        "group belongs to one team (its repositories can send jobs to every "
                        "runner in it)"
                    )
        return self

    @model_validator(mode="after")
    def _webhook_tls_outside_dev(self) -> StackConfig:
        # An internet-facing webhook server without TLS: deliveries (job and repository names)
        # cross the internet in clear text. Tolerated (with a warning) in dev only.
        controller = self.controller
        if (
            controller.webhook_server
            and not controller.webhook_certificate_arn
            and self.environment not in PLAIN_HTTP_WEBHOOK_ENVIRONMENTS
        ):
            raise ValueError(
                "controller.webhookCertificateArn and controller.webhookHostname with "
                f"controller.webhookServer in {self.environment!r}: the webhook server is open to "
                "the internet and must use TLS (plain HTTP is accepted in dev only)"
            )
        return self
