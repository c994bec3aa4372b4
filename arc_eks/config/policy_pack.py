"""`arc-eks:policies` in a stack file: how strictly the policy pack enforces its rules in this
environment. The pack's allowlists (instance types, API endpoint CIDRs, S3 buckets, the replica
cap) are not set here: `arc_eks.review.policy_config` derives them from the rest of the stack file,
the one place they are written."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from arc_eks.config.base import ConfigModel

EnforcementLevel = Literal["advisory", "mandatory", "remediate", "disabled"]


class PolicyPackConfig(ConfigModel):
    """Enforcement of the policy pack in this stack (`make review`, `make preview`, `make up`)."""

    enforcement: Literal["advisory", "mandatory"] = Field(
        default="mandatory",
        description="Every rule's level unless `rules` says otherwise: mandatory (a violation "
        "fails the review and stops the deploy) or advisory (reported, never a failure).",
    )
    rules: dict[str, EnforcementLevel | dict[str, Any]] = Field(
        default_factory=dict,
        max_length=100,
        description="Per rule (by name): its level, or an object with `enforcementLevel` and "
        "the rule's settings (docs/policy-and-review.md). Settings the stack file already "
        "states (allowlists, the replica cap) are derived and cannot be set here.",
    )
