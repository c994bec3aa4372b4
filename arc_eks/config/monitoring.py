"""The stack's `arc-eks:monitoring` settings: how the controllers' and listeners' metrics are
scraped, and the thresholds of the alert rules (arc_eks/builders/monitoring_rules.py,
docs/monitoring.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from arc_eks.config.base import ConfigModel

# A Kubernetes label key (optional DNS-subdomain prefix, then a name of 1-63 characters) and value.
LabelKey = Annotated[
    str,
    Field(
        max_length=253,
        pattern=r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
        description="A Kubernetes label key, e.g. release or app.kubernetes.io/part-of.",
    ),
]
LabelValue = Annotated[
    str,
    Field(
        pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$",
        description="A Kubernetes label value (up to 63 letters, digits, - _ .).",
    ),
]


class AlertThresholds(ConfigModel):
    """When each alert fires (docs/monitoring.md has the runbook of each)."""

    queue_time_p95_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="ArcJobQueueTimeHigh: the 95th percentile of the time a scale-set pool's jobs "
        "wait for a runner, over 15 minutes, above this many seconds (the listener's histogram "
        "buckets end at 3600 s).",
    )
    pending_runner_minutes: int = Field(
        default=10,
        ge=2,
        le=120,
        description="ArcRunnersPending: a pool has had runners that exist but are not yet "
        "registered with GitHub (Pending pods, image pulls, no node) for this many minutes.",
    )
    failed_runners: int = Field(
        default=1,
        ge=1,
        le=100,
        description="ArcRunnersFailed: a scale-set pool has at least this many failed ephemeral "
        "runners (for 5 minutes).",
    )
    pool_at_max_minutes: int = Field(
        default=30,
        ge=5,
        le=720,
        description="ArcPoolAtMaximum: a pool has wanted at least its maximum number of runners "
        "for this many minutes (jobs queue behind it).",
    )
    listener_down_minutes: int = Field(
        default=5,
        ge=1,
        le=60,
        description="ArcListenerDown: a scale-set listener has not been running for this many "
        "minutes (its pool gets no jobs).",
    )
    reconcile_errors_per_10_minutes: int = Field(
        default=5,
        ge=1,
        le=10000,
        description="ArcControllerReconcileErrors: a controller's reconcile errors in 10 minutes "
        "above this count (for 10 minutes).",
    )


class MonitoringConfig(ConfigModel):
    """How ARC is watched: Prometheus Operator objects, the Amazon Managed Service for Prometheus
    managed scraper, or nothing."""

    mode: Literal["none", "prometheusOperator", "ampScraper"] = Field(
        default="none",
        description="none: the controllers expose no metrics. prometheusOperator: the cluster "
        "runs the Prometheus Operator (its monitoring.coreos.com CRDs exist): the stack creates "
        "ServiceMonitor/PodMonitor objects and a PrometheusRule. ampScraper: no Prometheus in "
        "the cluster; the stack creates an Amazon Managed Service for Prometheus workspace, a "
        "managed scraper for this cluster and the alert rules as a rule group namespace.",
    )
    resource_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        max_length=10,
        description="prometheusOperator: labels on the ServiceMonitor, PodMonitors and "
        "PrometheusRule, for your Prometheus's serviceMonitorSelector/podMonitorSelector/"
        "ruleSelector (kube-prometheus-stack selects `release: <its release name>`).",
    )
    scrape_interval_seconds: int = Field(
        default=30,
        ge=30,
        le=300,
        description="How often the metrics are scraped (the managed scraper allows 30 s at least).",
    )
    alerts: AlertThresholds = Field(
        default_factory=AlertThresholds, description="Alert thresholds."
    )
