"""`make review`: the shipped stacks pass their own environment's mandatory policies and validate;
a deliberately insecure team file fails with the right rule names; secrets never reach the files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from arc_eks import versions
from arc_eks.review import artifacts as review_artifacts
from arc_eks.review import charts, policy_config
from arc_eks.review import policies as review_policies
from arc_eks.review import run as review
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, CapturedResource
from policies.arc_policies import registry, scale_sets

PROJECT_DIR = Path(__file__).resolve().parents[1]
# The tests' example project; the charts come from the repository's own cache (make charts).
FIXTURE_PROJECT = PROJECT_DIR / "tests" / "fixtures" / "project"
CHART_CACHE = PROJECT_DIR / ".cache" / "charts"
INSECURE_TEAM_DIR = PROJECT_DIR / "tests" / "fixtures" / "insecure-team"
# The careless platform change the insecure team relies on: its bucket and a pool cap of 100.
LOOSENED_TEAMS = {
    "arc-eks:teams": {
        "intruder": {
            "organizations": ["acme"],
            "s3Buckets": [{"bucket": "acme-prod-secrets"}],
            "maxRunnersPerPool": 100,
        }
    }
}


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def shipped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp(f"review-{request.param}")
    return review.run_review(
        request.param,
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        out_dir=out,
    )


def test_shipped_stack_review_is_clean(shipped: review.ReviewResult) -> None:
    assert shipped.config_errors == []
    assert shipped.validation.errors == []
    assert shipped.mandatory == [], [f.message for f in shipped.mandatory]
    assert shipped.exit_code == 0
    assert len(shipped.policy_levels) == len(registry.ALL_RULES)
    # every kind of check ran on something
    assert set(shipped.validation.checked) >= {
        "built-in objects (Kubernetes schema, strict)",
        "IAM policies (parliament)",
    }


def test_the_example_scale_sets_break_no_scale_set_rule(shipped: review.ReviewResult) -> None:
    """The example project's scale-set pool (web's ci-scale-set), as the program registers its
    release and as the chart renders its AutoscalingRunnerSet, under the generated config."""
    sets = [r for r in shipped.rendered if r.type == scale_sets.AUTOSCALING_RUNNER_SET]
    releases = [r for r in shipped.resources if scale_sets.scale_set(r.type, r.inputs) is not None]
    assert len(sets) == len(releases) >= 1
    rules = {r.name for r in (*scale_sets.RULES, *scale_sets.STACK_RULES)}
    assert rules <= set(shipped.policy_levels)  # every scale-set rule ran
    assert [f.message for f in shipped.findings if f.policy in rules] == []


def test_enforcement_follows_the_environment(shipped: review.ReviewResult) -> None:
    levels = set(shipped.policy_levels.values())
    if shipped.stack == "dev":
        assert levels == {EnforcementLevel.ADVISORY}
    elif shipped.stack == "prod":
        assert levels == {EnforcementLevel.MANDATORY}
    else:  # staging: security mandatory, sizing advisory
        assert shipped.policy_levels["aws-iam-no-wildcard-actions"] == EnforcementLevel.MANDATORY
        assert (
            shipped.policy_levels["arc-runner-capacity-fits-node-group"]
            == EnforcementLevel.ADVISORY
        )


def test_artifacts_are_written_and_secrets_masked(shipped: review.ReviewResult) -> None:
    assert shipped.out_dir is not None
    files = [p for p in shipped.out_dir.rglob("*") if p.is_file()]
    kinds = {p.relative_to(shipped.out_dir).parts[0] for p in files}
    assert {"kubernetes", "iam", "helm", "summary.json"} <= kinds
    for path in files:
        assert OFFLINE_SECRET_PREFIX not in path.read_text(), f"secret leaked into {path}"
    deployments = list(shipped.out_dir.glob("kubernetes/*/RunnerDeployment-*.yaml"))
    assert deployments, "no RunnerDeployment manifest written"
    secrets = list(shipped.out_dir.glob("kubernetes/*/Secret-*.yaml"))
    assert secrets and all(review_artifacts.MASK in p.read_text() for p in secrets)
    summary = json.loads((shipped.out_dir / "summary.json").read_text())
    assert summary["exitCode"] == 0 and summary["stack"] == shipped.stack


def _unloosened_policy_config(tmp_path: Path, env: str) -> Path:
    """The pack config generated from the stack file before the careless change (a config file
    given explicitly, as a platform team could keep a stricter one)."""
    path = tmp_path / f"{env}.json"
    path.write_text(policy_config.render(policy_config.generate(FIXTURE_PROJECT, env)))
    return path


def test_the_loosened_stack_file_is_the_allowlist(tmp_path: Path) -> None:
    """The policy config is generated from the stack file: what the platform allowed there (the
    bucket, a cap of 100) is allowed; the capacity of the node group still fails the review."""
    result = review.run_review(
        "prod",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        teams_dir=INSECURE_TEAM_DIR,
        set_config=LOOSENED_TEAMS,
    )
    assert result.config_errors == []
    assert {f.policy for f in result.mandatory} == {"arc-runner-capacity-fits-node-group"}


def test_insecure_team_fails_with_the_right_rules(tmp_path: Path) -> None:
    result = review.run_review(
        "prod",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        teams_dir=INSECURE_TEAM_DIR,
        set_config=LOOSENED_TEAMS,
        policy_config=_unloosened_policy_config(tmp_path, "prod"),
        out_dir=tmp_path / "out",
    )
    assert result.config_errors == []
    assert result.exit_code == 1
    assert {f.policy for f in result.mandatory} == {
        "aws-iam-irsa-no-wildcard-s3",
        "arc-hra-max-replicas-cap",
        "arc-runner-capacity-fits-node-group",
    }
    assert any("acme-prod-secrets" in f.message for f in result.mandatory)
    # Each violation the team file caused names the file and the pool.
    for finding in result.mandatory:
        if finding.policy != "arc-runner-capacity-fits-node-group":  # a stack-wide sum
            assert "(from teams/intruder.yaml: pools[0] (miner))" in finding.message, finding
    text = review.render(result, show_plan=False)
    assert "MANDATORY [aws-iam-irsa-no-wildcard-s3]" in text and text.rstrip().endswith("FAIL")


def test_same_team_in_dev_is_only_advised(tmp_path: Path) -> None:
    result = review.run_review(
        "dev",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        teams_dir=INSECURE_TEAM_DIR,
        set_config=LOOSENED_TEAMS,
        policy_config=_unloosened_policy_config(tmp_path, "dev"),
        out_dir=None,
    )
    assert result.exit_code == 0
    assert "aws-iam-irsa-no-wildcard-s3" in {f.policy for f in result.advisory}


def test_invalid_stack_config_exits_2() -> None:
    result = review.run_review(
        "dev",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        set_config={"arc-eks:nodeGroup": {"instanceType": "m5.large"}},
    )
    assert result.exit_code == 2
    assert "instanceType" in review.render(result)


def test_cli_prints_plan_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(charts.CACHE_ENV, str(CHART_CACHE))
    code = review.main(
        ["--stack", "prod", "--project-dir", str(FIXTURE_PROJECT), "--out", str(tmp_path / "out")]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "eks:index:ManagedNodeGroup" in printed and "instanceTypes=" in printed
    assert "Summary: 0 mandatory violation(s)" in printed and printed.rstrip().endswith("PASS")


def test_policy_config_problems_are_found() -> None:
    policies = registry.build_policies()
    bad = {
        "all": "strict",
        "no-such-rule": "advisory",
        "arc-hra-max-replicas-cap": {"maxReplicas": "ten"},
    }
    problems = review_policies.config_problems(bad, policies)
    assert len(problems) == 3, problems


def _artifact(manifest: dict[str, Any]) -> review_artifacts.Artifact:
    source = CapturedResource(type="x", name="x", urn="urn:x", inputs={}, custom=True)
    return review_artifacts.Artifact("kubernetes/ns/x.yaml", manifest, "kubernetes", source)


def test_invalid_objects_are_reported() -> None:
    hra = {
        "apiVersion": "actions.summerwind.dev/v1alpha1",
        "kind": "HorizontalRunnerAutoscaler",
        "metadata": {"name": "x"},
        "spec": {"maxReplicas": "many", "scaleTargetRef": {"name": "x"}, "minReplica": 1},
    }
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "x"},
        "spec": {},
    }
    crds = review_artifacts.chart_crd_validators()
    report = review_artifacts.validate([_artifact(hra), _artifact(service_account)], crds)
    text = "\n".join(report.errors)
    assert "spec.maxReplicas" in text and "minReplica" in text and "'spec' was unexpected" in text


def test_custom_kinds_are_checked_against_the_released_arc_chart_crds() -> None:
    """The released chart 0.23.7 (what users install), not a later, unreleased master."""
    folder = charts.chart_dir(versions.ARC_CHART, versions.ARC_CHART_VERSION)
    assert (folder / "crds" / "actions.summerwind.dev_runnerdeployments.yaml").is_file()
    crds = review_artifacts.chart_crd_validators()
    assert ("actions.summerwind.dev/v1alpha1", "RunnerDeployment") in crds
    assert ("actions.github.com/v1alpha1", "AutoscalingRunnerSet") in crds


def test_a_kind_without_a_schema_is_an_error_not_a_skip() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}}
    report = review_artifacts.validate(
        [_artifact(unknown)], review_artifacts.chart_crd_validators()
    )
    assert report.errors and "Widget" in report.errors[0] and "CRD" in report.errors[0]


def test_a_chart_missing_from_the_cache_names_the_command_that_fills_it(tmp_path: Path) -> None:
    with pytest.raises(charts.ChartCacheError, match="make charts"):
        review_artifacts.chart_crd_validators(tmp_path / "empty-cache")
    result = review.run_review(
        "dev", project_dir=FIXTURE_PROJECT, chart_cache=tmp_path / "empty-cache"
    )
    assert result.exit_code == 2
    assert any("make charts" in e for e in result.config_errors)


def test_a_failing_rule_fails_the_review_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi_policy import ResourceValidationPolicy

    def broken(*_: Any) -> None:
        raise KeyError("spec")

    policy = ResourceValidationPolicy(name="broken-rule", description="raises", validate=broken)
    monkeypatch.setattr(registry, "build_policies", lambda: [policy])
    resource = CapturedResource(type="x:y:Z", name="x", urn="urn:x", inputs={}, custom=True)
    _, findings = review_policies.run_policies([resource], {})
    assert [(f.policy, f.level) for f in findings] == [("broken-rule", EnforcementLevel.MANDATORY)]
    assert "rule failed" in findings[0].message


def test_origins_pick_the_longest_pool_key(tmp_path: Path) -> None:
    from arc_eks.review.sources import origin_of, team_file_origins

    (tmp_path / "pay.yaml").write_text(
        "team: pay\npools:\n  - {name: build}\n  - {name: build-x}\n"
    )
    origins = team_file_origins(tmp_path)
    urn = "urn:pulumi:prod::arc-eks::x$kubernetes:core/v1:ServiceAccount::pay-build-x-runner"
    assert origin_of(urn, origins) == "teams/pay.yaml: pools[1] (build-x)"
    assert origin_of(urn.replace("build-x", "build"), origins) == "teams/pay.yaml: pools[0] (build)"
    assert (
        origin_of(urn.replace("pay-build-x-runner", "pay-namespace"), origins) == "teams/pay.yaml"
    )
    assert origin_of(urn.replace("pay-build-x-runner", "cluster-eks"), origins) is None
