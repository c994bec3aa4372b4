"""Kubernetes manifests of a runner pool, as plain dicts: Namespace, ServiceAccount, RBAC,
RunnerDeployment and HorizontalRunnerAutoscaler.

The components hand these to pulumi-kubernetes; the offline review writes them out. Field names
follow the legacy ARC CRDs (actions.summerwind.dev/v1alpha1) in ../shared/reference, which the
tests validate every rendered object against.
Ref: actions-runner-controller docs/automatically-scaling-runners.md, docs/using-custom-volumes.md
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from arc_eks import versions
from arc_eks.builders.registry import ImageCachePlan, cached_image
from arc_eks.config.teams import (
    DOCKER_RESOURCES_DEFAULT,
    DockerMode,
    Metric,
    PercentageRunnersBusy,
    ResolvedPool,
    Resources,
    TotalNumberOfQueuedAndInProgressWorkflowRuns,
    WorkVolume,
)

ARC_API_VERSION = "actions.summerwind.dev/v1alpha1"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
MANAGED_BY = {"app.kubernetes.io/managed-by": "arc-eks"}
TEAM_LABEL = "arc-eks.io/team"
POOL_LABEL = "arc-eks.io/pool"


def runner_fs_group(pool: ResolvedPool) -> int:
    """fsGroup = the runner user's uid (its primary group on ubuntu-based runner images): the
    projected IRSA token and the shared emptyDirs become readable by the runner."""
    return pool.spec.runner_uid or versions.RUNNER_IMAGE_UID


def docker_group(pool: ResolvedPool) -> int:
    """The runner image's `docker` group: the dind daemon gives its socket to it."""
    return pool.spec.docker_gid or versions.RUNNER_IMAGE_DOCKER_GID


def _team_metadata(pool: ResolvedPool) -> dict[str, dict[str, str]]:
    """The team's own labels and annotations (platform keys are refused by the pool model, so
    they never collide with `_labels`)."""
    return {
        "labels": {**pool.spec.metadata.labels, **_labels(pool)},
        **(
            {"annotations": dict(pool.spec.metadata.annotations)}
            if pool.spec.metadata.annotations
            else {}
        ),
    }


RUNNER_WORK_DIR = "/runner/_work"
DOCKER_SOCKET = "unix:///var/run/docker.sock"
KANIKO_SCRATCH_DIR = "/kaniko-scratch"

# dind start-up race. The runner image's startup.sh waits for Docker only when DOCKER_ENABLED is
# "true", and ARC sets DOCKER_ENABLED=false for dockerEnabled: false, appended after the spec's
# env (so the last value, ARC's, wins). The runner container therefore waits itself: the image's
# ENTRYPOINT is `/bin/bash -c` with CMD `entrypoint.sh`; these args wait until the daemon answers
# (`docker ps`, as startup.sh does) and then exec the unchanged entrypoint, which registers the
# runner and only then starts taking jobs. A daemon that never answers ends the pod (ARC creates
# a new one) instead of a runner that fails every Docker step.
# Ref: actions-runner-controller runner/startup.sh, runner/entrypoint.sh,
# runner/actions-runner.ubuntu-22.04.dockerfile, controllers/.../runner_controller.go (v0.27.6).
WAIT_FOR_DOCKER_SECONDS = 120  # the image's own default for WAIT_FOR_DOCKER_SECONDS
RUNNER_WAIT_FOR_DOCKER = (
    f'limit="${{WAIT_FOR_DOCKER_SECONDS:-{WAIT_FOR_DOCKER_SECONDS}}}"; '
    'if ! timeout "${limit}s" bash -c "until docker ps >/dev/null 2>&1; do sleep 1; done"; then '
    'echo "dockerd in the docker sidecar did not answer within ${limit}s; not registering" >&2; '
    "exit 1; fi; "
    "exec entrypoint.sh"
)
# The dind sidecar stops after the runner: on pod deletion Kubernetes signals both containers at
# once, and the runner's SIGTERM handler deregisters it and lets a running job's containers stop,
# which needs the daemon. The preStop hook holds dockerd's SIGTERM while the runner is registered
# (/runner/.runner exists; entrypoint.sh removes it on exit), bounded so that the default 30 s
# grace period still leaves dockerd time to stop its containers. Same rule as ARC's own sidecar.
DIND_STOP_WAIT_SECONDS = 20
DIND_PRE_STOP = (
    f"timeout {DIND_STOP_WAIT_SECONDS} sh -c "
    "'while [ -f /runner/.runner ]; do sleep 1; done' || true"
)
RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}

# Pod Security levels, most permissive first. Ref: kubernetes.io/docs/concepts/security/pod-security-standards
POD_SECURITY_LEVEL = {
    DockerMode.DIND: "privileged",  # the docker sidecar is privileged
    DockerMode.KANIKO: "baseline",  # root + chroot (default capabilities), no privilege
    DockerMode.KUBERNETES: "baseline",  # job pods run arbitrary workflow images, often as root
    # restricted needs allowPrivilegeEscalation: false on the runner container, and the runner
    # image's startup.sh runs `sudo chown` on the runner's home before the runner starts: sudo
    # cannot raise privileges under no_new_privs, so the pod would never register.
    DockerMode.NONE: "baseline",
}
_ORDER = ("privileged", "baseline", "restricted")


# Longest namespace name Kubernetes accepts (a DNS label).
NAMESPACE_MAX_LENGTH = 63


def namespace_name(team: str) -> str:
    """The team's namespace (its dind, none and kaniko pools), never the controller's
    (`actions-runner-system`)."""
    return f"runners-{team}"


def pool_namespace(pool: ResolvedPool) -> str:
    """Where a pool's runners run. A `docker: kubernetes` pool gets a namespace of its own: the
    container hooks' Role lets its runners create pods and read Secrets in their namespace, so
    nothing of another pool may live there."""
    if pool.spec.docker == DockerMode.KUBERNETES:
        return f"runners-{pool.team}-{pool.name}"
    return namespace_name(pool.team)


def needs_api_token(pool: ResolvedPool) -> bool:
    """Only the container hooks (`docker: kubernetes`) call the Kubernetes API from a runner pod.

    ARC's runner needs the token for nothing else unless the controller's status-update hook is
    on (chart value runner.statusUpdateHook.enabled, false by default and never set here). The
    IRSA token is a separate projected volume the EKS pod identity webhook adds whatever
    automountServiceAccountToken says.
    """
    return pool.spec.docker == DockerMode.KUBERNETES


def service_account_name(pool: ResolvedPool) -> str:
    return f"{pool.name}-runner"


def _labels(pool: ResolvedPool) -> dict[str, str]:
    return {**MANAGED_BY, TEAM_LABEL: pool.team, POOL_LABEL: pool.name}


def pod_security_level(modes: Iterable[DockerMode]) -> str:
    """The level a team's namespace needs: the most permissive any of its pools needs.

    A team that mixes dind with other modes gets `privileged` for all its pools (Pod Security
    admission works per namespace); put such pools in a separate team to keep them baseline.
    """
    levels = [POD_SECURITY_LEVEL[m] for m in modes] or ["baseline"]
    return min(levels, key=_ORDER.index)


def namespace_manifest(
    team: str, modes: Iterable[DockerMode], *, name: str | None = None
) -> dict[str, Any]:
    """A runner namespace: the team's (default) or a `docker: kubernetes` pool's own (`name`)."""
    level = pod_security_level(modes)
    version = versions.POD_SECURITY_VERSION
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name or namespace_name(team),
            "labels": {
                **MANAGED_BY,
                TEAM_LABEL: team,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/enforce-version": version,
                "pod-security.kubernetes.io/warn": level,
                "pod-security.kubernetes.io/warn-version": version,
                # Audit against restricted: shows in the audit log what a stricter level would break.
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/audit-version": version,
            },
        },
    }


def service_account_manifest(pool: ResolvedPool, role_arn: Any) -> dict[str, Any]:
    """The pool's ServiceAccount: IRSA-annotated with a role, or a plain one without AWS access.

    `role_arn` is the ARN (a str, or a `pulumi.Output` the component passes at deploy time) or
    None for a pool without AWS access.
    """
    metadata: dict[str, Any] = {
        "name": service_account_name(pool),
        "namespace": pool_namespace(pool),
        "labels": _labels(pool),
    }
    if role_arn is not None:
        metadata["annotations"] = {IRSA_ROLE_ANNOTATION: role_arn}
    manifest: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}
    # Container mode kubernetes needs the API token (the hooks create job pods); others never do.
    if not needs_api_token(pool):
        manifest["automountServiceAccountToken"] = False
    return manifest


# Exactly what the container hooks bundled in the runner image check for before a job starts
# (a SelfSubjectAccessReview per verb; `requiredPermissions` in packages/k8s/src/k8s/index.ts of
# actions/runner-container-hooks at the version in versions.RUNNER_CONTAINER_HOOKS_VERSION). No
# batch/jobs (the hooks never create Jobs), no pods/attach, no ServiceAccounts, no other verbs.
CONTAINER_HOOKS_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create", "delete"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "delete"]},
)


def container_hooks_rbac(pool: ResolvedPool) -> list[dict[str, Any]]:
    """Role + RoleBinding the runner container hooks need (container mode kubernetes only).

    ARC creates these itself only when the RunnerDeployment names no ServiceAccount; ours does.
    The Role is namespaced, and the pool's namespace holds nothing but this pool: pods and
    Secrets it can reach are its own. Which pods it may create is fenced by
    `builders.admission.job_pod_policy` (a ValidatingAdmissionPolicy).
    """
    if pool.spec.docker != DockerMode.KUBERNETES:
        return []
    name = f"{pool.name}-container-hooks"
    namespace = pool_namespace(pool)
    rules = [{key: list(value) for key, value in rule.items()} for rule in CONTAINER_HOOKS_RULES]
    meta = {"name": name, "namespace": namespace, "labels": _labels(pool)}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": service_account_name(pool),
                    "namespace": namespace,
                }
            ],
        },
    ]


def _resources(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


def _dind(
    pool: ResolvedPool,
    image_cache: ImageCachePlan | None = None,
    registry_mirror: str | None = None,
) -> dict[str, Any]:
    """dind: the daemon in a privileged `docker` sidecar; the runner stays unprivileged. With a
    `registry_mirror` (imageCache.dindRegistryMirror) the jobs' own Docker Hub pulls go through it
    (`--registry-mirror`: dockerd asks the mirror first and falls back to Docker Hub). ARC's
    `dockerRegistryMirror` field would not reach this sidecar: the controller adds it only to the
    dind container it builds itself (dockerEnabled), which these pools never use."""
    mirror = [f"--registry-mirror={registry_mirror}"] if registry_mirror else []
    docker_host = {"name": "DOCKER_HOST", "value": DOCKER_SOCKET}
    shared = [
        {"name": "var-run", "mountPath": "/var/run"},  # the socket
        {
            "name": "work",
            "mountPath": RUNNER_WORK_DIR,
        },  # `docker run -v $PWD` resolves in the sidecar
        {"name": "tmp", "mountPath": "/tmp"},  # job containers see the same /tmp
    ]
    sidecar = {
        "name": "docker",
        "image": cached_image(pool.spec.dind_image or versions.DIND_IMAGE, image_cache),
        "args": [
            "dockerd",
            f"--host={DOCKER_SOCKET}",
            f"--group={docker_group(pool)}",
            *mirror,
        ],
        # Unix socket only: no TCP listener, so no TLS certificates to generate.
        "env": [docker_host, {"name": "DOCKER_TLS_CERTDIR", "value": ""}],
        "securityContext": {"privileged": True},
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", DIND_PRE_STOP]}}},
        "resources": _resources(pool.spec.docker_resources or DOCKER_RESOURCES_DEFAULT),
        # /runner (ARC's own emptyDir) holds the externals that `container:` jobs mount.
        "volumeMounts": [*shared, {"name": "runner", "mountPath": "/runner"}],
    }
    return {
        # Only the runner container's args: ARC fills its image, env, resources and mounts from
        # this spec as for the container it would create itself.
        "containers": [{"name": "runner", "args": [RUNNER_WAIT_FOR_DOCKER]}],
        "env": [docker_host],
        "volumeMounts": shared,
        "volumes": [
            {"name": "var-run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {"name": "work", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
        ],
        "sidecarContainers": [sidecar],
    }


def _kaniko() -> dict[str, Any]:
    """kaniko: builds chrooted in a scratch emptyDir, never on the runner's root filesystem."""
    return {
        "env": [{"name": "KANIKO_SCRATCH_DIR", "value": KANIKO_SCRATCH_DIR}],
        "volumeMounts": [{"name": "kaniko-scratch", "mountPath": KANIKO_SCRATCH_DIR}],
        "volumes": [{"name": "kaniko-scratch", "emptyDir": {}}],
    }


# Container mode kubernetes: the hooks merge this pod template into every job pod they create
# (env ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE names the file; readExtensionFromFile /
# mergePodSpecWithOptions in runner-container-hooks' packages/k8s/src/k8s/utils.ts: top-level
# spec keys replace the job pod's).
HOOK_TEMPLATE_ENV = "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE"
HOOK_TEMPLATE_DIR = "/etc/arc-eks/container-hooks"
HOOK_TEMPLATE_KEY = "job-pod.yaml"
HOOK_TEMPLATE_VOLUME = "container-hooks-template"


def hook_template_name(pool: ResolvedPool) -> str:
    return f"{pool.name}-container-hooks-template"


def job_pod_template(
    node_selector: dict[str, str], tolerations: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """What every job pod of a kubernetes-mode pool gets: its pool's node group (never the system
    nodes), no API token (it runs as the namespace's default ServiceAccount and needs none),
    RuntimeDefault seccomp. The admission policy refuses job pods without these."""
    return {
        "spec": {
            "nodeSelector": dict(node_selector),
            "tolerations": [dict(t) for t in tolerations],
            "automountServiceAccountToken": False,
            "securityContext": {"seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)},
        }
    }


def hook_template_config_map(
    pool: ResolvedPool, node_selector: dict[str, str], tolerations: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The ConfigMap holding `job_pod_template` for a kubernetes-mode pool; None otherwise."""
    if pool.spec.docker != DockerMode.KUBERNETES:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": hook_template_name(pool),
            "namespace": pool_namespace(pool),
            "labels": _labels(pool),
        },
        "data": {
            HOOK_TEMPLATE_KEY: yaml.safe_dump(
                job_pod_template(node_selector, tolerations), sort_keys=True
            )
        },
    }


def _kubernetes(work: WorkVolume, pool: ResolvedPool) -> dict[str, Any]:
    """Container mode kubernetes: job containers run as pods the hooks create, shaped by the
    pool's job pod template (mounted read-only from its ConfigMap)."""
    return {
        "env": [{"name": HOOK_TEMPLATE_ENV, "value": f"{HOOK_TEMPLATE_DIR}/{HOOK_TEMPLATE_KEY}"}],
        "volumeMounts": [
            {"name": HOOK_TEMPLATE_VOLUME, "mountPath": HOOK_TEMPLATE_DIR, "readOnly": True}
        ],
        "volumes": [
            {"name": HOOK_TEMPLATE_VOLUME, "configMap": {"name": hook_template_name(pool)}}
        ],
        "containerMode": "kubernetes",
        "workVolumeClaimTemplate": {
            "storageClassName": work.storage_class_name,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": work.size}},
        },
    }


def runner_deployment_manifest(
    pool: ResolvedPool,
    *,
    node_selector: dict[str, str],
    tolerations: Sequence[dict[str, Any]] = (),
    image_cache: ImageCachePlan | None = None,
    registry_mirror: str | None = None,
) -> dict[str, Any]:
    """The pool's RunnerDeployment. `node_selector` and `tolerations` place its runner pods on
    the node group of its isolation class (`builders.node_groups.placement`); with the image cache
    on, its runner and dind images come through it (`builders.registry.cached_image`)."""
    spec = pool.spec
    template: dict[str, Any] = {
        spec.scope.kind: spec.scope.value,
        "labels": list(spec.labels),
        "image": cached_image(spec.runner_image or versions.RUNNER_IMAGE, image_cache),
        "imagePullPolicy": "IfNotPresent",
        "ephemeral": True,
        # Never ARC's built-in dind: its daemon would run privileged inside the runner container.
        "dockerEnabled": False,
        "dockerdWithinRunnerContainer": False,
        "serviceAccountName": service_account_name(pool),
        # No Kubernetes API token where nothing in the pod calls the API (the IRSA token is a
        # separate projected volume). ARC copies this field onto the runner pod.
        "automountServiceAccountToken": needs_api_token(pool),
        # RuntimeDefault: containerd's default seccomp profile for every container that is not
        # privileged (a privileged container, the dind sidecar, runs unconfined regardless).
        "securityContext": {
            "fsGroup": runner_fs_group(pool),
            "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
        },
        "resources": _resources(spec.resources),
        "nodeSelector": dict(node_selector),
    }
    if tolerations:
        template["tolerations"] = [dict(t) for t in tolerations]
    if spec.group:
        template["group"] = spec.group
    if spec.docker == DockerMode.DIND:
        template.update(_dind(pool, image_cache, registry_mirror))
    elif spec.docker == DockerMode.KANIKO:
        template.update(_kaniko())
    elif spec.docker == DockerMode.KUBERNETES:
        template.update(_kubernetes(spec.work_volume or WorkVolume(), pool))
    return {
        "apiVersion": ARC_API_VERSION,
        "kind": "RunnerDeployment",
        "metadata": {"name": pool.name, "namespace": pool_namespace(pool), **_team_metadata(pool)},
        # No `replicas`: the HorizontalRunnerAutoscaler owns it.
        "spec": {"template": {"metadata": _team_metadata(pool), "spec": template}},
    }


def _number(value: float) -> str:
    """HRA thresholds and factors are strings in the CRD (`'0.75'`, `'2'`)."""
    return f"{value:g}"


def _hra_metrics(metric: Metric) -> list[dict[str, Any]]:
    """The HRA's `metrics`: one entry, or none for WebhookOnly."""
    metrics: list[dict[str, Any]] = []
    if isinstance(metric, PercentageRunnersBusy):
        rendered: dict[str, Any] = {
            "type": metric.type,
            "scaleUpThreshold": _number(metric.scale_up_threshold),
            "scaleDownThreshold": _number(metric.scale_down_threshold),
        }
        # ARC takes a factor or an adjustment per direction, never both.
        if metric.scale_up_adjustment is not None:
            rendered["scaleUpAdjustment"] = metric.scale_up_adjustment
        else:
            rendered["scaleUpFactor"] = _number(metric.scale_up_factor)
        if metric.scale_down_adjustment is not None:
            rendered["scaleDownAdjustment"] = metric.scale_down_adjustment
        else:
            rendered["scaleDownFactor"] = _number(metric.scale_down_factor)
        metrics.append(rendered)
    elif isinstance(metric, TotalNumberOfQueuedAndInProgressWorkflowRuns):
        rendered = {"type": metric.type}
        if metric.repository_names:
            rendered["repositoryNames"] = list(metric.repository_names)
        metrics.append(rendered)
    return metrics


def horizontal_runner_autoscaler_manifest(
    pool: ResolvedPool, *, webhook_server: bool
) -> dict[str, Any]:
    scaling = pool.spec.autoscaling
    metrics = _hra_metrics(scaling.metric)
    # WebhookOnly: no metric. ARC then keeps minReplicas plus the capacity that webhook
    # scale-up reserved (HorizontalRunnerAutoscalerReconciler.computeReplicasWithCache).
    spec: dict[str, Any] = {
        "scaleTargetRef": {"kind": "RunnerDeployment", "name": pool.name},
        "minReplicas": scaling.min,
        "maxReplicas": scaling.max,
        "scaleDownDelaySecondsAfterScaleOut": scaling.scale_down_delay_seconds,
    }
    if metrics:
        spec["metrics"] = metrics
    if scaling.schedules:
        overrides = []
        for schedule in scaling.schedules:
            override: dict[str, Any] = {
                "startTime": schedule.start.isoformat(),
                "endTime": schedule.end.isoformat(),
                "minReplicas": schedule.min,
            }
            if schedule.recurrence:
                rule: dict[str, Any] = {"frequency": schedule.recurrence}
                if schedule.until:
                    rule["untilTime"] = schedule.until.isoformat()
                override["recurrenceRule"] = rule
            overrides.append(override)
        spec["scheduledOverrides"] = overrides
    if webhook_server:
        # Scale up on each queued job as GitHub reports it, without waiting for the poll.
        spec["scaleUpTriggers"] = [
            {"githubEvent": {"workflowJob": {}}, "duration": scaling.webhook_scale_up_duration}
        ]
    return {
        "apiVersion": ARC_API_VERSION,
        "kind": "HorizontalRunnerAutoscaler",
        "metadata": {
            "name": pool.name,
            "namespace": pool_namespace(pool),
            **_team_metadata(pool),
        },
        "spec": spec,
    }
