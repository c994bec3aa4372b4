"""Every rule of the policy pack: a compliant baseline passes; each violation case fails with a
message naming the resource and the property; unknown values during preview never violate.

Props are wrapped as the engine wraps them (Struct round trip, pulumi_policy's deserializer and
unknown-checking proxy), and the rules run through their `pulumi_policy` policy objects.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.arc_policies import registry
from policies.arc_policies.testing import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    Skipped,
    Violation,
    engine_props,
    run_resource_policy,
)
from tests.policy_baselines import DELETE, ISSUER, PROVIDER_ARN, TYPES, baseline, mutate

POLICIES = {p.name: p for p in registry.build_policies()}
RESOURCE_POLICIES = [
    p for p in POLICIES.values() if p.name in {r.name for r in registry.RESOURCE_RULES}
]
CONFIG = {
    "aws-iam-irsa-no-wildcard-s3": {"allowedS3Buckets": ["acme-build-cache", "acme-artifacts"]}
}


def run(policy_name: str, kind: str, inputs: dict[str, Any], name: str = "res") -> list[Violation]:
    report = run_resource_policy(
        POLICIES[policy_name], TYPES[kind], name, engine_props(inputs), CONFIG.get(policy_name)
    )
    assert not [r for r in report if isinstance(r, Skipped)], report
    return [r for r in report if isinstance(r, Violation)]


def run_all(kind: str, inputs: dict[str, Any]) -> list[Violation]:
    found: list[Violation] = []
    for policy in RESOURCE_POLICIES:
        report = run_resource_policy(
            policy, TYPES[kind], "res", engine_props(inputs), CONFIG.get(policy.name)
        )
        found += [r for r in report if isinstance(r, Violation)]
    return found


def with_document(inputs: dict[str, Any], key: str, change: Any) -> dict[str, Any]:
    """`inputs` with the JSON policy document under `key` changed by `change(document)`."""
    out = dict(inputs)
    document = json.loads(out[key])
    change(document)
    out[key] = json.dumps(document)
    return out


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_baseline_passes_every_rule(kind: str) -> None:
    assert run_all(kind, baseline(kind)) == []


def test_every_rule_has_metadata() -> None:
    for policy in POLICIES.values():
        assert policy.name == policy.name.lower() and " " not in policy.name
        assert policy.name.split("-")[0] in {"aws", "kubernetes", "arc"}
        assert policy.description and policy.remediation_steps and policy.enforcement_level
    assert len(POLICIES) == len(registry.ALL_RULES) >= 20


# (policy, resource kind, property path, new value, text the message must name)
CASES: list[tuple[str, str, str, Any, str]] = [
    # nodes
    (
        "aws-eks-node-instance-type-allowlist",
        "mng",
        "instanceTypes",
        ["m5.large"],
        "instanceTypes[0]",
    ),
    (
        "aws-eks-node-instance-type-allowlist",
        "aws_node_group",
        "instanceTypes[0]",
        "t3a.xlarge",
        "instanceTypes[0]",
    ),
    (
        "aws-eks-node-instance-type-allowlist",
        "launch_template",
        "instanceType",
        "c5.large",
        "instanceType",
    ),
    (
        "aws-eks-node-instance-type-allowlist",
        "eks_cluster",
        "skipDefaultNodeGroup",
        False,
        "instanceType",
    ),
    ("aws-eks-node-ami-x86-64", "mng", "amiType", "AL2023_ARM_64_STANDARD", "amiType"),
    ("aws-eks-node-ami-x86-64", "aws_node_group", "amiType", "BOTTLEROCKET_ARM_64", "amiType"),
    (
        "aws-ec2-launch-template-imdsv2-hop-limit-1",
        "launch_template",
        "metadataOptions.httpTokens",
        "optional",
        "metadataOptions.httpTokens",
    ),
    (
        "aws-ec2-launch-template-imdsv2-hop-limit-1",
        "launch_template",
        "metadataOptions.httpPutResponseHopLimit",
        2,
        "metadataOptions.httpPutResponseHopLimit",
    ),
    (
        "aws-ec2-launch-template-imdsv2-hop-limit-1",
        "launch_template",
        "metadataOptions.httpPutResponseHopLimit",
        DELETE,
        "metadataOptions.httpPutResponseHopLimit",
    ),
    (
        "aws-ec2-launch-template-imdsv2-hop-limit-1",
        "launch_template",
        "metadataOptions",
        DELETE,
        "metadataOptions",
    ),
    (
        "aws-ec2-launch-template-imdsv2-hop-limit-1",
        "mng",
        "launchTemplate",
        DELETE,
        "launchTemplate",
    ),
    (
        "aws-ec2-launch-template-imdsv2-hop-limit-1",
        "aws_node_group",
        "launchTemplate",
        DELETE,
        "launchTemplate",
    ),
    (
        "aws-ec2-launch-template-root-volume-encrypted",
        "launch_template",
        "blockDeviceMappings[0].ebs.encrypted",
        "false",
        "blockDeviceMappings[0].ebs.encrypted",
    ),
    (
        "aws-ec2-launch-template-root-volume-encrypted",
        "launch_template",
        "blockDeviceMappings[0].ebs.encrypted",
        DELETE,
        "blockDeviceMappings[0].ebs.encrypted",
    ),
    (
        "aws-ec2-launch-template-root-volume-encrypted",
        "launch_template",
        "blockDeviceMappings",
        DELETE,
        "blockDeviceMappings",
    ),
    (
        "aws-ec2-launch-template-root-volume-encrypted",
        "mng",
        "launchTemplate",
        DELETE,
        "launchTemplate",
    ),
    # cluster
    (
        "aws-eks-cluster-secrets-encryption",
        "eks_cluster",
        "encryptionConfigKeyArn",
        DELETE,
        "encryptionConfigKeyArn",
    ),
    (
        "aws-eks-cluster-secrets-encryption",
        "aws_cluster",
        "encryptionConfig",
        DELETE,
        "encryptionConfig",
    ),
    (
        "aws-eks-cluster-secrets-encryption",
        "aws_cluster",
        "encryptionConfig.resources",
        [],
        "encryptionConfig.resources",
    ),
    (
        "aws-eks-cluster-secrets-encryption",
        "aws_cluster",
        "encryptionConfig.provider.keyArn",
        "",
        "encryptionConfig.provider.keyArn",
    ),
    (
        "aws-eks-cluster-control-plane-logging",
        "eks_cluster",
        "enabledClusterLogTypes",
        ["api", "audit"],
        "enabledClusterLogTypes",
    ),
    (
        "aws-eks-cluster-control-plane-logging",
        "aws_cluster",
        "enabledClusterLogTypes",
        DELETE,
        "enabledClusterLogTypes",
    ),
    (
        "aws-eks-cluster-endpoint-restricted",
        "eks_cluster",
        "publicAccessCidrs",
        DELETE,
        "publicAccessCidrs",
    ),
    (
        "aws-eks-cluster-endpoint-restricted",
        "eks_cluster",
        "publicAccessCidrs",
        ["0.0.0.0/0"],
        "publicAccessCidrs[0]",
    ),
    (
        "aws-eks-cluster-endpoint-restricted",
        "eks_cluster",
        "publicAccessCidrs",
        ["203.0.113.0/24", "::/0"],
        "publicAccessCidrs[1]",
    ),
    (
        "aws-eks-cluster-endpoint-restricted",
        "aws_cluster",
        "vpcConfig.endpointPublicAccess",
        True,
        "vpcConfig.publicAccessCidrs",
    ),
    (
        "aws-eks-cluster-endpoint-restricted",
        "aws_cluster",
        "vpcConfig.endpointPublicAccess",
        DELETE,
        "vpcConfig.publicAccessCidrs",
    ),
    # workloads
    (
        "kubernetes-no-privileged-except-dind",
        "runner_deployment",
        "spec.template.spec.securityContext",
        {"fsGroup": 1001},
        None,
    ),  # placeholder, replaced below
    (
        "kubernetes-no-privileged-except-dind",
        "runner_deployment",
        "spec.template.spec.dockerdWithinRunnerContainer",
        True,
        "spec.template.spec.dockerdWithinRunnerContainer",
    ),
    (
        "kubernetes-no-privileged-except-dind",
        "runner_deployment",
        "spec.template.spec.sidecarContainers[0].name",
        "helper",
        "spec.template.spec.sidecarContainers[0].securityContext.privileged",
    ),
    (
        "kubernetes-no-privileged-except-dind",
        "runner_deployment",
        "spec.template.spec.sidecarContainers[0].image",
        "alpine:3.20",
        "spec.template.spec.sidecarContainers[0].securityContext.privileged",
    ),
    (
        "kubernetes-no-privileged-except-dind",
        "pod",
        "spec.containers[0].securityContext",
        {"privileged": True},
        "spec.containers[0].securityContext.privileged",
    ),
    (
        "kubernetes-no-host-namespaces-or-hostpath",
        "runner_deployment",
        "spec.template.spec.volumes[0]",
        {"name": "var-run", "hostPath": {"path": "/var/run/docker.sock"}},
        "spec.template.spec.volumes[0].hostPath",
    ),
    (
        "kubernetes-no-host-namespaces-or-hostpath",
        "pod",
        "spec.hostNetwork",
        True,
        "spec.hostNetwork",
    ),
    (
        "kubernetes-no-host-namespaces-or-hostpath",
        "deployment",
        "spec.template.spec.hostPID",
        True,
        "spec.template.spec.hostPID",
    ),
    (
        "arc-runner-requests-and-limits",
        "runner_deployment",
        "spec.template.spec.resources.limits",
        DELETE,
        "spec.template.spec.resources.limits",
    ),
    (
        "arc-runner-requests-and-limits",
        "runner_deployment",
        "spec.template.spec.resources.requests.memory",
        DELETE,
        "spec.template.spec.resources.requests",
    ),
    (
        "arc-runner-requests-and-limits",
        "runner_deployment",
        "spec.template.spec.sidecarContainers[0].resources",
        DELETE,
        "spec.template.spec.sidecarContainers[0].resources.requests",
    ),
    (
        "kubernetes-images-pinned",
        "runner_deployment",
        "spec.template.spec.image",
        "summerwind/actions-runner:latest",
        "spec.template.spec.image",
    ),
    (
        "kubernetes-images-pinned",
        "runner_deployment",
        "spec.template.spec.image",
        DELETE,
        "spec.template.spec.image",
    ),
    (
        "kubernetes-images-pinned",
        "runner_deployment",
        "spec.template.spec.sidecarContainers[0].image",
        "docker",
        "spec.template.spec.sidecarContainers[0].image",
    ),
    (
        "kubernetes-images-pinned",
        "deployment",
        "spec.template.spec.containers[0].image",
        "registry.example.com:5000/tool",
        "spec.template.spec.containers[0].image",
    ),
    (
        "arc-runner-ephemeral",
        "runner_deployment",
        "spec.template.spec.ephemeral",
        False,
        "spec.template.spec.ephemeral",
    ),
    # autoscalers
    (
        "arc-hra-no-scale-to-zero-with-percentage-busy",
        "hra",
        "spec.minReplicas",
        0,
        "spec.minReplicas",
    ),
    (
        "arc-hra-no-scale-to-zero-with-percentage-busy",
        "hra",
        "spec.scheduledOverrides[0].minReplicas",
        0,
        "spec.scheduledOverrides[0].minReplicas",
    ),
    ("arc-hra-max-replicas-cap", "hra", "spec.maxReplicas", 21, "spec.maxReplicas"),
    ("arc-hra-max-replicas-cap", "hra", "spec.maxReplicas", DELETE, "spec.maxReplicas"),
    (
        "arc-hra-supported-metric-type",
        "hra",
        "spec.metrics[0].type",
        "TotalNumberOfQueuedAndInProgressWorkflows",
        "spec.metrics[0].type",
    ),
    # helm
    ("kubernetes-helm-chart-version-pinned", "arc_release", "version", DELETE, "version"),
    ("kubernetes-helm-chart-version-pinned", "arc_release", "version", "^0.23.0", "version"),
    ("kubernetes-helm-chart-version-pinned", "arc_release", "version", ">=0.23", "version"),
    (
        "arc-helm-no-auth-token-in-values",
        "arc_release",
        "values.authSecret.github_token",
        "ghp_xxx",
        "values.authSecret.github_token",
    ),
    (
        "arc-helm-no-auth-token-in-values",
        "arc_release",
        "values.authSecret.github_app_private_key",
        "-----BEGIN",
        "values.authSecret.github_app_private_key",
    ),
    (
        "arc-helm-no-auth-token-in-values",
        "arc_release",
        "values.authSecret.create",
        True,
        "values.authSecret.create",
    ),
    (
        "arc-helm-runner-default-images-pinned",
        "arc_release",
        "values.image.dindSidecarRepositoryAndTag",
        DELETE,
        "values.image.dindSidecarRepositoryAndTag",
    ),
    (
        "arc-helm-runner-default-images-pinned",
        "arc_release",
        "values.image.actionsRunnerRepositoryAndTag",
        "summerwind/actions-runner:latest",
        "values.image.actionsRunnerRepositoryAndTag",
    ),
]
CASES = [c for c in CASES if c[4] is not None]


@pytest.mark.parametrize(("policy", "kind", "path", "value", "names"), CASES)
def test_violation_names_resource_and_property(
    policy: str, kind: str, path: str, value: Any, names: str
) -> None:
    inputs = mutate(baseline(kind), path, value)
    found = run(policy, kind, inputs, name="under-test")
    assert found, f"{policy} accepted {path}={value!r}"
    message = found[0].message
    assert f"{TYPES[kind]} 'under-test'" in message
    assert f"{names}:" in message, message
    assert "Remediation:" in message
    assert {v.policy for v in found} == {policy}


def _statement(index: int, **changes: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        document["Statement"][index].update(changes)

    return change


IAM_CASES: list[tuple[str, str, str, Any, str]] = [
    (
        "aws-iam-no-wildcard-actions",
        "runner_policy",
        "policy",
        _statement(1, Action="s3:*"),
        "policy.Statement[1].Action",
    ),
    (
        "aws-iam-no-wildcard-actions",
        "runner_policy",
        "policy",
        _statement(0, Action="*"),
        "policy.Statement[0].Action",
    ),
    (
        "aws-iam-no-wildcard-actions",
        "autoscaler_policy",
        "policy",
        _statement(1, Action=["autoscaling:Set*"]),
        "policy.Statement[1].Action",
    ),
    (
        "aws-iam-no-wildcard-resources",
        "autoscaler_policy",
        "policy",
        _statement(1, Condition={}),
        "policy.Statement[1].Resource",
    ),
    (
        "aws-iam-no-wildcard-resources",
        "runner_policy",
        "policy",
        _statement(1, Resource="*"),
        "policy.Statement[1].Resource",
    ),
    (
        "aws-iam-irsa-no-wildcard-s3",
        "runner_policy",
        "policy",
        _statement(1, Resource=["arn:aws:s3:::other-bucket/*"]),
        "policy.Statement[1].Resource",
    ),
    (
        "aws-iam-irsa-no-wildcard-s3",
        "runner_policy",
        "policy",
        _statement(0, Resource="arn:aws:s3:::acme-*"),
        "policy.Statement[0].Resource",
    ),
    (
        "aws-iam-irsa-no-wildcard-s3",
        "runner_policy",
        "policy",
        _statement(0, Resource="*"),
        "policy.Statement[0].Resource",
    ),
]


def _trust_change(condition: dict[str, Any]) -> Any:
    def change(document: dict[str, Any]) -> None:
        document["Statement"][0]["Condition"] = condition

    return change


SUB, AUD = f"{ISSUER}:sub", f"{ISSUER}:aud"
IAM_CASES += [
    (
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        "assumeRolePolicy",
        _trust_change({"StringEquals": {AUD: "sts.amazonaws.com"}}),
        "assumeRolePolicy.Statement[0].Condition.StringEquals",
    ),
    (
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        "assumeRolePolicy",
        _trust_change({"StringEquals": {SUB: "system:serviceaccount:payments:payments-build"}}),
        "assumeRolePolicy.Statement[0].Condition.StringEquals",
    ),
    (
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        "assumeRolePolicy",
        _trust_change(
            {"StringEquals": {SUB: "system:serviceaccount:payments:*", AUD: "sts.amazonaws.com"}}
        ),
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{SUB}",
    ),
    (
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        "assumeRolePolicy",
        _trust_change(
            {
                "StringLike": {SUB: "system:serviceaccount:payments:*"},
                "StringEquals": {AUD: "sts.amazonaws.com"},
            }
        ),
        "assumeRolePolicy.Statement[0].Condition.StringLike",
    ),
    (
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        "assumeRolePolicy",
        _trust_change(
            {
                "StringEquals": {
                    SUB: ["system:serviceaccount:a:b", "system:serviceaccount:c:d"],
                    AUD: "sts.amazonaws.com",
                }
            }
        ),
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{SUB}",
    ),
    (
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        "assumeRolePolicy",
        _trust_change(
            {
                "StringEquals": {
                    SUB: "system:serviceaccount:payments:payments-build",
                    AUD: "sts.example.com",
                }
            }
        ),
        f"assumeRolePolicy.Statement[0].Condition.StringEquals.{AUD}",
    ),
]


@pytest.mark.parametrize(("policy", "kind", "key", "change", "names"), IAM_CASES)
def test_iam_violation_names_resource_and_property(
    policy: str, kind: str, key: str, change: Any, names: str
) -> None:
    found = run(policy, kind, with_document(baseline(kind), key, change), name="under-test")
    assert found, f"{policy} accepted the change"
    assert f"{TYPES[kind]} 'under-test'" in found[0].message
    assert f"{names}:" in found[0].message, found[0].message


def test_not_action_and_not_resource_are_wildcards() -> None:
    document = json.loads(baseline("runner_policy")["policy"])
    document["Statement"][1] = {
        "Effect": "Allow",
        "NotAction": "iam:*",
        "NotResource": "arn:aws:s3:::x",
    }
    inputs = {"policy": json.dumps(document)}
    actions = run("aws-iam-no-wildcard-actions", "runner_policy", inputs, name="under-test")
    resources = run("aws-iam-no-wildcard-resources", "runner_policy", inputs, name="under-test")
    assert "policy.Statement[1].NotAction:" in actions[0].message
    assert "policy.Statement[1].NotResource:" in resources[0].message


def test_host_ipc_and_cron_job_pod_spec() -> None:
    cron = {
        "spec": {
            "jobTemplate": {
                "spec": {"template": {"spec": {**baseline("pod")["spec"], "hostIPC": True}}}
            }
        }
    }
    report = run_resource_policy(
        POLICIES["kubernetes-no-host-namespaces-or-hostpath"],
        "kubernetes:batch/v1:CronJob",
        "nightly",
        engine_props(cron),
    )
    assert report and "spec.jobTemplate.spec.template.spec.hostIPC:" in report[0].message


def test_iam_documents_as_objects_and_inline_policies() -> None:
    document = json.loads(baseline("runner_policy")["policy"])
    document["Statement"][1]["Action"] = "s3:*"
    assert run("aws-iam-no-wildcard-actions", "runner_policy", {"policy": document})
    role = {
        **baseline("irsa_role"),
        "inlinePolicies": [{"name": "x", "policy": json.dumps(document)}],
    }
    found = run("aws-iam-no-wildcard-actions", "irsa_role", role)
    assert "inlinePolicies[0].policy.Statement[1].Action" in found[0].message


def test_iam_single_statement_object_and_deny_ignored() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"},
    }
    assert (
        run("aws-iam-no-wildcard-actions", "runner_policy", {"policy": json.dumps(document)}) == []
    )
    document["Statement"]["Effect"] = "Allow"
    assert run("aws-iam-no-wildcard-actions", "runner_policy", {"policy": json.dumps(document)})


def test_trust_from_a_service_principal_is_not_irsa() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    assert (
        run(
            "aws-iam-irsa-trust-exact-service-account",
            "irsa_role",
            {"assumeRolePolicy": json.dumps(document)},
        )
        == []
    )
    document["Statement"][0]["Principal"] = {"AWS": "*"}
    assert run(
        "aws-iam-irsa-trust-exact-service-account",
        "irsa_role",
        {"assumeRolePolicy": json.dumps(document)},
    )
    assert PROVIDER_ARN in baseline("irsa_role")["assumeRolePolicy"]


def test_config_changes_thresholds() -> None:
    inputs = baseline("hra")
    policy = POLICIES["arc-hra-max-replicas-cap"]
    tight = run_resource_policy(
        policy, TYPES["hra"], "p", engine_props(inputs), {"maxReplicas": 10}
    )
    assert tight and "exceeds this environment's cap of 10" in tight[0].message
    private = run_resource_policy(
        POLICIES["aws-eks-cluster-endpoint-restricted"],
        TYPES["eks_cluster"],
        "c",
        engine_props(baseline("eks_cluster")),
        {"allowPublicEndpoint": False},
    )
    assert private and "endpointPublicAccess" in private[0].message
    outside = run_resource_policy(
        POLICIES["aws-eks-cluster-endpoint-restricted"],
        TYPES["eks_cluster"],
        "c",
        engine_props(baseline("eks_cluster")),
        {"allowedPublicAccessCidrs": ["198.51.100.0/24"]},
    )
    assert outside and "outside the allowlist" in outside[0].message


def test_node_group_without_instance_types_defaults_to_t3_medium() -> None:
    inputs = mutate(baseline("mng"), "instanceTypes", DELETE)
    assert run("aws-eks-node-instance-type-allowlist", "mng", inputs) == []  # from its template
    found = run(
        "aws-eks-node-instance-type-allowlist", "mng", mutate(inputs, "launchTemplate", DELETE)
    )
    assert found and "instanceTypes:" in found[0].message and "t3.medium" in found[0].message


def test_implicit_dind_sidecar_needs_dockerd_resources() -> None:
    inputs = mutate(baseline("runner_deployment"), "spec.template.spec.sidecarContainers", [])
    inputs = mutate(inputs, "spec.template.spec.dockerEnabled", DELETE)  # ARC's default: true
    found = run("arc-runner-requests-and-limits", "runner_deployment", inputs, name="pool")
    assert found
    assert "spec.template.spec.dockerdContainerResources.requests:" in found[0].message


def test_zero_min_without_percentage_busy_is_fine() -> None:
    inputs = mutate(baseline("hra"), "spec.minReplicas", 0)
    inputs["spec"]["metrics"] = [{"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"}]
    assert run("arc-hra-no-scale-to-zero-with-percentage-busy", "hra", inputs) == []


def test_digest_pinned_images_and_default_dind_pass() -> None:
    inputs = mutate(
        baseline("runner_deployment"),
        "spec.template.spec.image",
        "summerwind/actions-runner@sha256:" + "a" * 64,
    )
    assert run("kubernetes-images-pinned", "runner_deployment", inputs) == []
    # ARC's own dind sidecar (dockerEnabled) is the privileged container named docker: allowed.
    spec = inputs["spec"]["template"]["spec"]
    spec.pop("sidecarContainers")
    spec["dockerEnabled"] = True
    spec["dockerdContainerResources"] = {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert run_all("runner_deployment", inputs) == []


def test_secret_values_are_seen_unwrapped() -> None:
    """A Pulumi secret in chart values still reaches the rule (the engine unwraps secrets)."""
    secret = {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "value": "ghp_x",
    }
    inputs = mutate(baseline("arc_release"), "values.authSecret.github_token", secret)
    assert run("arc-helm-no-auth-token-in-values", "arc_release", inputs)


# --- unknown values during preview -------------------------------------------------------------

UNKNOWN_CASES: list[tuple[str, str, Any]] = [
    ("mng", "instanceTypes", UNKNOWN_ARRAY_VALUE),
    ("mng", "instanceTypes[0]", UNKNOWN_STRING_VALUE),
    ("mng", "launchTemplate", UNKNOWN_OBJECT_VALUE),
    ("mng", "amiType", UNKNOWN_STRING_VALUE),
    ("eks_cluster", "encryptionConfigKeyArn", UNKNOWN_STRING_VALUE),
    ("eks_cluster", "publicAccessCidrs", UNKNOWN_ARRAY_VALUE),
    ("eks_cluster", "endpointPublicAccess", UNKNOWN_BOOLEAN_VALUE),
    ("eks_cluster", "skipDefaultNodeGroup", UNKNOWN_BOOLEAN_VALUE),
    ("eks_cluster", "enabledClusterLogTypes", UNKNOWN_ARRAY_VALUE),
    ("aws_cluster", "encryptionConfig.provider.keyArn", UNKNOWN_STRING_VALUE),
    ("aws_cluster", "vpcConfig", UNKNOWN_OBJECT_VALUE),
    ("launch_template", "metadataOptions", UNKNOWN_OBJECT_VALUE),
    ("launch_template", "metadataOptions.httpPutResponseHopLimit", UNKNOWN_NUMBER_VALUE),
    ("launch_template", "blockDeviceMappings[0].ebs.encrypted", UNKNOWN_STRING_VALUE),
    ("irsa_role", "assumeRolePolicy", UNKNOWN_STRING_VALUE),
    ("runner_policy", "policy", UNKNOWN_STRING_VALUE),
    ("service_account", "metadata.annotations", UNKNOWN_OBJECT_VALUE),
    ("runner_deployment", "spec.template.spec.image", UNKNOWN_STRING_VALUE),
    ("runner_deployment", "spec.template.spec.resources", UNKNOWN_OBJECT_VALUE),
    (
        "runner_deployment",
        "spec.template.spec.sidecarContainers[0].securityContext.privileged",
        UNKNOWN_BOOLEAN_VALUE,
    ),
    ("runner_deployment", "spec.template.spec.dockerEnabled", UNKNOWN_BOOLEAN_VALUE),
    ("runner_deployment", "spec.template.spec.volumes", UNKNOWN_ARRAY_VALUE),
    ("hra", "spec.maxReplicas", UNKNOWN_NUMBER_VALUE),
    ("hra", "spec.metrics", UNKNOWN_ARRAY_VALUE),
    ("arc_release", "version", UNKNOWN_STRING_VALUE),
    ("arc_release", "values.authSecret.github_token", UNKNOWN_STRING_VALUE),
    ("arc_release", "values.image", UNKNOWN_OBJECT_VALUE),
]


@pytest.mark.parametrize(("kind", "path", "sentinel"), UNKNOWN_CASES)
def test_unknown_value_is_never_a_violation(kind: str, path: str, sentinel: str) -> None:
    inputs = mutate(baseline(kind), path, sentinel)
    for policy in RESOURCE_POLICIES:
        report = run_resource_policy(
            policy, TYPES[kind], "res", engine_props(inputs), CONFIG.get(policy.name)
        )
        assert report == [], (policy.name, report)


def test_unknown_is_raised_by_the_engine_proxy_itself() -> None:
    """The wrapping is the engine's: reading an unknown straight from props raises."""
    from pulumi_policy.proxy import UnknownValueError

    props = engine_props({"version": UNKNOWN_STRING_VALUE, "n": 1})
    assert props["n"] == 1.0 and isinstance(props["n"], float)
    with pytest.raises(UnknownValueError):
        _ = props["version"]


def test_every_rule_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "policy-and-review.md").read_text()
    missing = [name for name in POLICIES if f"`{name}`" not in doc]
    assert missing == []
