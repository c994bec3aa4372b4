"""Upgrades: the one Kubernetes pin moves the control plane, the node groups, cluster-autoscaler and
every EKS add-on together; CoreDNS is a managed add-on created after the nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from arc_eks import versions
from arc_eks.components.addons import CoreDns, CoreDnsArgs
from arc_eks.config import stack as stack_config
from arc_eks.review.offline import ArcMocks, ProgramRun, run_program
from tests.program_fixtures import pool, run_fixture, write_teams

NEXT = "1.36"
NEXT_PINS = versions.MinorPins(
    cluster_autoscaler_chart_version="9.99.0-test",
    cluster_autoscaler_image_tag="v1.36.0-test",
    vpc_cni="v1.99.0-test",
    kube_proxy="v1.36.0-test",
    coredns="v1.99.1-test",
    ebs_csi_driver=None,
)


class EchoAddonVersion(ArcMocks):
    """getAddonVersion answers with the Kubernetes version it was asked about."""

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        result, _ = super().call(args)
        if args.token == "aws:eks/getAddonVersion:getAddonVersion":
            result = {**result, "version": f"default-for-{args.args['kubernetesVersion']}"}
        return result, []


@pytest.fixture
def teams(tmp_path: Path) -> Path:
    return write_teams(tmp_path / "teams", {"alpha": [pool("build", "dind")]})


def _versions(run: ProgramRun) -> dict[str, Any]:
    cluster = run.one("eks:index:Cluster").inputs
    addons = {r.inputs["addonName"]: r.inputs for r in run.of_type("aws:eks/addon:Addon")}
    autoscaler = run.one("kubernetes:helm.sh/v3:Release", "cluster-autoscaler-release").inputs
    return {
        "control plane": cluster["version"],
        # Every node group (system and runner groups) on the same pinned version.
        "nodes": ",".join(
            sorted(
                {str(g.inputs.get("version")) for g in run.of_type("eks:index:ManagedNodeGroup")}
            )
        ),
        "vpc-cni": cluster["vpcCniOptions"]["addonVersion"],
        "kube-proxy": cluster["kubeProxyAddonOptions"]["version"],
        "coredns": addons["coredns"]["addonVersion"],
        "aws-ebs-csi-driver": addons["aws-ebs-csi-driver"]["addonVersion"],
        "cluster-autoscaler chart": autoscaler["version"],
        "cluster-autoscaler image": autoscaler["values"]["image"]["tag"],
    }


def test_everything_follows_the_pinned_minor(teams: Path) -> None:
    pins = versions.pins()
    assert _versions(run_fixture(teams, mocks=EchoAddonVersion())) == {
        "control plane": versions.KUBERNETES_VERSION,
        "nodes": versions.KUBERNETES_VERSION,
        "vpc-cni": pins.vpc_cni,
        "kube-proxy": pins.kube_proxy,
        "coredns": pins.coredns,
        "aws-ebs-csi-driver": pins.ebs_csi_driver or f"default-for-{versions.KUBERNETES_VERSION}",
        "cluster-autoscaler chart": pins.cluster_autoscaler_chart_version,
        "cluster-autoscaler image": pins.cluster_autoscaler_image_tag,
    }


def test_a_bump_of_the_one_pin_moves_all_of_them(
    teams: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(versions, "KUBERNETES_VERSION", NEXT)
    monkeypatch.setitem(versions.MINOR_PINS, NEXT, NEXT_PINS)
    # The config model compares against the pin it imported (the field default is baked in).
    monkeypatch.setattr(stack_config, "KUBERNETES_VERSION", NEXT)
    cluster = {
        "publicAccessCidrs": ["203.0.113.0/24"],
        "adminRoleArns": ["arn:aws:iam::111122223333:role/platform-admin"],
        "kubernetesVersion": NEXT,
    }
    moved = _versions(run_fixture(teams, mocks=EchoAddonVersion(), cluster=cluster))
    assert moved == {
        "control plane": NEXT,
        "nodes": NEXT,
        "vpc-cni": NEXT_PINS.vpc_cni,
        "kube-proxy": NEXT_PINS.kube_proxy,
        "coredns": NEXT_PINS.coredns,
        "aws-ebs-csi-driver": f"default-for-{NEXT}",
        "cluster-autoscaler chart": NEXT_PINS.cluster_autoscaler_chart_version,
        "cluster-autoscaler image": NEXT_PINS.cluster_autoscaler_image_tag,
    }


def test_a_minor_without_pins_is_refused_naming_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "KUBERNETES_VERSION", "1.99")
    with pytest.raises(KeyError, match=r"no MINOR_PINS row for Kubernetes 1\.99"):
        versions.pins()


def test_the_autoscaler_minor_is_the_cluster_minor() -> None:
    for minor, pins in versions.MINOR_PINS.items():
        assert pins.cluster_autoscaler_image_tag.startswith(f"v{minor}.")
        assert pins.kube_proxy.startswith(f"v{minor}.")


def test_vpc_cni_enforces_network_policies_and_coredns_is_not_left_to_pulumi_eks(
    teams: Path,
) -> None:
    cluster = run_fixture(teams).one("eks:index:Cluster").inputs
    assert cluster["vpcCniOptions"]["enableNetworkPolicy"] is True
    assert cluster["corednsAddonOptions"]["enabled"] is False


def test_coredns_placement_becomes_its_configuration_values() -> None:
    placement = {
        "nodeSelector": {"arc-eks.io/node-role": "system"},
        "tolerations": [{"key": "arc-eks.io/system", "operator": "Exists"}],
    }

    def program() -> None:
        group = pulumi.CustomResource("aws:eks/nodeGroup:NodeGroup", "system", {})
        CoreDns(
            "coredns",
            CoreDnsArgs(
                cluster_name="arc-eks-dev",
                kubernetes_version=versions.KUBERNETES_VERSION,
                depends_on=[group],
                placement=placement,
            ),
        )

    run = run_program(program, config={}, secret_keys=[], stack="dev")
    addon = run.one("aws:eks/addon:Addon")
    assert json.loads(addon.inputs["configurationValues"]) == placement
    assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    assert run.one("aws:eks/nodeGroup:NodeGroup").urn in addon.dependencies


def test_coredns_without_node_groups_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="node groups"):
        CoreDns("c", CoreDnsArgs(cluster_name="x", kubernetes_version="1.35", depends_on=[]))
