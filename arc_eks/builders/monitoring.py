"""What scrapes ARC: Prometheus Operator objects (ServiceMonitor for the legacy controller's
metrics Service, PodMonitors for the scale-set controller and listener pods, which their charts
give no Service or monitor), or the equivalent scrape configuration of the Amazon Managed Service
for Prometheus managed scraper. Plain dicts; arc_eks/components/monitoring.py creates them.

Facts these objects rest on (read in the upstream source, never guessed):
- legacy chart actions-runner-controller 0.23.7: the metrics Service
  `<fullname>-metrics-service` (controller.metrics.service.yaml) carries the selector labels
  app.kubernetes.io/name and app.kubernetes.io/instance (both `actions-runner-controller` for
  this program's release) and a port named `metrics-port` (8443); without kube-rbac-proxy the
  manager serves plain HTTP /metrics there (deployment.yaml; helm_values `plain_metrics`).
- chart gha-runner-scale-set-controller 0.14.2 (deployment.yaml): with `metrics` set (the
  program's controller release sets it: builders/scale_set.py), the manager pod has a container
  port named `metrics` and the labels app.kubernetes.io/part-of: gha-rs-controller,
  app.kubernetes.io/component: controller-manager.
- ARC gha-runner-scale-set-0.14.2 controllers/actions.github.com/resourcebuilder.go: listener
  pods run in the controller's namespace with app.kubernetes.io/component:
  runner-scale-set-listener, actions.github.com/scale-set-name and -namespace labels, and a
  container port named `metrics` when the controller has a listener metrics address.
- Every ARC metric carries its own `namespace` label (the pool's): scrapes honour it.
"""

from __future__ import annotations

from typing import Any

import yaml

from arc_eks.builders import scale_set
from arc_eks.builders.helm_values import ARC_NAMESPACE
from arc_eks.builders.monitoring_rules import SCALE_SET_NAME_LABEL, SCALE_SET_NAMESPACE_LABEL

MONITORING_API_VERSION = "monitoring.coreos.com/v1"

# The legacy controller's release and metrics Service (chart 0.23.7, release name as in
# components/actions_runner_controller.py).
LEGACY_RELEASE = "actions-runner-controller"
LEGACY_SELECTOR = {
    "app.kubernetes.io/name": "actions-runner-controller",
    "app.kubernetes.io/instance": LEGACY_RELEASE,
}
LEGACY_METRICS_PORT = "metrics-port"

# The scale-set controller's namespace (its listeners run there too) and metrics port: the
# controller release sets `metrics` (controllerManagerAddr / listenerAddr / listenerEndpoint)
# from these (arc_eks/builders/scale_set.py).
SCALE_SET_CONTROLLER_NAMESPACE = scale_set.SCALE_SET_CONTROLLER_NAMESPACE
SCALE_SET_METRICS_PORT = scale_set.SCALE_SET_METRICS_PORT
SCALE_SET_METRICS_PATH = scale_set.LISTENER_METRICS_ENDPOINT
SCALE_SET_CONTROLLER_SELECTOR = {
    "app.kubernetes.io/part-of": "gha-rs-controller",
    "app.kubernetes.io/component": "controller-manager",
}
LISTENER_SELECTOR = {"app.kubernetes.io/component": "runner-scale-set-listener"}
SCALE_SET_PORT_NAME = "metrics"

# Pod labels of a listener that become labels of its series (the job histograms carry none).
LISTENER_POD_LABELS = {
    SCALE_SET_NAME_LABEL: "actions.github.com/scale-set-name",
    SCALE_SET_NAMESPACE_LABEL: "actions.github.com/scale-set-namespace",
}

# The managed scraper's job counting nodes per node group (the dashboard's node panel): each
# kubelet's `kubelet_node_name` (a gauge of 1 per node), read through the API server's node proxy
# as AWS documents for the managed collector, labelled with the node's managed node group.
NODES_JOB = "arc-eks-nodes"
NODE_GROUP_LABEL = "nodegroup"
EKS_NODE_GROUP_NODE_LABEL = "eks.amazonaws.com/nodegroup"
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

LEGACY_MONITOR = "arc-legacy-controller"
SCALE_SET_CONTROLLER_MONITOR = "arc-scale-set-controller"
LISTENER_MONITOR = "arc-scale-set-listeners"
RULE_NAME = "arc-eks-alerts"


def _meta_label(label: str) -> str:
    """Prometheus's service-discovery name of a pod label (every character not [a-zA-Z0-9_]
    becomes `_`)."""
    return "__meta_kubernetes_pod_label_" + "".join(
        c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in label
    )


def _metadata(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return meta


def legacy_service_monitor(*, interval_seconds: int, labels: dict[str, str]) -> dict[str, Any]:
    """The legacy controller's metrics Service, in its own namespace only."""
    return {
        "apiVersion": MONITORING_API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": _metadata(LEGACY_MONITOR, ARC_NAMESPACE, labels),
        "spec": {
            "selector": {"matchLabels": dict(LEGACY_SELECTOR)},
            "namespaceSelector": {"matchNames": [ARC_NAMESPACE]},
            "endpoints": [
                {
                    "port": LEGACY_METRICS_PORT,
                    "path": "/metrics",
                    "scheme": "http",
                    "interval": f"{interval_seconds}s",
                    "honorLabels": True,
                }
            ],
        },
    }


def _pod_monitor(
    name: str, selector: dict[str, str], *, interval_seconds: int, labels: dict[str, str]
) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "port": SCALE_SET_PORT_NAME,
        "path": SCALE_SET_METRICS_PATH,
        "interval": f"{interval_seconds}s",
        "honorLabels": True,
    }
    return {
        "apiVersion": MONITORING_API_VERSION,
        "kind": "PodMonitor",
        # In the controller's namespace and selecting there only: a job pod in a runner namespace
        # that copies a listener's labels is never scraped (its numbers would reach the alerts).
        "metadata": _metadata(name, SCALE_SET_CONTROLLER_NAMESPACE, labels),
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": [SCALE_SET_CONTROLLER_NAMESPACE]},
            "podMetricsEndpoints": [endpoint],
        },
    }


def scale_set_controller_pod_monitor(
    *, interval_seconds: int, labels: dict[str, str]
) -> dict[str, Any]:
    return _pod_monitor(
        SCALE_SET_CONTROLLER_MONITOR,
        SCALE_SET_CONTROLLER_SELECTOR,
        interval_seconds=interval_seconds,
        labels=labels,
    )


def listener_pod_monitor(*, interval_seconds: int, labels: dict[str, str]) -> dict[str, Any]:
    monitor = _pod_monitor(
        LISTENER_MONITOR, LISTENER_SELECTOR, interval_seconds=interval_seconds, labels=labels
    )
    monitor["spec"]["podMetricsEndpoints"][0]["relabelings"] = [
        {
            "action": "replace",
            "sourceLabels": [_meta_label(pod_label)],
            "targetLabel": target,
        }
        for target, pod_label in LISTENER_POD_LABELS.items()
    ]
    return monitor


def prometheus_rule(groups: list[dict[str, Any]], *, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": MONITORING_API_VERSION,
        "kind": "PrometheusRule",
        "metadata": _metadata(RULE_NAME, ARC_NAMESPACE, labels),
        "spec": {"groups": groups},
    }


def operator_objects(
    *,
    interval_seconds: int,
    labels: dict[str, str],
    groups: list[dict[str, Any]],
    scale_sets: bool = True,
) -> list[dict[str, Any]]:
    """Every Prometheus Operator object of monitoring.mode prometheusOperator. The PodMonitors
    live in the scale-set controller's namespace: only with `scale_sets` (the stack has that
    controller, hence the namespace)."""
    objects = [
        legacy_service_monitor(interval_seconds=interval_seconds, labels=labels),
        prometheus_rule(groups, labels=labels),
    ]
    if scale_sets:
        objects[1:1] = [
            scale_set_controller_pod_monitor(interval_seconds=interval_seconds, labels=labels),
            listener_pod_monitor(interval_seconds=interval_seconds, labels=labels),
        ]
    return objects


def _keep(source_labels: list[str], regex: str) -> dict[str, Any]:
    return {"action": "keep", "source_labels": source_labels, "separator": ";", "regex": regex}


def amp_scrape_configuration(*, interval_seconds: int) -> str:
    """The managed scraper's configuration (Prometheus scrape_config syntax, the subset the AWS
    managed collector accepts: kubernetes_sd_configs, relabel_configs, no authorization needed
    here): the same three targets as the operator objects, the same labels."""
    pod_role = [{"role": "pod", "namespaces": {"names": [SCALE_SET_CONTROLLER_NAMESPACE]}}]

    def pods(job: str, selector: dict[str, str], extra: list[dict[str, Any]]) -> dict[str, Any]:
        keeps = [_keep([_meta_label(k)], v) for k, v in sorted(selector.items())]
        return {
            "job_name": job,
            "honor_labels": True,
            "metrics_path": SCALE_SET_METRICS_PATH,
            "kubernetes_sd_configs": pod_role,
            "relabel_configs": [
                *keeps,
                _keep(["__meta_kubernetes_pod_container_port_name"], SCALE_SET_PORT_NAME),
                *extra,
            ],
        }

    listener_labels = [
        {
            "action": "replace",
            "source_labels": [_meta_label(pod_label)],
            "target_label": target,
        }
        for target, pod_label in LISTENER_POD_LABELS.items()
    ]
    legacy_keeps = [
        _keep([f"__meta_kubernetes_service_label_{k.replace('.', '_').replace('/', '_')}"], v)
        for k, v in sorted(LEGACY_SELECTOR.items())
    ]
    config = {
        "global": {"scrape_interval": f"{interval_seconds}s"},
        "scrape_configs": [
            {
                "job_name": LEGACY_MONITOR,
                "honor_labels": True,
                "kubernetes_sd_configs": [
                    {"role": "endpoints", "namespaces": {"names": [ARC_NAMESPACE]}}
                ],
                "relabel_configs": [
                    *legacy_keeps,
                    _keep(["__meta_kubernetes_endpoint_port_name"], LEGACY_METRICS_PORT),
                ],
            },
            pods(SCALE_SET_CONTROLLER_MONITOR, SCALE_SET_CONTROLLER_SELECTOR, []),
            pods(LISTENER_MONITOR, LISTENER_SELECTOR, listener_labels),
            _nodes_job(),
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def _nodes_job() -> dict[str, Any]:
    """One series per node with its node group; everything else the kubelet exports is dropped
    before it is stored."""
    node_label = "".join(c if c.isalnum() else "_" for c in EKS_NODE_GROUP_NODE_LABEL)
    return {
        "job_name": NODES_JOB,
        "scheme": "https",
        # The only authorization the managed collector accepts (AMP user guide, scraper
        # configuration): its own service account token, for the API server.
        "authorization": {"type": "Bearer", "credentials_file": SERVICE_ACCOUNT_TOKEN},
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {
                "action": "replace",
                "source_labels": [f"__meta_kubernetes_node_label_{node_label}"],
                "target_label": NODE_GROUP_LABEL,
            },
            {
                "action": "replace",
                "target_label": "__address__",
                "replacement": "kubernetes.default.svc:443",
            },
            {
                "action": "replace",
                "source_labels": ["__meta_kubernetes_node_name"],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
                "replacement": "/api/v1/nodes/$1/proxy/metrics",
            },
        ],
        "metric_relabel_configs": [
            {"action": "keep", "source_labels": ["__name__"], "regex": "kubelet_node_name"}
        ],
    }


def amp_alert_manager_definition(*, topic_arn: str, region: str) -> str:
    """The workspace's alert manager definition: every alert to one SNS topic (the only receiver
    Amazon Managed Service for Prometheus supports), grouped per alert and pool. AMP's format: the
    Alertmanager configuration as a string under `alertmanager_config`."""
    config = {
        "route": {
            "receiver": "sns",
            "group_by": ["alertname", "namespace", "name", "scale_set_namespace", "scale_set_name"],
            "group_wait": "1m",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [
            {"name": "sns", "sns_configs": [{"topic_arn": topic_arn, "sigv4": {"region": region}}]}
        ],
    }
    return yaml.dump(
        {"alertmanager_config": yaml.safe_dump(config, sort_keys=False)},
        Dumper=_BlockStrings,
        sort_keys=False,
    )


class _BlockStrings(yaml.SafeDumper):
    """Multi-line strings as YAML literal blocks (readable in the AWS console)."""


_BlockStrings.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def alert_topic_policy(*, topic_arn: str, workspace_arn: str, account_id: str) -> dict[str, Any]:
    """The SNS topic policy letting this workspace, and only it, publish the alerts (AMP user
    guide, 'Giving Amazon Managed Service for Prometheus permission to send alert messages to your
    Amazon SNS topic': source ARN and account conditions against the confused deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowWorkspaceToPublishAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "aps.amazonaws.com"},
                "Action": ["sns:Publish", "sns:GetTopicAttributes"],
                "Resource": topic_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": workspace_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
        ],
    }
