"""Every parameter of the scaling model, its default and where the default comes from.

Defaults marked "assumption" are not read from any upstream source: they are typical figures,
stated as such, and meant to be overridden with measurements of your own cluster
(`--param name=value`). docs/scaling-model.md has the same table.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

# Periods the model steps by: 0 would never advance.
_POSITIVE = {"sync_period_seconds", "scan_interval_seconds", "sample_seconds"}

Mode = Literal["auto", "hra", "webhook", "scale-set"]

# On-demand Linux price per hour in USD, eu-west-1 (the region of the shipped stacks), as listed on
# https://aws.amazon.com/ec2/pricing/on-demand/ (assumption: prices change; override with
# `--price t3a.large=0.0752` for another region or a discount).
ON_DEMAND_USD_PER_HOUR: dict[str, float] = {"t3a.large": 0.0816}


@dataclass(frozen=True)
class Params:
    """Model parameters (seconds unless named otherwise)."""

    mode: Mode = "auto"
    """auto: HRA polling, plus webhook scale-up when the stack runs the webhook server
    (controller.webhookServer); hra / webhook force one; scale-set: the gha-runner-scale-set
    listener (desired = min + assigned jobs, capped at max, on every job event)."""

    sync_period_seconds: float | None = None
    """HRA reconcile period. None: the stack's controller.syncPeriod (the controller's
    --sync-period flag; ARC v0.27.6 default 1m)."""

    scale_down_delay_seconds: float | None = None
    """None: each pool's autoscaling.scaleDownDelaySeconds (HRA
    scaleDownDelaySecondsAfterScaleOut; ARC default 600 when unset)."""

    listener_latency_seconds: float = 1.0
    """Scale-set mode: job event to desired-count patch (assumption: long poll, about a second)."""

    image_pull_cold_seconds: float = 45.0
    """Runner image pull on a node that has not pulled it yet (assumption: ~1 GB summerwind
    actions-runner image over the NAT gateway; measure with `kubectl get events`)."""

    image_pull_warm_seconds: float = 2.0
    """Container start when the image is already on the node (assumption)."""

    registration_seconds: float = 15.0
    """Runner process start, `config.sh` registration with GitHub and the first long poll
    (assumption; the dind sidecar's daemon starts in parallel)."""

    scan_interval_seconds: float = 10.0
    """cluster-autoscaler --scan-interval (default 10s, cluster-autoscaler FAQ parameter table)."""

    node_boot_seconds: float = 110.0
    """Scale-up request to a Ready node: EC2 launch, AL2023 boot, nodeadm join, VPC CNI ready
    (assumption: 90-150 s is typical for t3a on EKS)."""

    node_boot_jitter_seconds: float = 20.0
    """Uniform +/- jitter on node_boot_seconds, drawn from the seed (assumption)."""

    scale_down_unneeded_seconds: float = 600.0
    """cluster-autoscaler --scale-down-unneeded-time (default 10m)."""

    scale_down_delay_after_add_seconds: float = 600.0
    """cluster-autoscaler --scale-down-delay-after-add (default 10m)."""

    wait_threshold_seconds: float = 120.0
    """Jobs that waited longer than this are counted in the report."""

    sample_seconds: float = 300.0
    """Time-series sampling step for the plot."""

    seed: int = 0
    """Seed of the only random draw in the model (node boot jitter)."""

    prices: dict[str, float] = field(default_factory=lambda: dict(ON_DEMAND_USD_PER_HOUR))
    """USD per node-hour per instance type (see ON_DEMAND_USD_PER_HOUR)."""

    def with_overrides(self, overrides: dict[str, str]) -> Params:
        """`{"node_boot_seconds": "90"}` -> a copy with that value; unknown names are an error."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        problems = []
        for name, text in overrides.items():
            if name not in fields or name == "prices":
                problems.append(
                    f"unknown model parameter {name!r} (known: {', '.join(sorted(fields))})"
                )
                continue
            try:
                if name == "mode":
                    if text not in ("auto", "hra", "webhook", "scale-set"):
                        raise ValueError("one of auto, hra, webhook, scale-set")
                    changes[name] = text
                elif name == "seed":
                    changes[name] = int(text)
                else:
                    value = float(text)
                    positive = name in _POSITIVE
                    if not math.isfinite(value) or value < 0 or (positive and value == 0):
                        raise ValueError("a number > 0" if positive else "a number >= 0")
                    changes[name] = value
            except ValueError as exc:
                told = str(exc)
                expected = told if told.startswith(("one of", "a number")) else "a number"
                problems.append(f"{name}={text!r}: expected {expected}")
        if problems:
            raise ValueError("; ".join(problems))
        return dataclasses.replace(self, **changes)
