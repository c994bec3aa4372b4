"""The alert rules, one builder for both modes: a PrometheusRule (Prometheus Operator) and an
Amazon Managed Service for Prometheus rule group namespace carry the same groups.

Every metric name and label below is the one ARC's source registers (never guessed):
- the legacy controller (actions/actions-runner-controller v0.27.6, the app of chart 0.23.7):
  controllers/actions.summerwind.net/metrics/horizontalrunnerautoscaler.go; the
  `horizontalrunnerautoscaler_runners*` gauges are set only for PercentageRunnersBusy pools
  (autoscaling.go), the spec/status gauges for every HorizontalRunnerAutoscaler;
- the scale-set controller (tag gha-runner-scale-set-0.14.2):
  controllers/actions.github.com/metrics/metrics.go (`gha_controller_*`, labels name/namespace of
  the scale set, or of the AutoscalingListener for `running_listeners`);
- the scale-set listener (same tag): cmd/ghalistener/metrics/metrics.go (`gha_*`; the job
  histograms carry no scale-set label, so the scrape adds `scale_set_name`/`scale_set_namespace`
  from the listener pod's labels: arc_eks/builders/monitoring.py);
- controller-runtime's `controller_runtime_reconcile_errors_total{controller}` in both managers.

The scrape keeps the metrics' own `namespace` label (honorLabels): it is the pool's namespace,
not the controller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from arc_eks.config.monitoring import AlertThresholds

# Labels the scrape adds to every listener series (from the listener pod's labels).
SCALE_SET_NAME_LABEL = "scale_set_name"
SCALE_SET_NAMESPACE_LABEL = "scale_set_namespace"

RULE_GROUP_NAME = "arc-eks.runners"
RUNBOOK_DOC = "docs/monitoring.md"

# Every metric an alert or the dashboard reads, with where it comes from.
METRICS: dict[str, str] = {
    "horizontalrunnerautoscaler_spec_min_replicas": "legacy controller",
    "horizontalrunnerautoscaler_spec_max_replicas": "legacy controller",
    "horizontalrunnerautoscaler_status_desired_replicas": "legacy controller",
    "horizontalrunnerautoscaler_runners": "legacy controller",
    "horizontalrunnerautoscaler_runners_registered": "legacy controller",
    "horizontalrunnerautoscaler_runners_busy": "legacy controller",
    "horizontalrunnerautoscaler_workflow_runs_queued": "legacy controller",
    "horizontalrunnerautoscaler_workflow_runs_in_progress": "legacy controller",
    "gha_controller_pending_ephemeral_runners": "scale-set controller",
    "gha_controller_running_ephemeral_runners": "scale-set controller",
    "gha_controller_failed_ephemeral_runners": "scale-set controller",
    "gha_controller_running_listeners": "scale-set controller",
    "controller_runtime_reconcile_errors_total": "controller-runtime (both controllers)",
    "gha_assigned_jobs": "scale-set listener",
    "gha_running_jobs": "scale-set listener",
    "gha_busy_runners": "scale-set listener",
    "gha_idle_runners": "scale-set listener",
    "gha_registered_runners": "scale-set listener",
    "gha_desired_runners": "scale-set listener",
    "gha_max_runners": "scale-set listener",
    "gha_min_runners": "scale-set listener",
    "gha_job_startup_duration_seconds_bucket": "scale-set listener (histogram)",
    "kube_node_labels": "kube-state-metrics (dashboard only)",
    "kubelet_node_name": "kubelet, through the managed scraper's node job (dashboard only)",
}


@dataclass(frozen=True)
class AlertRule:
    """One alert: its PromQL, how long it must hold, and its runbook anchor."""

    name: str
    expr: str
    for_minutes: int
    severity: str
    summary: str

    @property
    def runbook(self) -> str:
        return f"{RUNBOOK_DOC}#{self.name.lower()}"

    def rule(self) -> dict[str, Any]:
        """The Prometheus rule (same shape in a PrometheusRule and an AMP rule group)."""
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": f"{self.for_minutes}m",
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "runbook": self.runbook},
        }


def alert_rules(thresholds: AlertThresholds) -> list[AlertRule]:
    """The alerts with the stack's thresholds."""
    t = thresholds
    pool = f"{SCALE_SET_NAMESPACE_LABEL}, {SCALE_SET_NAME_LABEL}"
    return [
        AlertRule(
            name="ArcListenerDown",
            expr="gha_controller_running_listeners == 0",
            for_minutes=t.listener_down_minutes,
            severity="critical",
            summary="Scale-set listener {{ $labels.namespace }}/{{ $labels.name }} is not "
            "running: its pool receives no jobs.",
        ),
        AlertRule(
            name="ArcRunnersFailed",
            expr=f"gha_controller_failed_ephemeral_runners >= {t.failed_runners}",
            for_minutes=5,
            severity="warning",
            summary="Pool {{ $labels.namespace }}/{{ $labels.name }} has {{ $value }} failed "
            "ephemeral runners.",
        ),
        AlertRule(
            name="ArcRunnersPending",
            expr="gha_controller_pending_ephemeral_runners > 0",
            for_minutes=t.pending_runner_minutes,
            severity="warning",
            summary="Pool {{ $labels.namespace }}/{{ $labels.name }} has had pending runners "
            f"for {t.pending_runner_minutes} minutes.",
        ),
        AlertRule(
            name="ArcLegacyRunnersNotRegistered",
            expr="horizontalrunnerautoscaler_runners - horizontalrunnerautoscaler_runners_registered"
            " > 0",
            for_minutes=t.pending_runner_minutes,
            severity="warning",
            summary="Pool {{ $labels.namespace }}/{{ $labels.horizontalrunnerautoscaler }} has "
            "had {{ $value }} runners not registered with GitHub for "
            f"{t.pending_runner_minutes} minutes.",
        ),
        AlertRule(
            name="ArcPoolAtMaximum",
            # A fixed-size pool (min = max) always wants its maximum: not an alert.
            expr="gha_desired_runners >= gha_max_runners and gha_min_runners < gha_max_runners",
            for_minutes=t.pool_at_max_minutes,
            severity="warning",
            summary="Pool {{ $labels.namespace }}/{{ $labels.name }} has wanted its maximum "
            f"runners for {t.pool_at_max_minutes} minutes.",
        ),
        AlertRule(
            name="ArcLegacyPoolAtMaximum",
            expr="horizontalrunnerautoscaler_status_desired_replicas"
            " >= horizontalrunnerautoscaler_spec_max_replicas"
            " and horizontalrunnerautoscaler_spec_min_replicas"
            " < horizontalrunnerautoscaler_spec_max_replicas",
            for_minutes=t.pool_at_max_minutes,
            severity="warning",
            summary="Pool {{ $labels.namespace }}/{{ $labels.horizontalrunnerautoscaler }} has "
            f"wanted its maximum runners for {t.pool_at_max_minutes} minutes.",
        ),
        AlertRule(
            name="ArcJobQueueTimeHigh",
            expr="histogram_quantile(0.95, sum by (le, "
            f"{pool}) (rate(gha_job_startup_duration_seconds_bucket[15m]))) > "
            f"{t.queue_time_p95_seconds}",
            for_minutes=5,
            severity="warning",
            summary="Jobs of pool {{ $labels.scale_set_namespace }}/{{ $labels.scale_set_name }} "
            "wait {{ $value | humanizeDuration }} (p95) for a runner.",
        ),
        AlertRule(
            name="ArcControllerReconcileErrors",
            expr="sum by (job, controller) "
            "(increase(controller_runtime_reconcile_errors_total[10m])) > "
            f"{t.reconcile_errors_per_10_minutes}",
            for_minutes=10,
            severity="warning",
            summary="Controller {{ $labels.job }} ({{ $labels.controller }}) failed "
            "{{ $value }} reconciles in 10 minutes.",
        ),
    ]


def rule_groups(thresholds: AlertThresholds) -> list[dict[str, Any]]:
    """The `groups` of a PrometheusRule spec and of a Prometheus rules file."""
    return [{"name": RULE_GROUP_NAME, "rules": [a.rule() for a in alert_rules(thresholds)]}]


def rules_file_yaml(thresholds: AlertThresholds) -> str:
    """A Prometheus rules file (what an AMP rule group namespace takes as its data)."""
    return yaml.safe_dump({"groups": rule_groups(thresholds)}, sort_keys=False)
