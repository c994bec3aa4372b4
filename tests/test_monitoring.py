"""Monitoring (stack `monitoring:`): config validation, the scrape objects against the chart
renderings and the Prometheus Operator CRDs, the managed scraper, and the program's wiring."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from arc_eks import versions
from arc_eks.builders import monitoring as mon
from arc_eks.builders import scale_set as ss
from arc_eks.builders.helm_values import ARC_NAMESPACE, arc_controller_values
from arc_eks.builders.monitoring_rules import rule_groups, rules_file_yaml
from arc_eks.config.monitoring import AlertThresholds, MonitoringConfig
from arc_eks.resource_graph import in_cluster_order_problems
from arc_eks.review import artifacts as review_artifacts
from arc_eks.review import charts, helm_render
from arc_eks.review import run as review
from arc_eks.review.offline import ProgramRun
from tests.conftest import FIXTURE_PROJECT, run_stack
from tests.program_fixtures import pool, run_fixture, write_teams
from tests.test_stack_config import _error_of

CHART_CACHE = charts.cache_dir_of(Path(__file__).resolve().parents[1])


def _operator_crds() -> review_artifacts.CrdValidators:
    texts = charts.crd_bundle_texts(versions.PROMETHEUS_OPERATOR_CRDS, CHART_CACHE)
    if not texts:
        pytest.skip(
            "the pinned Prometheus Operator CRDs are not in the chart cache (`make charts` "
            "could not reach them): docs/monitoring.md, 'Checks'"
        )
    return review_artifacts.crd_validators(texts)


def _objects(**config: Any) -> list[dict[str, Any]]:
    settings = MonitoringConfig.model_validate({"mode": "prometheusOperator", **config})
    return mon.operator_objects(
        interval_seconds=settings.scrape_interval_seconds,
        labels=dict(settings.resource_labels),
        groups=rule_groups(settings.alerts),
    )


# --- config ---------------------------------------------------------------------------------


def test_threshold_out_of_bounds_is_named() -> None:
    error = _error_of(
        set_config={
            "arc-eks:monitoring": {"mode": "ampScraper", "alerts": {"queueTimeP95Seconds": 5}}
        }
    )
    assert "arc-eks:monitoring.alerts.queueTimeP95Seconds" in str(error)


def test_unknown_mode_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:monitoring": {"mode": "prometheus"}})
    assert "arc-eks:monitoring.mode" in str(error)


def test_scrape_interval_below_the_managed_scrapers_minimum_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:monitoring": {"scrapeIntervalSeconds": 15}})
    assert "arc-eks:monitoring.scrapeIntervalSeconds" in str(error)


def test_bad_resource_label_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:monitoring": {"resourceLabels": {"bad key!": "x"}}})
    assert "arc-eks:monitoring.resourceLabels" in str(error)


def test_chart_service_monitor_and_monitoring_are_exclusive() -> None:
    error = _error_of(
        set_config={
            "arc-eks:monitoring": {"mode": "prometheusOperator"},
            "arc-eks:controller": {"replicas": 1, "serviceMonitor": True},
        }
    )
    assert "controller.serviceMonitor: false with monitoring.mode" in str(error)


def test_defaults() -> None:
    settings = MonitoringConfig()
    assert settings.mode == "none"
    assert settings.alerts == AlertThresholds()
    assert settings.scrape_interval_seconds == 30


# --- legacy controller metrics ---------------------------------------------------------------


def _values(plain: bool) -> dict[str, Any]:
    return arc_controller_values(
        replicas=1,
        sync_period="1m",
        log_format="json",
        enterprise_url=None,
        service_monitor=False,
        webhook_server=False,
        kubernetes_container_mode=False,
        plain_metrics=plain,
    )


def test_plain_metrics_turn_the_proxy_off_only_with_monitoring() -> None:
    assert _values(True)["metrics"]["proxy"] == {"enabled": False}
    # Without monitoring the chart's proxy stays on (only its pinned image is set).
    assert "enabled" not in _values(False)["metrics"]["proxy"]


@pytest.fixture(scope="module")
def operator_review() -> review.ReviewResult:
    return review.run_review(
        "dev",
        project_dir=FIXTURE_PROJECT,
        chart_cache=CHART_CACHE,
        check_ignored_values=False,
        set_config={"arc-eks:monitoring": {"mode": "prometheusOperator"}},
    )


def _rendered(result: review.ReviewResult, kind: str) -> list[dict[str, Any]]:
    return [
        r.inputs
        for r in result.rendered
        if r.inputs.get("kind") == kind
        and (r.inputs.get("metadata") or {}).get("namespace") == ARC_NAMESPACE
    ]


def test_service_monitor_selects_the_rendered_metrics_service(
    operator_review: review.ReviewResult,
) -> None:
    monitor = mon.legacy_service_monitor(interval_seconds=30, labels={})
    selector = monitor["spec"]["selector"]["matchLabels"]
    port = monitor["spec"]["endpoints"][0]["port"]
    selected = [
        s
        for s in _rendered(operator_review, "Service")
        if selector.items() <= (s["metadata"].get("labels") or {}).items()
        and any(p.get("name") == port for p in s["spec"]["ports"])
    ]
    assert [s["metadata"]["name"] for s in selected] == [
        "actions-runner-controller-metrics-service"
    ]
    # ... and the Service's target port is served by the manager itself (no kube-rbac-proxy).
    (deployment,) = [
        d
        for d in _rendered(operator_review, "Deployment")
        if d["metadata"]["name"] == "actions-runner-controller"
    ]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["manager"]
    assert {"containerPort": 8443, "name": "metrics-port", "protocol": "TCP"} in containers[0][
        "ports"
    ]
    assert "--metrics-addr=0.0.0.0:8443" in containers[0]["args"]


def test_operator_mode_review_validates_every_object(operator_review: review.ReviewResult) -> None:
    _operator_crds()  # skips without the CRDs: the review would name their kinds unknown
    assert operator_review.config_errors == []
    assert operator_review.validation.errors == []
    kinds = {
        r.type.rpartition(":")[2]
        for r in operator_review.resources
        if r.type.startswith("kubernetes:monitoring.coreos.com/")
    }
    # PodMonitors exactly when the stack has the scale-set controller (and so its namespace).
    has_scale_sets = any(r.name == "scale-sets-release" for r in operator_review.resources)
    expected = {"ServiceMonitor", "PrometheusRule"} | ({"PodMonitor"} if has_scale_sets else set())
    assert kinds == expected


# --- scale-set controller and listeners -------------------------------------------------------

SCALE_SET_TEAMS = {"alpha": [pool("build", "dind", mode="scaleSet"), pool("old", "dind")]}


@pytest.fixture(scope="module")
def scale_set_run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    teams = write_teams(tmp_path_factory.mktemp("teams"), SCALE_SET_TEAMS)
    return run_fixture(teams, monitoring={"mode": "prometheusOperator"})


def test_pod_monitors_come_with_the_scale_set_controller(scale_set_run: ProgramRun) -> None:
    release = scale_set_run.one("kubernetes:helm.sh/v3:Release", "scale-sets-release")
    monitors = scale_set_run.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
    assert sorted(m.name for m in monitors) == [
        "monitoring-arc-scale-set-controller",
        "monitoring-arc-scale-set-listeners",
    ]
    for monitor in monitors:
        assert monitor.inputs["metadata"]["namespace"] == ss.SCALE_SET_CONTROLLER_NAMESPACE
        assert release.urn in monitor.dependencies  # its namespace exists after the release
    assert [p.render() for p in in_cluster_order_problems(scale_set_run.resources)] == []


def test_no_pod_monitors_without_scale_set_pools(tmp_path: Path) -> None:
    teams = write_teams(tmp_path / "teams", {"alpha": [pool("old", "dind")]})
    run = run_fixture(teams, monitoring={"mode": "prometheusOperator"})
    assert not run.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
    assert len(run.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")) == 1


def test_scale_set_pod_monitor_selects_the_rendered_controller(scale_set_run: ProgramRun) -> None:
    rendered = helm_render.render_all(scale_set_run.resources)
    assert rendered.errors == []
    (deployment,) = [
        o.manifest
        for o in rendered.objects
        if o.kind == "Deployment"
        and o.manifest["metadata"].get("namespace") == ss.SCALE_SET_CONTROLLER_NAMESPACE
    ]
    monitor = mon.scale_set_controller_pod_monitor(interval_seconds=30, labels={})
    selector = monitor["spec"]["selector"]["matchLabels"]
    template = deployment["spec"]["template"]
    assert selector.items() <= template["metadata"]["labels"].items()
    (manager,) = template["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in manager["ports"]}
    assert port[monitor["spec"]["podMetricsEndpoints"][0]["port"]] == mon.SCALE_SET_METRICS_PORT
    # The listeners it creates serve the same port and path (the listener PodMonitor's).
    assert f"--listener-metrics-addr=:{mon.SCALE_SET_METRICS_PORT}" in manager["args"]
    assert f"--listener-metrics-endpoint={mon.SCALE_SET_METRICS_PATH}" in manager["args"]
    assert f"--metrics-addr=:{mon.SCALE_SET_METRICS_PORT}" in manager["args"]


# --- Prometheus Operator objects --------------------------------------------------------------


def test_objects_validate_against_the_pinned_crds() -> None:
    crds = _operator_crds()
    objects = _objects(resourceLabels={"release": "kube-prometheus-stack"})
    assert {o["kind"] for o in objects} == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    for manifest in objects:
        validator = crds.get((manifest["apiVersion"], manifest["kind"]))
        assert validator is not None, manifest["kind"]
        errors = [e.message for e in validator.iter_errors(manifest)]
        assert errors == [], (manifest["kind"], errors)


def test_the_crd_check_catches_a_misspelt_field() -> None:
    crds = _operator_crds()
    monitor = mon.listener_pod_monitor(interval_seconds=30, labels={})
    monitor["spec"]["podMetricsEndpoints"][0]["honourLabels"] = True
    validator = crds.get((monitor["apiVersion"], monitor["kind"]))
    assert validator is not None and list(validator.iter_errors(monitor))


def test_resource_labels_reach_every_object() -> None:
    for manifest in _objects(resourceLabels={"release": "kps"}):
        assert manifest["metadata"]["labels"] == {"release": "kps"}


def test_pod_monitors_select_in_the_controller_namespace_only() -> None:
    for manifest in _objects():
        if manifest["kind"] == "PodMonitor":
            assert manifest["metadata"]["namespace"] == mon.SCALE_SET_CONTROLLER_NAMESPACE
            assert manifest["spec"]["namespaceSelector"] == {
                "matchNames": [mon.SCALE_SET_CONTROLLER_NAMESPACE]
            }
        if manifest["kind"] != "PrometheusRule":
            endpoint = (
                manifest["spec"].get("endpoints") or manifest["spec"]["podMetricsEndpoints"]
            )[0]
            # ARC's own `namespace` label (the pool's) must survive the scrape.
            assert endpoint["honorLabels"] is True


def test_listener_series_get_the_scale_set_labels() -> None:
    monitor = mon.listener_pod_monitor(interval_seconds=30, labels={})
    relabelings = monitor["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert {(r["sourceLabels"][0], r["targetLabel"]) for r in relabelings} == {
        ("__meta_kubernetes_pod_label_actions_github_com_scale_set_name", "scale_set_name"),
        (
            "__meta_kubernetes_pod_label_actions_github_com_scale_set_namespace",
            "scale_set_namespace",
        ),
    }


def test_prometheus_rule_carries_the_thresholds() -> None:
    (rule,) = [
        o for o in _objects(alerts={"queueTimeP95Seconds": 900}) if o["kind"] == "PrometheusRule"
    ]
    exprs = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert exprs["ArcJobQueueTimeHigh"].endswith("> 900")


# --- managed scraper --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def amp_run() -> Any:
    return run_stack(
        "dev",
        set_config={
            "arc-eks:monitoring": {"mode": "ampScraper", "alerts": {"pendingRunnerMinutes": 25}}
        },
    )


def _one(run: Any, type_: str) -> Any:
    (found,) = [r for r in run.resources if r.type == type_]
    return found


def test_amp_mode_creates_workspace_scraper_and_rules(amp_run: Any) -> None:
    workspace = _one(amp_run, "aws:amp/workspace:Workspace")
    scraper = _one(amp_run, "aws:amp/scraper:Scraper")
    rules = _one(amp_run, "aws:amp/ruleGroupNamespace:RuleGroupNamespace")
    assert workspace.inputs["alias"] == "arc-eks-dev"
    eks = scraper.inputs["source"]["eks"]
    assert eks["clusterArn"].endswith(":cluster/offline")  # looked up from the cluster
    assert len(eks["subnetIds"]) >= 2 and eks["securityGroupIds"] == ["sg-0123456789abcdef0"]
    assert scraper.inputs["destination"]["amp"]["workspaceArn"]
    assert rules.inputs["data"] == rules_file_yaml(AlertThresholds(pending_runner_minutes=25))
    assert "for: 25m" in rules.inputs["data"]
    # No Prometheus Operator objects in this mode.
    assert not [r for r in amp_run.resources if "monitoring.coreos.com" in r.type]


def test_amp_scraper_waits_for_the_cluster_and_the_controller(amp_run: Any) -> None:
    scraper = _one(amp_run, "aws:amp/scraper:Scraper")
    release = [r for r in amp_run.resources if r.name == "arc-release"]
    assert release and release[0].urn in scraper.dependencies


def test_amp_scrape_configuration_mirrors_the_operator_objects() -> None:
    config = yaml.safe_load(mon.amp_scrape_configuration(interval_seconds=60))
    assert config["global"] == {"scrape_interval": "60s"}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {
        mon.LEGACY_MONITOR,
        mon.SCALE_SET_CONTROLLER_MONITOR,
        mon.LISTENER_MONITOR,
        mon.NODES_JOB,
    }
    for name in (mon.LEGACY_MONITOR, mon.SCALE_SET_CONTROLLER_MONITOR, mon.LISTENER_MONITOR):
        job = jobs[name]
        assert job["honor_labels"] is True
        assert "authorization" not in job  # plain HTTP metrics endpoints
        (sd,) = job["kubernetes_sd_configs"]
        assert len(sd["namespaces"]["names"]) == 1
    listener = jobs[mon.LISTENER_MONITOR]["relabel_configs"]
    keep_listeners = {
        "action": "keep",
        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
        "separator": ";",
        "regex": "runner-scale-set-listener",
    }
    assert keep_listeners in listener
    targets = {r.get("target_label") for r in listener}
    assert {"scale_set_name", "scale_set_namespace"} <= targets


def test_amp_node_job_keeps_one_series_per_node_with_its_node_group() -> None:
    config = yaml.safe_load(mon.amp_scrape_configuration(interval_seconds=30))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == mon.NODES_JOB]
    # The only authorization the managed collector accepts, and only the API server by name.
    assert job["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token",
    }
    relabel = {r["target_label"]: r for r in job["relabel_configs"]}
    assert relabel["__address__"]["replacement"] == "kubernetes.default.svc:443"
    assert relabel["__metrics_path__"]["replacement"] == "/api/v1/nodes/$1/proxy/metrics"
    assert relabel["nodegroup"]["source_labels"] == [
        "__meta_kubernetes_node_label_eks_amazonaws_com_nodegroup"
    ]
    assert job["metric_relabel_configs"] == [
        {"action": "keep", "source_labels": ["__name__"], "regex": "kubelet_node_name"}
    ]


def test_mode_none_creates_nothing() -> None:
    run = run_stack("dev")
    assert not [r for r in run.resources if "amp" in r.type or "monitoring" in r.type]


def test_amp_alerts_reach_an_sns_topic_only_the_workspace_may_publish_to(amp_run: Any) -> None:
    topic = _one(amp_run, "aws:sns/topic:Topic")
    policy = _one(amp_run, "aws:sns/topicPolicy:TopicPolicy")
    workspace = _one(amp_run, "aws:amp/workspace:Workspace")
    definition = _one(amp_run, "aws:amp/alertManagerDefinition:AlertManagerDefinition")
    assert topic.inputs["name"] == "arc-eks-dev-alerts"
    assert policy.urn in definition.dependencies  # the topic admits the workspace first
    document = json.loads(policy.inputs["policy"])
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "aps.amazonaws.com"}
    assert statement["Action"] == ["sns:Publish", "sns:GetTopicAttributes"]
    assert statement["Resource"] == policy.inputs["arn"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
        "workspace/monitoring-workspace"
    )
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    config = yaml.safe_load(yaml.safe_load(definition.inputs["definition"])["alertmanager_config"])
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    assert receiver["sns_configs"] == [
        {"topic_arn": policy.inputs["arn"], "sigv4": {"region": "eu-west-1"}}
    ]
    assert workspace.urn in definition.dependencies


def test_alert_manager_definition_passes_amtool(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip(
            "amtool is not installed (Debian/Ubuntu: apt-get install prometheus-alertmanager)"
        )
    definition = mon.amp_alert_manager_definition(
        topic_arn="arn:aws:sns:eu-west-1:111122223333:arc-eks-dev-alerts", region="eu-west-1"
    )
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_load(definition)["alertmanager_config"])
    result = subprocess.run(
        [amtool, "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


BOUNDS = {
    "queueTimeP95Seconds": (30, 3600),
    "pendingRunnerMinutes": (2, 120),
    "failedRunners": (1, 100),
    "poolAtMaxMinutes": (5, 720),
    "listenerDownMinutes": (1, 60),
    "reconcileErrorsPer10Minutes": (1, 10000),
}


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_threshold_bounds(key: str) -> None:
    low, high = BOUNDS[key]
    for accepted in (low, high):
        MonitoringConfig.model_validate({"alerts": {key: accepted}})
    for refused in (low - 1, high + 1):
        with pytest.raises(ValueError, match=key):
            MonitoringConfig.model_validate({"alerts": {key: refused}})


def test_scrape_interval_bounds() -> None:
    for accepted in (30, 300):
        MonitoringConfig.model_validate({"scrapeIntervalSeconds": accepted})
    for refused in (29, 301):
        with pytest.raises(ValueError, match="scrapeIntervalSeconds"):
            MonitoringConfig.model_validate({"scrapeIntervalSeconds": refused})


def test_chart_service_monitor_alone_is_still_accepted() -> None:
    run = run_stack(
        "dev", set_config={"arc-eks:controller": {"replicas": 1, "serviceMonitor": True}}
    )
    (release,) = [r for r in run.resources if r.name == "arc-release"]
    metrics = release.inputs["values"]["metrics"]
    assert metrics["serviceMonitor"]["enable"] is True
    # The chart's monitor scrapes through kube-rbac-proxy: it stays on (only its image is set).
    assert "enabled" not in metrics["proxy"]
