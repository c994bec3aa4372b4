"""The stack model's limits that tests/test_stack_model.py does not reach: the runner node groups,
the per-team allowances (list lengths, organization and runner group names, one owner per runner
group), the allowed image registries, and the boundaries of the node group sizes and the pinned
Kubernetes version. Each refusal refuses, and the value at its boundary is accepted.

Validates `StackConfig` directly (no stack file, no Pulumi).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from arc_eks.config.stack import PIN_REGISTRIES, StackConfig, narrow_ipv4_cidrs
from arc_eks.versions import KUBERNETES_VERSION

CIDR = "203.0.113.0/24"


def stack(**sections: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"environment": "dev", "cluster": {"publicAccessCidrs": [CIDR]}}
    raw.update(sections)
    return raw


def problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        StackConfig.model_validate(raw)
    except ValidationError as exc:
        return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
    return []


def refused(raw: dict[str, Any], path: str, fragment: str = "") -> None:
    found = problems(raw)
    assert any(p == path and fragment in m for p, m in found), (path, fragment, found)


def accepted(raw: dict[str, Any]) -> StackConfig:
    assert problems(raw) == []
    return StackConfig.model_validate(raw)


# --- CIDR allowlists ----------------------------------------------------------------------------


def test_a_wide_allowlist_is_refused_with_its_size() -> None:
    """Only all of IPv4 is called the whole internet; anything less wide gives its count."""
    for cidrs, share in (
        (["0.0.0.0/1"], "2,147,483,648 addresses"),
        (["0.0.0.0/1", "128.0.0.0/2"], "3,221,225,472 addresses"),
        (["10.0.0.0/8", "11.0.0.0/32"], "16,777,217 addresses"),
        (["0.0.0.0/1", "128.0.0.0/1"], "the whole internet"),
    ):
        with pytest.raises(ValueError) as raised:
            narrow_ipv4_cidrs(cidrs)
        message = str(raised.value)
        assert f"these CIDRs admit {share}, more than a /8 (16,777,216 addresses)" in message
        assert ("whole internet" in message) is (share == "the whole internet")


# --- cluster, node groups -----------------------------------------------------------------------


def test_kubernetes_version_above_the_pin_is_refused() -> None:
    major, minor = KUBERNETES_VERSION.split(".")
    for version in (f"{major}.{int(minor) + 1}", f"{int(major) + 1}.0", f"{KUBERNETES_VERSION}.1"):
        refused(
            stack(cluster={"publicAccessCidrs": [CIDR], "kubernetesVersion": version}),
            "cluster.kubernetesVersion",
            KUBERNETES_VERSION,
        )


@pytest.mark.parametrize("size", [1, 100])
def test_node_group_of_one_fixed_size(size: int) -> None:
    sizes = {"minSize": size, "desiredSize": size, "maxSize": size}
    group = accepted(stack(nodeGroup=sizes)).node_group
    assert (group.min_size, group.desired_size, group.max_size) == (size, size, size)


def test_runner_nodes_defaults_and_choices() -> None:
    assert accepted(stack()).runner_nodes.model_dump() == {
        "privileged_isolation": "perTeam",
        "max_size": 10,
    }
    shared = accepted(stack(runnerNodes={"privilegedIsolation": "shared"})).runner_nodes
    assert shared.privileged_isolation == "shared"
    refused(stack(runnerNodes={"privilegedIsolation": "none"}), "runnerNodes.privilegedIsolation")
    refused(stack(runnerNodes={"instanceType": "m5.large"}), "runnerNodes.instanceType")


@pytest.mark.parametrize(("size", "ok"), [(1, True), (100, True), (0, False), (101, False)])
def test_runner_nodes_max_size(size: int, ok: bool) -> None:
    raw = stack(runnerNodes={"maxSize": size})
    if ok:
        assert accepted(raw).runner_nodes.max_size == size
    else:
        refused(raw, "runnerNodes.maxSize")


# --- GitHub Enterprise CA, scale sets ---------------------------------------------------------

GHES = "https://github.example.com"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_enterprise_ca_certificate() -> None:
    config = accepted(stack(github={"enterpriseUrl": GHES, "enterpriseCaCertificate": PEM}))
    assert config.github.enterprise_ca_certificate == PEM.strip()
    assert accepted(stack(github={"enterpriseUrl": GHES})).github.enterprise_ca_certificate is None
    refused(stack(github={"enterpriseCaCertificate": PEM}), "github", "only with enterpriseUrl")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    for text in (f"{begin}\nMIIB\n", f"MIIB\n{end}", "MIIB"):
        refused(
            stack(github={"enterpriseUrl": GHES, "enterpriseCaCertificate": text}),
            "github",
            "as PEM text",
        )
    for key in ("-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"):
        found = problems(
            stack(github={"enterpriseUrl": GHES, "enterpriseCaCertificate": PEM + key})
        )
        assert [p for p, _ in found] == ["github"], found
        assert "without a private key" in found[0][1]
        assert key not in found[0][1] and "MIIB" not in found[0][1]


def test_enterprise_ca_certificate_length() -> None:
    begin, end = "-----BEGIN CERTIFICATE-----\n", "\n-----END CERTIFICATE-----"
    most = begin + "A" * (65536 - len(begin) - len(end)) + end
    assert len(most) == 65536
    accepted(stack(github={"enterpriseUrl": GHES, "enterpriseCaCertificate": most}))
    refused(
        stack(github={"enterpriseUrl": GHES, "enterpriseCaCertificate": most + "A"}),
        "github.enterpriseCaCertificate",
    )


def test_scale_sets_defaults_and_bounds() -> None:
    assert accepted(stack()).scale_sets.model_dump() == {
        "default_mode": "runnerDeployment",
        "controller_replicas": 2,
    }
    for mode in ("runnerDeployment", "scaleSet"):
        assert accepted(stack(scaleSets={"defaultMode": mode})).scale_sets.default_mode == mode
    refused(stack(scaleSets={"defaultMode": "runnerSet"}), "scaleSets.defaultMode")
    for replicas in (1, 5):
        config = accepted(stack(scaleSets={"controllerReplicas": replicas}))
        assert config.scale_sets.controller_replicas == replicas
    for replicas in (0, 6):
        refused(stack(scaleSets={"controllerReplicas": replicas}), "scaleSets.controllerReplicas")


# --- controller ---------------------------------------------------------------------------------


def test_controller_log_format() -> None:
    assert accepted(stack()).controller.log_format == "json"
    assert accepted(stack(controller={"logFormat": "text"})).controller.log_format == "text"
    assert accepted(stack(controller={"logFormat": "json"})).controller.log_format == "json"
    refused(stack(controller={"logFormat": "xml"}), "controller.logFormat")


def test_controller_service_monitor() -> None:
    assert accepted(stack(controller={"serviceMonitor": True})).controller.service_monitor is True


@pytest.mark.parametrize(
    ("monitoring", "service_monitor", "ok"),
    [
        ("none", True, True),
        ("none", False, True),
        ("prometheusOperator", False, True),
        ("ampScraper", False, True),
        ("prometheusOperator", True, False),
        ("ampScraper", True, False),
    ],
)
def test_one_service_monitor_for_the_controller(
    monitoring: str, service_monitor: bool, ok: bool
) -> None:
    """The chart's ServiceMonitor only without the stack's monitoring (which brings its own)."""
    raw = stack(monitoring={"mode": monitoring}, controller={"serviceMonitor": service_monitor})
    if ok:
        config = accepted(raw)
        assert (config.monitoring.mode, config.controller.service_monitor) == (
            monitoring,
            service_monitor,
        )
    else:
        refused(raw, "", f"controller.serviceMonitor: false with monitoring.mode {monitoring!r}")


# --- team allowances ----------------------------------------------------------------------------


def test_team_allowance_defaults() -> None:
    assert accepted(stack(teams={"web": {}})).teams["web"].model_dump() == {
        "organizations": [],
        "enterprises": [],
        "runner_groups": [],
        "s3_buckets": [],
        "max_runners_per_pool": 20,
    }


@pytest.mark.parametrize(
    ("key", "most", "item"),
    [
        ("organizations", 20, lambda i: f"org{i}"),
        ("enterprises", 5, lambda i: f"ent{i}"),
        ("runnerGroups", 20, lambda i: f"group{i}"),
        ("s3Buckets", 50, lambda i: {"bucket": f"bucket-{i}"}),
    ],
)
def test_team_allowance_list_lengths(key: str, most: int, item: Any) -> None:
    accepted(stack(teams={"web": {key: [item(i) for i in range(most)]}}))
    refused(stack(teams={"web": {key: [item(i) for i in range(most + 1)]}}), f"teams.web.{key}")


@pytest.mark.parametrize(
    ("login", "ok"),
    [
        ("a", True),
        ("7", True),
        ("Acme-Corp-2", True),
        ("a" + "b-" * 18 + "c", True),  # 38 characters
        ("a" * 39, True),
        ("a" * 40, False),
        ("-acme", False),
        ("acme-", False),
        ("ac_me", False),
        ("acme/web", False),
        ("", False),
    ],
)
def test_organization_and_enterprise_names(login: str, ok: bool) -> None:
    for key in ("organizations", "enterprises"):
        raw = stack(teams={"web": {key: [login]}})
        if ok:
            assert accepted(raw).teams["web"].model_dump()[key] == [login]
        else:
            refused(raw, f"teams.web.{key}.0")


@pytest.mark.parametrize(
    ("group", "ok"),
    [
        ("a", True),
        ("Default", True),
        ("ci runners.v2_x-y", True),
        ("0" + "a" * 63, True),  # 64 characters
        ("0" + "a" * 64, False),
        ("-ci", False),
        (".ci", False),
        ("/ci", False),
        ("ci/", False),
        ("ci:x", False),
        ("", False),
    ],
)
def test_runner_group_names(group: str, ok: bool) -> None:
    raw = stack(teams={"web": {"runnerGroups": [group]}})
    if ok:
        assert accepted(raw).teams["web"].runner_groups == [group]
    else:
        refused(raw, "teams.web.runnerGroups.0")


def test_a_runner_group_belongs_to_one_team() -> None:
    teams = {
        "web": {"runnerGroups": ["ci"]},
        "api": {"runnerGroups": ["deploy", "ci"]},
        "data": {"runnerGroups": ["batch"]},
    }
    # The team that sorts later is named, with the group's owner: "api" < "web".
    refused(stack(teams=teams), "", "teams.web.runnerGroups: 'ci' is also team 'api'")
    # Compared without case: GitHub's runner group names are case-insensitive.
    refused(
        stack(teams={**teams, "web": {"runnerGroups": ["CI"]}}),
        "",
        "teams.web.runnerGroups: 'CI' is also team 'api'",
    )
    # A later team's clash is found after earlier teams without one.
    refused(
        stack(teams={**teams, "web": {"runnerGroups": ["other", "batch"]}}),
        "",
        "teams.web.runnerGroups: 'batch' is also team 'data'",
    )
    config = accepted(stack(teams={**teams, "web": {"runnerGroups": ["ci-web", "ci-web", "Web"]}}))
    assert config.teams["api"].runner_groups == ["deploy", "ci"]


# --- images -------------------------------------------------------------------------------------


def test_allowed_registries_default_to_the_pins_registries() -> None:
    assert accepted(stack()).images.allowed_registries == ["docker.io", "ghcr.io"]
    assert list(PIN_REGISTRIES) == ["docker.io", "ghcr.io"]
    assert accepted(stack(images={"allowedRegistries": []})).images.allowed_registries == []


@pytest.mark.parametrize(
    ("registry", "ok"),
    [
        ("a", True),
        ("docker.io", True),
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com", True),
        ("registry.example.com:5000", True),
        ("r:1", True),
        ("r:65535", True),
        ("a" + "b" * 251 + "c", True),  # 253 characters
        ("a" + "b" * 252 + "c", False),
        ("r:123456", False),
        ("r:", False),
        ("Docker.io", False),
        ("-docker.io", False),
        ("docker.io-", False),
        ("docker.io/library", False),
        ("https://docker.io", False),
        ("", False),
    ],
)
def test_allowed_registry_names(registry: str, ok: bool) -> None:
    raw = stack(images={"allowedRegistries": [registry]})
    if ok:
        assert accepted(raw).images.allowed_registries == [registry]
    else:
        refused(raw, "images.allowedRegistries.0")


def test_allowed_registries_length() -> None:
    most = [f"r{i}.example.com" for i in range(50)]
    assert accepted(stack(images={"allowedRegistries": most})).images.allowed_registries == most
    refused(stack(images={"allowedRegistries": [*most, "one.more"]}), "images.allowedRegistries")
