"""Subnet layout of a new VPC: pure arithmetic, tested without Pulumi."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs per AZ index: large private subnets (every runner pod takes a VPC IP), small public ones."""

    private: tuple[str, ...]
    public: tuple[str, ...]


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Private subnets take the first three quarters of the VPC (one quarter each), public subnets
    a sixteenth each from the last quarter. A /16 gives /18 private and /20 public subnets."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    quarters = list(vpc.subnets(prefixlen_diff=2))
    public_blocks = list(quarters[3].subnets(prefixlen_diff=2))
    return SubnetPlan(
        private=tuple(str(n) for n in quarters[:az_count]),
        public=tuple(str(n) for n in public_blocks[:az_count]),
    )
