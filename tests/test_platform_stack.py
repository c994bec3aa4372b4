"""Mocked runs of the three shipped stacks: every platform resource is there with the inputs that
matter. (Runner pools have their own tests.)"""

from __future__ import annotations

import json
from functools import cache

import pytest
import yaml

from arc_eks import versions
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, CapturedResource, ProgramRun, is_secret
from tests.conftest import FIXTURE_PROJECT, STACKS, run_stack

LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


@cache
def _run(env: str) -> ProgramRun:
    return run_stack(env)


def _stack_config(env: str) -> dict:
    document = yaml.safe_load((FIXTURE_PROJECT / "stacks" / f"Pulumi.{env}.yaml").read_text())
    return {k.removeprefix("arc-eks:"): v for k, v in document["config"].items()}


@pytest.mark.parametrize("env", STACKS)
def test_cluster_control_plane(env: str) -> None:
    run, cfg = _run(env), _stack_config(env)
    cluster = run.one("eks:index:Cluster")
    inputs = cluster.inputs
    assert inputs["name"] == f"arc-eks-{env}"
    assert inputs["version"] == versions.KUBERNETES_VERSION
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["createOidcProvider"] is True
    assert inputs["authenticationMode"] == "API"
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is cfg["cluster"]["endpointPublicAccess"]
    assert inputs["publicAccessCidrs"] == cfg["cluster"]["publicAccessCidrs"]
    assert "0.0.0.0/0" not in inputs["publicAccessCidrs"]
    assert set(inputs["enabledClusterLogTypes"]) == LOG_TYPES
    key = run.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert inputs["encryptionConfigKeyArn"].endswith(f":key/{key.name}-0000")
    admins = sorted(e["principalArn"] for e in inputs["accessEntries"].values())
    assert admins == sorted(cfg["cluster"]["adminRoleArns"])
    for entry in inputs["accessEntries"].values():
        (policy,) = entry["accessPolicies"].values()
        assert policy["policyArn"].endswith("AmazonEKSClusterAdminPolicy")
    # Stateful resources are protected in prod only.
    protected = env == "prod"
    assert cluster.protect is protected
    assert key.protect is protected


@pytest.mark.parametrize("env", STACKS)
def test_node_group_and_launch_template(env: str) -> None:
    run, cfg = _run(env), _stack_config(env)
    group = run.one("eks:index:ManagedNodeGroup", "cluster-runners").inputs  # the system group
    template = run.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert group["instanceTypes"] == ["t3a.large"]
    assert group["amiType"] == "AL2023_x86_64_STANDARD"
    assert group["launchTemplate"]["id"] == f"{template.name}-id"
    scaling = group["scalingConfig"]
    sizes = cfg["nodeGroup"]
    assert (scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]) == (
        sizes["minSize"],
        sizes["desiredSize"],
        sizes["maxSize"],
    )
    assert group["ignoreScalingChanges"] is True
    assert group["labels"]["arc-eks.io/node-role"] == "system"
    assert "taints" not in group
    assert group["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert group["tags"][f"k8s.io/cluster-autoscaler/arc-eks-{env}"] == "owned"
    assert "diskSize" not in group  # conflicts with a launch template

    lt = template.inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (root,) = lt["blockDeviceMappings"]
    assert root["ebs"]["encrypted"] == "true"
    assert root["ebs"]["volumeType"] == "gp3"
    assert root["ebs"]["volumeSize"] == sizes["rootVolumeGib"]
    # Own security groups would drop the cluster SG and break admission webhooks.
    assert "vpcSecurityGroupIds" not in lt and "networkInterfaces" not in lt


@pytest.mark.parametrize(("env", "azs", "nats"), [("dev", 2, 1), ("staging", 2, 1), ("prod", 3, 3)])
def test_network_layout(env: str, azs: int, nats: int) -> None:
    run = _run(env)
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    # Captured in the order registrations complete (threads), not creation order: sort by name.
    subnets.sort(key=lambda s: s.name)
    private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"]]
    public = [s for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"]]
    assert (len(private), len(public)) == (azs, azs)
    assert len({s.inputs["availabilityZone"] for s in private}) == azs
    for subnet in subnets:
        assert subnet.inputs["tags"][f"kubernetes.io/cluster/arc-eks-{env}"] == "shared"
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == nats
    cluster = run.one("eks:index:Cluster").inputs
    assert cluster["privateSubnetIds"] == [f"{s.name}-id" for s in private]


@pytest.mark.parametrize("env", STACKS)
def test_charts_pinned_and_ordered(env: str) -> None:
    run, cfg = _run(env), _stack_config(env)
    releases = {r.inputs["chart"]: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases["cert-manager"].inputs["version"] == versions.CERT_MANAGER_CHART_VERSION
    assert releases["cert-manager"].inputs["values"]["crds"]["enabled"] is True
    assert releases["cert-manager"].inputs["namespace"] == "cert-manager"
    arc = releases["actions-runner-controller"]
    assert arc.inputs["version"] == versions.ARC_CHART_VERSION
    assert arc.inputs["namespace"] == "actions-runner-system"
    values = arc.inputs["values"]
    assert values["replicaCount"] == cfg["controller"]["replicas"]
    assert values["podDisruptionBudget"]["enabled"] is (cfg["controller"]["replicas"] > 1)
    assert values["authSecret"] == {"enabled": True, "create": False, "name": "controller-manager"}
    # Through the stack's ECR pull-through cache where the stack turns it on (staging, prod).
    cached = f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/arc-eks-{env}/docker-hub/"
    on = cfg.get("imageCache", {}).get("enabled", False)
    assert on is (env != "dev")
    runner = values["image"]["actionsRunnerRepositoryAndTag"]
    assert runner == (cached + versions.RUNNER_IMAGE if on else versions.RUNNER_IMAGE)
    dind = values["image"]["dindSidecarRepositoryAndTag"]
    assert dind == (cached + "library/" + versions.DIND_IMAGE if on else versions.DIND_IMAGE)
    # ARC's Certificates need cert-manager's CRDs and webhook; the auth Secret must exist first.
    auth = run.one("kubernetes:core/v1:Secret", "arc-auth")
    assert releases["cert-manager"].urn in arc.dependencies
    assert auth.urn in arc.dependencies
    ca = releases["cluster-autoscaler"]
    assert ca.inputs["version"] == versions.CLUSTER_AUTOSCALER_CHART_VERSION
    assert ca.inputs["values"]["autoDiscovery"]["clusterName"] == f"arc-eks-{env}"
    assert ca.inputs["values"]["image"]["tag"] == versions.CLUSTER_AUTOSCALER_IMAGE_TAG


@pytest.mark.parametrize("env", STACKS)
def test_kubernetes_objects_use_the_cluster_provider(env: str) -> None:
    run = _run(env)
    provider = run.one("pulumi:providers:kubernetes")
    for resource in run:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider.startswith(provider.urn), resource.name


@pytest.mark.parametrize("env", STACKS)
def test_auth_secret_is_a_pulumi_secret_and_never_in_plain_text(env: str) -> None:
    run, cfg = _run(env), _stack_config(env)
    auth = run.one("kubernetes:core/v1:Secret", "arc-auth")
    assert is_secret(auth.inputs["stringData"])
    data = auth.plain_inputs()["stringData"]
    if cfg["github"]["auth"] == "app":
        assert set(data) == {
            "github_app_id",
            "github_app_installation_id",
            "github_app_private_key",
        }
        assert data["github_app_id"] == cfg["github"]["appId"]
    else:
        assert set(data) == {"github_token"}
    # No input of any resource holds a credential outside a secret wrapper.
    for resource in run:
        dumped = json.dumps(resource.plain_inputs(mask="(secret)"))
        assert OFFLINE_SECRET_PREFIX not in dumped, resource.name


@pytest.mark.parametrize(("env", "port"), [("staging", 443), ("prod", 443)])
def test_webhook_server_is_reachable_only_from_the_allowlist(env: str, port: int) -> None:
    controller = _stack_config(env)["controller"]
    arc = _run(env).one("kubernetes:helm.sh/v3:Release", "arc-release")
    service = arc.inputs["values"]["githubWebhookServer"]["service"]
    assert service["type"] == "LoadBalancer"
    assert service["loadBalancerSourceRanges"] == controller["webhookAllowedCidrs"]
    assert [p["port"] for p in service["ports"]] == [port]
    annotations = service["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    cert = annotations.get("service.beta.kubernetes.io/aws-load-balancer-ssl-cert")
    assert cert == controller.get("webhookCertificateArn")


def test_webhook_server_secret_only_where_enabled() -> None:
    assert not [
        r for r in _run("dev").of_type("kubernetes:core/v1:Secret") if r.name == "arc-webhook"
    ]
    webhook = _run("prod").one("kubernetes:core/v1:Secret", "arc-webhook")
    assert is_secret(webhook.inputs["stringData"])
    arc = _run("prod").one("kubernetes:helm.sh/v3:Release", "arc-release")
    assert arc.inputs["values"]["githubWebhookServer"]["secret"]["create"] is False


def _autoscaler_role(run: ProgramRun) -> CapturedResource:
    return run.one("aws:iam/role:Role", "cluster-autoscaler-role")


def test_cluster_autoscaler_irsa_trust_and_scoped_writes() -> None:
    run = _run("dev")
    trust = json.loads(_autoscaler_role(run).inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    conditions = statement["Condition"]["StringEquals"]
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041A"
    assert conditions == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    policy = json.loads(
        run.one("aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler-scaling").inputs["policy"]
    )
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        writes = [a for a in actions if not a.split(":")[1].startswith(("Describe", "Get"))]
        if st["Resource"] == "*":
            assert writes == [], "only read-only Describe/Get actions may use Resource *"
        if writes:
            assert "k8s.io/cluster-autoscaler/arc-eks-dev" in json.dumps(st["Condition"])
    release = run.one("kubernetes:helm.sh/v3:Release", "cluster-autoscaler-release")
    sa = release.inputs["values"]["rbac"]["serviceAccount"]
    assert sa["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/cluster-autoscaler-role")


def test_platform_iam_documents_lint_clean() -> None:
    from parliament import analyze_policy_string

    # parliament lints identity (permission) policies. It does not model trust policies: it
    # reports every OIDC provider as UNKNOWN_FEDERATION_SOURCE and a trust statement (no Resource)
    # as MALFORMED, so trust policies are checked structurally in the test above instead.
    document = _run("dev").one("aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler-scaling")
    findings = analyze_policy_string(document.inputs["policy"]).findings
    # RESOURCE_STAR on Describe calls is the documented, unavoidable exception.
    assert [f.issue for f in findings if f.issue != "RESOURCE_STAR"] == []
    invented = document.inputs["policy"].replace("DescribeTags", "DescribeTagz")
    assert "UNKNOWN_ACTION" in {f.issue for f in analyze_policy_string(invented).findings}


def test_ebs_csi_addon_with_its_own_irsa_role_after_the_nodes() -> None:
    run = _run("dev")
    addon = run.one("aws:eks/addon:Addon", "ebs-csi-driver-addon")
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    assert addon.inputs["clusterName"] == "arc-eks-dev"
    assert addon.inputs["addonVersion"]  # pinned: EKS's default version for the pinned Kubernetes
    role = run.one("aws:iam/role:Role", "ebs-csi-driver-role")
    assert addon.inputs["serviceAccountRoleArn"].endswith(f":role/{role.name}")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    subjects = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    for node_group in run.of_type("eks:index:ManagedNodeGroup"):
        assert node_group.urn in addon.dependencies


def test_existing_vpc_creates_no_network_and_hands_its_subnets_to_the_cluster() -> None:
    private = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    public = ["subnet-0fedcba9876543210"]
    network = {
        "existingVpc": {
            "vpcId": "vpc-0123456789abcdef0",
            "privateSubnetIds": private,
            "publicSubnetIds": public,
        }
    }
    run = run_stack("dev", set_config={"arc-eks:network": network})
    assert not [
        r
        for r in run
        if r.type.startswith("aws:ec2/") and r.type != "aws:ec2/launchTemplate:LaunchTemplate"
    ]
    cluster = run.one("eks:index:Cluster").inputs
    assert cluster["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster["privateSubnetIds"] == private
    assert cluster["publicSubnetIds"] == public
    for group in run.of_type("eks:index:ManagedNodeGroup"):
        assert group.inputs["subnetIds"] == private


def test_github_enterprise_server_url_reaches_the_controller() -> None:
    github = {"auth": "pat", "enterpriseUrl": "https://github.example.com"}
    run = run_stack("dev", set_config={"arc-eks:github": github})
    values = run.one("kubernetes:helm.sh/v3:Release", "arc-release").inputs["values"]
    assert values["githubEnterpriseServerURL"] == "https://github.example.com"
    assert (
        "githubEnterpriseServerURL"
        not in _run("dev").one("kubernetes:helm.sh/v3:Release", "arc-release").inputs["values"]
    )
