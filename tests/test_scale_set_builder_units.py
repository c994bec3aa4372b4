"""arc_eks/builders/scale_set.py on its own: the small documents it writes (the controller's values,
the metrics block, the dind native sidecar, the runner pod template of every docker mode, the
runner-set values, githubConfigUrl, the GHES CA ConfigMap) compared whole, with the values the
platform promises written out literally. The Helm rendering of the same values is in
tests/test_scale_sets.py."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from arc_eks import versions
from arc_eks.builders import scale_set as ss
from arc_eks.config.teams import ResolvedPool, load_team_pools
from arc_eks.pools import scale_set_problems
from tests.pool_fixtures import cache_plan, stack_config, write_team

# The pinned images are versions.py's (bumped there); everything else is written out below.
RUNNER_IMAGE = versions.SCALE_SET_RUNNER_IMAGE
DIND_IMAGE = versions.SCALE_SET_DIND_IMAGE
HOST = "210987654321.dkr.ecr.us-east-2.amazonaws.com"
SOCKET = "unix:///var/run/docker.sock"
RUNNER_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "1500m", "memory": "4Gi"},
}
DIND_RESOURCES = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"cpu": "1500m", "memory": "4Gi"},
}
STARTUP_PROBE = {
    "exec": {"command": ["docker", "info"]},
    "initialDelaySeconds": 0,
    "failureThreshold": 24,
    "periodSeconds": 5,
}
SECCOMP = {"type": "RuntimeDefault"}
PLATFORM_LABELS = {
    "app.kubernetes.io/managed-by": "arc-eks",
    "arc-eks.io/team": "web",
    "arc-eks.io/pool": "ci",
}


def _pools(tmp_path: Path, *pools: dict[str, Any]) -> list[ResolvedPool]:
    write_team(tmp_path, "web", {"team": "web", "pools": list(pools)})
    stack = stack_config(
        images={"allowedRegistries": ["docker.io", "ghcr.io"]},
        teams={
            "web": {
                "organizations": ["acme"],
                "enterprises": ["acme-ent"],
            }
        },
        github={"auth": "pat"},
    )
    return load_team_pools(tmp_path, stack)


def _spec(docker: str = "dind", **extra: Any) -> dict[str, Any]:
    return {
        "name": "ci",
        "mode": "scaleSet",
        "scope": {"organization": "acme"},
        "labels": ["web-ci"],
        "docker": docker,
        "environments": ["dev"],
        **extra,
    }


def _pool(tmp_path: Path, docker: str = "dind", **extra: Any) -> ResolvedPool:
    (resolved,) = _pools(tmp_path, _spec(docker, **extra))
    return resolved


def _cached(image: str, suffix: str) -> str:
    """An image as the cache serves it: `<host>/ci/<upstream suffix>/<path>`."""
    return f"{HOST}/ci/{suffix}/{image}"


def _sidecar(
    image: str = DIND_IMAGE,
    args: list[str] | None = None,
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": "dind",
        "image": image,
        "args": args or ["dockerd", f"--host={SOCKET}", "--group=123"],
        "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
        "securityContext": {"privileged": True},
        "restartPolicy": "Always",
        "startupProbe": STARTUP_PROBE,
        "resources": resources or DIND_RESOURCES,
        "volumeMounts": [
            {"name": "work", "mountPath": "/home/runner/_work"},
            {"name": "dind-sock", "mountPath": "/var/run"},
            {"name": "dind-externals", "mountPath": "/home/runner/externals"},
        ],
    }


def _externals_init(image: str = RUNNER_IMAGE) -> dict[str, Any]:
    return {
        "name": "init-dind-externals",
        "image": image,
        "command": ["cp"],
        "args": ["-r", "/home/runner/externals/.", "/home/runner/tmpDir/"],
        "resources": RUNNER_RESOURCES,
        "volumeMounts": [{"name": "dind-externals", "mountPath": "/home/runner/tmpDir"}],
    }


def _runner(image: str = RUNNER_IMAGE, **extra: Any) -> dict[str, Any]:
    return {
        "name": "runner",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/home/runner/run.sh"],
        "resources": RUNNER_RESOURCES,
        **extra,
    }


DIND_RUNNER_ENV = [
    {"name": "DOCKER_HOST", "value": SOCKET},
    {"name": "RUNNER_WAIT_FOR_DOCKER_IN_SECONDS", "value": "120"},
]
DIND_RUNNER_MOUNTS = [
    {"name": "work", "mountPath": "/home/runner/_work"},
    {"name": "dind-sock", "mountPath": "/var/run"},
]
DIND_VOLUMES = [
    {"name": "work", "emptyDir": {}},
    {"name": "dind-sock", "emptyDir": {}},
    {"name": "dind-externals", "emptyDir": {}},
]


def _pod_spec(service_account: str = "ci-runner", **extra: Any) -> dict[str, Any]:
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": {"fsGroup": 1001, "seccompProfile": SECCOMP},
        "nodeSelector": {"arc-eks.io/isolation": "privileged-web"},
        **extra,
    }


NODE_SELECTOR = {"arc-eks.io/isolation": "privileged-web"}
TOLERATIONS = [
    {
        "key": "arc-eks.io/isolation",
        "operator": "Equal",
        "value": "privileged-web",
        "effect": "NoSchedule",
    },
    # a later entry is copied as well
    {"key": "acme.io/spot", "operator": "Exists", "effect": "NoSchedule"},
]


# --- the controller -------------------------------------------------------------------------------


def test_the_metrics_block_serves_controller_and_listeners_on_8080() -> None:
    assert ss.scale_set_metrics_values() == {
        "controllerManagerAddr": ":8080",
        "listenerAddr": ":8080",
        "listenerEndpoint": "/metrics",
    }
    assert ss.SCALE_SET_METRICS_PORT == 8080


def _controller(replicas: int, log_format: str, repository: str) -> dict[str, Any]:
    return {
        "replicaCount": replicas,
        "image": {"repository": repository, "tag": "0.14.2"},
        "flags": {"logLevel": "info", "logFormat": log_format},
        "metrics": {
            "controllerManagerAddr": ":8080",
            "listenerAddr": ":8080",
            "listenerEndpoint": "/metrics",
        },
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": SECCOMP},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
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
                                    "app.kubernetes.io/instance": "gha-rs-controller",
                                }
                            },
                        },
                    }
                ]
            }
        },
    }


@pytest.mark.parametrize(("replicas", "log_format"), [(1, "json"), (3, "text")])
def test_the_controller_values_are_pinned_least_privilege_and_spread(
    replicas: int, log_format: str
) -> None:
    values = ss.scale_set_controller_values(replicas=replicas, log_format=log_format)
    assert values == _controller(
        replicas, log_format, "ghcr.io/actions/gha-runner-scale-set-controller"
    )


def test_the_controller_image_comes_through_the_cache_only_when_it_serves_ghcr() -> None:
    served = ss.scale_set_controller_values(
        replicas=2,
        log_format="json",
        image_cache=cache_plan("docker-hub", "github-container-registry"),
    )
    assert served == _controller(
        2, "json", f"{HOST}/ci/ghcr/actions/gha-runner-scale-set-controller"
    )
    not_served = ss.scale_set_controller_values(
        replicas=2, log_format="json", image_cache=cache_plan("docker-hub", "quay")
    )
    assert not_served == _controller(2, "json", "ghcr.io/actions/gha-runner-scale-set-controller")


def test_the_controller_names_its_release_namespace_and_service_account() -> None:
    assert ss.SCALE_SET_CONTROLLER_NAMESPACE == "arc-scale-set-system"
    assert ss.SCALE_SET_CONTROLLER_RELEASE == "gha-rs-controller"
    assert ss.SCALE_SET_CONTROLLER_SERVICE_ACCOUNT == "gha-rs-controller"


# --- names, images, groups ------------------------------------------------------------------------


def test_the_scale_set_name_is_team_pool_environment(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    assert ss.scale_set_name(pool) == "web-ci-dev"
    assert ss.scale_set_name(dataclasses.replace(pool, environment="prod")) == "web-ci-prod"


def test_a_scale_set_name_of_46_characters_is_refused_and_45_accepted(tmp_path: Path) -> None:
    # "web-" + name + "-dev": 8 characters around the pool name
    (at_limit,) = _pools(tmp_path, _spec(name="a" * 37))
    assert len(ss.scale_set_name(at_limit)) == 45
    assert scale_set_problems([at_limit]) == []
    (over,) = _pools(tmp_path, _spec(name="a" * 38))
    assert len(ss.scale_set_name(over)) == 46
    (problem,) = scale_set_problems([over])
    assert "at most 45" in problem.expected
    assert ss.SCALE_SET_NAME_MAX_LENGTH == 45


def test_the_platform_images_and_docker_group_apply_unless_the_pool_names_its_own(
    tmp_path: Path,
) -> None:
    default = _pool(tmp_path)
    assert ss.scale_set_docker_group(default) == 123
    assert ss.scale_set_runner_image(default) == RUNNER_IMAGE
    assert ss.scale_set_dind_image(default) == DIND_IMAGE
    own = _pool(
        tmp_path,
        runnerImage="ghcr.io/acme/runner:1.2.3",
        dindImage="docker:29.5.3-dind-rootless",
        dockerGid=999,
    )
    assert ss.scale_set_docker_group(own) == 999
    assert ss.scale_set_runner_image(own) == "ghcr.io/acme/runner:1.2.3"
    assert ss.scale_set_dind_image(own) == "docker:29.5.3-dind-rootless"


# --- dockerd's arguments and the dind sidecar ----------------------------------------------------


def test_dockerd_listens_on_the_unix_socket_only_for_the_docker_group(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    assert ss.scale_set_dind_args(pool) == ["dockerd", f"--host={SOCKET}", "--group=123"]
    # an empty mirror is no mirror
    assert ss.scale_set_dind_args(pool, "") == ["dockerd", f"--host={SOCKET}", "--group=123"]
    assert ss.scale_set_dind_args(pool, "https://mirror.example.com") == [
        "dockerd",
        f"--host={SOCKET}",
        "--group=123",
        "--registry-mirror=https://mirror.example.com",
    ]
    own = _pool(tmp_path, runnerImage="ghcr.io/acme/runner:1.2.3", dockerGid=2000)
    assert ss.scale_set_dind_args(own, "https://m.example.com") == [
        "dockerd",
        f"--host={SOCKET}",
        "--group=2000",
        "--registry-mirror=https://m.example.com",
    ]


def test_the_dind_sidecar_is_a_privileged_native_sidecar_with_a_startup_probe(
    tmp_path: Path,
) -> None:
    assert ss.scale_set_dind_sidecar(_pool(tmp_path)) == _sidecar()


def test_the_dind_sidecar_takes_the_pools_docker_resources_image_and_mirror(
    tmp_path: Path,
) -> None:
    resources = {
        "requests": {"cpu": "300m", "memory": "768Mi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    pool = _pool(tmp_path, dockerResources=resources, dindImage="docker:29.5.3-dind-alpine")
    sidecar = ss.scale_set_dind_sidecar(pool, registry_mirror="https://mirror.example.com")
    assert sidecar == _sidecar(
        image="docker:29.5.3-dind-alpine",
        args=[
            "dockerd",
            f"--host={SOCKET}",
            "--group=123",
            "--registry-mirror=https://mirror.example.com",
        ],
        resources=resources,
    )


def test_the_dind_image_comes_through_the_cache_when_it_serves_docker_hub(
    tmp_path: Path,
) -> None:
    pool = _pool(tmp_path)
    served = ss.scale_set_dind_sidecar(pool, cache_plan("github-container-registry", "docker-hub"))
    assert served == _sidecar(image=_cached(f"library/{DIND_IMAGE}", "docker-hub"))
    assert ss.scale_set_dind_sidecar(pool, cache_plan("github-container-registry")) == _sidecar()


def test_each_sidecar_has_its_own_startup_probe(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    first = ss.scale_set_dind_sidecar(pool)
    first["startupProbe"]["exec"]["command"].append("--format")
    first["startupProbe"]["failureThreshold"] = 1
    assert ss.scale_set_dind_sidecar(pool)["startupProbe"] == STARTUP_PROBE


# --- the pod template -----------------------------------------------------------------------------


def test_a_dind_pod_runs_the_externals_copy_then_the_sidecar_then_the_runner(
    tmp_path: Path,
) -> None:
    template = ss.scale_set_pod_template(
        _pool(tmp_path), node_selector=NODE_SELECTOR, tolerations=TOLERATIONS
    )
    assert template == {
        "metadata": {"labels": PLATFORM_LABELS},
        "spec": _pod_spec(
            tolerations=TOLERATIONS,
            containers=[_runner(env=DIND_RUNNER_ENV, volumeMounts=DIND_RUNNER_MOUNTS)],
            initContainers=[_externals_init(), _sidecar()],
            volumes=DIND_VOLUMES,
        ),
    }


def test_a_none_pod_has_the_runner_alone(tmp_path: Path) -> None:
    template = ss.scale_set_pod_template(_pool(tmp_path, "none"), node_selector=NODE_SELECTOR)
    # no tolerations given: no key; no sidecar, no volume, no env
    assert template == {
        "metadata": {"labels": PLATFORM_LABELS},
        "spec": _pod_spec(containers=[_runner()]),
    }


def test_a_kaniko_pod_has_its_scratch_volume_and_no_privileged_container(tmp_path: Path) -> None:
    image = "ghcr.io/acme/kaniko-runner:2.335.1-kaniko1.28.0"
    template = ss.scale_set_pod_template(
        _pool(tmp_path, "kaniko", runnerImage=image), node_selector=NODE_SELECTOR
    )
    assert template == {
        "metadata": {"labels": PLATFORM_LABELS},
        "spec": _pod_spec(
            containers=[
                _runner(
                    image,
                    env=[{"name": "KANIKO_SCRATCH_DIR", "value": "/kaniko-scratch"}],
                    volumeMounts=[{"name": "kaniko-scratch", "mountPath": "/kaniko-scratch"}],
                )
            ],
            volumes=[{"name": "kaniko-scratch", "emptyDir": {}}],
        ),
    }


def test_a_kubernetes_pool_is_refused_whatever_its_mode(tmp_path: Path) -> None:
    (legacy,) = _pools(tmp_path, _spec("kubernetes", mode="runnerDeployment"))
    for mode in ("scaleSet", "runnerDeployment"):
        forced = dataclasses.replace(legacy, spec=legacy.spec.model_copy(update={"mode": mode}))
        with pytest.raises(ValueError, match=r"^web-ci: docker: kubernetes is never a scale set$"):
            ss.scale_set_pod_template(forced, node_selector={})


def test_the_pod_carries_the_teams_labels_annotations_uid_and_the_cached_images(
    tmp_path: Path,
) -> None:
    pool = _pool(
        tmp_path,
        runnerImage="ghcr.io/acme/runner:1.2.3",
        runnerUid=1000,
        metadata={
            "labels": {"owner": "web-team", "cost-centre": "cc-42"},
            "annotations": {"acme.io/cost": "ci"},
        },
    )
    template = ss.scale_set_pod_template(
        pool,
        node_selector=NODE_SELECTOR,
        image_cache=cache_plan("docker-hub", "github-container-registry"),
        registry_mirror="https://mirror.example.com",
    )
    cached_runner = f"{HOST}/ci/ghcr/acme/runner:1.2.3"
    mirrored = [
        "dockerd",
        f"--host={SOCKET}",
        "--group=123",
        "--registry-mirror=https://mirror.example.com",
    ]
    assert template == {
        "metadata": {
            "labels": {"owner": "web-team", "cost-centre": "cc-42", **PLATFORM_LABELS},
            "annotations": {"acme.io/cost": "ci"},
        },
        "spec": {
            **_pod_spec(
                containers=[
                    _runner(cached_runner, env=DIND_RUNNER_ENV, volumeMounts=DIND_RUNNER_MOUNTS)
                ],
                initContainers=[
                    _externals_init(cached_runner),
                    _sidecar(image=_cached(f"library/{DIND_IMAGE}", "docker-hub"), args=mirrored),
                ],
                volumes=DIND_VOLUMES,
            ),
            "securityContext": {"fsGroup": 1000, "seccompProfile": SECCOMP},
        },
    }


def test_the_pod_template_copies_what_it_is_given(tmp_path: Path) -> None:
    selector = dict(NODE_SELECTOR)
    tolerations = copy.deepcopy(TOLERATIONS)
    template = ss.scale_set_pod_template(
        _pool(tmp_path, "none"), node_selector=selector, tolerations=tolerations
    )
    template["spec"]["nodeSelector"]["x"] = "y"
    template["spec"]["tolerations"][0]["value"] = "other"
    template["spec"]["tolerations"][1]["operator"] = "Equal"
    assert selector == NODE_SELECTOR and tolerations == TOLERATIONS


# --- the runner-set release -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "enterprise_url", "expected"),
    [
        ({"organization": "acme"}, None, "https://github.com/acme"),
        ({"repository": "acme/app"}, None, "https://github.com/acme/app"),
        ({"enterprise": "acme-ent"}, None, "https://github.com/enterprises/acme-ent"),
        ({"organization": "acme"}, "https://ghe.example.com", "https://ghe.example.com/acme"),
        ({"organization": "acme"}, "https://ghe.example.com//", "https://ghe.example.com/acme"),
        (
            {"repository": "acme/app"},
            "https://ghe.example.com/",
            "https://ghe.example.com/acme/app",
        ),
        (
            {"enterprise": "acme-ent"},
            "https://ghe.example.com/",
            "https://ghe.example.com/enterprises/acme-ent",
        ),
    ],
)
def test_github_config_url_of_every_scope_on_github_com_and_ghes(
    tmp_path: Path, scope: dict[str, str], enterprise_url: str | None, expected: str
) -> None:
    pool = _pool(tmp_path, "none", scope=scope)
    assert ss.github_config_url(pool, enterprise_url) == expected


def _release_values(template: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "githubConfigUrl": "https://github.com/acme",
        "githubConfigSecret": "arc-eks-github-config",
        "runnerScaleSetName": "web-ci-dev",
        "scaleSetLabels": ["web-ci"],
        "minRunners": 1,
        "maxRunners": 5,
        "controllerServiceAccount": {
            "namespace": "arc-scale-set-system",
            "name": "gha-rs-controller",
        },
        "labels": {"arc-eks.io/team": "web", "arc-eks.io/pool": "ci"},
        "template": template,
        **extra,
    }


def test_the_runner_set_values_of_a_plain_pool(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "none")
    values = ss.runner_scale_set_values(pool, node_selector=NODE_SELECTOR)
    assert values == _release_values(
        {"metadata": {"labels": PLATFORM_LABELS}, "spec": _pod_spec(containers=[_runner()])}
    )


def test_the_runner_set_values_with_group_metadata_ghes_ca_and_autoscaling(
    tmp_path: Path,
) -> None:
    (pool,) = load_team_pools(
        _team_dir(tmp_path),
        stack_config(
            images={"allowedRegistries": ["docker.io", "ghcr.io"]},
            teams={"web": {"organizations": ["acme"], "runnerGroups": ["web-runners"]}},
        ),
    )
    values = ss.runner_scale_set_values(
        pool,
        node_selector=NODE_SELECTOR,
        tolerations=TOLERATIONS,
        enterprise_url="https://ghe.example.com/",
        enterprise_ca=True,
        image_cache=cache_plan("docker-hub"),
        registry_mirror="https://mirror.example.com",
    )
    mirrored = [
        "dockerd",
        f"--host={SOCKET}",
        "--group=123",
        "--registry-mirror=https://mirror.example.com",
    ]
    template = {
        "metadata": {
            "labels": {"owner": "web-team", "cost-centre": "cc-42", **PLATFORM_LABELS},
            "annotations": {"acme.io/cost": "ci"},
        },
        "spec": _pod_spec(
            tolerations=TOLERATIONS,
            containers=[_runner(env=DIND_RUNNER_ENV, volumeMounts=DIND_RUNNER_MOUNTS)],
            initContainers=[
                _externals_init(),
                _sidecar(image=_cached(f"library/{DIND_IMAGE}", "docker-hub"), args=mirrored),
            ],
            volumes=DIND_VOLUMES,
        ),
    }
    assert values == {
        **_release_values(template),
        "githubConfigUrl": "https://ghe.example.com/acme",
        "scaleSetLabels": ["web-ci", "web-build"],
        "minRunners": 0,
        "maxRunners": 3,
        "labels": {
            "owner": "web-team",
            "cost-centre": "cc-42",
            "arc-eks.io/team": "web",
            "arc-eks.io/pool": "ci",
        },
        "annotations": {"acme.io/cost": "ci"},
        "runnerGroup": "web-runners",
        "githubServerTLS": {
            "certificateFrom": {
                "configMapKeyRef": {"name": "arc-eks-github-server-ca", "key": "ca.crt"}
            },
            "runnerMountPath": "/usr/local/share/ca-certificates/",
        },
    }


def _team_dir(tmp_path: Path) -> Path:
    write_team(
        tmp_path,
        "web",
        {
            "team": "web",
            "pools": [
                _spec(
                    group="web-runners",
                    labels=["web-ci", "web-build"],
                    autoscaling={"min": 0, "max": 3},
                    metadata={
                        "labels": {"owner": "web-team", "cost-centre": "cc-42"},
                        "annotations": {"acme.io/cost": "ci"},
                    },
                )
            ],
        },
    )
    return tmp_path


def test_no_runner_group_no_annotations_no_ca_no_keys(tmp_path: Path) -> None:
    values = ss.runner_scale_set_values(
        _pool(tmp_path), node_selector=NODE_SELECTOR, enterprise_ca=False
    )
    assert not {"runnerGroup", "annotations", "githubServerTLS"} & set(values)
    assert "annotations" not in values["template"]["metadata"]


def test_the_ghes_ca_config_map() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert ss.github_server_ca_config_map("runners-web", pem) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "arc-eks-github-server-ca",
            "namespace": "runners-web",
            "labels": {"app.kubernetes.io/managed-by": "arc-eks"},
        },
        "data": {"ca.crt": pem},
    }


def test_the_credentials_secret_keys() -> None:
    assert ss.GITHUB_CONFIG_SECRET_NAME == "arc-eks-github-config"
    assert ss.GITHUB_TOKEN_KEY == "github_token"
    assert ss.GITHUB_APP_KEYS == (
        "github_app_id",
        "github_app_installation_id",
        "github_app_private_key",
    )
