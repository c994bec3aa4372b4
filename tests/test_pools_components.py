"""build_runner_pools under Pulumi mocks: what each pool gets, and stable names when pools change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from arc_eks.config.loader import GitHubSecrets
from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import load_team_pools
from arc_eks.pools import PoolsResult, ScaleSetInputs, build_runner_pools
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, ArcMocks, ProgramRun, run_program
from tests.pool_fixtures import (
    ISSUER,
    TEAMS_DIR,
    example_team,
    fake_cluster,
    stack_config,
    write_team,
)

RD = "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment"
HRA = "kubernetes:actions.summerwind.dev/v1alpha1:HorizontalRunnerAutoscaler"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
SA = "kubernetes:core/v1:ServiceAccount"


def _scale_sets(provider: pulumi.ProviderResource) -> ScaleSetInputs:
    """A stand-in for the scale-set controller release, and the stack's token as a secret."""
    controller = k8s.core.v1.ConfigMap(
        "scale-set-controller", opts=pulumi.ResourceOptions(provider=provider)
    )
    secrets = GitHubSecrets(
        token=pulumi.Output.secret(f"{OFFLINE_SECRET_PREFIX}token"),
        app_private_key=None,
        webhook_secret=None,
    )
    return ScaleSetInputs(controller=[controller], secrets=secrets)


def _run(
    teams_dir: Path, stack: StackConfig, results: list[PoolsResult] | None = None
) -> ProgramRun:
    pools = load_team_pools(teams_dir, stack)

    def program() -> None:
        cluster = fake_cluster()
        controller = k8s.core.v1.ConfigMap(
            "arc-controller", opts=pulumi.ResourceOptions(provider=cluster.k8s_provider)
        )
        result = build_runner_pools(
            pools,
            stack=stack,
            cluster=cluster,
            depends_on=[controller],
            scale_sets=_scale_sets(cluster.k8s_provider),
        )
        if results is not None:
            results.append(result)

    return run_program(program, config={}, secret_keys=[], stack=stack.environment)


@pytest.fixture(scope="module")
def prod_run() -> ProgramRun:
    return _run(
        TEAMS_DIR,
        stack_config(
            "prod",
            controller={
                "webhookServer": True,
                "webhookAllowedCidrs": ["192.30.252.0/22"],
                "webhookCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d",
                "webhookHostname": "hooks.example.com",
            },
        ),
    )


def test_pools_with_grants_get_their_own_role_and_inline_policy(prod_run: ProgramRun) -> None:
    roles = {r.name: r for r in prod_run.of_type(ROLE)}
    assert set(roles) == {"payments-build-role", "data-platform-images-role"}
    assert {p.name for p in prod_run.of_type(POLICY)} == {
        "payments-build-access",
        "data-platform-images-access",
    }
    trust = json.loads(roles["payments-build-role"].inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        f"{ISSUER}:sub": "system:serviceaccount:runners-payments:build-runner",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }
    assert roles["payments-build-role"].inputs["name"] == "arc-eks-dev-payments-build"


def test_pool_without_grants_gets_a_plain_service_account(prod_run: ProgramRun) -> None:
    accounts = {r.name: r.inputs for r in prod_run.of_type(SA)}
    web = accounts["web-ci-sa"]
    assert "annotations" not in web["metadata"]
    assert web["automountServiceAccountToken"] is False
    annotated = accounts["payments-build-sa"]["metadata"]["annotations"]
    assert annotated["eks.amazonaws.com/role-arn"].endswith(":role/arc-eks-dev-payments-build")


def test_runner_resources_wait_for_the_controller_and_use_the_cluster_provider(
    prod_run: ProgramRun,
) -> None:
    controller = prod_run.one("kubernetes:core/v1:ConfigMap", "arc-controller").urn
    for resource in prod_run.of_type(RD) + prod_run.of_type(HRA):
        assert controller in resource.dependencies, resource.name
        assert "pulumi:providers:kubernetes::k8s" in resource.provider
    for namespace in prod_run.of_type("kubernetes:core/v1:Namespace"):
        assert "pulumi:providers:kubernetes::k8s" in namespace.provider
    hra = prod_run.one(HRA, "payments-build-autoscaler").inputs["spec"]
    assert hra["scaleUpTriggers"][0]["githubEvent"] == {"workflowJob": {}}


def test_namespaces_pod_security_levels(prod_run: ProgramRun) -> None:
    levels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        for r in prod_run.of_type("kubernetes:core/v1:Namespace")
    }
    assert levels == {
        "runners-payments": "privileged",
        "runners-data-platform": "baseline",
        # The docker: kubernetes pool runs in a namespace of its own.
        "runners-data-platform-pipelines": "baseline",
        "runners-web": "baseline",
    }


def test_cross_account_bucket_statement_is_returned_for_export(tmp_path: Path) -> None:
    results: list[PoolsResult] = []
    _run(TEAMS_DIR, stack_config("dev"), results)
    (result,) = results
    assert set(result.cross_account_bucket_statements) == {"data-platform-images/partner-exchange"}
    assert result.pools["web-ci"].role_arn is None
    assert set(result.exports()) == {"pools", "crossAccountBucketPolicyStatements"}
    exported = result.exports()["pools"]
    assert (exported["web-ci"]["mode"], exported["web-ci"]["scaleSetName"]) == (
        "runnerDeployment",
        None,
    )
    assert (exported["web-ci-scale-set"]["mode"], exported["web-ci-scale-set"]["scaleSetName"]) == (
        "scaleSet",
        "web-ci-scale-set-dev",
    )


@pytest.fixture
def mocks() -> None:
    """Fresh mocks for tests that build resources directly (set_mocks is process-global)."""
    pulumi.runtime.set_mocks(ArcMocks(), project="arc-eks", stack="dev", preview=False)


@pytest.mark.usefixtures("mocks")
@pulumi.runtime.test
def test_cross_account_statement_principal_is_the_pool_role() -> Any:
    results: list[PoolsResult] = []
    stack = stack_config("dev")
    pools = load_team_pools(TEAMS_DIR, stack)
    cluster = fake_cluster()
    results.append(
        build_runner_pools(
            pools,
            stack=stack,
            cluster=cluster,
            depends_on=[],
            scale_sets=_scale_sets(cluster.k8s_provider),
        )
    )
    statements = results[0].cross_account_bucket_statements["data-platform-images/partner-exchange"]

    def check(rendered: list[dict[str, Any]]) -> None:
        principals = {s["Principal"]["AWS"] for s in rendered}
        assert principals == {"arn:aws:iam::123456789012:role/arc-eks-dev-data-platform-images"}
        # readwrite: objects under the prefix, and listing the bucket narrowed to the prefix.
        by_action = {json.dumps(s["Action"]): s for s in rendered}
        listing = by_action['"s3:ListBucket"']
        assert listing["Resource"] == "arn:aws:s3:::partner-exchange"
        assert listing["Condition"] == {"StringLike": {"s3:prefix": ["acme/*"]}}
        objects = [s for s in rendered if s is not listing]
        assert [s["Resource"] for s in objects] == ["arn:aws:s3:::partner-exchange/acme/*"]

    return statements.apply(check)


def _snapshot(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.urn: r.plain_inputs() for r in run}


def test_adding_a_pool_changes_no_other_resource(tmp_path: Path) -> None:
    stack = stack_config("prod")
    for team in ("payments", "data-platform", "web"):
        write_team(tmp_path, team, example_team(team))
    before = _snapshot(_run(tmp_path, stack))

    web = example_team("web")
    web["pools"].append(
        {
            "name": "e2e",
            "scope": {"organization": "acme"},
            "labels": ["web-e2e"],
            "docker": "none",
            "autoscaling": {"min": 1, "max": 4},
            "environments": ["prod"],
        }
    )
    write_team(tmp_path, "web", web)
    after = _snapshot(_run(tmp_path, stack))

    added = set(after) - set(before)
    assert set(before) <= set(after), "a resource disappeared or was renamed"
    assert added and all("web-e2e" in urn for urn in added), added
    changed = [urn for urn in before if before[urn] != after[urn]]
    assert changed == []


def test_adding_a_pool_to_the_whole_program_changes_no_other_resource(tmp_path: Path) -> None:
    """The same property through arc_eks.program.main with the real prod stack file."""
    from tests.conftest import run_stack

    for team in ("payments", "data-platform", "web"):
        write_team(tmp_path, team, example_team(team))
    before = _snapshot(run_stack("prod", teams_dir=tmp_path))
    payments = example_team("payments")
    payments["pools"].append(
        {
            "name": "release",
            "scope": {"repository": "acme/payments-api"},
            "labels": ["payments-release"],
            "docker": "dind",
            "autoscaling": {"min": 1, "max": 2},
            "s3": [{"bucket": "acme-artifacts", "prefix": "payments/", "access": "write"}],
            "environments": ["prod"],
        }
    )
    write_team(tmp_path, "payments", payments)
    after = _snapshot(run_stack("prod", teams_dir=tmp_path))

    added = set(after) - set(before)
    assert set(before) <= set(after)
    assert {urn.rsplit("::", 1)[1] for urn in added} == {
        "payments-release",  # the IrsaServiceAccount and the RunnerPool components
        "payments-release-role",
        "payments-release-access",
        "payments-release-sa",
        "payments-release-runners",
        "payments-release-autoscaler",
    }
    assert [urn for urn in before if before[urn] != after[urn]] == []


def test_preview_knows_which_service_account_before_the_role_exists() -> None:
    """During a preview the role ARN is unknown; the ServiceAccount's name and namespace must not
    be (the preview diff and the policy pack's one-role-per-ServiceAccount rule read them)."""
    import json as _json

    from pulumi.runtime import rpc

    from arc_eks import program
    from arc_eks.review.offline import ArcMocks, config_map_from_stack_file, run_program, stack_file
    from tests.conftest import FIXTURE_PROJECT, default_secrets

    class RolesUnknownInPreview(ArcMocks):
        def new_resource(self, args):  # type: ignore[no-untyped-def]
            resource_id, outputs = super().new_resource(args)
            if args.typ == "aws:iam/role:Role":
                outputs.pop("arn", None)  # unknown until the role is created
            return resource_id, outputs

    config, secret_keys = config_map_from_stack_file(stack_file(FIXTURE_PROJECT, "dev"))
    secrets = default_secrets(config)
    run = run_program(
        lambda: program.main(project_dir=FIXTURE_PROJECT),
        config={**config, **secrets},
        secret_keys=sorted({*secret_keys, *secrets}),
        stack="dev",
        preview=True,
        mocks=RolesUnknownInPreview(),
    )
    account = run.one("kubernetes:core/v1:ServiceAccount", "payments-build-sa")
    metadata = account.inputs["metadata"]
    assert metadata["name"] == "build-runner"
    assert metadata["namespace"] == "runners-payments"
    annotation = metadata["annotations"]["eks.amazonaws.com/role-arn"]
    assert annotation == rpc.UNKNOWN, _json.dumps(metadata)
