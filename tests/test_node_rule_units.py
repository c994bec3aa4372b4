"""The worker-node rules (policies/arc_policies/nodes.py) on hand-built resources of every kind they
claim: the pulumi-eks component inputs (`eks:index:ManagedNodeGroup` with instanceTypes, amiType and
launchTemplate; `eks:index:Cluster`'s default node group with instanceType and skipDefaultNodeGroup;
`eks:index:NodeGroup` / `NodeGroupV2` with instanceType), the provider's `aws:eks/nodeGroup:NodeGroup`
and `aws:ec2/launchTemplate:LaunchTemplate` (metadataOptions, blockDeviceMappings[].ebs.encrypted,
which the provider takes as a string). A violation in a later list position, hop limits on both sides,
values sent as strings or floats, unknown values, config keys and their schema. Props are wrapped as
the engine wraps them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy, Severity

from arc_eks.review import policies as review_policies
from policies.arc_policies import nodes, registry
from policies.arc_policies.testing import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    violation_messages,
)

POLICIES = {p.name: p for p in registry.build_policies() if isinstance(p, ResourceValidationPolicy)}
TYPE = "aws-eks-node-instance-type-allowlist"
AMI = "aws-eks-node-ami-x86-64"
IMDS = "aws-ec2-launch-template-imdsv2-hop-limit-1"
VOLUME = "aws-ec2-launch-template-root-volume-encrypted"
EKS_CLUSTER = "eks:index:Cluster"
EKS_MNG = "eks:index:ManagedNodeGroup"
EKS_NG = "eks:index:NodeGroup"
EKS_NG_V2 = "eks:index:NodeGroupV2"
AWS_NG = "aws:eks/nodeGroup:NodeGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
MANAGED = [EKS_MNG, AWS_NG]
UNSET = object()


def run(
    rule: str, typ: str, inputs: dict[str, Any], config: dict[str, Any] | None = None
) -> list[str]:
    return violation_messages(POLICIES[rule], typ, "nodes", inputs, config)


def changed(props: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(props)
    for key, value in inputs.items():
        if value is UNSET:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


def group(**inputs: Any) -> dict[str, Any]:
    """A compliant managed node group (either kind) with `inputs` set (UNSET: removed)."""
    return changed(
        {
            "instanceTypes": ["t3a.large"],
            "amiType": "AL2023_x86_64_STANDARD",
            "scalingConfig": {"minSize": 2, "desiredSize": 2, "maxSize": 6},
            "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "1"},
        },
        inputs,
    )


def template(**inputs: Any) -> dict[str, Any]:
    """A compliant launch template with `inputs` set (UNSET: removed)."""
    return changed(
        {
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {"encrypted": "true", "volumeSize": 50, "volumeType": "gp3"},
                }
            ],
        },
        inputs,
    )


def metadata(**options: Any) -> dict[str, Any]:
    """A launch template whose metadataOptions has `options` set (UNSET: removed)."""
    return template(
        metadataOptions=changed(
            {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
            options,
        )
    )


def volumes(*mappings: dict[str, Any]) -> dict[str, Any]:
    return template(blockDeviceMappings=list(mappings))


ENCRYPTED = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50}}


def test_each_rule_claims_its_kinds() -> None:
    assert nodes.INSTANCE_TYPE_ALLOWLIST.resource_types == frozenset(
        {EKS_CLUSTER, EKS_MNG, EKS_NG, EKS_NG_V2, AWS_NG, LT}
    )
    assert nodes.AMI_X86_64.resource_types == frozenset(MANAGED)
    assert nodes.IMDSV2_HOP_LIMIT_1.resource_types == frozenset({LT, *MANAGED})
    assert nodes.ROOT_VOLUME_ENCRYPTED.resource_types == frozenset({LT, *MANAGED})
    for rule in nodes.RULES:
        assert rule in registry.RESOURCE_RULES


def test_the_rules_ignore_kinds_they_do_not_claim() -> None:
    bad_group = group(instanceTypes=["m5.24xlarge"], amiType="AL2023_ARM_64_STANDARD")
    bad_group["launchTemplate"] = None
    assert run(AMI, EKS_CLUSTER, bad_group) == [] and run(AMI, LT, bad_group) == []
    assert run(AMI, EKS_NG, bad_group) == []
    assert run(TYPE, "aws:eks/cluster:Cluster", bad_group) == []
    bad_template = template(metadataOptions=UNSET, blockDeviceMappings=UNSET)
    for rule in (IMDS, VOLUME):
        assert run(rule, LT, bad_template)
        assert run(rule, EKS_CLUSTER, bad_template) == []
        assert run(rule, EKS_NG, bad_template) == []
        assert run(rule, "aws:ec2/instance:Instance", bad_template) == []


@pytest.mark.parametrize("typ", MANAGED)
def test_compliant_node_groups_pass(typ: str) -> None:
    for rule in (TYPE, AMI, IMDS, VOLUME):
        assert run(rule, typ, group()) == []


def test_a_compliant_launch_template_passes() -> None:
    for rule in (TYPE, IMDS, VOLUME):
        assert run(rule, LT, template()) == []


# --- aws-eks-node-instance-type-allowlist --------------------------------------------------------


@pytest.mark.parametrize("typ", MANAGED)
def test_an_instance_type_outside_the_allowlist_in_a_later_position(typ: str) -> None:
    (message,) = run(TYPE, typ, group(instanceTypes=["t3a.large", "m5.24xlarge"]))
    assert (
        f"{typ} 'nodes': instanceTypes[1]: instance type \"m5.24xlarge\" is not in the allowlist "
        "['t3a.large']"
    ) in message
    found = run(TYPE, typ, group(instanceTypes=["m5.large", "t3a.large", "t3.medium"]))
    assert len(found) == 2
    assert "instanceTypes[0]: " in found[0] and "instanceTypes[2]: " in found[1]


@pytest.mark.parametrize("near", ["t3a.xlarge", "t3.large", "T3A.LARGE", " t3a.large", ""])
def test_a_near_miss_is_not_the_allowed_type(near: str) -> None:
    assert run(TYPE, AWS_NG, group(instanceTypes=[near]))
    assert run(TYPE, LT, template(instanceType=near))


def test_a_single_type_given_as_a_string_is_read() -> None:
    (message,) = run(TYPE, EKS_MNG, group(instanceTypes="m5.large"))
    assert "instanceTypes[0]: " in message


@pytest.mark.parametrize("typ", MANAGED)
@pytest.mark.parametrize("types", [UNSET, []])
def test_no_instance_types_and_no_template_is_the_t3_medium_default(typ: str, types: Any) -> None:
    (message,) = run(TYPE, typ, group(instanceTypes=types, launchTemplate=UNSET))
    assert (
        "'nodes': instanceTypes: instance type (unset: AWS/pulumi-eks default t3.medium) is not "
        "in the allowlist"
    ) in message


@pytest.mark.parametrize("types", [UNSET, []])
def test_no_instance_types_with_a_template_leaves_it_to_the_template(types: Any) -> None:
    assert run(TYPE, EKS_MNG, group(instanceTypes=types)) == []
    # Also while the template is not known yet.
    assert run(TYPE, AWS_NG, group(instanceTypes=types, launchTemplate=UNKNOWN_OBJECT_VALUE)) == []


def test_unknown_instance_types_are_not_a_violation() -> None:
    assert run(TYPE, EKS_MNG, group(instanceTypes=UNKNOWN_ARRAY_VALUE, launchTemplate=UNSET)) == []
    unknown_first = [UNKNOWN_STRING_VALUE, "t3a.large"]
    assert run(TYPE, AWS_NG, group(instanceTypes=unknown_first)) == []
    (message,) = run(TYPE, AWS_NG, group(instanceTypes=[UNKNOWN_STRING_VALUE, "m5.large"]))
    assert "instanceTypes[1]: " in message


def test_the_launch_template_type_is_checked_when_set() -> None:
    (message,) = run(TYPE, LT, template(instanceType="c5.large"))
    assert "'nodes': instanceType: instance type \"c5.large\" is not in the allowlist" in message
    assert run(TYPE, LT, template(instanceType="t3a.large")) == []
    # Unset: the node group names the type (checked there).
    assert run(TYPE, LT, template()) == []
    assert run(TYPE, LT, template(instanceType=UNKNOWN_STRING_VALUE)) == []


@pytest.mark.parametrize("skip", [False, "false", UNSET])
def test_the_default_node_group_of_the_component_cluster_is_checked(skip: Any) -> None:
    cluster: dict[str, Any] = {} if skip is UNSET else {"skipDefaultNodeGroup": skip}
    (message,) = run(TYPE, EKS_CLUSTER, cluster)
    assert "'nodes': instanceType: instance type (unset: AWS/pulumi-eks default t3.medium)" in (
        message
    )
    (message,) = run(TYPE, EKS_CLUSTER, {**cluster, "instanceType": "m5.large"})
    assert 'instanceType: instance type "m5.large"' in message
    assert run(TYPE, EKS_CLUSTER, {**cluster, "instanceType": "t3a.large"}) == []
    assert run(TYPE, EKS_CLUSTER, {**cluster, "instanceType": UNKNOWN_STRING_VALUE}) == []


@pytest.mark.parametrize("skip", [True, "true", "True", UNKNOWN_BOOLEAN_VALUE])
def test_a_skipped_or_unknown_default_node_group_is_not_checked(skip: Any) -> None:
    assert run(TYPE, EKS_CLUSTER, {"skipDefaultNodeGroup": skip, "instanceType": "m5.large"}) == []
    assert run(TYPE, EKS_CLUSTER, {"skipDefaultNodeGroup": skip}) == []


@pytest.mark.parametrize("typ", [EKS_NG, EKS_NG_V2])
def test_the_component_node_groups_read_their_single_type(typ: str) -> None:
    assert run(TYPE, typ, {"instanceType": "t3a.large"}) == []
    (message,) = run(TYPE, typ, {"instanceType": "m5.large"})
    assert f"{typ} 'nodes': instanceType: instance type \"m5.large\"" in message
    (message,) = run(TYPE, typ, {})
    assert "instanceType: instance type (unset: AWS/pulumi-eks default t3.medium)" in message
    assert run(TYPE, typ, {"instanceType": UNKNOWN_STRING_VALUE}) == []
    # A list is the managed groups' input, not theirs.
    assert run(TYPE, typ, {"instanceType": "t3a.large", "instanceTypes": ["m5.large"]}) == []


def test_the_allowed_types_come_from_the_config() -> None:
    config = {"allowedInstanceTypes": ["m6a.large", "m7a.large"]}
    assert run(TYPE, EKS_MNG, group(instanceTypes=["m7a.large", "m6a.large"]), config) == []
    (message,) = run(TYPE, EKS_MNG, group(instanceTypes=["m6a.large", "t3a.large"]), config)
    assert "instanceTypes[1]: " in message
    assert "not in the allowlist ['m6a.large', 'm7a.large']" in message
    assert run(TYPE, LT, template(instanceType="m7a.large"), config) == []


def test_the_instance_type_config_schema() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({TYPE: {"allowedInstanceTypes": value}}, policies)

    assert problems(["t3a.large", "m6a.large"]) == []
    assert problems("t3a.large") and problems([2])
    schema = POLICIES[TYPE].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["type"] == "array" and entry["items"] == {"type": "string"}
    assert entry["default"] == ["t3a.large"] and entry["description"]


# --- aws-eks-node-ami-x86-64 ---------------------------------------------------------------------


@pytest.mark.parametrize("typ", MANAGED)
@pytest.mark.parametrize(
    "ami", ["AL2023_x86_64_STANDARD", "AL2_x86_64", UNSET, UNKNOWN_STRING_VALUE]
)
def test_x86_64_unset_or_unknown_ami_types_pass(typ: str, ami: Any) -> None:
    # Unset: EKS picks the x86_64 AMI of the cluster's version.
    assert run(AMI, typ, group(amiType=ami)) == []


@pytest.mark.parametrize("typ", MANAGED)
@pytest.mark.parametrize(
    "ami",
    [
        "AL2023_ARM_64_STANDARD",
        "BOTTLEROCKET_ARM_64",
        "AL2_ARM_64",
        "AL2_x86_64_GPU",
        "al2_x86_64",
        "CUSTOM",
        "",
    ],
)
def test_other_ami_types_are_a_violation(typ: str, ami: str) -> None:
    (message,) = run(AMI, typ, group(amiType=ami))
    assert (
        f"{typ} 'nodes': amiType: AMI type \"{ami}\" is not an x86_64 type in "
        "['AL2023_x86_64_STANDARD', 'AL2_x86_64']"
    ) in message


def test_the_ami_types_come_from_the_config() -> None:
    config = {"allowedAmiTypes": ["BOTTLEROCKET_x86_64"]}
    assert run(AMI, EKS_MNG, group(amiType="BOTTLEROCKET_x86_64"), config) == []
    (message,) = run(AMI, EKS_MNG, group(amiType="AL2023_x86_64_STANDARD"), config)
    assert "not an x86_64 type in ['BOTTLEROCKET_x86_64']" in message


def test_the_ami_config_schema() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({AMI: {"allowedAmiTypes": value}}, policies)

    assert problems(["AL2_x86_64"]) == [] and problems("AL2_x86_64") and problems([1])
    schema = POLICIES[AMI].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["type"] == "array" and entry["items"] == {"type": "string"}
    assert entry["default"] == ["AL2023_x86_64_STANDARD", "AL2_x86_64"] and entry["description"]


# --- aws-ec2-launch-template-imdsv2-hop-limit-1 --------------------------------------------------


@pytest.mark.parametrize("typ", MANAGED)
def test_a_node_group_without_a_launch_template_gets_eks_default_metadata(typ: str) -> None:
    (message,) = run(IMDS, typ, group(launchTemplate=UNSET))
    assert (
        f"{typ} 'nodes': launchTemplate: no launch template, so the instance metadata options "
        "(hop limit 2 on AL2023) are EKS defaults"
    ) in message
    assert run(IMDS, typ, group(launchTemplate=UNKNOWN_OBJECT_VALUE)) == []


def test_a_node_group_is_not_judged_by_launch_template_fields() -> None:
    # The template is its own resource: a group's stray metadataOptions is not read.
    stray = group(metadataOptions={"httpTokens": "optional", "httpPutResponseHopLimit": 2})
    assert run(IMDS, EKS_MNG, stray) == []


def test_no_metadata_options_is_a_violation() -> None:
    (message,) = run(IMDS, LT, template(metadataOptions=UNSET))
    assert "'nodes': metadataOptions: unset: IMDSv1 stays allowed" in message
    assert run(IMDS, LT, template(metadataOptions=UNKNOWN_OBJECT_VALUE)) == []


@pytest.mark.parametrize("tokens", ["optional", "Required", UNSET])
def test_imds_v1_allowed_is_a_violation(tokens: Any) -> None:
    (message,) = run(IMDS, LT, metadata(httpTokens=tokens))
    shown = "(unset)" if tokens is UNSET else f'"{tokens}"'
    assert f'metadataOptions.httpTokens: {shown}, expected "required" (IMDSv2 only)' in message


def test_unknown_tokens_are_not_a_violation_but_the_hop_limit_is_still_read() -> None:
    assert run(IMDS, LT, metadata(httpTokens=UNKNOWN_STRING_VALUE)) == []
    (message,) = run(IMDS, LT, metadata(httpTokens=UNKNOWN_STRING_VALUE, httpPutResponseHopLimit=2))
    assert "metadataOptions.httpPutResponseHopLimit" in message


@pytest.mark.parametrize("hop", [1, 1.0, "1", 0])
def test_a_hop_limit_of_one_passes(hop: Any) -> None:
    assert run(IMDS, LT, metadata(httpPutResponseHopLimit=hop)) == []


@pytest.mark.parametrize("hop", [2, 2.0, "2", 1.5, 64])
def test_a_hop_limit_above_one_is_a_violation(hop: Any) -> None:
    (message,) = run(IMDS, LT, metadata(httpPutResponseHopLimit=hop))
    assert "'nodes': metadataOptions.httpPutResponseHopLimit: " in message
    assert "expected 1: a container one hop away could reach the node's credentials" in message


@pytest.mark.parametrize("hop", [UNSET, "one", True])
def test_a_hop_limit_that_is_not_a_number_is_a_violation(hop: Any) -> None:
    # Unset: the AMI's default applies (2 on AL2023).
    (message,) = run(IMDS, LT, metadata(httpPutResponseHopLimit=hop))
    shown = "(unset)" if hop is UNSET else ("true" if hop is True else f'"{hop}"')
    assert f"metadataOptions.httpPutResponseHopLimit: {shown}, expected 1" in message


def test_an_unknown_hop_limit_is_not_a_violation() -> None:
    assert run(IMDS, LT, metadata(httpPutResponseHopLimit=UNKNOWN_NUMBER_VALUE)) == []


def test_optional_tokens_and_hop_limit_two_are_two_findings() -> None:
    found = run(IMDS, LT, metadata(httpTokens="optional", httpPutResponseHopLimit=2))
    assert len(found) == 2
    assert "metadataOptions.httpTokens: " in found[0]
    assert "metadataOptions.httpPutResponseHopLimit: 2, expected 1" in found[1]


def test_the_hop_limit_comes_from_the_config() -> None:
    config = {"maxHopLimit": 2}
    assert run(IMDS, LT, metadata(httpPutResponseHopLimit=2), config) == []
    (message,) = run(IMDS, LT, metadata(httpPutResponseHopLimit=3), config)
    assert "httpPutResponseHopLimit: 3, expected 2:" in message


@pytest.mark.parametrize("endpoint", ["enabled", "disabled", UNSET, UNKNOWN_STRING_VALUE])
def test_known_or_unset_endpoint_values_pass(endpoint: Any) -> None:
    assert run(IMDS, LT, metadata(httpEndpoint=endpoint)) == []


@pytest.mark.parametrize("endpoint", ["on", "Enabled", ""])
def test_an_unknown_endpoint_value_is_a_violation(endpoint: str) -> None:
    (message,) = run(IMDS, LT, metadata(httpEndpoint=endpoint))
    assert f'metadataOptions.httpEndpoint: "{endpoint}" is not a known value' in message


def test_the_hop_limit_config_schema() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({IMDS: {"maxHopLimit": value}}, policies)

    assert problems(1) == [] and problems(64) == []
    assert problems(0) and problems(65) and problems(1.5) and problems("1")
    schema = POLICIES[IMDS].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["type"] == "integer" and entry["default"] == 1
    assert entry["minimum"] == 1 and entry["maximum"] == 64 and entry["description"]


# --- aws-ec2-launch-template-root-volume-encrypted -----------------------------------------------


@pytest.mark.parametrize("typ", MANAGED)
def test_a_node_group_without_a_launch_template_gets_unencrypted_volumes(typ: str) -> None:
    (message,) = run(VOLUME, typ, group(launchTemplate=UNSET))
    assert (
        f"{typ} 'nodes': launchTemplate: no launch template, so the root volume settings "
        "(unencrypted) are EKS defaults"
    ) in message
    assert run(VOLUME, typ, group(launchTemplate=UNKNOWN_OBJECT_VALUE)) == []


@pytest.mark.parametrize("mappings", [UNSET, []])
def test_no_block_device_mappings_is_a_violation(mappings: Any) -> None:
    (message,) = run(VOLUME, LT, template(blockDeviceMappings=mappings))
    assert "'nodes': blockDeviceMappings: unset: the root volume comes from the AMI" in message


def test_unknown_mappings_are_not_a_violation() -> None:
    assert run(VOLUME, LT, template(blockDeviceMappings=UNKNOWN_ARRAY_VALUE)) == []


@pytest.mark.parametrize("encrypted", ["true", True, "True", " true "])
def test_encrypted_however_written_passes(encrypted: Any) -> None:
    mapping = {"deviceName": "/dev/xvda", "ebs": {"encrypted": encrypted}}
    assert run(VOLUME, LT, volumes(mapping)) == []


@pytest.mark.parametrize("encrypted", ["false", False, "", "yes", UNSET])
def test_an_unencrypted_volume_in_a_later_position_is_a_violation(encrypted: Any) -> None:
    ebs: dict[str, Any] = {"volumeSize": 100}
    if encrypted is not UNSET:
        ebs["encrypted"] = encrypted
    found = run(VOLUME, LT, volumes(ENCRYPTED, {"deviceName": "/dev/xvdb", "ebs": ebs}))
    (message,) = found
    shown = {UNSET: "(unset)", False: "false"}.get(encrypted, f'"{encrypted}"')
    assert (
        f'blockDeviceMappings[1].ebs.encrypted: {shown}, expected true (device "/dev/xvdb")'
    ) in message


def test_a_mapping_without_ebs_or_device_name_is_a_violation() -> None:
    (message,) = run(VOLUME, LT, volumes({"deviceName": "/dev/xvda"}))
    assert 'blockDeviceMappings[0].ebs.encrypted: (unset), expected true (device "/dev/xvda")' in (
        message
    )
    (message,) = run(VOLUME, LT, volumes(ENCRYPTED, {"ebs": {"encrypted": "false"}}))
    assert "blockDeviceMappings[1].ebs.encrypted: " in message and "(device (unset))" in message


def test_every_unencrypted_volume_is_named() -> None:
    plain = {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "false"}}
    found = run(VOLUME, LT, volumes(plain, ENCRYPTED, {**plain, "deviceName": "/dev/xvdc"}))
    assert len(found) == 2
    assert "blockDeviceMappings[0]" in found[0] and "blockDeviceMappings[2]" in found[1]


def test_a_suppressed_device_is_skipped_but_an_empty_no_device_is_not() -> None:
    suppressed = {"deviceName": "/dev/xvdb", "noDevice": "true", "ebs": {"encrypted": "false"}}
    assert run(VOLUME, LT, volumes(suppressed, ENCRYPTED)) == []
    root = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}
    (message,) = run(VOLUME, LT, volumes(suppressed, root))
    assert 'blockDeviceMappings[1].ebs.encrypted: "false", expected true (device "/dev/xvda")' in (
        message
    )
    empty = {**suppressed, "noDevice": ""}
    (message,) = run(VOLUME, LT, volumes(empty, ENCRYPTED))
    assert "blockDeviceMappings[0].ebs.encrypted" in message


@pytest.mark.parametrize(
    "unknown",
    [
        UNKNOWN_OBJECT_VALUE,
        {"deviceName": "/dev/xvdb", "ebs": UNKNOWN_OBJECT_VALUE},
        {"deviceName": "/dev/xvdb", "ebs": {"encrypted": UNKNOWN_STRING_VALUE}},
    ],
)
def test_an_unknown_mapping_is_skipped_and_a_later_one_read(unknown: Any) -> None:
    assert run(VOLUME, LT, volumes(unknown, ENCRYPTED)) == []
    root = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}
    (message,) = run(VOLUME, LT, volumes(unknown, root))
    assert "blockDeviceMappings[1].ebs.encrypted" in message


DATA = {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "true", "volumeSize": 200}}


@pytest.mark.parametrize("name", ["/dev/xvdb", "/dev/sda1", "/dev/xvda1", "xvda", UNSET])
def test_mapping_only_other_devices_leaves_the_root_volume_unencrypted(name: Any) -> None:
    other = changed(DATA, {"deviceName": name})
    (message,) = run(VOLUME, LT, volumes(other))
    assert (
        "'nodes': blockDeviceMappings: no mapping for the root device \"/dev/xvda\": the root "
        "volume comes from the AMI snapshot unencrypted"
    ) in message


def test_the_root_mapping_in_a_later_position_counts() -> None:
    assert run(VOLUME, LT, volumes(DATA, ENCRYPTED)) == []
    # The other volumes are still judged.
    unencrypted_data = {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "false"}}
    (message,) = run(VOLUME, LT, volumes(unencrypted_data, ENCRYPTED))
    assert "blockDeviceMappings[0].ebs.encrypted" in message


def test_an_unencrypted_volume_and_no_root_are_two_findings() -> None:
    unencrypted_data = {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "false"}}
    found = run(VOLUME, LT, volumes(DATA, unencrypted_data))
    assert len(found) == 2
    assert "blockDeviceMappings[1].ebs.encrypted: " in found[0]
    assert "blockDeviceMappings: no mapping for the root device" in found[1]


@pytest.mark.parametrize(
    "unknown",
    [
        UNKNOWN_OBJECT_VALUE,
        {"deviceName": UNKNOWN_STRING_VALUE, "ebs": {"encrypted": "true"}},
    ],
)
def test_an_unknown_device_may_be_the_root(unknown: Any) -> None:
    assert run(VOLUME, LT, volumes(DATA, unknown)) == []
    assert run(VOLUME, LT, volumes(unknown, DATA)) == []


def test_the_root_device_comes_from_the_config() -> None:
    config = {"rootDeviceName": "/dev/sda1"}
    sda = {"deviceName": "/dev/sda1", "ebs": {"encrypted": "true"}}
    assert run(VOLUME, LT, volumes(DATA, sda), config) == []
    (message,) = run(VOLUME, LT, volumes(ENCRYPTED), config)
    assert 'no mapping for the root device "/dev/sda1"' in message


def test_the_root_device_config_schema() -> None:
    policies = registry.build_policies()

    def problems(value: Any) -> list[str]:
        return review_policies.config_problems({VOLUME: {"rootDeviceName": value}}, policies)

    assert problems("/dev/sda1") == [] and problems(1) and problems(["/dev/xvda"])
    schema = POLICIES[VOLUME].config_schema
    assert schema is not None
    (entry,) = schema.properties.values()
    assert entry["type"] == "string" and entry["default"] == "/dev/xvda" and entry["description"]


def test_the_rules_severities() -> None:
    assert POLICIES[TYPE].severity == Severity.MEDIUM
    assert POLICIES[AMI].severity == Severity.MEDIUM
    assert POLICIES[IMDS].severity == Severity.CRITICAL
    assert POLICIES[VOLUME].severity == Severity.HIGH
