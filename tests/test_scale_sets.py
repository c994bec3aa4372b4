"""Runner scale sets: the pool mode and its refusals, the controller and runner-set Helm values
rendered by Helm's engine from the pinned charts and validated against the chart's CRDs, and the
whole program under mocks (what is created where, what waits for what, secrets)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from arc_eks import versions
from arc_eks.builders import scale_set as ss
from arc_eks.builders.node_groups import placement
from arc_eks.builders.runner import CONTAINER_HOOKS_RULES, POOL_LABEL, TEAM_LABEL
from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import ResolvedPool, load_team_pools
from arc_eks.errors import ConfigError
from arc_eks.pools import scale_set_problems
from arc_eks.resource_graph import in_cluster_order_problems
from arc_eks.review import artifacts, helm_render
from arc_eks.review.offline import OFFLINE_SECRET_PREFIX, CapturedResource, ProgramRun, is_secret
from arc_eks.review.policies import run_policies
from tests.pool_fixtures import stack_config, write_team
from tests.program_fixtures import pool, run_fixture, write_teams

RELEASE = helm_render.RELEASE_TYPE
KUBE = "v1.35.0"
ARS = ("actions.github.com/v1alpha1", "AutoscalingRunnerSet")
KUBERNETES_IMAGE = "ghcr.io/acme/runner-hooks:2.335.1-hooks0.8.1"
KANIKO_IMAGE = "ghcr.io/acme/kaniko-runner:2.335.1-kaniko1.28.0"


# --- the pool model ---------------------------------------------------------------------------


def _stack(default_mode: str = "runnerDeployment", **overrides: Any) -> StackConfig:
    return stack_config(
        scaleSets={"defaultMode": default_mode},
        images={"allowedRegistries": ["docker.io", "ghcr.io"]},
        **overrides,
    )


def _load(tmp_path: Path, pools: list[dict[str, Any]], **stack: Any) -> list[ResolvedPool]:
    write_team(tmp_path, "web", {"team": "web", "pools": pools})
    return load_team_pools(tmp_path, _stack(**stack))


def _pool(**extra: Any) -> dict[str, Any]:
    return {
        "name": "ci",
        "scope": {"organization": "acme"},
        "labels": ["web-ci"],
        "docker": "none",
        "environments": ["dev"],
        **extra,
    }


def _problems(tmp_path: Path, pools: list[dict[str, Any]], **stack: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, pools, **stack)
    return [f"{p.path}: {p.expected}" for p in caught.value.problems]


def test_the_stack_default_mode_applies_unless_the_pool_names_one(tmp_path: Path) -> None:
    pools = [_pool(), _pool(name="legacy", labels=["web-legacy"], mode="runnerDeployment")]
    loaded = {p.name: p.spec.mode for p in _load(tmp_path, pools, default_mode="scaleSet")}
    assert loaded == {"ci": "scaleSet", "legacy": "runnerDeployment"}
    loaded = {p.name: p.spec.mode for p in _load(tmp_path, pools)}
    assert loaded == {"ci": "runnerDeployment", "legacy": "runnerDeployment"}


def test_an_environment_may_switch_the_mode(tmp_path: Path) -> None:
    (dev,) = _load(tmp_path, [_pool(environments={"dev": {"mode": "scaleSet"}})])
    assert dev.spec.is_scale_set


@pytest.mark.parametrize(
    ("autoscaling", "expected"),
    [
        ({"metric": {"type": "PercentageRunnersBusy"}}, "no metric with mode: scaleSet"),
        ({"scaleDownDelaySeconds": 60}, "no scaleDownDelaySeconds with mode: scaleSet"),
        ({"webhookScaleUpDuration": "5m"}, "no webhookScaleUpDuration with mode: scaleSet"),
        (
            {
                "schedules": [
                    {
                        "name": "weekend",
                        "start": "2026-01-03T00:00:00+00:00",
                        "end": "2026-01-05T00:00:00+00:00",
                        "min": 1,
                    }
                ]
            },
            "no schedules with mode: scaleSet (a scale set has no scheduled minimums",
        ),
    ],
)
def test_what_only_a_horizontal_runner_autoscaler_has_is_refused_for_a_scale_set(
    tmp_path: Path, autoscaling: dict[str, Any], expected: str
) -> None:
    pools = [_pool(mode="scaleSet", autoscaling={"max": 3, **autoscaling})]
    (problem,) = _problems(tmp_path, pools)
    assert problem.startswith("pools[0].autoscaling: ") and expected in problem
    # the same keys are fine on a RunnerDeployment pool
    assert _load(tmp_path, [_pool(autoscaling={"max": 3, **autoscaling})])


def test_a_scale_set_may_scale_to_zero_and_keeps_the_team_ceiling(tmp_path: Path) -> None:
    (loaded,) = _load(tmp_path, [_pool(mode="scaleSet", autoscaling={"min": 0, "max": 3})])
    assert loaded.spec.autoscaling.min == 0
    # min 0 with the default metric is still refused for a RunnerDeployment pool
    assert _problems(tmp_path, [_pool(autoscaling={"min": 0, "max": 3})])
    (problem,) = _problems(tmp_path, [_pool(mode="scaleSet", autoscaling={"max": 99})])
    assert problem.startswith("pools[0].autoscaling.max: at most 20, the team's maxRunnersPerPool")


def test_capacity_counts_the_dind_sidecar_in_both_modes(tmp_path: Path) -> None:
    big = {"requests": {"cpu": "1600m", "memory": "6Gi"}, "limits": {"cpu": 1.6, "memory": "6Gi"}}
    for mode in ("scaleSet", "runnerDeployment"):
        (problem,) = _problems(tmp_path, [_pool(mode=mode, docker="dind", resources=big)])
        assert "runner + docker sidecar" in problem


def test_the_scale_set_image_has_its_own_docker_group(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, [_pool(mode="scaleSet", docker="dind", dockerGid=121)])
    assert "dockerGid 123 or unset" in problem
    assert _load(tmp_path, [_pool(mode="scaleSet", docker="dind", dockerGid=123)])


def test_container_mode_kubernetes_is_never_a_scale_set(tmp_path: Path) -> None:
    # A scale set's GitHub credentials live in a Secret of its namespace, which the hooks' Role
    # could read: refused, with the way out, whatever the runner image.
    for extra in ({}, {"runnerImage": KUBERNETES_IMAGE}):
        (problem,) = _problems(tmp_path, [_pool(mode="scaleSet", docker="kubernetes", **extra)])
        assert problem.startswith("pools[0]: no docker: kubernetes with mode: scaleSet")
        assert "use mode: runnerDeployment for docker: kubernetes" in problem
    # ... also when one environment switches the pool to a scale set
    override = _pool(docker="kubernetes", environments={"dev": {"mode": "scaleSet"}})
    (problem,) = _problems(tmp_path, [override])
    assert "no docker: kubernetes with mode: scaleSet" in problem
    # the same pool as a RunnerDeployment is fine
    (legacy,) = _load(tmp_path, [_pool(mode="runnerDeployment", docker="kubernetes")])
    assert not legacy.spec.is_scale_set


def test_a_kubernetes_pool_naming_no_mode_stays_a_runner_deployment(tmp_path: Path) -> None:
    # A stack whose default becomes scaleSet moves its other pools, never refuses these.
    pools = [_pool(docker="kubernetes"), _pool(name="lint", labels=["web-lint"])]
    loaded = {p.name: p.spec.mode for p in _load(tmp_path, pools, default_mode="scaleSet")}
    assert loaded == {"ci": "runnerDeployment", "lint": "scaleSet"}
    # the HRA keys a RunnerDeployment may have are checked as for one (not refused as scale set)
    busy = _pool(docker="kubernetes", autoscaling={"metric": {"type": "PercentageRunnersBusy"}})
    (kept,) = _load(tmp_path, [busy], default_mode="scaleSet")
    assert kept.spec.mode == "runnerDeployment"


def test_the_builder_refuses_a_kubernetes_scale_set(tmp_path: Path) -> None:
    (legacy,) = _load(tmp_path, [_pool(mode="runnerDeployment", docker="kubernetes")])
    forced = dataclasses.replace(legacy, spec=legacy.spec.model_copy(update={"mode": "scaleSet"}))
    with pytest.raises(ValueError, match="never a scale set"):
        ss.scale_set_pod_template(forced, node_selector={})


def test_an_enterprise_scope_needs_a_pat_in_both_modes(tmp_path: Path) -> None:
    app = {"auth": "app", "appId": "1", "installationId": "2"}
    teams = {"web": {"enterprises": ["acme-ent"]}}
    for mode in ("scaleSet", "runnerDeployment"):
        pools = [_pool(mode=mode, scope={"enterprise": "acme-ent"})]
        (problem,) = _problems(tmp_path, pools, github=app, teams=teams)
        assert "GitHub Apps cannot manage enterprise runners" in problem


def test_the_scale_set_name_is_at_most_45_characters(tmp_path: Path) -> None:
    name = "a" * 40
    (long,) = _load(tmp_path, [_pool(name=name, mode="scaleSet")])
    assert len(ss.scale_set_name(long)) == 48
    (problem,) = scale_set_problems([long])
    assert problem.source == "teams/web.yaml" and problem.path == f"pools[name={name}].name"
    assert f"'web-{name}-dev'" in problem.expected and "at most 45" in problem.expected
    # a RunnerDeployment pool of the same name has no scale set
    (legacy,) = _load(tmp_path, [_pool(name=name)])
    assert scale_set_problems([legacy]) == []
    (short,) = _load(tmp_path, [_pool(name="a" * 37, mode="scaleSet")])
    assert len(ss.scale_set_name(short)) == 45 and scale_set_problems([short]) == []


def test_scale_set_names_differ_between_stacks_and_pools(tmp_path: Path) -> None:
    (dev,) = _load(tmp_path, [_pool(mode="scaleSet")])
    prod = dataclasses.replace(dev, environment="prod")
    other = dataclasses.replace(dev, team="webx")
    names = {ss.scale_set_name(p) for p in (dev, prod, other)}
    assert names == {"web-ci-dev", "web-ci-prod", "webx-ci-dev"}


def test_enterprise_ca_certificate_rules() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    with pytest.raises(ValueError, match="only with enterpriseUrl"):
        _stack(github={"enterpriseCaCertificate": pem})
    with pytest.raises(ValueError, match="as PEM text"):
        _stack(github={"enterpriseUrl": "https://ghe.example.com", "enterpriseCaCertificate": "x"})
    with pytest.raises(ValueError, match="without a private key"):
        _stack(
            github={
                "enterpriseUrl": "https://ghe.example.com",
                "enterpriseCaCertificate": pem + "-----BEGIN PRIVATE KEY-----\n",
            }
        )


# --- Helm values, rendered by Helm's engine, validated against the chart's CRDs -----------------


def _resolved(tmp_path: Path, docker: str, **extra: Any) -> ResolvedPool:
    (resolved,) = _load(
        tmp_path,
        [_pool(mode="scaleSet", docker=docker, **{"group": "web-runners", **extra})],
        teams={"web": {"organizations": ["acme"], "runnerGroups": ["web-runners"]}},
    )
    return resolved


def _render(values: dict[str, Any], namespace: str, name: str) -> list[helm_render.RenderedObject]:
    spec = helm_render.ReleaseSpec(
        resource=name,
        name=name,
        chart=versions.SCALE_SET_CHART,
        version=versions.SCALE_SET_CHART_VERSION,
        namespace=namespace,
        values=values,
    )
    assert helm_render.ignored_values(spec, KUBE) == []
    return helm_render.render_release(spec, KUBE)


@pytest.fixture(scope="module")
def crds() -> artifacts.CrdValidators:
    return artifacts.chart_crd_validators()


MODES: dict[str, dict[str, Any]] = {
    "dind": {},
    "none": {},
    "kaniko": {"runnerImage": KANIKO_IMAGE},
}


@pytest.mark.parametrize("docker", sorted(MODES))
def test_every_docker_mode_renders_a_valid_autoscaling_runner_set(
    tmp_path: Path, crds: artifacts.CrdValidators, docker: str
) -> None:
    pool_ = _resolved(tmp_path, docker, **MODES[docker])
    where = placement(pool_, "perTeam")
    values = ss.runner_scale_set_values(
        pool_, node_selector=where.node_selector, tolerations=where.tolerations
    )
    # containerMode unset: the chart writes nothing of its own into the pod template
    assert "containerMode" not in values
    objects = _render(values, "runners-web", ss.scale_set_name(pool_))
    (ars,) = [o.manifest for o in objects if (o.api_version, o.kind) == ARS]
    validator = crds.get(ARS)
    assert validator is not None and list(validator.iter_errors(ars)) == []
    spec = ars["spec"]
    assert spec["githubConfigUrl"] == "https://github.com/acme"
    assert spec["githubConfigSecret"] == ss.GITHUB_CONFIG_SECRET_NAME
    assert spec["runnerScaleSetName"] == "web-ci-dev" and spec["runnerGroup"] == "web-runners"
    assert spec["runnerScaleSetLabels"] == ["web-ci"]
    assert (spec["minRunners"], spec["maxRunners"]) == (1, 5)
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "ci-runner"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {"fsGroup": 1001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["nodeSelector"] == where.node_selector
    assert pod["tolerations"] == where.tolerations
    labels = spec["template"]["metadata"]["labels"]
    assert labels[TEAM_LABEL] == "web" and labels[POOL_LABEL] == "ci"
    (runner,) = pod["containers"]
    assert runner["name"] == "runner" and runner["command"] == ["/home/runner/run.sh"]
    assert runner["image"] == MODES[docker].get("runnerImage", versions.SCALE_SET_RUNNER_IMAGE)
    every = [*pod["containers"], *pod.get("initContainers", [])]
    privileged = [c["name"] for c in every if (c.get("securityContext") or {}).get("privileged")]
    assert privileged == (["dind"] if docker == "dind" else [])
    # the manager RoleBinding names the scale-set controller's ServiceAccount
    (binding,) = [o.manifest for o in objects if o.kind == "RoleBinding"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": ss.SCALE_SET_CONTROLLER_SERVICE_ACCOUNT,
            "namespace": ss.SCALE_SET_CONTROLLER_NAMESPACE,
        }
    ]


def test_the_dind_sidecar_is_pinned_and_native(tmp_path: Path) -> None:
    pool_ = _resolved(tmp_path, "dind")
    values = ss.runner_scale_set_values(pool_, node_selector={})
    objects = _render(values, "runners-web", "web-ci-dev")
    (ars,) = [o.manifest for o in objects if o.kind == "AutoscalingRunnerSet"]
    init = {c["name"]: c for c in ars["spec"]["template"]["spec"]["initContainers"]}
    assert list(init) == ["init-dind-externals", "dind"]
    dind = init["dind"]
    assert dind["image"] == versions.SCALE_SET_DIND_IMAGE == "docker:29.5.3-dind"
    assert dind["restartPolicy"] == "Always"
    assert dind["startupProbe"]["exec"]["command"] == ["docker", "info"]
    assert dind["args"] == ["dockerd", "--host=unix:///var/run/docker.sock", "--group=123"]
    assert dind["args"] == ss.scale_set_dind_args(pool_)
    assert init["init-dind-externals"]["image"] == versions.SCALE_SET_RUNNER_IMAGE
    (runner,) = ars["spec"]["template"]["spec"]["containers"]
    assert {"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"} in runner["env"]
    assert "docker:dind" not in str(ars)
    # a pool's own daemon image replaces the pin
    own = _resolved(tmp_path, "dind", dindImage="docker:29.5.3-dind-rootless")
    assert ss.scale_set_dind_sidecar(own)["image"] == "docker:29.5.3-dind-rootless"


def test_ghes_url_and_ca_reach_the_scale_set_and_the_runners(tmp_path: Path) -> None:
    pool_ = _resolved(tmp_path, "none")
    values = ss.runner_scale_set_values(
        pool_,
        node_selector={},
        enterprise_url="https://ghe.example.com/",
        enterprise_ca=True,
    )
    objects = _render(values, "runners-web", "web-ci-dev")
    (ars,) = [o.manifest for o in objects if o.kind == "AutoscalingRunnerSet"]
    assert ars["spec"]["githubConfigUrl"] == "https://ghe.example.com/acme"
    tls = ars["spec"]["githubServerTLS"]["certificateFrom"]["configMapKeyRef"]
    assert tls == {"name": ss.GITHUB_SERVER_CA_CONFIG_MAP, "key": ss.GITHUB_SERVER_CA_KEY}
    (runner,) = ars["spec"]["template"]["spec"]["containers"]
    assert {"name": "NODE_EXTRA_CA_CERTS", "value": "/usr/local/share/ca-certificates/ca.crt"} in (
        runner["env"]
    )


def test_the_controller_values_turn_metrics_and_leader_election_on() -> None:
    def deployment(replicas: int) -> dict[str, Any]:
        spec = helm_render.ReleaseSpec(
            resource="c",
            name=ss.SCALE_SET_CONTROLLER_RELEASE,
            chart=versions.SCALE_SET_CONTROLLER_CHART,
            version=versions.SCALE_SET_CHART_VERSION,
            namespace=ss.SCALE_SET_CONTROLLER_NAMESPACE,
            values=ss.scale_set_controller_values(replicas=replicas, log_format="json"),
        )
        assert helm_render.ignored_values(spec, KUBE) == []
        objects = helm_render.render_release(spec, KUBE)
        (found,) = [o.manifest for o in objects if o.kind == "Deployment"]
        return found

    ha = deployment(2)
    (manager,) = ha["spec"]["template"]["spec"]["containers"]
    assert ha["spec"]["replicas"] == 2
    assert "--enable-leader-election" in manager["args"]
    assert {"--metrics-addr=:8080", "--listener-metrics-addr=:8080"} <= set(manager["args"])
    assert "--listener-metrics-endpoint=/metrics" in manager["args"]
    assert manager["image"] == "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2"
    assert manager["ports"] == [{"containerPort": 8080, "protocol": "TCP", "name": "metrics"}]
    assert ha["metadata"]["labels"]["actions.github.com/controller-service-account-name"] == (
        ss.SCALE_SET_CONTROLLER_SERVICE_ACCOUNT
    )
    single = deployment(1)["spec"]["template"]["spec"]["containers"][0]
    assert "--enable-leader-election" not in single["args"]


# --- the whole program under mocks ----------------------------------------------------------------

TEAMS = {
    "alpha": [
        pool("build", "dind", mode="scaleSet"),
        pool("pods", "kubernetes", runnerImage=KUBERNETES_IMAGE),
        pool("check", mode="scaleSet"),
        pool("old", "dind"),
    ],
    "beta": [pool("lint", mode="scaleSet")],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    teams = write_teams(tmp_path_factory.mktemp("teams"), TEAMS)
    return run_fixture(teams, images={"allowedRegistries": ["ghcr.io", "docker.io"]})


def _release(run: ProgramRun, name: str) -> CapturedResource:
    return run.one(RELEASE, name)


def test_scale_set_pools_get_the_controller_and_one_release_each(run: ProgramRun) -> None:
    charts = {r.name: (r.inputs["chart"], r.inputs["version"]) for r in run.of_type(RELEASE)}
    repo = versions.SCALE_SET_REPO
    assert charts["scale-sets-release"] == (f"{repo}/gha-runner-scale-set-controller", "0.14.2")
    for name in ("alpha-build-scale-set", "alpha-check-scale-set", "beta-lint-scale-set"):
        assert charts[name] == (f"{repo}/gha-runner-scale-set", "0.14.2")
    # the legacy controller stays for the RunnerDeployment pool
    assert charts["arc-release"][0] == "actions-runner-controller"
    # ... and the kubernetes pool, which names no mode, stays a RunnerDeployment
    assert sorted(
        r.name for r in run.of_type("kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment")
    ) == ["alpha-old-runners", "alpha-pods-runners"]
    check = _release(run, "alpha-check-scale-set").inputs
    assert (check["name"], check["namespace"]) == ("alpha-check-dev", "runners-alpha")


def test_no_scale_set_pool_no_scale_set_controller(tmp_path: Path) -> None:
    teams = write_teams(tmp_path, {"alpha": [pool("build")]})
    resources = run_fixture(teams)
    assert not [r for r in resources if "scale-set" in str(r.inputs.get("chart", ""))]
    assert not [r for r in resources if r.name == "scale-sets-ns"]


def test_credentials_reach_each_namespace_as_a_secret_from_pulumi_secrets(run: ProgramRun) -> None:
    secrets = {
        r.inputs["metadata"]["namespace"]: r
        for r in run.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"] == ss.GITHUB_CONFIG_SECRET_NAME
    }
    # never in the namespace of a container mode kubernetes pool, whose hooks read Secrets
    assert sorted(secrets) == ["runners-alpha", "runners-beta"]
    for secret in secrets.values():
        assert is_secret(secret.inputs["stringData"])
        assert secret.plain_inputs()["stringData"] == {
            "github_token": f"{OFFLINE_SECRET_PREFIX}token"
        }
    for release in run.of_type(RELEASE):
        assert OFFLINE_SECRET_PREFIX not in str(release.plain_inputs())


def test_each_runner_set_waits_for_what_its_runners_need(run: ProgramRun) -> None:
    assert [p.render() for p in in_cluster_order_problems(run.resources)] == []
    release = _release(run, "alpha-build-scale-set")
    waits = set(release.dependencies)
    needed = {
        run.one(RELEASE, "scale-sets-release").urn,
        run.one("kubernetes:core/v1:ServiceAccount", "alpha-build-sa").urn,
        run.one("kubernetes:core/v1:Secret", "runners-alpha-github-config").urn,
        run.one(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy", "alpha-namespace-default-deny"
        ).urn,
    }
    assert needed <= waits
    # no scale set has the container hooks' Role or their job pod template
    hooks = [r.name for r in run.resources if "hooks" in r.name]
    assert hooks and all(name.startswith("alpha-pods-") for name in hooks)
    role = run.one("kubernetes:rbac.authorization.k8s.io/v1:Role", "alpha-pods-hooks-role")
    assert role.inputs["rules"] == [dict(r) for r in CONTAINER_HOOKS_RULES]


@pytest.fixture(scope="module")
def rendered(run: ProgramRun) -> helm_render.RenderReport:
    return helm_render.render_all(run.resources)


def test_the_review_renders_and_validates_every_scale_set(
    run: ProgramRun, rendered: helm_render.RenderReport
) -> None:
    assert rendered.errors == []
    sets = [o for o in rendered.objects if (o.api_version, o.kind) == ARS]
    assert sorted(o.name for o in sets) == ["alpha-build-dev", "alpha-check-dev", "beta-lint-dev"]
    crds = artifacts.chart_crd_validators() + artifacts.crd_validators(rendered.crd_texts)
    report = artifacts.validate(artifacts.rendered(rendered.resources), crds)
    assert report.errors == []
    assert report.checked["custom resources (CRD schema)"] >= 3
    # the same validation fails on a field the CRD does not know
    (one,) = [
        r for r in rendered.resources if r.name.endswith("AutoscalingRunnerSet/alpha-build-dev")
    ]
    broken = copy.deepcopy(one.inputs)
    broken["spec"]["maxRunnerz"] = 3
    bad = artifacts.Artifact("rendered/x.yaml", broken, "kubernetes", one)
    assert any("maxRunnerz" in e for e in artifacts.validate([bad], crds).errors)


HOOKS_RBAC = "kubernetes-container-hooks-role-least-privilege"
ARS_TYPE = "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"


def _hooks_findings(resources: list[CapturedResource]) -> list[str]:
    _, findings = run_policies(resources, {"all": "mandatory"})
    return [f.message for f in findings if f.policy == HOOKS_RBAC and not f.skipped]


def test_the_rendered_scale_sets_reach_the_policy_pack(
    run: ProgramRun, rendered: helm_render.RenderReport
) -> None:
    # As the review hands them over: typed like the program's own custom resources, children of
    # their release.
    sets = [r for r in rendered.resources if r.type == ARS_TYPE]
    releases = {r.urn for r in run.of_type(RELEASE)}
    assert len(sets) == 3 and all(r.parent in releases for r in sets)
    everything = [*run.resources, *rendered.resources]
    # The chart's manager Role in each runner namespace (the controller's, bound to its own
    # ServiceAccount) is not mistaken for the hooks' Role ...
    assert _hooks_findings(everything) == []
    managers = [
        r for r in rendered.resources if r.name.endswith("-gha-rs-manager") and "/Role/" in r.name
    ]
    assert len(managers) == 3

    # ... but only that Role: without the chart's labels it is checked like any other.
    def unlabelled(resource: CapturedResource) -> CapturedResource:
        inputs = copy.deepcopy(resource.inputs)
        del inputs["metadata"]["labels"]["app.kubernetes.io/component"]
        return dataclasses.replace(resource, inputs=inputs)

    changed = [unlabelled(r) if r is managers[0] else r for r in everything]
    found = _hooks_findings(changed)
    assert found and all(managers[0].name in m for m in found)


# --- migration: one pool changes mode -----------------------------------------------------------


def _snapshot(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.urn: r.plain_inputs() for r in run}


def test_switching_one_pool_changes_only_that_pools_resources(tmp_path: Path) -> None:
    images = {"allowedRegistries": ["ghcr.io", "docker.io"]}
    teams = {
        "alpha": [pool("build", "dind"), pool("lint"), pool("new", mode="scaleSet")],
        "beta": [pool("test", "dind")],
    }
    before = _snapshot(run_fixture(write_teams(tmp_path / "before", teams), images=images))
    teams["alpha"][0] = pool("build", "dind", mode="scaleSet")
    after = _snapshot(run_fixture(write_teams(tmp_path / "after", teams), images=images))

    removed, added = set(before) - set(after), set(after) - set(before)
    changed = {urn for urn in set(before) & set(after) if before[urn] != after[urn]}
    # out: the pool's RunnerDeployment and autoscaler; in: its scale set; nothing else moves
    assert {urn.rsplit("::", 1)[1] for urn in removed} == {
        "alpha-build",
        "alpha-build-runners",
        "alpha-build-autoscaler",
    }
    assert {urn.rsplit("::", 1)[1] for urn in added} == {"alpha-build", "alpha-build-scale-set"}
    assert changed == set()
    # its identity stays: the same ServiceAccount and IAM role, unchanged
    kept = [u for u in before if u.endswith(("::alpha-build-sa", "::alpha-build-role"))]
    assert kept and all(u in after and after[u] == before[u] for u in kept)


def test_the_first_scale_set_pool_also_brings_the_controller_and_credentials(
    tmp_path: Path,
) -> None:
    teams = {"alpha": [pool("build", "dind"), pool("lint")], "beta": [pool("test")]}
    before = _snapshot(run_fixture(write_teams(tmp_path / "before", teams)))
    teams["alpha"][1] = pool("lint", mode="scaleSet")
    after = _snapshot(run_fixture(write_teams(tmp_path / "after", teams)))
    added = {urn.rsplit("::", 1)[1] for urn in set(after) - set(before)}
    assert added == {
        "scale-sets",
        "scale-sets-ns",
        "scale-sets-release",
        "runners-alpha-github-config",
        "alpha-lint",
        "alpha-lint-scale-set",
    }
    changed = {u for u in set(before) & set(after) if before[u] != after[u]}
    assert changed == set()
