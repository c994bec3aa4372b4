"""Team files: every config rule fails the run with the file, the key path and what is expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arc_eks.config.teams import DockerMode, load_team_pools
from arc_eks.errors import ConfigError
from tests.pool_fixtures import TEAMS_DIR, stack_config, write_team


def _pool(**overrides: Any) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "name": "build",
        "scope": {"organization": "acme"},
        "docker": "none",
        "labels": ["payments-ci"],
        "environments": ["dev"],
    }
    pool.update(overrides)
    return pool


def _problems(tmp_path: Path, pools: list[dict[str, Any]], team: str = "payments") -> str:
    write_team(tmp_path, team, {"team": team, "pools": pools})
    with pytest.raises(ConfigError) as caught:
        load_team_pools(tmp_path, stack_config("dev"))
    return str(caught.value)


def _assert_names(message: str, path: str, *fragments: str) -> None:
    line = next((ln for ln in message.splitlines() if f"teams/payments.yaml: {path}:" in ln), None)
    assert line is not None, f"no problem at {path} in:\n{message}"
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_example_teams_load_in_every_environment(env: str) -> None:
    pools = load_team_pools(TEAMS_DIR, stack_config(env))
    keys = [p.key for p in pools]
    assert keys == sorted(keys)
    assert "payments-build" in keys and "web-ci" in keys and "data-platform-images" in keys
    assert {p.spec.docker for p in pools} >= {DockerMode.DIND, DockerMode.NONE, DockerMode.KANIKO}


def test_environment_overrides_apply_only_to_their_environment() -> None:
    dev = {p.key: p for p in load_team_pools(TEAMS_DIR, stack_config("dev"))}
    prod = {p.key: p for p in load_team_pools(TEAMS_DIR, stack_config("prod"))}
    assert (
        dev["payments-build"].spec.autoscaling.max,
        prod["payments-build"].spec.autoscaling.max,
    ) == (4, 16)
    assert dev["payments-build"].spec.autoscaling.schedules == []
    assert len(prod["payments-build"].spec.autoscaling.schedules) == 1
    # Lists are replaced, mappings merged: dev keeps the base metric.
    assert dev["payments-build"].spec.autoscaling.metric.type == "PercentageRunnersBusy"
    staging = {p.key for p in load_team_pools(TEAMS_DIR, stack_config("staging"))}
    assert "data-platform-pipelines" not in staging


def test_cross_account_bucket_keeps_owner_account() -> None:
    pools = {p.key: p for p in load_team_pools(TEAMS_DIR, stack_config("dev"))}
    owners = {g.bucket: g.account_id for g in pools["data-platform-images"].s3}
    assert owners == {"acme-ml-datasets": None, "partner-exchange": "444455556666"}


def test_exactly_one_scope(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(scope={"organization": "acme", "repository": "acme/x"})])
    _assert_names(
        message, "pools[0].scope", "exactly one of enterprise, organization or repository"
    )
    message = _problems(tmp_path, [_pool(scope={})])
    _assert_names(message, "pools[0].scope", "got none")


def test_min_above_max(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(autoscaling={"min": 5, "max": 2})])
    _assert_names(message, "pools[0].autoscaling", "min (5) <= max (2)")


def test_min_above_max_in_an_override_names_the_override(tmp_path: Path) -> None:
    pool = _pool(environments={"dev": {"autoscaling": {"min": 9}}, "prod": {}})
    message = _problems(tmp_path, [pool])
    _assert_names(message, "pools[0].environments.dev.autoscaling", "min (9) <= max (5)")


def test_min_zero_with_percentage_runners_busy(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(autoscaling={"min": 0, "max": 4})])
    _assert_names(message, "pools[0].autoscaling", "min >= 1", "never scale up again")


def test_schedule_min_zero_with_percentage_runners_busy(tmp_path: Path) -> None:
    schedule = {
        "name": "weekend",
        "start": "2026-01-03T00:00:00+09:00",
        "end": "2026-01-05T00:00:00+09:00",
        "recurrence": "Weekly",
        "min": 0,
    }
    message = _problems(
        tmp_path, [_pool(autoscaling={"min": 1, "max": 4, "schedules": [schedule]})]
    )
    _assert_names(message, "pools[0].autoscaling", "schedules[0].min >= 1", "never scale up again")


def test_min_zero_is_fine_with_queued_workflows(tmp_path: Path) -> None:
    metric = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns", "repositoryNames": ["app"]}
    write_team(
        tmp_path,
        "payments",
        {"team": "payments", "pools": [_pool(autoscaling={"min": 0, "max": 3, "metric": metric})]},
    )
    (pool,) = load_team_pools(tmp_path, stack_config("dev"))
    assert pool.spec.autoscaling.min == 0


def test_requests_above_limits(tmp_path: Path) -> None:
    resources = {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    message = _problems(tmp_path, [_pool(resources=resources)])
    _assert_names(message, "pools[0].resources", "requests.cpu (2) <= limits.cpu (1)")


def test_requests_that_do_not_fit_a_node(tmp_path: Path) -> None:
    resources = {"requests": {"cpu": "1", "memory": "7Gi"}, "limits": {"cpu": "1", "memory": "7Gi"}}
    message = _problems(tmp_path, [_pool(resources=resources)])
    _assert_names(message, "pools[0].resources", "fit one t3a.large", "Pending")


def test_dind_sidecar_requests_count_towards_the_fit(tmp_path: Path) -> None:
    # 1600m alone fits (1780m left); with the sidecar's default 250m it does not.
    resources = {
        "requests": {"cpu": "1600m", "memory": "1Gi"},
        "limits": {"cpu": "1800m", "memory": "2Gi"},
    }
    write_team(tmp_path, "payments", {"team": "payments", "pools": [_pool(resources=resources)]})
    load_team_pools(tmp_path, stack_config("dev"))
    message = _problems(tmp_path, [_pool(resources=resources, docker="dind")])
    _assert_names(message, "pools[0].resources", "runner + docker sidecar", "1850m")


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("summerwind/actions-runner:latest", "not latest"),
        ("summerwind/actions-runner", "pinned tag or digest"),
        ("registry.example.com:5000/runner", "pinned tag or digest"),
    ],
)
def test_runner_image_must_be_pinned(tmp_path: Path, image: str, why: str) -> None:
    message = _problems(tmp_path, [_pool(runnerImage=image)])
    _assert_names(message, "pools[0].runnerImage", why)


def test_runner_image_pinned_by_digest_is_accepted(tmp_path: Path) -> None:
    image = "summerwind/actions-runner@sha256:" + "a" * 64
    write_team(tmp_path, "payments", {"team": "payments", "pools": [_pool(runnerImage=image)]})
    (pool,) = load_team_pools(tmp_path, stack_config("dev"))
    assert pool.spec.runner_image == image


def test_duplicate_pool_names_per_environment(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(), _pool()])
    _assert_names(message, "pools[1].name", "unique", "pools[0]")
    # The same name in disjoint environments is fine.
    write_team(
        tmp_path, "payments", {"team": "payments", "pools": [_pool(), _pool(environments=["prod"])]}
    )
    assert len(load_team_pools(tmp_path, stack_config("dev"))) == 1


def test_pool_name_must_be_a_dns_label(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(name="Build_1")])
    _assert_names(message, "pools[0].name", "Build_1")


def test_bucket_outside_the_allowlist(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(s3=[{"bucket": "someone-elses", "access": "read"}])])
    _assert_names(message, "pools[0].s3[0].bucket", "someone-elses", "allowlist", "acme-artifacts")


def test_team_missing_from_the_stack_allowlist(tmp_path: Path) -> None:
    write_team(tmp_path, "ghost", {"team": "ghost", "pools": [_pool()]})
    with pytest.raises(ConfigError) as caught:
        load_team_pools(tmp_path, stack_config("dev"))
    assert "teams/ghost.yaml: team: got 'ghost'" in str(caught.value)
    assert "arc-eks:teams" in str(caught.value)


def test_grant_without_bucket(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(s3=[{"prefix": "x/", "access": "read"}])])
    _assert_names(message, "pools[0].s3[0].bucket", "(missing)", "a value: this key is required")


def test_unknown_docker_mode(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(docker="podman")])
    _assert_names(message, "pools[0].docker", "'podman'", "one of dind, none, kaniko or kubernetes")


@pytest.mark.parametrize("mode", ["dood", "docker.sock", "host"])
def test_docker_outside_of_docker_is_refused_with_the_reason(tmp_path: Path, mode: str) -> None:
    message = _problems(tmp_path, [_pool(docker=mode)])
    _assert_names(message, "pools[0].docker", "containerd", "leaks images")


def test_max_above_the_team_ceiling(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(autoscaling={"min": 1, "max": 21})])
    _assert_names(message, "pools[0].autoscaling.max", "at most 20", "maxRunnersPerPool")


def test_kaniko_needs_a_runner_image(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(docker="kaniko")])
    _assert_names(message, "pools[0]", "runnerImage with docker: kaniko")


def test_kubernetes_mode_refuses_aws_grants(tmp_path: Path) -> None:
    pool = _pool(docker="kubernetes", s3=[{"bucket": "acme-artifacts", "access": "read"}])
    message = _problems(tmp_path, [pool])
    _assert_names(message, "pools[0]", "default ServiceAccount")


def test_ecr_repository_outside_the_team_namespace(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(ecr=[{"repository": "web/site", "access": "push"}])])
    _assert_names(message, "pools[0].ecr[0].repository", "payments/")


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    message = _problems(tmp_path, [_pool(privileged=True)])
    _assert_names(message, "pools[0].privileged", "no such key")


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write_team(tmp_path, "web", {"team": "web", "pools": [_pool(docker="dood")]})
    message = _problems(
        tmp_path, [_pool(autoscaling={"min": 3, "max": 1}), _pool(name="x", scope={})]
    )
    assert "teams/web.yaml: pools[0].docker" in message
    assert "teams/payments.yaml: pools[0].autoscaling" in message
    assert "teams/payments.yaml: pools[1].scope" in message
    assert "nothing was created" in message


def test_file_name_must_match_the_team(tmp_path: Path) -> None:
    (tmp_path / "pay.yaml").write_text(
        "team: payments\npools:\n  - {name: a, scope: {organization: acme}, docker: none, environments: [dev]}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_team_pools(tmp_path, stack_config("dev"))
    assert (
        "teams/pay.yaml: team: got 'payments'; expected the file name: teams/payments.yaml"
        in str(caught.value)
    )


def test_unparsable_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "payments.yaml").write_text("team: payments\npools: [\n")
    with pytest.raises(ConfigError) as caught:
        load_team_pools(tmp_path, stack_config("dev"))
    assert "teams/payments.yaml" in str(caught.value) and "valid YAML" in str(caught.value)


def test_default_max_above_the_team_ceiling(tmp_path: Path) -> None:
    write_team(tmp_path, "web", {"team": "web", "pools": [_pool()]})
    stack = stack_config("dev", teams={"web": {"organizations": ["acme"], "maxRunnersPerPool": 3}})
    with pytest.raises(ConfigError) as caught:
        load_team_pools(tmp_path, stack)
    assert "teams/web.yaml: pools[0]: got (these settings together)" in str(caught.value)
    assert "autoscaling.max set explicitly: the default (5)" in str(caught.value)


def test_fit_is_checked_with_default_runner_resources(tmp_path: Path) -> None:
    sidecar = {
        "requests": {"cpu": "1500m", "memory": "1Gi"},
        "limits": {"cpu": "1500m", "memory": "1Gi"},
    }
    message = _problems(tmp_path, [_pool(docker="dind", dockerResources=sidecar)])
    _assert_names(message, "pools[0].resources", "runner + docker sidecar", "2000m")


def test_metric_misspelt_as_in_early_arc_docs_is_refused_with_the_right_name(
    tmp_path: Path,
) -> None:
    """`TotalNumberOfQueuedAndInProgressWorkflows` (no "Runs") is ignored by ARC: the pool would
    never scale. The CRD's own description names the two metric types it knows."""
    metric = {"type": "TotalNumberOfQueuedAndInProgressWorkflows", "repositoryNames": ["app"]}
    message = _problems(tmp_path, [_pool(autoscaling={"min": 0, "max": 3, "metric": metric})])
    _assert_names(
        message, "pools[0].autoscaling.metric", "TotalNumberOfQueuedAndInProgressWorkflowRuns"
    )
