"""A runner-scale-set pool as the gha-runner-scale-set chart takes and renders it, for the policy
tests: the values of a dind pool written the way the package writes one (containerMode unset, the
whole pod template with the pinned dind native sidecar, its own ServiceAccount, credentials by
Secret name), the release carrying them, and the AutoscalingRunnerSet Helm's engine renders from
them with the pinned chart (from the chart cache, `make charts`)."""

from __future__ import annotations

import copy
from typing import Any

from arc_eks.review import helm_render
from arc_eks.versions import KUBERNETES_VERSION
from policies.arc_policies import scale_sets

VERSION = "0.14.2"
NAMESPACE = "runners-payments"
RUNNER_IMAGE = "ghcr.io/actions/actions-runner:2.329.0"
DIND_IMAGE = "docker:28.0.4-dind"
DIGEST = "sha256:" + "a" * 64
OCI = "oci://ghcr.io/actions/actions-runner-controller-charts"

# A dind pool as the package writes it: containerMode unset, the whole pod template with the
# pinned dind native sidecar, its own ServiceAccount, credentials by Secret name.
BASE_VALUES: dict[str, Any] = {
    "githubConfigUrl": "https://github.com/acme",
    "githubConfigSecret": "github-credentials",
    "runnerScaleSetName": "payments-build",
    "minRunners": 1,
    "maxRunners": 4,
    "controllerServiceAccount": {"name": "gha-rs-controller", "namespace": "arc-scale-sets"},
    "labels": {"arc-eks.io/team": "payments", "arc-eks.io/pool": "build"},
    "template": {
        "spec": {
            "serviceAccountName": "build-runner",
            # A dind pool: its team's privileged node group, exactly.
            "nodeSelector": {"arc-eks.io/isolation": "privileged-payments"},
            "tolerations": [
                {
                    "key": "arc-eks.io/isolation",
                    "operator": "Equal",
                    "value": "privileged-payments",
                    "effect": "NoSchedule",
                }
            ],
            "automountServiceAccountToken": False,
            "securityContext": {"fsGroup": 123, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [
                {
                    "name": "init-dind-externals",
                    "image": RUNNER_IMAGE,
                    "command": ["cp"],
                    "args": ["-r", "/home/runner/externals/.", "/home/runner/tmpDir/"],
                    "volumeMounts": [
                        {"name": "dind-externals", "mountPath": "/home/runner/tmpDir"}
                    ],
                },
                {
                    "name": "dind",
                    "image": DIND_IMAGE,
                    "restartPolicy": "Always",
                    "args": ["dockerd", "--host=unix:///var/run/docker.sock"],
                    "securityContext": {"privileged": True},
                    "startupProbe": {"exec": {"command": ["docker", "info"]}},
                    "volumeMounts": [
                        {"name": "work", "mountPath": "/home/runner/_work"},
                        {"name": "dind-sock", "mountPath": "/var/run"},
                        {"name": "dind-externals", "mountPath": "/home/runner/externals"},
                    ],
                },
            ],
            "containers": [
                {
                    "name": "runner",
                    "image": RUNNER_IMAGE,
                    "command": ["/home/runner/run.sh"],
                    "env": [{"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"}],
                    "volumeMounts": [
                        {"name": "work", "mountPath": "/home/runner/_work"},
                        {"name": "dind-sock", "mountPath": "/var/run"},
                    ],
                }
            ],
            "volumes": [
                {"name": "work", "emptyDir": {}},
                {"name": "dind-sock", "emptyDir": {}},
                {"name": "dind-externals", "emptyDir": {}},
            ],
        }
    },
}
# Named after "runner" in sort order: a rule comparing names by order must fail the tests.
SIDECAR = {"name": "shipper", "image": "fluent/fluent-bit:3.1.9"}


def render_set(values: dict[str, Any], name: str = "payments-build") -> dict[str, Any]:
    """The AutoscalingRunnerSet the pinned runner-set chart renders from `values`."""
    spec = helm_render.ReleaseSpec(
        name, name, scale_sets.RUNNER_SET_CHART, VERSION, NAMESPACE, copy.deepcopy(values)
    )
    (found,) = [
        o.manifest
        for o in helm_render.render_release(spec, f"v{KUBERNETES_VERSION}.0")
        if o.kind == "AutoscalingRunnerSet"
    ]
    return found


def release(values: dict[str, Any], *, chart: str = scale_sets.RUNNER_SET_CHART) -> dict[str, Any]:
    return {
        "name": "payments-build",
        "chart": chart,
        "version": VERSION,
        "namespace": NAMESPACE,
        "repositoryOpts": {"repo": OCI},
        "values": copy.deepcopy(values),
    }
