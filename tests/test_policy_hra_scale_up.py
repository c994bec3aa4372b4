"""arc-hra-can-scale-up: a pool that could never get a runner, or that the controller refuses
to scale, is a violation; a webhook-only pool from zero and a fixed-size pool are not."""

from __future__ import annotations

import copy
from typing import Any

from tests.policy_baselines import baseline
from tests.test_policies import run

RULE = "arc-hra-can-scale-up"


def _hra(**spec: Any) -> dict[str, Any]:
    inputs = copy.deepcopy(baseline("hra"))
    for key, value in spec.items():
        if value is None:
            inputs["spec"].pop(key, None)
        else:
            inputs["spec"][key] = value
    return inputs


def test_zero_runners_with_nothing_to_add_one_is_a_violation() -> None:
    (violation,) = run(RULE, "hra", _hra(metrics=None, scaleUpTriggers=None, minReplicas=0))
    assert "spec.minReplicas" in violation.message and "never" in violation.message
    # An empty list is the same as none.
    assert run(RULE, "hra", _hra(metrics=[], scaleUpTriggers=[], minReplicas=0))


def test_webhook_only_from_zero_and_a_fixed_pool_pass() -> None:
    trigger = [{"githubEvent": {"workflowJob": {}}, "duration": "30m"}]
    assert run(RULE, "hra", _hra(metrics=None, scaleUpTriggers=trigger, minReplicas=0)) == []
    assert run(RULE, "hra", _hra(metrics=None, scaleUpTriggers=None, minReplicas=2)) == []
    assert run(RULE, "hra", baseline("hra")) == []


def test_a_factor_and_an_adjustment_together_is_a_violation_in_any_metric() -> None:
    inputs = baseline("hra")
    metric = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns", "repositoryNames": ["a"]}
    busy = dict(inputs["spec"]["metrics"][0])
    busy.update(scaleDownFactor="0.5", scaleDownAdjustment=1)
    (violation,) = run(RULE, "hra", _hra(metrics=[metric, busy]))
    assert "spec.metrics[1].scaleDownAdjustment" in violation.message
    alone = {k: v for k, v in busy.items() if k != "scaleDownFactor"}
    assert run(RULE, "hra", _hra(metrics=[metric, alone])) == []
