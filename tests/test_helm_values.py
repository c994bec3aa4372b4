"""Every Helm value the program sets is a key the pinned chart knows (the chart cache)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from arc_eks import versions
from arc_eks.builders import helm_values
from arc_eks.chart_keys import documented_paths, unknown_keys
from arc_eks.review import charts
from tests.conftest import STACKS, run_stack

PINS = {
    "cert-manager": versions.CERT_MANAGER_CHART_VERSION,
    "cluster-autoscaler": versions.CLUSTER_AUTOSCALER_CHART_VERSION,
    "actions-runner-controller": versions.ARC_CHART_VERSION,
}
CHARTS = set(PINS)


def _chart_file(chart: str, name: str) -> Path:
    return charts.chart_dir(chart, PINS[chart]) / name


def _values_text(chart: str) -> str:
    return _chart_file(chart, "values.yaml").read_text()


def _arc_variants() -> list[dict[str, Any]]:
    return [
        helm_values.arc_controller_values(
            replicas=replicas,
            sync_period="1m",
            log_format="json",
            enterprise_url=url,
            service_monitor=monitor,
            webhook_server=webhook,
            kubernetes_container_mode=k8s_mode,
            webhook_allowed_cidrs=["192.30.252.0/22"] if webhook else [],
            webhook_certificate_arn=cert,
        )
        for replicas, url, monitor, webhook, k8s_mode, cert in [
            (1, None, False, False, False, None),
            (2, None, False, True, False, None),
            (
                2,
                "https://github.example.com",
                True,
                True,
                True,
                "arn:aws:acm:eu-west-1:1:certificate/x",
            ),
        ]
    ]


def test_checker_flags_misspelt_and_invented_keys() -> None:
    text = _values_text("actions-runner-controller")
    bad = {"replicaCount": 2, "authSecret": {"github_tokn": "x"}, "invented": True}
    assert unknown_keys(bad, text) == ["authSecret.github_tokn", "invented"]
    # Documented-in-a-comment keys and free-form maps are known.
    assert ("githubEnterpriseServerURL",) in documented_paths(text)
    assert unknown_keys({"podAnnotations": {"any/key": "v"}}, text) == []


@pytest.mark.parametrize("values", _arc_variants())
def test_arc_values_are_chart_keys(values: dict[str, Any]) -> None:
    assert unknown_keys(values, _values_text("actions-runner-controller")) == []


def test_cluster_autoscaler_values_are_chart_keys() -> None:
    values = helm_values.cluster_autoscaler_values(
        cluster_name="arc-eks-dev", region="eu-west-1", role_arn="arn:aws:iam::1:role/x"
    )
    assert unknown_keys(values, _values_text("cluster-autoscaler")) == []


def test_cert_manager_values_are_chart_keys_and_match_its_schema() -> None:
    values = helm_values.cert_manager_values()
    assert unknown_keys(values, _values_text("cert-manager")) == []
    schema = json.loads(_chart_file("cert-manager", "values.schema.json").read_text())
    jsonschema.validate(values, schema)


@pytest.mark.parametrize("env", STACKS)
def test_released_values_of_each_stack_are_chart_keys(env: str) -> None:
    """What the program really passes to each Release, not just the builders' defaults."""
    releases = run_stack(env).of_type("kubernetes:helm.sh/v3:Release")
    # The fixture project's web team has a scale-set pool: the scale-set charts (OCI references)
    # come too. Their values are checked by rendering instead (every value changes the render:
    # tests/test_scale_sets.py), since `template` is a whole PodSpec the runner-set chart copies.
    scale_set_charts = {
        f"{versions.SCALE_SET_REPO}/{versions.SCALE_SET_CONTROLLER_CHART}",
        f"{versions.SCALE_SET_REPO}/{versions.SCALE_SET_CHART}",
    }
    assert {r.inputs["chart"] for r in releases} == set(CHARTS) | scale_set_charts
    for release in releases:
        chart = release.inputs["chart"]
        if chart in scale_set_charts:
            assert release.inputs["version"] == versions.SCALE_SET_CHART_VERSION
            continue
        values = release.plain_inputs(mask="(secret)")["values"]
        assert unknown_keys(values, _values_text(chart)) == [], chart
        assert release.inputs["version"] == PINS[chart]


def test_cached_charts_are_the_pinned_versions() -> None:
    """The values checked above are those of the very chart versions pinned."""
    for chart in CHARTS:
        meta = yaml.safe_load(_chart_file(chart, "Chart.yaml").read_text())
        assert (meta["name"], meta["version"]) == (chart, PINS[chart])
    ca = yaml.safe_load(_chart_file("cluster-autoscaler", "Chart.yaml").read_text())
    assert f"v{ca['appVersion']}" == versions.CLUSTER_AUTOSCALER_IMAGE_TAG
    # cluster-autoscaler's minor must match the cluster's Kubernetes minor.
    assert ca["appVersion"].startswith(versions.KUBERNETES_VERSION + ".")
