"""Every Helm release rendered by Helm's engine from the pinned charts, validated and policed.

Fixture stacks only (tests/program_fixtures.py): a one-replica dev stack and an HA prod stack with
the webhook server."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest

from arc_eks.review import artifacts, helm_render
from arc_eks.review import policies as review_policies
from arc_eks.review.offline import CapturedResource, ProgramRun
from policies.arc_policies import registry
from tests.program_fixtures import pool, run_fixture, write_teams

HA = {
    "replicas": 2,
    "webhookServer": True,
    "webhookAllowedCidrs": ["192.30.252.0/22"],
    "webhookCertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d",
    "webhookHostname": "arc-webhook.ci.example.com",
}
SPREAD = "arc-controllers-spread-with-resources"
PRIVILEGES = "kubernetes-helm-chart-no-privilege-or-host-access"
CONTROLLER = "actions-runner-controller/Deployment/actions-runner-controller"
WEBHOOK = "actions-runner-controller/Deployment/actions-runner-controller-github-webhook-server"


@pytest.fixture(scope="module")
def ha_run(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    teams = write_teams(tmp_path_factory.mktemp("teams"), {"alpha": [pool("build")]})
    return run_fixture(teams, env="prod", controller=HA)


@pytest.fixture(scope="module")
def rendered(ha_run: ProgramRun) -> helm_render.RenderReport:
    return helm_render.render_all(ha_run.resources)


def _spec(run: ProgramRun, chart: str) -> helm_render.ReleaseSpec:
    (spec,) = [s for s in helm_render.release_specs(run.resources) if s.chart == chart]
    return spec


def test_every_release_renders_with_its_own_name_namespace_and_values(
    rendered: helm_render.RenderReport,
) -> None:
    assert rendered.errors == []
    by_release = {o.release.name for o in rendered.objects}
    assert by_release == {"cert-manager", "cluster-autoscaler", "actions-runner-controller"}
    controller = next(
        o for o in rendered.objects if o.release.name + "/Deployment/" + o.name == CONTROLLER
    )
    assert controller.manifest["spec"]["replicas"] == 2
    assert controller.release.namespace == "actions-runner-system"
    kinds = {(o.release.name, o.kind) for o in rendered.objects}
    # the ARC chart's cert-manager objects, cert-manager's own CRDs, the hook Job (not a test hook)
    assert ("actions-runner-controller", "Certificate") in kinds
    assert ("cert-manager", "CustomResourceDefinition") in kinds
    assert ("cert-manager", "Job") in kinds


def test_rendered_objects_validate_strictly(rendered: helm_render.RenderReport) -> None:
    crds = artifacts.chart_crd_validators() + artifacts.crd_validators(rendered.crd_texts)
    report = artifacts.validate(artifacts.rendered(rendered.resources), crds)
    assert report.errors == []
    assert report.checked["custom resources (CRD schema)"] >= 2  # Certificate and Issuer
    # and the same check fails on an unknown field of a chart's custom resource
    certificate = next(r for r in rendered.resources if r.name.split("/")[1] == "Certificate")
    broken = copy.deepcopy(certificate.inputs)
    broken["spec"]["dnsNamez"] = ["x"]
    bad = artifacts.Artifact("rendered/x.yaml", broken, "kubernetes", certificate)
    assert any("dnsNamez" in e for e in artifacts.validate([bad], crds).errors)


def test_a_template_error_names_the_release(ha_run: ProgramRun) -> None:
    spec = _spec(ha_run, "cert-manager")
    values = {**spec.values, "replicaCount": "three"}  # values.schema.json: a number
    with pytest.raises(
        helm_render.RenderError, match=r"(?s)Helm release cert-manager .*replicaCount"
    ):
        helm_render.render_texts(spec, "v1.35.0", values=values)


def test_a_template_fail_names_the_release(ha_run: ProgramRun) -> None:
    spec = _spec(ha_run, "cluster-autoscaler")
    both = {"podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}
    with pytest.raises(
        helm_render.RenderError, match=r"(?s)Helm release cluster-autoscaler .*Only one"
    ):
        helm_render.render_texts(spec, "v1.35.0", values={**spec.values, **both})


def test_the_chart_kube_version_constraint_is_enforced(ha_run: ProgramRun) -> None:
    spec = _spec(ha_run, "cert-manager")  # kubeVersion: ">= 1.22.0-0"
    with pytest.raises(helm_render.RenderError, match=r"incompatible with Kubernetes v1\.20\.0"):
        helm_render.render_texts(spec, "v1.20.0")


def test_renders_are_cached_per_process(ha_run: ProgramRun) -> None:
    spec = _spec(ha_run, "actions-runner-controller")
    helm_render.render_texts(spec, "v1.35.0")
    started = time.perf_counter()
    helm_render.render_texts(spec, "v1.35.0")
    assert time.perf_counter() - started < 0.05  # a cache hit, not a render


# --- the rules on rendered objects ---------------------------------------------------------------


def _findings(
    extra: list[CapturedResource], config: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    _, findings = review_policies.run_policies(extra, {"all": "mandatory", **(config or {})})
    out: dict[str, list[str]] = {SPREAD: [], PRIVILEGES: []}
    for finding in findings:
        if finding.policy in out:
            out[finding.policy].append(finding.message)
    return out


def _with(rendered: helm_render.RenderReport, name: str, change: Any) -> list[CapturedResource]:
    out = []
    for resource in rendered.resources:
        if resource.name != name:
            out.append(resource)
            continue
        inputs = copy.deepcopy(resource.inputs)
        change(inputs)
        out.append(
            CapturedResource(
                resource.type, resource.name, resource.urn, inputs, True, resource.parent
            )
        )
    return out


def _release_parents(run: ProgramRun) -> list[CapturedResource]:
    return [r for r in run.resources if r.type == helm_render.RELEASE_TYPE]


def test_baseline_chart_objects_pass_both_rules(
    ha_run: ProgramRun, rendered: helm_render.RenderReport
) -> None:
    assert _findings([*_release_parents(ha_run), *rendered.resources]) == {
        SPREAD: [],
        PRIVILEGES: [],
    }


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        (CONTROLLER, lambda m: m["spec"].update(replicas=1), "below 2"),
        (
            WEBHOOK,
            lambda m: m["spec"]["template"]["spec"].pop("affinity"),
            "no pod anti-affinity",
        ),
        (
            CONTROLLER,
            lambda m: m["spec"]["template"]["spec"]["containers"][0]["resources"].pop("requests"),
            "requests no ['cpu', 'memory']",
        ),
    ],
)
def test_spread_rule_catches_one_mutation(
    ha_run: ProgramRun,
    rendered: helm_render.RenderReport,
    name: str,
    change: Any,
    expected: str,
) -> None:
    found = _findings([*_release_parents(ha_run), *_with(rendered, name, change)])
    assert len(found[SPREAD]) == 1 and expected in found[SPREAD][0], found[SPREAD]
    assert name in found[SPREAD][0]


def _host_path(manifest: dict[str, Any]) -> None:
    manifest["spec"]["template"]["spec"]["volumes"] = [
        {"name": "host", "hostPath": {"path": "/var/lib"}}
    ]


def test_privilege_rule_catches_a_host_path_unless_allowlisted_with_a_reason(
    ha_run: ProgramRun, rendered: helm_render.RenderReport
) -> None:
    mutated = [*_release_parents(ha_run), *_with(rendered, CONTROLLER, _host_path)]
    found = _findings(mutated)
    assert len(found[PRIVILEGES]) == 1 and "hostPath" in found[PRIVILEGES][0]
    allowed = {PRIVILEGES: {"allowed": [{"object": CONTROLLER, "reason": "reads node logs"}]}}
    assert _findings(mutated, allowed)[PRIVILEGES] == []
    policies = registry.build_policies()
    no_reason = {PRIVILEGES: {"allowed": [{"object": CONTROLLER}]}}
    assert any("reason" in p for p in review_policies.config_problems(no_reason, policies))


def test_privilege_rule_catches_a_privileged_chart_container(
    ha_run: ProgramRun, rendered: helm_render.RenderReport
) -> None:
    def privileged(manifest: dict[str, Any]) -> None:
        manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
            "privileged": True
        }

    found = _findings([*_release_parents(ha_run), *_with(rendered, WEBHOOK, privileged)])
    assert len(found[PRIVILEGES]) == 1 and "privileged" in found[PRIVILEGES][0]


def test_review_writes_rendered_objects_beside_the_programs_own(
    ha_run: ProgramRun, rendered: helm_render.RenderReport, tmp_path: Path
) -> None:
    files = artifacts.rendered(rendered.resources)
    artifacts.write(files, tmp_path)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml")}
    assert "rendered/actions-runner-controller/Deployment-actions-runner-controller.yaml" in written
    assert "rendered/cert-manager/Job-cert-manager-startupapicheck.yaml" in written


def test_a_value_the_chart_ignores_is_an_error_naming_it(ha_run: ProgramRun) -> None:
    spec = _spec(ha_run, "cluster-autoscaler")
    kube = helm_render.kube_version_of(ha_run.resources)
    assert helm_render.ignored_values(spec, kube) == []  # everything the project sets is read
    careless = copy.deepcopy(spec.values)
    careless["extraArgs"]["balance-similar-node-groups"] = True  # read: rendered as a flag
    careless["rbac"]["serviceAccount"]["annotationz"] = {"a": "b"}  # misspelt: ignored
    careless["notAChartKey"] = "x"  # unknown: ignored
    changed = helm_render.ReleaseSpec(
        spec.resource, spec.name, spec.chart, spec.version, spec.namespace, careless
    )
    assert helm_render.ignored_values(changed, kube) == [
        "rbac.serviceAccount.annotationz.a",
        "notAChartKey",
    ]
    report = helm_render.render_all(
        [
            r
            if r.type != helm_render.RELEASE_TYPE or r.name != spec.resource
            else _with_values(r, careless)
            for r in ha_run.resources
        ]
    )
    assert any(
        "value notAChartKey is set but changes nothing the chart renders" in e
        for e in report.errors
    )
    assert helm_render.render_all(ha_run.resources, check_ignored=False).errors == []


def _with_values(resource: CapturedResource, values: dict[str, Any]) -> CapturedResource:
    inputs = copy.deepcopy(resource.inputs)
    inputs["values"] = values
    return CapturedResource(**{**resource.__dict__, "inputs": inputs})


# --- the scale-set controller ---------------------------------------------------------------------

SCALE_SET_CONTROLLER = "gha-rs-controller/Deployment/gha-rs-controller"


@pytest.fixture(scope="module")
def scale_set_rendered(tmp_path_factory: pytest.TempPathFactory) -> list[CapturedResource]:
    teams = write_teams(
        tmp_path_factory.mktemp("teams"), {"alpha": [pool("sets", "dind", mode="scaleSet")]}
    )
    run = run_fixture(teams, env="prod", controller=HA)
    report = helm_render.render_all(run.resources, check_ignored=False)
    assert report.errors == []
    return [*_release_parents(run), *report.resources]


def _changed(resources: list[CapturedResource], name: str, change: Any) -> list[CapturedResource]:
    out = []
    for resource in resources:
        if resource.name != name:
            out.append(resource)
            continue
        inputs = copy.deepcopy(resource.inputs)
        change(inputs)
        out.append(CapturedResource(**{**resource.__dict__, "inputs": inputs}))
    return out


def test_the_scale_set_controller_as_rendered_passes_both_rules(
    scale_set_rendered: list[CapturedResource],
) -> None:
    (deployment,) = [r for r in scale_set_rendered if r.name == SCALE_SET_CONTROLLER]
    assert deployment.inputs["metadata"]["namespace"] == "arc-scale-set-system"
    assert _findings(scale_set_rendered) == {SPREAD: [], PRIVILEGES: []}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["spec"].update(replicas=1), "below 2"),
        (lambda m: m["spec"]["template"]["spec"].pop("affinity"), "no pod anti-affinity"),
        (
            lambda m: m["spec"]["template"]["spec"]["containers"][0]["resources"].pop("requests"),
            "requests no ['cpu', 'memory']",
        ),
    ],
)
def test_the_spread_rule_covers_the_scale_set_controller(
    scale_set_rendered: list[CapturedResource], change: Any, expected: str
) -> None:
    found = _findings(_changed(scale_set_rendered, SCALE_SET_CONTROLLER, change))
    (message,) = found[SPREAD]
    assert message.startswith(SCALE_SET_CONTROLLER) and expected in message
