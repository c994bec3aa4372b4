"""Run rules outside the engine, on props wrapped exactly the way the engine wraps them.

The analyzer receives a resource's inputs as a protobuf Struct (every number a double, secrets as
signature objects, unknowns as sentinel strings), turns it into a dict with
`json_format.MessageToDict`, unwraps secrets with `pulumi_policy.deserialize.deserialize_properties`
and wraps the tree in `pulumi_policy.proxy.unknown_checking_proxy`. `engine_props` does the same, so
the tests and `arc_eks.review` exercise the rules on what a real `pulumi preview` hands them. Used
by the tests and the offline review only; the pack itself does not import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

# The engine's sentinels for values only the update will know, for tests to plant.
UNKNOWN_SENTINELS = {
    "array": UNKNOWN_ARRAY_VALUE,
    "boolean": UNKNOWN_BOOLEAN_VALUE,
    "number": UNKNOWN_NUMBER_VALUE,
    "object": UNKNOWN_OBJECT_VALUE,
    "string": UNKNOWN_STRING_VALUE,
}

_SIG = "4dabf18193072939515e22adb298388d"
_RESOURCE_REFERENCE = "5cf8f73096256a8f31e491e813e4eb8e"


def _as_analyzers_see(value: Any) -> Any:
    """The engine marshals props for analyzers without resource references (a reference becomes
    the resource's id, or its URN for a component) and without nulls."""
    if isinstance(value, Mapping):
        if value.get(_SIG) == _RESOURCE_REFERENCE:
            return value.get("id") or value.get("urn", "")
        return {k: _as_analyzers_see(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_as_analyzers_see(v) for v in value]
    return value


def wire_properties(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as they cross the gRPC boundary: a Struct, read back with MessageToDict."""
    struct = struct_pb2.Struct()
    struct.update(_as_analyzers_see(inputs))
    wire: dict[str, Any] = json_format.MessageToDict(struct)
    return wire


def engine_props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """What `args.props` is inside a policy: deserialized, secrets unwrapped, unknown-checking."""
    props: Mapping[str, Any] = unknown_checking_proxy(
        deserialize_properties(wire_properties(inputs))
    )
    return props


def _options(protect: bool = False, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None


@dataclass(frozen=True)
class Skipped:
    """A policy the engine would not run on a resource because a value it read is unknown."""

    policy: str
    message: str


Report = list[Violation | Skipped]


def urn_for(typ: str, name: str, stack: str = "test", project: str = "arc-eks") -> str:
    return f"urn:pulumi:{stack}::{project}::{typ}::{name}"


def run_resource_policy(
    policy: ResourceValidationPolicy,
    typ: str,
    name: str,
    props: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    *,
    urn: str | None = None,
    protect: bool = False,
) -> Report:
    """Validate one resource (props already wrapped by `engine_props`) as `Analyze` would."""
    found: Report = []
    urn = urn or urn_for(typ, name)

    def report(message: str, violation_urn: str | None = None) -> None:
        found.append(Violation(policy.name, message, violation_urn or urn))

    args = ResourceValidationArgs(typ, props, urn, name, _options(protect), None, config or {})
    try:
        policy.validate(args, report)
    # pulumi_policy reports this as a diagnostic "can't run policy ... during preview" at the
    # advisory level, never a violation; the review calls it skipped (advisory = an advisory rule's
    # violation, one meaning everywhere).
    except UnknownValueError as exc:
        found.append(Skipped(policy.name, exc.message))
    return found


def violation_messages(
    policy: ResourceValidationPolicy,
    typ: str,
    name: str,
    inputs: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
) -> list[str]:
    """The violation messages of one resource given as plain inputs, wrapped as the engine wraps
    them; a policy that skipped the resource (an unknown value) is an error here."""
    report = run_resource_policy(policy, typ, name, engine_props(inputs), config)
    skipped = [r for r in report if isinstance(r, Skipped)]
    if skipped:
        raise AssertionError(f"{policy.name} skipped {typ} {name!r}: {skipped}")
    return [r.message for r in report if isinstance(r, Violation)]


@dataclass(frozen=True)
class StackEntry:
    """One resource for a stack policy: type, name, urn, wrapped props, parent urn."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    parent: str | None = None


def policy_resources(entries: list[StackEntry]) -> list[PolicyResource]:
    """PolicyResources linked to their parents, as `AnalyzeStack` builds them."""
    by_urn: dict[str, PolicyResource] = {}
    out = []
    for entry in entries:
        resource = PolicyResource(
            entry.type, entry.props, entry.urn, entry.name, _options(), None, None, [], {}
        )
        by_urn[entry.urn] = resource
        out.append(resource)
    for entry, resource in zip(entries, out, strict=True):
        if entry.parent and entry.parent in by_urn:
            resource.parent = by_urn[entry.parent]
    return out


def run_stack_policy(
    policy: StackValidationPolicy,
    resources: list[PolicyResource],
    config: Mapping[str, Any] | None = None,
) -> Report:
    found: Report = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(Violation(policy.name, message, urn))

    try:
        policy.validate(StackValidationArgs(resources, config or {}), report)
    except UnknownValueError as exc:
        found.append(Skipped(policy.name, exc.message))
    return found


ResourceRun = Callable[..., Report]
