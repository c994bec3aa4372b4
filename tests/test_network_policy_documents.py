"""The NetworkPolicies of a runner namespace, compared whole: they are the product, and small.

tests/test_isolation.py checks what they allow (egress evaluated for addresses and ports) and that
every runner namespace gets them under Pulumi mocks; this file pins every field, so a dropped
`except` range, port or policy type fails here by name.
"""

from __future__ import annotations

from typing import Any

from arc_eks.builders import network_policy
from arc_eks.builders.network_policy import runner_network_policies

MANAGED = {"app.kubernetes.io/managed-by": "arc-eks"}


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": MANAGED}


def _base(namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("default-deny", namespace),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("allow-dns", namespace),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("allow-internet-egress", namespace),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "ipBlock": {
                                    "cidr": "0.0.0.0/0",
                                    "except": [
                                        "0.0.0.0/8",
                                        "10.0.0.0/8",
                                        "100.64.0.0/10",
                                        "127.0.0.0/8",
                                        "169.254.0.0/16",
                                        "172.16.0.0/12",
                                        "192.168.0.0/16",
                                    ],
                                }
                            }
                        ]
                    }
                ],
            },
        },
    ]


def test_a_namespace_without_api_server_access() -> None:
    assert runner_network_policies("runners-alpha") == _base("runners-alpha")
    assert runner_network_policies("runners-alpha", api_server_pods=None) == _base("runners-alpha")
    # No labels selects no pod for the API server rule: no policy at all (an empty podSelector
    # would give every pod of the namespace the API server).
    assert runner_network_policies("runners-alpha", api_server_pods={}) == _base("runners-alpha")


def test_a_kubernetes_mode_namespace() -> None:
    runner = {"arc-eks.io/team": "alpha", "arc-eks.io/pool": "jobs"}
    policies = runner_network_policies("runners-alpha-jobs", api_server_pods=runner)
    assert policies == [
        *_base("runners-alpha-jobs"),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("allow-api-server", "runners-alpha-jobs"),
            "spec": {
                "podSelector": {"matchLabels": runner},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {"ipBlock": {"cidr": "10.100.0.1/32"}},
                            {"ipBlock": {"cidr": "172.20.0.1/32"}},
                        ],
                        "ports": [{"protocol": "TCP", "port": 443}],
                    }
                ],
            },
        },
    ]


def test_no_two_namespaces_share_an_object() -> None:
    first = network_policy.runner_network_policies("runners-a")
    second = network_policy.runner_network_policies("runners-b")
    dns_a = next(p for p in first if p["metadata"]["name"] == network_policy.ALLOW_DNS)
    dns_b = next(p for p in second if p["metadata"]["name"] == network_policy.ALLOW_DNS)
    dns_a["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]["k8s-app"] = "changed"
    assert dns_b["spec"]["egress"][0]["to"][0] == network_policy.DNS_PEER
    assert network_policy.DNS_PEER["podSelector"]["matchLabels"]["k8s-app"] == "kube-dns"
