"""Pulumi ComponentResources, one public component per module, each with a frozen `*Args` class.

Another Pulumi program can compose them as `arc_eks.program` does:

    from arc_eks.components import Network, NetworkArgs, RunnerCluster, RunnerClusterArgs
"""

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
from arc_eks.components.irsa_service_account import IrsaServiceAccount, IrsaServiceAccountArgs
from arc_eks.components.monitoring import ArcMonitoring, ArcMonitoringArgs
from arc_eks.components.network import Network, NetworkArgs
from arc_eks.components.node_groups import RunnerNodeGroups, RunnerNodeGroupsArgs
from arc_eks.components.runner_pool import RunnerPool, RunnerPoolArgs
from arc_eks.components.runner_team import RunnerTeam, RunnerTeamArgs
from arc_eks.components.scale_set import (
    RunnerScaleSet,
    RunnerScaleSetArgs,
    ScaleSetController,
    ScaleSetControllerArgs,
)

__all__ = [
    "ActionsRunnerController",
    "ActionsRunnerControllerArgs",
    "ArcMonitoring",
    "ArcMonitoringArgs",
    "CertManager",
    "CertManagerArgs",
    "ClusterAutoscaler",
    "ClusterAutoscalerArgs",
    "ClusterHandles",
    "CoreDns",
    "CoreDnsArgs",
    "EbsCsiDriver",
    "EbsCsiDriverArgs",
    "IrsaServiceAccount",
    "IrsaServiceAccountArgs",
    "Network",
    "NetworkArgs",
    "RunnerCluster",
    "RunnerClusterArgs",
    "RunnerNodeGroups",
    "RunnerNodeGroupsArgs",
    "RunnerPool",
    "RunnerPoolArgs",
    "RunnerScaleSet",
    "RunnerScaleSetArgs",
    "RunnerTeam",
    "RunnerTeamArgs",
    "ScaleSetController",
    "ScaleSetControllerArgs",
]
