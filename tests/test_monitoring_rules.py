"""The alert rules: every expression parses (promql-parser, the Rust PromQL parser's Python
binding) and reads only metrics ARC registers; each alert fires on a bad synthetic series and
stays quiet on a healthy one, evaluated by the evaluator in tests/promql_eval.py (always) and by
Prometheus's own rule engine (`promtool test rules`, where installed) on the same series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from arc_eks.builders.monitoring_rules import METRICS, alert_rules, rule_groups, rules_file_yaml
from arc_eks.config.monitoring import AlertThresholds
from tests import promql_eval

PROMTOOL_TIMEOUT_SECONDS = 60
EVAL_MINUTES = 60


def _metric_names(expr: Any) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        for child in ("expr", "lhs", "rhs", "param", "vector_selector"):
            value = getattr(node, child, None)
            if value is not None and not isinstance(value, (int, float, str)):
                visit(value)
        for arg in getattr(node, "args", None) or []:
            visit(arg)

    visit(expr)
    return names


@pytest.mark.parametrize("alert", alert_rules(AlertThresholds()), ids=lambda a: a.name)
def test_expression_parses_and_reads_known_metrics(alert: Any) -> None:
    parsed = promql_parser.parse(alert.expr)
    names = _metric_names(parsed)
    assert names, alert.expr
    assert names <= set(METRICS), names - set(METRICS)


def test_every_alert_has_a_runbook_line() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "monitoring.md").read_text()
    for alert in alert_rules(AlertThresholds()):
        assert f"### {alert.name}" in doc, alert.name


# --- evaluation -------------------------------------------------------------------------------

SCALE_SET = 'name="build",namespace="payments",organization="acme",repository="",enterprise=""'
POOL = 'scale_set_name="build",scale_set_namespace="payments"'
HRA = 'horizontalrunnerautoscaler="build",namespace="payments"'
FIXED_HRA = 'horizontalrunnerautoscaler="fixed",namespace="payments"'
FIXED_SCALE_SET = 'name="fixed",namespace="payments",organization="acme"'
HRA_FULL = (
    f'{HRA},enterprise="",organization="acme",repository="",kind="RunnerDeployment",name="build"'
)
BUCKETS = ("10", "60", "300", "600", "+Inf")


def _histogram(per_minute: dict[str, int]) -> list[dict[str, str]]:
    """Cumulative bucket counters of gha_job_startup_duration_seconds: `per_minute` jobs land in
    the given bucket (and all wider ones) every minute for an hour."""
    series = []
    running = 0
    for le in BUCKETS:
        running += per_minute.get(le, 0)
        series.append(
            {
                "series": f'gha_job_startup_duration_seconds_bucket{{{POOL},le="{le}"}}',
                "values": f"0+{running}x60",
            }
        )
    return series


def _series(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": values}


# alert -> (bad input series, healthy input series, labels of the fired alert)
CASES: dict[str, tuple[list[dict[str, str]], list[dict[str, str]], dict[str, str]]] = {
    "ArcListenerDown": (
        [_series("gha_controller_running_listeners", SCALE_SET, "1x5 0x55")],
        [_series("gha_controller_running_listeners", SCALE_SET, "1x60")],
        {
            "name": "build",
            "namespace": "payments",
            "organization": "acme",
            "repository": "",
            "enterprise": "",
        },
    ),
    "ArcRunnersFailed": (
        [_series("gha_controller_failed_ephemeral_runners", SCALE_SET, "0x30 2x30")],
        [_series("gha_controller_failed_ephemeral_runners", SCALE_SET, "0x60")],
        {
            "name": "build",
            "namespace": "payments",
            "organization": "acme",
            "repository": "",
            "enterprise": "",
        },
    ),
    "ArcRunnersPending": (
        [_series("gha_controller_pending_ephemeral_runners", SCALE_SET, "0x30 3x30")],
        # Runners pending for a few minutes at a time (a normal scale-up) never alert.
        [_series("gha_controller_pending_ephemeral_runners", SCALE_SET, "0x10 2x5 0x10 1x5 0x30")],
        {
            "name": "build",
            "namespace": "payments",
            "organization": "acme",
            "repository": "",
            "enterprise": "",
        },
    ),
    "ArcLegacyRunnersNotRegistered": (
        [
            _series("horizontalrunnerautoscaler_runners", HRA_FULL, "3x60"),
            _series("horizontalrunnerautoscaler_runners_registered", HRA_FULL, "3x20 1x40"),
        ],
        [
            _series("horizontalrunnerautoscaler_runners", HRA_FULL, "3x60"),
            _series("horizontalrunnerautoscaler_runners_registered", HRA_FULL, "2x5 3x55"),
        ],
        {
            "horizontalrunnerautoscaler": "build",
            "namespace": "payments",
            "enterprise": "",
            "organization": "acme",
            "repository": "",
            "kind": "RunnerDeployment",
            "name": "build",
        },
    ),
    "ArcPoolAtMaximum": (
        [
            _series("gha_desired_runners", SCALE_SET, "2x10 10x50"),
            _series("gha_max_runners", SCALE_SET, "10x60"),
            _series("gha_min_runners", SCALE_SET, "1x60"),
        ],
        # At its maximum for 10 minutes only, and a fixed-size pool (min = max) that always is.
        [
            _series("gha_desired_runners", SCALE_SET, "2x20 10x10 4x30"),
            _series("gha_max_runners", SCALE_SET, "10x60"),
            _series("gha_min_runners", SCALE_SET, "1x60"),
            _series("gha_desired_runners", FIXED_SCALE_SET, "3x60"),
            _series("gha_max_runners", FIXED_SCALE_SET, "3x60"),
            _series("gha_min_runners", FIXED_SCALE_SET, "3x60"),
        ],
        {
            "name": "build",
            "namespace": "payments",
            "organization": "acme",
            "repository": "",
            "enterprise": "",
        },
    ),
    "ArcLegacyPoolAtMaximum": (
        [
            _series("horizontalrunnerautoscaler_status_desired_replicas", HRA, "4x10 8x50"),
            _series("horizontalrunnerautoscaler_spec_max_replicas", HRA, "8x60"),
            _series("horizontalrunnerautoscaler_spec_min_replicas", HRA, "1x60"),
        ],
        [
            _series("horizontalrunnerautoscaler_status_desired_replicas", HRA, "4x60"),
            _series("horizontalrunnerautoscaler_spec_max_replicas", HRA, "8x60"),
            _series("horizontalrunnerautoscaler_spec_min_replicas", HRA, "1x60"),
            _series("horizontalrunnerautoscaler_status_desired_replicas", FIXED_HRA, "2x60"),
            _series("horizontalrunnerautoscaler_spec_max_replicas", FIXED_HRA, "2x60"),
            _series("horizontalrunnerautoscaler_spec_min_replicas", FIXED_HRA, "2x60"),
        ],
        {"horizontalrunnerautoscaler": "build", "namespace": "payments"},
    ),
    "ArcJobQueueTimeHigh": (
        # Every job waits between 300 and 600 s: p95 about 585 s.
        _histogram({"600": 10}),
        # Every job starts within 10 s.
        _histogram({"10": 10}),
        {"scale_set_name": "build", "scale_set_namespace": "payments"},
    ),
    "ArcControllerReconcileErrors": (
        [
            _series(
                "controller_runtime_reconcile_errors_total",
                'job="arc-legacy-controller",controller="runner",instance="a"',
                "0+2x60",
            )
        ],
        # A few errors long ago, none since.
        [
            _series(
                "controller_runtime_reconcile_errors_total",
                'job="arc-legacy-controller",controller="runner",instance="a"',
                "0+1x3 3x57",
            )
        ],
        {"job": "arc-legacy-controller", "controller": "runner"},
    ),
}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool is not installed (Debian/Ubuntu: apt-get install prometheus); "
            "docs/monitoring.md, 'Checks'"
        )
    return found


def _run_promtool(tmp_path: Path, thresholds: AlertThresholds, tests: list[dict[str, Any]]) -> str:
    groups = rule_groups(thresholds)
    for group in groups:
        for rule in group["rules"]:
            # Annotations are templates for people; promtool compares them verbatim. The
            # expressions, durations and labels are the deployed ones.
            rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests})
    )
    result = subprocess.run(
        [_promtool(), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_SECONDS,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def _test(alert: str, series: list[dict[str, str]], fired: dict[str, str] | None) -> dict[str, Any]:
    severity = {a.name: a.severity for a in alert_rules(AlertThresholds())}[alert]
    # Prometheus drops empty labels (ARC sets enterprise/repository to "" for an org scale set).
    labels = {k: v for k, v in (fired or {}).items() if v}
    expected = [] if fired is None else [{"exp_labels": {**labels, "severity": severity}}]
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": f"{EVAL_MINUTES}m", "alertname": alert, "exp_alerts": expected}
        ],
    }


def test_each_alert_fires_on_bad_and_stays_quiet_on_healthy(tmp_path: Path) -> None:
    assert set(CASES) == {a.name for a in alert_rules(AlertThresholds())}
    tests = []
    for alert, (bad, healthy, labels) in CASES.items():
        tests.append(_test(alert, bad, labels))
        tests.append(_test(alert, healthy, None))
    output = _run_promtool(tmp_path, AlertThresholds(), tests)
    assert output.startswith("exit 0"), output


def test_a_quiet_expectation_fails_on_the_bad_series(tmp_path: Path) -> None:
    # The harness itself can fail: expecting silence on a bad series is reported.
    bad, _, _ = CASES["ArcListenerDown"]
    output = _run_promtool(tmp_path, AlertThresholds(), [_test("ArcListenerDown", bad, None)])
    assert output.startswith("exit 1"), output


RELAXED = AlertThresholds(
    queue_time_p95_seconds=900,
    failed_runners=3,
    pending_runner_minutes=45,
    pool_at_max_minutes=60,
    listener_down_minutes=60,
    reconcile_errors_per_10_minutes=50,
)


def _python_firing(
    alert: str, thresholds: AlertThresholds, series: list[dict[str, str]]
) -> list[dict[str, str]]:
    (rule,) = [r for r in rule_groups(thresholds)[0]["rules"] if r["alert"] == alert]
    storage = promql_eval.Storage.from_input(series, interval=60)
    return promql_eval.firing_alerts(rule, storage, eval_time=EVAL_MINUTES * 60, interval=60)


@pytest.mark.parametrize("alert", sorted(CASES))
def test_python_evaluation_fires_on_bad_and_stays_quiet_on_healthy(alert: str) -> None:
    bad, healthy, labels = CASES[alert]
    severity = {a.name: a.severity for a in alert_rules(AlertThresholds())}[alert]
    expected = {k: v for k, v in labels.items() if v} | {"alertname": alert, "severity": severity}
    assert _python_firing(alert, AlertThresholds(), bad) == [expected]
    assert _python_firing(alert, AlertThresholds(), healthy) == []
    # The stack's thresholds decide: relaxed ones keep the bad series quiet.
    assert _python_firing(alert, RELAXED, bad) == []


def test_thresholds_move_the_alerts(tmp_path: Path) -> None:
    # The same bad series stay quiet once the stack's thresholds are above them.
    relaxed = RELAXED
    tests = [
        _test(alert, CASES[alert][0], None)
        for alert in (
            "ArcJobQueueTimeHigh",
            "ArcRunnersFailed",
            "ArcRunnersPending",
            "ArcLegacyRunnersNotRegistered",
            "ArcPoolAtMaximum",
            "ArcLegacyPoolAtMaximum",
            "ArcListenerDown",
            "ArcControllerReconcileErrors",
        )
    ]
    output = _run_promtool(tmp_path, relaxed, tests)
    assert output.startswith("exit 0"), output


def test_the_deployed_rules_file_passes_promtool_check(tmp_path: Path) -> None:
    # The exact text of the AMP rule group namespace (and of the PrometheusRule's groups),
    # annotations and their templates included.
    (tmp_path / "rules.yaml").write_text(rules_file_yaml(AlertThresholds()))
    result = subprocess.run(
        [_promtool(), "check", "rules", "rules.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules(AlertThresholds()))} rules found" in result.stdout
