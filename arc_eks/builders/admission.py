"""The ValidatingAdmissionPolicy that fences a `docker: kubernetes` pool's job pods.

The container hooks' Role lets the pool's ServiceAccount create pods in its namespace (it must:
every job runs as a pod the hooks create). Without a fence a job could create a pod that runs as
another ServiceAccount (taking its IAM role or its API rights), runs privileged or mounts the
node's filesystem. This policy admits, from that ServiceAccount only, pods that

- run as the namespace's `default` ServiceAccount (what the hooks' pods run as: they set none),
  to which this project binds no Role and gives no IAM role;
- have no privileged container (init and ephemeral containers included);
- mount no hostPath and share no host namespace (network, PID, IPC);
- do not carry the pool label (`arc-eks.io/pool`) the API-server NetworkPolicy selects runner
  pods by, so a job pod cannot give itself the runner's network access to the API server;
- mount no API token, name no node (`spec.nodeName` would bypass the scheduler and the taints)
  and select the pool's own node group (so never the system nodes nor a privileged group).

The hooks create pods that pass: the pool's job pod template (`builders.runner.job_pod_template`,
mounted into the runner) sets the node selector, tolerations and automountServiceAccountToken.

Pod Security `baseline` on the namespace refuses privileged pods and hostPath too; this policy
does not depend on it, and says why in its own words.
ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) since Kubernetes 1.30.
Ref: https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
"""

from __future__ import annotations

from typing import Any

from arc_eks.builders.node_groups import ISOLATION_KEY, isolation_class
from arc_eks.builders.runner import (
    MANAGED_BY,
    POOL_LABEL,
    TEAM_LABEL,
    pool_namespace,
    service_account_name,
)
from arc_eks.config.teams import DockerMode, ResolvedPool

ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
JOB_POD_SERVICE_ACCOUNT = "default"

_NOT_PRIVILEGED = (
    "(!has(c.securityContext) || !has(c.securityContext.privileged)"
    " || c.securityContext.privileged == false)"
)
# One `all` per list: containers, init containers and ephemeral containers are different types in
# the Pod schema, so Kubernetes' CEL type checker would refuse their concatenation.
_NO_PRIVILEGED_CONTAINER = (
    f"object.spec.containers.all(c, {_NOT_PRIVILEGED})"
    f" && (!has(object.spec.initContainers) || object.spec.initContainers.all(c, {_NOT_PRIVILEGED}))"
    " && (!has(object.spec.ephemeralContainers)"
    f" || object.spec.ephemeralContainers.all(c, {_NOT_PRIVILEGED}))"
)

# (expression, message): each expression must be true for the pod to be admitted.
_FIXED_VALIDATIONS: tuple[tuple[str, str], ...] = (
    (
        f"!has(object.spec.serviceAccountName) || object.spec.serviceAccountName == "
        f"'{JOB_POD_SERVICE_ACCOUNT}'",
        f"job pods run as the namespace's {JOB_POD_SERVICE_ACCOUNT!r} ServiceAccount "
        "(no permissions, no IAM role)",
    ),
    (
        _NO_PRIVILEGED_CONTAINER,
        "job pods run no privileged container",
    ),
    (
        "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))",
        "job pods mount no hostPath volume",
    ),
    (
        "(!has(object.spec.hostNetwork) || object.spec.hostNetwork == false)"
        " && (!has(object.spec.hostPID) || object.spec.hostPID == false)"
        " && (!has(object.spec.hostIPC) || object.spec.hostIPC == false)",
        "job pods share no host namespace (hostNetwork, hostPID, hostIPC)",
    ),
    (
        f"!has(object.metadata.labels) || !('{POOL_LABEL}' in object.metadata.labels)",
        f"job pods do not carry the runner pods' label {POOL_LABEL}",
    ),
    (
        "has(object.spec.automountServiceAccountToken)"
        " && object.spec.automountServiceAccountToken == false",
        "job pods mount no Kubernetes API token (automountServiceAccountToken: false)",
    ),
    (
        "!has(object.spec.nodeName)",
        "job pods are placed by the scheduler (no spec.nodeName, which would skip the taints)",
    ),
)


def job_pod_validations(isolation: str) -> tuple[tuple[str, str], ...]:
    """Every validation of a pool's job pods: the fixed ones and its node group's selector (the
    job pod template the hooks merge sets it; a pod without it could land on the system nodes or
    another class's)."""
    selector = (
        f"has(object.spec.nodeSelector) && '{ISOLATION_KEY}' in object.spec.nodeSelector"
        f" && object.spec.nodeSelector['{ISOLATION_KEY}'] == '{isolation}'"
    )
    return (
        *_FIXED_VALIDATIONS,
        (selector, f"job pods select their pool's node group ({ISOLATION_KEY}={isolation})"),
    )


def policy_name(pool: ResolvedPool) -> str:
    """Cluster-scoped, so it names team and pool."""
    return f"arc-eks-job-pods-{pool.team}-{pool.name}"


def pool_user(pool: ResolvedPool) -> str:
    """The username the API server sees for the pool's ServiceAccount."""
    return f"system:serviceaccount:{pool_namespace(pool)}:{service_account_name(pool)}"


def job_pod_policy(pool: ResolvedPool) -> list[dict[str, Any]]:
    """ValidatingAdmissionPolicy + binding for a `docker: kubernetes` pool; [] for other modes."""
    if pool.spec.docker != DockerMode.KUBERNETES:
        return []
    # Unprivileged: its class does not depend on how privileged pools are isolated.
    isolation = isolation_class(pool, "perTeam")
    name = policy_name(pool)
    labels = {**MANAGED_BY, TEAM_LABEL: pool.team, POOL_LABEL: pool.name}
    policy = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            # An error evaluating the policy refuses the pod.
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "pods/ephemeralcontainers"],
                    }
                ]
            },
            # Only requests made as this pool's ServiceAccount; ARC's controller (which creates
            # the runner pods) and everyone else are not affected.
            "matchConditions": [
                {
                    "name": "pool-service-account",
                    "expression": f"request.userInfo.username == '{pool_user(pool)}'",
                }
            ],
            "validations": [
                {"expression": expression, "message": message, "reason": "Forbidden"}
                for expression, message in job_pod_validations(isolation)
            ],
        },
    }
    binding = {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        # No matchResources: every namespace (the ServiceAccount's Role only reaches its own).
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
    return [policy, binding]
