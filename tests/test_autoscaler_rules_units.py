"""The HorizontalRunnerAutoscaler rules (policies/arc_policies/autoscalers.py) on hand-built
autoscalers shaped as the program writes them (tests/policy_baselines.py, the ARC CRD
actions.summerwind.dev_horizontalrunnerautoscalers): a violation in a later metric or schedule,
values the engine sends as strings or floats, every boundary, config keys and their schema. Props
are wrapped as the engine wraps them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arc_eks.review import policies as review_policies
from policies.arc_policies import autoscalers, registry
from policies.arc_policies.testing import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_STRING_VALUE,
    violation_messages,
)
from tests.policy_baselines import TYPES, baseline

HRA = TYPES["hra"]
POLICIES = {p.name: p for p in registry.build_policies()}
ZERO = "arc-hra-no-scale-to-zero-with-percentage-busy"
CAP = "arc-hra-max-replicas-cap"
METRIC = "arc-hra-supported-metric-type"
SCALE_UP = "arc-hra-can-scale-up"
QUEUED = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns", "repositoryNames": ["app"]}
BUSY = {
    "type": "PercentageRunnersBusy",
    "scaleUpThreshold": "0.75",
    "scaleDownThreshold": "0.25",
    "scaleUpFactor": "2",
    "scaleDownFactor": "0.5",
}
TRIGGER = [{"githubEvent": {"workflowJob": {}}, "duration": "30m"}]


def run(
    rule: str, inputs: dict[str, Any], config: dict[str, Any] | None = None, typ: str = HRA
) -> list[str]:
    return violation_messages(POLICIES[rule], typ, "pool", inputs, config)


def hra(**spec: Any) -> dict[str, Any]:
    """The baseline autoscaler with `spec` keys set (None: removed)."""
    inputs = copy.deepcopy(baseline("hra"))
    for key, value in spec.items():
        if value is None:
            inputs["spec"].pop(key, None)
        else:
            inputs["spec"][key] = copy.deepcopy(value)
    return inputs


def override(min_replicas: Any, start: str = "2026-01-03T00:00:00+09:00") -> dict[str, Any]:
    return {
        "startTime": start,
        "endTime": "2026-01-05T00:00:00+09:00",
        "recurrenceRule": {"frequency": "Weekly"},
        "minReplicas": min_replicas,
    }


def test_the_rules_read_the_autoscaler_kind_only() -> None:
    for rule in autoscalers.RULES:
        assert rule.resource_types == frozenset({HRA})
        assert rule in registry.RESOURCE_RULES
    broken = hra(minReplicas=0, maxReplicas=500, metrics=[BUSY, {"type": "Nope"}])
    for rule in (ZERO, CAP, METRIC):
        assert run(rule, broken)
        assert run(rule, broken, typ=TYPES["runner_deployment"]) == []


# --- arc-hra-no-scale-to-zero-with-percentage-busy ------------------------------------------------


def test_zero_with_busy_as_a_later_metric_is_a_violation() -> None:
    (message,) = run(ZERO, hra(minReplicas=0, metrics=[QUEUED, BUSY]))
    assert "'pool'" in message and "spec.minReplicas: 0" in message


@pytest.mark.parametrize("zero", [0, 0.0, "0"])
def test_zero_is_read_however_the_engine_sends_it(zero: Any) -> None:
    assert run(ZERO, hra(minReplicas=zero))


@pytest.mark.parametrize("minimum", [1, "1", None])
def test_one_runner_or_the_controller_default_passes(minimum: Any) -> None:
    # Unset: ARC's default minimum of 1.
    assert run(ZERO, hra(minReplicas=minimum)) == []


def test_a_negative_minimum_is_the_controllers_default_of_one() -> None:
    # ARC's HorizontalRunnerAutoscaler controller (computeReplicasWithCache) keeps its default
    # minimum of 1 unless spec.minReplicas is above 0: a negative minimum never means zero.
    assert run(ZERO, hra(minReplicas=-1)) == []
    assert run(SCALE_UP, hra(metrics=None, scaleUpTriggers=None, minReplicas=-1)) == []


def test_zero_without_busy_is_not_this_rules_business() -> None:
    assert run(ZERO, hra(minReplicas=0, metrics=[QUEUED])) == []
    assert run(ZERO, hra(minReplicas=0, metrics=None)) == []


def test_a_schedule_to_zero_in_a_later_override_is_a_violation() -> None:
    schedules = [override(1), override(2), override(0, start="2026-02-01T00:00:00Z")]
    (message,) = run(ZERO, hra(scheduledOverrides=schedules))
    assert "spec.scheduledOverrides[2].minReplicas" in message
    assert "2026-02-01T00:00:00Z" in message
    # Both the pool's own minimum and a schedule: each is named.
    found = run(ZERO, hra(minReplicas=0, scheduledOverrides=[override(0)]))
    assert len(found) == 2
    assert "spec.minReplicas" in found[0]
    assert "spec.scheduledOverrides[0].minReplicas" in found[1]


def test_a_schedule_without_a_minimum_or_above_zero_passes() -> None:
    unset = override(1)
    del unset["minReplicas"]
    assert run(ZERO, hra(scheduledOverrides=[unset, override(3)])) == []


def test_unknown_metrics_are_never_a_zero_violation() -> None:
    assert run(ZERO, hra(minReplicas=0, metrics=UNKNOWN_ARRAY_VALUE)) == []


# --- arc-hra-max-replicas-cap ---------------------------------------------------------------------


def test_the_default_cap_is_twenty_inclusive() -> None:
    assert run(CAP, hra(maxReplicas=20)) == []
    (message,) = run(CAP, hra(maxReplicas=21))
    assert "spec.maxReplicas: 21 exceeds this environment's cap of 20" in message


def test_the_cap_comes_from_the_config() -> None:
    assert run(CAP, hra(maxReplicas=8), {"maxReplicas": 8}) == []
    (message,) = run(CAP, hra(maxReplicas=9), {"maxReplicas": 8})
    assert "9 exceeds this environment's cap of 8" in message
    assert run(CAP, hra(maxReplicas=30), {"maxReplicas": 40}) == []


@pytest.mark.parametrize("value", [None, "lots", True])
def test_no_bound_is_a_violation(value: Any) -> None:
    (message,) = run(CAP, hra(maxReplicas=value))
    assert "spec.maxReplicas" in message and "at most 20" in message


def test_a_bound_sent_as_a_string_is_read() -> None:
    assert run(CAP, hra(maxReplicas="12")) == []
    assert run(CAP, hra(maxReplicas="21"))


def test_an_unknown_bound_is_not_a_violation() -> None:
    assert run(CAP, hra(maxReplicas=UNKNOWN_NUMBER_VALUE)) == []


# --- arc-hra-supported-metric-type ----------------------------------------------------------------


def test_both_supported_metrics_pass() -> None:
    assert run(METRIC, hra(metrics=[QUEUED, BUSY])) == []
    assert run(METRIC, hra(metrics=None)) == []


@pytest.mark.parametrize("bad", ["PercentageRunnersbusy", "", None])
def test_a_misspelt_or_missing_type_in_a_later_metric_is_a_violation(bad: Any) -> None:
    wrong = {"repositoryNames": ["app"]} if bad is None else {**QUEUED, "type": bad}
    (message,) = run(METRIC, hra(metrics=[QUEUED, BUSY, wrong]))
    assert "spec.metrics[2].type" in message and "never scales" in message


def test_an_unknown_type_is_not_a_violation() -> None:
    unknown = {**QUEUED, "type": UNKNOWN_STRING_VALUE}
    assert run(METRIC, hra(metrics=[unknown, QUEUED])) == []
    assert run(METRIC, hra(metrics=UNKNOWN_ARRAY_VALUE)) == []


# --- arc-hra-can-scale-up -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"metrics": [QUEUED], "scaleUpTriggers": None, "minReplicas": 0},
        {"metrics": None, "scaleUpTriggers": TRIGGER, "minReplicas": 0},
        {"metrics": None, "scaleUpTriggers": None, "minReplicas": 1},
        {"metrics": None, "scaleUpTriggers": None, "minReplicas": None},
    ],
)
def test_a_pool_with_any_way_to_a_runner_passes(spec: dict[str, Any]) -> None:
    assert run(SCALE_UP, hra(**spec)) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"metrics": UNKNOWN_ARRAY_VALUE, "scaleUpTriggers": None, "minReplicas": 0},
        {"metrics": None, "scaleUpTriggers": UNKNOWN_ARRAY_VALUE, "minReplicas": 0},
        {"metrics": None, "scaleUpTriggers": None, "minReplicas": UNKNOWN_NUMBER_VALUE},
    ],
)
def test_an_unknown_part_is_never_a_violation(spec: dict[str, Any]) -> None:
    assert run(SCALE_UP, hra(**spec)) == []


@pytest.mark.parametrize("way", ["Up", "Down"])
def test_factor_and_adjustment_together_in_a_later_metric_either_way(way: str) -> None:
    both = {**QUEUED, f"scale{way}Factor": "2", f"scale{way}Adjustment": 1}
    (message,) = run(SCALE_UP, hra(metrics=[BUSY, both]))
    assert f"spec.metrics[1].scale{way}Adjustment" in message
    assert f"scale{way}Factor" in message


def test_factor_or_adjustment_alone_or_in_opposite_directions_passes() -> None:
    mixed = {**QUEUED, "scaleUpFactor": "2", "scaleDownAdjustment": 1}
    adjustments = {**QUEUED, "scaleUpAdjustment": 2, "scaleDownAdjustment": 1}
    assert run(SCALE_UP, hra(metrics=[BUSY, mixed, adjustments])) == []


@pytest.mark.parametrize(
    "unknown",
    [{"minReplicas": UNKNOWN_NUMBER_VALUE}, {"scaleUpTriggers": UNKNOWN_ARRAY_VALUE}],
)
def test_factor_and_adjustment_together_beside_an_unknown_minimum_or_trigger(
    unknown: dict[str, Any],
) -> None:
    both = {**QUEUED, "scaleDownFactor": "0.5", "scaleDownAdjustment": 1}
    (message,) = run(SCALE_UP, hra(metrics=[BUSY, both], **unknown))
    assert "spec.metrics[1].scaleDownAdjustment" in message


def test_an_unknown_factor_or_adjustment_is_not_a_violation() -> None:
    unknown_factor = {**QUEUED, "scaleUpFactor": UNKNOWN_STRING_VALUE, "scaleUpAdjustment": 1}
    unknown_adjustment = {**QUEUED, "scaleUpFactor": "2", "scaleUpAdjustment": UNKNOWN_NUMBER_VALUE}
    assert run(SCALE_UP, hra(metrics=[unknown_factor, unknown_adjustment])) == []


# --- config schema --------------------------------------------------------------------------------


def test_the_cap_config_is_a_whole_number_of_at_least_one() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({CAP: {"maxReplicas": value}}, policies)

    assert problems(1) == [] and problems(50) == []
    assert problems(0) and problems("ten") and problems(2.5)
    assert review_policies.config_problems({CAP: {"maxReplicas": 20, "max": 5}}, policies)


def test_the_cap_config_is_described_for_the_engine() -> None:
    schema = POLICIES[CAP].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["type"] == "integer" and entry["default"] == 20 and entry["minimum"] == 1
    assert entry["description"]
