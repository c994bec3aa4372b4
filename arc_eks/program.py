"""The stack program: load and validate all config once, then compose the components.

`__main__.py` calls `main()`; tests and `make review` call it too, under mocks. No component reads
`pulumi.Config`; every check on config happens here before the first resource is registered.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from arc_eks.access import deployer_problems
from arc_eks.builders.node_groups import plan_runner_node_groups
from arc_eks.builders.registry import ImageCachePlan, image_cache_plan
from arc_eks.builders.storage import encrypted_gp3_storage_class
from arc_eks.components.actions_runner_controller import (
    ActionsRunnerController,
    ActionsRunnerControllerArgs,
)
from arc_eks.components.addons import CoreDns, CoreDnsArgs
from arc_eks.components.cert_manager import CertManager, CertManagerArgs
from arc_eks.components.cluster import RunnerCluster, RunnerClusterArgs
from arc_eks.components.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from arc_eks.components.ebs_csi_driver import EbsCsiDriver, EbsCsiDriverArgs
from arc_eks.components.handles import ClusterHandles
from arc_eks.components.image_cache import ImageCache, ImageCacheArgs
from arc_eks.components.monitoring import ArcMonitoring, ArcMonitoringArgs
from arc_eks.components.network import Network, NetworkArgs
from arc_eks.components.node_groups import RunnerNodeGroups, RunnerNodeGroupsArgs
from arc_eks.components.scale_set import ScaleSetController, ScaleSetControllerArgs
from arc_eks.config.loader import (
    GitHubSecrets,
    load_aws_settings,
    load_stack_config,
    load_stack_context,
)
from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import load_team_pools
from arc_eks.errors import ConfigError, ConfigProblem
from arc_eks.pools import (
    ScaleSetInputs,
    build_runner_pools,
    runner_namespace_problems,
    scale_set_problems,
)

PROJECT_DIR = Path(__file__).resolve().parents[1]


def cluster_name_for(environment: str) -> str:
    """Physical EKS cluster name of an environment."""
    return f"arc-eks-{environment}"


def _image_cache_plan(stack: StackConfig, problems: list[ConfigProblem]) -> ImageCachePlan | None:
    """The stack's ECR pull-through cache (imageCache), from its config and aws: settings; what
    prevents it is added to `problems`."""
    aws_settings = load_aws_settings()
    plan, found = image_cache_plan(
        stack, region=aws_settings.region, account_ids=aws_settings.allowed_account_ids
    )
    problems += found
    return plan


def _image_cache_ready(
    plan: ImageCachePlan | None,
    cluster: RunnerCluster,
    secrets: GitHubSecrets,
    tags: dict[str, str],
) -> list[pulumi.Resource]:
    """The ECR pull-through cache (imageCache): its rules, templates and the node role's import
    permission, which the Kubernetes provider waits for (so before any pod asks for a cached
    image). Nothing when the cache is off."""
    if plan is None:
        return []
    cache = ImageCache(
        "image-cache",
        ImageCacheArgs(
            plan=plan,
            node_role_name=cluster.node_role.name,
            tokens=secrets.registry_tokens,
            tags=tags,
        ),
    )
    return cache.ready


def main(*, project_dir: Path = PROJECT_DIR, teams_dir: Path | None = None) -> None:
    """Build one environment. Raises `ConfigError` (a `pulumi.RunError`) before creating anything
    if the stack config or any team file is invalid."""
    stack, secrets = load_stack_config()
    pools = load_team_pools(
        teams_dir or project_dir / "teams", stack, load_stack_context(stack, project_dir / "stacks")
    )
    # The deploying identity must be a cluster admin (no implicit creator access: see access.py).
    problems = deployer_problems(aws.get_caller_identity().arn, list(stack.cluster.admin_role_arns))
    problems += runner_namespace_problems(pools)
    problems += scale_set_problems(pools)
    cache_plan = _image_cache_plan(stack, problems)
    if problems:
        raise ConfigError(problems)

    cluster_name = cluster_name_for(stack.environment)
    tags = {"arc-eks/environment": stack.environment, "managed-by": "pulumi", **stack.tags}

    network = Network(
        "network", NetworkArgs(config=stack.network, cluster_name=cluster_name, tags=tags)
    )
    cluster = RunnerCluster(
        "cluster",
        RunnerClusterArgs(
            cluster_name=cluster_name,
            cluster=stack.cluster,
            node_group=stack.node_group,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            node_dependencies=network.private_egress,
            tags=tags,
        ),
    )
    # The tainted runner node groups, one per isolation class the pools use.
    runner_nodes = RunnerNodeGroups(
        "runner-nodes",
        RunnerNodeGroupsArgs(
            cluster=cluster.cluster,
            cluster_name=cluster_name,
            kubernetes_version=stack.cluster.kubernetes_version,
            node_role_arn=cluster.node_role.arn,
            launch_template=cluster.launch_template,
            subnet_ids=network.private_subnet_ids,
            instance_type=stack.node_group.instance_type,
            plans=plan_runner_node_groups(
                pools,
                privileged_isolation=stack.runner_nodes.privileged_isolation,
                max_size=stack.runner_nodes.max_size,
            ),
            depends_on=[*cluster.node_role_attachments, *network.private_egress],
            tags=tags,
        ),
    )
    # Every node group of the cluster: everything in-cluster waits for all of them (through the
    # provider), and so do the EKS add-ons whose pods need nodes.
    node_groups: list[pulumi.Resource] = [cluster.node_group, *runner_nodes.node_groups.values()]
    # The ECR pull-through cache (imageCache): its rules, templates and the node role's import
    # permission exist before the provider, so before any pod asks for a cached image.
    k8s_provider = cluster.kubernetes_provider(
        [*node_groups, *_image_cache_ready(cache_plan, cluster, secrets, tags)]
    )
    # Work volumes of `docker: kubernetes` pools (and any PVC) need the EBS CSI driver.
    EbsCsiDriver(
        "ebs-csi-driver",
        EbsCsiDriverArgs(
            cluster_name=cluster_name,
            kubernetes_version=stack.cluster.kubernetes_version,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            depends_on=node_groups,
            tags=tags,
        ),
    )
    # CoreDNS as an EKS add-on, pinned for the minor; its pods need nodes.
    CoreDns(
        "coredns",
        CoreDnsArgs(
            cluster_name=cluster_name,
            kubernetes_version=stack.cluster.kubernetes_version,
            depends_on=node_groups,
            tags=tags,
        ),
    )
    in_cluster = pulumi.ResourceOptions(providers=[k8s_provider])
    autoscaler = ClusterAutoscaler(
        "cluster-autoscaler",
        ClusterAutoscalerArgs(
            cluster_name=cluster_name,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            tags=tags,
            image_cache=cache_plan,
        ),
        opts=in_cluster,
    )
    # The encrypted gp3 class `docker: kubernetes` work volumes use by default.
    storage_class = encrypted_gp3_storage_class()
    k8s.storage.v1.StorageClass(
        "work-volume-storage-class",
        metadata=storage_class["metadata"],
        provisioner=storage_class["provisioner"],
        parameters=storage_class["parameters"],
        volume_binding_mode=storage_class["volumeBindingMode"],
        reclaim_policy=storage_class["reclaimPolicy"],
        allow_volume_expansion=storage_class["allowVolumeExpansion"],
        opts=in_cluster,
    )
    cert_manager = CertManager(
        "cert-manager", CertManagerArgs(image_cache=cache_plan), opts=in_cluster
    )
    controller = ActionsRunnerController(
        "arc",
        ActionsRunnerControllerArgs(
            controller=stack.controller,
            github=stack.github,
            secrets=secrets,
            depends_on=[cert_manager.release],
            kubernetes_container_mode=any(
                p.spec.docker == "kubernetes" and not p.spec.is_scale_set for p in pools
            ),
            cluster_name=cluster_name,
            plain_metrics=stack.monitoring.mode != "none",
            image_cache=cache_plan,
        ),
        opts=in_cluster,
    )

    handles = ClusterHandles(
        cluster_name=cluster_name,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        k8s_provider=k8s_provider,
        region=aws.get_region_output().region,
        account_id=aws.get_caller_identity_output().account_id,
    )
    # The scale-set controller only where a pool needs it; beside the legacy controller.
    scale_sets: ScaleSetInputs | None = None
    scale_set_release: pulumi.Resource | None = None
    if any(p.spec.is_scale_set for p in pools):
        scale_set_controller = ScaleSetController(
            "scale-sets",
            ScaleSetControllerArgs(
                replicas=stack.scale_sets.controller_replicas,
                log_format=stack.controller.log_format,
                image_cache=cache_plan,
            ),
            opts=in_cluster,
        )
        scale_sets = ScaleSetInputs(controller=[scale_set_controller.release], secrets=secrets)
        scale_set_release = scale_set_controller.release

    # Scraping and alert rules (stack `monitoring:`; nothing with mode none).
    monitoring = (
        ArcMonitoring(
            "monitoring",
            ArcMonitoringArgs(
                config=stack.monitoring,
                cluster_name=cluster_name,
                cluster=cluster.cluster,
                private_subnet_ids=network.private_subnet_ids,
                k8s_provider=k8s_provider,
                depends_on=[controller.release],
                scale_set_controller=scale_set_release,
                tags=tags,
            ),
        )
        if stack.monitoring.mode != "none"
        else None
    )

    result = build_runner_pools(
        pools,
        stack=stack,
        cluster=handles,
        depends_on=[controller.release],
        scale_sets=scale_sets,
        image_cache=cache_plan,
    )

    pulumi.export("clusterName", cluster_name)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("privateSubnetIds", network.private_subnet_ids)
    pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
    pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
    pulumi.export("clusterAutoscalerRoleArn", autoscaler.role_arn)
    pulumi.export("controllerNamespace", controller.namespace)
    if controller.webhook_url is not None:
        # Register this URL as the GitHub webhook's payload URL (docs/operations.md).
        pulumi.export("webhookUrl", controller.webhook_url)
        pulumi.export("webhookLoadBalancerHostname", controller.webhook_load_balancer_hostname)
    if monitoring is not None and monitoring.workspace_arn is not None:
        pulumi.export("prometheusWorkspaceArn", monitoring.workspace_arn)
        pulumi.export("prometheusEndpoint", monitoring.prometheus_endpoint)
        pulumi.export("alertTopicArn", monitoring.alert_topic_arn)
    exports = result.exports()
    pulumi.export("runnerPools", exports["pools"])
    # Statements the owners of other accounts' buckets must add to their bucket policies.
    pulumi.export(
        "crossAccountBucketPolicyStatements", exports["crossAccountBucketPolicyStatements"]
    )
