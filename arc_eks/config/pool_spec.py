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
from arc_eks.config.stack import BucketName, RunnerMode, TeamAllowance

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


# Below these a request is a mistake (0 means "no reservation": pods pile onto one node).
MIN_CPU_MILLIS = 10
MIN_MEMORY_MIB = 16
# A runner's work volume; beyond this it is a cost mistake, not a build cache.
MAX_WORK_VOLUME_GIB = 500
# Lists a team file may hold per pool (GitHub itself has no use for more).
MAX_LABELS = 20
MAX_GRANTS = 20
MAX_SCHEDULES = 20
MAX_REPOSITORY_NAMES = 50
# The labels of GitHub-hosted runners (ubuntu-latest, ubuntu-24.04-arm, windows-2022, macos-15,
# macos-14-xlarge, ...): jobs of every team use them, so a pool carrying one would be offered
# jobs that were never meant for it.
GITHUB_HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-", re.IGNORECASE)
# GitHub adds these to every self-hosted runner; they select no team. Labels are case-insensitive.
DEFAULT_RUNNER_LABELS = frozenset(
    {"self-hosted", "linux", "x64", "arm64", "arm", "windows", "macos"}
)


class Quantities(ConfigModel):
    """CPU and memory, as Kubernetes quantities."""

    cpu: str = Field(description="CPU, e.g. 500m or 1.5.")
    memory: str = Field(description="Memory, e.g. 1Gi or 512Mi.")

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: Any) -> str:
        text = (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )
        if cpu_millis(text) < MIN_CPU_MILLIS:
            raise ValueError(f"at least {MIN_CPU_MILLIS}m CPU (a zero request schedules anywhere)")
        return str(text)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if memory_mib(value) < MIN_MEMORY_MIB:
            raise ValueError(
                f"at least {MIN_MEMORY_MIB}Mi memory (a zero request schedules anywhere)"
            )
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
    repository_names: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]] = Field(
        default_factory=list,
        max_length=MAX_REPOSITORY_NAMES,
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


SCALE_SET = "scaleSet"
RUNNER_DEPLOYMENT = "runnerDeployment"
# Autoscaling keys only the HorizontalRunnerAutoscaler has. A scale set's listener is told by
# GitHub how many jobs are assigned to the set and asks for minRunners + that many runners (ARC
# docs, gha-runner-scale-set-controller/README.md): there is no metric to poll, no scale-down delay
# (ephemeral runners end with their job) and no webhook server.
_HRA_ONLY = {
    "metric": "a scale set scales on the jobs GitHub assigns to it (its listener), it polls "
    "no metric",
    "scale_down_delay_seconds": "a scale set's runners are ephemeral and end with their job; "
    "there is no scale-down delay",
    "webhook_scale_up_duration": "a scale set needs no webhook server: GitHub tells its "
    "listener about every job",
}
_NO_SCHEDULES = (
    "a scale set has no scheduled minimums (AutoscalingRunnerSet has only minRunners and "
    "maxRunners, and this platform does not patch minRunners on a timer): keep the pool on mode: "
    "runnerDeployment while it needs schedules, or raise min"
)


class Autoscaling(ConfigModel):
    """How the pool scales: the HorizontalRunnerAutoscaler (runnerDeployment pools) or the
    AutoscalingRunnerSet's minRunners/maxRunners (scaleSet pools: min and max only)."""

    min: int = Field(default=1, ge=0, le=500, description="Fewest runners (warm capacity).")
    max: int = Field(
        default=5, ge=1, le=500, description="Most runners; at most the team's maxRunnersPerPool."
    )
    metric: Metric = Field(default_factory=_metric_default, description="What drives scaling.")
    scale_down_delay_seconds: int = Field(
        default=300, ge=0, le=86400, description="Keep scaled-out runners this long."
    )
    schedules: list[Schedule] = Field(
        default_factory=list, max_length=MAX_SCHEDULES, description="Minimum overrides."
    )
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
    def _what_a_scale_set_has(self, info: ValidationInfo) -> Autoscaling:
        if (info.context or {}).get("mode") != SCALE_SET:
            return self
        alias = {
            "metric": "metric",
            "scale_down_delay_seconds": "scaleDownDelaySeconds",
            "webhook_scale_up_duration": "webhookScaleUpDuration",
        }
        problems = [
            f"no {alias[key]} with mode: scaleSet ({why})"
            for key, why in _HRA_ONLY.items()
            if key in self.model_fields_set
        ]
        if self.schedules:
            problems.append(f"no schedules with mode: scaleSet ({_NO_SCHEDULES})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _bounds(self, info: ValidationInfo) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) <= max ({self.max})")
        # A scale set has no metric: min 0 is fine (GitHub assigns a job, the listener scales up).
        busy = isinstance(self.metric, PercentageRunnersBusy) and (
            (info.context or {}).get("mode") != SCALE_SET
        )
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

    @field_validator("prefix")
    @classmethod
    def _no_dot_segments(cls, value: str) -> str:
        if any(segment in (".", "..") for segment in value.split("/")):
            raise ValueError(
                "a prefix without '.' or '..' segments (S3 keys are not paths: 'a/../b/' is "
                "its own prefix, and reads as if it reached outside 'a/')"
            )
        return value

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
    def _key_of_an_allowed_account(self, info: ValidationInfo) -> S3Grant:
        context = info.context or {}
        allowance = context.get("allowance")
        if self.kms_key_arn is None or not isinstance(allowance, TeamAllowance):
            return self
        key_account = self.kms_key_arn.split(":")[4]
        owner = next((b.account_id for b in allowance.s3_buckets if b.bucket == self.bucket), None)
        own_accounts = tuple(context.get("own_accounts") or ())
        if owner is not None:
            allowed, whose = (owner,), f"the bucket owner's account {owner}"
        elif own_accounts:
            allowed, whose = own_accounts, f"this stack's account ({', '.join(own_accounts)})"
        else:
            raise ValueError(
                "kmsKeyArn of the stack's own account, which the stack does not name: the platform "
                "sets aws:allowedAccountIds in the stack file"
            )
        if key_account not in allowed:
            raise ValueError(f"kmsKeyArn of {whose}; the key is in account {key_account}")
        return self

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
        size = memory_mib(value)
        if size < 1024:
            raise ValueError("at least 1Gi")
        if size > MAX_WORK_VOLUME_GIB * 1024:
            raise ValueError(f"at most {MAX_WORK_VOLUME_GIB}Gi (one runner's scratch volume)")
        return value


# A container image reference: [registry[:port]/]path[:tag][@sha256:<64 hex>].
# Ref: the distribution/reference grammar (docker/distribution reference/regexp.go).
_IMAGE_REFERENCE = re.compile(
    r"^(?:(?P<registry>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def image_registry(value: str) -> str:
    """The registry host of an image reference (Docker Hub when none is named)."""
    match = _IMAGE_REFERENCE.match(value)
    registry = match.group("registry") if match else None
    # The first component is a registry only if it looks like a host (a dot, a port, localhost).
    if registry and ("." in registry or ":" in registry or registry == "localhost"):
        return registry.lower()
    return "docker.io"


def _pinned_image(value: str) -> str:
    match = _IMAGE_REFERENCE.match(value)
    if match is None:
        raise ValueError(
            "an image reference such as registry/name:tag or registry/name@sha256:<64 hex digits>"
        )
    if match.group("digest"):
        return value
    tag = match.group("tag")
    if tag is None:
        raise ValueError("an image with a pinned tag or digest (no tag means latest)")
    if tag == "latest":
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


# Why docker: kubernetes is never a scale set. ARC reads a scale set's GitHub credentials from a
# Secret in the scale set's own namespace, and the container hooks' Role must read Secrets there
# (they keep each job's environment in Secrets), so the runner container, running the team's own
# image, could read credentials that register runners for every team of the organisation.
_NO_KUBERNETES_SCALE_SET = (
    "no docker: kubernetes with mode: scaleSet: a scale set keeps the organisation's GitHub "
    "credentials in a Secret of the pool's namespace, and container mode kubernetes lets the "
    "runner read every Secret there; use mode: runnerDeployment for docker: kubernetes, or "
    "docker: dind, none or kaniko for a scale set (docs/runner-pools.md#scale-sets)"
)


def resolved_mode(pool: Any, default: str) -> Any:
    """A pool's mode: its own, else the stack's default; a docker: kubernetes pool that names no
    mode stays a RunnerDeployment (a scale set cannot run it safely), so a stack whose default
    becomes scaleSet does not refuse every kubernetes pool that never chose a mode."""
    own = pool.get("mode") if isinstance(pool, dict) else None
    if own is not None:
        return own
    docker = pool.get("docker") if isinstance(pool, dict) else None
    if isinstance(docker, str) and docker.strip().lower() == DockerMode.KUBERNETES.value:
        return RUNNER_DEPLOYMENT
    return default


class PoolSpec(ConfigModel):
    """One runner pool as it exists in one environment (after overrides)."""

    name: str = Field(
        pattern=POOL_NAME_PATTERN,
        description="Pool name: lowercase DNS label, 1-40 chars, unique in the team per "
        "environment. It names the RunnerDeployment, the ServiceAccount and the IAM role.",
    )
    mode: RunnerMode | None = Field(
        default=None,
        description="runnerDeployment (legacy ARC: RunnerDeployment + HorizontalRunnerAutoscaler) "
        "or scaleSet (ARC runner scale set, the mode GitHub supports; never with docker: "
        "kubernetes). Default: the stack's scaleSets.defaultMode (runnerDeployment for a "
        "docker: kubernetes pool).",
    )
    scope: Scope = Field(description="Where runners register (exactly one key).")
    group: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        validate_default=True,  # a team with runner groups must name one
        description="Runner group (not for repos); one of the team's runnerGroups.",
    )
    labels: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]] = Field(
        default_factory=list,
        max_length=MAX_LABELS,
        validate_default=True,  # a pool without a label of its own is refused
        description="Runner labels for `runs-on` (self-hosted is implied).",
    )
    docker: DockerMode = Field(
        default=DockerMode.DIND, description="dind | none | kaniko | kubernetes"
    )
    runner_image: str | None = Field(
        default=None,
        description="Runner image, pinned by tag or digest. Default: the platform's pinned "
        "summerwind/actions-runner (runnerDeployment) or ghcr.io/actions/actions-runner "
        "(scaleSet; a scale-set runner image must be built from that one: the pod runs "
        "/home/runner/run.sh). Required for kaniko (the image from images/kaniko-runner).",
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
        "to it (dind only). Default: the platform image's (121; scaleSet: 123).",
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
    s3: list[S3Grant] = Field(
        default_factory=list, max_length=MAX_GRANTS, description="S3 access of the pool's role."
    )
    ecr: list[EcrGrant] = Field(
        default_factory=list, max_length=MAX_GRANTS, description="ECR access of the pool's role."
    )
    work_volume: WorkVolume | None = Field(
        default=None, description="Work volume (docker: kubernetes only; defaults apply)."
    )
    metadata: RunnerMetadata = Field(
        default_factory=RunnerMetadata,
        description="The team's own labels and annotations on the runner objects.",
    )

    @model_validator(mode="before")
    @classmethod
    def _stack_default_mode(cls, data: Any, info: ValidationInfo) -> Any:
        default = (info.context or {}).get("default_mode")
        if isinstance(data, dict) and data.get("mode") is None and default is not None:
            return {**data, "mode": resolved_mode(data, default)}
        return data

    @property
    def is_scale_set(self) -> bool:
        return self.mode == SCALE_SET

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
        # A limit above a whole node is never reached: it only hides a typo (64 instead of 6).
        containers = [("limits", value)]
        if info.data.get("docker") == DockerMode.DIND and info.data.get("docker_resources"):
            containers.append(("dockerResources.limits", info.data["docker_resources"]))
        for where, resources in containers:
            if (
                resources.limits.cpu_millis > node.allocatable_cpu_millis
                or resources.limits.memory_mib > node.allocatable_memory_mib
            ):
                raise ValueError(
                    f"{where} within one {instance_type} (at most {node.allocatable_cpu_millis}m "
                    f"CPU and {node.allocatable_memory_mib}Mi memory): got {resources.limits.cpu} "
                    f"and {resources.limits.memory}"
                )
        return value

    @field_validator("labels")
    @classmethod
    def _routes_only_its_own_jobs(cls, value: list[str]) -> list[str]:
        hosted = [label for label in value if GITHUB_HOSTED_LABEL.match(label)]
        if hosted:
            raise ValueError(
                f"labels other than GitHub-hosted runner labels ({', '.join(hosted)}): every "
                "team's `runs-on: ubuntu-latest` jobs in the pool's scope would be offered to "
                "this pool's runners"
            )
        # GitHub gives every runner self-hosted, linux, x64: a pool with no label beyond those
        # takes any `runs-on: self-hosted` job its scope can see, other teams' included.
        if not [label for label in value if label.lower() not in DEFAULT_RUNNER_LABELS]:
            raise ValueError(
                "at least one label of the team's own beside "
                f"{', '.join(sorted(DEFAULT_RUNNER_LABELS))} (GitHub gives every runner those): "
                "a job picks runners by their labels, so the pool would take any team's jobs"
            )
        return value

    @field_validator("scope")
    @classmethod
    def _scope_granted_to_the_team(cls, value: Scope, info: ValidationInfo) -> Scope:
        context = info.context or {}
        if value.enterprise is not None and context.get("github_auth") == "app":
            raise ValueError(
                "an organization or repository scope with this stack's GitHub App: GitHub Apps "
                "cannot manage enterprise runners (an enterprise scope needs github.auth: pat "
                "with manage_runners:enterprise)"
            )
        allowance = context.get("allowance")
        if not isinstance(allowance, TeamAllowance):
            return value
        kind, owner = value.kind, value.value.split("/", 1)[0]
        granted = allowance.enterprises if kind == "enterprise" else allowance.organizations
        if owner.lower() not in {g.lower() for g in granted}:
            key = "enterprises" if kind == "enterprise" else "organizations"
            raise ValueError(
                f"a scope within this team's {key} in this stack ({', '.join(granted) or 'none'}); "
                f"the platform team grants them in arc-eks:teams.<team>.{key}"
            )
        return value

    @field_validator("group")
    @classmethod
    def _group_granted_to_the_team(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowance = (info.context or {}).get("allowance")
        scope = info.data.get("scope")
        if not isinstance(allowance, TeamAllowance) or not isinstance(scope, Scope):
            return value
        groups = {g.lower() for g in allowance.runner_groups}
        if value is not None and value.lower() not in groups:
            raise ValueError(
                "one of this team's runnerGroups in this stack "
                f"({', '.join(allowance.runner_groups) or 'none: the default group only'})"
            )
        if value is None and groups and scope.repository is None:
            raise ValueError(
                f"one of this team's runnerGroups ({', '.join(allowance.runner_groups)}): the "
                "default group is shared by every team"
            )
        return value

    @field_validator("runner_image", "dind_image", mode="after")
    @classmethod
    def _from_allowed_registries(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowed = (info.context or {}).get("allowed_registries")
        if value is not None and allowed is not None and image_registry(value) not in allowed:
            raise ValueError(
                f"an image from a registry this stack allows ({', '.join(sorted(allowed))}); "
                f"this one is from {image_registry(value)} (the platform lists registries in "
                "arc-eks:images.allowedRegistries)"
            )
        return value

    @field_validator("autoscaling")
    @classmethod
    def _metric_for_the_scope(cls, value: Autoscaling, info: ValidationInfo) -> Autoscaling:
        scope = info.data.get("scope")
        if (
            isinstance(scope, Scope)
            and scope.enterprise is not None
            and isinstance(value.metric, TotalNumberOfQueuedAndInProgressWorkflowRuns)
        ):
            raise ValueError(
                "a metric other than TotalNumberOfQueuedAndInProgressWorkflowRuns with an "
                "enterprise scope: the controller counts runs of repositories, and an enterprise "
                "has none to count (use PercentageRunnersBusy or WebhookOnly)"
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
    def _no_kubernetes_scale_set(self) -> PoolSpec:
        if self.is_scale_set and self.docker == DockerMode.KUBERNETES:
            raise ValueError(_NO_KUBERNETES_SCALE_SET)
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
            uid, gid = (
                (versions.SCALE_SET_RUNNER_IMAGE_UID, versions.SCALE_SET_RUNNER_IMAGE_DOCKER_GID)
                if self.is_scale_set
                else (versions.RUNNER_IMAGE_UID, versions.RUNNER_IMAGE_DOCKER_GID)
            )
            for key, value, known in (
                ("runnerUid", self.runner_uid, uid),
                ("dockerGid", self.docker_gid, gid),
            ):
                if value is not None and value != known:
                    raise ValueError(
                        f"{key} {known} or unset with the platform's runner image (it runs as "
                        f"uid {uid}, docker gid {gid}); set runnerImage for another image"
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
