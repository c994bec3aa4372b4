"""CertManager: the jetstack chart, pinned, CRDs on. ARC's admission webhooks get their
certificates from it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from arc_eks import versions
from arc_eks.builders.helm_values import CERT_MANAGER_NAMESPACE, cert_manager_values
from arc_eks.builders.registry import ImageCachePlan

# How long Helm waits for the release's objects to be ready (three Deployments, the CRDs and the
# start-up API check Job) before the update fails. Nodes exist by then (the provider waits for
# them); the margin covers image pulls on fresh nodes.
RELEASE_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class CertManagerArgs:
    namespace: str = CERT_MANAGER_NAMESPACE
    image_cache: ImageCachePlan | None = None
    """Images through the ECR pull-through cache (None: from quay.io)."""


class CertManager(pulumi.ComponentResource):
    """cert-manager in its own namespace. Kubernetes children use the provider in `opts.providers`."""

    release: k8s.helm.v3.Release
    """The Helm release; ARC's release depends on it."""

    def __init__(
        self,
        name: str,
        args: CertManagerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("arc-eks:addons:CertManager", name, None, opts)
        args = args or CertManagerArgs()
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="cert-manager",
            chart=versions.CERT_MANAGER_CHART,
            version=versions.CERT_MANAGER_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.CERT_MANAGER_REPO),
            namespace=args.namespace,
            create_namespace=True,
            values=cert_manager_values(args.image_cache),
            # Wait for the webhook to be Ready: ARC's chart creates Certificates right after.
            skip_await=False,
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"release_status": self.release.status})
