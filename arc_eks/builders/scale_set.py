"""Runner scale sets, as plain dicts: the Helm values of the gha-runner-scale-set-controller (one per
stack that has scale-set pools) and of one gha-runner-scale-set release per scale-set pool.

The runner-set chart's `containerMode` is never set: with `containerMode.type: dind` the chart
writes its own dind sidecar with the unpinned `docker:dind` image and drops any container named
`dind`. Instead the whole pod template is written here (the chart copies `template.spec` as given
when no containerMode is set), from the same pieces as the RunnerDeployment pools: the pool's IRSA
ServiceAccount, no API token, RuntimeDefault seccomp, fsGroup, the node group of the pool's
isolation class. Container mode kubernetes is never a scale set (the pool model refuses it).

Ref: ../shared/reference/charts/gha-runner-scale-set-0.14.2 (templates/autoscalingrunnerset.yaml,
_helpers.tpl: the dind layout, a native sidecar on Kubernetes >= 1.29) and
gha-runner-scale-set-controller-0.14.2 (templates/deployment.yaml, values.yaml).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from arc_eks import versions
from arc_eks.builders.registry import ImageCachePlan, cached_image, cached_repository
from arc_eks.builders.runner import (
    DOCKER_SOCKET,
    KANIKO_SCRATCH_DIR,
    MANAGED_BY,
    POOL_LABEL,
    RUNTIME_DEFAULT_SECCOMP,
    TEAM_LABEL,
    WAIT_FOR_DOCKER_SECONDS,
    runner_fs_group,
    service_account_name,
)
from arc_eks.config.teams import (
    DOCKER_RESOURCES_DEFAULT,
    DockerMode,
    ResolvedPool,
    Resources,
)

# --- the controller -------------------------------------------------------------------------------

SCALE_SET_CONTROLLER_NAMESPACE = "arc-scale-set-system"
# The release name contains the chart's base name (gha-rs-controller), so the chart's fullname, its
# ServiceAccount and its leader-election id are this name (templates/_helpers.tpl).
SCALE_SET_CONTROLLER_RELEASE = "gha-rs-controller"
SCALE_SET_CONTROLLER_SERVICE_ACCOUNT = SCALE_SET_CONTROLLER_RELEASE

# Metrics are off unless `metrics` is set (the chart then passes --metrics-addr=0). On: the
# controller serves its metrics on this port (container port `metrics`), every listener pod on
# the same port and path (`gha_*` metrics). The monitoring of the stack scrapes these.
SCALE_SET_METRICS_PORT = 8080
CONTROLLER_METRICS_ADDR = f":{SCALE_SET_METRICS_PORT}"
LISTENER_METRICS_ADDR = f":{SCALE_SET_METRICS_PORT}"
LISTENER_METRICS_ENDPOINT = "/metrics"


def scale_set_metrics_values() -> dict[str, str]:
    """The controller chart's `metrics` block: controller and listener metrics on."""
    return {
        "controllerManagerAddr": CONTROLLER_METRICS_ADDR,
        "listenerAddr": LISTENER_METRICS_ADDR,
        "listenerEndpoint": LISTENER_METRICS_ENDPOINT,
    }


def scale_set_controller_values(
    *, replicas: int, log_format: str, image_cache: ImageCachePlan | None = None
) -> dict[str, Any]:
    """The gha-runner-scale-set-controller: pinned image (through the ECR pull-through cache when
    it serves ghcr.io), replicas (leader election above one, which the chart turns on itself),
    metrics on, least privilege for its own container."""
    return {
        "replicaCount": replicas,
        "image": {
            "repository": cached_repository(
                versions.SCALE_SET_CONTROLLER_IMAGE_REPOSITORY, image_cache
            ),
            "tag": versions.SCALE_SET_CONTROLLER_IMAGE_TAG,
        },
        "flags": {"logLevel": "info", "logFormat": log_format},
        "metrics": scale_set_metrics_values(),
        # The image is distroless, user 65532 (ARC's Dockerfile); the chart mounts /tmp.
        "podSecurityContext": {
            "runAsNonRoot": True,
            "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        # The controller's pod labels (deployment.yaml): spread the replicas over nodes.
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {
                                "matchLabels": {
                                    "app.kubernetes.io/part-of": "gha-rs-controller",
                                    "app.kubernetes.io/instance": SCALE_SET_CONTROLLER_RELEASE,
                                }
                            },
                        },
                    }
                ]
            }
        },
    }


# --- one runner scale set per pool ----------------------------------------------------------------

# The AutoscalingRunnerSet's name (and the scale set's name on GitHub): the chart fails above 45.
SCALE_SET_NAME_MAX_LENGTH = 45
# Kubernetes Secret in each runner namespace with scale-set pools: githubConfigSecret names it.
GITHUB_CONFIG_SECRET_NAME = "arc-eks-github-config"
# ConfigMap in each such namespace with the GHES CA (enterpriseCaCertificate).
GITHUB_SERVER_CA_CONFIG_MAP = "arc-eks-github-server-ca"
GITHUB_SERVER_CA_KEY = "ca.crt"
# Where the runner image looks for extra CAs (the chart sets NODE_EXTRA_CA_CERTS and
# RUNNER_UPDATE_CA_CERTS for the file it mounts there).
RUNNER_CA_DIR = "/usr/local/share/ca-certificates/"

RUNNER_HOME = "/home/runner"
RUNNER_WORK_DIR = f"{RUNNER_HOME}/_work"
RUNNER_COMMAND = [f"{RUNNER_HOME}/run.sh"]
WORK_VOLUME = "work"
DIND_SOCKET_VOLUME = "dind-sock"
DIND_EXTERNALS_VOLUME = "dind-externals"
DIND_CONTAINER = "dind"
# The dind sidecar's start-up probe: the runner container starts only once the daemon answers
# (native sidecar: Kubernetes starts the main containers after the startup probe succeeds). Same
# numbers as the chart's own dind sidecar.
DIND_STARTUP_PROBE = {
    "exec": {"command": ["docker", "info"]},
    "initialDelaySeconds": 0,
    "failureThreshold": 24,
    "periodSeconds": 5,
}


def scale_set_name(pool: ResolvedPool) -> str:
    """The scale set's name: unique per runner group by construction. The controller reuses a
    scale set that already exists under this name in the group (autoscalingrunnerset_controller.go
    GetRunnerScaleSet), so two stacks registering in one organization must never share a name:
    it carries the environment as well as the team and pool."""
    return f"{pool.team}-{pool.name}-{pool.environment}"


def scale_set_docker_group(pool: ResolvedPool) -> int:
    return pool.spec.docker_gid or versions.SCALE_SET_RUNNER_IMAGE_DOCKER_GID


def scale_set_runner_image(pool: ResolvedPool) -> str:
    return pool.spec.runner_image or versions.SCALE_SET_RUNNER_IMAGE


def scale_set_dind_image(pool: ResolvedPool) -> str:
    return pool.spec.dind_image or versions.SCALE_SET_DIND_IMAGE


def scale_set_dind_args(pool: ResolvedPool, registry_mirror: str | None = None) -> list[str]:
    """dockerd's arguments in the dind sidecar: the Unix socket only (no TCP listener, no TLS
    certificates), owned by the runner image's docker group; the organisation's Docker Hub mirror
    when the stack names one (imageCache.dindRegistryMirror)."""
    mirror = [f"--registry-mirror={registry_mirror}"] if registry_mirror else []
    return [
        "dockerd",
        f"--host={DOCKER_SOCKET}",
        f"--group={scale_set_docker_group(pool)}",
        *mirror,
    ]


def github_config_url(pool: ResolvedPool, enterprise_url: str | None) -> str:
    """githubConfigUrl: https://<host>/<org>, /<owner>/<repo> or /enterprises/<enterprise>."""
    base = (enterprise_url or "https://github.com").rstrip("/")
    scope = pool.spec.scope
    if scope.enterprise is not None:
        return f"{base}/enterprises/{scope.enterprise}"
    return f"{base}/{scope.value}"


def _resources(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


def _pod_labels(pool: ResolvedPool) -> dict[str, str]:
    return {**pool.spec.metadata.labels, **MANAGED_BY, TEAM_LABEL: pool.team, POOL_LABEL: pool.name}


def scale_set_dind_sidecar(
    pool: ResolvedPool,
    image_cache: ImageCachePlan | None = None,
    registry_mirror: str | None = None,
) -> dict[str, Any]:
    """The dind daemon as a native sidecar (an init container with restartPolicy Always and a
    startup probe, as the chart writes it on Kubernetes >= 1.29), with the pinned image. The only
    privileged container of the pod. Kubernetes stops it after the runner container."""
    return {
        "name": DIND_CONTAINER,
        "image": cached_image(scale_set_dind_image(pool), image_cache),
        "args": scale_set_dind_args(pool, registry_mirror),
        # The docker image generates TLS certificates unless this is empty (dockerd-entrypoint.sh).
        "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
        "securityContext": {"privileged": True},
        "restartPolicy": "Always",
        "startupProbe": copy.deepcopy(DIND_STARTUP_PROBE),
        "resources": _resources(pool.spec.docker_resources or DOCKER_RESOURCES_DEFAULT),
        "volumeMounts": [
            {"name": WORK_VOLUME, "mountPath": RUNNER_WORK_DIR},
            {"name": DIND_SOCKET_VOLUME, "mountPath": "/var/run"},
            # `container:` jobs mount the runner's externals from the daemon's filesystem.
            {"name": DIND_EXTERNALS_VOLUME, "mountPath": f"{RUNNER_HOME}/externals"},
        ],
    }


def _dind_externals_init(
    pool: ResolvedPool, image_cache: ImageCachePlan | None = None
) -> dict[str, Any]:
    """Copies the runner's externals where the dind sidecar sees them (the chart's
    init-dind-externals, with the pool's pinned runner image)."""
    return {
        "name": "init-dind-externals",
        "image": cached_image(scale_set_runner_image(pool), image_cache),
        "command": ["cp"],
        "args": ["-r", f"{RUNNER_HOME}/externals/.", f"{RUNNER_HOME}/tmpDir/"],
        # Init containers run before the main ones: the runner's resources bound it without
        # raising the pod's request.
        "resources": _resources(pool.spec.resources),
        "volumeMounts": [{"name": DIND_EXTERNALS_VOLUME, "mountPath": f"{RUNNER_HOME}/tmpDir"}],
    }


def scale_set_pod_template(
    pool: ResolvedPool,
    *,
    node_selector: dict[str, str],
    tolerations: Sequence[dict[str, Any]] = (),
    image_cache: ImageCachePlan | None = None,
    registry_mirror: str | None = None,
) -> dict[str, Any]:
    """The runner pod template (`template` of the runner-set chart) of a scale-set pool; its images
    through the ECR pull-through cache where it serves their registry, its dind daemon using the
    organisation's Docker Hub mirror when the stack names one."""
    spec = pool.spec
    if spec.docker == DockerMode.KUBERNETES:
        # The pool model refuses this (pool_spec._NO_KUBERNETES_SCALE_SET): the hooks' Role would
        # let the runner read the GitHub credentials Secret of the scale set's namespace.
        raise ValueError(f"{pool.key}: docker: kubernetes is never a scale set")
    runner: dict[str, Any] = {
        "name": "runner",
        "image": cached_image(scale_set_runner_image(pool), image_cache),
        "imagePullPolicy": "IfNotPresent",
        "command": list(RUNNER_COMMAND),
        "resources": _resources(spec.resources),
    }
    env: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    init_containers: list[dict[str, Any]] = []
    if spec.docker == DockerMode.DIND:
        env += [
            {"name": "DOCKER_HOST", "value": DOCKER_SOCKET},
            # run-helper.sh of the runner waits this long for the daemon (belt and braces: the
            # runner container starts after the sidecar's startup probe anyway).
            {"name": "RUNNER_WAIT_FOR_DOCKER_IN_SECONDS", "value": str(WAIT_FOR_DOCKER_SECONDS)},
        ]
        mounts += [
            {"name": WORK_VOLUME, "mountPath": RUNNER_WORK_DIR},
            {"name": DIND_SOCKET_VOLUME, "mountPath": "/var/run"},
        ]
        volumes += [
            {"name": WORK_VOLUME, "emptyDir": {}},
            {"name": DIND_SOCKET_VOLUME, "emptyDir": {}},
            {"name": DIND_EXTERNALS_VOLUME, "emptyDir": {}},
        ]
        init_containers += [
            _dind_externals_init(pool, image_cache),
            scale_set_dind_sidecar(pool, image_cache, registry_mirror),
        ]
    elif spec.docker == DockerMode.KANIKO:
        env.append({"name": "KANIKO_SCRATCH_DIR", "value": KANIKO_SCRATCH_DIR})
        mounts.append({"name": "kaniko-scratch", "mountPath": KANIKO_SCRATCH_DIR})
        volumes.append({"name": "kaniko-scratch", "emptyDir": {}})
    if env:
        runner["env"] = env
    if mounts:
        runner["volumeMounts"] = mounts
    pod: dict[str, Any] = {
        "serviceAccountName": service_account_name(pool),
        # No Kubernetes API token: nothing in a scale set's runner pod calls the API (the IRSA
        # token is a separate projected volume).
        "automountServiceAccountToken": False,
        "securityContext": {
            "fsGroup": runner_fs_group(pool),
            "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
        },
        "nodeSelector": dict(node_selector),
        "containers": [runner],
    }
    if tolerations:
        pod["tolerations"] = [dict(t) for t in tolerations]
    if init_containers:
        pod["initContainers"] = init_containers
    if volumes:
        pod["volumes"] = volumes
    metadata: dict[str, Any] = {"labels": _pod_labels(pool)}
    if spec.metadata.annotations:
        metadata["annotations"] = dict(spec.metadata.annotations)
    return {"metadata": metadata, "spec": pod}


def runner_scale_set_values(
    pool: ResolvedPool,
    *,
    node_selector: dict[str, str],
    tolerations: Sequence[dict[str, Any]] = (),
    enterprise_url: str | None = None,
    enterprise_ca: bool = False,
    image_cache: ImageCachePlan | None = None,
    registry_mirror: str | None = None,
) -> dict[str, Any]:
    """The gha-runner-scale-set release of one pool. No credential in these values: the chart
    reads the pool namespace's Secret `GITHUB_CONFIG_SECRET_NAME` (githubConfigSecret as a name)."""
    spec = pool.spec
    values: dict[str, Any] = {
        "githubConfigUrl": github_config_url(pool, enterprise_url),
        "githubConfigSecret": GITHUB_CONFIG_SECRET_NAME,
        "runnerScaleSetName": scale_set_name(pool),
        "scaleSetLabels": list(spec.labels),
        "minRunners": spec.autoscaling.min,
        "maxRunners": spec.autoscaling.max,
        # The chart looks the controller up in the cluster unless told (no lookup offline either).
        "controllerServiceAccount": {
            "namespace": SCALE_SET_CONTROLLER_NAMESPACE,
            "name": SCALE_SET_CONTROLLER_SERVICE_ACCOUNT,
        },
        # On every object of the release (the AutoscalingRunnerSet included).
        "labels": {**spec.metadata.labels, TEAM_LABEL: pool.team, POOL_LABEL: pool.name},
        "template": scale_set_pod_template(
            pool,
            node_selector=node_selector,
            tolerations=tolerations,
            image_cache=image_cache,
            registry_mirror=registry_mirror,
        ),
    }
    if spec.metadata.annotations:
        values["annotations"] = dict(spec.metadata.annotations)
    if spec.group:
        values["runnerGroup"] = spec.group
    if enterprise_ca:
        values["githubServerTLS"] = {
            "certificateFrom": {
                "configMapKeyRef": {
                    "name": GITHUB_SERVER_CA_CONFIG_MAP,
                    "key": GITHUB_SERVER_CA_KEY,
                }
            },
            "runnerMountPath": RUNNER_CA_DIR,
        }
    return values


def github_server_ca_config_map(namespace: str, certificate: str) -> dict[str, Any]:
    """The GHES CA for the scale sets of one runner namespace."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": GITHUB_SERVER_CA_CONFIG_MAP,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
        },
        "data": {GITHUB_SERVER_CA_KEY: certificate},
    }


# The keys githubConfigSecret must hold (the runner-set chart's githubsecret.yaml checks the same
# when it creates the Secret itself): a token, or the three GitHub App keys.
GITHUB_TOKEN_KEY = "github_token"
GITHUB_APP_KEYS = ("github_app_id", "github_app_installation_id", "github_app_private_key")
