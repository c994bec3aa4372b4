"""Runner scale sets (ARC's `gha-runner-scale-set` mode): the AutoscalingRunnerSet and its charts.

A scale set is read in two shapes, checked by the same rules:

- an `AutoscalingRunnerSet` (actions.github.com/v1alpha1; the CRD of the
  gha-runner-scale-set-controller chart): `spec.maxRunners`, `spec.minRunners`,
  `spec.githubConfigSecret`, and the runner pod in `spec.template.spec`. A real `pulumi preview`
  shows one only when a program creates it directly; `make review` renders every runner-set
  release with Helm's engine and hands the pack the AutoscalingRunnerSet the chart creates.
- a Helm release of the `gha-runner-scale-set` chart (`kubernetes:helm.sh/v3:Release` or
  `v4:Chart`): the same fields in its `values` (`values.maxRunners`, `values.template.spec`, ...),
  the only shape a real `pulumi preview` sees. Where `values` leave a field unset the chart's
  default applies (values.yaml of gha-runner-scale-set 0.14.2): runner image
  `ghcr.io/actions/actions-runner:latest`, `githubConfigSecret: {github_token: ""}`, a generated
  ServiceAccount.

Facts from the charts and the controller (actions/actions-runner-controller, tag
gha-runner-scale-set-0.14.2): with Kubernetes >= 1.29 the chart's own dind is an init container
named `dind` with `restartPolicy: Always` (a native sidecar) running `docker:dind`, unpinned
(`_helpers.tpl`, `dind-container`); a missing `maxRunners` lets the controller scale to
math.MaxInt32 (`resourcebuilder.go`); the controller deletes an AutoscalingRunnerSet whose
`app.kubernetes.io/version` label is not its own major.minor (`IsVersionAllowed`,
`autoscalingrunnerset_controller.go`); the chart annotates the set with
`actions.github.com/cleanup-github-secret-name` only when it built the credential Secret from
values, and with `actions.github.com/cleanup-{no-permission,kubernetes-mode}-service-account-name`
only when it generated the ServiceAccount (values set no `template.spec.serviceAccountName`); users
cannot set annotations with that prefix through the chart.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from ._support import (
    UNKNOWN,
    Finding,
    Rule,
    StackResource,
    StackRule,
    as_list,
    as_number,
    get,
    is_false,
    is_true,
    show,
)
from .helm import CHART_V4, RELEASE
from .isolation import (
    AUTOSCALING_RUNNER_SET,
    PRIVILEGED_PLACEMENT,
    RUNNER_CLASS,
    _node_groups,
    check_runner_class,
)
from .stack import group_fits
from .workloads import dind_images_config, elevated, image_problem, lifted

HELM_TYPES = frozenset({RELEASE, CHART_V4})
SCALE_SET_TYPES = frozenset({AUTOSCALING_RUNNER_SET, *HELM_TYPES})
CONTROLLER_CHART = "gha-runner-scale-set-controller"
RUNNER_SET_CHART = "gha-runner-scale-set"
CHART_DEFAULT_RUNNER_IMAGE = "ghcr.io/actions/actions-runner:latest"
DIND_SIDECAR = "dind"
RUNNER_CONTAINER = "runner"
# Set on the runner container by the chart's kubernetes container modes; the runner then runs job
# containers through the container hooks, which call the Kubernetes API with the pod's token.
HOOKS_ENV = "ACTIONS_RUNNER_CONTAINER_HOOKS"
KUBERNETES_MODES = ("kubernetes", "kubernetes-novolume")
TEAM_LABEL = "arc-eks.io/team"
VERSION_LABEL = "app.kubernetes.io/version"
SECRET_FROM_VALUES = "actions.github.com/cleanup-github-secret-name"
GENERATED_ACCOUNT = (
    "actions.github.com/cleanup-no-permission-service-account-name",
    "actions.github.com/cleanup-kubernetes-mode-service-account-name",
)
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
MAX_INT32 = 2**31 - 1
_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


def chart_name(props: dict[str, Any]) -> str | None:
    """The chart's name: the last segment of `chart` (a repo/name, an oci:// reference, a path)."""
    chart = get(props, "chart")
    if not isinstance(chart, str) or not chart.strip():
        return None
    return chart.strip().rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ScaleSet:
    """A scale set read from an AutoscalingRunnerSet (`root` "spec") or runner-set values ("values")."""

    root: str
    fields: Any
    """The object at `root`: maxRunners, minRunners, githubConfigSecret, template."""
    pod: Any
    """`<root>.template.spec`: the runner pod."""
    team: Any
    from_values: bool
    container_mode: Any = None

    @property
    def pod_base(self) -> str:
        return f"{self.root}.template.spec"


def scale_set(typ: str, props: dict[str, Any]) -> ScaleSet | None:
    """The scale set a resource declares, or None (another kind, another chart)."""
    if typ == AUTOSCALING_RUNNER_SET:
        fields = get(props, "spec")
        return ScaleSet(
            "spec",
            fields,
            get(fields, "template", "spec"),
            get(props, "metadata", "labels", TEAM_LABEL),
            from_values=False,
        )
    if typ in HELM_TYPES and chart_name(props) == RUNNER_SET_CHART:
        values = get(props, "values")
        fields = {} if values is None else values
        pod = get(fields, "template", "spec")
        return ScaleSet(
            "values",
            fields,
            {} if pod is None else pod,  # the chart's default pod: no securityContext, no token
            get(fields, "labels", TEAM_LABEL),
            from_values=True,
            container_mode=get(fields, "containerMode", "type"),
        )
    return None


@dataclass(frozen=True)
class Container:
    field: str
    path: str
    item: dict[str, Any]

    @property
    def name(self) -> Any:
        return get(self.item, "name")


def containers(pod: Any, base: str) -> Iterator[Container]:
    """Every init, regular and ephemeral container of a pod spec, with its path."""
    for field in CONTAINER_FIELDS:
        items = get(pod, field)
        if items is UNKNOWN:
            continue
        for index, item in enumerate(as_list(items)):
            if isinstance(item, dict):
                yield Container(field, f"{base}.{field}[{index}]", item)


def kubernetes_mode(ss: ScaleSet) -> Iterator[str]:
    """Where a scale set runs container mode kubernetes: the chart's containerMode (values), or a
    container with the container hooks set (the chart's kubernetes modes write it on the runner)."""
    if ss.from_values and ss.container_mode in KUBERNETES_MODES:
        yield f"{ss.root}.containerMode.type"
    for container in containers(ss.pod, ss.pod_base):
        for index, env in enumerate(as_list(get(container.item, "env"))):
            value = get(env, "value")
            if get(env, "name") != HOOKS_ENV:
                continue
            if (isinstance(value, str) and value.strip()) or get(env, "valueFrom") is not None:
                yield f"{container.path}.env[{index}]"


# --- images ----------------------------------------------------------------------------------


def check_images(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or ss.pod is UNKNOWN:
        return
    if ss.from_values and get(ss.pod, "containers") is None:
        yield Finding(
            f"{ss.pod_base}.containers",
            f"unset: the chart's default runner container runs {CHART_DEFAULT_RUNNER_IMAGE}",
        )
    for container in containers(ss.pod, ss.pod_base):
        image = get(container.item, "image")
        if image is UNKNOWN:
            continue
        problem = image_problem(image)
        if problem:
            yield Finding(
                f"{container.path}.image", f"{show(image)} of {show(container.name)}: {problem}"
            )


IMAGES_PINNED = Rule(
    name="arc-scale-set-images-pinned",
    description="Every container of a scale set's runner pod (init containers, the dind sidecar "
    "and ephemeral containers included) runs an image pinned to a version tag or a digest; a "
    "runner-set release that leaves template.spec.containers to the chart runs "
    "ghcr.io/actions/actions-runner:latest. Scale sets disable runner self-update, so the pin is "
    "what decides the runner version.",
    remediation="pin every image of the scale set's pod template (RUNNER_SCALE_SET images and "
    "DIND_IMAGE in arc_eks/versions.py); never leave the runner container to the chart",
    resource_types=SCALE_SET_TYPES,
    check=check_images,
    severity=Severity.MEDIUM,
)


# --- privileged only in the dind sidecar ----------------------------------------------------------


def _dind_sidecar_problems(container: Container, config: Mapping[str, Any]) -> list[str]:
    """Why a privileged container is not the pinned native dind sidecar ([] when it is)."""
    if container.field != "initContainers":
        if container.name == RUNNER_CONTAINER:
            return ["the runner container runs every job, which would be root on the node"]
        return [f"an entry of {container.field}, not an init container"]
    problems = []
    if container.name != DIND_SIDECAR:
        problems.append(f"named {show(container.name)}, not {DIND_SIDECAR!r}")
    restart = get(container.item, "restartPolicy")
    if restart is not UNKNOWN and restart != "Always":
        problems.append(f"restartPolicy {show(restart)}: not a native sidecar (Always)")
    image = get(container.item, "image")
    if image is not UNKNOWN:
        if not isinstance(image, str) or not any(
            fnmatch.fnmatchcase(image, pattern) for pattern in config["dindImages"]
        ):
            problems.append(f"image {show(image)} is not a dind image ({config['dindImages']})")
        elif image_problem(image):
            problems.append(f"image {show(image)} is not pinned ({image_problem(image)})")
    return problems


def check_privileged(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or ss.pod is UNKNOWN:
        return
    only = (
        f"Only the init container {DIND_SIDECAR!r} with restartPolicy Always running the pinned "
        "dind image may be"
    )
    for container in containers(ss.pod, ss.pod_base):
        context = get(container.item, "securityContext")
        privileged = is_true(get(context, "privileged"))
        lifted = list(elevated(context, f"{container.path}.securityContext"))
        if not privileged and not lifted:
            continue
        problems = _dind_sidecar_problems(container, config)
        if not problems:
            continue
        if privileged:
            yield Finding(
                f"{container.path}.securityContext.privileged",
                f"container {show(container.name)} is privileged: {'; '.join(problems)}. {only}",
            )
        for where, why in lifted:
            yield Finding(
                where,
                f"container {show(container.name)} {why}, as good as privileged: "
                f"{'; '.join(problems)}. {only}",
            )


NO_PRIVILEGED = Rule(
    name="arc-scale-set-privileged-only-dind-sidecar",
    description="In a scale set's runner pod only the Docker daemon is privileged: an init "
    "container named dind with restartPolicy Always (a native sidecar) running a pinned dind "
    "image. The runner container, other init containers, regular and ephemeral containers never "
    "are: a privileged runner gives every job root on the node. An added capability beyond Pod "
    "Security baseline's (SYS_ADMIN, NET_ADMIN, ALL, ...) or procMount Unmasked counts as "
    "privileged.",
    remediation="use docker: dind in the team file (the package writes the pinned dind native "
    "sidecar), or none, kaniko or kubernetes; never containerMode dind or privileged elsewhere",
    resource_types=SCALE_SET_TYPES,
    check=check_privileged,
    config={"dindImages": dind_images_config()},
    severity=Severity.CRITICAL,
)


# --- host access ------------------------------------------------------------------------------------


def check_host_access(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or not isinstance(ss.pod, dict):
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if is_true(get(ss.pod, field)):
            yield Finding(f"{ss.pod_base}.{field}", "true shares the node's namespace with jobs")
    volumes = get(ss.pod, "volumes")
    if volumes is UNKNOWN:
        return
    for index, volume in enumerate(as_list(volumes)):
        host_path = get(volume, "hostPath")
        if host_path is None or host_path is UNKNOWN:
            continue
        yield Finding(
            f"{ss.pod_base}.volumes[{index}].hostPath",
            f"{show(get(host_path, 'path'))} mounts a node directory into every job's pod",
        )


NO_HOST_ACCESS = Rule(
    name="arc-scale-set-no-host-access",
    description="A scale set's runner pod uses no hostPath volume (the node's docker.sock "
    "least of all), hostNetwork, hostPID or hostIPC: a job must not reach its node or the "
    "other jobs on it.",
    remediation="share the Docker socket between runner and dind sidecar with an emptyDir; use "
    "docker: dind, kaniko or kubernetes instead of the node's socket",
    resource_types=SCALE_SET_TYPES,
    check=check_host_access,
    severity=Severity.CRITICAL,
)


# --- seccomp ---------------------------------------------------------------------------------------

RUNTIME_DEFAULT = "RuntimeDefault"


def check_seccomp(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or not isinstance(ss.pod, dict):
        return
    pod_type = get(ss.pod, "securityContext", "seccompProfile", "type")
    if pod_type is not UNKNOWN and pod_type != RUNTIME_DEFAULT:
        yield Finding(
            f"{ss.pod_base}.securityContext.seccompProfile.type",
            f"{show(pod_type)}: the pod's containers run without the runtime's default "
            "seccomp profile (set RuntimeDefault)",
        )
    for container in containers(ss.pod, ss.pod_base):
        own = get(container.item, "securityContext", "seccompProfile", "type")
        if own is None or own is UNKNOWN or own == RUNTIME_DEFAULT:
            continue
        yield Finding(
            f"{container.path}.securityContext.seccompProfile.type",
            f"{show(own)} for container {show(container.name)} overrides the pod's RuntimeDefault",
        )


SECCOMP = Rule(
    name="arc-scale-set-seccomp-runtime-default",
    description="A scale set's runner pod sets seccompProfile RuntimeDefault on the pod, and no "
    "container overrides it (Unconfined, Localhost): jobs run under containerd's default "
    "syscall filter.",
    remediation="securityContext.seccompProfile: {type: RuntimeDefault} on the pod template, no "
    "container-level seccompProfile",
    resource_types=SCALE_SET_TYPES,
    check=check_seccomp,
    severity=Severity.HIGH,
)


# --- no Kubernetes API token ------------------------------------------------------------------------


def check_api_token(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or not isinstance(ss.pod, dict):
        return
    automount = get(ss.pod, "automountServiceAccountToken")
    if automount is UNKNOWN or is_false(automount):
        return
    shown = "unset (Kubernetes then mounts it)" if automount is None else show(automount)
    yield Finding(
        f"{ss.pod_base}.automountServiceAccountToken",
        f"{shown}: every job could call the Kubernetes API as the pool's ServiceAccount",
    )


NO_API_TOKEN = Rule(
    name="arc-scale-set-no-api-token",
    description="A scale set's runner pod sets automountServiceAccountToken: false: nothing in "
    "it calls the Kubernetes API (container mode kubernetes is never a scale set); the IRSA token "
    "is a separate projected volume the EKS pod identity webhook adds either way.",
    remediation="automountServiceAccountToken: false in the pod template (the package sets it)",
    resource_types=SCALE_SET_TYPES,
    check=check_api_token,
    severity=Severity.HIGH,
)


# --- never container mode kubernetes ----------------------------------------------------------------


def check_no_kubernetes_mode(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None:
        return
    for path in kubernetes_mode(ss):
        yield Finding(
            path,
            "container mode kubernetes: the container hooks' Role reads every Secret of the "
            "namespace, the scale set's GitHub credentials (githubConfigSecret) among them",
        )


NO_KUBERNETES_MODE = Rule(
    name="arc-scale-set-no-kubernetes-mode",
    description="No scale set runs container mode kubernetes (containerMode kubernetes or "
    "kubernetes-novolume in the values, or a container with ACTIONS_RUNNER_CONTAINER_HOOKS): ARC "
    "keeps a scale set's GitHub credentials in a Secret of its namespace, and the hooks must read "
    "Secrets there, so the runner image could take credentials that register runners for every "
    "team.",
    remediation="run docker: kubernetes pools as mode: runnerDeployment (their namespace holds no "
    "GitHub credentials); a scale set uses docker: dind, none or kaniko",
    resource_types=SCALE_SET_TYPES,
    check=check_no_kubernetes_mode,
    severity=Severity.CRITICAL,
)


# --- maxRunners within the team's cap ---------------------------------------------------------------


def _cap(ss: ScaleSet, config: Mapping[str, Any]) -> tuple[float, str]:
    """The set's team's cap; the environment's for a team without one; the largest of them all
    while the team label is unknown (whatever the team, the set may not exceed that)."""
    teams = config["teamMaxRunners"] if isinstance(config["teamMaxRunners"], Mapping) else {}
    environment = as_number(config["maxRunners"]) or 0.0
    if ss.team is UNKNOWN:
        caps = [environment, *(n for n in map(as_number, teams.values()) if n is not None)]
        return max(caps), f"the largest cap of any team ({int(max(caps))})"
    team_cap = as_number(teams.get(ss.team)) if isinstance(ss.team, str) else None
    if team_cap is not None:
        return team_cap, f"team {ss.team!r}'s cap of {int(team_cap)}"
    return environment, f"this environment's cap of {int(environment)}"


def check_max_runners(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or ss.fields is UNKNOWN:
        return
    maximum, minimum = get(ss.fields, "maxRunners"), get(ss.fields, "minRunners")
    cap, which = _cap(ss, config)
    if ss.from_values and isinstance(maximum, str):
        # The chart writes maxRunners only for a number (kindIs int64/float64).
        yield Finding(
            f"{ss.root}.maxRunners",
            f"{show(maximum)} is a string: the chart leaves maxRunners out and the controller "
            f"then allows {MAX_INT32} runners; set a number, at most {which}",
        )
        return
    top = as_number(maximum)
    if maximum is None:
        yield Finding(
            f"{ss.root}.maxRunners",
            f"unset: the controller then allows {MAX_INT32} runners; set at most {which}",
        )
    elif maximum is not UNKNOWN and top is None:
        yield Finding(f"{ss.root}.maxRunners", f"{show(maximum)} is not a number")
    elif top is not None and top > cap:
        yield Finding(f"{ss.root}.maxRunners", f"{top:g} exceeds {which}")
    low = as_number(minimum)
    if low is not None and top is not None and low > top:
        yield Finding(
            f"{ss.root}.minRunners",
            f"{low:g} is above maxRunners {top:g}: the listener refuses to start",
        )


MAX_RUNNERS_CAP = Rule(
    name="arc-scale-set-max-runners-cap",
    description="Every scale set bounds maxRunners within its team's cap (teamMaxRunners, keyed "
    "by the arc-eks.io/team label; the environment's maxRunners for teams not listed), and "
    "minRunners <= maxRunners: one pool cannot take the node group, and the AWS bill, for "
    "itself. An unset maxRunners lets the controller scale to 2147483647.",
    remediation="lower the pool's autoscaling.max in the team file, or ask the platform team to "
    "raise the team's maxRunnersPerPool (stack file) and teamMaxRunners (policies/config/<env>"
    ".json: arc-scale-set-max-runners-cap)",
    resource_types=SCALE_SET_TYPES,
    check=check_max_runners,
    config={
        "maxRunners": {
            "type": "integer",
            "minimum": 0,
            "default": 20,
            "description": "Largest maxRunners of a scale set whose team has no cap of its own.",
        },
        "teamMaxRunners": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "default": {},
            "description": "Team (label arc-eks.io/team) -> largest maxRunners of its scale sets: "
            "the team's maxRunnersPerPool in the stack file.",
        },
    },
    severity=Severity.MEDIUM,
)


# --- the pool's own ServiceAccount ------------------------------------------------------------------


def check_service_account(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or ss.pod is UNKNOWN:
        return
    name = get(ss.pod, "serviceAccountName")
    where = f"{ss.pod_base}.serviceAccountName"
    if name is UNKNOWN:
        return
    if not isinstance(name, str) or not name.strip():
        yield Finding(
            where,
            "unset: the pod runs as a ServiceAccount the chart generates (or the namespace's "
            "default), not the pool's own IRSA ServiceAccount",
        )
    elif name == "default":
        yield Finding(
            where,
            "the namespace's default ServiceAccount: shared with every other pod there (the "
            "job pods of container mode kubernetes included)",
        )
    if ss.from_values:
        return  # the annotations below are the chart's, on the set it renders
    annotations = get(props, "metadata", "annotations")
    if not isinstance(annotations, dict):
        return
    for key in GENERATED_ACCOUNT:
        if key in annotations:
            yield Finding(
                f"metadata.annotations.{key}",
                f"the chart generated the ServiceAccount {show(annotations[key])} (its values "
                "set no template.spec.serviceAccountName): not the pool's IRSA ServiceAccount",
            )


OWN_SERVICE_ACCOUNT = Rule(
    name="arc-scale-set-own-service-account",
    description="A scale set's runner pod names its pool's own ServiceAccount "
    "(template.spec.serviceAccountName: set, not default, not one the chart generates): it "
    "carries the pool's IRSA role and nothing else.",
    remediation="set template.spec.serviceAccountName to the pool's IrsaServiceAccount (the "
    "package does)",
    resource_types=SCALE_SET_TYPES,
    check=check_service_account,
    severity=Severity.HIGH,
)


# --- node isolation ------------------------------------------------------------------------------


def check_isolation_class(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    """`arc-runner-pod-isolation-class` on the scale set's runner pod, wherever it is written."""
    ss = scale_set(typ, props)
    if ss is None or not isinstance(ss.pod, dict):
        return
    at = {"spec": {"template": {"spec": ss.pod}}}
    for finding in check_runner_class(AUTOSCALING_RUNNER_SET, at, config):
        rest = finding.path.removeprefix("spec.template.spec")
        yield Finding(f"{ss.pod_base}{rest}", finding.problem)


ISOLATION_CLASS = Rule(
    name="arc-scale-set-pod-isolation-class",
    description="A scale set's runner pod selects its isolation class's node group (nodeSelector "
    "arc-eks.io/isolation) and tolerates exactly that class's taint; a pod with a privileged "
    "container (the dind sidecar) uses a privileged class, an unprivileged one never a "
    "privileged class or the system nodes (the rule arc-runner-pod-isolation-class applies to "
    "RunnerDeployment pools).",
    remediation=RUNNER_CLASS.remediation,
    resource_types=SCALE_SET_TYPES,
    check=check_isolation_class,
    config=RUNNER_CLASS.config,
    severity=Severity.CRITICAL,
)


# --- GitHub credentials only by Secret name ---------------------------------------------------------


def check_github_secret(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or ss.fields is UNKNOWN:
        return
    secret = get(ss.fields, "githubConfigSecret")
    where = f"{ss.root}.githubConfigSecret"
    if secret is UNKNOWN:
        pass
    elif isinstance(secret, dict):
        yield Finding(
            where,
            f"a map (keys {sorted(secret)}): the chart builds the credential Secret from Helm "
            "values, so the GitHub token or App key sits in plain text in the Helm release "
            "Secret and the Pulumi state",
        )
    elif secret is None and ss.from_values:
        yield Finding(
            where,
            'unset: the chart\'s default is the map {github_token: ""}, a Secret built from values',
        )
    elif not isinstance(secret, str) or not secret.strip():
        yield Finding(where, f"{show(secret)} is not the name of a Secret")
    if ss.from_values:
        return  # the annotation below is the chart's, on the set it renders
    annotations = get(props, "metadata", "annotations")
    if isinstance(annotations, dict) and SECRET_FROM_VALUES in annotations:
        yield Finding(
            f"metadata.annotations.{SECRET_FROM_VALUES}",
            f"the chart built the credential Secret {show(annotations[SECRET_FROM_VALUES])} from "
            "Helm values (githubConfigSecret was a map)",
        )


GITHUB_SECRET_BY_NAME = Rule(
    name="arc-scale-set-github-secret-by-name",
    description="A scale set names its GitHub credentials by Secret (githubConfigSecret is the "
    "name of a Secret created from Pulumi secrets), never inline: a githubConfigSecret map in a "
    "runner-set release's values puts the PAT or App private key in plain text in the Helm "
    "release Secret and the Pulumi state.",
    remediation="set githubConfigSecret to the name of the runner namespace's credential Secret, "
    "which the package creates from arc-eks:githubToken / githubAppPrivateKey",
    resource_types=SCALE_SET_TYPES,
    check=check_github_secret,
    severity=Severity.CRITICAL,
)


# --- the chart's dind mode ---------------------------------------------------------------------------


def check_container_mode(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    ss = scale_set(typ, props)
    if ss is None or not ss.from_values:
        return
    if ss.container_mode == "dind":
        yield Finding(
            f"{ss.root}.containerMode.type",
            '"dind": the chart then writes its own privileged sidecar running docker:dind '
            "(unpinned) and drops any container named dind from the template",
        )


NO_DIND_CONTAINER_MODE = Rule(
    name="arc-scale-set-helm-no-dind-container-mode",
    description="No gha-runner-scale-set release sets containerMode.type dind: the chart "
    "hard-codes the privileged docker:dind image (unpinned) and replaces a dind container of "
    "the template. Docker-in-Docker comes from the pool's own pod template with the pinned "
    "sidecar.",
    remediation="leave containerMode unset and write the whole pod template with the pinned dind "
    "native sidecar (docker: dind in the team file does)",
    resource_types=HELM_TYPES,
    check=check_container_mode,
    severity=Severity.HIGH,
)


# --- stack: chart versions in step --------------------------------------------------------------


# The controller's parseSemver: `1`, `1.2` or `1.2.3<anything>`, no leading `v`, no leading zeros.
_CONTROLLER_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)(?:\.(?:0(?![0-9])|[1-9][0-9]*).*)?)?\Z", re.DOTALL
)


def semver_major_minor(version: Any) -> tuple[str, str] | None:
    """(major, minor) as the controller reads a version label; None when it cannot parse it."""
    if not isinstance(version, str):
        return None
    match = _CONTROLLER_SEMVER.match(version)
    return (match.group(1), match.group(2) or "0") if match else None


def version_allowed(resource_version: Any, build_version: str) -> bool:
    """The controller's IsVersionAllowed: the set's version label is its build version, or both
    parse and share major.minor (a label it cannot parse, or none, gets the set deleted)."""
    if build_version in ("dev", resource_version) or build_version.startswith("canary-"):
        return True
    theirs = semver_major_minor(resource_version)
    return theirs is not None and theirs == semver_major_minor(build_version)


def is_exact_version(version: Any) -> bool:
    """An exact chart version (`1.2.3`, optionally `v`, a pre-release, build metadata)."""
    return isinstance(version, str) and _EXACT_VERSION.fullmatch(version.strip()) is not None


def _label(resource: StackResource) -> str:
    return f"{resource.type} '{resource.name}'"


Pinned = list[tuple[StackResource, str]]


def _scale_set_releases(
    resources: list[StackResource], controllers: Pinned, runner_sets: Pinned
) -> Iterator[tuple[str | None, str]]:
    """Sort the scale-set chart releases with an exact version; report the others."""
    for resource in resources:
        chart = chart_name(resource.props) if resource.type in HELM_TYPES else None
        if chart not in (CONTROLLER_CHART, RUNNER_SET_CHART):
            continue
        version = get(resource.props, "version")
        if version is UNKNOWN:
            continue
        if not is_exact_version(version):
            yield (
                resource.urn,
                f"{_label(resource)}: version {show(version)} of chart {chart} is not an exact "
                "version, so it cannot be kept in step with the other scale-set charts",
            )
            continue
        exact = str(version).strip().removeprefix("v")
        (controllers if chart == CONTROLLER_CHART else runner_sets).append((resource, exact))


def _labels_in_step(
    resources: list[StackResource], controller: StackResource, build: str
) -> Iterator[tuple[str | None, str]]:
    for resource in resources:
        if resource.type != AUTOSCALING_RUNNER_SET:
            continue
        labels = get(resource.props, "metadata", "labels")
        version = UNKNOWN if labels is UNKNOWN else get(labels, VERSION_LABEL)
        if version is UNKNOWN or version_allowed(version, build):
            continue
        yield (
            resource.urn,
            f"{_label(resource)}: label {VERSION_LABEL} {show(version)} is not the controller's "
            f"major.minor ({build} of {_label(controller)}): the controller deletes this "
            "AutoscalingRunnerSet",
        )


def check_charts_in_step(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    controllers: Pinned = []
    runner_sets: Pinned = []
    yield from _scale_set_releases(resources, controllers, runner_sets)
    pinned = [*controllers, *runner_sets]
    if not pinned:
        return
    reference, ref_version = pinned[0]
    for resource, version in pinned:
        if version != ref_version:
            yield (
                resource.urn,
                f"{_label(resource)}: chart {chart_name(resource.props)} {version} is not "
                f"{ref_version} of {_label(reference)}: the controller and every runner-set "
                "chart must be one version (the controller deletes an AutoscalingRunnerSet of "
                "another major.minor)",
            )
    if not controllers:
        return
    controller, build = controllers[0]
    tag = get(controller.props, "values", "image", "tag")
    if isinstance(tag, str) and tag.strip():
        own = tag.strip().partition("@")[0].removeprefix("v")
        if own != build:
            yield (
                controller.urn,
                f"{_label(controller)}: values.image.tag {show(tag)} runs another controller "
                f"version than its chart {build}: the AutoscalingRunnerSets carry the chart's",
            )
    yield from _labels_in_step(resources, controller, build)


CHARTS_IN_STEP = StackRule(
    name="arc-scale-set-charts-in-step",
    description="The gha-runner-scale-set-controller release and every gha-runner-scale-set "
    "release are pinned to one exact chart version, the controller runs its chart's version, "
    "and every AutoscalingRunnerSet carries a matching app.kubernetes.io/version label: the "
    "controller deletes an AutoscalingRunnerSet whose version label is not its own major.minor.",
    remediation="bump SCALE_SET_CHART_VERSION in arc_eks/versions.py for the controller and every "
    "pool together (after upgrading the actions.github.com CRDs, which Helm never upgrades); "
    "leave the controller's image.tag to its chart",
    check=check_charts_in_step,
    severity=Severity.HIGH,
)


# --- stack: privileged pods only on marked node groups ----------------------------------------------


def check_privileged_placement(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    groups = _node_groups(resources)  # the same node groups as the workload rule
    label, value = config["privilegedNodesLabel"], config["privilegedNodesValue"]
    for resource in resources:
        ss = scale_set(resource.type, resource.props)
        if ss is None or not isinstance(ss.pod, dict):
            continue
        privileged = [
            str(c.name)
            for c in containers(ss.pod, ss.pod_base)
            if lifted(get(c.item, "securityContext"))
        ]
        fits = [(group, group_fits(ss.pod, group)) for group in groups]
        if not privileged or any(fit is None for _, fit in fits):
            continue
        unmarked = [g for g, fit in fits if fit and get(g.props, "labels", label) != value]
        if unmarked:
            names = ", ".join(_label(g) for g in unmarked)
            yield (
                resource.urn,
                f"{_label(resource)}: privileged containers {privileged} of {ss.pod_base} can be "
                f"scheduled on node groups not marked {label}={value} ({names}): a privileged "
                "container is root on its node and reaches every pod there",
            )


PRIVILEGED_ON_MARKED_NODES = StackRule(
    name="arc-scale-set-privileged-only-on-marked-node-groups",
    description="A scale set whose runner pod has a privileged container (the dind sidecar; an "
    "added capability beyond Pod Security baseline's or procMount Unmasked counts) can "
    "only be scheduled (nodeSelector, tolerations) on node groups labelled "
    "arc-eks.io/privileged-pods=true (kubernetes-privileged-only-on-marked-node-groups for the "
    "other workloads).",
    remediation=PRIVILEGED_PLACEMENT.remediation,
    check=check_privileged_placement,
    config=PRIVILEGED_PLACEMENT.config,
    severity=Severity.CRITICAL,
)


# --- stack: one ServiceAccount per pool -------------------------------------------------------------


def _pool_account(resource: StackResource) -> tuple[str, str, str] | None:
    """(namespace, scale set name, ServiceAccount) of an AutoscalingRunnerSet or of a runner-set
    release (its AutoscalingRunnerSet-to-be: runnerScaleSetName or the release name, `_` as `-`
    the way the chart writes it, in the release's namespace). None where one is not known."""
    props = resource.props
    if resource.type == AUTOSCALING_RUNNER_SET:
        namespace = get(props, "metadata", "namespace")
        name = get(props, "metadata", "name")
        account = get(props, "spec", "template", "spec", "serviceAccountName")
    elif resource.type in HELM_TYPES and chart_name(props) == RUNNER_SET_CHART:
        namespace = get(props, "namespace")
        name = get(props, "values", "runnerScaleSetName") or get(props, "name")
        name = name.replace("_", "-") if isinstance(name, str) else name
        account = get(props, "values", "template", "spec", "serviceAccountName")
    else:
        return None
    if not all(isinstance(v, str) and v for v in (namespace, name, account)):
        return None
    return namespace, name, account


def check_one_account_per_pool(
    resources: list[StackResource], config: Mapping[str, Any]
) -> Iterator[tuple[str | None, str]]:
    users: dict[tuple[str, str], dict[tuple[str, str], StackResource]] = defaultdict(dict)
    for resource in resources:
        pool = _pool_account(resource)
        if pool is not None:
            namespace, name, account = pool
            users[(namespace, account)].setdefault((namespace, name), resource)
    for (namespace, account), pools in sorted(users.items()):
        names = sorted(f"{ns}/{name}" for ns, name in pools)
        for resource in list(pools.values())[1:]:  # none when one pool uses it
            yield (
                resource.urn,
                f"{_label(resource)}: ServiceAccount {namespace}/{account} is shared by the "
                f"scale sets {names}: each pool's jobs would hold the others' IRSA role",
            )


ONE_ACCOUNT_PER_POOL = StackRule(
    name="arc-scale-set-one-service-account-per-pool",
    description="No two scale sets of different pools (AutoscalingRunnerSets, or gha-runner-"
    "scale-set releases by their runnerScaleSetName) name the same ServiceAccount in one "
    "namespace: a hostile job in one pool must reach only its own pool's IRSA role.",
    remediation="give every pool its own IrsaServiceAccount (the package names it after the pool)",
    check=check_one_account_per_pool,
    severity=Severity.CRITICAL,
)


RULES = (
    IMAGES_PINNED,
    NO_PRIVILEGED,
    NO_HOST_ACCESS,
    SECCOMP,
    NO_API_TOKEN,
    MAX_RUNNERS_CAP,
    OWN_SERVICE_ACCOUNT,
    ISOLATION_CLASS,
    GITHUB_SECRET_BY_NAME,
    NO_DIND_CONTAINER_MODE,
    NO_KUBERNETES_MODE,
)
STACK_RULES = (CHARTS_IN_STEP, ONE_ACCOUNT_PER_POOL, PRIVILEGED_ON_MARKED_NODES)
