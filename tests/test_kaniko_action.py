"""The composite action `.github/actions/kaniko-build`: its script run as the Actions runner runs a
composite `run` step (bash, inputs in the step's `env`), with a stand-in `kaniko-build` that prints
the arguments it receives, one per line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ACTION = Path(__file__).resolve().parents[1] / ".github" / "actions" / "kaniko-build" / "action.yml"
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments/api"
STAND_IN = '#!/bin/bash\nfor a in "$@"; do printf "%s\\n" "$a"; done\n'


def _run(tmp_path: Path, **inputs: str) -> subprocess.CompletedProcess[str]:
    action = yaml.safe_load(ACTION.read_text())
    (step,) = action["runs"]["steps"]
    declared = action["inputs"]
    assert set(inputs) <= set(declared)
    values = {name: inputs.get(name, spec.get("default", "")) for name, spec in declared.items()}
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    for variable, expression in step["env"].items():
        name = expression.removeprefix("${{ inputs.").removesuffix(" }}")
        env[variable] = values[name]
    (tmp_path / "bin").mkdir(exist_ok=True)
    stand_in = tmp_path / "bin" / "kaniko-build"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    return subprocess.run(
        [step["shell"], "-c", step["run"]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=30,
        check=False,
    )


def test_inputs_become_kaniko_build_arguments(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        image=IMAGE,
        context="services/api",
        tags="abc123, main-7\nrelease_1.2",
        **{"extra-args": "--cache=true --build-arg=VERSION=1.2"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "--context",
        "services/api",
        "--dockerfile",
        "Dockerfile",
        "--destination",
        f"{IMAGE}:abc123",
        "--destination",
        f"{IMAGE}:main-7",
        "--destination",
        f"{IMAGE}:release_1.2",
        "--",
        "--cache=true",
        "--build-arg=VERSION=1.2",
    ]


def test_inputs_are_never_evaluated_by_the_shell(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        image=IMAGE,
        tags="v1",
        context="$(touch pwned-context)",
        **{"extra-args": "$(touch pwned-extra) `touch pwned-tick`"},
    )
    assert done.returncode == 0, done.stderr
    assert "$(touch" in done.stdout  # passed on literally, as arguments
    assert not list(tmp_path.glob("pwned*"))


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"image": f"{IMAGE}:v1", "tags": "v2"}, "without a tag or digest"),
        ({"image": f"{IMAGE}@sha256:{'a' * 64}", "tags": "v2"}, "without a tag or digest"),
        ({"image": "", "tags": "v2"}, "without a tag or digest"),
        ({"image": IMAGE, "tags": " , "}, "names no tag"),
        ({"image": IMAGE, "tags": "v1;touch pwned"}, "not a valid image tag"),
        ({"image": IMAGE, "tags": "-x"}, "not a valid image tag"),
    ],
)
def test_bad_inputs_stop_before_kaniko_build(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    done = _run(tmp_path, **inputs)
    assert done.returncode == 2
    assert message in done.stdout
    assert "--destination" not in done.stdout  # kaniko-build was never called
    assert not list(tmp_path.glob("pwned*"))
