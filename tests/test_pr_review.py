"""The pull-request review (.github/workflows/review.yml and arc_eks/review/pr.py): affected stacks
from changed files, the markdown diff of base and head summaries, and the workflow's shape (pinned
actions, read-only token, no expression pasted into a script)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from arc_eks.review import pr
from arc_eks.review import run as review
from tests.conftest import FIXTURE_PROJECT, PROJECT_DIR

CHART_CACHE = PROJECT_DIR / ".cache" / "charts"
WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "review.yml"
# Every action the workflow uses, pinned by the full commit SHA of the release named in the comment
# (tags v7.0.1 and v7.0.0 of the actions' repositories, read from the repositories themselves).
PINNED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
}
MOBILE = """\
team: mobile
pools:
  - name: ios
    scope: {organization: acme}
    labels: [linux, x64, mobile]
    docker: none
    resources:
      requests: {cpu: 500m, memory: 1Gi}
      limits: {cpu: "1", memory: 2Gi}
    autoscaling: {min: 1, max: 3}
    s3:
      - {bucket: acme-mobile-cache, prefix: ios/, access: read}
    environments: [dev]
"""


def _copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURE_PROJECT, root)
    (root / "docs").mkdir()
    (root / "docs" / "x.md").write_text("docs\n")
    (root / "arc_eks").mkdir()
    (root / "arc_eks" / "x.py").write_text("X = 1\n")
    return root


@pytest.fixture
def checkouts(tmp_path: Path) -> tuple[Path, Path]:
    return _copy(tmp_path, "base"), _copy(tmp_path, "head")


def test_nothing_changed_affects_nothing(checkouts: tuple[Path, Path]) -> None:
    assert pr.affected_stacks(*checkouts) == []


def test_a_dev_only_team_affects_dev(checkouts: tuple[Path, Path]) -> None:
    base, head = checkouts
    (head / "teams" / "mobile.yaml").write_text(MOBILE)
    assert pr.changed_files(base, head) == ["teams/mobile.yaml"]
    assert pr.affected_stacks(base, head) == ["dev"]


def test_a_team_affects_the_environments_of_both_versions(checkouts: tuple[Path, Path]) -> None:
    base, head = checkouts
    (base / "teams" / "mobile.yaml").write_text(MOBILE.replace("[dev]", "[prod]"))
    (head / "teams" / "mobile.yaml").write_text(MOBILE.replace("[dev]", "{staging: {}}"))
    assert pr.affected_stacks(base, head) == ["prod", "staging"]


def test_a_stack_file_affects_its_stack(checkouts: tuple[Path, Path]) -> None:
    base, head = checkouts
    stack = head / "stacks" / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text() + "\n")
    (head / "docs" / "x.md").write_text("more docs\n")
    assert pr.affected_stacks(base, head) == ["prod"]


@pytest.mark.parametrize(
    "change",
    [
        lambda head: (head / "arc_eks" / "x.py").write_text("X = 2\n"),
        lambda head: (head / "teams" / "web.yaml").write_text("pools: [\n"),  # unreadable
        lambda head: (head / "teams" / "web.yaml").write_text("team: web\npools: [{name: a}]\n"),
    ],
)
def test_code_or_an_unreadable_team_file_affects_every_stack(
    checkouts: tuple[Path, Path], change: Any
) -> None:
    base, head = checkouts
    change(head)
    assert pr.affected_stacks(base, head) == ["dev", "prod", "staging"]


def test_only_stack_names_the_model_allows(checkouts: tuple[Path, Path]) -> None:
    base, head = checkouts
    (head / "stacks" / "Pulumi.$(id).yaml").write_text("config: {}\n")
    (head / "stacks" / "Pulumi.qa.yaml").write_text("config: {}\n")
    assert pr.affected_stacks(base, head) == ["qa"]


def test_cli_prints_one_stack_per_line(
    checkouts: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = checkouts
    (head / "teams" / "mobile.yaml").write_text(MOBILE)
    assert pr.main(["affected", "--base", str(base), "--head", str(head)]) == 0
    assert capsys.readouterr().out == "dev\n"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """Real reviews of dev: the fixture project, then a pull request that adds a dev-only team,
    gives the web team's pool Docker (its namespace moves to privileged) and adds a cluster
    admin."""
    tmp = tmp_path_factory.mktemp("pr")
    base, head = _copy(tmp, "base"), _copy(tmp, "head")
    (head / "teams" / "mobile.yaml").write_text(MOBILE)
    web = head / "teams" / "web.yaml"
    web.write_text(web.read_text().replace("docker: none", "docker: dind"))
    stack = head / "stacks" / "Pulumi.dev.yaml"
    text = stack.read_text()
    text = text.replace(
        "      - arn:aws:iam::111122223333:role/platform-admin\n",
        "      - arn:aws:iam::111122223333:role/platform-admin\n"
        "      - arn:aws:iam::111122223333:role/contractor\n",
        1,
    ).replace(
        "  arc-eks:teams:\n",
        "  arc-eks:teams:\n    mobile:\n      organizations: [acme]\n"
        "      s3Buckets: [{bucket: acme-mobile-cache}]\n      maxRunnersPerPool: 3\n",
    )
    stack.write_text(text)
    for name, root in (("base", base), ("head", head)):
        review.run_review(
            "dev",
            project_dir=root,
            chart_cache=CHART_CACHE,
            check_ignored_values=False,
            out_dir=tmp / "build" / name / "dev",
        )
    markdown, worst = pr.summary_markdown(["dev"], tmp / "build" / "base", tmp / "build" / "head")
    return tmp / "build", markdown, worst


def test_the_summary_shows_what_the_change_adds_and_changes(
    reviewed: tuple[Path, str, int],
) -> None:
    _, markdown, worst = reviewed
    assert worst == 0 and "✅ **PASS** (base: PASS)" in markdown
    adds = markdown.split("**Adds**")[1].split("**Changes**")[0]
    assert "- `kubernetes:core/v1:Namespace` `mobile-namespace`" in adds
    assert "RunnerDeployment` `mobile-ios-runners`" in adds
    assert "- `aws:iam/rolePolicy:RolePolicy` `mobile-ios-access`" in adds
    changes = markdown.split("**Changes**")[1]
    assert (
        '  - `spec.template.spec.nodeSelector.arc-eks.io/isolation`: `"standard"` → '
        '`"privileged"`' in changes
    )
    assert "**Removes**" not in markdown


def test_the_summary_shows_an_added_cluster_admin(reviewed: tuple[Path, str, int]) -> None:
    _, markdown, _ = reviewed
    admins = markdown.split("### Cluster admins")[1].split("###")[0]
    assert "**added** `arn:aws:iam::111122223333:role/contractor`" in admins
    assert "platform-admin" not in admins  # unchanged admins are not news


def test_the_summary_shows_the_pod_security_move(reviewed: tuple[Path, str, int]) -> None:
    _, markdown, _ = reviewed
    section = markdown.split("### Pod Security")[1]
    assert "`runners-web`: `baseline` → `privileged` (**less strict**)" in section
    assert "`runners-mobile`: new namespace, enforces `baseline`" in section


def test_the_cli_appends_to_the_job_summary(
    reviewed: tuple[Path, str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, markdown, _ = reviewed
    out = tmp_path / "step-summary.md"
    out.write_text("earlier step\n")
    argv = ["summary", "--base", str(build / "base"), "--head", str(build / "head")]
    assert pr.main([*argv, "--out", str(out), "dev"]) == 0
    assert out.read_text() == "earlier step\n" + markdown
    assert capsys.readouterr().out == markdown


def _summary(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "verdict": "PASS",
        "exitCode": 0,
        "counts": {},
        "violations": [],
        "objects": [],
        "clusterAdmins": [],
        "namespaces": [],
        "configProblems": [],
        "invalid": [],
    }
    return {**base, **overrides}


def test_violations_show_their_level_remediation_and_what_is_new() -> None:
    old = {
        "policy": "arc-hra-max-replicas-cap",
        "enforcementLevel": "mandatory",
        "message": "HRA 'a': too big. Remediation: lower it",
        "urn": "urn:a",
    }
    new = {
        "policy": "aws-iam-irsa-no-wildcard-s3",
        "enforcementLevel": "mandatory",
        "message": "bucket `x` <img src=x onerror=alert(1)> | y. Remediation: grant only ` allowed",
        "urn": "urn:b",
    }
    advice = {**old, "enforcementLevel": "advisory", "urn": "urn:c"}
    head = _summary(verdict="FAIL", exitCode=1, violations=[old, new, advice])
    text = pr.stack_markdown("prod", _summary(violations=[old]), head)
    assert "❌ **FAIL** (base: PASS)" in text
    mandatory = text.split("### Mandatory violations (fail the review and block the deploy)")[1]
    mandatory = mandatory.split("###")[0]
    assert "- [`arc-hra-max-replicas-cap`] `HRA 'a': too big.`<br>**Remediation:** `lower it`" in (
        mandatory
    )
    assert "- **new** [`aws-iam-irsa-no-wildcard-s3`]" in mandatory
    # A value from a file cannot close its code span or a table cell.
    assert "`bucket 'x' <img src=x onerror=alert(1)> / y.`" in mandatory
    assert "### Advisory violations (reported, never a failure)" in text


def test_config_problems_and_a_missing_head_review_fail(tmp_path: Path) -> None:
    head = _summary(
        verdict="INVALID CONFIGURATION", exitCode=2, configProblems=["teams/x.yaml: pools: bad"]
    )
    (tmp_path / "head" / "dev").mkdir(parents=True)
    (tmp_path / "head" / "dev" / "summary.json").write_text(json.dumps(head))
    text, worst = pr.summary_markdown(["dev", "prod"], tmp_path / "base", tmp_path / "head")
    assert worst == 2
    assert "### Configuration problems" in text and "`teams/x.yaml: pools: bad`" in text
    assert "base: not reviewed" in text
    assert "**No review result for the head of this pull request**" in text


def test_changed_fields_are_listed_old_to_new() -> None:
    before = {"type": "t", "name": "n", "digest": "1", "fields": {"spec.max": "3", "a": "1"}}
    after = {"type": "t", "name": "n", "digest": "2", "fields": {"spec.max": "6", "b": "2"}}
    text = pr.stack_markdown("dev", _summary(objects=[before]), _summary(objects=[after]))
    assert "  - `spec.max`: `3` → `6`" in text
    assert "  - `a`: removed (was `1`)" in text and "  - `b`: added `2`" in text


# --- the workflow ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_the_workflow_runs_on_pull_requests_only_with_a_read_only_token(
    workflow: dict[Any, Any],
) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers == {"pull_request": None}, "never pull_request_target: it hands forks a token"
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert "permissions" not in job or job["permissions"] == {"contents": "read"}
        assert isinstance(job["timeout-minutes"], int)


def test_every_action_is_pinned_by_a_verified_sha(workflow: dict[Any, Any]) -> None:
    text = WORKFLOW.read_text()
    uses = [step["uses"] for step in _steps(workflow) if "uses" in step]
    assert uses, "no actions?"
    for use in uses:
        name, _, ref = use.partition("@")
        assert name in PINNED, f"{name}: only actions whose SHA was verified"
        sha, version = PINNED[name]
        assert ref == sha and re.fullmatch(r"[0-9a-f]{40}", ref)
        assert f"uses: {use} # {version}" in text


def test_checkouts_keep_no_credentials_and_the_reviewer_is_the_base(
    workflow: dict[Any, Any],
) -> None:
    checkouts = [s for s in _steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert [c["with"]["path"] for c in checkouts] == ["base", "head"]
    assert all(c["with"]["persist-credentials"] is False for c in checkouts)
    assert checkouts[0]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    runs = [s for s in _steps(workflow) if "run" in s]
    assert all(s["working-directory"] == "base" for s in runs), "every command is the base's code"


def test_no_expression_is_pasted_into_a_script(workflow: dict[Any, Any]) -> None:
    """Values reach scripts through env only: a stack name or branch name cannot inject a
    command."""
    for step in _steps(workflow):
        assert "${{" not in step.get("run", ""), step["name"]


def test_the_workflow_calls_what_exists(workflow: dict[Any, Any]) -> None:
    scripts = "\n".join(step.get("run", "") for step in _steps(workflow))
    assert "make venv charts" in scripts
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert re.search(r"^venv:", makefile, re.M) and re.search(r"^charts:", makefile, re.M)
    assert "python -m arc_eks.review.pr affected --base . --head ../head" in scripts
    assert (
        "python -m arc_eks.review.pr summary --base ../build/base --head ../build/head" in scripts
    )
    assert '--out "$GITHUB_STEP_SUMMARY" $STACKS' in scripts
    assert '-m arc_eks.review --stack "$stack" --project-dir ../head' in scripts
