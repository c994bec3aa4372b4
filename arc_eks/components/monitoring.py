"""ArcMonitoring: scraping and alert rules for ARC (stack `monitoring:`, docs/monitoring.md).

prometheusOperator: a ServiceMonitor, two PodMonitors and a PrometheusRule in the cluster (the
cluster's Prometheus Operator must select them: `monitoring.resourceLabels`).
ampScraper: an Amazon Managed Service for Prometheus workspace, a managed scraper reading this
cluster from its private subnets, and the same alert rules as a rule group namespace. The scraper
reaches the Kubernetes API through an EKS access entry that Amazon Managed Service for Prometheus
creates itself when the cluster's authentication mode is API or API_AND_CONFIG_MAP (this program
sets API: components/cluster.py), with the read-only discovery permissions AWS documents
(AMP user guide, "Configuring your Amazon EKS cluster"); a second entry for the same role would be
refused, so the program creates none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from arc_eks.builders.monitoring import (
    alert_topic_policy,
    amp_alert_manager_definition,
    amp_scrape_configuration,
    operator_objects,
)
from arc_eks.builders.monitoring_rules import rule_groups, rules_file_yaml
from arc_eks.config.monitoring import MonitoringConfig

# The name of the rule group namespace in the AMP workspace.
AMP_RULE_NAMESPACE = "arc-eks"


@dataclass(frozen=True)
class ArcMonitoringArgs:
    config: MonitoringConfig
    cluster_name: str
    cluster: pulumi.Resource
    """The EKS cluster (the scraper reads it; looked up after it exists)."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Where the scraper's network interfaces go (at least two Availability Zones)."""
    k8s_provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource] = ()
    """The legacy controller's release: its metrics Service exists after it."""
    scale_set_controller: pulumi.Resource | None = None
    """The scale-set controller's release, when the stack has scale-set pools: the PodMonitors
    go into its namespace, after it."""
    tags: dict[str, str] | None = None


class ArcMonitoring(pulumi.ComponentResource):
    """Nothing at all with mode none."""

    workspace_arn: pulumi.Output[str] | None = None
    prometheus_endpoint: pulumi.Output[str] | None = None
    alert_topic_arn: pulumi.Output[str] | None = None

    def __init__(
        self, name: str, args: ArcMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:monitoring:ArcMonitoring", name, None, opts)
        config = args.config
        groups = rule_groups(config.alerts)
        if config.mode == "prometheusOperator":
            scale_sets = args.scale_set_controller
            for manifest in operator_objects(
                interval_seconds=config.scrape_interval_seconds,
                labels=dict(config.resource_labels),
                groups=groups,
                scale_sets=scale_sets is not None,
            ):
                meta = manifest["metadata"]
                waits = list(args.depends_on)
                if manifest["kind"] == "PodMonitor" and scale_sets is not None:
                    waits.append(scale_sets)
                k8s.apiextensions.CustomResource(
                    f"{name}-{meta['name']}",
                    api_version=manifest["apiVersion"],
                    kind=manifest["kind"],
                    metadata=meta,
                    spec=manifest["spec"],
                    opts=pulumi.ResourceOptions(
                        parent=self, providers=[args.k8s_provider], depends_on=waits
                    ),
                )
        elif config.mode == "ampScraper":
            self._amp(name, args)
        self.register_outputs({})

    def _amp(self, name: str, args: ArcMonitoringArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        workspace = aws.amp.Workspace(
            f"{name}-workspace", alias=args.cluster_name, tags=args.tags, opts=child
        )
        cluster = aws.eks.get_cluster_output(
            name=args.cluster_name,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[args.cluster]),
        )
        aws.amp.Scraper(
            f"{name}-scraper",
            alias=args.cluster_name,
            source=aws.amp.ScraperSourceArgs(
                eks=aws.amp.ScraperSourceEksArgs(
                    cluster_arn=cluster.arn,
                    subnet_ids=args.private_subnet_ids,
                    # The cluster security group: nodes carry it too and it admits its members.
                    security_group_ids=[cluster.vpc_config.cluster_security_group_id],
                )
            ),
            destination=aws.amp.ScraperDestinationArgs(
                amp=aws.amp.ScraperDestinationAmpArgs(workspace_arn=workspace.arn)
            ),
            scrape_configuration=amp_scrape_configuration(
                interval_seconds=args.config.scrape_interval_seconds
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *args.depends_on,
                    *([args.scale_set_controller] if args.scale_set_controller else []),
                ],
            ),
        )
        aws.amp.RuleGroupNamespace(
            f"{name}-rules",
            name=AMP_RULE_NAMESPACE,
            workspace_id=workspace.id,
            data=rules_file_yaml(args.config.alerts),
            tags=args.tags,
            opts=child,
        )
        # Where the workspace sends firing alerts: an SNS topic only this workspace may publish
        # to. Subscribe people or a chat integration to it (docs/monitoring.md).
        topic = aws.sns.Topic(
            f"{name}-alerts", name=f"{args.cluster_name}-alerts", tags=args.tags, opts=child
        )
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        policy = aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, workspace.arn, account_id).apply(
                lambda values: json.dumps(
                    alert_topic_policy(
                        topic_arn=values[0], workspace_arn=values[1], account_id=values[2]
                    )
                )
            ),
            opts=child,
        )
        aws.amp.AlertManagerDefinition(
            f"{name}-alert-manager",
            workspace_id=workspace.id,
            definition=pulumi.Output.all(topic.arn, region).apply(
                lambda values: amp_alert_manager_definition(topic_arn=values[0], region=values[1])
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.workspace_arn = workspace.arn
        self.prometheus_endpoint = workspace.prometheus_endpoint
        self.alert_topic_arn = topic.arn
