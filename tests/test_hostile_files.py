"""Hostile and careless files from tests/fixtures/hostile/ (one file per class): each is refused
before anything is created, as one ConfigError naming the file and key, in plain words, with no
traceback, no hang and nothing that could be a credential echoed.

Stack files go through the review's entry point (`python -m arc_eks.review`), which must exit 2."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import StackContext, load_team_pools
from arc_eks.config.yaml_files import MAX_DEPTH, MAX_NODES, parse_yaml
from arc_eks.errors import MASKED, ConfigError, looks_secret, show
from arc_eks.review.run import main as review_main

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
HEX_TOKEN = "0123456789abcdef0123456789abcdef01234567"


def _stack() -> StackConfig:
    return StackConfig.model_validate(
        {
            "environment": "dev",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "teams": {"alpha": {"organizations": ["acme"], "maxRunnersPerPool": 5}},
        }
    )


def _team_refusal(tmp_path: Path, fixture: str) -> str:
    shutil.copy(HOSTILE / fixture, tmp_path / "alpha.yaml")
    with pytest.raises(ConfigError) as raised:
        load_team_pools(
            tmp_path,
            _stack(),
            StackContext(environments=frozenset({"dev"}), own_accounts=("111122223333",)),
        )
    return str(raised.value)


def _review(tmp_path: Path, fixture: str, capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "teams").mkdir()
    shutil.copy(HOSTILE / fixture, tmp_path / "stacks" / "Pulumi.dev.yaml")
    code = review_main(["--stack", "dev", "--project-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "Traceback" not in out
    return out


# --- YAML ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "team: alpha\npools: " + "[" * 100_000 + "]" * 100_000,
        "team: alpha\npools: " + "{a: " * 20_000 + "1" + "}" * 20_000,
        "team: alpha\npools:\n" + "".join("  " * i + "- \n" for i in range(1, 200)),
    ],
    ids=["flow-lists", "flow-maps", "block-lists"],
)
def test_deep_nesting_is_refused_before_the_recursive_composer(text: str) -> None:
    started = time.perf_counter()
    loaded = parse_yaml(text, "teams/alpha.yaml")
    elapsed = time.perf_counter() - started
    assert loaded.document is None
    [problem] = loaded.problems
    assert problem.source == "teams/alpha.yaml"
    assert f"at most {MAX_DEPTH} levels of nesting" in problem.expected
    assert elapsed < 10  # a RecursionError or a minute-long compose would fail first


def test_nesting_at_the_bound_is_still_read() -> None:
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_yaml(text, "f").problems == []


def test_too_many_values_are_refused_from_the_event_stream() -> None:
    text = "labels: [" + ",".join(["a"] * (MAX_NODES + 10)) + "]"
    [problem] = parse_yaml(text, "teams/alpha.yaml").problems
    assert f"at most {MAX_NODES} values" in problem.expected


def test_a_yaml_tag_is_refused_in_plain_words(tmp_path: Path) -> None:
    text = _team_refusal(tmp_path, "team-yaml-tag.yaml")
    assert "teams/alpha.yaml: line 2: got (a value with a YAML tag" in text
    assert "os.system" not in text and "constructor" not in text


def test_an_impossible_date_is_a_config_problem_not_a_traceback(tmp_path: Path) -> None:
    text = _team_refusal(tmp_path, "team-impossible-date.yaml")
    assert "teams/alpha.yaml: (file): got (a value YAML cannot convert)" in text
    assert "no 2026-02-30" in text


# --- Secrets never echo, and are refused wherever they are written -----------------------------


def test_a_file_that_is_one_string_is_never_echoed(tmp_path: Path) -> None:
    text = _team_refusal(tmp_path, "team-env-file.yaml")
    assert "teams/alpha.yaml: (file): got (not a mapping; its content is not shown)" in text
    assert "hunter2" not in text and "0123456789abcdef" not in text


def test_a_token_under_a_valid_key_is_refused_and_masked(tmp_path: Path) -> None:
    text = _team_refusal(tmp_path, "team-token-under-a-valid-key.yaml")
    assert f"teams/alpha.yaml: pools[0].metadata.annotations.note: got {MASKED}" in text
    assert "rotate the credential" in text
    assert "ghp_" not in text


def test_token_shaped_values_under_wrong_keys_are_masked(tmp_path: Path) -> None:
    text = _team_refusal(tmp_path, "team-token-as-name.yaml")
    assert f"teams/alpha.yaml: pools[0].name: got {MASKED}" in text
    assert "teams/alpha.yaml: pools[0].docker: got (a mapping of 1 key)" in text
    assert HEX_TOKEN not in text and "hunter2" not in text


@pytest.mark.parametrize(
    "value",
    [
        HEX_TOKEN,  # a classic GitHub token: 40 hex digits, two character classes only
        "hunter2hunter2",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "DB_PASSWORD=x",
        "my token is abc",
        TOKEN,
        "AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_credential_shapes_are_masked(value: str) -> None:
    assert looks_secret(value)
    assert value not in show(value)
    assert "hunter2" not in show({"password": "hunter2"})
    assert value not in show({"note": value})


@pytest.mark.parametrize(
    "value",
    ["payments-build", "t3a.large", "111122223333", "203.0.113.0/24", "dood", "production"],
)
def test_plainly_harmless_values_are_shown(value: str) -> None:
    assert show(value) == repr(value)


# --- Routing: labels of GitHub-hosted runners ---------------------------------------------------


def test_a_github_hosted_label_is_refused_in_any_case(tmp_path: Path) -> None:
    text = _team_refusal(tmp_path, "team-hosted-label.yaml")
    assert "teams/alpha.yaml: pools[0].labels:" in text
    assert "labels other than GitHub-hosted runner labels (Ubuntu-Latest)" in text


# --- Stack files, through the review's entry point ----------------------------------------------


def test_an_unknown_top_level_key_of_a_stack_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, "stack-unknown-top-level.yaml", capsys)
    assert "stacks/Pulumi.dev.yaml: confg: got (an unknown top-level key" in out
    assert "did you mean config?" in out


def test_a_stack_file_that_is_one_string_is_refused_unechoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, "stack-not-a-mapping.yaml", capsys)
    assert "stacks/Pulumi.dev.yaml: (file): got (not a mapping)" in out
    assert "ghp_" not in out


def test_a_duplicate_stack_key_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, "stack-duplicate-teams.yaml", capsys)
    assert "stacks/Pulumi.dev.yaml: config.arc-eks:teams: got (set again at line 7)" in out


def test_a_credential_under_a_plain_stack_key_is_refused_unechoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, "stack-token-under-a-plain-key.yaml", capsys)
    assert f"stack config: arc-eks:tags.deploy: got {MASKED}" in out
    assert "AKIA" not in out


# --- Names: IAM roles are account-wide and carry the environment ----------------------------------


def test_role_names_are_injective_across_environments(tmp_path: Path) -> None:
    # arc-eks-dev-ops-web-build: env dev with team ops-web, and env dev-ops with team web.
    shutil.copy(HOSTILE / "team-role-across-environments-ops-web.yaml", tmp_path / "ops-web.yaml")
    shutil.copy(HOSTILE / "team-role-across-environments-web.yaml", tmp_path / "web.yaml")
    stack = StackConfig.model_validate(
        {
            "environment": "dev",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "teams": {"ops-web": {"organizations": ["acme"]}, "web": {"organizations": ["acme"]}},
        }
    )
    context = StackContext(environments=frozenset({"dev", "dev-ops"}))
    with pytest.raises(ConfigError) as raised:
        load_team_pools(tmp_path, stack, context)
    text = str(raised.value)
    assert "teams/web.yaml: pools[0].name: got 'build'" in text
    assert "both would get the IAM role arc-eks-dev-ops-web-build" in text
    # The same two teams in one environment each are fine when the names differ.
    (tmp_path / "web.yaml").write_text(
        (HOSTILE / "team-role-across-environments-web.yaml").read_text().replace("build", "test")
    )
    assert [p.key for p in load_team_pools(tmp_path, stack, context)] == ["ops-web-build"]


# --- Every problem at once: an override's mistake never hides a routing conflict ---------------


def test_a_label_clash_is_reported_even_when_the_override_has_other_mistakes(
    tmp_path: Path,
) -> None:
    shutil.copy(HOSTILE / "team-label-clash-owner.yaml", tmp_path / "alpha.yaml")
    shutil.copy(HOSTILE / "team-label-clash-hidden-by-override.yaml", tmp_path / "beta.yaml")
    granted = {"organizations": ["acme"], "maxRunnersPerPool": 5}
    stack = StackConfig.model_validate(
        {
            "environment": "dev",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "teams": {"alpha": granted, "beta": granted},
        }
    )
    with pytest.raises(ConfigError) as raised:
        load_team_pools(tmp_path, stack, StackContext(environments=frozenset({"dev"})))
    text = str(raised.value)
    assert "teams/beta.yaml: pools[0].environments.dev.autoscaling.maxx" in text
    assert "did you mean max?" in text
    assert (
        "teams/beta.yaml: pools[0].environments.dev.labels[0]: got 'Alpha-Build'; expected a "
        "label no other team's pool carries (also on team 'alpha''s pools, teams/alpha.yaml)"
    ) in text
    assert "teams/alpha.yaml: pools[0].labels[0]: got 'alpha-build'" in text
