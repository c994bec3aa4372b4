"""RunnerTeam: a team's runner namespaces, each default-deny, parent of the team's pools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from arc_eks.builders.network_policy import registry_mirror_policy, runner_network_policies
from arc_eks.builders.runner import (
    POOL_LABEL,
    TEAM_LABEL,
    namespace_manifest,
    namespace_name,
    pod_security_level,
    pool_namespace,
)
from arc_eks.config.teams import DockerMode, ResolvedPool


@dataclass(frozen=True)
class RunnerTeamArgs:
    """Inputs of a RunnerTeam."""

    team: str
    pools: Sequence[ResolvedPool]
    """The team's pools in this stack: they decide the namespaces and their Pod Security level."""
    registry_mirror_cidrs: Sequence[str] = ()
    """Private networks of the dind pools' registry mirror (imageCache.dindRegistryMirrorCidrs)."""
    registry_mirror_port: int = 443


class RunnerTeam(pulumi.ComponentResource):
    """The team's namespaces: `runners-<team>` for its dind, none and kaniko pools (Pod Security
    at the level they need), and one namespace per `docker: kubernetes` pool. Every namespace
    gets the default-deny NetworkPolicies of `builders.network_policy`.

    Pass the cluster's Kubernetes provider in `opts.providers`: every pool created with this
    component as parent inherits it.
    """

    namespaces: dict[str, k8s.core.v1.Namespace]
    """Per namespace name."""
    network_policies: dict[str, list[k8s.networking.v1.NetworkPolicy]]
    """Per namespace name: its NetworkPolicies (a pool's runners wait for them)."""

    def __init__(
        self, name: str, args: RunnerTeamArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:runners:RunnerTeam", name, None, opts)
        self.namespaces = {}
        self.network_policies = {}
        shared = [p for p in args.pools if p.spec.docker != DockerMode.KUBERNETES]
        if shared:
            # Resource name unchanged from the one-namespace-per-team layout.
            dind = sorted(p.name for p in shared if p.spec.docker == DockerMode.DIND)
            self._namespace(
                f"{name}-namespace",
                namespace_manifest(args.team, [p.spec.docker for p in shared]),
                api_server_pods=None,
                mirror=(dind, tuple(args.registry_mirror_cidrs), args.registry_mirror_port)
                if dind and args.registry_mirror_cidrs
                else None,
            )
        for pool in args.pools:
            if pool.spec.docker != DockerMode.KUBERNETES:
                continue
            self._namespace(
                f"{pool.key}-namespace",
                namespace_manifest(args.team, [pool.spec.docker], name=pool_namespace(pool)),
                # The runner pods: their container hooks create the job pods through the API.
                api_server_pods={TEAM_LABEL: pool.team, POOL_LABEL: pool.name},
            )
        team_namespace = namespace_name(args.team)
        self.pod_security_level = pod_security_level([p.spec.docker for p in shared])
        self.register_outputs(
            {
                "namespaces": sorted(self.namespaces),
                "podSecurityLevel": self.pod_security_level
                if team_namespace in self.namespaces
                else None,
            }
        )

    def _namespace(
        self,
        resource_name: str,
        manifest: dict,
        *,
        api_server_pods: dict[str, str] | None,
        mirror: tuple[list[str], tuple[str, ...], int] | None = None,
    ) -> None:
        namespace_name_ = manifest["metadata"]["name"]
        policies = runner_network_policies(namespace_name_, api_server_pods=api_server_pods)
        if mirror is not None:
            pools, cidrs, port = mirror
            policies.append(registry_mirror_policy(namespace_name_, pools, cidrs, port))
        namespace = k8s.core.v1.Namespace(
            resource_name,
            metadata=manifest["metadata"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespaces[namespace_name_] = namespace
        self.network_policies[namespace_name_] = [
            k8s.networking.v1.NetworkPolicy(
                f"{resource_name}-{policy['metadata']['name']}",
                metadata=policy["metadata"],
                spec=policy["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )
            for policy in policies
        ]

    def namespace_for(self, pool: ResolvedPool) -> k8s.core.v1.Namespace:
        return self.namespaces[pool_namespace(pool)]

    def isolation_for(self, pool: ResolvedPool) -> list[pulumi.Resource]:
        """What a pool's runners wait for: their namespace and its NetworkPolicies (no runner pod
        may start before default-deny is in place)."""
        namespace = pool_namespace(pool)
        return [self.namespaces[namespace], *self.network_policies[namespace]]
