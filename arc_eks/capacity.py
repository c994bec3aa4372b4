"""What one node can hold, so config can refuse pods that would never schedule.

Allocatable = capacity - kube-reserved - system-reserved - eviction threshold, as the EKS AL2023
AMI's nodeadm computes them. Ref: https://docs.aws.amazon.com/eks/latest/userguide/choosing-instance-type.html
and awslabs/amazon-eks-ami (kube-reserved CPU steps: 6% of the first core, 1% of the second,
0.5% of cores 3-4; memory 255Mi + 11Mi per pod; eviction 100Mi).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeCapacity:
    """Allocatable resources of one node of an instance type (EKS AL2023, VPC CNI defaults)."""

    instance_type: str
    vcpus: int
    memory_mib: int
    max_pods: int
    allocatable_cpu_millis: int
    allocatable_memory_mib: int


def _allocatable(instance_type: str, vcpus: int, memory_mib: int, max_pods: int) -> NodeCapacity:
    cpu_reserved = 60 + (10 if vcpus >= 2 else 0) + 5 * max(0, min(vcpus, 4) - 2)
    memory_reserved = 255 + 11 * max_pods + 100
    return NodeCapacity(
        instance_type=instance_type,
        vcpus=vcpus,
        memory_mib=memory_mib,
        max_pods=max_pods,
        allocatable_cpu_millis=vcpus * 1000 - cpu_reserved,
        allocatable_memory_mib=memory_mib - memory_reserved,
    )


# max pods: ENIs x (IPv4 per ENI - 1) + 2 (the VPC CNI's default, no prefix delegation).
# t3a.large: 3 ENIs x 12 IPs -> 35 pods; 2 vCPU. Memory is the kubelet's capacity (MemTotal,
# about 7,859 MiB on an 8 GiB t3a.large, since the kernel keeps some), not the nominal 8 GiB.
NODE_CAPACITY: dict[str, NodeCapacity] = {
    "t3a.large": _allocatable("t3a.large", vcpus=2, memory_mib=7859, max_pods=35),
}

SUPPORTED_INSTANCE_TYPES = tuple(NODE_CAPACITY)
