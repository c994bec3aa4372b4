"""The stack rules (policies/arc_policies/stack.py) on hand-built stacks: ServiceAccounts, IAM roles
and their trust documents, runner pools of every kind, autoscalers and node groups of both kinds,
wrapped the way `AnalyzeStack` wraps them (engine props, PolicyResources linked to their parents).

Capacity figures come from a small table given as policy config (`m.test`: 1000m CPU, 1000Mi,
10 pods per node) so each boundary is exact; the pack's default table is checked on its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi_policy import Severity, StackValidationPolicy

from arc_eks.review import policies as review_policies
from policies.arc_policies import registry, stack
from policies.arc_policies._support import UNKNOWN, StackResource
from policies.arc_policies.stack import group_fits, pod_requests
from policies.arc_policies.testing import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    Skipped,
    StackEntry,
    Violation,
    engine_props,
    policy_resources,
    run_stack_policy,
    urn_for,
)

POLICIES = {p.name: p for p in registry.build_policies()}
ONE_ROLE = "kubernetes-irsa-one-role-per-service-account"
CAPACITY = "arc-runner-capacity-fits-node-group"

SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
ROLE = "aws:iam/role:Role"
HRA = "kubernetes:actions.summerwind.dev/v1alpha1:HorizontalRunnerAutoscaler"
RUNNER_DEPLOYMENT = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"
RUNNER_SET = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerSet"
RUNNER_REPLICA_SET = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerReplicaSet"
RUNNER = "kubernetes:actions.summerwind.dev/v1alpha1:Runner"
MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
AWS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

ACCOUNT = "123456789012"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041A"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
ROLE_ARN = "eks.amazonaws.com/role-arn"
TABLE = {"allocatable": {"m.test": {"cpuMillis": 1000, "memoryMib": 1000, "maxPods": 10}}}
ISOLATION = "arc-eks.io/isolation"


@dataclass(frozen=True)
class R:
    """One resource of a stack: type, Pulumi name, inputs, and its parent's Pulumi name."""

    type: str
    name: str
    inputs: dict[str, Any]
    parent: R | None = None

    @property
    def urn(self) -> str:
        return urn_for(self.type, self.name)


def run(policy: str, *resources: R, config: dict[str, Any] | None = None) -> list[Violation]:
    entries = [
        StackEntry(
            r.type, r.name, r.urn, engine_props(r.inputs), r.parent.urn if r.parent else None
        )
        for r in resources
    ]
    rule = POLICIES[policy]
    assert isinstance(rule, StackValidationPolicy)
    report = run_stack_policy(rule, policy_resources(entries), config)
    assert not [r for r in report if isinstance(r, Skipped)], report
    return [r for r in report if isinstance(r, Violation)]


def capacity(*resources: R, config: dict[str, Any] | None = None) -> list[Violation]:
    return run(CAPACITY, *resources, config=TABLE if config is None else config)


# --- builders ------------------------------------------------------------------------------------


def subject(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def oidc_statement(*subjects: str, operator: str = "StringEquals") -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            operator: {
                f"{ISSUER}:sub": list(subjects) if len(subjects) != 1 else subjects[0],
                f"{ISSUER}:aud": "sts.amazonaws.com",
            }
        },
    }


def role(name: str | None, *statements: dict[str, Any], path: str | None = None) -> R:
    inputs: dict[str, Any] = {
        "assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    }
    if name is not None:
        inputs["name"] = name
    if path is not None:
        inputs["path"] = path
    return R(ROLE, f"{name or 'anonymous'}-role", inputs)


def arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{path}{name}"


def service_account(
    pulumi_name: str, name: str | None, namespace: str | None, role_arn: Any = None
) -> R:
    metadata: dict[str, Any] = {}
    if name is not None:
        metadata["name"] = name
    if namespace is not None:
        metadata["namespace"] = namespace
    if role_arn is not None:
        metadata["annotations"] = {ROLE_ARN: role_arn}
    return R(SERVICE_ACCOUNT, pulumi_name, {"metadata": metadata})


def runner_spec(
    cpu: Any = "100m",
    memory: Any = "100Mi",
    account: str | None = None,
    selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "repository": "acme/app",
        "image": "summerwind/actions-runner:v2.335.1-ubuntu-22.04",
        "dockerEnabled": False,
        "ephemeral": True,
        "resources": {"requests": {"cpu": cpu, "memory": memory}},
    }
    if account is not None:
        spec["serviceAccountName"] = account
    if selector is not None:
        spec["nodeSelector"] = selector
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return spec


def pool(
    name: str,
    namespace: str | None = "payments",
    replicas: Any = None,
    kind: str = RUNNER_DEPLOYMENT,
    **spec: Any,
) -> R:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    body: dict[str, Any] = {"template": {"spec": runner_spec(**spec)}}
    if replicas is not None:
        body["replicas"] = replicas
    return R(kind, f"{namespace}-{name}", {"metadata": metadata, "spec": body})


def runner_set(name: str, cpu: str, memory: str, namespace: str = "payments") -> R:
    """A RunnerSet: a StatefulSet-shaped pool whose template lists its containers itself."""
    container = {
        "name": "runner",
        "image": "summerwind/actions-runner:v2.335.1-ubuntu-22.04",
        "resources": {"requests": {"cpu": cpu, "memory": memory}},
    }
    return R(
        RUNNER_SET,
        f"{namespace}-{name}",
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "repository": "acme/app",
                "selector": {"matchLabels": {"app": name}},
                "serviceName": name,
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [container]},
                },
            },
        },
    )


def autoscaler(target: str, max_replicas: Any, namespace: str | None = "payments") -> R:
    metadata: dict[str, Any] = {"name": f"{target}-hra"}
    if namespace is not None:
        metadata["namespace"] = namespace
    return R(
        HRA,
        f"{namespace}-{target}-hra",
        {
            "metadata": metadata,
            "spec": {
                "scaleTargetRef": {"kind": "RunnerDeployment", "name": target},
                "minReplicas": 1,
                "maxReplicas": max_replicas,
            },
        },
    )


def node_group(
    name: str,
    max_size: Any,
    *,
    instance_types: Any = ("m.test",),
    labels: Any = None,
    taints: Any = None,
    kind: str = MANAGED_NODE_GROUP,
) -> R:
    inputs: dict[str, Any] = {
        "scalingConfig": {"minSize": 1, "desiredSize": 1, "maxSize": max_size},
        "amiType": "AL2023_x86_64_STANDARD",
    }
    if instance_types is not None:
        inputs["instanceTypes"] = (
            list(instance_types) if isinstance(instance_types, tuple) else instance_types
        )
    if labels is not None:
        inputs["labels"] = labels
    if taints is not None:
        inputs["taints"] = taints
    return R(kind, name, inputs)


def privileged_group(name: str = "privileged", max_size: Any = 2, **kwargs: Any) -> R:
    """The payments team's dind group: labelled and tainted for its isolation class."""
    return node_group(
        name,
        max_size,
        labels={ISOLATION: "privileged-payments", "arc-eks.io/node-role": "runners"},
        taints=[{"key": ISOLATION, "value": "privileged-payments", "effect": "NO_SCHEDULE"}],
        **kwargs,
    )


TOLERATE_PRIVILEGED = {
    "key": ISOLATION,
    "operator": "Equal",
    "value": "privileged-payments",
    "effect": "NoSchedule",
}
ON_PRIVILEGED: dict[str, Any] = {
    "selector": {ISOLATION: "privileged-payments"},
    "tolerations": [TOLERATE_PRIVILEGED],
}


# --- kubernetes-irsa-one-role-per-service-account: role ARNs on ServiceAccounts -------------------


def test_a_role_arn_on_three_service_accounts_reports_the_second_and_third() -> None:
    shared = arn("payments")
    accounts = [
        service_account("first-sa", "build", "payments", shared),
        service_account("second-sa", "deploy", "payments", shared),
        service_account("third-sa", "build", "web", shared),
    ]
    found = run(ONE_ROLE, *accounts)
    assert [v.urn for v in found] == [accounts[1].urn, accounts[2].urn]
    for violation in found:
        assert f"metadata.annotations[{ROLE_ARN}] = {shared}" in violation.message
        assert "['payments/build', 'payments/deploy', 'web/build']" in violation.message
    assert "ServiceAccount 'second-sa'" in found[0].message
    assert "ServiceAccount 'third-sa'" in found[1].message


def test_service_accounts_with_their_own_roles_pass() -> None:
    accounts = [
        service_account("a-sa", "build", "payments", arn("payments")),
        service_account("b-sa", "build", "web", arn("web")),
        service_account("c-sa", "plain", "web"),  # no role at all
    ]
    assert run(ONE_ROLE, *accounts) == []


def test_a_shared_arn_names_unnamed_accounts_by_default_namespace_and_resource_name() -> None:
    shared = arn("payments")
    accounts = [
        service_account("first-sa", None, None, shared),
        service_account("second-sa", "", "", shared),
    ]
    (violation,) = run(ONE_ROLE, *accounts)
    assert violation.urn == accounts[1].urn
    assert "['default/first-sa', 'default/second-sa']" in violation.message


@pytest.mark.parametrize("value", ["", UNKNOWN_STRING_VALUE])
def test_empty_or_unknown_role_arns_are_not_shared(value: str) -> None:
    accounts = [service_account(f"{i}-sa", f"sa{i}", "payments", value) for i in range(2)]
    assert run(ONE_ROLE, *accounts) == []


@pytest.mark.parametrize(
    "kind", ["kubernetes:core/v1:ConfigMap", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"]
)
def test_the_shared_arn_rule_reads_service_accounts_only(kind: str) -> None:
    # Only a ServiceAccount's annotation makes the pod identity webhook hand out the role.
    shared = arn("payments")
    metadata = {"name": "build", "namespace": "payments", "annotations": {ROLE_ARN: shared}}
    other = R(kind, "other", {"metadata": metadata})
    assert run(ONE_ROLE, service_account("sa", "build", "payments", shared), other) == []


# --- the annotated role must trust that ServiceAccount ---------------------------------------------


def test_an_annotation_naming_a_role_that_trusts_another_account() -> None:
    web_role = role("web", oidc_statement(subject("web", "web-runner")))
    account = service_account("web-sa", "renamed", "web", arn("web"))
    (violation,) = run(ONE_ROLE, web_role, account)
    assert violation.urn == account.urn
    assert "ServiceAccount 'web-sa'" in violation.message
    assert f"Role 'web-role' trusts ['{subject('web', 'web-runner')}']" in violation.message
    assert f"not {subject('web', 'renamed')}" in violation.message


def test_an_annotation_naming_the_role_that_trusts_it_passes() -> None:
    web_role = role("web", oidc_statement(subject("web", "web-runner")))
    assert run(ONE_ROLE, web_role, service_account("web-sa", "web-runner", "web", arn("web"))) == []


def test_the_subject_of_an_unnamed_account_is_its_resource_name_in_default() -> None:
    trusted = role("web", oidc_statement(subject("default", "web-sa")))
    assert run(ONE_ROLE, trusted, service_account("web-sa", None, None, arn("web"))) == []
    other = role("web", oidc_statement(subject("web", "web-sa")))
    (violation,) = run(ONE_ROLE, other, service_account("web-sa", None, None, arn("web")))
    assert f"not {subject('default', 'web-sa')}" in violation.message


def test_a_role_with_a_path_is_found_by_path_and_name() -> None:
    web_role = role("web", oidc_statement(subject("web", "web-runner")), path="/ci/runners/")
    wrong = service_account("web-sa", "other", "web", arn("web", "/ci/runners/"))
    (violation,) = run(ONE_ROLE, web_role, wrong)
    assert violation.urn == wrong.urn
    right = service_account("web-sa", "web-runner", "web", arn("web", "/ci/runners/"))
    assert run(ONE_ROLE, web_role, right) == []
    # The same name under another path is another role: nothing to compare with.
    elsewhere = service_account("web-sa", "other", "web", arn("web", "/elsewhere/"))
    assert run(ONE_ROLE, web_role, elsewhere) == []


def test_a_role_path_may_itself_contain_role() -> None:
    # IAM paths allow any printable character, ':' included: the ARN's first ':role/' ends the
    # resource type, everything after it is the path and name.
    odd = role("web", oidc_statement(subject("web", "web-runner")), path="/team:role/")
    wrong = service_account("web-sa", "other", "web", arn("web", "/team:role/"))
    (violation,) = run(ONE_ROLE, odd, wrong)
    assert violation.urn == wrong.urn


def test_an_arn_matches_only_a_named_role_of_this_stack() -> None:
    trusts_runner = oidc_statement(subject("web", "web-runner"))
    account = service_account("web-sa", "other", "web", arn("web"))
    # An unnamed role (auto-named by Pulumi) or one of another name: nothing to compare with.
    assert run(ONE_ROLE, role(None, trusts_runner), account) == []
    assert run(ONE_ROLE, role("api", trusts_runner), account) == []
    # A user ARN is not a role ARN, even when a role of that name exists.
    user = service_account("web-sa", "other", "web", f"arn:aws:iam::{ACCOUNT}:user/web")
    assert run(ONE_ROLE, role("web", trusts_runner), user) == []


@pytest.mark.parametrize(
    ("kind", "inputs"),
    [
        ("aws:iam/instanceProfile:InstanceProfile", {"name": "web", "role": "web"}),
        ("aws:iam/rolePolicy:RolePolicy", {"name": "web", "role": "web", "policy": "{}"}),
    ],
)
def test_other_iam_resources_named_like_the_role_are_not_the_role(
    kind: str, inputs: dict[str, Any]
) -> None:
    # An instance profile or inline policy named after its role is common; it has no trust.
    web_role = role("web", oidc_statement(subject("web", "web-runner")))
    account = service_account("web-sa", "other", "web", arn("web"))
    (violation,) = run(ONE_ROLE, web_role, R(kind, "web-extra", inputs), account)
    assert violation.urn == account.urn


def test_every_annotated_arn_is_compared_after_one_without_a_role() -> None:
    web_role = role("web", oidc_statement(subject("web", "web-runner")))
    external = service_account("ext-sa", "ext", "web", f"arn:aws:iam::{ACCOUNT}:role/elsewhere")
    unknown = R(ROLE, "unknown-role", {"name": "api", "assumeRolePolicy": UNKNOWN_STRING_VALUE})
    unknown_user = service_account("api-sa", "other", "api", arn("api"))
    wrong = service_account("web-sa", "other", "web", arn("web"))
    found = run(ONE_ROLE, web_role, unknown, external, unknown_user, wrong)
    assert [v.urn for v in found] == [wrong.urn]


def test_the_annotated_role_is_found_among_several() -> None:
    roles = [
        role("api", oidc_statement(subject("api", "api-runner"))),
        role("web", oidc_statement(subject("web", "web-runner"))),
        role("ops", oidc_statement(subject("ops", "ops-runner"))),
    ]
    account = service_account("web-sa", "other", "web", arn("web"))
    (violation,) = run(ONE_ROLE, *roles, account)
    assert "Role 'web-role'" in violation.message


def test_a_role_of_unknown_name_or_path_is_not_compared() -> None:
    trusts_runner = oidc_statement(subject("web", "web-runner"))
    account = service_account("web-sa", "other", "web", arn("web"))
    unknown_path = role("web", trusts_runner, path=UNKNOWN_STRING_VALUE)
    assert run(ONE_ROLE, unknown_path, account) == []
    unknown_name = role("web", trusts_runner)
    unknown_name.inputs["name"] = UNKNOWN_STRING_VALUE
    assert run(ONE_ROLE, unknown_name, account) == []


def test_an_unknown_trust_document_is_not_compared() -> None:
    unknown = R(ROLE, "web-role", {"name": "web", "assumeRolePolicy": UNKNOWN_STRING_VALUE})
    assert run(ONE_ROLE, unknown, service_account("web-sa", "other", "web", arn("web"))) == []


def test_a_role_trusting_no_service_account_is_not_compared() -> None:
    ec2 = {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    account = service_account("web-sa", "other", "web", arn("web"))
    assert run(ONE_ROLE, role("web", ec2), account) == []


# --- a role trusting two ServiceAccounts: every form of trust document ----------------------------


def test_a_role_trusting_two_accounts_in_one_condition() -> None:
    shared = role("shared", oidc_statement(subject("payments", "a"), subject("web", "b")))
    (violation,) = run(ONE_ROLE, shared)
    assert violation.urn == shared.urn
    assert "Role 'shared-role': assumeRolePolicy trusts 2 ServiceAccounts" in violation.message
    assert f"['{subject('payments', 'a')}', '{subject('web', 'b')}']" in violation.message


def test_a_role_trusting_one_account_passes() -> None:
    assert run(ONE_ROLE, role("one", oidc_statement(subject("payments", "a")))) == []
    # The same subject twice is one ServiceAccount.
    twice = role(
        "one",
        oidc_statement(subject("payments", "a")),
        oidc_statement(subject("payments", "a"), operator="StringLike"),
    )
    assert run(ONE_ROLE, twice) == []


def test_a_second_account_in_a_later_statement() -> None:
    shared = role(
        "shared", oidc_statement(subject("payments", "a")), oidc_statement(subject("web", "b"))
    )
    (violation,) = run(ONE_ROLE, shared)
    assert "trusts 2 ServiceAccounts" in violation.message


def test_a_string_like_condition_counts_too() -> None:
    shared = role(
        "shared",
        oidc_statement(subject("payments", "a"), subject("web", "b"), operator="StringLike"),
    )
    assert len(run(ONE_ROLE, shared)) == 1


def test_a_later_condition_operator_counts_after_a_malformed_one() -> None:
    statement = oidc_statement(subject("payments", "a"))
    statement["Condition"] = {
        "Null": "not-an-object",
        "StringLike": {f"{ISSUER}:sub": [subject("payments", "a"), subject("web", "b")]},
    }
    assert len(run(ONE_ROLE, role("shared", statement))) == 1


def test_only_sub_keys_are_subjects() -> None:
    statement = oidc_statement(subject("payments", "a"))
    statement["Condition"]["StringEquals"][f"{ISSUER}:aud"] = [subject("web", "b"), "sts"]
    statement["Condition"]["StringEquals"][f"{ISSUER}:amr"] = subject("web", "c")
    assert run(ONE_ROLE, role("one", statement)) == []


def test_non_string_subjects_are_ignored() -> None:
    statement = oidc_statement(subject("payments", "a"))
    statement["Condition"]["StringEquals"][f"{ISSUER}:sub"] = [subject("payments", "a"), 7]
    assert run(ONE_ROLE, role("one", statement)) == []


def test_statements_without_an_oidc_principal_are_not_trust_of_service_accounts() -> None:
    service = oidc_statement(subject("web", "b"))
    service["Principal"] = {"Service": "ec2.amazonaws.com"}
    saml = oidc_statement(subject("web", "c"))
    saml["Principal"] = {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"}
    single = role("one", service, saml, oidc_statement(subject("payments", "a")))
    assert run(ONE_ROLE, single) == []
    # A later OIDC statement still counts after a skipped one.
    shared = role("shared", service, oidc_statement(subject("payments", "a"), subject("web", "b")))
    assert len(run(ONE_ROLE, shared)) == 1


def test_an_oidc_provider_later_in_a_federated_list_counts() -> None:
    statement = oidc_statement(subject("payments", "a"), subject("web", "b"))
    statement["Principal"] = {"Federated": [f"arn:aws:iam::{ACCOUNT}:saml-provider/corp", PROVIDER]}
    assert len(run(ONE_ROLE, role("shared", statement))) == 1


def test_a_statement_without_conditions_is_skipped_not_the_end() -> None:
    bare = {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:TagSession"}
    shared = role("shared", bare, oidc_statement(subject("payments", "a"), subject("web", "b")))
    assert len(run(ONE_ROLE, shared)) == 1


def test_a_trust_document_given_as_an_object_is_read() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": oidc_statement(subject("payments", "a"), subject("web", "b")),
    }
    shared = R(ROLE, "shared-role", {"name": "shared", "assumeRolePolicy": document})
    assert len(run(ONE_ROLE, shared)) == 1


@pytest.mark.parametrize("document", ["not json {", "[]", json.dumps("a string")])
def test_a_trust_document_that_is_no_object_trusts_nobody(document: str) -> None:
    broken = R(ROLE, "broken-role", {"name": "web", "assumeRolePolicy": document})
    assert run(ONE_ROLE, broken, service_account("sa", "other", "web", arn("web"))) == []


# --- no ServiceAccount used by two runner pools -----------------------------------------------------


def test_two_pools_of_different_kinds_sharing_an_account() -> None:
    deployment = pool("build", account="payments-runner")
    runner = R(
        RUNNER,
        "payments-single",
        {
            "metadata": {"name": "single", "namespace": "payments"},
            "spec": runner_spec(account="payments-runner"),
        },
    )
    (violation,) = run(ONE_ROLE, deployment, runner)
    assert violation.urn == runner.urn
    assert f"{RUNNER} 'payments-single'" in violation.message
    assert ": spec.serviceAccountName = payments/payments-runner" in violation.message
    assert "['payments-build', 'payments-single']" in violation.message


def test_a_runner_set_and_a_runner_replica_set_sharing_an_account() -> None:
    first = pool("a", account="shared", kind=RUNNER_SET)
    second = pool("b", account="shared", kind=RUNNER_REPLICA_SET)
    (violation,) = run(ONE_ROLE, first, second)
    assert violation.urn == second.urn


def test_three_pools_on_one_account_report_the_second_and_third() -> None:
    pools = [pool(name, account="shared") for name in ("a", "b", "c")]
    assert [v.urn for v in run(ONE_ROLE, *pools)] == [pools[1].urn, pools[2].urn]


def test_accounts_of_the_same_name_in_two_namespaces_are_two_accounts() -> None:
    assert run(ONE_ROLE, pool("a", account="runner"), pool("a", "web", account="runner")) == []
    # A pool without a namespace is in default.
    assert run(ONE_ROLE, pool("a", None, account="runner"), pool("b", "", account="runner"))


def test_pools_with_their_own_or_unknown_accounts_pass() -> None:
    assert run(ONE_ROLE, pool("a", account="a"), pool("b", account="b")) == []
    unknown = pool("c", account=UNKNOWN_STRING_VALUE)
    assert run(ONE_ROLE, unknown, pool("d", account=UNKNOWN_STRING_VALUE)) == []


def test_pools_without_an_account_share_the_namespaces_default() -> None:
    # Kubernetes runs their pods as `default`: with a role annotated on it, both pools get it.
    first, second = pool("a"), pool("b", account="")
    (violation,) = run(ONE_ROLE, first, second)
    assert violation.urn == second.urn
    assert "spec.template.spec.serviceAccountName = payments/default" in violation.message
    named = pool("c", account="default")
    assert [v.urn for v in run(ONE_ROLE, first, named)] == [named.urn]
    # One per namespace is not shared.
    assert run(ONE_ROLE, pool("a"), pool("a", "web"), pool("b", "web", account="b")) == []


def test_a_pool_without_a_pod_spec_is_skipped_not_the_end() -> None:
    bare = R(RUNNER_DEPLOYMENT, "bare", {"metadata": {"name": "bare", "namespace": "payments"}})
    unknown = R(
        RUNNER_DEPLOYMENT,
        "unknown",
        {"metadata": {"name": "unknown"}, "spec": {"template": UNKNOWN_OBJECT_VALUE}},
    )
    assert run(ONE_ROLE, bare, unknown, pool("a")) == []
    later = [pool("a", account="shared"), pool("b", account="shared")]
    assert [v.urn for v in run(ONE_ROLE, bare, *later)] == [later[1].urn]


def test_workloads_other_than_runner_pools_are_not_pools() -> None:
    deployment = R(
        "kubernetes:apps/v1:Deployment",
        "tool",
        {
            "metadata": {"name": "tool", "namespace": "payments"},
            "spec": {"template": {"spec": {"serviceAccountName": "shared", "containers": []}}},
        },
    )
    assert run(ONE_ROLE, pool("a", account="shared"), deployment) == []


# --- pod_requests: what one runner pod requests ----------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        ("500m", "1Gi", (500.0, 1024.0)),
        ("0.5", "512Mi", (500.0, 512.0)),
        (2, "2048M", (2000.0, 2048e6 / 2**20)),
        ("1.5", 2**30, (1500.0, 1024.0)),
    ],
)
def test_quantities_in_every_form(cpu: Any, memory: Any, expected: tuple[float, float]) -> None:
    assert pod_requests(
        RUNNER_DEPLOYMENT, {"spec": {"template": {"spec": runner_spec(cpu, memory)}}}
    ) == (
        pytest.approx(expected[0]),
        pytest.approx(expected[1]),
    )


def test_the_implicit_dind_sidecar_is_counted() -> None:
    spec = runner_spec("500m", "1Gi")
    del spec["dockerEnabled"]  # ARC's default: a docker sidecar
    spec["dockerdContainerResources"] = {"requests": {"cpu": "250m", "memory": "512Mi"}}
    props = {"spec": {"template": {"spec": spec}}}
    assert pod_requests(RUNNER_DEPLOYMENT, props) == (750.0, 1536.0)


def test_listed_containers_add_up_and_a_container_without_requests_adds_nothing() -> None:
    spec = {
        "containers": [
            {"name": "runner", "resources": {"requests": {"cpu": "300m", "memory": "300Mi"}}},
            {"name": "helper"},
            {"name": "cache", "resources": {"requests": {"cpu": "200m", "memory": "100Mi"}}},
        ]
    }
    props = {"spec": {"template": {"spec": spec}}}
    assert pod_requests(RUNNER_SET, props) == (500.0, 400.0)


def test_init_containers_count_as_their_largest_not_their_sum() -> None:
    small_init = {"name": "init", "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}}}
    large_init = {"name": "big", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}}
    runner = {"name": "runner", "resources": {"requests": {"cpu": "300m", "memory": "300Mi"}}}
    sidecar = {"name": "side", "resources": {"requests": {"cpu": "200m", "memory": "100Mi"}}}
    props = {
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [small_init, large_init],
                    "containers": [runner, sidecar],
                }
            }
        }
    }
    # CPU: the largest init container (2000m) beats the sum (500m); memory: the sum (400Mi)
    # beats the largest init container (64Mi).
    assert pod_requests(RUNNER_SET, props) == (2000.0, 400.0)


def test_a_runner_with_its_spec_at_spec() -> None:
    cpu, memory = pod_requests(RUNNER, {"spec": runner_spec("700m", "300Mi")})
    assert (cpu, memory) == (pytest.approx(700.0), 300.0)


def test_a_pool_without_a_pod_spec_requests_nothing() -> None:
    assert pod_requests(RUNNER_DEPLOYMENT, {"spec": {}}) == (0.0, 0.0)
    assert pod_requests(RUNNER_DEPLOYMENT, {"spec": {"template": {"spec": UNKNOWN}}}) == (0.0, 0.0)


def test_unreadable_requests_count_as_zero() -> None:
    props = {"spec": {"template": {"spec": runner_spec("lots", UNKNOWN)}}}
    assert pod_requests(RUNNER_DEPLOYMENT, props) == (0.0, 0.0)


# --- group_fits: labels and taints ------------------------------------------------------------------


def group(labels: Any = None, taints: Any = None) -> StackResource:
    props: dict[str, Any] = {}
    if labels is not None:
        props["labels"] = labels
    if taints is not None:
        props["taints"] = taints
    return StackResource(MANAGED_NODE_GROUP, "g", "urn:g", props)


def test_a_selector_must_match_every_label() -> None:
    labels = {"a": "1", "b": "2"}
    assert group_fits({"nodeSelector": {"a": "1", "b": "2"}}, group(labels)) is True
    assert group_fits({"nodeSelector": {"a": "1", "b": "3"}}, group(labels)) is False
    assert group_fits({"nodeSelector": {"c": "1"}}, group(labels)) is False
    assert group_fits({"nodeSelector": {"a": "1"}}, group()) is False
    assert group_fits({}, group(labels)) is True


@pytest.mark.parametrize("effect", ["NO_SCHEDULE", "NO_EXECUTE"])
def test_a_hard_taint_needs_a_toleration(effect: str) -> None:
    tainted = group(taints=[{"key": "k", "value": "v", "effect": effect}])
    assert group_fits({}, tainted) is False
    k8s_effect = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}[effect]
    exact = {"key": "k", "operator": "Equal", "value": "v", "effect": k8s_effect}
    assert group_fits({"tolerations": [exact]}, tainted) is True
    other = "NoExecute" if k8s_effect == "NoSchedule" else "NoSchedule"
    wrong_effect = {**exact, "effect": other}
    assert group_fits({"tolerations": [wrong_effect]}, tainted) is False


def test_a_prefer_no_schedule_taint_only_steers() -> None:
    soft = {"key": "k", "value": "v", "effect": "PREFER_NO_SCHEDULE"}
    assert group_fits({}, group(taints=[soft])) is True
    hard = {"key": "h", "value": "v", "effect": "NO_SCHEDULE"}
    assert group_fits({}, group(taints=[soft, hard])) is False


def test_toleration_forms() -> None:
    tainted = group(taints=[{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}])

    def fits(*tolerations: dict[str, Any]) -> bool | None:
        return group_fits({"tolerations": list(tolerations)}, tainted)

    assert fits({"key": "k", "operator": "Exists"}) is True  # any value, any effect
    assert fits({"operator": "Exists"}) is True  # an empty key with Exists: every taint
    assert fits({"key": "", "operator": "Exists"}) is True
    assert fits({"key": "k", "operator": "Exists", "effect": ""}) is True
    assert fits({"key": "k", "value": "v"}) is True  # operator defaults to Equal
    assert fits({"key": "k", "operator": "Equal", "value": "w"}) is False
    assert fits({"key": "k", "operator": "Equal", "value": "u"}) is False
    assert fits({"key": "other", "operator": "Exists"}) is False
    assert fits({"key": "other", "operator": "Exists"}, {"key": "k", "value": "v"}) is True


def test_every_hard_taint_must_be_tolerated_including_a_later_one() -> None:
    taints = [
        {"key": "a", "value": "1", "effect": "NO_SCHEDULE"},
        {"key": "b", "value": "2", "effect": "NO_EXECUTE"},
    ]
    first_only = {"tolerations": [{"key": "a", "value": "1", "effect": "NoSchedule"}]}
    assert group_fits(first_only, group(taints=taints)) is False
    both = {"tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "value": "2"}]}
    assert group_fits(both, group(taints=taints)) is True


def test_unknown_labels_or_taints_are_undecided() -> None:
    assert group_fits({}, group(labels=UNKNOWN)) is None
    assert group_fits({}, group(taints=UNKNOWN)) is None
    assert group_fits({}, group(labels={}, taints=[])) is True


# --- arc-runner-capacity-fits-node-group: boundaries of CPU, memory and pods ------------------------


@pytest.mark.parametrize(
    ("cpu", "memory", "replicas", "excess"),
    [
        ("1", "1000Mi", 2, None),  # exactly 2 nodes x (1000m, 1000Mi)
        ("1001m", "1000Mi", 2, "CPU 2002m > 2000m"),
        ("1", "1001Mi", 2, "memory 2002Mi > 2000Mi"),
        ("100m", "100Mi", 20, None),  # exactly 2 nodes x 10 pods
        ("10m", "10Mi", 21, "pods 21 > 20"),
    ],
)
def test_demand_against_capacity_on_both_sides(
    cpu: str, memory: str, replicas: int, excess: str | None
) -> None:
    group_ = node_group("runners", 2)
    found = capacity(group_, pool("build", replicas=replicas, cpu=cpu, memory=memory))
    if excess is None:
        assert found == []
        return
    (violation,) = found
    assert violation.urn == group_.urn
    assert f"request {excess}, beyond" in violation.message
    assert f"{MANAGED_NODE_GROUP} 'runners'" in violation.message


def test_every_exceeded_resource_is_named() -> None:
    (violation,) = capacity(
        node_group("runners", 1), pool("build", replicas=11, cpu="1", memory="1Gi")
    )
    assert "CPU 11000m > 1000m; memory 11264Mi > 1000Mi; pods 11 > 10" in violation.message


def test_max_size_multiplies_the_node() -> None:
    pools = pool("build", replicas=3, cpu="1", memory="1000Mi")
    assert capacity(node_group("runners", 3), pools) == []
    assert capacity(node_group("runners", 2), pools)
    assert capacity(node_group("runners", "3"), pools) == []  # a number sent as a string


def test_per_node_overhead_is_taken_from_every_node() -> None:
    config = {**TABLE, "perNodeOverheadCpuMillis": 100, "perNodeOverheadMemoryMib": 200}
    group_ = node_group("runners", 2)
    assert capacity(group_, pool("a", replicas=2, cpu="900m", memory="800Mi"), config=config) == []
    (cpu,) = capacity(group_, pool("a", replicas=2, cpu="901m", memory="800Mi"), config=config)
    assert "CPU 1802m > 1800m" in cpu.message and "memory" not in cpu.message.split("beyond")[0]
    (memory,) = capacity(group_, pool("a", replicas=2, cpu="900m", memory="801Mi"), config=config)
    assert "memory 1602Mi > 1600Mi" in memory.message


def test_pools_on_one_group_add_up() -> None:
    group_ = node_group("runners", 2)
    assert capacity(group_, pool("a", replicas=1, cpu="1"), pool("b", replicas=1, cpu="1")) == []
    (violation,) = capacity(
        group_, pool("a", replicas=1, cpu="1"), pool("b", replicas=1, cpu="1001m")
    )
    assert "CPU 2001m > 2000m" in violation.message


def test_the_message_names_the_three_largest_pools() -> None:
    pools = [
        pool("a", replicas=1, cpu="1"),
        pool("bbbbbb", replicas=1, cpu="1"),
        pool("cccc", replicas=1, cpu="1"),
        pool("dddddddd", replicas=1, cpu="1"),
    ]
    (violation,) = capacity(node_group("runners", 1), *pools)
    assert "CPU 4000m > 1000m" in violation.message
    listed = violation.message.split("largest pools: ")[1]
    for name in ("bbbbbb", "cccc", "dddddddd"):
        assert f"payments/{name} 1x(1000m, 100Mi)" in listed
    assert "payments/a " not in listed


def test_the_default_table_holds_t3a_large() -> None:
    # EKS AL2023 allocatable of t3a.large: 1930m CPU, 7119Mi, 35 pods (arc_eks/capacity.py).
    instance_types: Any
    for instance_types in (("t3a.large",), None, []):
        group_ = node_group("runners", 1, instance_types=instance_types)
        assert run(CAPACITY, group_, pool("a", replicas=1, cpu="1930m", memory="7119Mi")) == []
        assert run(CAPACITY, group_, pool("a", replicas=35, cpu="1m", memory="1Mi")) == []
        (cpu,) = run(CAPACITY, group_, pool("a", replicas=1, cpu="1931m", memory="1Mi"))
        assert "CPU 1931m > 1930m" in cpu.message
        (memory,) = run(CAPACITY, group_, pool("a", replicas=1, cpu="1m", memory="7120Mi"))
        assert "memory 7120Mi > 7119Mi" in memory.message
        (pods,) = run(CAPACITY, group_, pool("a", replicas=36, cpu="1m", memory="1Mi"))
        assert "pods 36 > 35" in pods.message


def test_the_default_instance_type_comes_from_config() -> None:
    config = {**TABLE, "defaultInstanceType": "m.test"}
    group_ = node_group("runners", 1, instance_types=None)
    assert capacity(group_, pool("a", replicas=1, cpu="1"), config=config) == []
    assert capacity(group_, pool("a", replicas=1, cpu="1001m"), config=config)
    # The group's own instance type wins over the default.
    named = node_group("runners", 1, instance_types=["t3a.large"])
    big = {
        **config,
        "allocatable": {
            **TABLE["allocatable"],
            "t3a.large": {"cpuMillis": 1930, "memoryMib": 7119, "maxPods": 35},
        },
    }
    assert capacity(named, pool("a", replicas=1, cpu="1900m"), config=big) == []


def test_an_instance_type_without_figures_is_reported_on_its_group() -> None:
    known, unlisted = node_group("known", 2), node_group("other", 2, instance_types=["m7i.large"])
    (violation,) = capacity(known, unlisted, pool("a"))
    assert violation.urn == unlisted.urn
    assert f"{MANAGED_NODE_GROUP} 'other': instanceTypes = 'm7i.large'" in violation.message
    assert "no allocatable figures" in violation.message


def test_a_raw_node_group_counts_unless_a_managed_group_made_it() -> None:
    raw = node_group("raw", 1, kind=AWS_NODE_GROUP)
    (violation,) = capacity(raw, pool("a", replicas=2, cpu="1"))
    assert violation.urn == raw.urn
    assert f"{AWS_NODE_GROUP} 'raw'" in violation.message
    component = node_group("runners", 1)
    child = R(AWS_NODE_GROUP, "runners-ng", raw.inputs, parent=component)
    (violation,) = capacity(component, child, pool("a", replicas=2, cpu="1"))
    assert "CPU 2000m > 1000m" in violation.message  # 1 node, not 1 + 1


def test_without_node_groups_there_is_nothing_to_check() -> None:
    assert capacity(pool("a", replicas=50, selector={"no": "group"})) == []


# --- peak replicas ---------------------------------------------------------------------------------


def test_peak_is_the_autoscalers_max_replicas() -> None:
    group_ = node_group("runners", 2)
    assert capacity(group_, pool("build", cpu="1"), autoscaler("build", 2)) == []
    (violation,) = capacity(group_, pool("build", cpu="1"), autoscaler("build", 3))
    assert "payments/build 3x(1000m, 100Mi)" in violation.message
    assert capacity(group_, pool("build", cpu="1"), autoscaler("build", "3"))


def test_an_autoscaler_counts_only_for_its_own_pool() -> None:
    group_ = node_group("runners", 2)
    other_namespace = autoscaler("build", 9, namespace="web")
    other_name = autoscaler("deploy", 9)
    assert capacity(group_, pool("build", cpu="1"), other_namespace, other_name) == []
    # Both in default when neither names a namespace.
    (violation,) = capacity(group_, pool("build", None, cpu="1"), autoscaler("build", 3, None))
    assert "default/build 3x" in violation.message


def test_without_an_autoscaler_the_pools_replicas_or_one() -> None:
    group_ = node_group("runners", 2)
    assert capacity(group_, pool("build", replicas=2, cpu="1")) == []
    (violation,) = capacity(group_, pool("build", replicas=3, cpu="1"))
    assert "payments/build 3x" in violation.message
    (violation,) = capacity(group_, pool("build", cpu="2001m"))
    assert "payments/build 1x(2001m" in violation.message


def test_an_unknown_max_replicas_falls_back_to_replicas() -> None:
    group_ = node_group("runners", 2)
    unknown = autoscaler("build", UNKNOWN_NUMBER_VALUE)
    assert capacity(group_, pool("build", replicas=2, cpu="1"), unknown) == []
    assert capacity(group_, pool("build", replicas=3, cpu="1"), unknown)


def test_a_runner_set_is_a_pool_and_single_runners_are_not() -> None:
    group_ = node_group("runners", 1)
    (violation,) = capacity(group_, runner_set("set", "1001m", "10Mi"))
    assert "payments/set 1x(1001m, 10Mi)" in violation.message
    single = R(
        RUNNER,
        "single",
        {"metadata": {"name": "single", "namespace": "payments"}, "spec": runner_spec("5")},
    )
    replica_set = pool("rs", replicas=9, kind=RUNNER_REPLICA_SET, cpu="1")
    assert capacity(group_, single, replica_set) == []


# --- pools placed by nodeSelector and tolerations ---------------------------------------------------


def test_each_pool_counts_against_the_groups_it_can_run_on() -> None:
    general = node_group("general", 1, labels={"arc-eks.io/node-role": "runners"})
    privileged = privileged_group(max_size=1)
    plain = pool("plain", replicas=1, cpu="1")  # untolerated taint: general only
    dind = pool("dind", replicas=1, cpu="1", **ON_PRIVILEGED)  # privileged only
    assert capacity(general, privileged, plain, dind) == []
    (violation,) = capacity(
        general, privileged, plain, pool("dind", replicas=2, cpu="1", **ON_PRIVILEGED)
    )
    assert violation.urn == privileged.urn
    assert "eks:index:ManagedNodeGroup 'privileged'" in violation.message
    assert "'general'" not in violation.message
    (violation,) = capacity(general, privileged, pool("plain", replicas=2, cpu="1"), dind)
    assert violation.urn == general.urn


def test_tolerations_as_the_engine_sends_them() -> None:
    exists = {"key": ISOLATION, "operator": "Exists", "effect": "NoSchedule"}
    selector = {ISOLATION: "privileged-payments"}
    on_privileged = pool("a", replicas=2, cpu="1", selector=selector, tolerations=[exists])
    (violation,) = capacity(privileged_group(max_size=1), on_privileged)
    assert "CPU 2000m > 1000m" in violation.message  # fits the group, beyond its size
    lower = {**TOLERATE_PRIVILEGED, "value": "privileged-a"}
    wrong = pool("a", replicas=1, selector=selector, tolerations=[lower])
    (violation,) = capacity(privileged_group(max_size=1), wrong)
    assert "fits no node group" in violation.message


def test_other_resources_of_the_stack_leave_the_check_alone() -> None:
    cluster = R(
        "aws:eks/cluster:Cluster",
        "cluster",
        {"name": "arc", "roleArn": arn("cluster"), "vpcConfig": {"subnetIds": ["subnet-1"]}},
    )
    template = R(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "runners-lt",
        {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}},
    )
    # A HorizontalPodAutoscaler of a Deployment that shares the pool's name is not the pool's.
    hpa = R(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "build-hpa",
        {
            "metadata": {"name": "build", "namespace": "payments"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "build"},
                "minReplicas": 1,
                "maxReplicas": 9,
            },
        },
    )
    group_ = node_group("runners", 2)
    over = pool("build", replicas=3, cpu="1")
    (violation,) = capacity(cluster, template, group_, hpa, over)
    assert violation.urn == group_.urn and "payments/build 3x" in violation.message
    assert capacity(cluster, template, group_, hpa, pool("build", replicas=2, cpu="1")) == []


def test_a_pool_that_fits_two_groups_may_use_both() -> None:
    first, second = node_group("first", 1), node_group("second", 1)
    assert capacity(first, second, pool("a", replicas=2, cpu="1")) == []
    (violation,) = capacity(first, second, pool("a", replicas=3, cpu="1"))
    assert violation.urn == first.urn
    assert "CPU 3000m > 2000m" in violation.message
    assert f"{MANAGED_NODE_GROUP} 'first', {MANAGED_NODE_GROUP} 'second'" in violation.message


def test_a_pool_that_fits_no_group_is_reported_and_later_pools_still_count() -> None:
    group_ = privileged_group(max_size=1)
    lost = pool("lost", replicas=1, selector={ISOLATION: "privileged-web"})
    untolerated = pool("plain", replicas=1, selector={ISOLATION: "privileged-payments"})
    big = pool("big", replicas=2, cpu="1", **ON_PRIVILEGED)
    found = capacity(group_, lost, untolerated, big)
    assert [v.urn for v in found] == [lost.urn, untolerated.urn, group_.urn]
    assert "runner pool payments/lost fits no node group" in found[0].message
    assert "runner pool payments/plain fits no node group" in found[1].message
    assert "CPU 2000m > 1000m" in found[2].message


def test_groups_with_unknown_labels_or_taints_leave_the_pool_unchecked() -> None:
    for labels, taints in ((UNKNOWN_OBJECT_VALUE, None), (None, UNKNOWN_ARRAY_VALUE)):
        group_ = node_group("runners", 1, labels=labels, taints=taints)
        assert capacity(group_, pool("a", replicas=9, cpu="1", selector={"x": "y"})) == []


def test_one_group_of_unknown_labels_leaves_the_pool_unchecked_on_every_group() -> None:
    known = node_group("known", 1)
    unknown = node_group("unknown", 1, labels=UNKNOWN_OBJECT_VALUE)
    assert capacity(known, unknown, pool("a", replicas=9, cpu="1")) == []


def test_unknown_sizes_or_instance_types_leave_the_stack_unchecked() -> None:
    over = pool("a", replicas=9, cpu="1")
    assert capacity(node_group("runners", UNKNOWN_NUMBER_VALUE), over) == []
    assert capacity(node_group("runners", 1, instance_types=UNKNOWN_ARRAY_VALUE), over) == []
    # One group unknown among known ones: nothing to compare with either.
    assert capacity(node_group("a", 1), node_group("b", UNKNOWN_NUMBER_VALUE), over) == []


# --- config schema ---------------------------------------------------------------------------------


def test_the_capacity_config_schema() -> None:
    policies = registry.build_policies()

    def problems(entry: dict[str, Any]) -> list[str]:
        return review_policies.config_problems({CAPACITY: entry}, policies)

    good = {"cpuMillis": 4000, "memoryMib": 16000, "maxPods": 58}
    assert (
        problems({"allocatable": {"m7i.xlarge": good}, "defaultInstanceType": "m7i.xlarge"}) == []
    )
    assert problems({"perNodeOverheadCpuMillis": 0, "perNodeOverheadMemoryMib": 0}) == []
    smallest = {"cpuMillis": 1, "memoryMib": 1, "maxPods": 1}
    assert problems({"allocatable": {"t4g.nano": smallest}}) == []
    for key in ("cpuMillis", "memoryMib", "maxPods"):
        assert problems({"allocatable": {"m7i.xlarge": {**good, key: 0}}})
        assert problems({"allocatable": {"m7i.xlarge": {**good, key: "many"}}})
        missing = {k: v for k, v in good.items() if k != key}
        assert problems({"allocatable": {"m7i.xlarge": missing}})
    assert problems({"allocatable": {"m7i.xlarge": 4000}})
    assert problems({"allocatable": []})
    assert problems({"defaultInstanceType": 3})
    for key in ("perNodeOverheadCpuMillis", "perNodeOverheadMemoryMib"):
        assert problems({key: -1}) and problems({key: "some"})
    assert problems({"overhead": 1})


def test_every_capacity_config_key_is_described() -> None:
    schema = POLICIES[CAPACITY].config_schema
    assert schema is not None
    assert set(schema.properties) == {
        "allocatable",
        "defaultInstanceType",
        "perNodeOverheadCpuMillis",
        "perNodeOverheadMemoryMib",
    }
    for entry in schema.properties.values():
        assert entry["description"]


def test_the_rules_are_registered_with_their_severity() -> None:
    assert stack.RULES == (stack.ONE_ROLE_PER_SERVICE_ACCOUNT, stack.CAPACITY_FITS_NODE_GROUP)
    assert POLICIES[ONE_ROLE].severity == Severity.HIGH
    assert POLICIES[CAPACITY].severity == Severity.MEDIUM
