"""Run the policy pack on an offline program run, with an environment's policy config.

The rules are the pack's own `pulumi_policy` policy objects (`policies.arc_policies.registry`),
called as the analyzer calls them: props wrapped by `engine_props` (Struct round trip,
`pulumi_policy`'s deserializer and unknown-checking proxy), each policy's config from
the environment's policy config (generated from its stack file, `policy_config`) merged over its
schema defaults, and enforcement resolved the way the
Pulumi CLI does (a policy's own entry, else `all`, else the policy's default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from arc_eks.review.offline import CapturedResource
from policies.arc_policies import registry
from policies.arc_policies.testing import (
    Report,
    Skipped,
    StackEntry,
    Violation,
    engine_props,
    policy_resources,
    run_resource_policy,
    run_stack_policy,
)

Policy = ResourceValidationPolicy | StackValidationPolicy
LEVELS = [level.value for level in EnforcementLevel]


@dataclass(frozen=True)
class PolicyFinding:
    """One reported violation (or a policy skipped on an unknown value), with its enforcement."""

    policy: str
    level: EnforcementLevel
    message: str
    urn: str | None
    skipped: bool = False


def _level_of(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        level = entry.get("enforcementLevel")
        return level if isinstance(level, str) else None
    return None


def config_problems(config: Mapping[str, Any], policies: list[Policy]) -> list[str]:
    """What is wrong with a policy config file: unknown policies, bad levels, schema violations."""
    by_name = {p.name: p for p in policies}
    problems = []
    for name, entry in config.items():
        level = _level_of(entry)
        if level is not None and level not in LEVELS:
            problems.append(f"{name}: enforcement level {level!r} is not one of {LEVELS}")
        if name == "all":
            if isinstance(entry, dict) and set(entry) - {"enforcementLevel"}:
                problems.append("all: only an enforcement level can be set for every policy")
            continue
        policy = by_name.get(name)
        if policy is None:
            problems.append(f"{name}: no such policy in the pack")
            continue
        if not isinstance(entry, dict):
            continue
        schema = {
            "type": "object",
            "properties": {
                "enforcementLevel": {"type": "string", "enum": LEVELS},
                **(policy.config_schema.properties if policy.config_schema else {}),
            },
            "additionalProperties": False,
        }
        for error in jsonschema.Draft7Validator(schema).iter_errors(entry):
            where = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{name}{'.' + where if where else ''}: {error.message}")
    return problems


def load_policy_config(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a JSON object of policy name -> level or settings")
    return config


def enforcement(policy: Policy, config: Mapping[str, Any]) -> EnforcementLevel:
    """A policy's own entry, else `all`, else the policy's default, else the pack's."""
    for key in (policy.name, "all"):
        level = _level_of(config.get(key))
        if level is not None:
            return EnforcementLevel(level)
    return policy.enforcement_level or registry.PACK_ENFORCEMENT


def settings(policy: Policy, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config one policy receives (its entry without the enforcement level)."""
    entry = config.get(policy.name)
    if not isinstance(entry, dict):
        return {}
    return {k: v for k, v in entry.items() if k != "enforcementLevel"}


def _run_one(
    policy: Policy,
    wrapped: list[tuple[CapturedResource, Mapping[str, Any]]],
    policy_settings: Mapping[str, Any],
    stack_input: list[PolicyResource],
) -> Report:
    if isinstance(policy, ResourceValidationPolicy):
        return [
            report
            for resource, props in wrapped
            for report in run_resource_policy(
                policy, resource.type, resource.name, props, policy_settings, urn=resource.urn
            )
        ]
    return run_stack_policy(policy, stack_input, policy_settings)


def run_policies(
    resources: list[CapturedResource], config: Mapping[str, Any]
) -> tuple[list[Policy], list[PolicyFinding]]:
    """Every enabled rule on every resource (resource rules) and on the stack (stack rules)."""
    policies = registry.build_policies()
    wrapped = [(r, engine_props(r.inputs)) for r in resources]
    findings: list[PolicyFinding] = []
    stack_input = policy_resources(
        [StackEntry(r.type, r.name, r.urn, props, r.parent or None) for r, props in wrapped]
    )
    for policy in policies:
        level = enforcement(policy, config)
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY  # as the engine reports a violation left unfixed
        policy_settings = settings(policy, config)
        try:
            reports = _run_one(policy, wrapped, policy_settings, stack_input)
        except Exception as error:  # a rule bug fails the review, naming the rule, not a traceback
            findings.append(
                PolicyFinding(
                    policy.name, EnforcementLevel.MANDATORY, f"rule failed: {error!r}", None
                )
            )
            continue
        for report in reports:
            if isinstance(report, Violation):
                findings.append(PolicyFinding(policy.name, level, report.message, report.urn))
            elif isinstance(report, Skipped):
                findings.append(
                    PolicyFinding(
                        policy.name, EnforcementLevel.ADVISORY, report.message, None, skipped=True
                    )
                )
    return policies, findings
