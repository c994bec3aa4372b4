"""The StorageClass the platform ships for `docker: kubernetes` work volumes: encrypted gp3 through
the EBS CSI driver (the in-tree `gp2` class is neither gp3 nor encrypted unless the account
enforces EBS encryption by default).

Ref: kubernetes-sigs/aws-ebs-csi-driver docs/parameters.md (type, encrypted; kmsKeyId unset: the
account's default EBS key, `aws/ebs` unless changed).
"""

from __future__ import annotations

from typing import Any

WORK_VOLUME_STORAGE_CLASS = "gp3-encrypted"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"


def encrypted_gp3_storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": WORK_VOLUME_STORAGE_CLASS,
            "labels": {"app.kubernetes.io/managed-by": "arc-eks"},
        },
        "provisioner": EBS_CSI_PROVISIONER,
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        # Created in the AZ of the node the runner pod is scheduled to, not before.
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": True,
    }
