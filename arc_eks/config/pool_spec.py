"""One runner pool as a team declares it (after per-environment overrides): the pydantic model.

Field descriptions are the reference documentation (docs/runner-pools.md). Rules that need the
stack (the bucket allowlist, the runner ceiling, the node type, the team) read it from the
validation context that `arc_eks.config.teams` passes in.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from arc_eks import versions
from arc_eks.builders.storage import WORK_VOLUME_STORAGE_CLASS
from arc_eks.capacity import NODE_CAPACITY
from arc_eks.config.base import ConfigModel
from arc_eks.config.quantities import cpu_millis, memory_mib
from arc_eks.config.stack import BucketName, TeamAllowance

# Per-node DaemonSets take their requests off every node before a runner pod can land: aws-node
# (VPC CNI, 25m), kube-proxy (100m) and the EBS CSI node plugin. Ref: the EKS add-on manifests.
DAEMONSET_RESERVED_CPU_MILLIS = 150
DAEMONSET_RESERVED_MEMORY_MIB = 256

# Pool names become Kubernetes names; ARC appends two 5-character suffixes to runner pod names,
# so a pool name stays well under the 63-character DNS label limit.
POOL_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"
EnvironmentName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9-]{1,15}$", description="An environment (stack) name."),
]

_REFUSED_DOCKER = re.compile(r"^(dood|docker-outside-of-docker|host|hostpath|socket|docker\.sock)$")
_DOOD_REASON = (
    "Docker-outside-of-Docker is refused: EKS nodes run containerd and have no docker.sock to "
    "share, and a daemon shared by every job on a node leaks images, build caches and registry "
    "credentials between jobs and teams; use dind (a per-pod daemon), kaniko or kubernetes"
)


class DockerMode(StrEnum):
    """How jobs get containers. See docs/runner-pools.md#docker-modes."""

    DIND = "dind"
    NONE = "none"
    KANIKO = "kaniko"
    KUBERNETES = "kubernetes"


class Scope(ConfigModel):
    """Where the runners register: exactly one of enterprise, organization or repository."""

    enterprise: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$", description="Enterprise slug."
    )
    organization: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$", description="Organization login."
    )
    repository: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$",
        description="Repository as owner/name.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Scope:
        chosen = [k for k in ("enterprise", "organization", "repository") if getattr(self, k)]
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of enterprise, organization or repository "
                f"(got {', '.join(chosen) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("enterprise", "organization", "repository") if getattr(self, k))

    @property
    def value(self) -> str:
        return str(getattr(self, self.kind))


class Quantities(ConfigModel):
    """CPU and memory, as Kubernetes quantities."""

    cpu: str = Field(description="CPU, e.g. 500m or 1.5.")
    memory: str = Field(description="Memory, e.g. 1Gi or 512Mi.")

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: Any) -> str:
        text = str(value) if isinstance(value, int | float) else value
        cpu_millis(text)
        return str(text)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        memory_mib(value)
        return value

    @property
    def cpu_millis(self) -> float:
        return cpu_millis(self.cpu)

    @property
    def memory_mib(self) -> float:
        return memory_mib(self.memory)


class Resources(ConfigModel):
    """Requests (what the scheduler reserves) and limits (the ceiling) of one container."""

    requests: Quantities = Field(description="Reserved CPU and memory.")
    limits: Quantities = Field(description="CPU and memory ceiling; each at least the request.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        bad = [
            f"requests.{key} ({getattr(self.requests, key)}) <= limits.{key} "
            f"({getattr(self.limits, key)})"
            for key, measure in (("cpu", cpu_millis), ("memory", memory_mib))
            if measure(getattr(self.requests, key)) > measure(getattr(self.limits, key))
        ]
        if bad:
            raise ValueError("; ".join(bad))
        return self


RUNNER_RESOURCES_DEFAULT = Resources(
    requests=Quantities(cpu="500m", memory="1Gi"), limits=Quantities(cpu="1500m", memory="4Gi")
)
DOCKER_RESOURCES_DEFAULT = Resources(
    requests=Quantities(cpu="250m", memory="512Mi"), limits=Quantities(cpu="1500m", memory="4Gi")
)


class PercentageRunnersBusy(ConfigModel):
    """Scale on the share of busy runners. Needs min >= 1: with no runner there is no share."""

    type: Literal["PercentageRunnersBusy"]
    scale_up_threshold: float = Field(
        default=0.75, gt=0, le=1, description="Scale out above this busy share."
    )
    scale_down_threshold: float = Field(
        default=0.25, ge=0, lt=1, description="Scale in below this busy share."
    )
    scale_up_factor: float = Field(default=2.0, gt=1, le=10, description="Multiply on scale out.")
    scale_down_factor: float = Field(default=0.5, gt=0, lt=1, description="Multiply on scale in.")
    scale_up_adjustment: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Add this many runners on scale out, instead of scaleUpFactor.",
    )
    scale_down_adjustment: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Remove this many runners on scale in, instead of scaleDownFactor.",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> PercentageRunnersBusy:
        if self.scale_down_threshold >= self.scale_up_threshold:
            raise ValueError(
                f"scaleDownThreshold ({self.scale_down_threshold}) < scaleUpThreshold "
                f"({self.scale_up_threshold})"
            )
        # ARC refuses an autoscaler that sets both (the pool would never scale).
        for way in ("up", "down"):
            if {f"scale_{way}_factor", f"scale_{way}_adjustment"} <= self.model_fields_set:
                raise ValueError(
                    f"either scale{way.title()}Factor or scale{way.title()}Adjustment, not both"
                )
        return self


class WebhookOnly(ConfigModel):
    """No polling metric: the pool grows only by webhook scale-up (one runner per queued job,
    kept for webhookScaleUpDuration) and shrinks back to min. Needs the stack's webhook server;
    min 0 is fine (a queued job's webhook starts the first runner)."""

    type: Literal["WebhookOnly"]


class TotalNumberOfQueuedAndInProgressWorkflowRuns(ConfigModel):
    """Scale on queued + running workflow runs of the listed repositories; can scale from 0."""

    type: Literal["TotalNumberOfQueuedAndInProgressWorkflowRuns"]
    repository_names: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")]] = Field(
        default_factory=list,
        description="Repository names (without owner) whose runs count; required unless the "
        "pool's scope is a repository.",
    )


Metric = Annotated[
    PercentageRunnersBusy | TotalNumberOfQueuedAndInProgressWorkflowRuns | WebhookOnly,
    Field(discriminator="type"),
]


class Schedule(ConfigModel):
    """A recurring window with a different minimum (e.g. fewer warm runners at weekends)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$", description="A label for the window.")
    start: datetime = Field(description="Window start, ISO 8601 with a UTC offset.")
    end: datetime = Field(description="Window end, ISO 8601 with a UTC offset.")
    recurrence: Literal["Daily", "Weekly", "Monthly", "Yearly"] | None = Field(
        default=None, description="Repeat the window; omit for a one-off."
    )
    until: datetime | None = Field(default=None, description="Last recurrence (optional).")
    min: int = Field(ge=0, le=500, description="Minimum runners inside the window.")

    @model_validator(mode="after")
    def _window(self) -> Schedule:
        stamps = [self.start, self.end] + ([self.until] if self.until else [])
        if any(s.tzinfo is None for s in stamps):
            raise ValueError("start/end/until with a UTC offset, e.g. 2026-01-03T00:00:00+09:00")
        if self.end <= self.start:
            raise ValueError(f"end ({self.end.isoformat()}) after start ({self.start.isoformat()})")
        return self


def _metric_default() -> PercentageRunnersBusy:
    return PercentageRunnersBusy(type="PercentageRunnersBusy")


class Autoscaling(ConfigModel):
    """The HorizontalRunnerAutoscaler of the pool."""

    min: int = Field(default=1, ge=0, le=500, description="Fewest runners (warm capacity).")
    max: int = Field(
        default=5, ge=1, le=500, description="Most runners; at most the team's maxRunnersPerPool."
    )
    metric: Metric = Field(default_factory=_metric_default, description="What drives scaling.")
    scale_down_delay_seconds: int = Field(
        default=300, ge=0, le=86400, description="Keep scaled-out runners this long."
    )
    schedules: list[Schedule] = Field(default_factory=list, description="Minimum overrides.")
    webhook_scale_up_duration: str = Field(
        default="30m",
        pattern=r"^\d+(s|m|h)$",
        description="How long a webhook-triggered extra runner is kept (when the stack runs "
        "the controller's webhook server).",
    )

    @field_validator("metric", mode="before")
    @classmethod
    def _metric_spelling(cls, value: Any) -> Any:
        # ARC ignores a metric type it does not know: the pool would silently never scale.
        if (
            isinstance(value, dict)
            and value.get("type") == "TotalNumberOfQueuedAndInProgressWorkflows"
        ):
            raise ValueError(
                "type TotalNumberOfQueuedAndInProgressWorkflowRuns (the name ARC knows; with "
                "...Workflows the autoscaler computes nothing and the pool never scales)"
            )
        return value

    @field_validator("max")
    @classmethod
    def _team_ceiling(cls, value: int, info: ValidationInfo) -> int:
        allowance = (info.context or {}).get("allowance")
        if isinstance(allowance, TeamAllowance) and value > allowance.max_runners_per_pool:
            raise ValueError(
                f"at most {allowance.max_runners_per_pool}, the team's maxRunnersPerPool in "
                "this stack (ask the platform team to raise it)"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) <= max ({self.max})")
        busy = isinstance(self.metric, PercentageRunnersBusy)
        never_again = (
            "with metric PercentageRunnersBusy a pool at 0 runners can never scale up again (no "
            "runner, no busy share); keep min >= 1 or use TotalNumberOfQueuedAndInProgressWorkflowRuns"
        )
        if busy and self.min == 0:
            raise ValueError(f"min >= 1: {never_again}")
        for i, schedule in enumerate(self.schedules):
            if busy and schedule.min == 0:
                raise ValueError(f"schedules[{i}].min >= 1: {never_again}")
            if schedule.min > self.max:
                raise ValueError(f"schedules[{i}].min ({schedule.min}) <= max ({self.max})")
        return self

    @model_validator(mode="after")
    def _webhook_only_needs_the_server(self, info: ValidationInfo) -> Autoscaling:
        # Known for the current stack only (other environments are checked by their own stack).
        webhook_server = (info.context or {}).get("webhook_server")
        if isinstance(self.metric, WebhookOnly) and webhook_server is False:
            raise ValueError(
                "metric WebhookOnly only where the stack runs the webhook server "
                "(controller.webhookServer: true); without it nothing ever adds a runner"
            )
        return self


class S3Grant(ConfigModel):
    """Access to one bucket (or one prefix of it) for the pool's IAM role."""

    bucket: BucketName = Field(description="Bucket name; must be in the team's allowlist.")
    prefix: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9!_.()'-]+/)*$",
        description="Key prefix ending in '/', e.g. payments/ (empty: the whole bucket). No "
        "wildcards.",
    )
    access: Literal["read", "write", "readwrite"] = Field(
        description="read: get and list; write: put (no read, no delete); readwrite: both plus "
        "delete."
    )
    kms_key_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
        description="The bucket's SSE-KMS key (key ARN, not an alias).",
    )
    object_acl: Literal["bucket-owner-full-control"] | None = Field(
        default=None,
        description="For another account's bucket that still has ACLs enabled (Object Ownership "
        "'object writer' or 'bucket owner preferred'): allow uploads and s3:PutObjectAcl with "
        "exactly this canned ACL, so the bucket owner gets full control of the objects. Not "
        "needed with 'bucket owner enforced' (ACLs disabled, the owner owns every object). "
        "write/readwrite only.",
    )

    @field_validator("bucket")
    @classmethod
    def _allowlisted(cls, value: str, info: ValidationInfo) -> str:
        allowance = (info.context or {}).get("allowance")
        if isinstance(allowance, TeamAllowance):
            allowed = sorted(b.bucket for b in allowance.s3_buckets)
            if value not in allowed:
                raise ValueError(
                    "a bucket in this team's allowlist for this stack "
                    f"({', '.join(allowed) or 'none'}); the platform team sets it in arc-eks:teams"
                )
        return value

    @model_validator(mode="after")
    def _acl_only_with_writes(self) -> S3Grant:
        if self.object_acl is not None and self.access == "read":
            raise ValueError(
                "objectAcl only with access write or readwrite (it applies to uploads)"
            )
        return self


class EcrGrant(ConfigModel):
    """Pull or push to one ECR repository of the cluster's account, named under the team."""

    repository: str = Field(
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$",
        description="Repository name, starting with '<team>/'.",
    )
    access: Literal["pull", "push"] = Field(description="push includes pull.")

    @field_validator("repository")
    @classmethod
    def _own_namespace(cls, value: str, info: ValidationInfo) -> str:
        team = (info.context or {}).get("team")
        if team and not value.startswith(f"{team}/"):
            raise ValueError(f"a repository under '{team}/' (the team's own ECR namespace)")
        return value


class WorkVolume(ConfigModel):
    """The per-runner ephemeral volume of container mode kubernetes (job pods share it)."""

    storage_class_name: str = Field(
        default=WORK_VOLUME_STORAGE_CLASS,
        pattern=r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$",
        description="StorageClass; default: the platform's encrypted gp3 class (EBS CSI).",
    )
    size: str = Field(default="10Gi", description="Volume size, e.g. 10Gi.")

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        if memory_mib(value) < 1024:
            raise ValueError("at least 1Gi")
        return value


def _pinned_image(value: str) -> str:
    if "@sha256:" in value:
        return value
    last = value.rsplit("/", 1)[-1]
    if ":" not in last:
        raise ValueError("an image with a pinned tag or digest (no tag means latest)")
    if last.rsplit(":", 1)[1] == "latest":
        raise ValueError("a pinned tag or digest, not latest (it changes under running pools)")
    return value


# Label and annotation keys the platform, Kubernetes, ARC and the autoscaler own: a team's own
# metadata never sets them (a copied `arc-eks.io/pool` label would match another pool's network
# policy; ARC's keys drive its controllers). Checked on the key's prefix (before "/") and, for
# unprefixed keys, on the name itself.
RESERVED_KEY_DOMAINS = (
    "arc-eks.io",
    "kubernetes.io",
    "k8s.io",
    "eks.amazonaws.com",
    "amazonaws.com",
    "actions.summerwind.dev",
    "actions.github.com",
    "actions-runner-controller",
    "helm.sh",
    "pulumi.com",
)
# Unprefixed labels ARC sets on runners and their pods (actions-runner-controller v0.27.6).
RESERVED_UNPREFIXED_KEYS = frozenset(
    {
        "actions-runner",
        "pod-template-hash",
        "runner-deployment-name",
        "runner-template-hash",
        "runnerset-name",
        "sync-time",
        "runner-scale-set-id",
        "runner-scale-set-name",
    }
)
# Kubernetes qualified names: optional DNS-subdomain prefix (<= 253) and "/", then a name of at
# most 63 characters: alphanumerics, "-", "_", "." inside, alphanumeric at both ends.
_KEY_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_KEY_PREFIX = re.compile(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")
MAX_METADATA_ENTRIES = 20
MAX_ANNOTATION_VALUE_CHARS = 1024


def _metadata_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if not _KEY_NAME.match(name) or (
        prefix and (len(prefix) > 253 or not _KEY_PREFIX.match(prefix))
    ):
        return (
            "a key of [prefix/]name: name of 1-63 letters, digits, '-', '_', '.' starting and "
            "ending with a letter or digit; prefix a lowercase DNS name"
        )
    domain = prefix or name
    if any(domain == d or domain.endswith(f".{d}") for d in RESERVED_KEY_DOMAINS) or (
        not prefix and name in RESERVED_UNPREFIXED_KEYS
    ):
        return (
            "a key of your own: the platform, Kubernetes and ARC own "
            f"{', '.join(RESERVED_KEY_DOMAINS)} (and their subdomains) and ARC's runner labels"
        )
    return None


class RunnerMetadata(ConfigModel):
    """The team's own labels and annotations on the pool's runner objects (RunnerDeployment,
    HorizontalRunnerAutoscaler and the runner pods), e.g. an owner or a cost centre."""

    labels: dict[str, str] = Field(
        default_factory=dict,
        description=f"Labels: keys [prefix/]name, values up to 63 characters; at most "
        f"{MAX_METADATA_ENTRIES}. Platform, Kubernetes and ARC keys are refused.",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description=f"Annotations: same key rules, values up to {MAX_ANNOTATION_VALUE_CHARS} "
        f"characters; at most {MAX_METADATA_ENTRIES}.",
    )

    @field_validator("labels", "annotations")
    @classmethod
    def _keys_and_values(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if len(value) > MAX_METADATA_ENTRIES:
            raise ValueError(f"at most {MAX_METADATA_ENTRIES} entries")
        for key, item in value.items():
            problem = _metadata_key_problem(key)
            if problem:
                raise ValueError(f"{problem} (key {key!r})")
            if info.field_name == "labels" and not _LABEL_VALUE.match(item):
                raise ValueError(
                    f"label {key!r}: a value of at most 63 letters, digits, '-', '_', '.', "
                    "starting and ending with a letter or digit"
                )
            if len(item) > MAX_ANNOTATION_VALUE_CHARS:
                raise ValueError(
                    f"annotation {key!r}: a value of at most {MAX_ANNOTATION_VALUE_CHARS} characters"
                )
        return value


class PoolSpec(ConfigModel):
    """One runner pool as it exists in one environment (after overrides)."""

    name: str = Field(
        pattern=POOL_NAME_PATTERN,
        description="Pool name: lowercase DNS label, 1-40 chars, unique in the team per "
        "environment. It names the RunnerDeployment, the ServiceAccount and the IAM role.",
    )
    scope: Scope = Field(description="Where runners register (exactly one key).")
    group: str | None = Field(
        default=None, min_length=1, max_length=64, description="Runner group (not for repos)."
    )
    labels: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]] = Field(
        default_factory=list, description="Runner labels for `runs-on` (self-hosted is implied)."
    )
    docker: DockerMode = Field(
        default=DockerMode.DIND, description="dind | none | kaniko | kubernetes"
    )
    runner_image: str | None = Field(
        default=None,
        description="Runner image, pinned by tag or digest. Default: the platform's pinned "
        "summerwind/actions-runner. Required for kaniko (the image from images/kaniko-runner).",
    )
    runner_uid: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="uid of the runner user in runnerImage; the pod's fsGroup follows it, so "
        "the IRSA token and the shared volumes are readable by the runner (ubuntu-20.04-based "
        "images: 1000; 22.04/24.04: 1001). Default: 1001, the platform image's.",
    )
    docker_gid: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="gid of the `docker` group in runnerImage; the dind daemon gives its socket "
        "to it (dind only). Default: 121, the platform image's.",
    )
    dind_image: str | None = Field(
        default=None,
        description="The dind sidecar's image, pinned by tag or digest (dind only). Keep its "
        "Docker version equal to the Docker CLI of runnerImage: a daemon newer than the client "
        "is the usual cause of API-version errors. Default: the platform's pinned docker:*-dind.",
    )
    docker_resources: Resources | None = Field(
        default=None, description="The dind sidecar's resources (dind only)."
    )
    resources: Resources = Field(
        default=RUNNER_RESOURCES_DEFAULT,
        validate_default=True,  # the fit check counts the sidecar even with default resources
        description="The runner container's resources.",
    )
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Autoscaling.")
    s3: list[S3Grant] = Field(default_factory=list, description="S3 access of the pool's role.")
    ecr: list[EcrGrant] = Field(default_factory=list, description="ECR access of the pool's role.")
    work_volume: WorkVolume | None = Field(
        default=None, description="Work volume (docker: kubernetes only; defaults apply)."
    )
    metadata: RunnerMetadata = Field(
        default_factory=RunnerMetadata,
        description="The team's own labels and annotations on the runner objects.",
    )

    @field_validator("docker", mode="before")
    @classmethod
    def _refuse_dood(cls, value: Any) -> Any:
        if isinstance(value, str) and _REFUSED_DOCKER.match(value.strip().lower()):
            raise ValueError(_DOOD_REASON)
        return value

    @field_validator("runner_image")
    @classmethod
    def _pinned(cls, value: str | None) -> str | None:
        return None if value is None else _pinned_image(value)

    @field_validator("dind_image")
    @classmethod
    def _pinned_daemon(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _pinned_image(value)
        # docker's floating tags (dind, stable, rc, ...) move with every release: a version tag
        # (28.0.4-dind) or a digest keeps the daemon equal to the runner image's CLI.
        tag = value.rsplit("/", 1)[-1].partition("@")[0].rpartition(":")[2]
        if "@sha256:" not in value and not tag[:1].isdigit():
            raise ValueError(
                "a version tag such as docker:28.0.4-dind or a digest (a tag like dind or stable "
                "moves with every Docker release)"
            )
        return value

    @field_validator("resources")
    @classmethod
    def _fits_one_node(cls, value: Resources, info: ValidationInfo) -> Resources:
        # The pod's request is the runner's plus the dind sidecar's: both must fit on one node.
        instance_type = (info.context or {}).get("instance_type", "t3a.large")
        node = NODE_CAPACITY[instance_type]
        cpu, memory = value.requests.cpu_millis, value.requests.memory_mib
        what = "runner"
        if info.data.get("docker") == DockerMode.DIND:
            sidecar = info.data.get("docker_resources") or DOCKER_RESOURCES_DEFAULT
            cpu += sidecar.requests.cpu_millis
            memory += sidecar.requests.memory_mib
            what = "runner + docker sidecar"
        cpu_room = node.allocatable_cpu_millis - DAEMONSET_RESERVED_CPU_MILLIS
        memory_room = node.allocatable_memory_mib - DAEMONSET_RESERVED_MEMORY_MIB
        if cpu > cpu_room or memory > memory_room:
            raise ValueError(
                f"requests that fit one {instance_type} ({what} request {cpu:.0f}m CPU and "
                f"{memory:.0f}Mi memory; a node has {cpu_room}m and {memory_room}Mi left after "
                "system reservations and DaemonSets), or the runner pods stay Pending"
            )
        return value

    @model_validator(mode="after")
    def _default_max_within_ceiling(self, info: ValidationInfo) -> PoolSpec:
        # An explicit max is checked on its own key; a default one (5) is checked here.
        allowance = (info.context or {}).get("allowance")
        ceiling = allowance.max_runners_per_pool if isinstance(allowance, TeamAllowance) else None
        if (
            ceiling is not None
            and "max" not in self.autoscaling.model_fields_set
            and self.autoscaling.max > ceiling
        ):
            raise ValueError(
                f"autoscaling.max set explicitly: the default ({self.autoscaling.max}) is above "
                f"the team's maxRunnersPerPool ({ceiling}) in this stack"
            )
        return self

    @model_validator(mode="after")
    def _cross_field(self) -> PoolSpec:
        if self.group is not None and self.scope.repository is not None:
            raise ValueError("no group with a repository scope (runner groups are org/enterprise)")
        if self.docker_resources is not None and self.docker != DockerMode.DIND:
            raise ValueError("dockerResources only with docker: dind (there is no sidecar)")
        if self.work_volume is not None and self.docker != DockerMode.KUBERNETES:
            raise ValueError("workVolume only with docker: kubernetes")
        if self.docker != DockerMode.DIND:
            for key, value in (("dindImage", self.dind_image), ("dockerGid", self.docker_gid)):
                if value is not None:
                    raise ValueError(f"{key} only with docker: dind (there is no docker sidecar)")
        if self.runner_image is None:
            # The platform's image: its user and group are known; a different value is a mistake.
            for key, value, known in (
                ("runnerUid", self.runner_uid, versions.RUNNER_IMAGE_UID),
                ("dockerGid", self.docker_gid, versions.RUNNER_IMAGE_DOCKER_GID),
            ):
                if value is not None and value != known:
                    raise ValueError(
                        f"{key} {known} or unset with the platform's runner image (it runs as "
                        f"uid {versions.RUNNER_IMAGE_UID}, docker gid "
                        f"{versions.RUNNER_IMAGE_DOCKER_GID}); set runnerImage for another image"
                    )
        if self.docker == DockerMode.KUBERNETES and (self.s3 or self.ecr):
            raise ValueError(
                "no s3/ecr grants with docker: kubernetes (job pods made by the container hooks "
                "run under the namespace's default ServiceAccount, not the pool's IAM role; use "
                "dind, none or kaniko for AWS access)"
            )
        if self.docker == DockerMode.KANIKO and self.runner_image is None:
            raise ValueError(
                "runnerImage with docker: kaniko (the image built from images/kaniko-runner, "
                "pinned by tag or digest)"
            )
        metric = self.autoscaling.metric
        if (
            isinstance(metric, TotalNumberOfQueuedAndInProgressWorkflowRuns)
            and self.scope.repository is None
            and not metric.repository_names
        ):
            raise ValueError(
                "autoscaling.metric.repositoryNames with an enterprise/organization scope "
                "(TotalNumberOfQueuedAndInProgressWorkflowRuns counts runs of those repositories)"
            )
        return self
