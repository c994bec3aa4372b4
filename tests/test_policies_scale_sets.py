"""The scale-set rules (policies/arc_policies/scale_sets.py) on every kind they claim: the
AutoscalingRunnerSet the gha-runner-scale-set chart renders (Helm's engine, the pinned chart from
the chart cache) and the runner-set release's values, as a `kubernetes:helm.sh/v3:Release` and as
a `v4:Chart`. Each rule accepts the compliant pool, refuses what it names in every kind, and still
finds a violation after items it accepts (a later container, init container, volume, resource).

Props go through the engine's wrapping (`engine_props`: Struct round trip, unknown-checking proxy)
and `plain`, exactly what `Rule.validate` hands a check.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from arc_eks.review import helm_render
from policies.arc_policies import registry, scale_sets
from policies.arc_policies._support import Rule, plain
from policies.arc_policies.testing import (
    UNKNOWN_SENTINELS,
    Skipped,
    StackEntry,
    Violation,
    engine_props,
    policy_resources,
    run_resource_policy,
    run_stack_policy,
    urn_for,
)
from tests.scale_set_fixtures import (
    BASE_VALUES,
    DIGEST,
    NAMESPACE,
    OCI,
    SIDECAR,
    VERSION,
    release,
    render_set,
)

ARS = scale_sets.AUTOSCALING_RUNNER_SET
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
KINDS = {"ars": ARS, "release": RELEASE, "chart": CHART_V4}
ROOT = {"ars": "spec", "release": "values", "chart": "values"}
VALUES_KINDS = ["release", "chart"]


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return render_set(BASE_VALUES)


Change = Callable[[dict[str, Any], dict[str, Any]], None]


def shaped(rendered: dict[str, Any], kind: str, change: Change | None = None) -> dict[str, Any]:
    """The compliant pool as `kind`, with `change(fields, pod)` applied: `fields` is the object
    holding maxRunners/template/... (the set's `spec`, or the release's `values`), `pod` the
    runner pod (`<fields>.template.spec`)."""
    props = copy.deepcopy(rendered) if kind == "ars" else release(BASE_VALUES)
    fields = props[ROOT[kind]]
    if change is not None:
        change(fields, fields["template"]["spec"])
    return props


def wire(typ: str) -> str:
    """The type as a new string object, the way the engine's request carries it (never the
    module's own constant: a rule comparing types by identity must fail here)."""
    return typ.encode().decode()


def defaults(rule: Rule) -> dict[str, Any]:
    return {k: v["default"] for k, v in rule.config.items() if "default" in v}


def found(rule: Rule, kind: str, props: dict[str, Any], **config: Any) -> list[str]:
    """Paths of the findings, on props exactly as `Rule.validate` reads them."""
    merged = {**defaults(rule), **config}
    return [f.path for f in rule.check(wire(KINDS[kind]), plain(engine_props(props)), merged)]


def problems(rule: Rule, kind: str, props: dict[str, Any], **config: Any) -> list[str]:
    merged = {**defaults(rule), **config}
    return [f.problem for f in rule.check(wire(KINDS[kind]), plain(engine_props(props)), merged)]


def pod_path(kind: str, rest: str) -> str:
    return f"{ROOT[kind]}.template.spec.{rest}"


# --- the compliant pool ---------------------------------------------------------------------------


def test_the_chart_renders_the_pool_as_written(rendered: dict[str, Any]) -> None:
    """The base fixture is real chart output: containerMode unset copies the template."""
    pod = rendered["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["init-dind-externals", "dind"]
    assert pod["serviceAccountName"] == "build-runner" and pod["restartPolicy"] == "Never"
    assert rendered["metadata"]["labels"]["arc-eks.io/team"] == "payments"
    assert rendered["metadata"]["labels"][scale_sets.VERSION_LABEL] == VERSION
    assert rendered["spec"]["githubConfigSecret"] == "github-credentials"
    assert rendered["spec"]["maxRunners"] == 4 and rendered["spec"]["minRunners"] == 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_compliant_pool_passes_every_rule_of_the_pack(rendered: dict[str, Any], kind: str) -> None:
    props = engine_props(shaped(rendered, kind))
    config = {scale_sets.MAX_RUNNERS_CAP.name: {"teamMaxRunners": {"payments": 4}}}
    reports = [
        report
        for rule in registry.RESOURCE_RULES
        for report in run_resource_policy(
            rule.policy(), KINDS[kind], "pool", props, config.get(rule.name)
        )
    ]
    assert reports == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_resource_rule_reads_every_kind(rendered: dict[str, Any], kind: str) -> None:
    """Each rule claims the kinds it is tested on here (and no rule ignores a claimed kind)."""
    for rule in scale_sets.RULES:
        if kind == "ars" and rule is scale_sets.NO_DIND_CONTAINER_MODE:
            assert ARS not in rule.resource_types
            continue
        assert KINDS[kind] in rule.resource_types, rule.name


def test_the_type_is_the_one_the_review_gives_the_rendered_set(rendered: dict[str, Any]) -> None:
    spec = helm_render.ReleaseSpec(
        "payments-build", "payments-build", "gha-runner-scale-set", VERSION, NAMESPACE, {}
    )
    obj = helm_render.RenderedObject(spec, "autoscalingrunnerset.yaml", rendered)
    assert helm_render.captured(obj, "urn:release").type == ARS
    assert ARS == "kubernetes:actions.github.com/v1alpha1:AutoscalingRunnerSet"


def test_rule_settings_are_described() -> None:
    for rule in scale_sets.RULES:
        for key, spec in rule.config.items():
            assert {"type", "default", "description"} <= set(spec), (rule.name, key)


def test_other_kinds_are_not_scale_sets(rendered: dict[str, Any]) -> None:
    for typ in (
        "kubernetes:actions.github.com/v1alpha1:AutoscalingListener",
        "kubernetes:actions.github.com/v1alpha1:EphemeralRunnerSet",
        "kubernetes:apps/v1:Deployment",
    ):
        assert scale_sets.scale_set(typ, rendered) is None, typ
    assert scale_sets.scale_set(ARS, rendered) is not None


def test_releases_without_a_chart_name_are_not_scale_sets() -> None:
    for chart in (None, "", "  "):
        props = release(BASE_VALUES)
        if chart is None:
            del props["chart"]
        else:
            props["chart"] = chart
        assert scale_sets.scale_set(RELEASE, props) is None, chart


def test_other_charts_are_not_scale_sets(rendered: dict[str, Any]) -> None:
    bad = copy.deepcopy(BASE_VALUES)
    bad["template"]["spec"]["hostNetwork"] = True
    bad["containerMode"] = {"type": "dind"}
    for chart in ("gha-runner-scale-set-controller", "actions-runner-controller", "other"):
        props = release(bad, chart=chart)
        for rule in scale_sets.RULES:
            assert found(rule, "release", props) == [], (chart, rule.name)
    for chart in (
        f"{OCI}/gha-runner-scale-set",
        "arc/gha-runner-scale-set",
        "./charts/gha-runner-scale-set/",
    ):
        assert found(scale_sets.NO_HOST_ACCESS, "release", release(bad, chart=chart)) == [
            "values.template.spec.hostNetwork"
        ]


# --- images pinned -----------------------------------------------------------------------------------

IMAGE_CASES: list[tuple[str, Change, str]] = [
    (
        "second init container",
        lambda f, p: p["initContainers"][1].update(image="docker:dind"),
        "initContainers[1].image",
    ),
    (
        "second container",
        lambda f, p: p["containers"].append({**SIDECAR, "image": "fluent/fluent-bit:latest"}),
        "containers[1].image",
    ),
    (
        "versionless tag behind a registry port",
        lambda f, p: p["containers"][0].update(image="registry.example.com:5000/runner:stable"),
        "containers[0].image",
    ),
    (
        "runner without a tag",
        lambda f, p: p["containers"][0].update(image="ghcr.io/actions/actions-runner"),
        "containers[0].image",
    ),
    (
        "ephemeral container without an image",
        lambda f, p: p.update(ephemeralContainers=[{"name": "debug"}]),
        "ephemeralContainers[0].image",
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("case", "change", "where"), IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_unpinned_images_are_found(
    rendered: dict[str, Any], kind: str, case: str, change: Change, where: str
) -> None:
    assert found(scale_sets.IMAGES_PINNED, kind, shaped(rendered, kind, change)) == [
        pod_path(kind, where)
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_digests_and_unknown_images_pass(rendered: dict[str, Any], kind: str) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["containers"][0]["image"] = f"ghcr.io/actions/actions-runner@{DIGEST}"
        pod["initContainers"][1]["image"] = UNKNOWN_SENTINELS["string"]

    assert found(scale_sets.IMAGES_PINNED, kind, shaped(rendered, kind, change)) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_unknown_image_does_not_hide_a_later_one(rendered: dict[str, Any], kind: str) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["initContainers"][0]["image"] = UNKNOWN_SENTINELS["string"]
        pod["containers"][0]["image"] = "ghcr.io/actions/actions-runner:latest"

    assert found(scale_sets.IMAGES_PINNED, kind, shaped(rendered, kind, change)) == [
        pod_path(kind, "containers[0].image")
    ]


@pytest.mark.parametrize("kind", VALUES_KINDS)
def test_values_leaving_the_runner_to_the_chart_run_latest(
    rendered: dict[str, Any], kind: str
) -> None:
    no_containers = shaped(rendered, kind, lambda f, p: p.pop("containers"))
    assert found(scale_sets.IMAGES_PINNED, kind, no_containers) == [pod_path(kind, "containers")]
    assert "actions-runner:latest" in problems(scale_sets.IMAGES_PINNED, kind, no_containers)[0]
    no_template = shaped(rendered, kind)
    del no_template["values"]["template"]
    assert found(scale_sets.IMAGES_PINNED, kind, no_template) == [pod_path(kind, "containers")]


# --- privileged only in the dind sidecar -----------------------------------------------------------

PRIVILEGED = {"privileged": True}
PRIVILEGE_CASES: list[tuple[str, Change, str, str]] = [
    (
        "privileged runner",
        lambda f, p: p["containers"][0].update(securityContext=PRIVILEGED),
        "containers[0]",
        "runner container runs every job",
    ),
    (
        "privileged second container",
        lambda f, p: p["containers"].append({**SIDECAR, "securityContext": PRIVILEGED}),
        "containers[1]",
        "not an init container",
    ),
    (
        "a container named dind",
        lambda f, p: p["containers"].append({**p["initContainers"][1]}),
        "containers[1]",
        "not an init container",
    ),
    (
        "privileged first init container",
        lambda f, p: p["initContainers"][0].update(securityContext=PRIVILEGED),
        "initContainers[0]",
        "not 'dind'",
    ),
    (
        "privileged init container named before dind",
        lambda f, p: p["initContainers"][0].update(name="cache", securityContext=PRIVILEGED),
        "initContainers[0]",
        "not 'dind'",
    ),
    (
        "a third init container after the sidecar",
        lambda f, p: p["initContainers"].append({**p["initContainers"][1], "name": "dind2"}),
        "initContainers[2]",
        "not 'dind'",
    ),
    (
        "dind without restartPolicy Always",
        lambda f, p: p["initContainers"][1].pop("restartPolicy"),
        "initContainers[1]",
        "not a native sidecar",
    ),
    (
        "dind restartPolicy OnFailure",
        lambda f, p: p["initContainers"][1].update(restartPolicy="OnFailure"),
        "initContainers[1]",
        "not a native sidecar",
    ),
    (
        "dind running another image",
        lambda f, p: p["initContainers"][1].update(image="alpine:3.20"),
        "initContainers[1]",
        "not a dind image",
    ),
    (
        "dind without an image",
        lambda f, p: p["initContainers"][1].pop("image"),
        "initContainers[1]",
        "not a dind image",
    ),
    (
        "dind unpinned",
        lambda f, p: p["initContainers"][1].update(image="docker:dind"),
        "initContainers[1]",
        "not pinned",
    ),
    (
        "privileged ephemeral container",
        lambda f, p: p.update(ephemeralContainers=[{**SIDECAR, "securityContext": PRIVILEGED}]),
        "ephemeralContainers[0]",
        "not an init container",
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", PRIVILEGE_CASES, ids=[c[0] for c in PRIVILEGE_CASES])
def test_privilege_outside_the_pinned_dind_sidecar_is_found(
    rendered: dict[str, Any], kind: str, case: tuple[str, Change, str, str]
) -> None:
    _, change, where, why = case
    props = shaped(rendered, kind, change)
    assert found(scale_sets.NO_PRIVILEGED, kind, props) == [
        pod_path(kind, f"{where}.securityContext.privileged")
    ]
    assert why in problems(scale_sets.NO_PRIVILEGED, kind, props)[0]


MIRROR = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/docker:28.0.4-dind"


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    "image", [MIRROR, "registry.example.com/docker:28.0.4-dind", f"docker:28.0.4-dind@{DIGEST}"]
)
def test_dind_sidecar_from_a_registry_mirror_or_by_digest_passes(
    rendered: dict[str, Any], kind: str, image: str
) -> None:
    props = shaped(rendered, kind, lambda f, p: p["initContainers"][1].update(image=image))
    assert found(scale_sets.NO_PRIVILEGED, kind, props) == []
    only_mine = {"dindImages": ["registry.example.com/dind:*"]}
    assert found(scale_sets.NO_PRIVILEGED, kind, shaped(rendered, kind), **only_mine) == [
        pod_path(kind, "initContainers[1].securityContext.privileged")
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unknown_init_containers_do_not_hide_the_runner(
    rendered: dict[str, Any], kind: str
) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["initContainers"] = UNKNOWN_SENTINELS["array"]
        pod["containers"][0]["securityContext"] = PRIVILEGED

    assert found(scale_sets.NO_PRIVILEGED, kind, shaped(rendered, kind, change)) == [
        pod_path(kind, "containers[0].securityContext.privileged")
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unprivileged_and_unknown_privilege_pass(rendered: dict[str, Any], kind: str) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["containers"][0]["securityContext"] = {"privileged": False}
        pod["initContainers"][0]["securityContext"] = {"privileged": UNKNOWN_SENTINELS["boolean"]}

    assert found(scale_sets.NO_PRIVILEGED, kind, shaped(rendered, kind, change)) == []


LIFTED_CASES: list[tuple[str, Change, str]] = [
    (
        "SYS_ADMIN on the runner after a baseline capability",
        lambda f, p: p["containers"][0].update(
            securityContext={"capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}}
        ),
        "containers[0].securityContext.capabilities.add[1]",
    ),
    (
        "ALL on the first init container",
        lambda f, p: p["initContainers"][0].update(
            securityContext={"capabilities": {"add": ["ALL"]}}
        ),
        "initContainers[0].securityContext.capabilities.add[0]",
    ),
    (
        "NET_ADMIN on a later regular container",
        lambda f, p: p["containers"].append(
            {**SIDECAR, "securityContext": {"capabilities": {"add": ["cap_net_admin"]}}}
        ),
        "containers[1].securityContext.capabilities.add[0]",
    ),
    (
        "an unmasked /proc on the runner",
        lambda f, p: p["containers"][0].update(securityContext={"procMount": "Unmasked"}),
        "containers[0].securityContext.procMount",
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("case", "change", "path"), LIFTED_CASES, ids=[c[0] for c in LIFTED_CASES])
def test_a_capability_beyond_baseline_outside_the_sidecar_is_privilege(
    rendered: dict[str, Any], kind: str, case: str, change: Change, path: str
) -> None:
    props = shaped(rendered, kind, change)
    assert found(scale_sets.NO_PRIVILEGED, kind, props) == [pod_path(kind, path)]
    assert "as good as privileged" in problems(scale_sets.NO_PRIVILEGED, kind, props)[0]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_baseline_capabilities_and_the_sidecars_own_pass(
    rendered: dict[str, Any], kind: str
) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["containers"][0]["securityContext"] = {
            "capabilities": {"add": ["CHOWN", "CAP_SETUID"], "drop": ["ALL"]},
            "procMount": "Default",
        }
        pod["initContainers"][1]["securityContext"] = {
            **pod["initContainers"][1]["securityContext"],
            "capabilities": {"add": ["SYS_ADMIN"]},
        }

    assert found(scale_sets.NO_PRIVILEGED, kind, shaped(rendered, kind, change)) == []


# --- host access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces_are_found(rendered: dict[str, Any], kind: str, field: str) -> None:
    props = shaped(rendered, kind, lambda f, p: p.update({field: True}))
    assert found(scale_sets.NO_HOST_ACCESS, kind, props) == [pod_path(kind, field)]
    off = shaped(rendered, kind, lambda f, p: p.update({field: False}))
    assert found(scale_sets.NO_HOST_ACCESS, kind, off) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_host_path_in_a_later_volume_is_found(rendered: dict[str, Any], kind: str) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["volumes"][2] = {"name": "dind-sock", "hostPath": {"path": "/var/run/docker.sock"}}

    props = shaped(rendered, kind, change)
    assert found(scale_sets.NO_HOST_ACCESS, kind, props) == [pod_path(kind, "volumes[2].hostPath")]
    assert "/var/run/docker.sock" in problems(scale_sets.NO_HOST_ACCESS, kind, props)[0]


# --- seccomp ---------------------------------------------------------------------------------------------

SECCOMP_CASES: list[tuple[str, Change, str]] = [
    (
        "no pod profile",
        lambda f, p: p["securityContext"].pop("seccompProfile"),
        "securityContext.seccompProfile.type",
    ),
    (
        "no pod securityContext",
        lambda f, p: p.pop("securityContext"),
        "securityContext.seccompProfile.type",
    ),
    (
        "pod Unconfined",
        lambda f, p: p["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "securityContext.seccompProfile.type",
    ),
    (
        "second init container Unconfined",
        lambda f, p: p["initContainers"][1].update(
            securityContext={"privileged": True, "seccompProfile": {"type": "Unconfined"}}
        ),
        "initContainers[1].securityContext.seccompProfile.type",
    ),
    (
        "second container Localhost",
        lambda f, p: p["containers"].append(
            {**SIDECAR, "securityContext": {"seccompProfile": {"type": "Localhost"}}}
        ),
        "containers[1].securityContext.seccompProfile.type",
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    ("case", "change", "where"), SECCOMP_CASES, ids=[c[0] for c in SECCOMP_CASES]
)
def test_seccomp_other_than_runtime_default_is_found(
    rendered: dict[str, Any], kind: str, case: str, change: Change, where: str
) -> None:
    assert found(scale_sets.SECCOMP, kind, shaped(rendered, kind, change)) == [
        pod_path(kind, where)
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_container_runtime_default_passes(rendered: dict[str, Any], kind: str) -> None:
    runtime_default = {"seccompProfile": {"type": "RuntimeDefault"}}
    props = shaped(
        rendered, kind, lambda f, p: p["containers"][0].update(securityContext=runtime_default)
    )
    assert found(scale_sets.SECCOMP, kind, props) == []


@pytest.mark.parametrize("kind", VALUES_KINDS)
def test_values_without_a_template_get_no_seccomp(rendered: dict[str, Any], kind: str) -> None:
    props = shaped(rendered, kind)
    del props["values"]["template"]
    assert found(scale_sets.SECCOMP, kind, props) == [
        pod_path(kind, "securityContext.seccompProfile.type")
    ]


# --- no API token ------------------------------------------------------------------------------------

HOOKS = {"name": scale_sets.HOOKS_ENV, "value": "/home/runner/k8s/index.js"}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("value", [None, True, "true"])
def test_an_api_token_is_found(rendered: dict[str, Any], kind: str, value: Any) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        if value is None:
            del pod["automountServiceAccountToken"]
        else:
            pod["automountServiceAccountToken"] = value

    props = shaped(rendered, kind, change)
    assert found(scale_sets.NO_API_TOKEN, kind, props) == [
        pod_path(kind, "automountServiceAccountToken")
    ]
    (message,) = problems(scale_sets.NO_API_TOKEN, kind, props)
    assert message.startswith("unset" if value is None else f"{value!r}".replace("'", '"').lower())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_container_hooks_do_not_earn_the_token(rendered: dict[str, Any], kind: str) -> None:
    # container mode kubernetes is never a scale set: its token is refused like any other
    def hooks(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        del pod["automountServiceAccountToken"]
        pod["containers"][0]["env"].append(HOOKS)

    assert found(scale_sets.NO_API_TOKEN, kind, shaped(rendered, kind, hooks)) == [
        pod_path(kind, "automountServiceAccountToken")
    ]


@pytest.mark.parametrize("kind", VALUES_KINDS)
@pytest.mark.parametrize("mode", ["kubernetes", "kubernetes-novolume"])
def test_the_charts_kubernetes_modes_do_not_earn_the_token(
    rendered: dict[str, Any], kind: str, mode: str
) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        fields["containerMode"] = {"type": mode}
        pod["automountServiceAccountToken"] = True

    assert found(scale_sets.NO_API_TOKEN, kind, shaped(rendered, kind, change)) == [
        pod_path(kind, "automountServiceAccountToken")
    ]


# --- never container mode kubernetes --------------------------------------------------------------

NO_KUBE = scale_sets.NO_KUBERNETES_MODE


def _runner_env(kind: str, pod: dict[str, Any]) -> str:
    return pod_path(kind, f"containers[0].env[{len(pod['containers'][0]['env']) - 1}]")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_compliant_pool_is_not_kubernetes_mode(rendered: dict[str, Any], kind: str) -> None:
    assert found(NO_KUBE, kind, shaped(rendered, kind)) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_container_hooks_on_the_runner_are_kubernetes_mode(
    rendered: dict[str, Any], kind: str
) -> None:
    where: list[str] = []

    def hooks(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        pod["containers"][0]["env"].append(HOOKS)  # after another variable
        where.append(_runner_env(kind, pod))

    props = shaped(rendered, kind, hooks)
    assert found(NO_KUBE, kind, props) == where
    (message,) = problems(NO_KUBE, kind, props)
    assert "githubConfigSecret" in message


HOOKS_ELSEWHERE: list[tuple[str, Change, str]] = [
    (
        "a later regular container",
        lambda f, p: p["containers"].append({**SIDECAR, "env": [{"name": "A"}, HOOKS]}),
        "containers[1].env[1]",
    ),
    (
        "an init container",
        lambda f, p: p["initContainers"].append({**SIDECAR, "name": "runner", "env": [HOOKS]}),
        "initContainers[2].env[0]",
    ),
    (
        "from a ConfigMap",
        lambda f, p: p["containers"].append(
            {
                **SIDECAR,
                "env": [
                    {
                        "name": scale_sets.HOOKS_ENV,
                        "valueFrom": {"configMapKeyRef": {"name": "hooks", "key": "path"}},
                    }
                ],
            }
        ),
        "containers[1].env[0]",
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    ("case", "change", "path"), HOOKS_ELSEWHERE, ids=[c[0] for c in HOOKS_ELSEWHERE]
)
def test_the_container_hooks_anywhere_are_kubernetes_mode(
    rendered: dict[str, Any], kind: str, case: str, change: Change, path: str
) -> None:
    assert found(NO_KUBE, kind, shaped(rendered, kind, change)) == [pod_path(kind, path)]


NOT_HOOKS: list[tuple[str, Change]] = [
    (
        "a misspelt hooks variable",
        lambda f, p: p["containers"][0]["env"].append(
            {"name": "ACTIONS_RUNNER_CONTAINER_HOOK", "value": HOOKS["value"]}
        ),
    ),
    ("empty hooks env", lambda f, p: p["containers"][0]["env"].append({**HOOKS, "value": " "})),
    (
        "hooks env without a value",
        lambda f, p: p["containers"][0]["env"].append({"name": HOOKS["name"]}),
    ),
    (
        "another env on the runner",
        lambda f, p: p["containers"][0]["env"].append({"name": "OTHER", "value": "x"}),
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("case", "change"), NOT_HOOKS, ids=[c[0] for c in NOT_HOOKS])
def test_what_is_not_kubernetes_mode(
    rendered: dict[str, Any], kind: str, case: str, change: Change
) -> None:
    assert found(NO_KUBE, kind, shaped(rendered, kind, change)) == []


KUBE_MODE = {
    "type": "kubernetes",
    "kubernetesModeWorkVolumeClaim": {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "gp3",
        "resources": {"requests": {"storage": "10Gi"}},
    },
}


def kubernetes_values() -> dict[str, Any]:
    values = copy.deepcopy(BASE_VALUES)
    pod = values["template"]["spec"]
    del pod["automountServiceAccountToken"]
    del pod["initContainers"]
    pod["containers"][0].pop("env")
    pod["volumes"] = []
    values["containerMode"] = KUBE_MODE
    return values


@pytest.mark.parametrize("kind", VALUES_KINDS)
@pytest.mark.parametrize("mode", ["kubernetes", "kubernetes-novolume"])
def test_the_charts_kubernetes_modes_are_refused(
    rendered: dict[str, Any], kind: str, mode: str
) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        fields["containerMode"] = {"type": mode}

    assert found(NO_KUBE, kind, shaped(rendered, kind, change)) == ["values.containerMode.type"]
    # even when the pod template is not known yet (a preview)
    unknown = release(kubernetes_values())
    unknown["values"]["template"] = UNKNOWN_SENTINELS["object"]
    assert found(NO_KUBE, kind, unknown) == ["values.containerMode.type"]
    # the chart's other modes are not this rule's
    for other in ("dind", None):
        values = kubernetes_values()
        values["containerMode"] = {"type": other}
        assert found(NO_KUBE, kind, release(values)) == []


def test_kubernetes_mode_as_the_chart_renders_it_is_refused() -> None:
    ars = render_set(kubernetes_values())
    env = ars["spec"]["template"]["spec"]["containers"][0]["env"]
    index = env.index(HOOKS)  # the chart's kubernetes mode writes the hooks on the runner
    assert found(NO_KUBE, "ars", ars) == [f"spec.template.spec.containers[0].env[{index}]"]
    assert found(scale_sets.NO_API_TOKEN, "ars", ars) == [
        "spec.template.spec.automountServiceAccountToken"
    ]


# --- maxRunners within the team cap ----------------------------------------------------------------


def runners(maximum: Any = 4, minimum: Any = 1, team: Any = "payments") -> Change:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        for key, value in (("maxRunners", maximum), ("minRunners", minimum)):
            if value is None:
                fields.pop(key, None)
            else:
                fields[key] = value

    return change


def with_team(props: dict[str, Any], kind: str, team: Any) -> dict[str, Any]:
    labels = props["metadata"]["labels"] if kind == "ars" else props["values"]["labels"]
    if team is None:
        labels.pop("arc-eks.io/team")
    else:
        labels["arc-eks.io/team"] = team
    return props


TEAM_CAPS = {"teamMaxRunners": {"payments": 4, "web": 8}}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_max_runners_within_the_team_cap(rendered: dict[str, Any], kind: str) -> None:
    cap = scale_sets.MAX_RUNNERS_CAP
    at_cap = shaped(rendered, kind, runners(4))
    assert found(cap, kind, at_cap, **TEAM_CAPS) == []
    over = shaped(rendered, kind, runners(5))
    assert found(cap, kind, over, **TEAM_CAPS) == [f"{ROOT[kind]}.maxRunners"]
    assert "team 'payments'" in problems(cap, kind, over, **TEAM_CAPS)[0]
    # Another team's cap applies to that team's sets; unlisted teams get the environment's.
    assert (
        found(cap, kind, with_team(shaped(rendered, kind, runners(8)), kind, "web"), **TEAM_CAPS)
        == []
    )
    web_over = with_team(shaped(rendered, kind, runners(9)), kind, "web")
    assert found(cap, kind, web_over, **TEAM_CAPS) == [f"{ROOT[kind]}.maxRunners"]
    unlisted = with_team(shaped(rendered, kind, runners(20)), kind, "data")
    assert found(cap, kind, unlisted, **TEAM_CAPS) == []
    unlisted_over = with_team(shaped(rendered, kind, runners(21)), kind, "data")
    assert found(cap, kind, unlisted_over, **TEAM_CAPS) == [f"{ROOT[kind]}.maxRunners"]
    unlabelled = with_team(shaped(rendered, kind, runners(6)), kind, None)
    assert found(cap, kind, unlabelled, maxRunners=5, **TEAM_CAPS) == [f"{ROOT[kind]}.maxRunners"]
    assert "environment's cap of 5" in problems(cap, kind, unlabelled, maxRunners=5)[0]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_cap_of_zero_is_a_cap(rendered: dict[str, Any], kind: str) -> None:
    cap = scale_sets.MAX_RUNNERS_CAP
    unlisted = with_team(shaped(rendered, kind, runners(0, 0)), kind, "data")
    assert found(cap, kind, unlisted, maxRunners=0) == []
    over = with_team(shaped(rendered, kind, runners(1, 0)), kind, "data")
    assert found(cap, kind, over, maxRunners=0) == [f"{ROOT[kind]}.maxRunners"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_while_the_team_is_unknown_the_largest_cap_holds(
    rendered: dict[str, Any], kind: str
) -> None:
    cap = scale_sets.MAX_RUNNERS_CAP
    caps = {"maxRunners": 6, "teamMaxRunners": {"payments": 4, "web": 8}}
    for maximum, expected in ((8, []), (9, [f"{ROOT[kind]}.maxRunners"])):
        props = with_team(
            shaped(rendered, kind, runners(maximum)), kind, UNKNOWN_SENTINELS["string"]
        )
        assert found(cap, kind, props, **caps) == expected, maximum
    props = with_team(shaped(rendered, kind, runners(7)), kind, UNKNOWN_SENTINELS["string"])
    assert found(cap, kind, props, maxRunners=6) == [f"{ROOT[kind]}.maxRunners"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unbounded_or_inverted_runner_counts_are_found(rendered: dict[str, Any], kind: str) -> None:
    cap = scale_sets.MAX_RUNNERS_CAP
    unset = shaped(rendered, kind, runners(None))
    assert found(cap, kind, unset) == [f"{ROOT[kind]}.maxRunners"]
    assert "allows 2147483647 runners" in problems(cap, kind, unset)[0]
    inverted = shaped(rendered, kind, runners(2, 3))
    assert found(cap, kind, inverted) == [f"{ROOT[kind]}.minRunners"]
    assert found(cap, kind, shaped(rendered, kind, runners(3, 3))) == []
    assert found(cap, kind, shaped(rendered, kind, runners(4, None))) == []
    unknown = shaped(rendered, kind, runners(UNKNOWN_SENTINELS["number"], 3))
    assert found(cap, kind, unknown) == []


def test_max_runners_as_a_string_is_dropped_by_the_chart(rendered: dict[str, Any]) -> None:
    values = copy.deepcopy(BASE_VALUES)
    values["maxRunners"] = "4"
    assert "maxRunners" not in render_set(values)["spec"]  # the chart writes numbers only
    for kind in VALUES_KINDS:
        props = release(values)
        assert found(scale_sets.MAX_RUNNERS_CAP, kind, props) == ["values.maxRunners"]
        assert "is a string" in problems(scale_sets.MAX_RUNNERS_CAP, kind, props)[0]
    assert (
        "not a number"
        in problems(scale_sets.MAX_RUNNERS_CAP, "ars", shaped(rendered, "ars", runners("many")))[0]
    )


# --- the pool's own ServiceAccount -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("value", [None, "", "default"])
def test_a_missing_or_default_service_account_is_found(
    rendered: dict[str, Any], kind: str, value: Any
) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        if value is None:
            del pod["serviceAccountName"]
        else:
            pod["serviceAccountName"] = value

    props = shaped(rendered, kind, change)
    assert found(scale_sets.OWN_SERVICE_ACCOUNT, kind, props) == [
        pod_path(kind, "serviceAccountName")
    ]


@pytest.mark.parametrize(
    ("mode", "annotation"),
    [
        (None, "actions.github.com/cleanup-no-permission-service-account-name"),
        (KUBE_MODE, "actions.github.com/cleanup-kubernetes-mode-service-account-name"),
    ],
)
def test_a_service_account_the_chart_generates_is_found(mode: Any, annotation: str) -> None:
    values = kubernetes_values() if mode else copy.deepcopy(BASE_VALUES)
    del values["template"]["spec"]["serviceAccountName"]
    ars = render_set(values)
    assert ars["spec"]["template"]["spec"]["serviceAccountName"].startswith("payments-build-gha-rs")
    assert found(scale_sets.OWN_SERVICE_ACCOUNT, "ars", ars) == [
        f"metadata.annotations.{annotation}"
    ]


# --- node isolation --------------------------------------------------------------------------------

ISOLATION = "arc-eks.io/isolation"
UNPRIVILEGED: Change = lambda f, p: p["initContainers"][1]["securityContext"].update(  # noqa: E731
    privileged=False
)


def standard(pod: dict[str, Any]) -> None:
    """The pod on the unprivileged class `standard` (selector and toleration)."""
    pod["nodeSelector"][ISOLATION] = "standard"
    pod["tolerations"][0]["value"] = "standard"


ISOLATION_CASES: list[tuple[str, Change, str]] = [
    ("no node selector", lambda f, p: p.pop("nodeSelector"), "nodeSelector"),
    (
        "a second toleration for every class",
        lambda f, p: p["tolerations"].append({"key": ISOLATION, "operator": "Exists"}),
        "tolerations[1]",
    ),
    ("no toleration of its class", lambda f, p: p.pop("tolerations"), "tolerations"),
    ("dind on an unprivileged class", lambda f, p: standard(p), f"nodeSelector.{ISOLATION}"),
    (
        "an unprivileged pod on a privileged class",
        UNPRIVILEGED,
        f"nodeSelector.{ISOLATION}",
    ),
]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    ("case", "change", "where"), ISOLATION_CASES, ids=[c[0] for c in ISOLATION_CASES]
)
def test_runner_pods_keep_to_their_isolation_class(
    rendered: dict[str, Any], kind: str, case: str, change: Change, where: str
) -> None:
    assert found(scale_sets.ISOLATION_CLASS, kind, shaped(rendered, kind, change)) == [
        pod_path(kind, where)
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_unprivileged_pool_on_its_own_class_passes(rendered: dict[str, Any], kind: str) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        UNPRIVILEGED(fields, pod)
        standard(pod)

    assert found(scale_sets.ISOLATION_CLASS, kind, shaped(rendered, kind, change)) == []


# --- GitHub credentials by Secret name -----------------------------------------------------------------

APP_CREDENTIALS = {
    "github_app_id": "123456",
    "github_app_installation_id": "654321",
    "github_app_private_key": "***MASKED***",
}


@pytest.mark.parametrize("kind", VALUES_KINDS)
@pytest.mark.parametrize("secret", [APP_CREDENTIALS, {"github_token": "***MASKED***"}, None, "", 7])
def test_credentials_in_values_are_found(rendered: dict[str, Any], kind: str, secret: Any) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        if secret is None:
            del fields["githubConfigSecret"]
        else:
            fields["githubConfigSecret"] = secret

    props = shaped(rendered, kind, change)
    assert found(scale_sets.GITHUB_SECRET_BY_NAME, kind, props) == ["values.githubConfigSecret"]
    for message in problems(scale_sets.GITHUB_SECRET_BY_NAME, kind, props):
        assert "MASKED" not in message and "654321" not in message


def test_a_set_whose_secret_the_chart_built_from_values_is_found() -> None:
    values = copy.deepcopy(BASE_VALUES)
    values["githubConfigSecret"] = APP_CREDENTIALS
    ars = render_set(values)
    assert isinstance(ars["spec"]["githubConfigSecret"], str)  # the chart's own Secret's name
    assert found(scale_sets.GITHUB_SECRET_BY_NAME, "ars", ars) == [
        f"metadata.annotations.{scale_sets.SECRET_FROM_VALUES}"
    ]


@pytest.mark.parametrize("secret", [None, "", 7, {"name": "x"}])
def test_a_set_without_a_secret_name_is_found(rendered: dict[str, Any], secret: Any) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        if secret is None:
            del fields["githubConfigSecret"]
        else:
            fields["githubConfigSecret"] = secret

    props = shaped(rendered, "ars", change)
    assert found(scale_sets.GITHUB_SECRET_BY_NAME, "ars", props) == ["spec.githubConfigSecret"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_unknown_secret_name_passes(rendered: dict[str, Any], kind: str) -> None:
    props = shaped(
        rendered, kind, lambda f, p: f.update(githubConfigSecret=UNKNOWN_SENTINELS["string"])
    )
    assert found(scale_sets.GITHUB_SECRET_BY_NAME, kind, props) == []


def test_rule_settings_are_checked_against_their_schemas() -> None:
    from arc_eks.review import policies as review_policies

    bad = {
        scale_sets.MAX_RUNNERS_CAP.name: {"maxRunners": -1, "teamMaxRunners": {"a": -1, "b": "x"}},
        scale_sets.NO_PRIVILEGED.name: {"dindImages": [1]},
        scale_sets.SECCOMP.name: "advisory",
        scale_sets.ISOLATION_CLASS.name: {"isolationKey": 3},
    }
    found_problems = review_policies.config_problems(bad, registry.build_policies())
    assert len(found_problems) == 5, found_problems
    zero = {scale_sets.MAX_RUNNERS_CAP.name: {"maxRunners": 0, "teamMaxRunners": {"a": 0}}}
    assert review_policies.config_problems(zero, registry.build_policies()) == []
    for wrong in (
        {scale_sets.MAX_RUNNERS_CAP.name: {"teamMaxRunners": [4]}},
        {scale_sets.NO_PRIVILEGED.name: {"dindImages": "docker:*"}},
    ):
        assert len(review_policies.config_problems(wrong, registry.build_policies())) == 1


@pytest.mark.parametrize("kind", VALUES_KINDS)
def test_only_the_charts_annotations_on_a_rendered_set_count(
    rendered: dict[str, Any], kind: str
) -> None:
    props = shaped(rendered, kind)
    annotations = dict.fromkeys([*scale_sets.GENERATED_ACCOUNT, scale_sets.SECRET_FROM_VALUES], "x")
    props["metadata"] = {"annotations": annotations}
    assert found(scale_sets.OWN_SERVICE_ACCOUNT, kind, props) == []
    assert found(scale_sets.GITHUB_SECRET_BY_NAME, kind, props) == []


# --- containerMode dind ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", VALUES_KINDS)
def test_the_charts_dind_mode_is_refused(rendered: dict[str, Any], kind: str) -> None:
    rule = scale_sets.NO_DIND_CONTAINER_MODE
    dind = shaped(rendered, kind, lambda f, p: f.update(containerMode={"type": "dind"}))
    assert found(rule, kind, dind) == ["values.containerMode.type"]
    kube = shaped(rendered, kind, lambda f, p: f.update(containerMode=KUBE_MODE))
    assert found(rule, kind, kube) == []
    # What the refusal is about: the chart's own unpinned, privileged docker:dind.
    values = copy.deepcopy(BASE_VALUES)
    values["containerMode"] = {"type": "dind"}
    pod = render_set(values)["spec"]["template"]["spec"]
    assert [(c["name"], c["image"]) for c in pod["initContainers"]][1] == ("dind", "docker:dind")


# --- the rules through the engine's own wrapping ----------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_violation_message_names_resource_path_and_remediation(
    rendered: dict[str, Any], kind: str
) -> None:
    props = shaped(
        rendered, kind, lambda f, p: p["containers"][0].update(securityContext=PRIVILEGED)
    )
    policy = scale_sets.NO_PRIVILEGED.policy()
    (violation,) = run_resource_policy(policy, KINDS[kind], "pool", engine_props(props))
    assert isinstance(violation, Violation)
    assert violation.message.startswith(f"{KINDS[kind]} 'pool': {ROOT[kind]}.template.spec.")
    assert "Remediation: " in violation.message


# --- stack: chart versions in step --------------------------------------------------------------------

CONTROLLER_VALUES = {"replicaCount": 2, "flags": {"logFormat": "json"}}


def controller(version: str = VERSION, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "arc-scale-sets",
        "chart": scale_sets.CONTROLLER_CHART,
        "version": version,
        "namespace": "arc-scale-sets",
        "repositoryOpts": {"repo": OCI},
        "values": values or CONTROLLER_VALUES,
    }


# Kinds sorted before the AutoscalingRunnerSet's type, for stack items only.
OTHER_KINDS = {
    "listener": "kubernetes:actions.github.com/v1alpha1:AutoscalingListener",
    "mng": "eks:index:ManagedNodeGroup",
}


def run_stack(rule_name: str, items: list[tuple[str, str, dict[str, Any]]]) -> list[Violation]:
    types = {**KINDS, **OTHER_KINDS}
    entries = [
        StackEntry(wire(types[kind]), name, urn_for(types[kind], name), engine_props(inputs))
        for kind, name, inputs in items
    ]
    (rule,) = [r for r in registry.STACK_RULES if r.name == rule_name]
    report = run_stack_policy(rule.policy(), policy_resources(entries))
    assert not [r for r in report if isinstance(r, Skipped)], report
    return [r for r in report if isinstance(r, Violation)]


def in_step(items: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [v.urn or "" for v in run_stack(scale_sets.CHARTS_IN_STEP.name, items)]


def pool_items(rendered: dict[str, Any], version: str = VERSION) -> list[tuple[str, str, dict]]:
    runner_set = release(BASE_VALUES)
    runner_set["version"] = version
    return [("release", "payments-build", runner_set), ("ars", "payments-build/set", rendered)]


def urn(kind: str, name: str) -> str:
    return urn_for({**KINDS, **OTHER_KINDS}[kind], name)


def test_charts_in_step_pass(rendered: dict[str, Any]) -> None:
    items = [("release", "controller", controller()), *pool_items(rendered)]
    second = release(BASE_VALUES)
    items.append(("chart", "web-build", second))
    assert in_step(items) == []
    assert in_step(pool_items(rendered)) == []  # no controller in this stack
    with_v = release(BASE_VALUES)
    with_v["version"] = f"v{VERSION}"  # Helm reads v0.14.2 as 0.14.2
    assert in_step([("release", "controller", controller()), ("release", "v", with_v)]) == []


def test_a_later_runner_set_of_another_version_is_found(rendered: dict[str, Any]) -> None:
    late = release(BASE_VALUES)
    late["version"] = "0.14.1"
    items = [("release", "controller", controller()), *pool_items(rendered)]
    assert in_step([*items, ("release", "web-build", late)]) == [urn("release", "web-build")]
    assert in_step([*items, ("chart", "web-build", late)]) == [urn("chart", "web-build")]
    # With no controller, the runner sets are held to each other.
    assert in_step([*pool_items(rendered), ("release", "web-build", late)]) == [
        urn("release", "web-build")
    ]


def test_releases_it_skips_do_not_hide_a_later_one(rendered: dict[str, Any]) -> None:
    legacy = {"chart": "actions-runner-controller", "version": "0.23.7", "values": {}}
    pending = release(BASE_VALUES)
    pending["version"] = UNKNOWN_SENTINELS["string"]
    late = release(BASE_VALUES)
    late["version"] = "0.14.1"
    ranged = release(BASE_VALUES)
    ranged["version"] = "~0.14"
    items = [
        ("release", "legacy", legacy),
        ("release", "pending", pending),
        ("release", "ranged", ranged),
        ("release", "controller", controller()),
        ("release", "late", late),
    ]
    assert in_step(items) == [urn("release", "ranged"), urn("release", "late")]


def test_a_second_controller_is_held_to_the_first(rendered: dict[str, Any]) -> None:
    items = [
        ("release", "controller", controller()),
        ("release", "controller-b", controller("0.13.1")),
        *pool_items(rendered),
    ]
    assert in_step(items) == [urn("release", "controller-b")]


def test_without_a_controller_no_label_is_judged(rendered: dict[str, Any]) -> None:
    """The version label is the controller's rule: a stack without the controller has none."""
    old = copy.deepcopy(rendered)
    old["metadata"]["labels"][scale_sets.VERSION_LABEL] = "0.13.0"
    tagged = release(BASE_VALUES)
    tagged["values"]["image"] = {"tag": "0.13.0"}  # not a chart value of the runner set
    assert in_step([("release", "a", tagged), ("ars", "a/set", old)]) == []
    unlabelled = copy.deepcopy(rendered)
    del unlabelled["metadata"]["labels"][scale_sets.VERSION_LABEL]
    listener = [("release", "c", controller()), ("listener", "l", unlabelled)]
    assert in_step(listener) == []  # not an AutoscalingRunnerSet
    assert in_step([("release", "c", controller()), ("ars", "a/set", old)]) == [urn("ars", "a/set")]


def test_a_controller_of_another_minor_deletes_the_sets(rendered: dict[str, Any]) -> None:
    items = [("release", "controller", controller("0.13.1")), *pool_items(rendered)]
    found_urns = in_step(items)
    assert found_urns == [urn("release", "payments-build"), urn("ars", "payments-build/set")]
    (label,) = [
        v.message for v in run_stack(scale_sets.CHARTS_IN_STEP.name, items) if "label" in v.message
    ]
    assert "deletes" in label


@pytest.mark.parametrize("kind", ["release", "chart"])
@pytest.mark.parametrize("version", ["^0.14", "0.14.x", "", ">=0.14.2", "0.14.2 || 0.15.0", 14])
def test_scale_set_charts_need_an_exact_version(
    rendered: dict[str, Any], kind: str, version: str
) -> None:
    for chart in ("controller", "runner set"):
        props = controller(version) if chart == "controller" else release(BASE_VALUES)
        props["version"] = version
        items = [
            ("release", "ok-controller", controller()) if chart != "controller" else None,
            (kind, "under-test", props),
        ]
        assert in_step([i for i in items if i]) == [urn(kind, "under-test")]


def test_the_controller_image_tag_follows_its_chart(rendered: dict[str, Any]) -> None:
    pinned = controller(values={"image": {"tag": f"{VERSION}@{DIGEST}"}})
    assert in_step([("release", "controller", pinned), *pool_items(rendered)]) == []
    for tag in ("0.13.1", "0.15.0", "v0.14.3"):
        other = controller(values={"image": {"tag": tag}})
        assert in_step([("release", "controller", other), *pool_items(rendered)]) == [
            urn("release", "controller")
        ], tag
    v_tag = controller(values={"image": {"tag": f"v{VERSION}"}})
    assert in_step([("release", "controller", v_tag), *pool_items(rendered)]) == []


@pytest.mark.parametrize(
    ("label", "deleted"),
    [
        (VERSION, False),
        ("0.14.9", False),
        ("0.14", False),
        (None, True),
        ("v0.14.2", True),
        ("0.15.0", True),
        ("1.14.2", True),
        ("dev", True),
    ],
)
def test_a_set_whose_version_label_the_controller_refuses_is_found(
    rendered: dict[str, Any], label: str | None, deleted: bool
) -> None:
    ars = copy.deepcopy(rendered)
    ars["metadata"]["labels"].pop(scale_sets.VERSION_LABEL)
    if label is not None:
        ars["metadata"]["labels"][scale_sets.VERSION_LABEL] = label
    first = copy.deepcopy(rendered)
    items = [
        ("release", "controller", controller()),
        ("ars", "a/set", first),
        ("ars", "b/set", ars),
    ]
    assert in_step(items) == ([urn("ars", "b/set")] if deleted else [])


# The controller's own table (apis/actions.github.com/v1alpha1/version_test.go at
# gha-runner-scale-set-0.14.2), plus the edges of its parser.
@pytest.mark.parametrize(
    ("resource", "build", "allowed"),
    [
        ("0.11.0", "dev", True),
        ("dev", "0.11.0", False),
        ("0.11.0", "NA", False),
        ("0.11.0", "1.11.0", False),
        ("0.11.0", "0.10.0", False),
        ("0.11.1", "0.11.0", True),
        ("abc", "abc", True),
        ("0.11.0", "canary-abc", True),
        ("0.11", "0.11.3", True),
        ("0", "0.0.1", True),
        ("0.11.2-rc.1", "0.11.0", True),
        ("0.011.0", "0.11.0", False),
        ("0.11.01", "0.11.0", False),
        ("0.11.", "0.11.0", False),
        ("0.11x", "0.11.0", False),
        ("", "0.11.0", False),
        (None, "0.11.0", False),
    ],
)
def test_version_rule_is_the_controllers(resource: Any, build: str, allowed: bool) -> None:
    assert scale_sets.version_allowed(resource, build) is allowed


# --- stack: one ServiceAccount per pool -----------------------------------------------------------


def ars_named(
    rendered: dict[str, Any], name: str, account: str, namespace: str = NAMESPACE
) -> dict:
    ars = copy.deepcopy(rendered)
    ars["metadata"].update(name=name, namespace=namespace)
    ars["spec"]["template"]["spec"]["serviceAccountName"] = account
    return ars


def shared(items: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [v.urn or "" for v in run_stack(scale_sets.ONE_ACCOUNT_PER_POOL.name, items)]


def test_each_pool_its_own_service_account(rendered: dict[str, Any]) -> None:
    items = [
        ("ars", "a", ars_named(rendered, "lint", "lint-runner")),
        ("ars", "b", ars_named(rendered, "deploy", "deploy-runner")),
        ("ars", "c", ars_named(rendered, "lint", "lint-runner", namespace="runners-web")),
        # The same pool seen twice: its release and the set the chart renders from it.
        ("release", "payments-build", release(BASE_VALUES)),
        ("ars", "payments-build/set", rendered),
    ]
    assert shared(items) == []


def test_a_later_set_sharing_a_service_account_is_found(rendered: dict[str, Any]) -> None:
    items = [
        ("ars", "a", ars_named(rendered, "build", "build-runner")),
        ("ars", "b", ars_named(rendered, "deploy", "deploy-runner")),
        ("ars", "c", ars_named(rendered, "release", "build-runner")),
    ]
    assert shared(items) == [urn("ars", "c")]


def test_only_scale_sets_with_a_known_account_are_pools(rendered: dict[str, Any]) -> None:
    other = release(BASE_VALUES, chart="some-chart")  # same namespace and ServiceAccount
    other["name"] = other["values"]["runnerScaleSetName"] = "other"
    legacy = release(BASE_VALUES, chart="actions-runner-controller")
    legacy["name"] = legacy["values"]["runnerScaleSetName"] = "legacy"
    listener = ars_named(rendered, "listener", "build-runner")
    unknown = ars_named(rendered, "deploy", UNKNOWN_SENTINELS["string"])
    unknown_too = ars_named(rendered, "lint", UNKNOWN_SENTINELS["string"])
    items = [
        ("release", "first", release(BASE_VALUES)),
        ("release", "other", other),
        ("release", "legacy", legacy),
        ("listener", "listener", listener),
        ("ars", "deploy", unknown),
        ("ars", "lint", unknown_too),
    ]
    assert shared(items) == []


@pytest.mark.parametrize("kind", VALUES_KINDS)
def test_releases_sharing_a_service_account_are_found(rendered: dict[str, Any], kind: str) -> None:
    other = release(BASE_VALUES)
    other["values"]["runnerScaleSetName"] = "payments_deploy"
    assert shared([("release", "first", release(BASE_VALUES)), (kind, "second", other)]) == [
        urn(kind, "second")
    ]
    # Named by the release when runnerScaleSetName is unset; `_` written as `-` like the chart.
    by_name = release(BASE_VALUES)
    del by_name["values"]["runnerScaleSetName"]
    by_name["name"] = "payments_build"
    assert shared([("release", "first", release(BASE_VALUES)), (kind, "second", by_name)]) == []
    by_name["name"] = "payments_deploy"
    assert shared([("release", "first", release(BASE_VALUES)), (kind, "second", by_name)]) == [
        urn(kind, "second")
    ]


# --- stack: privileged pods only on marked node groups ---------------------------------------------


def node_group(isolation: str | None, *, marked: bool) -> dict[str, Any]:
    """A managed node group: a runner class (tainted) or, with None, the untainted system group."""
    labels = {"arc-eks.io/node-role": "runners" if isolation else "system"}
    if isolation:
        labels[ISOLATION] = isolation
    if marked:
        labels["arc-eks.io/privileged-pods"] = "true"
    taints = [{"key": ISOLATION, "value": isolation, "effect": "NO_SCHEDULE"}] if isolation else []
    return {"instanceTypes": ["t3a.large"], "labels": labels, "taints": taints}


GROUPS = [
    ("mng", "system", node_group(None, marked=False)),
    ("mng", "standard", node_group("standard", marked=False)),
    ("mng", "privileged", node_group("privileged-payments", marked=True)),
]


def placed(items: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    rule = scale_sets.PRIVILEGED_ON_MARKED_NODES.name
    return [v.urn or "" for v in run_stack(rule, items)]


def test_dind_pools_on_their_marked_group_pass(rendered: dict[str, Any]) -> None:
    items = [*GROUPS, ("release", "pool", release(BASE_VALUES)), ("ars", "pool/set", rendered)]
    assert placed(items) == []
    assert placed([("ars", "pool/set", rendered)]) == []  # no node group in this stack


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_dind_pools_reaching_unmarked_groups_are_found(rendered: dict[str, Any], kind: str) -> None:
    unmarked = [*GROUPS[:2], ("mng", "privileged", node_group("privileged-payments", marked=False))]
    assert placed([*unmarked, (kind, "pool", shaped(rendered, kind))]) == [urn(kind, "pool")]
    anywhere = shaped(rendered, kind, lambda f, p: p.pop("nodeSelector"))
    assert placed([*GROUPS, ("ars", "first", rendered), (kind, "pool", anywhere)]) == [
        urn(kind, "pool")  # the untainted system group takes it
    ]
    (message,) = [
        v.message
        for v in run_stack(
            scale_sets.PRIVILEGED_ON_MARKED_NODES.name, [*GROUPS, (kind, "pool", anywhere)]
        )
    ]
    assert "['dind']" in message and "'system'" in message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_later_scale_set_is_judged_after_one_that_passes(
    rendered: dict[str, Any], kind: str
) -> None:
    def unprivileged(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        UNPRIVILEGED(fields, pod)
        pod.pop("nodeSelector")

    anywhere = shaped(rendered, kind, lambda f, p: p.pop("nodeSelector"))
    items = [
        *GROUPS,
        ("release", "pending", {**release(BASE_VALUES), "values": UNKNOWN_SENTINELS["object"]}),
        (kind, "first", shaped(rendered, kind, unprivileged)),
        (kind, "pool", anywhere),
    ]
    assert placed(items) == [urn(kind, "pool")]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_later_privileged_container_counts(rendered: dict[str, Any], kind: str) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        UNPRIVILEGED(fields, pod)
        pod.pop("nodeSelector")
        pod["containers"].append({**SIDECAR, "securityContext": PRIVILEGED})

    assert placed([*GROUPS, (kind, "pool", shaped(rendered, kind, change))]) == [urn(kind, "pool")]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    "context",
    [{"capabilities": {"add": ["SYS_ADMIN"]}}, {"procMount": "Unmasked"}],
    ids=["SYS_ADMIN", "procMount"],
)
def test_a_container_lifted_short_of_privileged_counts(
    rendered: dict[str, Any], kind: str, context: dict[str, Any]
) -> None:
    def change(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        UNPRIVILEGED(fields, pod)
        pod.pop("nodeSelector")
        pod["containers"].append({**SIDECAR, "securityContext": context})

    assert placed([*GROUPS, (kind, "pool", shaped(rendered, kind, change))]) == [urn(kind, "pool")]

    def baseline_only(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        UNPRIVILEGED(fields, pod)
        pod.pop("nodeSelector")
        added = {"capabilities": {"add": ["NET_BIND_SERVICE"]}, "procMount": "Default"}
        pod["containers"].append({**SIDECAR, "securityContext": added})

    assert placed([*GROUPS, (kind, "pool", shaped(rendered, kind, baseline_only))]) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unprivileged_pools_or_unknown_groups_are_not_judged(
    rendered: dict[str, Any], kind: str
) -> None:
    def unprivileged(fields: dict[str, Any], pod: dict[str, Any]) -> None:
        UNPRIVILEGED(fields, pod)
        pod.pop("nodeSelector")

    assert placed([*GROUPS, (kind, "pool", shaped(rendered, kind, unprivileged))]) == []
    pending = [
        (
            "mng",
            "pending",
            {**node_group(None, marked=False), "labels": UNKNOWN_SENTINELS["object"]},
        )
    ]
    anywhere = shaped(rendered, kind, lambda f, p: p.pop("nodeSelector"))
    assert placed([*GROUPS, *pending, (kind, "pool", anywhere)]) == []
