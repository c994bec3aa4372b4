"""RunnerTeam: a team's namespace, parent of the team's pools (and their k8s provider)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from arc_eks.builders.runner import namespace_manifest, pod_security_level
from arc_eks.config.teams import DockerMode


@dataclass(frozen=True)
class RunnerTeamArgs:
    """Inputs of a RunnerTeam."""

    team: str
    modes: Sequence[DockerMode]
    """Docker modes of the team's pools in this stack: they set the Pod Security level."""


class RunnerTeam(pulumi.ComponentResource):
    """The team's Namespace, labelled for Pod Security admission at the level its pools need.

    Pass the cluster's Kubernetes provider in `opts.providers`: every pool created with this
    component as parent inherits it.
    """

    namespace: pulumi.Output[str]
    pod_security_level: str
    """`privileged` when any pool uses dind, else `baseline`."""

    def __init__(
        self, name: str, args: RunnerTeamArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:runners:RunnerTeam", name, None, opts)
        manifest = namespace_manifest(args.team, args.modes)
        self.pod_security_level = pod_security_level(args.modes)
        self.namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=manifest["metadata"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = self.namespace_resource.metadata.apply(lambda m: m["name"])
        self.register_outputs(
            {"namespace": self.namespace, "podSecurityLevel": self.pod_security_level}
        )
