"""NetworkPolicies of a runner namespace: deny everything, then allow what a job needs.

Enforced by the VPC CNI's network policy agent (the vpc-cni add-on with network policy on; see
`components.cluster`). Its eBPF probes sit on the pod's veth and so see a packet before kube-proxy
rewrites a Service address: a rule must name the address the pod dials. For `podSelector` peers
the network policy controller adds the ClusterIP of every Service selecting those pods (so the
DNS rule below covers the kube-dns Service); the `kubernetes` Service has no selector, so the API
server rule names its ClusterIP. Ref: aws/amazon-network-policy-controller-k8s
pkg/resolvers/endpoints.go (getMatchingServiceClusterIPs).

What is never allowed: other pods (any namespace, the same one included: a job's service
containers share its pod's network namespace, in dind inside the pod's own Docker network and in
kubernetes mode as containers of the job pod, so they need no rule), the nodes, the VPC, the node's
instance metadata service and every other link-local address, and any ingress at all.
"""

from __future__ import annotations

import copy
from typing import Any

from arc_eks.builders.runner import MANAGED_BY, POOL_LABEL

NETWORK_POLICY_API_VERSION = "networking.k8s.io/v1"

# Never reachable from a runner pod by the internet rule: RFC 1918 (the VPC, its pods and nodes,
# the Service ranges EKS picks, peered networks), RFC 6598 shared space (secondary pod CIDRs),
# link-local (IMDS 169.254.169.254, the EKS Pod Identity agent, the Amazon DNS resolver at
# 169.254.169.253), loopback and "this network".
PRIVATE_RANGES = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
)
INTERNET = "0.0.0.0/0"

# The `kubernetes` Service's ClusterIP: the first address of the Service range, which EKS takes
# from 10.100.0.0/16 or 172.20.0.0/16 when the cluster names none (the project never does).
# Ref: EKS API KubernetesNetworkConfigRequest.serviceIpv4Cidr.
API_SERVER_SERVICE_IPS = ("10.100.0.1/32", "172.20.0.1/32")
API_SERVER_PORT = 443

# CoreDNS pods (EKS add-on) carry k8s-app=kube-dns in kube-system.
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}

DEFAULT_DENY = "default-deny"
ALLOW_DNS = "allow-dns"
ALLOW_INTERNET = "allow-internet-egress"
ALLOW_API_SERVER = "allow-api-server"
ALLOW_REGISTRY_MIRROR = "allow-registry-mirror"


def _policy(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": NETWORK_POLICY_API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def runner_network_policies(
    namespace: str, *, api_server_pods: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The NetworkPolicies of one runner namespace.

    `api_server_pods`: labels of the pods that may reach the API server (a kubernetes-mode pool's
    runner pods, whose container hooks create the job pods), or None for no API server access.
    The job pods the hooks create do not carry those labels, and the admission policy refuses
    job pods that do (`builders.admission`).
    """
    policies = [
        # Selects every pod for both directions with no rule: nothing in, nothing out, except
        # what the policies below allow (NetworkPolicies add up).
        _policy(namespace, DEFAULT_DENY, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            namespace,
            ALLOW_DNS,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        # A copy per policy: no two manifests share a mutable object.
                        "to": [copy.deepcopy(DNS_PEER)],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    }
                ],
            },
        ),
        # GitHub, AWS APIs, registries: any public address, on any port (jobs use git over SSH,
        # registries on odd ports, ...), never a private or link-local one.
        _policy(
            namespace,
            ALLOW_INTERNET,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"ipBlock": {"cidr": INTERNET, "except": list(PRIVATE_RANGES)}}]}
                ],
            },
        ),
    ]
    if api_server_pods:
        policies.append(
            _policy(
                namespace,
                ALLOW_API_SERVER,
                {
                    "podSelector": {"matchLabels": dict(api_server_pods)},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"ipBlock": {"cidr": cidr}} for cidr in API_SERVER_SERVICE_IPS],
                            "ports": [{"protocol": "TCP", "port": API_SERVER_PORT}],
                        }
                    ],
                },
            )
        )
    return policies


def registry_mirror_policy(
    namespace: str, dind_pools: list[str], cidrs: tuple[str, ...] | list[str], port: int
) -> dict[str, Any]:
    """Egress from the runner pods of `dind_pools` (their dind daemons pull through the mirror)
    to the organisation's registry mirror on a private address: its networks
    (imageCache.dindRegistryMirrorCidrs, each at most a /24, never link-local) on its TCP port
    only. Every other private address stays denied."""
    return _policy(
        namespace,
        ALLOW_REGISTRY_MIRROR,
        {
            "podSelector": {
                "matchExpressions": [
                    {"key": POOL_LABEL, "operator": "In", "values": sorted(dind_pools)}
                ]
            },
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ],
        },
    )
