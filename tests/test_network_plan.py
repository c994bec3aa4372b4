from __future__ import annotations

import ipaddress

import pytest

from arc_eks.builders.network_plan import plan_subnets


@pytest.mark.parametrize(
    ("cidr", "azs"), [("10.0.0.0/16", 2), ("10.42.0.0/16", 3), ("10.1.0.0/22", 3)]
)
def test_subnets_are_disjoint_inside_the_vpc_and_private_ones_are_larger(
    cidr: str, azs: int
) -> None:
    vpc = ipaddress.IPv4Network(cidr)
    plan = plan_subnets(cidr, azs)
    nets = [ipaddress.IPv4Network(n) for n in (*plan.private, *plan.public)]
    assert len(plan.private) == len(plan.public) == azs
    assert all(n.subnet_of(vpc) for n in nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert min(n.num_addresses for n in nets[:azs]) > max(n.num_addresses for n in nets[azs:])


def test_a_16_gives_18_private_and_20_public() -> None:
    plan = plan_subnets("10.0.0.0/16", 3)
    assert plan.private == ("10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18")
    assert plan.public == ("10.0.192.0/20", "10.0.208.0/20", "10.0.224.0/20")
