"""dind start-up race: the runner waits for the sidecar's dockerd before it registers, and the
sidecar holds its SIGTERM while the runner is still registered. The scripts are executed here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from arc_eks import versions
from arc_eks.builders import runner as runner_builder
from arc_eks.builders.runner import runner_deployment_manifest
from arc_eks.config.teams import load_team_pools
from tests.pool_fixtures import stack_config

K8S_VERSION = f"{versions.KUBERNETES_VERSION}.0"


def _pool(tmp_path: Path, docker: str) -> Any:
    document = {
        "team": "web",
        "pools": [
            {
                "name": "build",
                "scope": {"organization": "acme"},
                "labels": ["linux", "build"],
                "docker": docker,
                "autoscaling": {"min": 1, "max": 2},
                "environments": {"dev": {}},
            }
        ],
    }
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(document))
    (pool,) = load_team_pools(tmp_path, stack_config("dev"))
    return pool


@pytest.fixture
def dind_spec(tmp_path: Path) -> dict[str, Any]:
    manifest = runner_deployment_manifest(_pool(tmp_path, "dind"), node_selector={"a": "b"})
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def test_the_runner_container_waits_for_docker_then_runs_the_image_entrypoint(
    dind_spec: dict[str, Any],
) -> None:
    (runner,) = dind_spec["containers"]
    assert runner == {"name": "runner", "args": [runner_builder.RUNNER_WAIT_FOR_DOCKER]}
    assert runner_builder.RUNNER_WAIT_FOR_DOCKER.endswith("exec entrypoint.sh")
    # ARC's own wait stays off (it would need DOCKER_ENABLED=true, i.e. ARC's built-in dind).
    assert dind_spec["dockerEnabled"] is False


def test_other_modes_keep_the_image_defaults(tmp_path: Path) -> None:
    spec = runner_deployment_manifest(_pool(tmp_path, "none"), node_selector={})
    assert "containers" not in spec["spec"]["template"]["spec"]


def test_the_sidecar_holds_sigterm_while_the_runner_is_registered(
    dind_spec: dict[str, Any],
) -> None:
    (sidecar,) = dind_spec["sidecarContainers"]
    command = sidecar["lifecycle"]["preStop"]["exec"]["command"]
    assert command == ["/bin/sh", "-c", runner_builder.DIND_PRE_STOP]
    assert {"name": "runner", "mountPath": "/runner"} in sidecar["volumeMounts"]
    # Well inside the default 30 s termination grace period.
    assert runner_builder.DIND_STOP_WAIT_SECONDS < 30


def test_the_pod_arc_renders_is_valid(dind_spec: dict[str, Any]) -> None:
    """The pod as ARC v0.27.6 builds it from this spec (runner container from `containers` with
    the spec's image, env then ARC's env; the sidecar appended) validates strictly."""
    (runner,) = dind_spec["containers"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "build-abcde", "namespace": "runners-web"},
        "spec": {
            "containers": [
                {
                    **runner,
                    "image": versions.RUNNER_IMAGE,
                    "env": [*dind_spec["env"], {"name": "DOCKER_ENABLED", "value": "false"}],
                    "volumeMounts": dind_spec["volumeMounts"],
                },
                *dind_spec["sidecarContainers"],
            ],
            "volumes": [*dind_spec["volumes"], {"name": "runner", "emptyDir": {}}],
            "restartPolicy": "Never",
        },
    }
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def _fake_bin(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


def _run_wait(tmp_path: Path, docker_ready_after: int, limit: int) -> subprocess.CompletedProcess:
    """Run the runner's args as the image does (`/bin/bash -c <args>`), with a `docker` that
    answers after `docker_ready_after` calls and an `entrypoint.sh` that records its start."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "log"
    _fake_bin(
        bin_dir,
        "docker",
        f'n=$(cat "{tmp_path}/count" 2>/dev/null || echo 0); echo $((n+1)) > "{tmp_path}/count"\n'
        f'[ "$n" -ge {docker_ready_after} ] || exit 1\necho "docker answered" >> "{log}"',
    )
    _fake_bin(bin_dir, "entrypoint.sh", f'echo "entrypoint started" >> "{log}"')
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "WAIT_FOR_DOCKER_SECONDS": str(limit),
    }
    return subprocess.run(
        ["bash", "-c", runner_builder.RUNNER_WAIT_FOR_DOCKER],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_entrypoint_starts_only_after_dockerd_answers(tmp_path: Path) -> None:
    result = _run_wait(tmp_path, docker_ready_after=2, limit=20)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "log").read_text().splitlines() == ["docker answered", "entrypoint started"]
    assert int((tmp_path / "count").read_text()) == 3  # two refusals, then the answer


def test_a_daemon_that_never_answers_ends_the_pod_without_registering(tmp_path: Path) -> None:
    result = _run_wait(tmp_path, docker_ready_after=10_000, limit=1)
    assert result.returncode != 0
    assert "did not answer within 1s" in result.stderr
    assert not (tmp_path / "log").exists()


def test_pre_stop_waits_for_the_runner_to_deregister(tmp_path: Path) -> None:
    marker = tmp_path / ".runner"
    marker.write_text("{}")
    script = runner_builder.DIND_PRE_STOP.replace("/runner/.runner", str(marker))
    hook = subprocess.Popen(["sh", "-c", script])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            hook.wait(timeout=1.5)  # still registered: dockerd keeps running
        marker.unlink()  # entrypoint.sh removes it when the runner has stopped
        assert hook.wait(timeout=5) == 0
    finally:
        hook.kill()
