"""CoreDns: the EKS-managed `coredns` add-on, created once nodes exist.

pulumi-eks only creates it with its default node group (skipped here), so without this the cluster
kept the self-managed CoreDNS EKS bootstraps, at the version of the day the cluster was created.
As an EKS add-on it follows the version pinned for the cluster's minor. EKS reports the add-on
ACTIVE only once its pods run, so it waits for the node groups; OVERWRITE on create adopts the
bootstrapped Deployment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from arc_eks import versions

COREDNS_ADDON = "coredns"


@dataclass(frozen=True)
class CoreDnsArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    depends_on: Sequence[pulumi.Resource]
    """Every node group: the add-on's pods need nodes before EKS reports it ACTIVE."""
    placement: Mapping[str, Any] | None = None
    """Add-on configuration values placing its pods (e.g. `nodeSelector` / `tolerations` for a
    system node group); must match the add-on's schema (`aws eks describe-addon-configuration
    --addon-name coredns --addon-version <pin>`). None: EKS's defaults."""
    tags: dict[str, str] = field(default_factory=dict)


class CoreDns(pulumi.ComponentResource):
    """The coredns EKS add-on at the version pinned for the cluster's minor."""

    addon: aws.eks.Addon

    def __init__(
        self, name: str, args: CoreDnsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:addons:CoreDns", name, None, opts)
        if not args.depends_on:
            raise ValueError("CoreDNS needs the node groups to wait for")
        self.addon = aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=COREDNS_ADDON,
            addon_version=versions.pins(args.kubernetes_version).coredns,
            configuration_values=json.dumps(dict(args.placement)) if args.placement else None,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.register_outputs({"addon_version": self.addon.addon_version})
