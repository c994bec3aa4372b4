"""What every rule shares: unknown-safe reading of props, config with defaults, messages.

Props reach a policy the way the engine sends them: camelCase keys, every number a float, secrets
unwrapped, and the whole tree wrapped in `pulumi_policy`'s unknown-checking proxy (a `Mapping` /
`Sequence`, not a dict / list), which raises `UnknownValueError` when a value that only the update
will know is read during preview. `plain()` copies that tree into plain Python with such values
replaced by `UNKNOWN`, so a rule decides explicitly: an unknown value is never a violation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as _proxy

_UNKNOWN_SENTINELS = frozenset(
    {
        _proxy.UNKNOWN_BOOLEAN_VALUE,
        _proxy.UNKNOWN_NUMBER_VALUE,
        _proxy.UNKNOWN_STRING_VALUE,
        _proxy.UNKNOWN_ARRAY_VALUE,
        _proxy.UNKNOWN_ASSET_VALUE,
        _proxy.UNKNOWN_ARCHIVE_VALUE,
        _proxy.UNKNOWN_OBJECT_VALUE,
    }
)


class _Unknown:
    """A value only the update will know (an output of a resource not yet created)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def _read(container: Any, key: Any) -> Any:
    try:
        value = container[key]
    except _proxy.UnknownValueError:
        return UNKNOWN
    if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
        return UNKNOWN
    return value


def plain(value: Any) -> Any:
    """A plain copy of (proxied) props: dicts, lists, scalars, and `UNKNOWN` where unknown."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {key: plain(_read(value, key)) for key in list(iter(value))}
    if isinstance(value, Sequence):
        return [plain(_read(value, i)) for i in range(len(value))]
    return value


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]...` on plain props; `default` where absent, `UNKNOWN` where unknown."""
    current = obj
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(current, list) or not -len(current) <= key < len(current):
                return default
            current = current[key]
        else:
            if not isinstance(current, dict) or key not in current:
                return default
            current = current[key]
    return current


def as_list(value: Any) -> list[Any]:
    """A list for list-or-single fields (IAM `Action`, `Resource`); [] for None."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def is_true(value: Any) -> bool:
    """Booleans as providers accept them: True or the string "true" (LaunchTemplate ebs.encrypted)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def as_number(value: Any) -> float | None:
    """The engine sends every number as a float; strings of digits are accepted too. Not a
    number (None): anything else, and NaN or infinity, which every comparison would pass."""
    if isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    return number if number is not None and math.isfinite(number) else None


def json_document(value: Any) -> Any:
    """An IAM policy document given as a JSON string or an object; None if neither."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _integral(value: Any) -> Any:
    """Whole numbers as written: the engine sends every number as a float (3.0 -> 3)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_integral(v) for v in value]
    return value


def show(value: Any) -> str:
    """A short rendering of a value for a message."""
    if value is None:
        return "(unset)"
    text = json.dumps(_integral(value), default=repr, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


# --- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One violation: the property path inside the resource's inputs and what is wrong with it."""

    path: str
    problem: str


Check = Callable[[str, dict[str, Any], Mapping[str, Any]], Iterable[Finding]]


@dataclass(frozen=True)
class StackResource:
    """A resource as a stack rule reads it: plain props, and its parent's type when known."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    parent_type: str | None = None


StackCheck = Callable[[list[StackResource], Mapping[str, Any]], Iterable[tuple[str | None, str]]]


def _with_defaults(schema: Mapping[str, Mapping[str, Any]], given: Mapping[str, Any]) -> dict:
    merged = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    merged.update({k: plain(_read(given, k)) for k in list(iter(given)) if k != "enforcementLevel"})
    return merged


def _policy_metadata(rule: Rule | StackRule) -> dict[str, Any]:
    """What a resource and a stack rule tell the engine alike: name, text, levels, config schema."""
    schema = (
        PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()})
        if rule.config
        else None
    )
    return {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": rule.enforcement_level,
        "config_schema": schema,
        "severity": rule.severity,
        "remediation_steps": rule.remediation,
        "tags": ["arc-eks"],
    }


@dataclass(frozen=True)
class Rule:
    """One resource rule: its metadata, the types it reads, and a check yielding findings."""

    name: str
    description: str
    remediation: str
    resource_types: frozenset[str]
    check: Check
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY
    severity: Severity = Severity.HIGH

    def validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in self.resource_types:
            return
        props = plain(args.props)
        config = _with_defaults(self.config, args.get_config() or {})
        for finding in self.check(args.resource_type, props, config):
            report_violation(
                f"{args.resource_type} '{args.name}': {finding.path}: {finding.problem}. "
                f"Remediation: {self.remediation}",
                None,
            )

    def policy(self) -> ResourceValidationPolicy:
        return ResourceValidationPolicy(validate=self.validate, **_policy_metadata(self))


def stack_resources(args: StackValidationArgs) -> list[StackResource]:
    out = []
    for resource in args.resources:
        parent = getattr(resource, "parent", None)
        out.append(
            StackResource(
                type=resource.resource_type,
                name=resource.name,
                urn=resource.urn,
                props=plain(resource.props),
                parent_type=parent.resource_type if parent is not None else None,
            )
        )
    return out


@dataclass(frozen=True)
class StackRule:
    """One stack rule: sees every resource at once (relations between resources)."""

    name: str
    description: str
    remediation: str
    check: StackCheck
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY
    severity: Severity = Severity.HIGH

    def validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = _with_defaults(self.config, args.get_config() or {})
        for urn, message in self.check(stack_resources(args), config):
            report_violation(f"{message}. Remediation: {self.remediation}", urn)

    def policy(self) -> StackValidationPolicy:
        return StackValidationPolicy(validate=self.validate, **_policy_metadata(self))


def iter_statements(document: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, statement) of an IAM policy document (`Statement` may be one object or a list)."""
    for index, statement in enumerate(as_list(get(document, "Statement"))):
        if isinstance(statement, dict):
            yield index, statement
