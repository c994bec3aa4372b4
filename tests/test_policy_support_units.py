"""The helpers every rule reads values with (policies/arc_policies/_support.py): unknown-safe copies
of engine props, path lookup, list/boolean/number/document coercions, message rendering, and the
Rule/StackRule wrappers (types, config defaults, messages, metadata the engine sees).

Props are wrapped as the engine wraps them (`engine_props`: a protobuf Struct read back, secrets
unwrapped, the unknown-checking proxy); the sentinels are written out as pulumi_policy defines them."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.arc_policies._support import (
    UNKNOWN,
    Finding,
    Rule,
    StackResource,
    StackRule,
    as_list,
    as_number,
    get,
    is_false,
    is_true,
    is_unknown,
    iter_statements,
    json_document,
    plain,
    show,
    stack_resources,
)
from policies.arc_policies.testing import (
    StackEntry,
    Violation,
    engine_props,
    policy_resources,
    run_resource_policy,
    run_stack_policy,
    urn_for,
    wire_properties,
)

# pulumi_policy/proxy.py: what the engine sends for a value only the update will know.
SENTINELS = {
    "boolean": "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "number": "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "string": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "array": "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "asset": "030794c1-ac77-496b-92df-f27374a8bd58",
    "archive": "e48ece36-62e2-4504-bad9-02848725956a",
    "object": "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
}
POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"


# --- UNKNOWN and plain ------------------------------------------------------------------------------


def test_unknown_is_one_value_that_survives_copies() -> None:
    assert is_unknown(UNKNOWN)
    assert type(UNKNOWN)() is UNKNOWN
    assert copy.deepcopy({"a": [UNKNOWN]})["a"][0] is UNKNOWN
    assert not is_unknown(None) and not is_unknown(SENTINELS["string"])
    assert repr(UNKNOWN) == "<unknown during preview>"


@pytest.mark.parametrize("kind", sorted(SENTINELS))
def test_every_sentinel_is_unknown_in_plain_and_proxied_props(kind: str) -> None:
    sentinel = SENTINELS[kind]
    assert plain(sentinel) is UNKNOWN
    assert plain({"a": sentinel, "b": [sentinel]}) == {"a": UNKNOWN, "b": [UNKNOWN]}
    # Through the engine's proxy, reading the value raises UnknownValueError.
    assert plain(engine_props({"a": sentinel, "b": [1, sentinel]})) == {
        "a": UNKNOWN,
        "b": [1.0, UNKNOWN],
    }


def test_plain_copies_the_proxied_tree_into_dicts_and_lists() -> None:
    props = engine_props(
        {
            "spec": {"containers": [{"name": "app", "ports": [80]}], "hostNetwork": False},
            "note": "plain text",
            "empty": {},
        }
    )
    out = plain(props)
    assert out == {
        "spec": {"containers": [{"name": "app", "ports": [80.0]}], "hostNetwork": False},
        "note": "plain text",
        "empty": {},
    }
    assert type(out) is dict and type(out["spec"]) is dict
    assert type(out["spec"]["containers"]) is list and type(out["spec"]["containers"][0]) is dict
    assert plain(("a", ("b",))) == ["a", ["b"]]
    assert plain(3.5) == 3.5 and plain(None) is None and plain("x") == "x"


# --- get ---------------------------------------------------------------------------------------------


def test_get_follows_keys_and_indexes() -> None:
    tree = {"a": {"b": [10, {"c": "deep"}]}}
    assert get(tree, "a", "b", 1, "c") == "deep"
    assert get(tree, "a", "b", 0) == 10
    assert get(tree) is tree


@pytest.mark.parametrize(("index", "expected"), [(0, "x"), (2, "z"), (-1, "z"), (-3, "x")])
def test_get_reads_every_index_in_range(index: int, expected: str) -> None:
    assert get(["x", "y", "z"], index) == expected


@pytest.mark.parametrize("index", [3, 4, -4, -5])
def test_get_returns_the_default_out_of_range(index: int) -> None:
    assert get(["x", "y", "z"], index) is None
    assert get(["x", "y", "z"], index, default="none") == "none"


def test_get_returns_the_default_where_absent_or_of_another_shape() -> None:
    assert get({"a": 1}, "b") is None
    assert get({"a": 1}, "b", default=[]) == []
    assert get({"a": 1}, "a", "b", default="d") == "d"  # a scalar has no keys
    assert get({"a": [1]}, "a", "b", default="d") == "d"  # a list has no keys
    assert get({"a": {"0": 1}}, "a", 0, default="d") == "d"  # a dict has no indexes
    assert get(None, "a", default="d") == "d"


def test_get_stops_at_an_unknown() -> None:
    assert get({"a": UNKNOWN}, "a", "b", "c", default="d") is UNKNOWN
    assert get({"a": [UNKNOWN]}, "a", 0, "b") is UNKNOWN
    assert get(UNKNOWN, 0, default="d") is UNKNOWN
    assert get({"a": UNKNOWN}, "a") is UNKNOWN


# --- coercions -----------------------------------------------------------------------------------


def test_as_list() -> None:
    assert as_list(None) == []
    items = ["s3:GetObject", "s3:PutObject"]
    assert as_list(items) is items
    assert as_list("s3:GetObject") == ["s3:GetObject"]
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list(0) == [0] and as_list("") == [""] and as_list(False) == [False]
    assert as_list(UNKNOWN) == [UNKNOWN]


@pytest.mark.parametrize("value", [True, "true", "TRUE", " True "])
def test_is_true_accepts_true_and_the_string(value: Any) -> None:
    assert is_true(value) and not is_false(value)


@pytest.mark.parametrize("value", [False, "false", "FALSE", " False\n"])
def test_is_false_accepts_false_and_the_string(value: Any) -> None:
    assert is_false(value) and not is_true(value)


@pytest.mark.parametrize("value", [None, 1, 0, 1.0, "yes", "no", "", "truex", UNKNOWN, [True]])
def test_neither_true_nor_false(value: Any) -> None:
    assert not is_true(value) and not is_false(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (2.5, 2.5), (0, 0.0), ("7", 7.0), (" 1.5 ", 1.5), ("-2", -2.0), ("1e3", 1000.0)],
)
def test_as_number_reads_numbers_and_numeric_strings(value: Any, expected: float) -> None:
    number = as_number(value)
    assert number == expected and type(number) is float


@pytest.mark.parametrize(
    "value",
    [True, False, None, "ten", "", [1], {"a": 1}, UNKNOWN, "nan", "inf", "-Infinity", float("nan")],
)
def test_as_number_refuses_the_rest(value: Any) -> None:
    assert as_number(value) is None


def test_json_document() -> None:
    document = {"Version": "2012-10-17", "Statement": []}
    assert json_document(json.dumps(document)) == document
    assert json_document(document) is document
    assert json_document("{not json") is None
    assert json_document("") is None
    assert json_document('"text"') == "text"
    assert json_document(None) is None
    assert json_document(UNKNOWN) is UNKNOWN


def test_iter_statements() -> None:
    first, second = {"Sid": "A"}, {"Sid": "B"}
    assert list(iter_statements({"Statement": [first, "junk", second]})) == [
        (0, first),
        (2, second),
    ]
    assert list(iter_statements({"Statement": second})) == [(0, second)]
    assert list(iter_statements({"Statement": []})) == []
    assert list(iter_statements({})) == []
    assert list(iter_statements([first])) == []
    assert list(iter_statements(UNKNOWN)) == []


# --- show ----------------------------------------------------------------------------------------


def test_show_renders_values_as_written() -> None:
    assert show(None) == "(unset)"
    assert show(3.0) == "3" and show(2.5) == "2.5" and show(0.0) == "0"
    assert show("x") == '"x"'
    assert show({"b": 2.0, "a": [1.5, 3.0, (4.0,)]}) == '{"a": [1.5, 3, [4]], "b": 2}'
    assert show([{"n": 1.0}]) == '[{"n": 1}]'
    assert show(True) == "true" and show(False) == "false"
    assert show(UNKNOWN) == '"<unknown during preview>"'


def test_show_shortens_beyond_120_characters() -> None:
    exact = "a" * 118  # 120 with its quotes
    assert show(exact) == json.dumps(exact)
    longer = "b" * 119
    shown = show(longer)
    assert len(shown) == 120 and shown.endswith("...")
    assert shown == json.dumps(longer)[:117] + "..."


# --- Rule ------------------------------------------------------------------------------------------


class Recorder:
    """A check that records what it was given and yields fixed findings."""

    def __init__(self, *findings: Finding) -> None:
        self.findings = findings
        self.calls: list[tuple[str, Any, Mapping[str, Any]]] = []

    def __call__(self, typ: str, props: Any, config: Mapping[str, Any]) -> Iterator[Finding]:
        self.calls.append((typ, props, config))
        yield from self.findings


CONFIG: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "default": 3, "description": "A limit."},
    "names": {"type": "array", "items": {"type": "string"}, "description": "No default."},
}


def resource_rule(check: Any, **kwargs: Any) -> Rule:
    return Rule(
        name="test-rule",
        description="A rule for tests.",
        remediation="do the right thing",
        resource_types=frozenset({POD, DEPLOYMENT}),
        check=check,
        **kwargs,
    )


def test_a_rule_checks_only_its_types_with_plain_props() -> None:
    check = Recorder()
    policy = resource_rule(check).policy()
    props = engine_props({"spec": {"nodeName": SENTINELS["string"], "replicas": 2}})
    assert run_resource_policy(policy, SERVICE, "svc", props) == []
    assert check.calls == []
    assert run_resource_policy(policy, DEPLOYMENT, "app", props) == []
    assert run_resource_policy(policy, POD, "app", props) == []
    assert [c[0] for c in check.calls] == [DEPLOYMENT, POD]
    seen = check.calls[0][1]
    assert seen == {"spec": {"nodeName": UNKNOWN, "replicas": 2.0}}
    assert type(seen) is dict


def test_every_finding_is_reported_with_type_name_path_and_remediation() -> None:
    check = Recorder(Finding("spec.hostPID", "true shares the node"), Finding("spec.x[1]", "bad"))
    report = run_resource_policy(resource_rule(check).policy(), POD, "probe", engine_props({}))
    assert report == [
        Violation(
            "test-rule",
            f"{POD} 'probe': spec.hostPID: true shares the node. Remediation: do the right thing",
            urn_for(POD, "probe"),
        ),
        Violation(
            "test-rule",
            f"{POD} 'probe': spec.x[1]: bad. Remediation: do the right thing",
            urn_for(POD, "probe"),
        ),
    ]


def test_config_defaults_are_merged_under_what_is_given() -> None:
    check = Recorder()
    policy = resource_rule(check, config=CONFIG).policy()
    run_resource_policy(policy, POD, "p", engine_props({}))
    run_resource_policy(policy, POD, "p", engine_props({}), {"limit": 5, "names": ["a", "b"]})
    run_resource_policy(policy, POD, "p", engine_props({}), {"enforcementLevel": "advisory"})
    # As the analyzer's Configure builds it: a Struct read back with MessageToDict.
    engine_config = wire_properties({"enforcementLevel": "advisory", "limit": 4})
    run_resource_policy(policy, POD, "p", engine_props({}), engine_config)
    assert [c[2] for c in check.calls] == [
        {"limit": 3},
        {"limit": 5, "names": ["a", "b"]},
        {"limit": 3},
        {"limit": 4.0},
    ]


def test_config_values_are_plain() -> None:
    check = Recorder()
    policy = resource_rule(check, config=CONFIG).policy()
    given = engine_props({"names": ["a"], "table": {"t": {"n": 1}}})
    run_resource_policy(policy, POD, "p", engine_props({}), given)
    (config,) = [c[2] for c in check.calls]
    assert config == {"limit": 3, "names": ["a"], "table": {"t": {"n": 1.0}}}
    assert type(config["names"]) is list and type(config["table"]) is dict


def test_a_rules_metadata_for_the_engine() -> None:
    policy = resource_rule(Recorder(), config=CONFIG).policy()
    assert isinstance(policy, ResourceValidationPolicy)
    assert policy.name == "test-rule"
    assert policy.description == "A rule for tests."
    assert policy.remediation_steps == "do the right thing"
    assert policy.enforcement_level == EnforcementLevel.MANDATORY
    assert policy.severity == Severity.HIGH
    assert policy.tags == ["arc-eks"]
    assert policy.config_schema is not None
    assert policy.config_schema.properties == CONFIG
    assert resource_rule(Recorder()).policy().config_schema is None
    advisory = resource_rule(
        Recorder(), enforcement_level=EnforcementLevel.ADVISORY, severity=Severity.LOW
    ).policy()
    assert advisory.enforcement_level == EnforcementLevel.ADVISORY
    assert advisory.severity == Severity.LOW


def test_rules_findings_and_resources_are_frozen() -> None:
    finding = Finding("spec", "bad")
    resource = StackResource(POD, "p", urn_for(POD, "p"), {})
    for value, attribute in (
        (finding, "path"),
        (resource, "props"),
        (resource_rule(Recorder()), "name"),
        (StackRule("s", "d", "r", check=lambda resources, config: []), "name"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, attribute, None)
    assert len({finding, Finding("spec", "bad")}) == 1


# --- StackRule -------------------------------------------------------------------------------------


def test_stack_resources_are_plain_with_their_parents_type() -> None:
    component = "eks:index:ManagedNodeGroup"
    child = "aws:eks/nodeGroup:NodeGroup"
    entries = [
        StackEntry(component, "runners", urn_for(component, "runners"), engine_props({"a": 1})),
        StackEntry(
            child,
            "runners-ng",
            urn_for(child, "runners-ng"),
            engine_props({"labels": SENTINELS["object"]}),
            parent=urn_for(component, "runners"),
        ),
    ]
    resources = stack_resources(StackValidationArgs(policy_resources(entries), {}))
    assert resources == [
        StackResource(component, "runners", urn_for(component, "runners"), {"a": 1.0}, None),
        StackResource(
            child, "runners-ng", urn_for(child, "runners-ng"), {"labels": UNKNOWN}, component
        ),
    ]
    assert type(resources[0].props) is dict


def test_a_stack_rule_reports_each_message_on_its_urn_with_config() -> None:
    seen: list[tuple[list[StackResource], Mapping[str, Any]]] = []

    def check(
        resources: list[StackResource], config: Mapping[str, Any]
    ) -> Iterator[tuple[str | None, str]]:
        seen.append((resources, config))
        yield resources[1].urn, "second is wrong"
        yield None, "the stack as a whole is wrong"

    rule = StackRule(
        name="test-stack-rule",
        description="A stack rule for tests.",
        remediation="split them",
        check=check,
        config=CONFIG,
    )
    policy = rule.policy()
    assert isinstance(policy, StackValidationPolicy)
    assert policy.name == "test-stack-rule" and policy.tags == ["arc-eks"]
    assert policy.remediation_steps == "split them"
    assert policy.severity == Severity.HIGH
    assert policy.enforcement_level == EnforcementLevel.MANDATORY
    assert policy.config_schema is not None and policy.config_schema.properties == CONFIG
    entries = [
        StackEntry(POD, name, urn_for(POD, name), engine_props({"n": name})) for name in "ab"
    ]
    report = run_stack_policy(
        policy, policy_resources(entries), {"limit": 7, "enforcementLevel": "advisory"}
    )
    assert report == [
        Violation("test-stack-rule", "second is wrong. Remediation: split them", urn_for(POD, "b")),
        Violation(
            "test-stack-rule", "the stack as a whole is wrong. Remediation: split them", None
        ),
    ]
    ((resources, config),) = seen
    assert [r.props for r in resources] == [{"n": "a"}, {"n": "b"}]
    assert config == {"limit": 7}
    no_config = StackRule("s", "d", "r", check=lambda resources, config: [])
    assert no_config.policy().config_schema is None
