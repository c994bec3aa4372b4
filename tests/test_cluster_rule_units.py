"""The control-plane rules (policies/arc_policies/cluster.py) on hand-built clusters of both kinds
they claim: the pulumi-eks component `eks:index:Cluster` (flat inputs: encryptionConfigKeyArn,
endpointPublicAccess, publicAccessCidrs) and the provider's `aws:eks/cluster:Cluster` (encryptionConfig
{resources, provider.keyArn}, vpcConfig {endpointPublicAccess, publicAccessCidrs}). Every log type
missing in turn, CIDR boundaries on both sides of an allowlist, IPv6, /0 in a later position, a
private-only endpoint, unknown values, config keys and their schema. Props are wrapped as the engine
wraps them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy, Severity

from arc_eks.review import policies as review_policies
from policies.arc_policies import cluster, registry
from policies.arc_policies.testing import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    violation_messages,
)

POLICIES = {p.name: p for p in registry.build_policies() if isinstance(p, ResourceValidationPolicy)}
SECRETS = "aws-eks-cluster-secrets-encryption"
LOGGING = "aws-eks-cluster-control-plane-logging"
ENDPOINT = "aws-eks-cluster-endpoint-restricted"
EKS = "eks:index:Cluster"
AWS = "aws:eks/cluster:Cluster"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/secrets-0000"
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def run(
    rule: str, typ: str, inputs: dict[str, Any], config: dict[str, Any] | None = None
) -> list[str]:
    return violation_messages(POLICIES[rule], typ, "arc", inputs, config)


def _with(props: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`props` with `changes` set (a copy of each value), None: the key removed."""
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = copy.deepcopy(value)
    return props


def eks_cluster(**inputs: Any) -> dict[str, Any]:
    """A compliant pulumi-eks cluster with `inputs` set (None: removed)."""
    props: dict[str, Any] = {
        "skipDefaultNodeGroup": True,
        "encryptionConfigKeyArn": KEY,
        "enabledClusterLogTypes": list(ALL_LOGS),
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
    }
    return _with(props, inputs)


def aws_cluster(**inputs: Any) -> dict[str, Any]:
    """A compliant aws.eks.Cluster (private endpoint) with `inputs` set (None: removed)."""
    props: dict[str, Any] = {
        "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["secrets"]},
        "enabledClusterLogTypes": list(ALL_LOGS),
        "vpcConfig": {
            "endpointPrivateAccess": True,
            "endpointPublicAccess": False,
            "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        },
    }
    return _with(props, inputs)


def public(**vpc: Any) -> dict[str, Any]:
    """An aws.eks.Cluster whose vpcConfig has a public endpoint and `vpc` set (None: removed)."""
    config: dict[str, Any] = {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
        "subnetIds": ["subnet-0123456789abcdef0"],
    }
    return aws_cluster(vpcConfig=_with(config, vpc))


def test_the_rules_read_both_cluster_kinds_only() -> None:
    for rule in cluster.RULES:
        assert rule.resource_types == frozenset({EKS, AWS})
        assert rule in registry.RESOURCE_RULES
    broken = eks_cluster(
        encryptionConfigKeyArn=None,
        enabledClusterLogTypes=None,
        publicAccessCidrs=["0.0.0.0/0"],
    )
    for name in (SECRETS, LOGGING, ENDPOINT):
        assert run(name, EKS, broken)
        assert run(name, "aws:eks/nodeGroup:NodeGroup", broken) == []
        assert run(name, "eks:index:ManagedNodeGroup", broken) == []


@pytest.mark.parametrize("typ, inputs", [(EKS, eks_cluster()), (AWS, aws_cluster())])
def test_compliant_clusters_of_both_kinds_pass(typ: str, inputs: dict[str, Any]) -> None:
    for rule in (SECRETS, LOGGING, ENDPOINT):
        assert run(rule, typ, inputs) == []


def test_the_message_names_the_resource_and_the_remediation() -> None:
    (message,) = run(SECRETS, EKS, eks_cluster(encryptionConfigKeyArn=None))
    assert message.startswith("eks:index:Cluster 'arc': encryptionConfigKeyArn: unset")
    assert "Remediation: create an aws.kms.Key" in message


# --- aws-eks-cluster-secrets-encryption ----------------------------------------------------------


@pytest.mark.parametrize("key", [None, ""])
def test_the_component_without_a_key_is_a_violation(key: Any) -> None:
    (message,) = run(SECRETS, EKS, eks_cluster(encryptionConfigKeyArn=key))
    assert "encryptionConfigKeyArn: unset: Kubernetes Secrets are not KMS-encrypted" in message


def test_the_component_reads_its_own_input_not_the_providers() -> None:
    # eks.Cluster has no encryptionConfig input: a provider-shaped block does not encrypt.
    block = {"provider": {"keyArn": KEY}, "resources": ["secrets"]}
    inputs = eks_cluster(encryptionConfigKeyArn=None, encryptionConfig=block)
    (message,) = run(SECRETS, EKS, inputs)
    assert "encryptionConfigKeyArn" in message
    # And the provider's cluster is not encrypted by the component's flat input.
    found = run(SECRETS, AWS, aws_cluster(encryptionConfig=None, encryptionConfigKeyArn=KEY))
    assert len(found) == 1 and "encryptionConfig: unset" in found[0]


def test_an_unknown_component_key_is_not_a_violation() -> None:
    assert run(SECRETS, EKS, eks_cluster(encryptionConfigKeyArn=UNKNOWN_STRING_VALUE)) == []


def test_the_provider_block_as_a_list_of_one_is_read() -> None:
    block = {"provider": {"keyArn": KEY}, "resources": ["secrets"]}
    assert run(SECRETS, AWS, aws_cluster(encryptionConfig=[block])) == []
    (message,) = run(SECRETS, AWS, aws_cluster(encryptionConfig=[{**block, "resources": []}]))
    assert "encryptionConfig.resources: []" in message


@pytest.mark.parametrize("block", [None, []])
def test_the_provider_cluster_without_a_block_is_a_violation(block: Any) -> None:
    (message,) = run(SECRETS, AWS, aws_cluster(encryptionConfig=block))
    assert "encryptionConfig: unset: Kubernetes Secrets are not KMS-encrypted" in message


def test_an_unknown_provider_block_is_not_a_violation() -> None:
    assert run(SECRETS, AWS, aws_cluster(encryptionConfig=UNKNOWN_OBJECT_VALUE)) == []


@pytest.mark.parametrize("resources", [["secrets"], "secrets", ["configmaps", "secrets"]])
def test_secrets_anywhere_in_the_resources_pass(resources: Any) -> None:
    block = {"provider": {"keyArn": KEY}, "resources": resources}
    assert run(SECRETS, AWS, aws_cluster(encryptionConfig=block)) == []


@pytest.mark.parametrize("resources", [[], ["configmaps"], ["Secrets"], "secret", None])
def test_resources_without_secrets_are_a_violation(resources: Any) -> None:
    block: dict[str, Any] = {"provider": {"keyArn": KEY}}
    if resources is not None:
        block["resources"] = resources
    (message,) = run(SECRETS, AWS, aws_cluster(encryptionConfig=block))
    assert "encryptionConfig.resources: " in message
    assert 'expected ["secrets"]' in message


def test_unknown_resources_are_not_a_violation() -> None:
    block = {"provider": {"keyArn": KEY}, "resources": UNKNOWN_ARRAY_VALUE}
    assert run(SECRETS, AWS, aws_cluster(encryptionConfig=block)) == []


@pytest.mark.parametrize("provider", [{"keyArn": ""}, {}, None])
def test_a_block_without_a_key_is_a_violation(provider: Any) -> None:
    block: dict[str, Any] = {"resources": ["secrets"]}
    if provider is not None:
        block["provider"] = provider
    (message,) = run(SECRETS, AWS, aws_cluster(encryptionConfig=block))
    assert "encryptionConfig.provider.keyArn: unset: no KMS key to encrypt with" in message


@pytest.mark.parametrize("provider", [UNKNOWN_OBJECT_VALUE, {"keyArn": UNKNOWN_STRING_VALUE}])
def test_an_unknown_key_is_not_a_violation(provider: Any) -> None:
    block = {"provider": provider, "resources": ["secrets"]}
    assert run(SECRETS, AWS, aws_cluster(encryptionConfig=block)) == []


def test_wrong_resources_and_no_key_are_two_findings() -> None:
    block = {"provider": {"keyArn": ""}, "resources": ["configmaps"]}
    found = run(SECRETS, AWS, aws_cluster(encryptionConfig=block))
    assert len(found) == 2
    assert 'encryptionConfig.resources: ["configmaps"], expected ["secrets"]' in found[0]
    assert "encryptionConfig.provider.keyArn" in found[1]


# --- aws-eks-cluster-control-plane-logging -------------------------------------------------------


@pytest.mark.parametrize("typ, build", [(EKS, eks_cluster), (AWS, aws_cluster)])
@pytest.mark.parametrize(
    "missing", ["api", "audit", "authenticator", "controllerManager", "scheduler"]
)
def test_each_log_type_missing_is_a_violation(typ: str, build: Any, missing: str) -> None:
    enabled = [log for log in ALL_LOGS if log != missing]
    (message,) = run(LOGGING, typ, build(enabledClusterLogTypes=enabled))
    assert f"enabledClusterLogTypes: {show_list(enabled)} lacks ['{missing}']" in message
    assert "control-plane logs are the audit trail" in message


def show_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


@pytest.mark.parametrize("enabled", [None, []])
def test_no_logs_is_a_violation_naming_all_five(enabled: Any) -> None:
    (message,) = run(LOGGING, AWS, aws_cluster(enabledClusterLogTypes=enabled))
    assert (
        "enabledClusterLogTypes: (unset) lacks "
        "['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']"
    ) in message


def test_order_and_extra_values_do_not_matter() -> None:
    shuffled = ["scheduler", "controllerManager", "authenticator", "audit", "api", "other"]
    assert run(LOGGING, EKS, eks_cluster(enabledClusterLogTypes=shuffled)) == []


def test_a_single_log_type_given_as_a_string_is_read() -> None:
    (message,) = run(LOGGING, EKS, eks_cluster(enabledClusterLogTypes="audit"))
    assert "['api', 'authenticator', 'controllerManager', 'scheduler']" in message


@pytest.mark.parametrize(
    "enabled",
    [
        UNKNOWN_ARRAY_VALUE,
        ["api", "audit", "authenticator", "controllerManager", UNKNOWN_STRING_VALUE],
        [UNKNOWN_STRING_VALUE, "api"],
    ],
)
def test_unknown_log_types_are_not_a_violation(enabled: Any) -> None:
    # An unknown entry may be the one that seems missing.
    assert run(LOGGING, EKS, eks_cluster(enabledClusterLogTypes=enabled)) == []


def test_the_required_log_types_come_from_the_config() -> None:
    config = {"requiredLogTypes": ["audit", "authenticator"]}
    assert (
        run(LOGGING, EKS, eks_cluster(enabledClusterLogTypes=["authenticator", "audit"]), config)
        == []
    )
    (message,) = run(LOGGING, EKS, eks_cluster(enabledClusterLogTypes=["audit"]), config)
    assert "lacks ['authenticator']" in message
    assert (
        run(LOGGING, AWS, aws_cluster(enabledClusterLogTypes=None), {"requiredLogTypes": []}) == []
    )


def test_the_logging_config_schema() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({LOGGING: {"requiredLogTypes": value}}, policies)

    assert problems(["api", "audit"]) == [] and problems([]) == []
    assert problems(["api", "kubelet"]) and problems("audit") and problems([1])
    schema = POLICIES[LOGGING].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["type"] == "array" and entry["items"]["type"] == "string"
    assert entry["items"]["enum"] == ALL_LOGS and entry["default"] == ALL_LOGS
    assert entry["description"]


# --- aws-eks-cluster-endpoint-restricted ---------------------------------------------------------


@pytest.mark.parametrize("private", [False, "false", "False"])
def test_a_private_only_endpoint_passes_whatever_the_cidrs(private: Any) -> None:
    inputs = eks_cluster(endpointPublicAccess=private, publicAccessCidrs=["0.0.0.0/0"])
    assert run(ENDPOINT, EKS, inputs) == []
    assert run(ENDPOINT, EKS, inputs, {"allowPublicEndpoint": False}) == []
    assert run(ENDPOINT, AWS, public(endpointPublicAccess=private, publicAccessCidrs=None)) == []


def test_an_unknown_endpoint_setting_is_not_a_violation() -> None:
    inputs = eks_cluster(endpointPublicAccess=UNKNOWN_BOOLEAN_VALUE, publicAccessCidrs=None)
    assert run(ENDPOINT, EKS, inputs) == []
    assert run(ENDPOINT, AWS, aws_cluster(vpcConfig=UNKNOWN_OBJECT_VALUE)) == []
    assert run(ENDPOINT, AWS, public(endpointPublicAccess=UNKNOWN_BOOLEAN_VALUE)) == []


@pytest.mark.parametrize("cidrs", [None, []])
def test_a_public_endpoint_without_cidrs_is_open_to_the_internet(cidrs: Any) -> None:
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=cidrs))
    assert message.startswith("eks:index:Cluster 'arc': publicAccessCidrs: unset with a public")
    assert "0.0.0.0/0, the whole internet" in message
    (message,) = run(ENDPOINT, AWS, public(publicAccessCidrs=cidrs))
    assert "'arc': vpcConfig.publicAccessCidrs: unset with a public endpoint" in message


def test_an_unset_endpoint_setting_is_public_by_default() -> None:
    (message,) = run(ENDPOINT, EKS, eks_cluster(endpointPublicAccess=None, publicAccessCidrs=None))
    assert "publicAccessCidrs: unset with a public endpoint" in message
    assert run(ENDPOINT, EKS, eks_cluster(endpointPublicAccess=None)) == []
    (message,) = run(ENDPOINT, AWS, public(endpointPublicAccess=None, publicAccessCidrs=None))
    assert "vpcConfig.publicAccessCidrs" in message
    # An aws.eks.Cluster with no vpcConfig at all is public too.
    (message,) = run(ENDPOINT, AWS, aws_cluster(vpcConfig=None))
    assert "vpcConfig.publicAccessCidrs: unset" in message


def test_each_kind_reads_its_own_scope() -> None:
    # The component's settings are flat; the provider's are under vpcConfig.
    flat_private = public(publicAccessCidrs=None)
    flat_private["endpointPublicAccess"] = False
    assert run(ENDPOINT, AWS, flat_private)
    nested_private = eks_cluster(endpointPublicAccess=None, publicAccessCidrs=None)
    nested_private["vpcConfig"] = {"endpointPublicAccess": False}
    assert run(ENDPOINT, EKS, nested_private)


def test_unknown_cidrs_are_not_a_violation() -> None:
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=UNKNOWN_ARRAY_VALUE)) == []
    unknown_then_fine = [UNKNOWN_STRING_VALUE, "203.0.113.0/24"]
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=unknown_then_fine)) == []


def test_an_unknown_cidr_does_not_hide_a_later_one() -> None:
    cidrs = [UNKNOWN_STRING_VALUE, "0.0.0.0/0"]
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=cidrs))
    assert "publicAccessCidrs[1]: " in message


@pytest.mark.parametrize("everything", ["0.0.0.0/0", "::/0", "10.1.2.3/0", "2001:db8::1/0"])
def test_the_whole_internet_in_a_later_position_is_a_violation(everything: str) -> None:
    cidrs = ["203.0.113.0/24", "2001:db8::/48", everything]
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=cidrs))
    assert f'publicAccessCidrs[2]: "{everything}" opens the API server to the whole internet' in (
        message
    )
    (message,) = run(ENDPOINT, AWS, public(publicAccessCidrs=cidrs))
    assert "vpcConfig.publicAccessCidrs[2]: " in message


def test_the_whole_internet_first_does_not_hide_later_cidrs() -> None:
    cidrs = ["0.0.0.0/0", "198.51.101.0/24", "nope"]
    found = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=cidrs), ALLOWED)
    assert len(found) == 3
    assert "publicAccessCidrs[0]: " in found[0] and "whole internet" in found[0]
    assert 'publicAccessCidrs[1]: "198.51.101.0/24" is outside the allowlist' in found[1]
    assert 'publicAccessCidrs[2]: "nope" is not a CIDR' in found[2]


def test_cidrs_that_together_are_the_whole_internet_are_a_violation() -> None:
    halves = ["203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1"]
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=halves))
    assert (
        "'arc': publicAccessCidrs: "
        '["203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1"] together open the API server to the '
        "whole internet"
    ) in message
    (message,) = run(ENDPOINT, AWS, public(publicAccessCidrs=["128.0.0.0/1", "0.0.0.0/1"]))
    assert "'arc': vpcConfig.publicAccessCidrs: " in message and "together" in message
    quarters = ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/3"]
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=quarters))


def test_each_address_family_is_added_up_on_its_own() -> None:
    both = ["::/1", "0.0.0.0/1", "8000::/1", "128.0.0.0/1"]
    found = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=both))
    assert len(found) == 2
    assert 'publicAccessCidrs: ["0.0.0.0/1", "128.0.0.0/1"] together' in found[0]
    assert 'publicAccessCidrs: ["::/1", "8000::/1"] together' in found[1]
    # Half of each family is not all of either.
    mixed = ["0.0.0.0/1", "8000::/1"]
    assert not [
        m for m in run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=mixed)) if "together" in m
    ]


def test_a_hole_in_the_address_space_is_not_the_whole_internet() -> None:
    holed = ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/4", "240.0.0.0/5"]
    found = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=holed))
    assert not [m for m in found if "together" in m]
    # An unknown entry is not counted either way; the known ones decide.
    halves = [UNKNOWN_STRING_VALUE, "0.0.0.0/1", "128.0.0.0/1"]
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=halves))
    assert '["0.0.0.0/1", "128.0.0.0/1"] together' in message


def test_the_whole_internet_is_refused_even_when_the_allowlist_holds_it() -> None:
    config = {"allowedPublicAccessCidrs": ["0.0.0.0/0"]}
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["0.0.0.0/0"]), config)
    assert "whole internet" in message and "allowlist" not in message.split("Remediation")[0]
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["198.51.100.0/24"]), config) == []


@pytest.mark.parametrize("cidrs", [["0.0.0.1/32"], ["203.0.113.7/24"], ["2001:db8::/32"]])
def test_any_narrower_cidr_passes_without_an_allowlist(cidrs: list[str]) -> None:
    # Host bits set (203.0.113.7/24) name the same network, as EKS reads it.
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=cidrs)) == []


@pytest.mark.parametrize("bad", ["not-a-cidr", "203.0.113.0/33", "", "1.2.3"])
def test_a_value_that_is_not_a_cidr_is_a_violation_and_later_ones_are_read(bad: str) -> None:
    found = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=[bad, "0.0.0.0/0"]))
    assert len(found) == 2
    assert f'publicAccessCidrs[0]: "{bad}" is not a CIDR' in found[0]
    assert "publicAccessCidrs[1]: " in found[1] and "whole internet" in found[1]


ALLOWED = {"allowedPublicAccessCidrs": ["198.51.100.0/24", "2001:db8::/32"]}


@pytest.mark.parametrize(
    "cidr", ["198.51.100.0/24", "198.51.100.128/25", "198.51.100.255/32", "2001:db8:ffff::/48"]
)
def test_a_cidr_inside_the_allowlist_passes(cidr: str) -> None:
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=[cidr]), ALLOWED) == []
    assert run(ENDPOINT, AWS, public(publicAccessCidrs=[cidr]), ALLOWED) == []


@pytest.mark.parametrize(
    "cidr",
    ["198.51.100.0/23", "198.51.101.0/24", "198.51.101.0/32", "198.51.99.255/32", "2001:db9::/48"],
)
def test_a_cidr_just_outside_the_allowlist_in_a_later_position_is_a_violation(cidr: str) -> None:
    cidrs = ["198.51.100.0/25", cidr]
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=cidrs), ALLOWED)
    assert (
        f'publicAccessCidrs[1]: "{cidr}" is outside the allowlist '
        "['198.51.100.0/24', '2001:db8::/32']"
    ) in message


def test_an_address_of_the_other_family_is_outside_the_allowlist() -> None:
    only_v6 = {"allowedPublicAccessCidrs": ["2001:db8::/32"]}
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["198.51.100.0/24"]), only_v6)
    assert "outside the allowlist" in message
    only_v4 = {"allowedPublicAccessCidrs": ["198.51.100.0/24"]}
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["2001:db8::/48"]), only_v4)
    # An IPv4-mapped IPv6 range is not read as the IPv4 one.
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["::ffff:198.51.100.0/120"]), only_v4)


def test_allowlist_entries_that_are_not_cidrs_are_skipped_not_fatal() -> None:
    config = {"allowedPublicAccessCidrs": ["office", "198.51.100.7/24"]}
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["198.51.100.0/25"]), config) == []
    (message,) = run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["203.0.113.0/24"]), config)
    assert "outside the allowlist ['office', '198.51.100.7/24']" in message
    nothing_valid = {"allowedPublicAccessCidrs": ["office"]}
    assert run(ENDPOINT, EKS, eks_cluster(publicAccessCidrs=["203.0.113.0/24"]), nothing_valid)


def test_a_private_only_environment_refuses_any_public_endpoint() -> None:
    config = {"allowPublicEndpoint": False}
    (message,) = run(ENDPOINT, EKS, eks_cluster(), config)
    assert (
        "'arc': endpointPublicAccess: true: this environment allows only a private API endpoint"
    ) in message
    (message,) = run(ENDPOINT, EKS, eks_cluster(endpointPublicAccess=None), config)
    assert "endpointPublicAccess: (unset, defaults to true): this environment" in message
    # One finding: the CIDRs are not judged on top.
    inputs = public(endpointPublicAccess="true", publicAccessCidrs=["0.0.0.0/0"])
    (message,) = run(ENDPOINT, AWS, inputs, config)
    assert 'vpcConfig.endpointPublicAccess: "true": this environment' in message
    assert run(ENDPOINT, AWS, aws_cluster(), config) == []


def test_a_private_only_environment_refuses_even_unknown_cidrs() -> None:
    inputs = eks_cluster(publicAccessCidrs=UNKNOWN_ARRAY_VALUE)
    (message,) = run(ENDPOINT, EKS, inputs, {"allowPublicEndpoint": False})
    assert "endpointPublicAccess" in message


def test_the_endpoint_config_schema() -> None:
    policies = registry.build_policies()

    def problems(entry: dict[str, Any]) -> list[str]:
        return review_policies.config_problems({ENDPOINT: entry}, policies)

    assert problems({"allowPublicEndpoint": False}) == []
    assert problems({"allowedPublicAccessCidrs": ["198.51.100.0/24"]}) == []
    assert problems({"allowPublicEndpoint": "no"}) and problems({"allowedPublicAccessCidrs": "x"})
    assert problems({"allowedPublicAccessCidrs": [24]}) and problems({"allowedCidrs": []})
    schema = POLICIES[ENDPOINT].config_schema
    assert schema is not None
    switch = schema.properties["allowPublicEndpoint"]
    assert switch["type"] == "boolean" and switch["default"] is True and switch["description"]
    cidrs = schema.properties["allowedPublicAccessCidrs"]
    assert cidrs["type"] == "array" and cidrs["items"] == {"type": "string"}
    assert cidrs["default"] == [] and cidrs["description"]


def test_the_rules_severities() -> None:
    assert POLICIES[SECRETS].severity == Severity.HIGH
    assert POLICIES[LOGGING].severity == Severity.MEDIUM
    assert POLICIES[ENDPOINT].severity == Severity.CRITICAL
