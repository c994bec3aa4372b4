"""ActionsRunnerController: the legacy ARC chart (summerwind CRDs), HA, with auth from a
Kubernetes Secret the program creates from Pulumi secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from arc_eks import versions
from arc_eks.builders.helm_values import (
    ARC_AUTH_SECRET_NAME,
    ARC_NAMESPACE,
    ARC_WEBHOOK_SECRET_NAME,
    arc_controller_values,
)
from arc_eks.config.loader import GitHubSecrets
from arc_eks.config.stack import ControllerConfig, GitHubConfig

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
            ),
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=dependencies),
        )
        self.register_outputs({"namespace": self.namespace, "release_status": self.release.status})


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
