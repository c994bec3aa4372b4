"""Hostile and careless team and stack files: each class is refused before anything is created,
names the file and key, never echoes what could be a credential, and never hangs.

Every fixture is built here (never the shipped teams/ or stacks/)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import StackContext, load_team_pools
from arc_eks.errors import ConfigError, looks_secret, show
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, config_map_from_stack_file, run_program
from tests.program_fixtures import pool as fixture_pool
from tests.program_fixtures import stack_config as fixture_stack
from tests.program_fixtures import write_teams

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GRANTED = {"organizations": ["acme"], "runnerGroups": [], "maxRunnersPerPool": 5}


def _stack(**teams: Any) -> StackConfig:
    return StackConfig.model_validate(
        {
            "environment": "dev",
            "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
            "teams": teams or {"alpha": GRANTED, "beta": GRANTED},
        }
    )


def _pool(name: str = "build", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "scope": {"organization": "acme"},
        "labels": [f"lbl-{name}"],
        "docker": "none",
        "environments": ["dev"],
        **extra,
    }


def _team(directory: Path, team: str, pools: list[dict[str, Any]]) -> None:
    (directory / f"{team}.yaml").write_text(yaml.safe_dump({"team": team, "pools": pools}))


def _refusal(directory: Path, stack: StackConfig | None = None, **context: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        load_team_pools(
            directory,
            stack or _stack(),
            StackContext(
                environments=frozenset({"dev", "staging", "prod"}),
                own_accounts=("111122223333",),
                region="eu-west-1",
                **context,
            ),
        )
    return str(raised.value)


# --- YAML and files ---------------------------------------------------------------------------


def test_duplicate_keys_in_a_team_file_are_refused_with_both_lines(tmp_path: Path) -> None:
    (tmp_path / "alpha.yaml").write_text(
        "team: alpha\npools:\n  - name: build\n    labels: [a]\n    labels: [b]\n"
    )
    text = _refusal(tmp_path)
    assert "teams/alpha.yaml: pools[0].labels: got (set again at line 5)" in text
    assert "first at line 4" in text


def test_a_second_block_in_a_stack_file_is_refused(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        "config:\n  arc-eks:teams:\n    alpha: {maxRunnersPerPool: 2}\n"
        "  arc-eks:tags: {}\n  arc-eks:teams:\n    alpha: {maxRunnersPerPool: 500}\n"
    )
    with pytest.raises(ConfigError) as raised:
        config_map_from_stack_file(stack_file)
    assert "stacks/Pulumi.dev.yaml: config.arc-eks:teams: got (set again at line 5)" in str(
        raised.value
    )


def test_bytes_that_are_not_utf8_are_refused_without_echo(tmp_path: Path) -> None:
    (tmp_path / "alpha.yaml").write_bytes(
        b"team: alpha\npools: [\xff\xfe" + TOKEN.encode() + b"]\n"
    )
    text = _refusal(tmp_path)
    assert "teams/alpha.yaml: line 2: got (bytes that are not UTF-8)" in text
    assert TOKEN not in text


def test_a_symlink_out_of_the_repository_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "credentials"
    secret.write_text(f"team: {TOKEN}\n")
    teams = tmp_path / "teams"
    teams.mkdir()
    os.symlink(secret, teams / "alpha.yaml")
    text = _refusal(teams)
    assert "teams/alpha.yaml: (file): got (a symbolic link)" in text
    assert TOKEN not in text


def test_a_fifo_named_like_a_team_file_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "alpha.yaml")
    assert "(not a regular file)" in _refusal(tmp_path)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tmp_path / "alpha.yaml").write_text("\n".join(lines) + "\nteam: alpha\npools: *a8\n")
    text = _refusal(tmp_path)
    assert "too large once anchors and aliases are expanded" in text
    assert len(text) < 2000  # the document is never printed


def test_huge_lists_and_files_are_refused(tmp_path: Path) -> None:
    labels = [f"l{i}" for i in range(100_000)]
    (tmp_path / "alpha.yaml").write_text(
        json.dumps({"team": "alpha", "pools": [_pool(labels=labels)]})
    )
    assert "a file of at most 256 KiB" in _refusal(tmp_path)
    (tmp_path / "alpha.yaml").write_text(
        yaml.safe_dump({"team": "alpha", "pools": [_pool(labels=labels[:21])]})
    )
    assert "pools[0].labels: got (a list of 21); expected at most 20 entries" in _refusal(tmp_path)


# --- secrets never echo -----------------------------------------------------------------------


def test_values_that_could_be_credentials_are_masked() -> None:
    for secret in (
        TOKEN,
        AWS_SECRET,
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
        "AKIAIOSFODNN7EXAMPLE",
    ):
        assert looks_secret(secret) and secret not in show(secret) and secret not in show([secret])
    for plain in ("dind", "203.0.113.0/24", "arn:aws:iam::111122223333:role/x", "acme/app", 5):
        assert show(plain) == repr(plain)


def _run(config: dict[str, Any], secret_keys: list[str], teams_dir: Path) -> str:
    from arc_eks import program

    with pytest.raises(ConfigError) as raised:
        run_program(
            lambda: program.main(teams_dir=teams_dir),
            config=config,
            secret_keys=secret_keys,
            stack="dev",
        )
    return str(raised.value)


def _base_config() -> dict[str, str]:
    config = {f"arc-eks:{k}": json.dumps(v) for k, v in fixture_stack().items()}
    config["aws:region"] = "eu-west-1"
    config["arc-eks:githubToken"] = f"{OFFLINE_SECRET_PREFIX}token"
    return config


def test_a_token_under_a_wrong_key_is_not_echoed(tmp_path: Path) -> None:
    teams = write_teams(tmp_path / "teams", {"alpha": [fixture_pool("build")]})
    config = _base_config()
    config["arc-eks:github"] = json.dumps({"auth": "pat", "tokne": TOKEN})
    text = _run(config, ["arc-eks:githubToken"], teams)
    assert "arc-eks:github.tokne: got (an unknown key; its value is not shown)" in text
    assert TOKEN not in text


def test_plain_text_credentials_of_any_namespace_and_unknown_namespaces(tmp_path: Path) -> None:
    teams = write_teams(tmp_path / "teams", {"alpha": [fixture_pool("build")]})
    config = _base_config()
    config["aws:secretKey"] = AWS_SECRET
    config["arc_eks:teams"] = json.dumps({"alpha": {"maxRunnersPerPool": 500}})
    text = _run(config, ["arc-eks:githubToken"], teams)
    assert "aws:secretKey: got (set in plain text; value not shown)" in text
    assert "arc_eks:teams: got (a key of an unknown namespace" in text
    assert AWS_SECRET not in text and "500" not in text


# --- names and routing --------------------------------------------------------------------------


def test_names_two_team_pool_pairs_would_share_are_refused(tmp_path: Path) -> None:
    _team(tmp_path, "aaa-b", [_pool("c")])
    _team(tmp_path, "aaa", [_pool("b-c")])
    stack = _stack(**{"aaa": GRANTED, "aaa-b": GRANTED})
    text = _refusal(tmp_path, stack)
    assert "'aaa-b-c' in IAM and Kubernetes" in text


def test_a_label_of_another_team_is_refused_in_every_environment(tmp_path: Path) -> None:
    _team(tmp_path, "alpha", [_pool("build", labels=["linux", "payments"])])
    _team(tmp_path, "beta", [_pool("miner", labels=["x64", "Payments"], environments=["prod"])])
    text = _refusal(tmp_path)
    assert "teams/beta.yaml: pools[0].labels[1]" in text and "team 'alpha'" in text
    assert "teams/alpha.yaml: pools[0].labels[1]" in text


def test_a_pool_with_only_default_labels_is_refused(tmp_path: Path) -> None:
    _team(tmp_path, "alpha", [_pool(labels=["self-hosted", "Linux", "x64"])])
    assert "pools[0].labels" in _refusal(tmp_path) and "of the team's own" in _refusal(tmp_path)


def test_scope_and_groups_are_the_teams_own(tmp_path: Path) -> None:
    stack = _stack(
        alpha={"organizations": ["acme"], "runnerGroups": ["alpha-runners"]},
        beta={"organizations": ["other"], "runnerGroups": ["beta-runners"]},
    )
    _team(tmp_path, "alpha", [_pool("a1", scope={"organization": "evil"}, group="alpha-runners")])
    _team(tmp_path, "beta", [_pool("b1", scope={"organization": "other"}, group="alpha-runners")])
    (tmp_path / "gamma.yaml").unlink(missing_ok=True)
    text = _refusal(tmp_path, stack)
    assert "teams/alpha.yaml: pools[0].scope: got {organization: 'evil'}" in text
    assert "teams/beta.yaml: pools[0].group: got 'alpha-runners'" in text
    _team(tmp_path, "beta", [_pool("b1", scope={"organization": "other"})])
    assert "the default group is shared by every team" in _refusal(tmp_path, stack)
    with pytest.raises(ValueError, match="a runner group belongs to one team"):
        _stack(alpha={"runnerGroups": ["ci"]}, beta={"runnerGroups": ["CI"]})


def test_environments_no_stack_defines_are_refused(tmp_path: Path) -> None:
    _team(tmp_path, "alpha", [_pool(environments={"dev": {}, "production": {}})])
    assert (
        "pools[0].environments.production: got 'production'; expected an environment a stack"
        in (_refusal(tmp_path))
    )


# --- images, resources, grants -----------------------------------------------------------------

DIGEST = "a" * 64


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        (f"docker.io/summerwind/actions-runner:v2@sha256:{DIGEST}x", "an image reference"),
        ("docker.io/summerwind/actions-runner:v2@sha256:", "an image reference"),
        ("quay.io/evil/runner:1.0", "from quay.io"),
        ("444455556666.dkr.ecr.eu-west-1.amazonaws.com/x/runner:1", "444455556666.dkr.ecr"),
    ],
)
def test_images_come_from_allowed_registries_as_valid_references(
    tmp_path: Path, image: str, fragment: str
) -> None:
    _team(tmp_path, "alpha", [_pool(runnerImage=image)])
    assert fragment in _refusal(tmp_path)


def test_digests_and_the_accounts_own_ecr_are_accepted(tmp_path: Path) -> None:
    images = [
        f"summerwind/actions-runner@sha256:{DIGEST}",
        f"summerwind/actions-runner:v2.335.1-ubuntu-22.04@sha256:{DIGEST}",
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/platform/runner:1.2",
    ]
    _team(tmp_path, "alpha", [_pool(f"p{i}", runnerImage=img) for i, img in enumerate(images)])
    pools = load_team_pools(
        tmp_path,
        _stack(),
        StackContext(own_accounts=("111122223333",), region="eu-west-1"),
    )
    assert [p.spec.runner_image for p in pools] == images


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (
            {
                "resources": {
                    "requests": {"cpu": "0", "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                }
            },
            "at least 10m CPU",
        ),
        (
            {
                "resources": {
                    "requests": {"cpu": "1", "memory": "0"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                }
            },
            "at least 16Mi memory",
        ),
        (
            {
                "resources": {
                    "requests": {"cpu": "1", "memory": "1Gi"},
                    "limits": {"cpu": "64", "memory": "1Gi"},
                }
            },
            "limits within one t3a.large",
        ),
        (
            {"docker": "kubernetes", "workVolume": {"size": "5000Gi"}, "autoscaling": {"min": 1}},
            "at most 500Gi",
        ),
        (
            {"s3": [{"bucket": "alpha-cache", "prefix": "a/../b/", "access": "read"}]},
            "'..' segments",
        ),
        (
            {
                "s3": [
                    {
                        "bucket": "alpha-cache",
                        "access": "read",
                        "kmsKeyArn": "arn:aws:kms:eu-west-1:999988887777:key/abc",
                    }
                ]
            },
            "the key is in account 999988887777",
        ),
    ],
)
def test_resources_and_grants_are_bounded(
    tmp_path: Path, extra: dict[str, Any], fragment: str
) -> None:
    stack = _stack(alpha={**GRANTED, "s3Buckets": [{"bucket": "alpha-cache"}]})
    _team(tmp_path, "alpha", [_pool(**extra)])
    assert fragment in _refusal(tmp_path, stack)


def test_what_github_or_arc_would_reject_at_runtime(tmp_path: Path) -> None:
    def stack(auth: dict[str, str]) -> StackConfig:
        return StackConfig.model_validate(
            {
                "environment": "dev",
                "cluster": {"publicAccessCidrs": ["203.0.113.0/24"]},
                "github": auth,
                "teams": {"alpha": {"enterprises": ["acme-corp"]}},
            }
        )

    app = {"auth": "app", "appId": "1", "installationId": "2"}
    _team(tmp_path, "alpha", [_pool(scope={"enterprise": "acme-corp"})])
    text = _refusal(tmp_path, stack(app))
    assert "pools[0].scope" in text and "GitHub Apps cannot manage enterprise runners" in text
    load_team_pools(tmp_path, stack({"auth": "pat"}))  # a PAT can

    queued = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns", "repositoryNames": ["app"]}
    _team(
        tmp_path,
        "alpha",
        [_pool(scope={"enterprise": "acme-corp"}, autoscaling={"min": 0, "metric": queued})],
    )
    text = _refusal(tmp_path, stack({"auth": "pat"}))
    assert "pools[0].autoscaling" in text and "an enterprise has none to count" in text


# --- reporting ---------------------------------------------------------------------------------


def test_every_problem_at_once_in_plain_words(tmp_path: Path) -> None:
    _team(
        tmp_path,
        "alpha",
        [
            _pool(
                docker="podman",
                autoscalling={"max": 3},
                environments={"dev": {"autoscalling": {"max": 2}}, "staging": {}},
            )
        ],
    )
    text = _refusal(tmp_path)
    assert "pools[0].environments.dev.autoscalling" in text and "did you mean autoscaling?" in text
    # The typo in the override hides neither the pool's own problems nor the other environment.
    assert "pools[0].docker: got 'podman'; expected one of dind, none, kaniko or kubernetes" in text
    assert "pools[0].autoscalling" in text
    for jargon in ("Input should", "Extra inputs", "String should match", "[type="):
        assert jargon not in text
