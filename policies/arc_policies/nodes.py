"""Worker nodes: instance types, AMI architecture, launch template IMDS and root-volume encryption.

Checked on the pulumi-eks component inputs (`eks:index:ManagedNodeGroup`, `eks:index:Cluster`'s
default node group) and on the raw resources a real preview also shows (`aws:eks/nodeGroup:NodeGroup`,
`aws:ec2/launchTemplate:LaunchTemplate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, as_list, as_number, get, is_true, show

EKS_CLUSTER = "eks:index:Cluster"
EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
EKS_NODE_GROUP = "eks:index:NodeGroup"
EKS_NODE_GROUP_V2 = "eks:index:NodeGroupV2"
AWS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
MANAGED_GROUPS = frozenset({EKS_MANAGED_NODE_GROUP, AWS_NODE_GROUP})


def _instance_types(typ: str, props: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, instance type) pairs a resource asks for; a missing type yields (path, None)."""
    if typ in MANAGED_GROUPS:
        types = get(props, "instanceTypes")
        if types is UNKNOWN:
            return
        if not types:
            # Without a list, EKS uses t3.medium, unless the launch template names a type (which
            # the launch template rule then checks).
            if get(props, "launchTemplate") is None:
                yield "instanceTypes", None
            return
        for index, value in enumerate(as_list(types)):
            yield f"instanceTypes[{index}]", value
    elif typ == LAUNCH_TEMPLATE:
        value = get(props, "instanceType")
        if value is not None:
            yield "instanceType", value
    elif typ == EKS_CLUSTER:
        if (
            is_true(get(props, "skipDefaultNodeGroup"))
            or get(props, "skipDefaultNodeGroup") is UNKNOWN
        ):
            return
        # The default node group of eks.Cluster is t3.medium unless instanceType says otherwise.
        yield "instanceType", get(props, "instanceType")
    elif typ in (EKS_NODE_GROUP, EKS_NODE_GROUP_V2):
        yield "instanceType", get(props, "instanceType")


def check_instance_type(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    allowed = list(config["allowedInstanceTypes"])
    for path, value in _instance_types(typ, props):
        if value is UNKNOWN:
            continue
        if value not in allowed:
            shown = (
                show(value) if value is not None else "(unset: AWS/pulumi-eks default t3.medium)"
            )
            yield Finding(path, f"instance type {shown} is not in the allowlist {allowed}")


INSTANCE_TYPE_ALLOWLIST = Rule(
    name="aws-eks-node-instance-type-allowlist",
    description="Runner nodes use an instance type from the allowlist (default t3a.large): the "
    "capacity model, pod density (35 pods) and cost estimates assume it.",
    remediation="set nodeGroup.instanceType to an allowed type (instanceTypes on the managed node "
    "group, instanceType on its launch template), or skip the default node group of eks.Cluster "
    "(skipDefaultNodeGroup: true)",
    resource_types=frozenset(
        {EKS_CLUSTER, EKS_MANAGED_NODE_GROUP, EKS_NODE_GROUP, EKS_NODE_GROUP_V2, AWS_NODE_GROUP}
        | {LAUNCH_TEMPLATE}
    ),
    check=check_instance_type,
    config={
        "allowedInstanceTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["t3a.large"],
            "description": "EC2 instance types runner nodes may use.",
        }
    },
    severity=Severity.MEDIUM,
)


def check_ami_type(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    ami_type = get(props, "amiType")
    if ami_type is UNKNOWN or ami_type is None:
        return  # EKS picks the x86_64 AMI of the cluster's version (AL2023_x86_64_STANDARD)
    allowed = list(config["allowedAmiTypes"])
    if ami_type not in allowed:
        yield Finding(
            "amiType",
            f"AMI type {show(ami_type)} is not an x86_64 type in {allowed} (the runner and dind "
            "images are amd64, and t3a is x86_64)",
        )


AMI_X86_64 = Rule(
    name="aws-eks-node-ami-x86-64",
    description="Managed node groups use an x86_64 AMI type (AL2023_x86_64_STANDARD or AL2_x86_64): "
    "t3a instances are x86_64 and the runner images are built for amd64.",
    remediation="set amiType: AL2023_x86_64_STANDARD on the managed node group",
    resource_types=MANAGED_GROUPS,
    check=check_ami_type,
    config={
        "allowedAmiTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["AL2023_x86_64_STANDARD", "AL2_x86_64"],
            "description": "AMI types node groups may use (x86_64 only).",
        }
    },
    severity=Severity.MEDIUM,
)


def _missing_launch_template(typ: str, props: dict[str, Any], what: str) -> Iterator[Finding]:
    if typ in MANAGED_GROUPS and get(props, "launchTemplate") is None:
        yield Finding(
            "launchTemplate",
            f"no launch template, so {what} are EKS defaults; give the node group its own "
            "aws.ec2.LaunchTemplate",
        )


def check_imds(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    if typ in MANAGED_GROUPS:
        yield from _missing_launch_template(
            typ, props, "the instance metadata options (hop limit 2 on AL2023)"
        )
        return
    options = get(props, "metadataOptions")
    if options is UNKNOWN:
        return
    if options is None:
        yield Finding(
            "metadataOptions",
            "unset: IMDSv1 stays allowed and the AMI's hop limit applies (2 on AL2023), so pods "
            "can read the node role's credentials",
        )
        return
    tokens = get(options, "httpTokens")
    if tokens is not UNKNOWN and tokens != "required":
        yield Finding(
            "metadataOptions.httpTokens", f'{show(tokens)}, expected "required" (IMDSv2 only)'
        )
    hop_limit = get(options, "httpPutResponseHopLimit")
    if hop_limit is UNKNOWN:
        return
    maximum = float(config["maxHopLimit"])
    number = as_number(hop_limit)
    if number is None or number > maximum:
        yield Finding(
            "metadataOptions.httpPutResponseHopLimit",
            f"{show(hop_limit)}, expected {int(maximum)}: a container one hop away could reach "
            "the node's credentials through IMDS",
        )
    endpoint = get(options, "httpEndpoint")
    if endpoint not in (None, UNKNOWN, "enabled", "disabled"):
        yield Finding("metadataOptions.httpEndpoint", f"{show(endpoint)} is not a known value")


IMDSV2_HOP_LIMIT_1 = Rule(
    name="aws-ec2-launch-template-imdsv2-hop-limit-1",
    description="Node launch templates require IMDSv2 (metadataOptions.httpTokens: required) with "
    "a PUT response hop limit of 1, so runner pods (one hop away) cannot take the node role's "
    "credentials; pods get AWS access through IRSA only.",
    remediation="in the node launch template set metadataOptions = {httpTokens: required, "
    "httpPutResponseHopLimit: 1, httpEndpoint: enabled}; managed node groups must use that launch "
    "template",
    resource_types=frozenset({LAUNCH_TEMPLATE}) | MANAGED_GROUPS,
    check=check_imds,
    config={
        "maxHopLimit": {
            "type": "integer",
            "minimum": 1,
            "maximum": 64,
            "default": 1,
            "description": "Largest httpPutResponseHopLimit allowed.",
        }
    },
    severity=Severity.CRITICAL,
)


def check_root_volume(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    if typ in MANAGED_GROUPS:
        yield from _missing_launch_template(typ, props, "the root volume settings (unencrypted)")
        return
    mappings = get(props, "blockDeviceMappings")
    if mappings is UNKNOWN:
        return
    if not mappings:
        yield Finding(
            "blockDeviceMappings",
            "unset: the root volume comes from the AMI snapshot unencrypted (unless the account "
            "encrypts EBS by default, which the template cannot show)",
        )
        return
    root = config["rootDeviceName"]
    root_seen = False
    for index, mapping in enumerate(as_list(mappings)):
        if mapping is UNKNOWN or get(mapping, "deviceName") in (root, UNKNOWN):
            root_seen = True  # an unknown entry may be the root's
        if mapping is UNKNOWN:
            continue
        encrypted = get(mapping, "ebs", "encrypted")
        if encrypted is UNKNOWN or get(mapping, "ebs") is UNKNOWN:
            continue
        if get(mapping, "noDevice") not in (None, ""):
            continue
        if not is_true(encrypted):
            yield Finding(
                f"blockDeviceMappings[{index}].ebs.encrypted",
                f"{show(encrypted)}, expected true (device {show(get(mapping, 'deviceName'))})",
            )
    if not root_seen:
        # Mapping only other devices leaves the root volume to the AMI snapshot: unencrypted.
        yield Finding(
            "blockDeviceMappings",
            f"no mapping for the root device {show(root)}: the root volume comes from the AMI "
            "snapshot unencrypted",
        )


ROOT_VOLUME_ENCRYPTED = Rule(
    name="aws-ec2-launch-template-root-volume-encrypted",
    description="Node volumes, the root volume among them, are encrypted: runner work directories "
    "and docker layers hold source code, build caches and credentials written by jobs.",
    remediation="in the node launch template add blockDeviceMappings = [{deviceName: /dev/xvda, "
    'ebs: {encrypted: "true", volumeType: gp3, volumeSize: <GiB>}}]',
    resource_types=frozenset({LAUNCH_TEMPLATE}) | MANAGED_GROUPS,
    check=check_root_volume,
    config={
        "rootDeviceName": {
            "type": "string",
            "default": "/dev/xvda",
            "description": "The node AMI's root device, which the launch template must map "
            "(/dev/xvda on the EKS-optimized AL2023 and AL2 AMIs).",
        }
    },
    severity=Severity.HIGH,
)

RULES = (INSTANCE_TYPE_ALLOWLIST, AMI_X86_64, IMDSV2_HOP_LIMIT_1, ROOT_VOLUME_ENCRYPTED)
