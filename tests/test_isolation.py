"""One pool's jobs reach nothing of another's: pod hardening, default-deny NetworkPolicies, the
container hooks' Role and the admission policy on kubernetes-mode job pods.

Fixtures: tests/fixtures/isolation-teams (one pool per Docker mode, two teams).
"""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from arc_eks import versions
from arc_eks.builders.admission import job_pod_policy, job_pod_validations, pool_user
from arc_eks.builders.network_policy import runner_network_policies
from arc_eks.builders.node_groups import placement
from arc_eks.builders.runner import (
    POOL_LABEL,
    TEAM_LABEL,
    container_hooks_rbac,
    hook_template_config_map,
    pool_namespace,
    runner_deployment_manifest,
    service_account_manifest,
)
from arc_eks.config.pool_spec import PoolSpec
from arc_eks.config.teams import DockerMode, ResolvedPool, load_team_pools
from arc_eks.errors import ConfigError
from arc_eks.pools import build_runner_pools, check_runner_namespaces
from arc_eks.review.offline import ProgramRun, run_program
from tests.pool_fixtures import fake_cluster, stack_config, write_team

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "isolation-teams"
K8S_VERSION = f"{versions.KUBERNETES_VERSION}.0"
RELEASED_CRDS = ("charts", "actions-runner-controller-0.23.7", "actions-runner-controller", "crds")


def _stack() -> Any:
    return stack_config(
        "dev", teams={"alpha": {"organizations": ["acme"]}, "beta": {"organizations": ["acme"]}}
    )


POOLS = {p.key: p for p in load_team_pools(FIXTURES, _stack())}
KUBERNETES_POOL = POOLS["alpha-jobs"]


def _pool(key: str) -> ResolvedPool:
    return POOLS[key]


# --- pods --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(POOLS))
def test_runner_pods_run_seccomp_runtime_default_and_only_kubernetes_mode_gets_the_api_token(
    key: str, reference_dir: Path
) -> None:
    pool = _pool(key)
    where = placement(pool, "perTeam")
    deployment = runner_deployment_manifest(
        pool, node_selector=where.node_selector, tolerations=where.tolerations
    )
    spec = deployment["spec"]["template"]["spec"]
    assert spec["tolerations"] == where.tolerations and spec["nodeSelector"] == where.node_selector
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    needs_token = pool.spec.docker == DockerMode.KUBERNETES
    assert spec["automountServiceAccountToken"] is needs_token
    account = service_account_manifest(pool, "arn:aws:iam::123456789012:role/r")
    assert account.get("automountServiceAccountToken", True) is needs_token
    # The released chart's CRD (what users install) knows every field we set.
    crd = yaml.safe_load(
        reference_dir.joinpath(
            *RELEASED_CRDS, "actions.summerwind.dev_runnerdeployments.yaml"
        ).read_text()
    )
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]
    jsonschema.Draft7Validator(schema).validate(deployment)
    template = schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"]
    assert set(spec) <= set(template["properties"])
    assert set(spec["securityContext"]) <= set(
        template["properties"]["securityContext"]["properties"]
    )


def test_kubernetes_pool_lives_alone_in_its_namespace() -> None:
    namespaces = {key: pool_namespace(pool) for key, pool in POOLS.items()}
    assert namespaces["alpha-jobs"] == "runners-alpha-jobs"
    assert namespaces["alpha-build"] == namespaces["alpha-plain"] == "runners-alpha"
    assert list(namespaces.values()).count("runners-alpha-jobs") == 1
    for manifest in container_hooks_rbac(KUBERNETES_POOL):
        assert manifest["metadata"]["namespace"] == "runners-alpha-jobs"


def test_hooks_role_is_exactly_what_the_hooks_check_for() -> None:
    role, binding = container_hooks_rbac(KUBERNETES_POOL)
    granted = {
        (resource, verb)
        for rule in role["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if rule["apiGroups"] == [""]
    }
    # requiredPermissions of runner-container-hooks 0.8.1 (packages/k8s/src/k8s/index.ts).
    required = {
        *(("pods", v) for v in ("get", "list", "create", "delete")),
        *(("pods/exec", v) for v in ("get", "create")),
        *(("pods/log", v) for v in ("get", "list", "watch")),
        *(("secrets", v) for v in ("get", "list", "create", "delete")),
    }
    assert granted == required
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "jobs-runner", "namespace": "runners-alpha-jobs"}
    ]
    for manifest in (role, binding):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_namespace_clash_and_length_are_refused_before_anything(tmp_path: Path) -> None:
    pool = {
        "scope": {"repository": "acme/app"},
        "docker": "kubernetes",
        "environments": ["dev"],
        "autoscaling": {
            "min": 0,
            "max": 2,
            "metric": {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"},
        },
    }
    # Team "aaa" pool "b-c" and team "aaa-b" pool "c" would share runners-aaa-b-c.
    write_team(
        tmp_path, "aaa", {"team": "aaa", "pools": [{**pool, "name": "b-c", "labels": ["a1"]}]}
    )
    write_team(
        tmp_path, "aaa-b", {"team": "aaa-b", "pools": [{**pool, "name": "c", "labels": ["a2"]}]}
    )
    long_team = "long" * 8
    write_team(
        tmp_path,
        long_team,
        {"team": long_team, "pools": [{**pool, "name": "x" * 40, "labels": ["l"]}]},
    )
    granted = {"organizations": ["acme"]}
    stack = stack_config("dev", teams={"aaa": granted, "aaa-b": granted, long_team: granted})
    # Refused when the team files are read, before any pool is built.
    with pytest.raises(ConfigError) as raised:
        load_team_pools(tmp_path, stack)
    text = str(raised.value)
    assert "'aaa-b-c' in IAM and Kubernetes" in text
    assert f"runners-{long_team}-{'x' * 40}" in text and "over Kubernetes' 63 characters" in text
    assert len(raised.value.problems) == 2
    # The program's own check (for pools built without the team files) sees the same clash.
    clash = [
        ResolvedPool(
            t,
            "dev",
            f"teams/{t}.yaml",
            PoolSpec.model_validate(
                {
                    **{k: v for k, v in pool.items() if k != "environments"},
                    "name": n,
                    "labels": ["z"],
                }
            ),
            (),
        )
        for t, n in (("aaa", "b-c"), ("aaa-b", "c"))
    ]
    with pytest.raises(ConfigError) as raised:
        check_runner_namespaces(clash)
    assert "runners-aaa-b-c" in str(raised.value) and "taken by pool" in str(raised.value)
    check_runner_namespaces(list(POOLS.values()))  # the fixture's pools are fine


# --- network policies --------------------------------------------------------------------------


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def egress_allowed(
    policies: list[dict[str, Any]],
    pod_labels: dict[str, str],
    ip: str,
    port: int,
    proto: str = "TCP",
) -> bool:
    """NetworkPolicy semantics for ipBlock peers: allowed when any policy selecting the pod for
    Egress has a rule whose peer and port match (and the pod is selected by at least one)."""
    selecting = [
        p
        for p in policies
        if "Egress" in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod_labels)
    ]
    assert selecting, "pod not isolated for egress"
    address = ipaddress.ip_address(ip)
    for policy in selecting:
        for rule in policy["spec"].get("egress", []):
            ports = rule.get("ports")
            if ports and not any(
                p["port"] == port and p.get("protocol", "TCP") == proto for p in ports
            ):
                continue
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block is None:
                    continue
                if address in ipaddress.ip_network(block["cidr"]) and not any(
                    address in ipaddress.ip_network(e) for e in block.get("except", [])
                ):
                    return True
    return False


RUNNER = {TEAM_LABEL: "alpha", POOL_LABEL: "jobs"}
JOB_POD = {"runner-pod": "alpha-jobs-xyz"}  # what the hooks label job pods with


@pytest.mark.parametrize(
    ("ip", "port", "allowed"),
    [
        ("140.82.112.3", 443, True),  # github.com
        ("52.94.236.248", 443, True),  # an AWS public endpoint
        ("140.82.112.3", 22, True),  # git over SSH
        ("169.254.169.254", 80, False),  # node IMDS
        ("169.254.170.23", 80, False),  # EKS Pod Identity agent
        ("10.0.12.7", 443, False),  # a node / pod / the control plane ENI in the VPC
        ("10.0.12.7", 9443, False),  # ARC's webhook pod
        ("172.20.0.1", 443, False),  # API server ClusterIP: not for a team namespace
        ("10.100.0.10", 53, False),  # DNS only through the kube-dns rule
        ("192.168.1.1", 443, False),  # peered networks
        ("100.64.3.3", 443, False),  # secondary pod CIDRs
    ],
)
def test_team_namespace_egress(ip: str, port: int, allowed: bool) -> None:
    policies = runner_network_policies("runners-alpha")
    for labels in ({TEAM_LABEL: "alpha", POOL_LABEL: "build"}, {}):
        assert egress_allowed(policies, labels, ip, port) is allowed


def test_only_runner_pods_of_a_kubernetes_pool_reach_the_api_server() -> None:
    policies = runner_network_policies("runners-alpha-jobs", api_server_pods=RUNNER)
    for ip in ("172.20.0.1", "10.100.0.1"):
        assert egress_allowed(policies, RUNNER, ip, 443)
        assert not egress_allowed(policies, RUNNER, ip, 80)
        assert not egress_allowed(policies, JOB_POD, ip, 443)
    assert not egress_allowed(policies, RUNNER, "169.254.169.254", 80)


def test_default_deny_and_dns_and_nothing_inbound() -> None:
    policies = runner_network_policies("runners-alpha")
    deny = next(p for p in policies if p["metadata"]["name"] == "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert not any(p["spec"].get("ingress") for p in policies)
    dns = next(p for p in policies if p["metadata"]["name"] == "allow-dns")
    (rule,) = dns["spec"]["egress"]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {("UDP", 53), ("TCP", 53)}
    # No rule reaches pods: no podSelector/namespaceSelector peer except kube-dns.
    peers = [peer for p in policies for r in p["spec"].get("egress", []) for peer in r["to"]]
    assert [peer for peer in peers if "ipBlock" not in peer] == [rule["to"][0]]
    for policy in runner_network_policies("runners-alpha-jobs", api_server_pods=RUNNER):
        kubernetes_validate.validate(policy, K8S_VERSION, strict=True)


# --- admission policy (CEL evaluated with cel-python) ---------------------------------------------


def _hooks_job_pod() -> dict[str, Any]:
    """A job pod as runner-container-hooks 0.8.1 creates it (after the ServiceAccount admission
    plugin has defaulted serviceAccountName), with the pool's job pod template merged in as the
    hooks merge it (each top-level spec key of the template replaces the pod's)."""
    where = placement(KUBERNETES_POOL, "perTeam")
    config_map = hook_template_config_map(KUBERNETES_POOL, where.node_selector, where.tolerations)
    assert config_map is not None
    (document,) = config_map["data"].values()
    template = yaml.safe_load(document)
    pod = _hooks_pod_before_template()
    pod["spec"].update(template["spec"])
    return pod


def _hooks_pod_before_template() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "alpha-jobs-xyz-workflow", "labels": {"runner-pod": "alpha-jobs-xyz"}},
        "spec": {
            "serviceAccountName": "default",
            "restartPolicy": "Never",
            "initContainers": [
                {
                    "name": "fs-init",
                    "image": "ghcr.io/actions/actions-runner:latest",
                    "securityContext": {"runAsUser": 1001, "runAsGroup": 1001},
                }
            ],
            "containers": [
                {"name": "job", "image": "node:22"},
                {"name": "redis", "image": "redis:7"},
            ],
            "volumes": [{"name": "work", "emptyDir": {}}, {"name": "externals", "emptyDir": {}}],
        },
    }


def _evaluate(expression: str, activation: dict[str, Any]) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression))
    result = program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})
    return bool(result)


def _admitted(pod: dict[str, Any], username: str) -> bool:
    (policy, _binding) = job_pod_policy(KUBERNETES_POOL)
    spec = policy["spec"]
    request = {"userInfo": {"username": username}}
    matches = all(_evaluate(c["expression"], {"request": request}) for c in spec["matchConditions"])
    if not matches:
        return True  # the policy does not apply
    return all(
        _evaluate(v["expression"], {"object": pod, "request": request}) for v in spec["validations"]
    )


POOL_USER = "system:serviceaccount:runners-alpha-jobs:jobs-runner"


def _mutate(path: str, value: Any) -> dict[str, Any]:
    pod = _hooks_job_pod()
    target: Any = pod
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    target[last] = value
    return pod


def test_the_policy_admits_the_hooks_job_pod() -> None:
    assert pool_user(KUBERNETES_POOL) == POOL_USER
    assert _admitted(_hooks_job_pod(), POOL_USER)
    no_sa = _hooks_job_pod()
    del no_sa["spec"]["serviceAccountName"]
    assert _admitted(no_sa, POOL_USER)
    explicit = _mutate("spec.containers.0.securityContext", {"privileged": False})
    assert _admitted(explicit, POOL_USER)


FORBIDDEN = {
    "another pool's ServiceAccount": ("spec.serviceAccountName", "build-runner"),
    "privileged container": ("spec.containers.1.securityContext", {"privileged": True}),
    "privileged init container": ("spec.initContainers.0.securityContext.privileged", True),
    "privileged ephemeral container": (
        "spec.ephemeralContainers",
        [{"name": "debug", "image": "busybox:1", "securityContext": {"privileged": True}}],
    ),
    "hostPath volume": ("spec.volumes", [{"name": "root", "hostPath": {"path": "/"}}]),
    "host network": ("spec.hostNetwork", True),
    "host PID": ("spec.hostPID", True),
    "runner pod label": ("metadata.labels", {POOL_LABEL: "jobs"}),
    "API token mounted": ("spec.automountServiceAccountToken", True),
    "pinned to a node": ("spec.nodeName", "ip-10-0-1-1.eu-west-1.compute.internal"),
    "another class's nodes": ("spec.nodeSelector", {"arc-eks.io/isolation": "privileged-beta"}),
    "the system nodes": ("spec.nodeSelector", {"arc-eks.io/isolation": "system"}),
    "no node selector": ("spec.nodeSelector", {}),
}


def test_the_hooks_pod_without_the_template_is_refused() -> None:
    """The template is what makes the hooks' pods admissible: without it (no selector, token
    mounted by default) the policy refuses them."""
    assert not _admitted(_hooks_pod_before_template(), POOL_USER)


def test_runner_mounts_the_job_pod_template() -> None:
    where = placement(KUBERNETES_POOL, "perTeam")
    spec = runner_deployment_manifest(
        KUBERNETES_POOL, node_selector=where.node_selector, tolerations=where.tolerations
    )["spec"]["template"]["spec"]
    config_map = hook_template_config_map(KUBERNETES_POOL, where.node_selector, where.tolerations)
    assert config_map is not None
    (key,) = config_map["data"]
    (env,) = [e for e in spec["env"] if e["name"] == "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE"]
    (mount,) = spec["volumeMounts"]
    (volume,) = spec["volumes"]
    assert env["value"] == f"{mount['mountPath']}/{key}" and mount["readOnly"] is True
    assert volume == {"name": mount["name"], "configMap": {"name": config_map["metadata"]["name"]}}
    assert config_map["metadata"]["namespace"] == "runners-alpha-jobs"
    kubernetes_validate.validate(config_map, K8S_VERSION, strict=True)
    assert hook_template_config_map(POOLS["alpha-plain"], {}, []) is None


@pytest.mark.parametrize("case", sorted(FORBIDDEN))
def test_the_policy_refuses_forbidden_job_pods(case: str) -> None:
    path, value = FORBIDDEN[case]
    pod = _mutate(path, copy.deepcopy(value))
    assert not _admitted(pod, POOL_USER)
    # Other users (ARC's controller creating runner pods) are not subject to it.
    assert _admitted(pod, "system:serviceaccount:actions-runner-system:arc-controller")
    assert _admitted(pod, "system:serviceaccount:runners-alpha:jobs-runner")


def test_every_validation_refuses_something() -> None:
    """Each expression on its own is false for at least one forbidden pod (none is dead)."""
    pods = [_mutate(path, copy.deepcopy(value)) for path, value in FORBIDDEN.values()]
    for expression, message in job_pod_validations("standard"):
        assert any(not _evaluate(expression, {"object": pod}) for pod in pods), message


def test_policy_objects_validate_and_only_kubernetes_pools_get_one() -> None:
    policy, binding = job_pod_policy(KUBERNETES_POOL)
    for manifest in (policy, binding):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    assert binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert {p.key for p in POOLS.values() if job_pod_policy(p)} == {"alpha-jobs"}


# --- wired under Pulumi mocks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pools_run() -> ProgramRun:
    pools = list(POOLS.values())

    def program() -> None:
        cluster = fake_cluster()
        controller = k8s.core.v1.ConfigMap(
            "arc-controller", opts=pulumi.ResourceOptions(provider=cluster.k8s_provider)
        )
        build_runner_pools(pools, stack=_stack(), cluster=cluster, depends_on=[controller])

    return run_program(program, config={}, secret_keys=[], stack="dev")


NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NS = "kubernetes:core/v1:Namespace"
RD = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"


def test_every_runner_namespace_is_default_deny(pools_run: ProgramRun) -> None:
    namespaces = {r.inputs["metadata"]["name"] for r in pools_run.of_type(NS)}
    assert namespaces == {"runners-alpha", "runners-alpha-jobs", "runners-beta"}
    policies: dict[str, set[str]] = {}
    for policy in pools_run.of_type(NP):
        meta = policy.inputs["metadata"]
        policies.setdefault(meta["namespace"], set()).add(meta["name"])
    base = {"default-deny", "allow-dns", "allow-internet-egress"}
    assert policies == {
        "runners-alpha": base,
        "runners-beta": base,
        "runners-alpha-jobs": base | {"allow-api-server"},
    }


def test_runners_wait_for_default_deny_and_hooks_rights_wait_for_the_fence(
    pools_run: ProgramRun,
) -> None:
    deny = {
        p.inputs["metadata"]["namespace"]: p.urn
        for p in pools_run.of_type(NP)
        if p.inputs["metadata"]["name"] == "default-deny"
    }
    for runners in pools_run.of_type(RD):
        assert deny[runners.inputs["metadata"]["namespace"]] in runners.dependencies, runners.name
    fence = pools_run.one(
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
        "alpha-jobs-job-pod-policy-binding",
    )
    template = pools_run.one("kubernetes:core/v1:ConfigMap", "alpha-jobs-hooks-template")
    assert template.urn in pools_run.one(RD, "alpha-jobs-runners").dependencies
    for kind, name in (
        ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "alpha-jobs-hooks-binding"),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", "alpha-jobs-hooks-role"),
    ):
        assert fence.urn in pools_run.one(kind, name).dependencies


@pytest.fixture(scope="module")
def stack_run() -> ProgramRun:
    """The whole program for a stack file and team files of this test's own."""
    from arc_eks import program
    from arc_eks.review.offline import config_map_from_stack_file
    from tests.conftest import PROJECT_DIR, default_secrets

    config, secret_keys = config_map_from_stack_file(FIXTURES.parent / "isolation-stack.yaml")
    secrets = default_secrets(config)
    config.update(secrets)
    return run_program(
        lambda: program.main(project_dir=PROJECT_DIR, teams_dir=FIXTURES),
        config=config,
        secret_keys=sorted({*secret_keys, *secrets}),
        stack="dev",
    )


def test_network_policy_enforcement_is_on(stack_run: ProgramRun) -> None:
    """The VPC CNI enforces NetworkPolicies only with its network policy agent switched on."""
    (cluster,) = stack_run.of_type("eks:index:Cluster")
    cni = cluster.inputs.get("vpcCniOptions", {})
    values = cni.get("configurationValues", {})
    values = json.loads(values) if isinstance(values, str) else values
    addons = [
        a
        for a in stack_run.of_type("aws:eks/addon:Addon")
        if a.inputs.get("addonName") == "vpc-cni"
    ]
    via_addon = any(
        json.loads(a.inputs.get("configurationValues") or "{}").get("enableNetworkPolicy") == "true"
        for a in addons
    )
    assert (
        cni.get("enableNetworkPolicy") is True
        or values.get("enableNetworkPolicy") == "true"
        or via_addon
    )


def test_whole_program_fences_every_runner_namespace(stack_run: ProgramRun) -> None:
    namespaces = {r.inputs["metadata"]["name"] for r in stack_run.of_type(NS)}
    runner_namespaces = {n for n in namespaces if n.startswith("runners-")}
    assert runner_namespaces == {"runners-alpha", "runners-alpha-jobs", "runners-beta"}
    deny = {
        p.inputs["metadata"]["namespace"]
        for p in stack_run.of_type(NP)
        if p.inputs["metadata"]["name"] == "default-deny"
    }
    assert runner_namespaces <= deny
