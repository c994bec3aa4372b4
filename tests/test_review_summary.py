"""summary.json: written on every exit path of the review (never an earlier run's file), ordered
deterministically, numbers as written, cluster admins and Pod Security levels shown, and the
words mandatory / advisory / skipped meaning one thing each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from arc_eks.review import charts, helm_render, policy_config
from arc_eks.review import policies as review_policies
from arc_eks.review import run as review
from arc_eks.review import summary as review_summary
from arc_eks.review.offline import CapturedResource
from arc_eks.review.policies import PolicyFinding

PROJECT_DIR = Path(__file__).resolve().parents[1]
FIXTURE_PROJECT = PROJECT_DIR / "tests" / "fixtures" / "project"
CHART_CACHE = PROJECT_DIR / ".cache" / "charts"
INSECURE_TEAM_DIR = PROJECT_DIR / "tests" / "fixtures" / "insecure-team"
LOOSENED_TEAMS = {
    "arc-eks:teams": {
        "intruder": {
            "organizations": ["acme"],
            "s3Buckets": [{"bucket": "acme-prod-secrets"}],
            "maxRunnersPerPool": 100,
        }
    }
}


def _stale(out: Path) -> None:
    """What an earlier, passing review left behind."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"stack": "dev", "exitCode": 0}))
    (out / "kubernetes" / "old").mkdir(parents=True)
    (out / "kubernetes" / "old" / "Namespace-old.yaml").write_text("kind: Namespace\n")


def _read(out: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def _review(out: Path, stack: str = "dev", **kwargs: Any) -> review.ReviewResult:
    kwargs.setdefault("chart_cache", CHART_CACHE)
    return review.run_review(
        stack, project_dir=FIXTURE_PROJECT, check_ignored_values=False, out_dir=out, **kwargs
    )


def test_a_config_error_replaces_the_previous_summary(tmp_path: Path) -> None:
    _stale(tmp_path)
    result = _review(tmp_path, set_config={"arc-eks:nodeGroup": {"instanceType": "m5.large"}})
    summary = _read(tmp_path)
    assert result.exit_code == 2
    assert summary["exitCode"] == 2 and summary["verdict"] == "INVALID CONFIGURATION"
    assert summary["stack"] == "dev"
    assert any("instanceType" in p for p in summary["configProblems"])
    assert summary["counts"]["configProblems"] == len(summary["configProblems"]) >= 1
    assert summary["objects"] == [] and summary["violations"] == []
    assert not (tmp_path / "kubernetes" / "old").exists(), "an earlier run's manifests survived"


def test_a_chart_missing_from_the_cache_writes_the_summary(tmp_path: Path) -> None:
    _stale(tmp_path)
    _review(tmp_path, chart_cache=tmp_path / "no-cache")
    summary = _read(tmp_path)
    assert summary["exitCode"] == 2
    assert any("make charts" in p for p in summary["configProblems"])


def test_a_missing_stack_file_writes_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(charts.CACHE_ENV, str(CHART_CACHE))
    _stale(tmp_path)
    argv = ["--stack", "qa", "--project-dir", str(FIXTURE_PROJECT), "--out", str(tmp_path)]
    assert review.main(argv) == 2
    summary = _read(tmp_path)
    assert summary["stack"] == "qa" and summary["exitCode"] == 2
    assert summary["configProblems"] == [
        f"no stack file {FIXTURE_PROJECT / 'stacks' / 'Pulumi.qa.yaml'}"
    ]
    assert "INVALID CONFIGURATION" in capsys.readouterr().out


def test_invalid_objects_write_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = helm_render.render_all

    def with_an_error(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        report.errors.append("release arc-release: template failed (injected)")
        return report

    monkeypatch.setattr(helm_render, "render_all", with_an_error)
    _stale(tmp_path)
    result = _review(tmp_path)
    summary = _read(tmp_path)
    assert result.exit_code == 1
    assert summary["exitCode"] == 1 and summary["verdict"] == "FAIL"
    assert "release arc-release: template failed (injected)" in summary["invalid"]
    assert summary["counts"]["invalid"] == len(summary["invalid"])


def test_a_review_that_raises_still_writes_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("rule runner crashed")

    monkeypatch.setattr(review_policies, "run_policies", boom)
    _stale(tmp_path)
    with pytest.raises(RuntimeError):
        _review(tmp_path)
    summary = _read(tmp_path)
    assert summary["stack"] == "dev" and summary["schemaVersion"] == review_summary.SCHEMA_VERSION
    assert summary["objects"], "what the review got to before the crash is kept"
    assert summary != {"stack": "dev", "exitCode": 0}


@pytest.fixture(scope="module")
def insecure(tmp_path_factory: pytest.TempPathFactory) -> tuple[review.ReviewResult, Path]:
    out = tmp_path_factory.mktemp("insecure")
    # The allowlists as they were before the careless change to the stack file.
    policy_file = out.parent / "insecure-policy-config.json"
    policy_file.write_text(policy_config.render(policy_config.generate(FIXTURE_PROJECT, "prod")))
    result = review.run_review(
        "prod",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        teams_dir=INSECURE_TEAM_DIR,
        set_config=LOOSENED_TEAMS,
        policy_config=policy_file,
        out_dir=out,
    )
    return result, out


def test_violations_are_listed_sorted_with_their_level(
    insecure: tuple[review.ReviewResult, Path],
) -> None:
    result, out = insecure
    summary = _read(out)
    assert summary["exitCode"] == 1 and summary["verdict"] == "FAIL"
    violations = summary["violations"]
    assert {v["policy"] for v in violations} == {f.policy for f in result.mandatory}
    assert all(v["enforcementLevel"] == "mandatory" for v in violations)
    keys = [(v["enforcementLevel"], v["policy"], v["urn"], v["message"]) for v in violations]
    assert keys == sorted(keys)
    assert summary["counts"]["mandatory"] == len(violations)
    assert any("Remediation:" in v["message"] for v in violations)


def test_a_passing_review_is_deterministic_and_integral(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _review(first)
    _review(second)
    text = (first / "summary.json").read_text()
    assert text == (second / "summary.json").read_text()
    summary = json.loads(text)
    assert summary["exitCode"] == 0 and summary["verdict"] == "PASS"
    names = [(o["type"], o["name"]) for o in summary["objects"]]
    assert names == sorted(names) and len(names) == len(set(names))
    hra = next(
        o
        for o in summary["objects"]
        if o["type"].endswith(":HorizontalRunnerAutoscaler") and o["name"] == "web-ci-autoscaler"
    )
    assert hra["fields"]["spec.maxReplicas"] == "3"  # dev override of the web team's ci pool
    assert not any(
        value.endswith(".0") and value.replace(".", "").isdigit()
        for o in summary["objects"]
        for value in o.get("fields", {}).values()
    ), "a whole number written as a float"
    assert [n["name"] for n in summary["namespaces"]] == sorted(
        n["name"] for n in summary["namespaces"]
    )
    assert {"name": "runners-web", "podSecurity": {"audit": "restricted", "enforce": "baseline",
            "warn": "baseline"}} in summary["namespaces"]  # fmt: skip


def test_the_text_output_shows_numbers_as_written(
    insecure: tuple[review.ReviewResult, Path],
) -> None:
    text = review.render(insecure[0])
    assert '"httpPutResponseHopLimit":1,' in text and 'HopLimit":1.0' not in text


def test_cluster_admins_added_by_the_stack_are_shown(tmp_path: Path) -> None:
    admins = [
        "arn:aws:iam::111122223333:role/platform-admin",
        "arn:aws:iam::111122223333:role/contractor",
    ]
    cluster = {
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24", "198.51.100.10/32"],
        "adminRoleArns": admins,
    }
    _review(tmp_path, set_config={"arc-eks:cluster": cluster})
    shown = _read(tmp_path)["clusterAdmins"]
    assert [a["subject"] for a in shown] == sorted(admins)
    assert all("AmazonEKSClusterAdminPolicy" in a["via"] for a in shown)


def _k8s(kind: str, name: str, body: dict[str, Any], group: str = "rbac.authorization.k8s.io/v1"):
    return CapturedResource(
        type=f"kubernetes:{group}:{kind}",
        name=name,
        urn=f"urn:{kind}:{name}",
        inputs={"metadata": {"name": name}, **body},
        custom=True,
    )


def test_bindings_to_cluster_admin_or_a_wildcard_role_are_shown() -> None:
    subject = [{"kind": "ServiceAccount", "name": "runner", "namespace": "runners-web"}]
    resources = [
        _k8s(
            "ClusterRoleBinding",
            "to-cluster-admin",
            {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": subject},
        ),
        _k8s("ClusterRole", "everything", {"rules": [{"verbs": ["*"], "resources": ["*"]}]}),
        _k8s(
            "ClusterRoleBinding",
            "to-everything",
            {"roleRef": {"kind": "ClusterRole", "name": "everything"}, "subjects": subject},
        ),
        _k8s("ClusterRole", "reader", {"rules": [{"verbs": ["get"], "resources": ["*"]}]}),
        _k8s(
            "ClusterRoleBinding",
            "to-reader",
            {"roleRef": {"kind": "ClusterRole", "name": "reader"}, "subjects": subject},
        ),
    ]
    result = review.ReviewResult(stack="dev", resources=resources)
    shown = review_summary.cluster_admins(result)
    assert shown == [
        {
            "subject": "ServiceAccount runners-web/runner",
            "via": "ClusterRoleBinding to-cluster-admin -> ClusterRole cluster-admin",
        },
        {
            "subject": "ServiceAccount runners-web/runner",
            "via": "ClusterRoleBinding to-everything -> ClusterRole everything",
        },
    ]
    assert "Cluster admins: 2" in review.render(result)


def test_advisory_and_skipped_are_distinct_words() -> None:
    findings = [
        PolicyFinding("rule-b", EnforcementLevel.ADVISORY, "an advisory violation", "urn:b"),
        PolicyFinding("rule-a", EnforcementLevel.MANDATORY, "a mandatory violation", "urn:a"),
        PolicyFinding("rule-c", EnforcementLevel.ADVISORY, "unknown offline", None, skipped=True),
    ]
    result = review.ReviewResult(stack="dev", findings=findings)
    summary = review_summary.build(result)
    assert [v["enforcementLevel"] for v in summary["violations"]] == ["advisory", "mandatory"]
    assert [s["policy"] for s in summary["skipped"]] == ["rule-c"]
    assert summary["counts"] == {
        "resources": 0,
        "rendered": 0,
        "mandatory": 1,
        "advisory": 1,
        "skipped": 1,
        "invalid": 0,
        "configProblems": 0,
    }
    assert summary["exitCode"] == 1
    text = review.render(result)
    assert "1 mandatory violation(s), 1 advisory," in text and "SKIPPED" in text


def test_rule_messages_show_whole_numbers_as_written() -> None:
    from policies.arc_policies._support import show

    assert show({"max": 20.0, "ratio": [0.5, 2.0]}) == '{"max": 20, "ratio": [0.5, 2]}'
