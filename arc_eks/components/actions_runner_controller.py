"""ActionsRunnerController: the legacy ARC chart (summerwind CRDs), HA, with auth from a
Kubernetes Secret the program creates from Pulumi secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from arc_eks import versions
from arc_eks.builders.helm_values import (
    ARC_AUTH_SECRET_NAME,
    ARC_NAMESPACE,
    ARC_WEBHOOK_SECRET_NAME,
    arc_controller_values,
)
from arc_eks.builders.registry import ImageCachePlan
from arc_eks.config.loader import GitHubSecrets
from arc_eks.config.stack import ControllerConfig, GitHubConfig

# The chart's webhook server Service for release name "actions-runner-controller" (template
# _github_webhook_server_helpers.tpl: the instance name contains the chart name).
WEBHOOK_SERVICE_NAME = "actions-runner-controller-github-webhook-server"

# How long Helm waits for the release to be ready before the update fails: the controller
# Deployment, its Certificate from cert-manager, and with webhookServer the webhook server and its
# LoadBalancer Service (Helm waits for the NLB to get its address).
RELEASE_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class ActionsRunnerControllerArgs:
    controller: ControllerConfig
    github: GitHubConfig
    secrets: GitHubSecrets
    depends_on: Sequence[pulumi.Resource]
    """cert-manager's release: the chart's Certificate and Issuer need its CRDs and webhook."""
    kubernetes_container_mode: bool = False
    """Some pool uses container mode `kubernetes`; the controller then needs to grant job-pod RBAC."""
    cluster_name: str = ""
    """Physical cluster name: the cloud provider tags the webhook NLB with it."""
    plain_metrics: bool = False
    """Stack monitoring is on: metrics served without kube-rbac-proxy (helm_values)."""
    image_cache: ImageCachePlan | None = None
    """Images through the ECR pull-through cache (None: from their upstream registries)."""


class ActionsRunnerController(pulumi.ComponentResource):
    """The ARC controller in `actions-runner-system`. Kubernetes children use `opts.providers`."""

    namespace: str
    """Namespace of the controller (runner pods never run here)."""
    release: k8s.helm.v3.Release
    """The Helm release; runner pools depend on it (CRDs and the admission webhook)."""

    def __init__(
        self,
        name: str,
        args: ActionsRunnerControllerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("arc-eks:arc:ActionsRunnerController", name, None, opts)
        self.namespace = ARC_NAMESPACE
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ARC_NAMESPACE,
                labels={
                    # The controller needs nothing privileged.
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=child,
        )
        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ARC_AUTH_SECRET_NAME, namespace=ARC_NAMESPACE),
            type="Opaque",
            string_data=_auth_data(args.github, args.secrets),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        dependencies: list[pulumi.Resource] = [*args.depends_on, namespace, auth]
        if args.controller.webhook_server:
            if args.secrets.webhook_secret is None:
                raise ValueError("webhook server enabled without githubWebhookSecret")
            dependencies.append(
                k8s.core.v1.Secret(
                    f"{name}-webhook",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=ARC_WEBHOOK_SECRET_NAME, namespace=ARC_NAMESPACE
                    ),
                    type="Opaque",
                    string_data={"github_webhook_secret_token": args.secrets.webhook_secret},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                )
            )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="actions-runner-controller",
            chart=versions.ARC_CHART,
            version=versions.ARC_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.ARC_REPO),
            namespace=ARC_NAMESPACE,
            values=arc_controller_values(
                replicas=args.controller.replicas,
                sync_period=args.controller.sync_period,
                log_format=args.controller.log_format,
                enterprise_url=args.github.enterprise_url,
                service_monitor=args.controller.service_monitor,
                webhook_server=args.controller.webhook_server,
                webhook_allowed_cidrs=args.controller.webhook_allowed_cidrs,
                webhook_certificate_arn=args.controller.webhook_certificate_arn,
                kubernetes_container_mode=args.kubernetes_container_mode,
                plain_metrics=args.plain_metrics,
                image_cache=args.image_cache,
            ),
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=dependencies),
        )
        self.webhook_url: pulumi.Output[str] | None = None
        self.webhook_load_balancer_hostname: pulumi.Output[str] | None = None
        if args.controller.webhook_server:
            self._webhook_endpoint(name, args)
        self.register_outputs({"namespace": self.namespace, "release_status": self.release.status})

    def _webhook_endpoint(self, name: str, args: ActionsRunnerControllerArgs) -> None:
        """The URL GitHub delivers to: a name the ACM certificate covers, pointed at the NLB the
        cloud provider creates for the chart's LoadBalancer Service (an alias record when the
        stack has the Route 53 zone)."""
        controller = args.controller
        # The NLB exists once the release is ready (Helm waits for the Service's address). The
        # in-tree cloud provider tags it with the Service and the cluster.
        nlb = aws.lb.get_load_balancer_output(
            tags={
                "kubernetes.io/service-name": f"{ARC_NAMESPACE}/{WEBHOOK_SERVICE_NAME}",
                f"kubernetes.io/cluster/{args.cluster_name}": "owned",
            },
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self.release]),
        )
        self.webhook_load_balancer_hostname = nlb.dns_name
        if controller.webhook_hosted_zone_id and controller.webhook_hostname:
            aws.route53.Record(
                f"{name}-webhook-dns",
                zone_id=controller.webhook_hosted_zone_id,
                name=controller.webhook_hostname,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=nlb.dns_name, zone_id=nlb.zone_id, evaluate_target_health=True
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
        if controller.webhook_certificate_arn and controller.webhook_hostname:
            self.webhook_url = pulumi.Output.from_input(f"https://{controller.webhook_hostname}/")
            return
        # Plain HTTP: only accepted in dev (config); say so on every deployment.
        pulumi.log.warn(
            "the ARC webhook server listens on plain HTTP from the internet (no "
            "controller.webhookCertificateArn): tolerated in dev only",
            resource=self,
        )
        host = controller.webhook_hostname
        self.webhook_url = (
            pulumi.Output.from_input(f"http://{host}/")
            if host
            else nlb.dns_name.apply(lambda dns: f"http://{dns}/")
        )


def _auth_data(github: GitHubConfig, secrets: GitHubSecrets) -> dict[str, pulumi.Input[str]]:
    """The Secret keys the chart's deployment reads (github_token, or the three app keys)."""
    if github.auth == "app":
        if (
            secrets.app_private_key is None
            or github.app_id is None
            or github.installation_id is None
        ):
            raise ValueError("GitHub App auth without app id, installation id or private key")
        return {
            "github_app_id": github.app_id,
            "github_app_installation_id": github.installation_id,
            "github_app_private_key": secrets.app_private_key,
        }
    if secrets.token is None:
        raise ValueError("PAT auth without githubToken")
    return {"github_token": secrets.token}
