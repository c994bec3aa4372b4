"""Network: a new VPC over 2-3 AZs (private node subnets, public subnets with NAT), or an existing one."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from arc_eks.builders.network_plan import plan_subnets
from arc_eks.config.stack import NetworkConfig


@dataclass(frozen=True)
class NetworkArgs:
    config: NetworkConfig
    cluster_name: str
    """Subnets are tagged `kubernetes.io/cluster/<cluster_name>: shared` for EKS load balancers."""
    tags: dict[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """The VPC the cluster runs in."""

    vpc_id: pulumi.Output[str]
    """Id of the VPC (new or existing)."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Subnets for nodes and the control plane's ENIs; egress through NAT."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets for internet-facing load balancers (may be empty for an existing VPC)."""
    private_egress: list[pulumi.Resource]
    """The private subnets' route table associations (their route leads to the NAT gateway):
    nodes wait for them. Empty for an existing VPC, whose routes exist already."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:network:Network", name, None, opts)
        existing = args.config.existing_vpc
        self.private_egress = []
        if existing is not None:
            self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
            self.private_subnet_ids = pulumi.Output.from_input(list(existing.private_subnet_ids))
            self.public_subnet_ids = pulumi.Output.from_input(list(existing.public_subnet_ids))
        else:
            self._create_vpc(name, args)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )

    def _create_vpc(self, name: str, args: NetworkArgs) -> None:
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        plan = plan_subnets(cfg.vpc_cidr, cfg.availability_zone_count)
        # A data source, not an API call: stays testable under mocks.
        # Regular zones only: an account's opted-in Local and Wavelength Zones are "available"
        # too, sort before the region's own (eu-west-1-lhr-1a < eu-west-1a), and cannot host
        # the EKS control plane's network interfaces.
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[
                aws.GetAvailabilityZonesFilterArgs(name="zone-type", values=["availability-zone"])
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cfg.vpc_cidr,
            enable_dns_hostnames=True,  # EKS private endpoint and IRSA need DNS hostnames
            enable_dns_support=True,
            tags={**args.tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**args.tags, "Name": f"{name}-igw"}, opts=child
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**args.tags, "Name": f"{name}-public"},
            opts=child,
        )

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        nat_ids: list[pulumi.Output[str]] = []
        for index in range(cfg.availability_zone_count):
            az = zones.names[index]
            suffix = chr(ord("a") + index)
            public = self._routed_subnet(
                f"{name}-public-{suffix}",
                vpc_id=vpc.id,
                cidr_block=plan.public[index],
                availability_zone=az,
                route_table_id=public_rt.id,
                tags={**args.tags, **cluster_tag, "kubernetes.io/role/elb": "1"},
            )
            public_subnets.append(public)
            if index == 0 or cfg.nat_gateways == "perAz":
                eip = aws.ec2.Eip(
                    f"{name}-nat-{suffix}",
                    domain="vpc",
                    tags={**args.tags, "Name": f"{name}-nat-{suffix}"},
                    opts=child,
                )
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{suffix}",
                    subnet_id=public.id,
                    allocation_id=eip.id,
                    tags={**args.tags, "Name": f"{name}-nat-{suffix}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

            private_rt = aws.ec2.RouteTable(
                f"{name}-private-{suffix}",
                vpc_id=vpc.id,
                routes=[
                    aws.ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nat_ids[min(index, len(nat_ids) - 1)]
                    )
                ],
                tags={**args.tags, "Name": f"{name}-private-{suffix}"},
                opts=child,
            )
            private = self._routed_subnet(
                f"{name}-private-{suffix}",
                vpc_id=vpc.id,
                cidr_block=plan.private[index],
                availability_zone=az,
                route_table_id=private_rt.id,
                tags={**args.tags, **cluster_tag, "kubernetes.io/role/internal-elb": "1"},
            )
            self.private_egress.append(self._last_association)
            private_subnets.append(private)

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])

    def _routed_subnet(
        self,
        name: str,
        *,
        vpc_id: pulumi.Input[str],
        cidr_block: str,
        availability_zone: pulumi.Input[str],
        route_table_id: pulumi.Input[str],
        tags: dict[str, str],
    ) -> aws.ec2.Subnet:
        """A subnet and its route table association (both named `name`)."""
        child = pulumi.ResourceOptions(parent=self)
        subnet = aws.ec2.Subnet(
            name,
            vpc_id=vpc_id,
            cidr_block=cidr_block,
            availability_zone=availability_zone,
            # Nothing here gets a public IP by itself: only NAT gateways and load balancers.
            map_public_ip_on_launch=False,
            tags={**tags, "Name": name},
            opts=child,
        )
        self._last_association = aws.ec2.RouteTableAssociation(
            name, subnet_id=subnet.id, route_table_id=route_table_id, opts=child
        )
        return subnet
