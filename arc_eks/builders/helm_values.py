"""Helm values for the three charts, as plain dicts.

Every key set here must be a key the pinned chart knows (tests check it against
../shared/reference). Inputs that are only known at deploy time (role ARNs) come in as arguments and
may be `pulumi.Output`s: these functions only place them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arc_eks import versions
from arc_eks.builders.registry import (
    ImageCachePlan,
    cached_image,
    cached_registry,
    cached_repository,
)

# The controller's auth Secret, created by the program (never by the chart, so no token sits in
# Helm values or in the Helm release Secret). Keys are the ones the chart's deployment reads.
ARC_AUTH_SECRET_NAME = "controller-manager"
ARC_WEBHOOK_SECRET_NAME = "github-webhook-server"
ARC_NAMESPACE = "actions-runner-system"
CERT_MANAGER_NAMESPACE = "cert-manager"
CLUSTER_AUTOSCALER_NAMESPACE = "kube-system"
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def _spread_over_nodes(app_name: str, instance: str | None = None) -> dict[str, Any]:
    """Prefer replicas on different nodes, so one node drain never takes all of them."""
    labels = {"app.kubernetes.io/name": app_name}
    if instance is not None:
        labels["app.kubernetes.io/instance"] = instance
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": labels},
                    },
                }
            ]
        }
    }


def cert_manager_values(image_cache: ImageCachePlan | None = None) -> dict[str, Any]:
    """cert-manager with its CRDs installed and kept on uninstall (deleting them deletes every
    Certificate in the cluster, including ARC's webhook certificate). Its images (controller,
    webhook, cainjector, startupapicheck, ACME solver) are <imageRegistry>/<imageNamespace>/...:
    through the cache, imageRegistry is the cached Quay path."""
    return {
        "imageRegistry": cached_registry(versions.CERT_MANAGER_IMAGE_REGISTRY, image_cache),
        "imageNamespace": versions.CERT_MANAGER_IMAGE_NAMESPACE,
        "crds": {"enabled": True, "keep": True},
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
        "webhook": {"resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}},
        "cainjector": {"resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}},
    }


def cluster_autoscaler_values(
    *, cluster_name: str, region: Any, role_arn: Any, image_cache: ImageCachePlan | None = None
) -> dict[str, Any]:
    """cluster-autoscaler discovering this cluster's node groups by their ASG tags.

    Ref: kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md (auto-discovery).
    """
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {
            "repository": cached_repository(
                versions.CLUSTER_AUTOSCALER_IMAGE_REPOSITORY, image_cache
            ),
            "tag": versions.pins().cluster_autoscaler_image_tag,
        },
        "rbac": {
            "serviceAccount": {
                "create": True,
                "name": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
                "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
            }
        },
        "extraArgs": {
            # ARC does not mark runner pods for the autoscaler (no safe-to-evict annotation in
            # the v0.27.6 controller). A node holding any runner pod, busy or idle, is never
            # scaled down because of skip-nodes-with-custom-controller-pods (default true; runner
            # pods are owned by ARC's Runner resource): busy runners are never evicted, and nodes
            # holding idle `min` runners stay too (docs/runner-pools.md, cost of `min`). Nodes
            # left with only system pods scale down after 5 minutes; emptyDirs must not pin them.
            "balance-similar-node-groups": True,
            "skip-nodes-with-local-storage": False,
            "expander": "least-waste",
            "scale-down-unneeded-time": "5m",
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "300Mi"},
            "limits": {"memory": "600Mi"},
        },
    }


def arc_controller_values(
    *,
    replicas: int,
    sync_period: str,
    log_format: str,
    enterprise_url: str | None,
    service_monitor: bool,
    webhook_server: bool,
    kubernetes_container_mode: bool,
    webhook_allowed_cidrs: Sequence[str] = (),
    webhook_certificate_arn: str | None = None,
    plain_metrics: bool = False,
    image_cache: ImageCachePlan | None = None,
) -> dict[str, Any]:
    """The legacy ARC controller: HA, pinned images, auth from a Secret the program creates.

    `plain_metrics` (stack monitoring on): no kube-rbac-proxy sidecar; the manager itself serves
    /metrics over HTTP on the metrics Service's port, for the ServiceMonitor or the managed
    scraper (which cannot present the bearer token the proxy wants). Runner pods cannot reach it:
    their NetworkPolicies allow no in-cluster peer."""
    values: dict[str, Any] = {
        "replicaCount": replicas,
        "syncPeriod": sync_period,
        "logFormat": log_format,
        # The chart reads credentials from this existing Secret; `create: false` keeps every token
        # out of Helm values (and out of the Helm release record).
        "authSecret": {"enabled": True, "create": False, "name": ARC_AUTH_SECRET_NAME},
        "image": {
            # The chart has no image.tag: the controller image tag is the chart's appVersion
            # (v0.27.6 for chart 0.23.7), so the chart pin pins the image.
            "repository": cached_repository(versions.ARC_CONTROLLER_IMAGE_REPOSITORY, image_cache),
            # Defaults for runners that name no image: pinned, never the chart's unpinned default.
            "actionsRunnerRepositoryAndTag": cached_image(versions.RUNNER_IMAGE, image_cache),
            "dindSidecarRepositoryAndTag": cached_image(versions.DIND_IMAGE, image_cache),
        },
        "certManagerEnabled": True,
        "podDisruptionBudget": (
            {"enabled": True, "minAvailable": 1} if replicas > 1 else {"enabled": False}
        ),
        "affinity": _spread_over_nodes("actions-runner-controller"),
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "metrics": {
            "serviceMonitor": {"enable": service_monitor},
            # The kube-rbac-proxy sidecar (controller and webhook server), pinned in versions.py.
            "proxy": {
                "image": {
                    "repository": cached_repository(
                        versions.KUBE_RBAC_PROXY_IMAGE_REPOSITORY, image_cache
                    ),
                    "tag": versions.KUBE_RBAC_PROXY_IMAGE_TAG,
                }
            },
        },
    }
    if plain_metrics:
        # Chart 0.23.7 deployment.yaml: without the proxy the manager listens on
        # 0.0.0.0:<metrics.port> (8443) and the container port is named metrics-port.
        values["metrics"]["proxy"] = {"enabled": False}
    if enterprise_url:
        values["githubEnterpriseServerURL"] = enterprise_url
    if kubernetes_container_mode:
        # Runners in container mode "kubernetes" need a Role to create job pods; without this the
        # API server refuses ARC the escalation. Ref: ARC PR 1268.
        values["rbac"] = {"allowGrantingKubernetesContainerModePermissions": True}
    if webhook_server:
        values["githubWebhookServer"] = {
            "enabled": True,
            "replicaCount": 2 if replicas > 1 else 1,
            # Chart 0.23.7 always reads the webhook secret token from the Secret named here
            # (githubwebhook.deployment.yaml); `secret.enabled` only adds GitHub API credentials
            # when useRunnerGroupsVisibility is on, which this program leaves off, so it is unset.
            "secret": {"create": False, "name": ARC_WEBHOOK_SECRET_NAME},
            # The pods' labels in chart 0.23.7 (_github_webhook_server_helpers.tpl): name is the
            # chart's, instance is "<release>-github-webhook-server".
            "affinity": _spread_over_nodes(
                "actions-runner-controller",
                "actions-runner-controller-github-webhook-server",
            ),
            "resources": {
                "requests": {"cpu": "50m", "memory": "64Mi"},
                "limits": {"memory": "256Mi"},
            },
            "podDisruptionBudget": (
                {"enabled": True, "minAvailable": 1} if replicas > 1 else {"enabled": False}
            ),
            "service": _webhook_service(webhook_allowed_cidrs, webhook_certificate_arn),
        }
    return values


def _webhook_service(allowed_cidrs: Sequence[str], certificate_arn: str | None) -> dict[str, Any]:
    """GitHub must reach the webhook server: an internet-facing NLB (the in-tree AWS cloud
    provider's `nlb` type, no extra controller needed) admitting only `allowed_cidrs`, with TLS
    from ACM on 443 when a certificate is given.
    Ref: https://kubernetes.io/docs/reference/labels-annotations-taints/
    (the service.beta.kubernetes.io/aws-load-balancer-* annotations)
    """
    annotations = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    port = {"port": 80, "targetPort": "http", "protocol": "TCP", "name": "http"}
    if certificate_arn:
        annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] = certificate_arn
        annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] = "https"
        port = {"port": 443, "targetPort": "http", "protocol": "TCP", "name": "https"}
    return {
        "type": "LoadBalancer",
        "annotations": annotations,
        "ports": [port],
        "loadBalancerSourceRanges": list(allowed_cidrs),
    }
