"""The new VPC's subnets go to the region's regular Availability Zones only: an account's
opted-in Local or Wavelength Zones are "available" too and sort before the regular ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from arc_eks.review.offline import ArcMocks
from tests.program_fixtures import pool, run_fixture, write_teams

ZONES_TOKEN = "aws:index/getAvailabilityZones:getAvailabilityZones"


class LocalZoneAccount(ArcMocks):
    """An account with a Local Zone opted in: DescribeAvailabilityZones lists it unless asked
    for zone-type availability-zone."""

    def __init__(self) -> None:
        super().__init__()
        self.zone_args: list[dict[str, Any]] = []

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token != ZONES_TOKEN:
            return super().call(args)
        self.zone_args.append(dict(args.args))
        regular = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
        wanted = [f for f in args.args.get("filters") or [] if f.get("name") == "zone-type"]
        only_regular = any(f.get("values") == ["availability-zone"] for f in wanted)
        names = regular if only_regular else ["eu-west-1-lhr-1a", *regular]
        return {"names": names, "zoneIds": [f"z{i}" for i in range(len(names))], "id": "x"}, []


def test_subnets_never_land_in_a_local_zone(tmp_path: Path) -> None:
    mocks = LocalZoneAccount()
    run = run_fixture(write_teams(tmp_path / "teams", {"alpha": [pool("build")]}), mocks=mocks)
    assert mocks.zone_args and all(
        {"name": "zone-type", "values": ["availability-zone"]} in a["filters"]
        for a in mocks.zone_args
    )
    zones = {
        r.inputs.get("availabilityZone") for r in run.resources if r.type == "aws:ec2/subnet:Subnet"
    }
    assert zones and zones <= {"eu-west-1a", "eu-west-1b", "eu-west-1c"}
