"""`make verify`: a deployed stack, built in moto (EKS cluster and node groups, the OIDC provider,
pool roles with the program's own trust and permission documents), checked against its config.

moto lacks eks:DescribeAddon and iam:SimulatePrincipalPolicy: those two calls are answered through
botocore's before-call hook (the mechanism its Stubber uses), each response validated against the
service model's output shape. SimulatePrincipalPolicy is answered by a small evaluator of the
role's actual inline policy (Allow statements, wildcards, StringLike/StringEquals), independent of
the code under test. In-cluster checks run the official client against a fake API server."""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import gzip
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from arc_eks import versions
from arc_eks.builders.iam import irsa_trust_policy
from arc_eks.builders.s3_grants import pool_permission_policy
from arc_eks.builders.scale_set import scale_set_name
from arc_eks.components.cluster import CONTROL_PLANE_LOG_TYPES
from arc_eks.components.irsa_service_account import role_name
from arc_eks.ops import verify
from arc_eks.ops.checks import Aws, Report, Status
from arc_eks.ops.kube import ARC_GROUP, HelmRelease, InCluster, helm_releases
from arc_eks.ops.stackfile import StackExpectations, load_expectations
from tests.fake_kube import FakeKube, serve
from tests.ops_fixtures import ACCOUNT, REGION, account, answer, aws_session, write_project

__all__ = ["account"]  # the fixture, imported

CLUSTER = "arc-eks-test"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def evaluate(policy: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> str:
    """IAM's decision for an identity policy of Allow statements (what the program writes)."""

    def listed(value: Any) -> list[str]:
        return value if isinstance(value, list) else [value]

    def condition_holds(condition: dict[str, Any]) -> bool:
        for operator, keys in condition.items():
            for key, wanted in keys.items():
                if key not in context:
                    return False
                if operator == "StringLike":
                    ok = any(fnmatch.fnmatchcase(context[key], w) for w in listed(wanted))
                elif operator == "StringEquals":
                    ok = context[key] in listed(wanted)
                else:
                    return False
                if not ok:
                    return False
        return True

    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in listed(statement["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in listed(statement["Resource"])):
            continue
        if condition_holds(statement.get("Condition", {})):
            return "allowed"
    return "implicitDeny"


def simulator(iam: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def respond(params: dict[str, Any]) -> dict[str, Any]:
        role = params["PolicySourceArn"].rsplit("/", 1)[-1]
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        policies = [
            iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names
        ]
        context = {
            e["ContextKeyName"]: e["ContextKeyValues"][0] for e in params.get("ContextEntries", [])
        }
        results = []
        for action in params["ActionNames"]:
            for resource in params["ResourceArns"]:
                decisions = [evaluate(p, action, resource, context) for p in policies]
                results.append(
                    {
                        "EvalActionName": action,
                        "EvalResourceName": resource,
                        "EvalDecision": "allowed" if "allowed" in decisions else "implicitDeny",
                        "MatchedStatements": [],
                        "MissingContextValues": [],
                    }
                )
        return {"EvaluationResults": results, "IsTruncated": False}

    return respond


def addon_answers(
    versions_by_addon: dict[str, tuple[str, str]],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def respond(params: dict[str, Any]) -> dict[str, Any]:
        version, status = versions_by_addon[params["addonName"]]
        return {
            "addon": {
                "addonName": params["addonName"],
                "clusterName": params["clusterName"],
                "status": status,
                "addonVersion": version,
                "health": {"issues": []},
                "addonArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/{CLUSTER}/{params['addonName']}/x",
                "tags": {},
            }
        }

    return respond


def deploy(
    expected: StackExpectations,
    *,
    policy_for: Callable[[Any], dict[str, Any]] | None = None,
    trust_for: Callable[[str, str, str, str], dict[str, Any]] = irsa_trust_policy,
    log_types: list[str] = CONTROL_PLANE_LOG_TYPES,
) -> dict[str, Any]:
    """Build in moto what `pulumi up` would have built; return the stack outputs."""
    key = aws_session().client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    eks = aws_session().client("eks", region_name=REGION)
    iam = aws_session().client("iam")
    role = iam.create_role(RoleName="cluster", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.create_cluster(
        name=CLUSTER,
        version=expected.kubernetes_version,
        roleArn=role,
        resourcesVpcConfig={
            "subnetIds": ["subnet-0a", "subnet-0b"],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
        },
        logging={"clusterLogging": [{"types": log_types, "enabled": True}]},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
    )
    issuer = eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
    provider = iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=[THUMBPRINT]
    )["OpenIDConnectProviderArn"]
    for group in expected.node_groups:
        eks.create_nodegroup(
            clusterName=CLUSTER,
            nodegroupName=f"{group.name}-0a1b2c3",
            nodeRole=role,
            subnets=["subnet-0a", "subnet-0b"],
            instanceTypes=list(group.instance_types),
            amiType=group.ami_type,
            scalingConfig={
                "minSize": group.min_size,
                "maxSize": group.max_size,
                "desiredSize": group.min_size,
            },
            labels=group.labels,
            taints=list(group.taints),
            version=expected.kubernetes_version,
        )
    pools: dict[str, Any] = {}
    for pool in expected.pools:
        namespace, service_account = f"runners-{pool.team}", f"{pool.name}-runner"
        arn = None
        if pool.has_aws_access:
            name = role_name(CLUSTER, pool)
            arn = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(
                    trust_for(provider, issuer, namespace, service_account)
                ),
            )["Role"]["Arn"]
            document = (policy_for or _program_policy)(pool)
            iam.put_role_policy(
                RoleName=name, PolicyName="grants", PolicyDocument=json.dumps(document)
            )
        pools[pool.key] = {
            "team": pool.team,
            "pool": pool.name,
            "namespace": namespace,
            "serviceAccount": service_account,
            "roleArn": arn,
        }
    return {"clusterName": CLUSTER, "oidcProviderArn": provider, "runnerPools": pools}


def _program_policy(pool: Any) -> dict[str, Any]:
    return pool_permission_policy(pool.s3, pool.spec.ecr, region=REGION, account_id=ACCOUNT)


def aws_for(
    expected: StackExpectations,
    addons: dict[str, tuple[str, str]] | None = None,
    simulate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Aws:
    aws = Aws(REGION, aws_session())
    answer(aws.client("iam"), "SimulatePrincipalPolicy", simulate or simulator(aws.client("iam")))
    versions = addons or {
        name: (pinned or "v1.50.0-eksbuild.1", "ACTIVE") for name, pinned in expected.addons.items()
    }
    answer(aws.client("eks"), "DescribeAddon", addon_answers(versions))
    return aws


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, StackExpectations]:
    stack_path, teams_dir = write_project(tmp_path)
    expected, problems = load_expectations(stack_path, teams_dir, "test")
    assert expected is not None and not problems
    return stack_path, teams_dir, expected


def aws_checks(
    project: tuple[Path, Path, StackExpectations], outputs: dict[str, Any], aws: Aws | None = None
) -> dict[str, tuple[Status, str]]:
    stack_path, teams_dir, expected = project
    report = verify.run(
        "test",
        stack_path=stack_path,
        teams_dir=teams_dir,
        outputs=outputs,
        aws=aws or aws_for(expected),
        in_cluster=False,
    )
    return {r.name: (r.status, r.detail) for r in report.results}


def test_a_stack_deployed_as_configured_passes(account: None, project: Any) -> None:
    expected = project[2]
    found = aws_checks(project, deploy(expected))
    failures = {k: v for k, v in found.items() if v[0] is not Status.OK}
    assert not failures, failures
    for name in (
        f"cluster/{CLUSTER}",
        "cluster/version",
        "cluster/endpoint",
        "cluster/logging",
        "cluster/secrets-encryption",
        "oidc-provider",
        "pool-role/blue-build",
        "pool-role/green-ci",
        "simulate/blue-build",
        "simulate/green-ci",
        *(f"addon/{a}" for a in expected.addons),
    ):
        assert name in found, name
    # Every node group of the config was found: system plus one per isolation class.
    groups = {n.split(" ")[0] for n in found if n.startswith("node-group/")}
    assert groups == {"node-group/system", "node-group/standard", "node-group/privileged-blue"}
    # blue-build: readwrite on blue-cache/blue/ (Get, Put, AbortMultipartUpload, Delete, and
    # List under the prefix), read on shared-artifacts (Get, List), push to ECR blue/app (the
    # three pull and four push actions).
    assert found["simulate/blue-build"][1].startswith("14 allowed on its own grants")


def test_a_policy_reaching_beyond_its_prefix_fails_the_simulation(
    account: None, project: Any
) -> None:
    def too_broad(pool: Any) -> dict[str, Any]:
        document = _program_policy(pool)
        for statement in document["Statement"]:
            if statement["Resource"] == "arn:aws:s3:::blue-cache/blue/*":
                statement["Resource"] = "arn:aws:s3:::blue-cache/*"
        return document

    found = aws_checks(project, deploy(project[2], policy_for=too_broad))
    status, detail = found["simulate/blue-build"]
    assert status is Status.FAIL
    assert (
        "s3:GetObject on arn:aws:s3:::blue-cache/arc-eks-verify-other-prefix/arc-eks-verify-probe"
        in detail
    )
    assert "allowed, expected denied" in detail
    assert found["simulate/green-ci"][0] is Status.OK


def test_bucket_policy_rights_or_other_buckets_fail_the_simulation(
    account: None, project: Any
) -> None:
    def admin(pool: Any) -> dict[str, Any]:
        document = _program_policy(pool)
        document["Statement"].append(
            {
                "Effect": "Allow",
                "Action": ["s3:PutBucketPolicy", "s3:GetObject"],
                "Resource": ["arn:aws:s3:::green-cache", "arn:aws:s3:::blue-cache/*"],
            }
        )
        return document

    found = aws_checks(project, deploy(project[2], policy_for=admin))
    status, detail = found["simulate/green-ci"]
    assert status is Status.FAIL
    assert "s3:PutBucketPolicy on arn:aws:s3:::green-cache" in detail
    assert "s3:GetObject on arn:aws:s3:::blue-cache/arc-eks-verify-probe" in detail


def test_ecr_beyond_the_pools_own_repositories_fails_the_simulation(
    account: None, project: Any
) -> None:
    def every_repository(pool: Any) -> dict[str, Any]:
        document = _program_policy(pool)
        if pool.team == "green":
            document["Statement"].append(
                {
                    "Effect": "Allow",
                    "Action": "ecr:PutImage",
                    "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
                }
            )
        return document

    found = aws_checks(project, deploy(project[2], policy_for=every_repository))
    status, detail = found["simulate/green-ci"]
    assert status is Status.FAIL
    assert f"ecr:PutImage on arn:aws:ecr:{REGION}:{ACCOUNT}:repository/blue/app" in detail
    assert found["simulate/blue-build"][0] is Status.OK


def test_a_pool_that_cannot_reach_its_own_grant_fails(account: None, project: Any) -> None:
    def nothing_listed(pool: Any) -> dict[str, Any]:
        document = _program_policy(pool)
        document["Statement"] = [s for s in document["Statement"] if s["Action"] != "s3:ListBucket"]
        return document

    status, detail = aws_checks(project, deploy(project[2], policy_for=nothing_listed))[
        "simulate/blue-build"
    ]
    assert status is Status.FAIL
    assert "s3:ListBucket on arn:aws:s3:::blue-cache (list blue-cache under 'blue/')" in detail
    assert "implicitDeny, expected allowed" in detail


def test_a_trust_policy_wider_than_one_service_account_fails(account: None, project: Any) -> None:
    def any_service_account(provider: str, issuer: str, namespace: str, sa: str) -> dict[str, Any]:
        document = irsa_trust_policy(provider, issuer, namespace, sa)
        condition = document["Statement"][0]["Condition"]
        key = next(k for k in condition["StringEquals"] if k.endswith(":sub"))
        condition["StringLike"] = {key: f"system:serviceaccount:{namespace}:*"}
        del condition["StringEquals"][key]
        return document

    found = aws_checks(project, deploy(project[2], trust_for=any_service_account))
    assert found["pool-role/blue-build"][0] is Status.FAIL
    assert "system:serviceaccount:runners-blue:*" in found["pool-role/blue-build"][1]


def test_cluster_and_addon_drift_fail(account: None, project: Any) -> None:
    expected = project[2]
    outputs = deploy(expected, log_types=["api", "audit"])
    addons = {name: ("v0.0.1-eksbuild.1", "ACTIVE") for name in expected.addons}
    addons["coredns"] = (str(expected.addons["coredns"]), "DEGRADED")
    found = aws_checks(project, outputs, aws_for(expected, addons))
    assert found["cluster/logging"] == (
        Status.FAIL,
        "log types off: authenticator, controllerManager, scheduler",
    )
    assert found["addon/vpc-cni"] == (
        Status.FAIL,
        f"v0.0.1-eksbuild.1; pinned {expected.addons['vpc-cni']}",
    )
    assert found["addon/coredns"][1].endswith("status DEGRADED, not ACTIVE")
    # Unpinned (EKS's default for the minor): any ACTIVE version passes.
    assert found["addon/aws-ebs-csi-driver"][0] is Status.OK


def test_node_group_drift_fails(account: None, project: Any) -> None:
    expected = project[2]
    outputs = deploy(expected)
    aws_session().client("eks", region_name=REGION).update_nodegroup_config(
        clusterName=CLUSTER,
        nodegroupName="standard-0a1b2c3",
        scalingConfig={"minSize": 0, "maxSize": 9, "desiredSize": 0},
    )
    found = aws_checks(project, outputs)
    status, detail = next(v for k, v in found.items() if k.startswith("node-group/standard"))
    assert status is Status.FAIL and "min/max 0/9, configured 0/3" in detail


def test_a_missing_runner_node_group_fails(account: None, tmp_path: Path) -> None:
    """A node group the config implies (green moved to dind -> its own privileged group) that
    the account lacks is reported, by the labels it must carry."""
    stack_path, teams_dir = write_project(tmp_path)
    before, _ = load_expectations(stack_path, teams_dir, "test")
    assert before is not None
    outputs = deploy(before)
    green = yaml.safe_load((teams_dir / "green.yaml").read_text())
    green["pools"][0]["docker"] = "dind"
    (teams_dir / "green.yaml").write_text(yaml.safe_dump(green))
    expected, _ = load_expectations(stack_path, teams_dir, "test")
    assert expected is not None
    found = aws_checks((stack_path, teams_dir, expected), outputs, aws_for(expected))
    assert found["node-group/privileged-green"][0] is Status.FAIL
    assert found["node-group/standard-0a1b2c3"][0] is Status.WARN


def test_denied_simulation_is_cannot_check(account: None, project: Any) -> None:
    expected = project[2]
    outputs = deploy(expected)

    def denied(params: dict[str, Any]) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
            "SimulatePrincipalPolicy",
        )

    aws = aws_for(expected, simulate=denied)
    stack_path, teams_dir, _ = project
    report = verify.run(
        "test",
        stack_path=stack_path,
        teams_dir=teams_dir,
        outputs=outputs,
        aws=aws,
        in_cluster=False,
    )
    line = next(r for r in report.results if r.name == "simulate/blue-build")
    assert line.status is Status.CANNOT_CHECK
    assert line.permission == "iam:SimulatePrincipalPolicy"


# --- in the cluster ------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

RUNNERS_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"runners.{ARC_GROUP}"},
    "spec": {
        "group": ARC_GROUP,
        "names": {"kind": "Runner", "plural": "runners"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "image": {"type": "string"},
                                    "labels": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "phase": {"type": "string"},
                                    "ready": {"type": "boolean"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def helm_secret(
    release: Any, *, version: str, crds: list[dict[str, Any]], manifest_crds: list[dict[str, Any]]
) -> dict[str, Any]:
    """A Helm 3 release Secret: the release JSON, gzipped, base64 (Helm), base64 (Kubernetes)."""
    document = {
        "name": release.name,
        "namespace": release.namespace,
        "version": 1,
        "chart": {
            "metadata": {"name": release.chart, "version": version},
            "files": [
                {
                    "name": f"crds/{c['metadata']['name']}.yaml",
                    "data": base64.b64encode(yaml.safe_dump(c).encode()).decode(),
                }
                for c in crds
            ],
        },
        "manifest": "\n---\n".join(yaml.safe_dump(c) for c in manifest_crds),
    }
    helm = base64.b64encode(gzip.compress(json.dumps(document).encode()))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"sh.helm.release.v1.{release.name}.v1",
            "labels": {"owner": "helm", "name": release.name, "status": "deployed", "version": "1"},
        },
        "type": "helm.sh/release.v1",
        "data": {"release": base64.b64encode(helm).decode()},
    }


def installed(crd: dict[str, Any]) -> dict[str, Any]:
    return {**crd, "status": {"conditions": [{"type": "Established", "status": "True"}]}}


def cluster_state(expected: StackExpectations, *, arc_chart: str | None = None) -> FakeKube:
    fake = FakeKube()
    for release in helm_releases():
        ns = release.namespace
        fake.add(
            f"/apis/apps/v1/namespaces/{ns}/deployments",
            {
                "metadata": {
                    "name": release.name,
                    "labels": {"app.kubernetes.io/instance": release.name},
                },
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {}},
                    "template": {"metadata": {}, "spec": {"containers": []}},
                },
                "status": {"replicas": 2, "readyReplicas": 2},
            },
        )
        is_arc = release.chart == "actions-runner-controller"
        fake.add(
            f"/api/v1/namespaces/{ns}/secrets",
            helm_secret(
                release,
                version=(arc_chart or release.version) if is_arc else release.version,
                crds=[RUNNERS_CRD] if is_arc else [],
                manifest_crds=[],
            ),
        )
    fake.objects[f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/runners.{ARC_GROUP}"] = (
        installed(RUNNERS_CRD)
    )
    for pool in expected.pools:
        ns = f"runners-{pool.team}"
        base = f"/apis/{ARC_GROUP}/v1alpha1/namespaces/{ns}"
        fake.add(
            f"{base}/runnerdeployments",
            {
                "apiVersion": f"{ARC_GROUP}/v1alpha1",
                "kind": "RunnerDeployment",
                "metadata": {"name": pool.name},
                "status": {"desiredReplicas": 1},
            },
        )
        fake.add(
            f"{base}/runners",
            {
                "apiVersion": f"{ARC_GROUP}/v1alpha1",
                "kind": "Runner",
                "metadata": {
                    "name": f"{pool.name}-abc-1",
                    "labels": {"runner-deployment-name": pool.name},
                },
                "status": {"phase": "Running", "ready": True},
            },
        )
        fake.lists.setdefault(f"/api/v1/namespaces/{ns}/pods", [])
    return fake


def in_cluster(
    expected: StackExpectations, fake: FakeKube, url: str
) -> dict[str, tuple[Status, str]]:
    report = Report("verify", "test")
    outputs = {"kubeconfig": json.dumps(fake.kubeconfig(url)), "runnerPools": {}}
    InCluster(expected, outputs, report, pending_minutes=10, now=NOW).run()
    return {r.name: (r.status, r.detail) for r in report.results}


@pytest.fixture
def expected(tmp_path: Path) -> StackExpectations:
    stack_path, teams_dir = write_project(tmp_path)
    loaded, _ = load_expectations(stack_path, teams_dir, "test")
    assert loaded is not None
    return loaded


def test_a_healthy_cluster_passes_through_the_kubernetes_api(expected: StackExpectations) -> None:
    fake = cluster_state(expected)
    with serve(fake) as url:
        found = in_cluster(expected, fake, url)
    failures = {k: v for k, v in found.items() if v[0] is not Status.OK}
    assert not failures, failures
    assert found[f"crd/runners.{ARC_GROUP}"][1].startswith("as in chart actions-runner-controller")
    assert found["runners/blue-build"] == (Status.OK, "1 of 1 desired runner(s) running and ready")
    # The client asked with the selectors that scope each question.
    assert any("labelSelector=runner-deployment-name%3Dbuild" in r for r in fake.requests)
    assert any("fieldSelector=status.phase%3DPending" in r for r in fake.requests)


def test_stale_crds_unready_controllers_and_stuck_pods_fail(expected: StackExpectations) -> None:
    fake = cluster_state(expected)
    stale = json.loads(json.dumps(RUNNERS_CRD))
    del stale["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["labels"]
    fake.objects[f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/runners.{ARC_GROUP}"] = (
        installed(stale)
    )
    fake.lists["/apis/apps/v1/namespaces/cert-manager/deployments"][0]["status"][
        "readyReplicas"
    ] = 1
    fake.lists["/api/v1/namespaces/runners-blue/pods"] = [
        {
            "metadata": {
                "name": "build-abc-2",
                "creationTimestamp": (NOW - timedelta(minutes=25)).isoformat(),
            },
            "status": {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available",
                    }
                ],
            },
        },
        {
            "metadata": {
                "name": "build-abc-3",
                "creationTimestamp": (NOW - timedelta(minutes=2)).isoformat(),
            },
            "status": {"phase": "Pending"},
        },
    ]
    runner = fake.lists[f"/apis/{ARC_GROUP}/v1alpha1/namespaces/runners-green/runners"][0]
    runner["status"] = {"phase": "Pending", "ready": False}
    with serve(fake) as url:
        found = in_cluster(expected, fake, url)
    status, detail = found[f"crd/runners.{ARC_GROUP}"]
    assert status is Status.FAIL and "fields missing: .spec.labels" in detail
    assert found["controllers/cert-manager"] == (Status.FAIL, "cert-manager 1/2 ready")
    status, detail = found["pending-pods/runners-blue"]
    assert status is Status.FAIL
    assert "build-abc-2 25 min (0/3 nodes are available)" in detail and "build-abc-3" not in detail
    assert found["runners/green-ci"][0] is Status.WARN


def test_release_behind_its_pin_and_missing_pool_fail(expected: StackExpectations) -> None:
    fake = cluster_state(expected, arc_chart="0.23.5")
    del fake.objects[f"/apis/{ARC_GROUP}/v1alpha1/namespaces/runners-green/runnerdeployments/ci"]
    with serve(fake) as url:
        found = in_cluster(expected, fake, url)
    status, detail = found["helm-release/actions-runner-controller"]
    assert status is Status.FAIL and "chart actions-runner-controller 0.23.5; pinned" in detail
    assert found["runners/green-ci"] == (Status.FAIL, "no RunnerDeployment runners-green/ci")


def test_forbidden_is_cannot_check_and_no_kubeconfig_is_said(expected: StackExpectations) -> None:
    fake = cluster_state(expected)
    fake.forbidden.add("/api/v1/namespaces/runners-blue/pods")
    with serve(fake) as url:
        found = in_cluster(expected, fake, url)
    assert found["pending-pods/runners-blue"][0] is Status.CANNOT_CHECK
    report = Report("verify", "test")
    InCluster(expected, {"kubeconfig": "[secret]"}, report).run()
    assert report.results[0].status is Status.CANNOT_CHECK
    assert "--show-secrets" in report.results[0].detail


def test_a_failing_token_command_fails_without_a_traceback(
    expected: StackExpectations, tmp_path: Path
) -> None:
    """The stack's kubeconfig gets its token from `aws eks get-token`; when that command fails
    (no AWS CLI, expired credentials), every in-cluster check fails with the reason."""
    fake = cluster_state(expected)
    with serve(fake) as url:
        kubeconfig = fake.kubeconfig(url)
        kubeconfig["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": str(tmp_path / "no-such-aws-cli"),
                "args": ["eks", "get-token", "--cluster-name", CLUSTER],
            }
        }
        report = Report("verify", "test")
        InCluster(expected, {"kubeconfig": kubeconfig}, report, now=NOW).run()
    assert report.results and all(r.status is Status.FAIL for r in report.results)
    assert "HTTP 401: not authenticated" in report.results[0].detail


def test_cli_reads_outputs_from_a_file_or_stdin(
    account: None,
    project: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack_path, teams_dir, _ = project
    outputs = tmp_path / "outputs.json"
    outputs.write_text("not json")
    argv = ["--stack", "test", "--stack-file", str(stack_path), "--teams-dir", str(teams_dir)]
    assert verify.main([*argv, "--outputs", str(outputs)]) == 2
    assert "cannot read the stack outputs" in capsys.readouterr().err
    # `make verify` pipes `pulumi stack output --json --show-secrets` in: `--outputs -`.
    outputs_json = json.dumps(deploy(project[2]))
    monkeypatch.setattr("sys.stdin", io.StringIO(outputs_json))
    monkeypatch.setattr(verify, "Aws", lambda region: aws_for(project[2]))
    code = verify.main([*argv, "--outputs", "-", "--no-cluster", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert document["command"] == "verify" and document["failed"] is False
    assert not [c for c in document["checks"] if c["name"].startswith("runners/")]


def _with_scale_set(expected: StackExpectations) -> StackExpectations:
    first, *rest = expected.pools
    spec = first.spec.model_copy(update={"mode": "scaleSet"})
    return dataclasses.replace(expected, pools=[dataclasses.replace(first, spec=spec), *rest])


def _scale_set_state(expected: StackExpectations, *, chart_version: str) -> FakeKube:
    fake = cluster_state(expected)
    (controller,) = [r for r in helm_releases(scale_sets=True) if r not in helm_releases()]
    ns = controller.namespace
    fake.add(
        f"/apis/apps/v1/namespaces/{ns}/deployments",
        {
            "metadata": {
                "name": controller.name,
                "labels": {"app.kubernetes.io/instance": controller.name},
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {}},
                "template": {"metadata": {}, "spec": {"containers": []}},
            },
            "status": {"replicas": 2, "readyReplicas": 2},
        },
    )
    fake.add(
        f"/api/v1/namespaces/{ns}/secrets",
        helm_secret(controller, version=controller.version, crds=[], manifest_crds=[]),
    )
    pool = expected.pools[0]
    runners = f"runners-{pool.team}"
    release = HelmRelease(
        scale_set_name(pool), runners, versions.SCALE_SET_CHART, versions.SCALE_SET_CHART_VERSION
    )
    fake.add(
        f"/api/v1/namespaces/{runners}/secrets",
        helm_secret(release, version=chart_version, crds=[], manifest_crds=[]),
    )
    fake.add(
        f"/apis/actions.github.com/v1alpha1/namespaces/{runners}/autoscalingrunnersets",
        {
            "apiVersion": "actions.github.com/v1alpha1",
            "kind": "AutoscalingRunnerSet",
            "metadata": {"name": scale_set_name(pool)},
            "status": {"currentRunners": 2, "runningEphemeralRunners": 2},
        },
    )
    return fake


def test_a_scale_set_pool_is_verified_by_its_release_and_runner_set(
    expected: StackExpectations,
) -> None:
    scale = _with_scale_set(expected)
    pool = scale.pools[0]
    fake = _scale_set_state(scale, chart_version=versions.SCALE_SET_CHART_VERSION)
    with serve(fake) as url:
        found = in_cluster(scale, fake, url)
    failures = {k: v for k, v in found.items() if v[0] is not Status.OK}
    assert not failures, failures
    assert found["controllers/gha-rs-controller"][0] is Status.OK
    assert found[f"helm-release/{scale_set_name(pool)}"][0] is Status.OK
    status, detail = found[f"runners/{pool.key}"]
    assert status is Status.OK and detail.startswith("2 runner(s): 2 running, 0 pending, 0 failed")
    # no RunnerDeployment is asked for a scale-set pool
    assert not any(f"runnerdeployments/{pool.name}" in r for r in fake.requests)

    fake = _scale_set_state(scale, chart_version="0.13.0")
    ars = f"/apis/actions.github.com/v1alpha1/namespaces/runners-{pool.team}/autoscalingrunnersets"
    del fake.objects[f"{ars}/{scale_set_name(pool)}"]
    with serve(fake) as url:
        found = in_cluster(scale, fake, url)
    status, detail = found[f"helm-release/{scale_set_name(pool)}"]
    assert status is Status.FAIL and "chart gha-runner-scale-set 0.13.0; pinned" in detail
    assert found[f"runners/{pool.key}"] == (
        Status.FAIL,
        f"no AutoscalingRunnerSet runners-{pool.team}/{scale_set_name(pool)}",
    )
    # without scale-set pools the scale-set controller is not expected
    assert [r.chart for r in helm_releases() if "scale-set" in r.chart] == []
