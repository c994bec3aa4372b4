"""HorizontalRunnerAutoscaler (legacy ARC): no unrecoverable scale-to-zero, bounded maxReplicas."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, as_list, as_number, get, show

HRA = "kubernetes:actions.summerwind.dev/v1alpha1:HorizontalRunnerAutoscaler"
PERCENTAGE_RUNNERS_BUSY = "PercentageRunnersBusy"
QUEUED_AND_IN_PROGRESS = "TotalNumberOfQueuedAndInProgressWorkflowRuns"
# Ref: actions-runner-controller api/v1alpha1 (AutoscalingMetricType*): the only two types the
# legacy controller computes replicas for; the HRA CRD's description names the same two.
SUPPORTED_METRICS = [QUEUED_AND_IN_PROGRESS, PERCENTAGE_RUNNERS_BUSY]


def check_zero_with_busy(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    metrics = get(props, "spec", "metrics")
    if metrics is UNKNOWN:
        return
    types = [get(m, "type") for m in as_list(metrics)]
    if PERCENTAGE_RUNNERS_BUSY not in types:
        return
    why = (
        "with PercentageRunnersBusy: at 0 runners no runner is ever busy, so the pool never "
        "scales up again"
    )
    if as_number(get(props, "spec", "minReplicas")) == 0:
        yield Finding("spec.minReplicas", f"0 {why}")
    for index, override in enumerate(as_list(get(props, "spec", "scheduledOverrides"))):
        if as_number(get(override, "minReplicas")) == 0:
            yield Finding(
                f"spec.scheduledOverrides[{index}].minReplicas",
                f"0 (from {show(get(override, 'startTime'))}) {why}",
            )


NO_ZERO_WITH_BUSY = Rule(
    name="arc-hra-no-scale-to-zero-with-percentage-busy",
    description="A HorizontalRunnerAutoscaler with the PercentageRunnersBusy metric keeps at least "
    "one runner (minReplicas, scheduled overrides included): from zero runners the metric can "
    "never trigger a scale-up.",
    remediation="set autoscaling.min (and every schedule's min) to 1 or more, or use the "
    "TotalNumberOfQueuedAndInProgressWorkflowRuns metric / webhook scale-up for scale-to-zero",
    resource_types=frozenset({HRA}),
    check=check_zero_with_busy,
    severity=Severity.HIGH,
)


def check_max_replicas(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    value = get(props, "spec", "maxReplicas")
    if value is UNKNOWN:
        return
    cap = float(config["maxReplicas"])
    number = as_number(value)
    if number is None:
        yield Finding("spec.maxReplicas", f"{show(value)}: set a bound (at most {int(cap)})")
    elif number > cap:
        yield Finding(
            "spec.maxReplicas", f"{int(number)} exceeds this environment's cap of {int(cap)}"
        )


MAX_REPLICAS_CAP = Rule(
    name="arc-hra-max-replicas-cap",
    description="Every HorizontalRunnerAutoscaler sets maxReplicas within the environment's cap, "
    "so one pool cannot take the node group (and the AWS bill) for itself.",
    remediation="lower autoscaling.max in the team file, or ask the platform team to raise the "
    "cap (the largest teams.<team>.maxRunnersPerPool of the stack file)",
    resource_types=frozenset({HRA}),
    check=check_max_replicas,
    config={
        "maxReplicas": {
            "type": "integer",
            "minimum": 1,
            "default": 20,
            "description": "Largest maxReplicas a pool may set in this environment.",
        }
    },
    severity=Severity.MEDIUM,
)


def check_metric_types(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    metrics = get(props, "spec", "metrics")
    if metrics is UNKNOWN:
        return
    for index, metric in enumerate(as_list(metrics)):
        kind = get(metric, "type")
        if kind is UNKNOWN or kind in SUPPORTED_METRICS:
            continue
        yield Finding(
            f"spec.metrics[{index}].type",
            f"{show(kind)} is not a metric the controller knows ({SUPPORTED_METRICS}): the "
            "autoscaler computes no replica count and the pool never scales",
        )


SUPPORTED_METRIC = Rule(
    name="arc-hra-supported-metric-type",
    description="Every HorizontalRunnerAutoscaler metric is one the legacy controller implements "
    "(TotalNumberOfQueuedAndInProgressWorkflowRuns or PercentageRunnersBusy); the CRD accepts any "
    "string, so a misspelt type is only noticed when runners never come.",
    remediation="spell the metric type TotalNumberOfQueuedAndInProgressWorkflowRuns or "
    "PercentageRunnersBusy",
    resource_types=frozenset({HRA}),
    check=check_metric_types,
    severity=Severity.HIGH,
)


def check_can_scale_up(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    spec = get(props, "spec")
    metrics, triggers = get(spec, "metrics"), get(spec, "scaleUpTriggers")
    minimum = get(spec, "minReplicas")
    # Only the zero check needs all three known; a metric's factor and adjustment are read anyway.
    known = UNKNOWN not in (metrics, triggers, minimum)
    if known and not as_list(metrics) and not as_list(triggers) and as_number(minimum) == 0:
        yield Finding(
            "spec.minReplicas",
            "0 with no metric and no scaleUpTriggers: nothing ever adds a runner, so the pool "
            "never runs a job",
        )
    # ARC refuses to compute replicas when a direction has both a factor and an adjustment.
    for index, metric in enumerate(as_list(metrics)):
        for way in ("Up", "Down"):
            factor, adjustment = f"scale{way}Factor", f"scale{way}Adjustment"
            if get(metric, factor) not in (None, UNKNOWN) and get(metric, adjustment) not in (
                None,
                UNKNOWN,
            ):
                yield Finding(
                    f"spec.metrics[{index}].{adjustment}",
                    f"set together with {factor}: the controller refuses the autoscaler and the "
                    "pool stops scaling",
                )


CAN_SCALE_UP = Rule(
    name="arc-hra-can-scale-up",
    description="A HorizontalRunnerAutoscaler can always add runners: a pool at minReplicas 0 has "
    "a metric or webhook scaleUpTriggers, and no metric sets both a factor and an adjustment for "
    "one direction (the controller then computes nothing).",
    remediation="give the pool a metric, or webhook scale-up (metric WebhookOnly where the stack "
    "runs the webhook server), or min >= 1; per direction set scale*Factor or scale*Adjustment",
    resource_types=frozenset({HRA}),
    check=check_can_scale_up,
    severity=Severity.HIGH,
)

RULES = (NO_ZERO_WITH_BUSY, MAX_REPLICAS_CAP, SUPPORTED_METRIC, CAN_SCALE_UP)
