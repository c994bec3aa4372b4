"""`make up` / `scripts/deploy.sh` setup path, with stand-in `pulumi` and `aws` executables that
record their arguments (no Pulumi CLI or AWS here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arc_eks.review import policy_config
from tests.conftest import FIXTURE_PROJECT, PROJECT_DIR

STAND_IN = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$RECORD"
if [ "$(basename "$0")" = pulumi ] && [ "$1 $2" = "stack select" ] && [ ! -f "$STATE/$3" ]; then
  echo "error: no stack named '$3' found" >&2; exit 255
fi
if [ "$(basename "$0")" = pulumi ] && [ "$1 $2" = "stack init" ]; then touch "$STATE/$3"; fi
exit 0
"""


# The policy pack's virtualenv python: records its calls; pip fails when FAIL_PIP is set.
POLICY_PYTHON = """#!/usr/bin/env bash
echo "policy-python $*" >> "$RECORD"
if [ -n "${FAIL_PIP:-}" ]; then echo "pip: no network" >&2; exit 1; fi
exit 0
"""


def _policy_venv(root: Path) -> None:
    python = root / "policies" / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(POLICY_PYTHON)
    python.chmod(0o755)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project whose dev stack has its token set (as `pulumi config set --secret`
    leaves it: an encrypted `secure:` value)."""
    root = tmp_path / "project"
    for part in ("scripts", "arc_eks", "policies/arc_policies"):
        shutil.copytree(
            PROJECT_DIR / part, root / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copytree(FIXTURE_PROJECT / "stacks", root / "stacks")
    shutil.copy(PROJECT_DIR / "policies" / "requirements.txt", root / "policies")
    _policy_venv(root)
    stack = root / "stacks" / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"]["arc-eks:githubToken"] = {"secure": "v1:c2VjcmV0:AAAAAAAAAAAA"}
    stack.write_text(yaml.safe_dump(document))
    return root


def _deploy(
    project: Path, tmp_path: Path, *, stand_ins: bool = True, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir, state, record = tmp_path / "bin", tmp_path / "state", tmp_path / "record.txt"
    env.setdefault("VENV", str(Path(sys.executable).parent.parent))
    bin_dir.mkdir(exist_ok=True)
    state.mkdir(exist_ok=True)
    if stand_ins:
        for tool in ("pulumi", "aws"):
            path = bin_dir / tool
            path.write_text(STAND_IN)
            path.chmod(0o755)
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RECORD": str(record),
        "STATE": str(state),
        "STACK": "dev",
        "PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
        # The account checks need AWS; these tests check the script's flow (one test below runs
        # the account checks too).
        "ARC_EKS_PREFLIGHT": "config",
        **env,
    }
    result = subprocess.run(
        ["bash", str(project / "scripts" / "deploy.sh"), "up"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = record.read_text().splitlines() if record.exists() else []
    return result, calls


def test_first_run_logs_in_locally_creates_the_stack_and_runs_up_with_policies(
    project: Path, tmp_path: Path
) -> None:
    result, calls = _deploy(project, tmp_path)
    assert result.returncode == 0, result.stderr
    pulumi_calls = [c for c in calls if c.startswith("pulumi ")]
    assert pulumi_calls == [
        "pulumi login --local",
        "pulumi stack select dev",
        "pulumi stack init dev --secrets-provider passphrase",
        "pulumi up --stack dev --policy-pack policies --policy-pack-config "
        "build/policy-config/dev.json",
    ]
    generated = json.loads((project / "build" / "policy-config" / "dev.json").read_text())
    assert generated == policy_config.generate(FIXTURE_PROJECT, "dev")


def test_the_policy_config_follows_the_stack_file(project: Path, tmp_path: Path) -> None:
    """A bucket a dev-only team is allowed: its stack file is the only file that changes."""
    stack = project / "stacks" / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"]["arc-eks:teams"]["mobile"] = {
        "organizations": ["acme"],
        "s3Buckets": [{"bucket": "acme-mobile-cache"}],
        "maxRunnersPerPool": 8,
    }
    stack.write_text(yaml.safe_dump(document))
    (project / "build" / "policy-config").mkdir(parents=True)
    (project / "build" / "policy-config" / "dev.json").write_text('{"all": "disabled"}')
    result, _ = _deploy(project, tmp_path)
    assert result.returncode == 0, result.stderr
    generated = json.loads((project / "build" / "policy-config" / "dev.json").read_text())
    assert "acme-mobile-cache" in generated["aws-iam-irsa-no-wildcard-s3"]["allowedS3Buckets"]
    assert generated["arc-hra-max-replicas-cap"] == {"maxReplicas": 8}
    assert generated["all"] == "advisory"


def test_an_invalid_policies_section_stops_before_up(project: Path, tmp_path: Path) -> None:
    stack = project / "stacks" / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"]["arc-eks:policies"] = {"rules": {"no-such-rule": "advisory"}}
    stack.write_text(yaml.safe_dump(document))
    (project / "build" / "policy-config").mkdir(parents=True)
    (project / "build" / "policy-config" / "dev.json").write_text("{}")
    result, calls = _deploy(project, tmp_path)
    assert result.returncode != 0
    assert "arc-eks:policies.rules.no-such-rule" in result.stdout
    assert "could not generate the policy config" in result.stderr
    assert not [c for c in calls if c.startswith("pulumi up")]
    assert not (project / "build" / "policy-config" / "dev.json").exists(), "a stale config kept"


def test_second_run_selects_the_existing_stack(project: Path, tmp_path: Path) -> None:
    _deploy(project, tmp_path)
    (tmp_path / "record.txt").unlink()
    result, calls = _deploy(project, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pulumi stack init dev --secrets-provider passphrase" not in calls
    assert calls[-1].startswith("pulumi up --stack dev")


def test_backend_and_secrets_provider_from_the_environment(project: Path, tmp_path: Path) -> None:
    result, calls = _deploy(
        project,
        tmp_path,
        PULUMI_BACKEND_URL="s3://acme-pulumi-state/arc-eks",
        PULUMI_SECRETS_PROVIDER="awskms://alias/arc-eks-state",
        PULUMI_CONFIG_PASSPHRASE="",
    )
    assert result.returncode == 0, result.stderr
    assert "pulumi login s3://acme-pulumi-state/arc-eks" in calls
    assert "pulumi stack init dev --secrets-provider awskms://alias/arc-eks-state" in calls


def test_missing_token_stops_before_up_and_says_how_to_set_it(
    project: Path, tmp_path: Path
) -> None:
    stack = project / "stacks" / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    del document["config"]["arc-eks:githubToken"]
    stack.write_text(yaml.safe_dump(document))
    result, calls = _deploy(project, tmp_path)
    assert result.returncode != 0
    # The preflight report (stdout) names the fix.
    assert "pulumi config set --secret --stack dev arc-eks:githubToken" in result.stdout
    assert "Traceback" not in result.stderr
    assert not [c for c in calls if c.startswith("pulumi up")]


def test_account_checks_run_before_up_and_a_failure_stops_it(project: Path, tmp_path: Path) -> None:
    """Without ARC_EKS_PREFLIGHT=config the account checks run; with no AWS credentials the
    identity check fails, so `pulumi up` never starts (and no traceback is printed)."""
    result, calls = _deploy(
        project,
        tmp_path,
        ARC_EKS_PREFLIGHT="",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
    )
    assert result.returncode != 0
    assert "fail         identity: no AWS credentials" in result.stdout
    assert "Traceback" not in result.stderr
    assert not [c for c in calls if c.startswith("pulumi up")]


def test_missing_passphrase_is_reported(project: Path, tmp_path: Path) -> None:
    result, calls = _deploy(project, tmp_path, PULUMI_CONFIG_PASSPHRASE="")
    assert result.returncode != 0
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert not [c for c in calls if c.startswith(("pulumi stack", "pulumi up"))]


def test_missing_cli_is_reported(project: Path, tmp_path: Path) -> None:
    if shutil.which("pulumi", path="/usr/bin:/bin"):
        pytest.skip("a real pulumi CLI is on /usr/bin")
    result, _ = _deploy(project, tmp_path, stand_ins=False)
    assert result.returncode != 0
    assert "Pulumi CLI is not installed" in result.stderr


def test_makefile_up_target_runs_this_script() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert "scripts/deploy.sh up" in makefile
    assert os.access(PROJECT_DIR / "scripts" / "deploy.sh", os.X_OK)


PIP_INSTALL = "policy-python -m pip install --quiet -r policies/requirements.txt"


def test_policy_venv_is_prepared_from_the_pinned_requirements_before_up(
    project: Path, tmp_path: Path
) -> None:
    result, calls = _deploy(project, tmp_path)
    assert result.returncode == 0, result.stderr
    assert PIP_INSTALL in calls
    assert calls.index(PIP_INSTALL) < calls.index(
        next(c for c in calls if c.startswith("pulumi up"))
    )
    (tmp_path / "record.txt").unlink()
    _, calls = _deploy(project, tmp_path)  # unchanged requirements: nothing reinstalled
    assert PIP_INSTALL not in calls
    (tmp_path / "record.txt").unlink()
    requirements = project / "policies" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "# bumped\n")
    _, calls = _deploy(project, tmp_path)
    assert PIP_INSTALL in calls


def test_policy_venv_is_created_when_missing(project: Path, tmp_path: Path) -> None:
    shutil.rmtree(project / "policies" / "venv")
    # The project virtualenv's python, whose `-m venv` leaves a recording policy python behind.
    fake_venv = tmp_path / "project-venv"
    (fake_venv / "bin").mkdir(parents=True)
    python = fake_venv / "bin" / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  echo "project-python -m venv $3" >> "$RECORD"\n'
        '  mkdir -p "$3/bin"; cp "$POLICY_PYTHON_SRC" "$3/bin/python"; exit 0\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    source = tmp_path / "policy-python"
    source.write_text(POLICY_PYTHON)
    source.chmod(0o755)
    result, calls = _deploy(project, tmp_path, VENV=str(fake_venv), POLICY_PYTHON_SRC=str(source))
    assert result.returncode == 0, result.stderr
    assert calls.index("project-python -m venv policies/venv") < calls.index(PIP_INSTALL)
    assert calls[-1].startswith("pulumi up")


def test_policy_venv_failure_stops_before_up(project: Path, tmp_path: Path) -> None:
    result, calls = _deploy(project, tmp_path, FAIL_PIP="1")
    assert result.returncode != 0
    assert "could not install policies/requirements.txt" in result.stderr
    assert not [c for c in calls if c.startswith("pulumi up")]
    assert not (project / "policies" / "venv" / ".installed-requirements.txt").exists()
