"""The EKS control plane: secrets encryption, control-plane logs, API endpoint exposure.

Checked on `eks:index:Cluster` (pulumi-eks component inputs) and `aws:eks/cluster:Cluster`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, as_list, get, is_false, show

EKS_CLUSTER = "eks:index:Cluster"
AWS_CLUSTER = "aws:eks/cluster:Cluster"
CLUSTERS = frozenset({EKS_CLUSTER, AWS_CLUSTER})
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def check_secrets_encryption(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    if typ == EKS_CLUSTER:
        key = get(props, "encryptionConfigKeyArn")
        if key is not UNKNOWN and not key:
            yield Finding(
                "encryptionConfigKeyArn", "unset: Kubernetes Secrets are not KMS-encrypted"
            )
        return
    config_block = get(props, "encryptionConfig")
    if config_block is UNKNOWN:
        return
    blocks = as_list(config_block)
    if not blocks:
        yield Finding("encryptionConfig", "unset: Kubernetes Secrets are not KMS-encrypted")
        return
    block = blocks[0]
    resources = get(block, "resources")
    if resources is not UNKNOWN and "secrets" not in as_list(resources):
        yield Finding("encryptionConfig.resources", f'{show(resources)}, expected ["secrets"]')
    key = get(block, "provider", "keyArn")
    if key is not UNKNOWN and not key:
        yield Finding("encryptionConfig.provider.keyArn", "unset: no KMS key to encrypt with")


SECRETS_ENCRYPTION = Rule(
    name="aws-eks-cluster-secrets-encryption",
    description="The cluster envelope-encrypts Kubernetes Secrets with a KMS key: the "
    "controller's GitHub credential lives in a Secret.",
    remediation="create an aws.kms.Key (rotation on) and pass its ARN as eks.Cluster "
    "encryptionConfigKeyArn (aws.eks.Cluster: encryptionConfig = {resources: [secrets], "
    "provider: {keyArn}})",
    resource_types=CLUSTERS,
    check=check_secrets_encryption,
    severity=Severity.HIGH,
)


def check_logging(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    enabled = get(props, "enabledClusterLogTypes")
    if enabled is UNKNOWN:
        return
    present = [value for value in as_list(enabled) if value is not UNKNOWN]
    if any(value is UNKNOWN for value in as_list(enabled)):
        return
    missing = [log for log in config["requiredLogTypes"] if log not in present]
    if missing:
        yield Finding(
            "enabledClusterLogTypes",
            f"{show(present or None)} lacks {missing} (control-plane logs are the audit trail)",
        )


CONTROL_PLANE_LOGGING = Rule(
    name="aws-eks-cluster-control-plane-logging",
    description="All five control-plane log types (api, audit, authenticator, controllerManager, "
    "scheduler) go to CloudWatch: who changed what in the cluster must be traceable.",
    remediation="set enabledClusterLogTypes: [api, audit, authenticator, controllerManager, "
    "scheduler]",
    resource_types=CLUSTERS,
    check=check_logging,
    config={
        "requiredLogTypes": {
            "type": "array",
            "items": {"type": "string", "enum": LOG_TYPES},
            "default": LOG_TYPES,
            "description": "Control-plane log types that must be enabled.",
        }
    },
    severity=Severity.MEDIUM,
)


def _within(network: ipaddress.IPv4Network | ipaddress.IPv6Network, allowed: list[str]) -> bool:
    for entry in allowed:
        try:
            parent = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if network.version == parent.version and network.subnet_of(parent):  # type: ignore[arg-type]
            return True
    return False


def check_endpoint(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    prefix = "" if typ == EKS_CLUSTER else "vpcConfig."
    scope = props if typ == EKS_CLUSTER else get(props, "vpcConfig")
    if scope is UNKNOWN:
        return
    public = get(scope, "endpointPublicAccess")
    if public is UNKNOWN or is_false(public):
        return  # private only (or decided at update time)
    # Missing means true: both pulumi-eks and the EKS API default to a public endpoint.
    if not config["allowPublicEndpoint"]:
        yield Finding(
            f"{prefix}endpointPublicAccess",
            f"{show(public) if public is not None else '(unset, defaults to true)'}: this "
            "environment allows only a private API endpoint",
        )
        return
    cidrs = get(scope, "publicAccessCidrs")
    if cidrs is UNKNOWN:
        return
    if not cidrs:
        yield Finding(
            f"{prefix}publicAccessCidrs",
            "unset with a public endpoint: EKS then allows 0.0.0.0/0, the whole internet",
        )
        return
    allowed = list(config["allowedPublicAccessCidrs"])
    narrower: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for index, cidr in enumerate(as_list(cidrs)):
        if cidr is UNKNOWN:
            continue
        path = f"{prefix}publicAccessCidrs[{index}]"
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            yield Finding(path, f"{show(cidr)} is not a CIDR")
            continue
        if network.prefixlen == 0:
            yield Finding(path, f"{show(cidr)} opens the API server to the whole internet")
            continue
        narrower.append(network)
        if allowed and not _within(network, allowed):
            yield Finding(path, f"{show(cidr)} is outside the allowlist {allowed}")
    # Two halves (0.0.0.0/1, 128.0.0.0/1) are the whole internet as surely as 0.0.0.0/0.
    for version in (4, 6):
        family = [network for network in narrower if network.version == version]
        merged = ipaddress.collapse_addresses(family)  # type: ignore[type-var]
        if any(whole.prefixlen == 0 for whole in merged):
            yield Finding(
                f"{prefix}publicAccessCidrs",
                f"{show([str(network) for network in family])} together open the API server to "
                "the whole internet",
            )


ENDPOINT_RESTRICTED = Rule(
    name="aws-eks-cluster-endpoint-restricted",
    description="The Kubernetes API endpoint is private, or public only from an allowlist of "
    "CIDRs that never contains 0.0.0.0/0 or ::/0, nor CIDRs that together make one (a public "
    "endpoint with no publicAccessCidrs is open to the internet by AWS default).",
    remediation="set cluster.endpointPublicAccess: false, or list your office/VPN/CI egress "
    "ranges in cluster.publicAccessCidrs (within the policy's allowedPublicAccessCidrs)",
    resource_types=CLUSTERS,
    check=check_endpoint,
    config={
        "allowPublicEndpoint": {
            "type": "boolean",
            "default": True,
            "description": "Whether a public endpoint (with an allowlist) is acceptable at all.",
        },
        "allowedPublicAccessCidrs": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Networks publicAccessCidrs must fall within; empty: any CIDR except "
            "0.0.0.0/0 and ::/0.",
        },
    },
    severity=Severity.CRITICAL,
)

RULES = (SECRETS_ENCRYPTION, CONTROL_PLANE_LOGGING, ENDPOINT_RESTRICTED)
