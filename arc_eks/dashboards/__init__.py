"""The Grafana dashboard of the runner pools, generated here (`python -m arc_eks.dashboards`
writes dashboards/arc-eks.json; a test keeps the committed file in step).

Per pool (namespace + name): jobs assigned and running, runners busy and idle, job startup time
(the wait from the scale set's job assignment to a runner's), and nodes per node group. Every
metric is one `arc_eks.builders.monitoring_rules.METRICS` lists. The node panel reads the managed
scraper's node job (ampScraper) or kube-state-metrics with node label eks.amazonaws.com/nodegroup
allowed (`--metric-labels-allowlist=nodes=[eks.amazonaws.com/nodegroup]`), docs/monitoring.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arc_eks.builders.monitoring import NODE_GROUP_LABEL, NODES_JOB

DASHBOARD_UID = "arc-eks-runner-pools"
DASHBOARD_FILE = Path("dashboards") / "arc-eks.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NAMESPACE_FILTER = 'namespace=~"$namespace"'
POOL_FILTER = 'scale_set_namespace=~"$namespace"'


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(
    panel_id: int, title: str, targets: list[dict[str, Any]], *, unit: str, y: int, x: int
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right"}},
        "targets": targets,
    }


def _panels() -> list[dict[str, Any]]:
    scale_set = "{{namespace}}/{{name}}"
    legacy = "{{namespace}}/{{horizontalrunnerautoscaler}}"
    pool = "{{scale_set_namespace}}/{{scale_set_name}}"
    rate = "rate(gha_job_startup_duration_seconds_bucket{" + POOL_FILTER + "}[$__rate_interval])"
    return [
        _panel(
            1,
            "Jobs assigned and running per pool",
            [
                _target(f"gha_assigned_jobs{{{NAMESPACE_FILTER}}}", f"assigned {scale_set}", "A"),
                _target(f"gha_running_jobs{{{NAMESPACE_FILTER}}}", f"running {scale_set}", "B"),
                _target(
                    f"horizontalrunnerautoscaler_workflow_runs_queued{{{NAMESPACE_FILTER}}}",
                    f"queued runs {legacy}",
                    "C",
                ),
                _target(
                    f"horizontalrunnerautoscaler_workflow_runs_in_progress{{{NAMESPACE_FILTER}}}",
                    f"runs in progress {legacy}",
                    "D",
                ),
            ],
            unit="short",
            y=0,
            x=0,
        ),
        _panel(
            2,
            "Runners busy and idle per pool",
            [
                _target(f"gha_busy_runners{{{NAMESPACE_FILTER}}}", f"busy {scale_set}", "A"),
                _target(f"gha_idle_runners{{{NAMESPACE_FILTER}}}", f"idle {scale_set}", "B"),
                _target(
                    f"horizontalrunnerautoscaler_runners_busy{{{NAMESPACE_FILTER}}}",
                    f"busy {legacy}",
                    "C",
                ),
                _target(
                    f"horizontalrunnerautoscaler_runners_registered{{{NAMESPACE_FILTER}}}"
                    f" - horizontalrunnerautoscaler_runners_busy{{{NAMESPACE_FILTER}}}",
                    f"idle {legacy}",
                    "D",
                ),
            ],
            unit="short",
            y=0,
            x=12,
        ),
        _panel(
            3,
            "Job startup time per pool (p50, p95)",
            [
                _target(
                    "histogram_quantile(0.5, sum by (le, scale_set_namespace, scale_set_name) "
                    f"({rate}))",
                    f"p50 {pool}",
                    "A",
                ),
                _target(
                    "histogram_quantile(0.95, sum by (le, scale_set_namespace, scale_set_name) "
                    f"({rate}))",
                    f"p95 {pool}",
                    "B",
                ),
            ],
            unit="s",
            y=8,
            x=0,
        ),
        _panel(
            4,
            "Nodes per node group",
            [
                _target(
                    "count by (label_eks_amazonaws_com_nodegroup) (kube_node_labels)",
                    "{{label_eks_amazonaws_com_nodegroup}}",
                    "A",
                ),
                _target(
                    f'count by ({NODE_GROUP_LABEL}) (kubelet_node_name{{job="{NODES_JOB}"}})',
                    f"{{{{{NODE_GROUP_LABEL}}}}}",
                    "B",
                ),
            ],
            unit="short",
            y=8,
            x=12,
        ),
    ]


def dashboard() -> dict[str, Any]:
    """The dashboard model (Grafana JSON model, schemaVersion 39)."""
    return {
        "uid": DASHBOARD_UID,
        "title": "arc-eks: runner pools",
        "tags": ["arc-eks", "actions-runner-controller"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                },
                {
                    "name": "namespace",
                    "label": "Pool namespace",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": 'label_values({__name__=~"gha_assigned_jobs|'
                    'horizontalrunnerautoscaler_spec_max_replicas"}, namespace)',
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "panels": _panels(),
    }


def dashboard_json() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    DASHBOARD_FILE.parent.mkdir(parents=True, exist_ok=True)
    DASHBOARD_FILE.write_text(dashboard_json())
    print(f"wrote {DASHBOARD_FILE}")
