"""The encrypted gp3 StorageClass: shipped by the program, valid, and the default work volume of
`docker: kubernetes` pools."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate

from arc_eks import versions
from arc_eks.builders.storage import (
    EBS_CSI_PROVISIONER,
    WORK_VOLUME_STORAGE_CLASS,
    encrypted_gp3_storage_class,
)
from tests.program_fixtures import pool, run_fixture, write_teams

STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
RD = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"


def test_the_class_is_encrypted_gp3_on_the_ebs_csi_driver_and_binds_late() -> None:
    manifest = encrypted_gp3_storage_class()
    assert manifest["provisioner"] == EBS_CSI_PROVISIONER == "ebs.csi.aws.com"
    assert manifest["parameters"]["type"] == "gp3"
    assert manifest["parameters"]["encrypted"] == "true"
    assert manifest["volumeBindingMode"] == "WaitForFirstConsumer"
    kubernetes_validate.validate(manifest, f"{versions.KUBERNETES_VERSION}.0", strict=True)


def test_the_program_ships_it_and_kubernetes_pools_use_it_by_default(tmp_path: Path) -> None:
    teams = write_teams(tmp_path / "teams", {"alpha": [pool("pods", "kubernetes")]})
    run = run_fixture(teams)
    shipped = run.one(STORAGE_CLASS).inputs
    expected = encrypted_gp3_storage_class()
    assert shipped["metadata"]["name"] == WORK_VOLUME_STORAGE_CLASS
    assert {k: shipped[k] for k in ("provisioner", "parameters", "volumeBindingMode")} == {
        k: expected[k] for k in ("provisioner", "parameters", "volumeBindingMode")
    }
    (deployment,) = run.of_type(RD)
    claim = deployment.inputs["spec"]["template"]["spec"]["workVolumeClaimTemplate"]
    assert claim["storageClassName"] == WORK_VOLUME_STORAGE_CLASS


def test_a_pool_may_still_name_another_class(tmp_path: Path) -> None:
    own = pool("pods", "kubernetes", workVolume={"storageClassName": "io2-fast", "size": "20Gi"})
    run = run_fixture(write_teams(tmp_path / "teams", {"alpha": [own]}))
    (deployment,) = run.of_type(RD)
    claim = deployment.inputs["spec"]["template"]["spec"]["workVolumeClaimTemplate"]
    assert claim["storageClassName"] == "io2-fast"
