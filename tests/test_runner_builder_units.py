"""The runner builders one function at a time, each manifest compared whole.

Every expected value is written out as it must reach the cluster (not read from the module's
constants, so a changed constant fails here): the team namespace's Pod Security labels, the
ServiceAccount, the container hooks' Role, the dind sidecar, the job pod template and its
ConfigMap, the RunnerDeployment of each docker mode and the HorizontalRunnerAutoscaler of each
metric. Pools are validated pool models (`tests.test_pool_spec.pool` + `accepted`), as the team
loader hands them over.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from arc_eks.builders import registry
from arc_eks.builders.registry import ImageCachePlan
from arc_eks.builders.runner import (
    container_hooks_rbac,
    hook_template_config_map,
    horizontal_runner_autoscaler_manifest,
    job_pod_template,
    namespace_manifest,
    pod_security_level,
    pool_namespace,
    runner_deployment_manifest,
    service_account_manifest,
)
from arc_eks.config.teams import DockerMode, ResolvedPool
from arc_eks.pools import runner_namespace_problems
from tests.test_pool_spec import accepted, pool

NODE = {"arc-eks.io/node-class": "runners"}
TOLERATIONS = (
    {"key": "arc-eks.io/runners", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "arc-eks.io/isolation", "operator": "Equal", "value": "dind", "effect": "NoExecute"},
)
KANIKO_IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/platform/kaniko-runner:1.4.0"
ROLE_ARN = "arn:aws:iam::111122223333:role/arc-eks-dev-payments-build"
LABELS = {
    "app.kubernetes.io/managed-by": "arc-eks",
    "arc-eks.io/team": "payments",
    "arc-eks.io/pool": "build",
}
RUNNER_ARGS = (
    'limit="${WAIT_FOR_DOCKER_SECONDS:-120}"; '
    'if ! timeout "${limit}s" bash -c "until docker ps >/dev/null 2>&1; do sleep 1; done"; then '
    'echo "dockerd in the docker sidecar did not answer within ${limit}s; not registering" >&2; '
    "exit 1; fi; exec entrypoint.sh"
)
DIND_PRE_STOP = "timeout 20 sh -c 'while [ -f /runner/.runner ]; do sleep 1; done' || true"


def resolved(**overrides: Any) -> ResolvedPool:
    """Team payments' pool `build` (organization acme, label ci) with `overrides`."""
    return ResolvedPool("payments", "dev", "teams/payments.yaml", accepted(pool(**overrides)), ())


def kaniko_pool(**overrides: Any) -> ResolvedPool:
    return resolved(docker="kaniko", runnerImage=KANIKO_IMAGE, **overrides)


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


# --- namespace and Pod Security --------------------------------------------------------------


def _namespace(name: str, level: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": "arc-eks",
                "arc-eks.io/team": "payments",
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/enforce-version": "v1.35",
                "pod-security.kubernetes.io/warn": level,
                "pod-security.kubernetes.io/warn-version": "v1.35",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/audit-version": "v1.35",
            },
        },
    }


def test_a_dind_team_namespace_enforces_and_warns_privileged_and_audits_restricted() -> None:
    assert namespace_manifest("payments", [DockerMode.DIND]) == _namespace(
        "runners-payments", "privileged"
    )


@pytest.mark.parametrize("mode", [DockerMode.NONE, DockerMode.KANIKO, DockerMode.KUBERNETES])
def test_a_namespace_without_dind_is_baseline(mode: DockerMode) -> None:
    assert namespace_manifest("payments", [mode]) == _namespace("runners-payments", "baseline")


def test_a_kubernetes_pools_own_namespace_keeps_the_teams_labels() -> None:
    manifest = namespace_manifest(
        "payments", [DockerMode.KUBERNETES], name="runners-payments-build"
    )
    assert manifest == _namespace("runners-payments-build", "baseline")


@pytest.mark.parametrize(
    ("modes", "level"),
    [
        ([], "baseline"),
        ([DockerMode.NONE], "baseline"),
        ([DockerMode.KANIKO, DockerMode.KUBERNETES, DockerMode.NONE], "baseline"),
        ([DockerMode.DIND], "privileged"),
        ([DockerMode.DIND, DockerMode.NONE], "privileged"),
        ([DockerMode.NONE, DockerMode.KANIKO, DockerMode.DIND], "privileged"),
    ],
)
def test_the_namespace_level_is_the_most_permissive_any_pool_needs(
    modes: list[DockerMode], level: str
) -> None:
    assert pod_security_level(modes) == level
    # A generator (what the component passes) is read once, like a list.
    assert pod_security_level(m for m in modes) == level


def test_pools_live_in_the_team_namespace_except_kubernetes_mode() -> None:
    assert pool_namespace(resolved(docker="dind")) == "runners-payments"
    assert pool_namespace(resolved(docker="none")) == "runners-payments"
    assert pool_namespace(kaniko_pool()) == "runners-payments"
    assert pool_namespace(resolved(docker="kubernetes")) == "runners-payments-build"


# --- ServiceAccount and the container hooks' Role --------------------------------------------


def test_a_service_account_without_aws_access_has_no_annotation_and_no_token() -> None:
    assert service_account_manifest(resolved(docker="none"), None) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "build-runner", "namespace": "runners-payments", "labels": LABELS},
        "automountServiceAccountToken": False,
    }


def test_a_service_account_with_a_role_is_irsa_annotated() -> None:
    assert service_account_manifest(resolved(docker="dind"), ROLE_ARN) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "build-runner",
            "namespace": "runners-payments",
            "labels": LABELS,
            "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN},
        },
        "automountServiceAccountToken": False,
    }


def test_a_kubernetes_mode_service_account_keeps_the_api_token_in_its_own_namespace() -> None:
    assert service_account_manifest(resolved(docker="kubernetes"), None) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "build-runner",
            "namespace": "runners-payments-build",
            "labels": LABELS,
        },
    }


def test_the_container_hooks_role_is_exactly_what_the_hooks_check_for() -> None:
    meta = {
        "name": "build-container-hooks",
        "namespace": "runners-payments-build",
        "labels": LABELS,
    }
    assert container_hooks_rbac(resolved(docker="kubernetes")) == [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods"],
                    "verbs": ["get", "list", "create", "delete"],
                },
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list", "watch"]},
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "verbs": ["get", "list", "create", "delete"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "build-container-hooks",
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": "build-runner",
                    "namespace": "runners-payments-build",
                }
            ],
        },
    ]


def test_the_role_rules_are_copies_a_caller_cannot_widen() -> None:
    role, _ = container_hooks_rbac(resolved(docker="kubernetes"))
    role["rules"][0]["verbs"].append("patch")
    again, _ = container_hooks_rbac(resolved(docker="kubernetes"))
    assert again["rules"][0]["verbs"] == ["get", "list", "create", "delete"]


@pytest.mark.parametrize("docker", ["dind", "none"])
def test_no_hooks_role_without_kubernetes_mode(docker: str) -> None:
    assert container_hooks_rbac(resolved(docker=docker)) == []
    assert container_hooks_rbac(kaniko_pool()) == []


# --- the dind sidecar -------------------------------------------------------------------------


DEFAULT_SIDECAR: dict[str, Any] = {
    "name": "docker",
    "image": "docker:28.0.4-dind",
    "args": ["dockerd", "--host=unix:///var/run/docker.sock", "--group=121"],
    "env": [
        {"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"},
        {"name": "DOCKER_TLS_CERTDIR", "value": ""},
    ],
    "securityContext": {"privileged": True},
    "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", DIND_PRE_STOP]}}},
    "resources": {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1500m", "memory": "4Gi"},
    },
    "volumeMounts": [
        {"name": "var-run", "mountPath": "/var/run"},
        {"name": "work", "mountPath": "/runner/_work"},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "runner", "mountPath": "/runner"},
    ],
}


def test_the_dind_sidecar_with_the_platform_defaults() -> None:
    spec = pod_spec(runner_deployment_manifest(resolved(docker="dind"), node_selector=NODE))
    assert spec["sidecarContainers"] == [DEFAULT_SIDECAR]


def test_the_dind_sidecar_with_a_pools_own_image_group_resources_and_a_mirror() -> None:
    raw_resources = {
        "requests": {"cpu": "300m", "memory": "768Mi"},
        "limits": {"cpu": "1800m", "memory": "3Gi"},
    }
    dind = resolved(
        docker="dind",
        runnerImage="111122223333.dkr.ecr.eu-west-1.amazonaws.com/platform/runner:2.335.1",
        dindImage="docker:27.5.1-dind",
        runnerUid=1000,
        dockerGid=998,
        dockerResources=raw_resources,
    )
    manifest = runner_deployment_manifest(
        dind, node_selector=NODE, registry_mirror="http://10.0.12.7:5000"
    )
    assert pod_spec(manifest)["sidecarContainers"] == [
        {
            **DEFAULT_SIDECAR,
            "image": "docker:27.5.1-dind",
            "args": [
                "dockerd",
                "--host=unix:///var/run/docker.sock",
                "--group=998",
                "--registry-mirror=http://10.0.12.7:5000",
            ],
            "resources": raw_resources,
        }
    ]
    assert pod_spec(manifest)["securityContext"]["fsGroup"] == 1000


def test_an_empty_mirror_adds_no_flag() -> None:
    spec = pod_spec(
        runner_deployment_manifest(resolved(docker="dind"), node_selector=NODE, registry_mirror="")
    )
    assert spec["sidecarContainers"][0]["args"] == [
        "dockerd",
        "--host=unix:///var/run/docker.sock",
        "--group=121",
    ]


def _plan(*upstreams: str) -> ImageCachePlan:
    return ImageCachePlan(
        account_id="210987654321",
        region="us-east-2",
        prefix="ci",
        upstreams=tuple(registry.UPSTREAMS[n] for n in upstreams),
        usernames={},
    )


def test_runner_and_dind_images_come_through_the_cache_when_it_serves_docker_hub() -> None:
    spec = pod_spec(
        runner_deployment_manifest(
            resolved(docker="dind"), node_selector=NODE, image_cache=_plan("quay", "docker-hub")
        )
    )
    host = "210987654321.dkr.ecr.us-east-2.amazonaws.com/ci/docker-hub"
    assert spec["image"] == f"{host}/summerwind/actions-runner:v2.335.1-ubuntu-22.04"
    assert spec["sidecarContainers"][0]["image"] == f"{host}/library/docker:28.0.4-dind"
    # A cache that does not serve Docker Hub leaves both as they are.
    spec = pod_spec(
        runner_deployment_manifest(
            resolved(docker="dind"), node_selector=NODE, image_cache=_plan("quay")
        )
    )
    assert spec["image"] == "summerwind/actions-runner:v2.335.1-ubuntu-22.04"
    assert spec["sidecarContainers"][0]["image"] == "docker:28.0.4-dind"


# --- the job pod template of container mode kubernetes ----------------------------------------


def test_the_job_pod_template_places_job_pods_without_a_token_under_runtime_default() -> None:
    assert job_pod_template(NODE, TOLERATIONS) == {
        "spec": {
            "nodeSelector": {"arc-eks.io/node-class": "runners"},
            "tolerations": [
                {"key": "arc-eks.io/runners", "operator": "Exists", "effect": "NoSchedule"},
                {
                    "key": "arc-eks.io/isolation",
                    "operator": "Equal",
                    "value": "dind",
                    "effect": "NoExecute",
                },
            ],
            "automountServiceAccountToken": False,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        }
    }


def test_the_job_pod_template_copies_what_it_is_given() -> None:
    selector = {"arc-eks.io/node-class": "runners"}
    tolerations = [{"key": "arc-eks.io/runners", "operator": "Exists"}]
    template = job_pod_template(selector, tolerations)
    template["spec"]["nodeSelector"]["extra"] = "x"
    template["spec"]["tolerations"][0]["effect"] = "NoSchedule"
    template["spec"]["securityContext"]["seccompProfile"]["type"] = "Unconfined"
    assert selector == {"arc-eks.io/node-class": "runners"}
    assert tolerations == [{"key": "arc-eks.io/runners", "operator": "Exists"}]
    assert job_pod_template({}, ())["spec"]["securityContext"] == {
        "seccompProfile": {"type": "RuntimeDefault"}
    }


HOOK_TEMPLATE_YAML = """\
spec:
  automountServiceAccountToken: false
  nodeSelector:
    arc-eks.io/node-class: runners
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  tolerations:
  - effect: NoSchedule
    key: arc-eks.io/runners
    operator: Exists
  - effect: NoExecute
    key: arc-eks.io/isolation
    operator: Equal
    value: dind
"""


def test_the_hook_template_config_map_holds_the_template_as_sorted_yaml() -> None:
    config_map = hook_template_config_map(resolved(docker="kubernetes"), NODE, TOLERATIONS)
    assert config_map == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "build-container-hooks-template",
            "namespace": "runners-payments-build",
            "labels": LABELS,
        },
        "data": {"job-pod.yaml": HOOK_TEMPLATE_YAML},
    }
    assert yaml.safe_load(config_map["data"]["job-pod.yaml"]) == job_pod_template(NODE, TOLERATIONS)


@pytest.mark.parametrize("docker", ["dind", "none"])
def test_no_hook_template_without_kubernetes_mode(docker: str) -> None:
    assert hook_template_config_map(resolved(docker=docker), NODE, TOLERATIONS) is None
    assert hook_template_config_map(kaniko_pool(), NODE, TOLERATIONS) is None


# --- the RunnerDeployment of each docker mode -------------------------------------------------


def _common(**changes: Any) -> dict[str, Any]:
    """What every mode's runner pod spec has, for pool `build` with the defaults."""
    return {
        "organization": "acme",
        "labels": ["ci"],
        "image": "summerwind/actions-runner:v2.335.1-ubuntu-22.04",
        "imagePullPolicy": "IfNotPresent",
        "ephemeral": True,
        "dockerEnabled": False,
        "dockerdWithinRunnerContainer": False,
        "serviceAccountName": "build-runner",
        "automountServiceAccountToken": False,
        "securityContext": {"fsGroup": 1001, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "1500m", "memory": "4Gi"},
        },
        "nodeSelector": {"arc-eks.io/node-class": "runners"},
        **changes,
    }


def test_a_none_pool_is_the_runner_alone() -> None:
    assert runner_deployment_manifest(resolved(docker="none"), node_selector=NODE) == {
        "apiVersion": "actions.summerwind.dev/v1alpha1",
        "kind": "RunnerDeployment",
        "metadata": {"name": "build", "namespace": "runners-payments", "labels": LABELS},
        "spec": {"template": {"metadata": {"labels": LABELS}, "spec": _common()}},
    }


def test_a_dind_pool_shares_socket_work_and_tmp_with_its_sidecar() -> None:
    spec = pod_spec(runner_deployment_manifest(resolved(docker="dind"), node_selector=NODE))
    assert spec == _common(
        containers=[{"name": "runner", "args": [RUNNER_ARGS]}],
        env=[{"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"}],
        volumeMounts=[
            {"name": "var-run", "mountPath": "/var/run"},
            {"name": "work", "mountPath": "/runner/_work"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        volumes=[
            {"name": "var-run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {"name": "work", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
        ],
        sidecarContainers=[DEFAULT_SIDECAR],
    )


def test_a_kaniko_pool_builds_on_its_scratch_volume() -> None:
    spec = pod_spec(runner_deployment_manifest(kaniko_pool(), node_selector=NODE))
    assert spec == _common(
        image=KANIKO_IMAGE,
        env=[{"name": "KANIKO_SCRATCH_DIR", "value": "/kaniko-scratch"}],
        volumeMounts=[{"name": "kaniko-scratch", "mountPath": "/kaniko-scratch"}],
        volumes=[{"name": "kaniko-scratch", "emptyDir": {}}],
    )


def _kubernetes_parts(storage_class: str, size: str) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": True,
        "env": [
            {
                "name": "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE",
                "value": "/etc/arc-eks/container-hooks/job-pod.yaml",
            }
        ],
        "volumeMounts": [
            {
                "name": "container-hooks-template",
                "mountPath": "/etc/arc-eks/container-hooks",
                "readOnly": True,
            }
        ],
        "volumes": [
            {
                "name": "container-hooks-template",
                "configMap": {"name": "build-container-hooks-template"},
            }
        ],
        "containerMode": "kubernetes",
        "workVolumeClaimTemplate": {
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        },
    }


def test_a_kubernetes_pool_mounts_its_job_pod_template_and_claims_the_default_volume() -> None:
    manifest = runner_deployment_manifest(resolved(docker="kubernetes"), node_selector=NODE)
    assert manifest["metadata"]["namespace"] == "runners-payments-build"
    assert pod_spec(manifest) == _common(**_kubernetes_parts("gp3-encrypted", "10Gi"))


def test_a_kubernetes_pools_own_work_volume() -> None:
    kubernetes = resolved(
        docker="kubernetes", workVolume={"storageClassName": "io2-scratch", "size": "25Gi"}
    )
    spec = pod_spec(runner_deployment_manifest(kubernetes, node_selector=NODE))
    assert spec == _common(**_kubernetes_parts("io2-scratch", "25Gi"))


def test_the_runner_gets_its_own_requests_and_limits_each_in_its_place() -> None:
    resources = {
        "requests": {"cpu": "750m", "memory": "1536Mi"},
        "limits": {"cpu": "1800m", "memory": "3Gi"},
    }
    spec = pod_spec(
        runner_deployment_manifest(resolved(docker="none", resources=resources), node_selector=NODE)
    )
    assert spec["resources"] == resources


def test_tolerations_are_copied_in_and_absent_without_any() -> None:
    given = [dict(t) for t in TOLERATIONS]
    spec = pod_spec(
        runner_deployment_manifest(resolved(docker="none"), node_selector=NODE, tolerations=given)
    )
    assert spec == _common(tolerations=list(TOLERATIONS))
    spec["tolerations"][1]["effect"] = "NoSchedule"
    assert given == list(TOLERATIONS)
    empty = pod_spec(
        runner_deployment_manifest(resolved(docker="none"), node_selector=NODE, tolerations=[])
    )
    assert "tolerations" not in empty


def test_the_node_selector_is_a_copy() -> None:
    selector = {"arc-eks.io/node-class": "runners"}
    spec = pod_spec(runner_deployment_manifest(resolved(docker="none"), node_selector=selector))
    spec["nodeSelector"]["arc-eks.io/node-class"] = "system"
    assert selector == {"arc-eks.io/node-class": "runners"}


def test_scope_group_and_labels_of_the_pool() -> None:
    repository = resolved(docker="none", scope={"repository": "acme/app"}, labels=["gpu", "big"])
    spec = pod_spec(runner_deployment_manifest(repository, node_selector=NODE))
    assert spec["repository"] == "acme/app"
    assert "organization" not in spec and "group" not in spec
    assert spec["labels"] == ["gpu", "big"]
    enterprise = resolved(docker="none", scope={"enterprise": "acme-corp"})
    spec = pod_spec(runner_deployment_manifest(enterprise, node_selector=NODE))
    assert spec["enterprise"] == "acme-corp" and "organization" not in spec


def test_a_runner_group_is_named_when_the_pool_has_one() -> None:
    grouped = ResolvedPool(
        "data-platform",
        "dev",
        "teams/data-platform.yaml",
        accepted(pool(docker="none", group="data-platform"), runner_groups=["data-platform"]),
        (),
    )
    spec = pod_spec(runner_deployment_manifest(grouped, node_selector=NODE))
    assert spec["group"] == "data-platform"


def test_the_teams_own_labels_and_annotations_reach_deployment_and_pods() -> None:
    labelled = resolved(
        docker="none",
        metadata={
            "labels": {"cost-center": "cc-42"},
            "annotations": {"acme.com/owner": "payments-oncall"},
        },
    )
    manifest = runner_deployment_manifest(labelled, node_selector=NODE)
    metadata = {
        "labels": {"cost-center": "cc-42", **LABELS},
        "annotations": {"acme.com/owner": "payments-oncall"},
    }
    assert manifest["metadata"] == {"name": "build", "namespace": "runners-payments", **metadata}
    assert manifest["spec"]["template"]["metadata"] == metadata
    hra = horizontal_runner_autoscaler_manifest(labelled, webhook_server=False)
    assert hra["metadata"] == {"name": "build", "namespace": "runners-payments", **metadata}


# --- the HorizontalRunnerAutoscaler -----------------------------------------------------------


def _hra(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "actions.summerwind.dev/v1alpha1",
        "kind": "HorizontalRunnerAutoscaler",
        "metadata": {"name": "build", "namespace": "runners-payments", "labels": LABELS},
        "spec": spec,
    }


BASE_HRA: dict[str, Any] = {
    "scaleTargetRef": {"kind": "RunnerDeployment", "name": "build"},
    "minReplicas": 1,
    "maxReplicas": 5,
    "scaleDownDelaySecondsAfterScaleOut": 300,
}


def test_the_default_autoscaler_polls_the_busy_share_with_factors() -> None:
    assert horizontal_runner_autoscaler_manifest(
        resolved(docker="none"), webhook_server=False
    ) == _hra(
        {
            **BASE_HRA,
            "metrics": [
                {
                    "type": "PercentageRunnersBusy",
                    "scaleUpThreshold": "0.75",
                    "scaleDownThreshold": "0.25",
                    "scaleUpFactor": "2",
                    "scaleDownFactor": "0.5",
                }
            ],
        }
    )


def test_the_autoscaler_of_a_kubernetes_pool_is_in_its_namespace() -> None:
    hra = horizontal_runner_autoscaler_manifest(resolved(docker="kubernetes"), webhook_server=False)
    assert hra["metadata"]["namespace"] == "runners-payments-build"


def test_adjustments_replace_factors_direction_by_direction() -> None:
    up = resolved(
        docker="none",
        autoscaling={
            "min": 2,
            "max": 8,
            "scaleDownDelaySeconds": 0,
            "metric": {
                "type": "PercentageRunnersBusy",
                "scaleUpThreshold": 0.8,
                "scaleDownThreshold": 0.1,
                "scaleUpAdjustment": 3,
                "scaleDownFactor": 0.7,
            },
        },
    )
    spec = horizontal_runner_autoscaler_manifest(up, webhook_server=False)["spec"]
    assert spec == {
        **BASE_HRA,
        "minReplicas": 2,
        "maxReplicas": 8,
        "scaleDownDelaySecondsAfterScaleOut": 0,
        "metrics": [
            {
                "type": "PercentageRunnersBusy",
                "scaleUpThreshold": "0.8",
                "scaleDownThreshold": "0.1",
                "scaleUpAdjustment": 3,
                "scaleDownFactor": "0.7",
            }
        ],
    }
    down = resolved(
        docker="none",
        autoscaling={
            "metric": {
                "type": "PercentageRunnersBusy",
                "scaleUpFactor": 1.5,
                "scaleDownAdjustment": 1,
            }
        },
    )
    (metric,) = horizontal_runner_autoscaler_manifest(down, webhook_server=False)["spec"]["metrics"]
    assert metric == {
        "type": "PercentageRunnersBusy",
        "scaleUpThreshold": "0.75",
        "scaleDownThreshold": "0.25",
        "scaleUpFactor": "1.5",
        "scaleDownAdjustment": 1,
    }


def test_queued_runs_name_their_repositories_only_when_there_are_some() -> None:
    named = resolved(
        docker="none",
        autoscaling={
            "min": 0,
            "metric": {
                "type": "TotalNumberOfQueuedAndInProgressWorkflowRuns",
                "repositoryNames": ["app", "infra"],
            },
        },
    )
    assert horizontal_runner_autoscaler_manifest(named, webhook_server=False)["spec"] == {
        **BASE_HRA,
        "minReplicas": 0,
        "metrics": [
            {
                "type": "TotalNumberOfQueuedAndInProgressWorkflowRuns",
                "repositoryNames": ["app", "infra"],
            }
        ],
    }
    own_repository = resolved(
        docker="none",
        scope={"repository": "acme/app"},
        autoscaling={"metric": {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"}},
    )
    spec = horizontal_runner_autoscaler_manifest(own_repository, webhook_server=False)["spec"]
    assert spec["metrics"] == [{"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"}]


def test_webhook_only_has_no_metric_and_scales_up_on_queued_jobs() -> None:
    webhook_only = resolved(
        docker="none",
        autoscaling={"min": 0, "metric": {"type": "WebhookOnly"}, "webhookScaleUpDuration": "10m"},
    )
    assert horizontal_runner_autoscaler_manifest(webhook_only, webhook_server=True)["spec"] == {
        **BASE_HRA,
        "minReplicas": 0,
        "scaleUpTriggers": [{"githubEvent": {"workflowJob": {}}, "duration": "10m"}],
    }


def test_schedules_each_become_an_override_with_a_recurrence_only_when_they_repeat() -> None:
    scheduled = resolved(
        docker="none",
        autoscaling={
            "schedules": [
                {
                    "name": "release-day",
                    "start": "2026-03-02T08:00:00+01:00",
                    "end": "2026-03-02T20:00:00+01:00",
                    "min": 4,
                },
                {
                    "name": "weekend",
                    "start": "2026-01-03T00:00:00+09:00",
                    "end": "2026-01-05T00:00:00+09:00",
                    "recurrence": "Weekly",
                    "min": 1,
                },
                {
                    "name": "quarter-end",
                    "start": "2026-03-30T06:00:00+00:00",
                    "end": "2026-03-31T18:00:00+00:00",
                    "recurrence": "Monthly",
                    "until": "2026-12-31T00:00:00+00:00",
                    "min": 3,
                },
            ]
        },
    )
    assert horizontal_runner_autoscaler_manifest(scheduled, webhook_server=False)["spec"][
        "scheduledOverrides"
    ] == [
        {
            "startTime": "2026-03-02T08:00:00+01:00",
            "endTime": "2026-03-02T20:00:00+01:00",
            "minReplicas": 4,
        },
        {
            "startTime": "2026-01-03T00:00:00+09:00",
            "endTime": "2026-01-05T00:00:00+09:00",
            "minReplicas": 1,
            "recurrenceRule": {"frequency": "Weekly"},
        },
        {
            "startTime": "2026-03-30T06:00:00+00:00",
            "endTime": "2026-03-31T18:00:00+00:00",
            "minReplicas": 3,
            "recurrenceRule": {"frequency": "Monthly", "untilTime": "2026-12-31T00:00:00+00:00"},
        },
    ]


def test_no_overrides_and_no_triggers_unless_asked_for() -> None:
    spec = horizontal_runner_autoscaler_manifest(resolved(docker="none"), webhook_server=False)
    assert "scheduledOverrides" not in spec["spec"] and "scaleUpTriggers" not in spec["spec"]
    with_webhook = horizontal_runner_autoscaler_manifest(
        resolved(docker="none"), webhook_server=True
    )
    assert with_webhook["spec"]["scaleUpTriggers"] == [
        {"githubEvent": {"workflowJob": {}}, "duration": "30m"}
    ]


def _kubernetes_pool_of(team: str, name: str) -> ResolvedPool:
    spec = accepted(pool(name=name, docker="kubernetes"), team=team)
    return ResolvedPool(team, "dev", f"teams/{team}.yaml", spec, ())


def test_a_kubernetes_pools_namespace_may_have_63_characters_not_64() -> None:
    team = "platform-tooling-ops"  # runners-<20>-<34> is 63 characters
    fits = _kubernetes_pool_of(team, "b" * 34)
    assert len(pool_namespace(fits)) == 63
    assert runner_namespace_problems([fits]) == []
    too_long = _kubernetes_pool_of(team, "b" * 35)
    (problem,) = runner_namespace_problems([fits, too_long])
    assert problem.path == f"pools[name={'b' * 35}].name"
    assert f"namespace 'runners-{team}-{'b' * 35}', longer than Kubernetes' 63" in problem.expected
