"""The Helm release rules (policies/arc_policies/helm.py) on hand-built releases shaped as the
program writes them (tests/policy_baselines.py) and with the ARC chart's own value keys
(actions-runner-controller 0.23.7 values.yaml: authSecret, githubWebhookServer.secret,
actionsMetricsServer.secret, image.*RepositoryAndTag): both release kinds, a credential in a later
block or list item, every exact-version form and every range form, config keys. Props are wrapped
as the engine wraps them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from arc_eks.review import policies as review_policies
from policies.arc_policies import helm, registry
from policies.arc_policies.testing import (
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    violation_messages,
)
from tests.policy_baselines import baseline

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
POLICIES = {p.name: p for p in registry.build_policies()}
VERSION = "kubernetes-helm-chart-version-pinned"
CREDENTIALS = "arc-helm-no-auth-token-in-values"
DEFAULTS = "arc-helm-runner-default-images-pinned"
PINNED_RUNNER = "summerwind/actions-runner:v2.335.1-ubuntu-22.04"
PINNED_DIND = "docker:28.0.4-dind"


def run(
    rule: str, inputs: dict[str, Any], typ: str = RELEASE, config: dict[str, Any] | None = None
) -> list[str]:
    return violation_messages(POLICIES[rule], typ, "arc", inputs, config)


def release(**changes: Any) -> dict[str, Any]:
    """The ARC release baseline with top-level inputs set (None: removed)."""
    inputs = copy.deepcopy(baseline("arc_release"))
    for key, value in changes.items():
        if value is None:
            inputs.pop(key, None)
        else:
            inputs[key] = copy.deepcopy(value)
    return inputs


def with_values(**values: Any) -> dict[str, Any]:
    inputs = release()
    inputs["values"].update(copy.deepcopy(values))
    return inputs


def test_every_rule_reads_both_release_kinds_and_nothing_else() -> None:
    for rule in helm.RULES:
        assert rule.resource_types == frozenset({RELEASE, CHART_V4})
        assert rule in registry.RESOURCE_RULES
    broken = release(version="^0.23.0")
    broken["values"]["authSecret"]["github_token"] = "ghp_x"
    broken["values"]["image"] = {}
    for rule in (VERSION, CREDENTIALS, DEFAULTS):
        assert run(rule, broken) and run(rule, broken, typ=CHART_V4)
        assert run(rule, broken, typ="kubernetes:apps/v1:Deployment") == []
        assert run(rule, release()) == [] and run(rule, release(), typ=CHART_V4) == []


# --- kubernetes-helm-chart-version-pinned ---------------------------------------------------------


@pytest.mark.parametrize("version", ["0.23.7", "v0.23.7", "1.2.3-rc.1", "1.2.3+build.5", "10.0.0"])
def test_exact_versions_pass(version: str) -> None:
    assert run(VERSION, release(version=version)) == []


@pytest.mark.parametrize(
    "version", ["^0.23.0", "~0.23", "0.23", "0.23.x", "1.2.3 - 1.4.5", "1.2.3 || 2.0.0", "x1.2.3"]
)
def test_ranges_are_a_violation(version: str) -> None:
    (message,) = run(VERSION, release(version=version))
    assert "'arc': version:" in message and "range" in message


@pytest.mark.parametrize("version", [None, "", "  ", 0.23])
def test_no_version_is_a_violation(version: Any) -> None:
    (message,) = run(VERSION, release(version=version))
    assert "version: unset for chart" in message and "actions-runner-controller" in message


def test_a_release_without_a_chart_still_needs_a_version() -> None:
    assert run(VERSION, release(chart=None, version=None))


@pytest.mark.parametrize("chart", ["./charts/tool", "../charts/tool", "/srv/charts/tool"])
def test_a_local_chart_needs_no_version(chart: str) -> None:
    assert run(VERSION, release(chart=chart, version=None)) == []


def test_a_chart_named_like_a_path_but_remote_needs_one() -> None:
    assert run(VERSION, release(chart="charts/tool", version=None))
    assert run(VERSION, release(chart="oci://registry.example.com/charts/tool", version=None))


def test_unknown_chart_or_version_is_not_a_violation() -> None:
    assert run(VERSION, release(version=UNKNOWN_STRING_VALUE)) == []
    assert run(VERSION, release(chart=UNKNOWN_STRING_VALUE, version="^1")) == []


# --- arc-helm-no-auth-token-in-values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ("authSecret", "github_token"),
        ("authSecret", "github_app_private_key"),
        ("authSecret", "github_basicauth_password"),
        ("githubWebhookServer.secret", "github_webhook_secret_token"),
        ("actionsMetricsServer.secret", "github_webhook_secret_token"),
        ("actionsMetricsServer.secret", "github_token"),
    ],
)
def test_every_credential_key_in_every_chart_block_is_a_violation(block: str, key: str) -> None:
    inputs = release()
    node = inputs["values"]
    for part in block.split("."):
        node = node.setdefault(part, {})
    node.update({"enabled": True, "create": False, key: "s3cr3t-value"})
    (message,) = run(CREDENTIALS, inputs)
    assert f"values.{block}.{key}:" in message
    assert "s3cr3t-value" not in message


def test_a_credential_in_a_later_list_item_is_found() -> None:
    inputs = with_values(
        extraEnv=[{"name": "A", "value": "1"}, {"name": "B", "github_app_private_key": "-----"}]
    )
    (message,) = run(CREDENTIALS, inputs)
    assert "values.extraEnv[1].github_app_private_key" in message


@pytest.mark.parametrize("empty", ["", {}, []])
def test_an_empty_credential_key_is_not_a_violation(empty: Any) -> None:
    inputs = with_values(githubWebhookServer={"secret": {"github_webhook_secret_token": empty}})
    assert run(CREDENTIALS, inputs) == []


def test_an_unknown_credential_is_not_a_violation() -> None:
    inputs = with_values(authSecret={"create": False, "github_token": UNKNOWN_STRING_VALUE})
    assert run(CREDENTIALS, inputs) == []


def test_a_credential_after_an_unknown_value_is_found() -> None:
    inputs = with_values(
        authSecret={"create": False, "name": UNKNOWN_STRING_VALUE, "github_token": "ghp_x"}
    )
    (message,) = run(CREDENTIALS, inputs)
    assert "values.authSecret.github_token" in message


def test_a_credential_outside_the_secret_blocks_after_an_unknown_value_is_found() -> None:
    # In a list: the engine does not keep the order of an object's keys.
    inputs = with_values(runner=[{"env": UNKNOWN_OBJECT_VALUE}, {"github_token": "ghp_x"}])
    (message,) = run(CREDENTIALS, inputs)
    assert "values.runner[1].github_token" in message


@pytest.mark.parametrize(
    "block", ["authSecret", "githubWebhookServer.secret", "actionsMetricsServer.secret"]
)
@pytest.mark.parametrize("create", [True, "true"])
def test_a_chart_built_credential_secret_is_a_violation(block: str, create: Any) -> None:
    inputs = release()
    node = inputs["values"]
    for part in block.split("."):
        node = node.setdefault(part, {})
    node["create"] = create
    (message,) = run(CREDENTIALS, inputs)
    assert f"values.{block}.create:" in message


def test_a_referenced_secret_passes_in_every_block() -> None:
    inputs = with_values(
        githubWebhookServer={"enabled": True, "secret": {"enabled": True, "create": False}},
        actionsMetricsServer={"enabled": True, "secret": {"enabled": True, "create": "false"}},
    )
    assert run(CREDENTIALS, inputs) == []


def test_the_credential_keys_come_from_the_config() -> None:
    inputs = with_values(authSecret={"create": False, "github_token": "ghp_x", "vault_key": "k"})
    (message,) = run(CREDENTIALS, inputs, config={"credentialKeys": ["vault_key"]})
    assert "values.authSecret.vault_key" in message


def test_values_that_are_not_an_object_are_not_read() -> None:
    assert run(CREDENTIALS, release(values=UNKNOWN_OBJECT_VALUE)) == []
    assert run(CREDENTIALS, release(values=None)) == []


# --- arc-helm-runner-default-images-pinned --------------------------------------------------------


def test_both_defaults_unset_name_the_chart_defaults() -> None:
    found = run(DEFAULTS, with_values(image={}))
    assert len(found) == 2
    assert "values.image.actionsRunnerRepositoryAndTag" in found[0]
    assert "summerwind/actions-runner:latest" in found[0]
    assert "values.image.dindSidecarRepositoryAndTag" in found[1]
    assert "docker:dind" in found[1]
    # The message says what is wrong with the default, then where it is used.
    assert (
        "unset (chart default summerwind/actions-runner:latest): tag latest moves under you; "
        "runners that do not name an image" in found[0]
    )
    assert (
        "unset (chart default docker:dind): tag 'dind' names no version and moves like latest; "
        in found[1]
    )
    assert len(run(DEFAULTS, release(values={"replicaCount": 2}))) == 2


@pytest.mark.parametrize("bad", ["docker:dind", " docker:dind ", "docker", "docker:latest", ""])
def test_an_unpinned_dind_default_after_a_pinned_runner_is_a_violation(bad: str) -> None:
    (message,) = run(
        DEFAULTS,
        with_values(
            image={
                "actionsRunnerRepositoryAndTag": PINNED_RUNNER,
                "dindSidecarRepositoryAndTag": bad,
            }
        ),
    )
    assert "values.image.dindSidecarRepositoryAndTag" in message
    assert f"{json.dumps(bad)}:" in message and "unset" not in message


def test_an_unknown_first_default_still_checks_the_second() -> None:
    image = {
        "actionsRunnerRepositoryAndTag": UNKNOWN_STRING_VALUE,
        "dindSidecarRepositoryAndTag": "docker",
    }
    (message,) = run(DEFAULTS, with_values(image=image))
    assert "dindSidecarRepositoryAndTag" in message
    image["dindSidecarRepositoryAndTag"] = UNKNOWN_STRING_VALUE
    assert run(DEFAULTS, with_values(image=image)) == []


def test_digests_and_tags_pass() -> None:
    image = {
        "actionsRunnerRepositoryAndTag": "summerwind/actions-runner@sha256:" + "a" * 64,
        "dindSidecarRepositoryAndTag": PINNED_DIND,
    }
    assert run(DEFAULTS, with_values(image=image)) == []


@pytest.mark.parametrize(
    "chart",
    [
        "actions-runner-controller",
        "actions-runner-controller/actions-runner-controller",
        "oci://registry.example.com/charts/actions-runner-controller/",
    ],
)
def test_the_arc_chart_however_it_is_named(chart: str) -> None:
    assert len(run(DEFAULTS, release(chart=chart, values={}))) == 2


@pytest.mark.parametrize("chart", ["gha-runner-scale-set-controller", "cert-manager", None])
def test_other_charts_have_no_runner_defaults(chart: Any) -> None:
    assert run(DEFAULTS, release(chart=chart, values={})) == []


# --- config schema --------------------------------------------------------------------------------


def test_the_credential_keys_config_is_a_list_of_strings() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({CREDENTIALS: {"credentialKeys": value}}, policies)

    assert problems(["vault_key"]) == [] and problems([]) == []
    assert problems("github_token") and problems([1])
    schema = POLICIES[CREDENTIALS].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["description"] and entry["type"] == "array"
    assert set(entry["default"]) == {
        "github_token",
        "github_app_private_key",
        "github_webhook_secret_token",
        "github_basicauth_password",
    }
