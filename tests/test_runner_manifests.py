"""Rendered manifests: valid against the ARC CRDs and Kubernetes' own schemas, least privilege."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from arc_eks import versions
from arc_eks.builders.node_groups import RUNNER_NODE_LABEL_KEY, RUNNER_NODE_LABEL_VALUE
from arc_eks.builders.runner import (
    container_hooks_rbac,
    horizontal_runner_autoscaler_manifest,
    namespace_manifest,
    pod_security_level,
    runner_deployment_manifest,
    service_account_manifest,
)
from arc_eks.config.teams import DockerMode, ResolvedPool, load_team_pools
from arc_eks.review import charts
from tests.pool_fixtures import TEAMS_DIR, stack_config

NODE_SELECTOR = {RUNNER_NODE_LABEL_KEY: RUNNER_NODE_LABEL_VALUE}
K8S_VERSION = f"{versions.KUBERNETES_VERSION}.0"
CRD_FILES = {
    "RunnerDeployment": "actions.summerwind.dev_runnerdeployments.yaml",
    "HorizontalRunnerAutoscaler": "actions.summerwind.dev_horizontalrunnerautoscalers.yaml",
}


@functools.cache
def _crd_schema(crd_dir: Path, kind: str) -> dict[str, Any]:
    document = yaml.load((crd_dir / CRD_FILES[kind]).read_text(), Loader=yaml.CSafeLoader)
    (version,) = [v for v in document["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _validate_crd(manifest: dict[str, Any]) -> None:
    """Against the CRDs of the released chart users install (the chart cache, `make charts`)."""
    crd_dir = charts.chart_dir(versions.ARC_CHART, versions.ARC_CHART_VERSION) / "crds"
    schema = _crd_schema(crd_dir, manifest["kind"])
    jsonschema.Draft7Validator(schema).validate(manifest)
    # The generic schema leaves spec.* open at the top; additionalProperties are not set in the
    # CRD, so also make sure no key we render is unknown to it (typos would be silently dropped).
    _known_keys_only(schema, manifest, manifest["kind"])


def _known_keys_only(schema: dict[str, Any], value: Any, path: str) -> None:
    if isinstance(value, dict) and "properties" in schema:
        for key, child in value.items():
            assert key in schema["properties"], f"{path}.{key} is not in the CRD schema"
            _known_keys_only(schema["properties"][key], child, f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, child in enumerate(value):
            _known_keys_only(schema["items"], child, f"{path}[{i}]")


def _all_pools() -> list[ResolvedPool]:
    pools: dict[str, ResolvedPool] = {}
    for env in ("dev", "staging", "prod"):
        for pool in load_team_pools(TEAMS_DIR, stack_config(env)):
            pools[f"{env}/{pool.key}"] = pool
    return list(pools.values())


ALL_POOLS = _all_pools()
POOL_IDS = [f"{p.environment}-{p.key}" for p in ALL_POOLS]


def _containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"].get("sidecarContainers", []))


def _walk(value: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((key, child))
            out += _walk(child)
    elif isinstance(value, list):
        for child in value:
            out += _walk(child)
    return out


def test_example_pools_cover_every_docker_mode() -> None:
    assert {p.spec.docker for p in ALL_POOLS} == set(DockerMode)


@pytest.mark.parametrize("webhook", [False, True])
@pytest.mark.parametrize("pool", ALL_POOLS, ids=POOL_IDS)
def test_custom_resources_validate_against_the_crds(pool: ResolvedPool, webhook: bool) -> None:
    _validate_crd(runner_deployment_manifest(pool, node_selector=NODE_SELECTOR))
    _validate_crd(horizontal_runner_autoscaler_manifest(pool, webhook_server=webhook))


def test_crd_check_catches_a_wrong_type() -> None:
    hra = horizontal_runner_autoscaler_manifest(ALL_POOLS[0], webhook_server=False)
    hra["spec"]["minReplicas"] = "one"
    with pytest.raises(jsonschema.ValidationError):
        _validate_crd(hra)


@pytest.mark.parametrize("pool", ALL_POOLS, ids=POOL_IDS)
def test_builtin_objects_validate_strictly(pool: ResolvedPool) -> None:
    objects = [
        namespace_manifest(pool.team, [pool.spec.docker]),
        service_account_manifest(pool, None),
        service_account_manifest(pool, "arn:aws:iam::123456789012:role/x"),
        *container_hooks_rbac(pool),
    ]
    for manifest in objects:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


@pytest.mark.parametrize("pool", ALL_POOLS, ids=POOL_IDS)
def test_only_the_docker_sidecar_is_privileged_and_nothing_mounts_the_host(
    pool: ResolvedPool,
) -> None:
    deployment = runner_deployment_manifest(pool, node_selector=NODE_SELECTOR)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["dockerEnabled"] is False
    assert spec["dockerdWithinRunnerContainer"] is False
    assert spec["ephemeral"] is True
    assert spec["securityContext"] == {
        "fsGroup": 1001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["automountServiceAccountToken"] is (pool.spec.docker == DockerMode.KUBERNETES)
    assert spec["nodeSelector"] == NODE_SELECTOR
    privileged = [
        c["name"] for c in _containers(deployment) if c.get("securityContext", {}).get("privileged")
    ]
    keys = {k for k, _ in _walk(deployment)}
    assert "hostPath" not in keys
    assert "hostNetwork" not in keys and "hostPID" not in keys
    if pool.spec.docker == DockerMode.DIND:
        assert privileged == ["docker"]
        (sidecar,) = _containers(deployment)
        assert sidecar["image"] == versions.DIND_IMAGE
    else:
        assert privileged == []
        assert "sidecarContainers" not in spec


def test_dind_service_ports_are_published_into_the_runner_pods_network() -> None:
    """docs/runner-pools.md: a job's `services:` with `ports:` answer on localhost in the runner
    container. That holds because the daemon is a container of the runner pod itself (one network
    namespace), not of the node or another pod, and nothing disables or redirects publishing."""
    pool = next(p for p in ALL_POOLS if p.spec.docker == DockerMode.DIND)
    spec = runner_deployment_manifest(pool, node_selector=NODE_SELECTOR)["spec"]["template"]["spec"]
    (sidecar,) = spec["sidecarContainers"]
    assert "hostNetwork" not in spec and "hostNetwork" not in sidecar
    args = sidecar["args"]
    assert args[0] == "dockerd"
    for flag in ("--ip=", "--iptables=false", "--bridge=none"):
        assert not any(arg.startswith(flag) for arg in args), flag


def test_dind_shares_the_socket_and_docker_host() -> None:
    pool = next(p for p in ALL_POOLS if p.spec.docker == DockerMode.DIND)
    spec = runner_deployment_manifest(pool, node_selector=NODE_SELECTOR)["spec"]["template"]["spec"]
    (sidecar,) = spec["sidecarContainers"]
    docker_host = {"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"}
    assert docker_host in spec["env"] and docker_host in sidecar["env"]
    for mounts in (spec["volumeMounts"], sidecar["volumeMounts"]):
        assert {"name": "var-run", "mountPath": "/var/run"} in mounts
        assert {"name": "work", "mountPath": "/runner/_work"} in mounts
    assert {v["name"] for v in spec["volumes"]} >= {"var-run", "work", "tmp"}
    assert all("emptyDir" in v for v in spec["volumes"])


def test_kaniko_builds_on_a_scratch_volume() -> None:
    pool = next(p for p in ALL_POOLS if p.spec.docker == DockerMode.KANIKO)
    spec = runner_deployment_manifest(pool, node_selector=NODE_SELECTOR)["spec"]["template"]["spec"]
    assert spec["image"] == pool.spec.runner_image
    assert {"name": "kaniko-scratch", "emptyDir": {}} in spec["volumes"]
    assert {"name": "KANIKO_SCRATCH_DIR", "value": "/kaniko-scratch"} in spec["env"]


def test_kubernetes_mode_has_an_ephemeral_work_volume_and_hooks_rbac() -> None:
    pool = next(p for p in ALL_POOLS if p.spec.docker == DockerMode.KUBERNETES)
    spec = runner_deployment_manifest(pool, node_selector=NODE_SELECTOR)["spec"]["template"]["spec"]
    assert spec["containerMode"] == "kubernetes"
    claim = spec["workVolumeClaimTemplate"]
    assert claim["storageClassName"] == "gp3-encrypted" and claim["accessModes"] == [
        "ReadWriteOnce"
    ]
    role, binding = container_hooks_rbac(pool)
    assert {r["resources"][0] for r in role["rules"]} == {
        "pods",
        "pods/exec",
        "pods/log",
        "secrets",
    }
    assert binding["subjects"][0]["name"] == spec["serviceAccountName"]
    # The hooks need the API token; other modes without AWS access get none.
    assert "automountServiceAccountToken" not in service_account_manifest(pool, None)


def test_scope_group_and_labels() -> None:
    pool = next(p for p in ALL_POOLS if p.key == "data-platform-images")
    spec = runner_deployment_manifest(pool, node_selector=NODE_SELECTOR)["spec"]["template"]["spec"]
    assert spec["organization"] == "acme" and "repository" not in spec and "enterprise" not in spec
    assert spec["group"] == "data-platform"
    assert spec["labels"] == ["linux", "x64", "kaniko"]


def test_autoscaler_renders_thresholds_as_strings_and_schedules() -> None:
    pool = next(p for p in ALL_POOLS if p.key == "payments-build" and p.environment == "prod")
    hra = horizontal_runner_autoscaler_manifest(pool, webhook_server=False)["spec"]
    assert hra["scaleTargetRef"] == {"kind": "RunnerDeployment", "name": "build"}
    assert (hra["minReplicas"], hra["maxReplicas"]) == (2, 16)
    assert hra["metrics"] == [
        {
            "type": "PercentageRunnersBusy",
            "scaleUpThreshold": "0.75",
            "scaleDownThreshold": "0.25",
            "scaleUpFactor": "2",
            "scaleDownFactor": "0.5",
        }
    ]
    assert hra["scheduledOverrides"] == [
        {
            "startTime": "2026-01-03T00:00:00+09:00",
            "endTime": "2026-01-05T00:00:00+09:00",
            "minReplicas": 1,
            "recurrenceRule": {"frequency": "Weekly"},
        }
    ]
    assert "scaleUpTriggers" not in hra
    with_webhook = horizontal_runner_autoscaler_manifest(pool, webhook_server=True)["spec"]
    assert with_webhook["scaleUpTriggers"] == [
        {"githubEvent": {"workflowJob": {}}, "duration": "30m"}
    ]


def test_namespace_takes_the_most_permissive_level_its_pools_need() -> None:
    assert pod_security_level([DockerMode.NONE]) == "baseline"
    assert pod_security_level([DockerMode.NONE, DockerMode.DIND]) == "privileged"
    labels = namespace_manifest("payments", [DockerMode.DIND])["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/enforce-version"] == f"v{versions.KUBERNETES_VERSION}"
    name = namespace_manifest("payments", [DockerMode.NONE])["metadata"]["name"]
    assert name == "runners-payments" and name != "actions-runner-system"


def test_service_account_annotation_only_with_a_role() -> None:
    pool = next(p for p in ALL_POOLS if p.key == "web-ci")
    plain = service_account_manifest(pool, None)
    assert "annotations" not in plain["metadata"]
    assert plain["automountServiceAccountToken"] is False
    arn = "arn:aws:iam::123456789012:role/r"
    annotated = service_account_manifest(pool, arn)
    assert annotated["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}


def test_kaniko_runner_recipe_pins_match_versions() -> None:
    dockerfile = Path(__file__).resolve().parents[1] / "images" / "kaniko-runner" / "Dockerfile"
    args = dict(
        line.removeprefix("ARG ").split("=", 1)
        for line in dockerfile.read_text().splitlines()
        if line.startswith("ARG ")
    )
    assert args["RUNNER_IMAGE"] == versions.RUNNER_IMAGE
    assert args["KANIKO_IMAGE"] == versions.KANIKO_EXECUTOR_IMAGE
    assert "gcr.io/kaniko-project" not in dockerfile.read_text()  # the archived upstream


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "at least one --destination"),
        (["--destination", "r/x:1", "--context", "/nonexistent"], "no Dockerfile in /nonexistent"),
        (["--bogus"], "unknown argument --bogus"),
    ],
)
def test_kaniko_build_wrapper_refuses_bad_arguments_before_touching_anything(
    tmp_path: Path, args: list[str], message: str
) -> None:
    import subprocess

    script = Path(__file__).resolve().parents[1] / "images" / "kaniko-runner" / "kaniko-build"
    done = subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "KANIKO_SCRATCH_DIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []  # no chroot was started


FAKE_CHROOT = """#!/bin/bash
root="$1"; shift
echo "ARGS $*"
/usr/bin/env | /usr/bin/sort
/bin/cat "$root/kaniko/.docker/config.json"; echo
/bin/ls -A "$root/dev" "$root/kaniko/buildcontext" "$root/kaniko/irsa/token"
"""


def test_kaniko_build_wrapper_prepares_the_chroot(tmp_path: Path) -> None:
    """Everything up to the chroot call, with `sudo` and `chroot` replaced by stand-ins."""
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("mknod") is None:
        pytest.skip("needs root (mknod) to build the chroot's /dev")
    script = Path(__file__).resolve().parents[1] / "images" / "kaniko-runner" / "kaniko-build"
    bin_dir, kaniko, context, scratch = (tmp_path / d for d in ("bin", "kaniko", "ctx", "scratch"))
    for directory in (bin_dir, kaniko / ".docker", context / ".git", scratch):
        directory.mkdir(parents=True)
    (bin_dir / "sudo").write_text('#!/bin/bash\nexec "$@"\n')
    (bin_dir / "chroot").write_text(FAKE_CHROOT)
    for tool in ("sudo", "chroot"):
        (bin_dir / tool).chmod(0o755)
    (kaniko / "nsswitch.conf").write_text("hosts: files dns\n")
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "app.py").write_text("")
    (context / ".git" / "config").write_text("")
    token = tmp_path / "token"
    token.write_text("irsa-token")
    ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/data-platform/trainer:abc"
    done = subprocess.run(
        [
            "bash",
            str(script),
            "--context",
            str(context),
            "--destination",
            ecr,
            "--destination",
            "docker.io/acme/x:1",
            "--",
            "--cache=true",
        ],
        capture_output=True,
        text=True,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin:/usr/sbin:/sbin",
            "KANIKO_HOME": str(kaniko),
            "KANIKO_SCRATCH_DIR": str(scratch),
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/pool",
            "AWS_REGION": "eu-west-1",
            "GITHUB_TOKEN": "must-not-leak",
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # The whole argument list: --force first (the chroot has no container markers, and kaniko
    # exits "should only be run inside of a container" without it), then context, Dockerfile,
    # destinations and the caller's extra flags, each one argument.
    assert (
        "ARGS /kaniko/executor --force --context=dir:///kaniko/buildcontext "
        "--dockerfile=/kaniko/buildcontext/Dockerfile "
        f"--destination={ecr} --destination=docker.io/acme/x:1 --cache=true\n"
    ) in out
    assert "AWS_WEB_IDENTITY_TOKEN_FILE=/kaniko/irsa/token" in out
    assert "AWS_ROLE_ARN=arn:aws:iam::123456789012:role/pool" in out
    assert "GITHUB_TOKEN" not in out  # only the variables kaniko needs enter the chroot
    assert '{"credHelpers":{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":"ecr-login"}}' in out
    assert "null" in out and "urandom" in out
    assert "app.py" in out and ".git" not in out
    assert list(scratch.iterdir()) == []  # the chroot is removed afterwards
