"""Kubernetes workloads and runner pods: privilege, host access, resources, image pins, ephemerality.

Reads the pod spec of built-in workloads (`kubernetes:core/v1:Pod`, `kubernetes:apps/v1:Deployment`,
...) and of the legacy ARC CustomResources (`RunnerDeployment`, `RunnerSet`, ... whose
`spec.template.spec` is a runner spec: `image`, `resources`, `dockerEnabled`, `sidecarContainers`
besides the usual pod fields). For runners, the containers ARC will create are reconstructed: the
`runner` container (from `image`/`resources` unless `containers` names one) and, with
`dockerEnabled` (the default), the `docker` dind sidecar sized by `dockerdContainerResources`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, as_list, get, is_false, is_true, show

SUMMERWIND = "kubernetes:actions.summerwind.dev/v1alpha1:"
RUNNER_DEPLOYMENT = SUMMERWIND + "RunnerDeployment"
RUNNER_REPLICA_SET = SUMMERWIND + "RunnerReplicaSet"
RUNNER_SET = SUMMERWIND + "RunnerSet"
RUNNER = SUMMERWIND + "Runner"
RUNNER_KINDS = frozenset({RUNNER_DEPLOYMENT, RUNNER_REPLICA_SET, RUNNER_SET, RUNNER})

POD = "kubernetes:core/v1:Pod"
TEMPLATED = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:apps/v1:ReplicaSet",
        "kubernetes:batch/v1:Job",
        "kubernetes:core/v1:ReplicationController",
    }
)
CRON_JOB = "kubernetes:batch/v1:CronJob"
WORKLOAD_KINDS = RUNNER_KINDS | TEMPLATED | {POD, CRON_JOB}
DIND_NAME = "docker"


def pod_spec(typ: str, props: dict[str, Any]) -> tuple[str, Any]:
    """(path, spec) of the pod (or runner) spec inside a workload's inputs."""
    if typ in (POD, RUNNER):
        return "spec", get(props, "spec")
    if typ == CRON_JOB:
        return "spec.jobTemplate.spec.template.spec", get(
            props, "spec", "jobTemplate", "spec", "template", "spec"
        )
    return "spec.template.spec", get(props, "spec", "template", "spec")


@dataclass(frozen=True)
class Container:
    """A container of the pod, as written or as ARC will create it (`implicit`)."""

    path: str
    name: Any
    image: Any
    resources: Any
    security_context: Any
    implicit: bool = False


def containers(typ: str, spec: dict[str, Any], base: str) -> Iterator[Container]:
    """Every container the pod will run, runner and dind sidecar included for runner kinds."""
    listed: list[tuple[str, Any]] = []
    for field in ("initContainers", "containers", "sidecarContainers", "ephemeralContainers"):
        for index, item in enumerate(as_list(get(spec, field))):
            if isinstance(item, dict):
                listed.append((f"{base}.{field}[{index}]", item))
    names = {get(item, "name") for _, item in listed}
    if typ in RUNNER_KINDS and typ != RUNNER_SET:
        in_runner = is_true(get(spec, "dockerdWithinRunnerContainer"))
        runner_context = {"privileged": True} if in_runner else None
        if "runner" not in names:
            yield Container(
                f"{base}",
                "runner",
                get(spec, "image"),
                get(spec, "resources"),
                runner_context,
                True,
            )
        dockerd = get(spec, "dockerEnabled")
        if (
            not is_false(dockerd)
            and dockerd is not UNKNOWN
            and not in_runner
            and DIND_NAME not in names
        ):
            yield Container(
                f"{base}.dockerdContainerResources",
                DIND_NAME,
                None,  # the controller's dind image (chart value image.dindSidecarRepositoryAndTag)
                get(spec, "dockerdContainerResources"),
                {"privileged": True},
                True,
            )
    for path, item in listed:
        resources = get(item, "resources")
        context = get(item, "securityContext")
        image = get(item, "image")
        if typ in RUNNER_KINDS and get(item, "name") == "runner":
            resources = resources or get(spec, "resources")
            image = image or get(spec, "image")
            if is_true(get(spec, "dockerdWithinRunnerContainer")):
                context = {**(context if isinstance(context, dict) else {}), "privileged": True}
        yield Container(path, get(item, "name"), image, resources, context)


def _spec_of(typ: str, props: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    base, spec = pod_spec(typ, props)
    return base, spec if isinstance(spec, dict) else None


def pod_containers(typ: str, props: dict[str, Any]) -> Iterator[Container]:
    """Every container of the resource's pod spec; none when it has no (known) pod spec."""
    base, spec = _spec_of(typ, props)
    if spec is not None:
        yield from containers(typ, spec, base)


# The capabilities Pod Security `baseline` lets a container add (Kubernetes docs, Pod Security
# Standards, "Capabilities"); any other (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ALL, ...) is a way out
# of the container as good as privileged.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def elevated(security_context: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, why) for each way a securityContext lifts a container towards its node short of
    `privileged`: an added capability beyond Pod Security baseline's, or an unmasked /proc."""
    for index, capability in enumerate(as_list(get(security_context, "capabilities", "add"))):
        if capability is UNKNOWN:
            continue
        name = str(capability).strip().upper().removeprefix("CAP_")
        if name not in BASELINE_CAPABILITIES:
            yield f"{path}.capabilities.add[{index}]", f"adds capability {show(capability)}"
    proc_mount = get(security_context, "procMount")
    if proc_mount not in (None, UNKNOWN, "Default"):
        yield f"{path}.procMount", f"procMount {show(proc_mount)} unmasks the node's /proc"


def lifted(security_context: Any) -> bool:
    """`privileged`, or lifted towards the node short of it (`elevated`): what the placement
    rules keep to the node groups marked for privileged pods."""
    return is_true(get(security_context, "privileged")) or any(elevated(security_context, ""))


def check_privileged(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    base, spec = _spec_of(typ, props)
    if spec is None:
        return
    for container in containers(typ, spec, base):
        privileged = is_true(get(container.security_context, "privileged"))
        lifted = list(elevated(container.security_context, f"{container.path}.securityContext"))
        if not privileged and not lifted:
            continue
        if container.name == DIND_NAME and (
            container.image is None
            or container.image is UNKNOWN
            or any(fnmatch.fnmatchcase(str(container.image), p) for p in config["dindImages"])
        ):
            continue
        what = f"container {show(container.name)} (image {show(container.image)})"
        only = f"only the dind sidecar named {DIND_NAME!r} running a dind image may be"
        if privileged:
            where = (
                f"{base}.dockerdWithinRunnerContainer"
                if container.name == "runner" and is_true(get(spec, "dockerdWithinRunnerContainer"))
                else f"{container.path}.securityContext.privileged"
            )
            yield Finding(where, f"{what} is privileged; {only}")
        for where, why in lifted:
            yield Finding(where, f"{what} {why}: as good as privileged; {only}")


def dind_images_config() -> dict[str, Any]:
    """The images a privileged dind sidecar may run (glob patterns): one setting, the same for the
    RunnerDeployment and the scale-set privilege rules (a fresh copy per rule)."""
    return {
        "type": "array",
        "items": {"type": "string"},
        "default": ["docker:*dind*", "*/docker:*dind*", "*/library/docker:*dind*"],
        "description": "Glob patterns of the images the privileged dind sidecar may run.",
    }


NO_PRIVILEGED = Rule(
    name="kubernetes-no-privileged-except-dind",
    description='No privileged container, except the Docker-in-Docker sidecar named "docker" '
    "(running a docker:*-dind image) of a runner pod: a privileged runner container gives every "
    "job root on the node. An added capability beyond Pod Security baseline's (SYS_ADMIN, "
    "NET_ADMIN, ALL, ...) or procMount Unmasked counts as privileged.",
    remediation="use docker: dind (privileged sidecar only), none, kaniko or kubernetes in the "
    "team file; never dockerdWithinRunnerContainer or securityContext.privileged elsewhere",
    resource_types=WORKLOAD_KINDS,
    check=check_privileged,
    config={"dindImages": dind_images_config()},
    severity=Severity.CRITICAL,
)


def check_host_access(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    base, spec = _spec_of(typ, props)
    if spec is None:
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if is_true(get(spec, field)):
            yield Finding(f"{base}.{field}", "true shares the node's namespace with the pod")
    for index, volume in enumerate(as_list(get(spec, "volumes"))):
        host_path = get(volume, "hostPath")
        if host_path is None or host_path is UNKNOWN:
            continue
        target = get(host_path, "path")
        why = (
            "mounts the node's Docker/containerd socket (Docker-outside-of-Docker: jobs share "
            "images and credentials and control the node)"
            if isinstance(target, str) and target.endswith((".sock", "/var/run", "/run"))
            else "mounts a node directory into the pod"
        )
        yield Finding(f"{base}.volumes[{index}].hostPath", f"{show(target)} {why}")


NO_HOST_ACCESS = Rule(
    name="kubernetes-no-host-namespaces-or-hostpath",
    description="Pods do not use hostPath volumes (in particular the node's docker.sock), "
    "hostNetwork, hostPID or hostIPC: a job must not reach the node or other jobs.",
    remediation="share /var/run between the runner and its dind sidecar with an emptyDir; use "
    "docker: dind / kaniko / kubernetes instead of the host socket",
    resource_types=WORKLOAD_KINDS,
    check=check_host_access,
    severity=Severity.CRITICAL,
)


def check_requests_limits(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    for container in pod_containers(typ, props):
        if ".initContainers[" in container.path or container.resources is UNKNOWN:
            continue
        # ARC's implicit dind sidecar has its own resources field (dockerdContainerResources);
        # every other container, the implicit runner included, has `<path>.resources`.
        implicit_dind = container.implicit and container.name == DIND_NAME
        where = container.path if implicit_dind else f"{container.path}.resources"
        for kind in ("requests", "limits"):
            values = get(container.resources, kind)
            if values is UNKNOWN:
                continue
            missing = [r for r in config["requiredResources"] if get(values, r) in (None, "")]
            if missing:
                yield Finding(
                    f"{where}.{kind}",
                    f"container {show(container.name)} has no {kind} for {missing}",
                )


RUNNER_RESOURCES = Rule(
    name="arc-runner-requests-and-limits",
    description="Every container of a runner pod (runner, dind sidecar, other sidecars) sets CPU "
    "and memory requests and limits: requests let the scheduler and cluster-autoscaler place "
    "runners, limits stop one job from starving the node.",
    remediation="set resources.requests and resources.limits in the pool (the dind sidecar's "
    "come from dockerdContainerResources or the sidecar's resources)",
    resource_types=RUNNER_KINDS,
    check=check_requests_limits,
    config={
        "requiredResources": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["cpu", "memory"],
            "description": "Resources every runner-pod container must request and limit.",
        }
    },
    severity=Severity.MEDIUM,
)


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned, or None if it is: a digest, or a tag naming a version
    (one without a digit, `docker:dind`, `:stable`, `:edge`, moves like latest)."""
    if not isinstance(image, str) or not image.strip():
        return "no image: the controller's default (…:latest) would run"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "no tag: resolves to :latest"
    tag = last.rsplit(":", 1)[1]
    if not tag or tag == "latest":
        return "tag latest moves under you"
    if not any(ch.isdigit() for ch in tag):
        return f"tag {tag!r} names no version and moves like latest"
    return None


def check_images(typ: str, props: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Finding]:
    for container in pod_containers(typ, props):
        if container.image is UNKNOWN:
            continue
        if container.implicit and container.name == DIND_NAME:
            continue  # its image is the controller's chart value, checked on the Helm release
        problem = image_problem(container.image)
        if problem:
            yield Finding(
                f"{container.path}.image",
                f"{show(container.image)} of {show(container.name)}: {problem}",
            )


IMAGES_PINNED = Rule(
    name="kubernetes-images-pinned",
    description="Every container image is pinned to a version tag or a digest (no :latest, no "
    "missing tag), so a rebuild upstream never changes what runs; runner pods name their image.",
    remediation="pin images to a version (summerwind/actions-runner:v<runner>-ubuntu-22.04, "
    "docker:<version>-dind) or a digest; bump pins in arc_eks/versions.py",
    resource_types=WORKLOAD_KINDS,
    check=check_images,
    severity=Severity.MEDIUM,
)


def check_ephemeral(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    base, spec = _spec_of(typ, props)
    if spec is None or typ == RUNNER_SET:
        ephemeral = get(props, "spec", "ephemeral") if typ == RUNNER_SET else None
        if is_false(ephemeral):
            yield Finding("spec.ephemeral", "false: a runner would keep state between jobs")
        return
    ephemeral = get(spec, "ephemeral")
    if is_false(ephemeral):
        yield Finding(
            f"{base}.ephemeral",
            "false: the runner is reused, so one job's files, credentials and docker images "
            "reach the next",
        )


RUNNER_EPHEMERAL = Rule(
    name="arc-runner-ephemeral",
    description="Runners are ephemeral (a fresh pod per job): ephemeral must not be false.",
    remediation="remove ephemeral: false from the runner spec (ARC's default is true)",
    resource_types=RUNNER_KINDS,
    check=check_ephemeral,
    severity=Severity.HIGH,
)

RULES = (NO_PRIVILEGED, NO_HOST_ACCESS, RUNNER_RESOURCES, IMAGES_PINNED, RUNNER_EPHEMERAL)
