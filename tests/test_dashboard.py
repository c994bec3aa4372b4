"""The Grafana dashboard: the committed JSON is what the generator writes, and its queries parse
and read only metrics the platform scrapes."""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser
import pytest

from arc_eks.builders.monitoring_rules import METRICS
from arc_eks.dashboards import DASHBOARD_FILE, dashboard, dashboard_json
from tests.test_monitoring_rules import _metric_names

PROJECT_DIR = Path(__file__).resolve().parents[1]


def test_committed_dashboard_is_in_step_with_the_generator() -> None:
    committed = (PROJECT_DIR / DASHBOARD_FILE).read_text()
    assert committed == dashboard_json(), "run `.venv/bin/python -m arc_eks.dashboards`"


def _exprs() -> list[str]:
    return [t["expr"] for panel in dashboard()["panels"] for t in panel["targets"]]


@pytest.mark.parametrize("expr", _exprs())
def test_queries_parse_and_read_known_metrics(expr: str) -> None:
    # Grafana's variables, as Grafana substitutes them before querying.
    concrete = expr.replace("$__rate_interval", "2m").replace("$namespace", ".*")
    names = _metric_names(promql_parser.parse(concrete))
    assert names and names <= set(METRICS), names


def test_every_panel_is_per_pool_or_per_node_group() -> None:
    titles = [p["title"] for p in dashboard()["panels"]]
    assert titles == [
        "Jobs assigned and running per pool",
        "Runners busy and idle per pool",
        "Job startup time per pool (p50, p95)",
        "Nodes per node group",
    ]
    for panel in dashboard()["panels"][:3]:
        for target in panel["targets"]:
            assert "$namespace" in target["expr"], target["expr"]
            assert "namespace" in target["legendFormat"]
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(set(ids)) == len(ids)
    json.loads(dashboard_json())
