"""Every rule of the pack, in one list: `policies/__main__.py` and `arc_eks.review` share it."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from . import (
    autoscalers,
    charts,
    cluster,
    helm,
    iam,
    image_cache,
    isolation,
    nodes,
    scale_sets,
    stack,
    workloads,
)
from ._support import Rule, StackRule

PACK_NAME = "arc-eks"
PACK_ENFORCEMENT = EnforcementLevel.MANDATORY

RESOURCE_RULES: tuple[Rule, ...] = (
    *nodes.RULES,
    *cluster.RULES,
    *iam.RULES,
    *workloads.RULES,
    *autoscalers.RULES,
    *helm.RULES,
    *isolation.RULES,
    *scale_sets.RULES,
    *image_cache.RULES,
)
STACK_RULES: tuple[StackRule, ...] = (
    *stack.RULES,
    *isolation.STACK_RULES,
    *charts.STACK_RULES,
    *scale_sets.STACK_RULES,
)
ALL_RULES: tuple[Rule | StackRule, ...] = (*RESOURCE_RULES, *STACK_RULES)


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """The pulumi_policy objects, one per rule (names unique, checked here)."""
    names = [rule.name for rule in ALL_RULES]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate policy names: {sorted(duplicates)}")
    return [rule.policy() for rule in ALL_RULES]
