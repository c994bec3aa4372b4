"""In-cluster checks of `make verify`, through the Kubernetes API with the official client and the
stack's kubeconfig (it authenticates with `aws eks get-token`, so the AWS CLI and the operator's
credentials are needed, as for kubectl).

- controllers ready: every Deployment of each Helm release the program installs;
- CRDs: each release is at the pinned chart version, and every CRD that chart ships (its `crds/`
  files and the CRDs among its templates, as stored in the Helm release) is installed with the
  same versions and schema fields; Helm never upgrades `crds/`, so after a chart bump this is
  where a stale CRD shows;
- every pool's RunnerDeployment exists, with its runners registered (ARC's Runner status), or
  for a scale-set pool its runner-set release and AutoscalingRunnerSet;
- no runner pod has been Pending longer than the threshold.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from arc_eks import versions
from arc_eks.builders.helm_values import (
    ARC_NAMESPACE,
    CERT_MANAGER_NAMESPACE,
    CLUSTER_AUTOSCALER_NAMESPACE,
)
from arc_eks.builders.runner import namespace_name
from arc_eks.builders.scale_set import (
    SCALE_SET_CONTROLLER_NAMESPACE,
    SCALE_SET_CONTROLLER_RELEASE,
    scale_set_name,
)
from arc_eks.config.teams import ResolvedPool
from arc_eks.ops.checks import Report
from arc_eks.ops.stackfile import StackExpectations

ARC_GROUP = "actions.summerwind.dev"
ARC_VERSION = "v1alpha1"
# Runner scale sets (gha-runner-scale-set-controller CRDs).
SCALE_SET_GROUP = "actions.github.com"
SCALE_SET_VERSION = "v1alpha1"
# ARC labels every Runner and runner pod of a RunnerDeployment with its name.
# Ref: actions/actions-runner-controller controllers/actions.summerwind.net
# (LabelKeyRunnerDeploymentName = "runner-deployment-name").
RUNNER_DEPLOYMENT_LABEL = "runner-deployment-name"
# (connect, read) seconds for every API call: a dead endpoint fails the check, never hangs.
REQUEST_TIMEOUT = (10, 30)


@dataclass(frozen=True)
class HelmRelease:
    """A release the program installs, and the chart version pinned for it."""

    name: str
    namespace: str
    chart: str
    version: str


def helm_releases(*, scale_sets: bool = False) -> list[HelmRelease]:
    """The program's controller Helm releases (components/*.py name them; versions.py pins the
    charts); the scale-set controller where the stack has scale-set pools."""
    scale_set_controller = [
        HelmRelease(
            SCALE_SET_CONTROLLER_RELEASE,
            SCALE_SET_CONTROLLER_NAMESPACE,
            versions.SCALE_SET_CONTROLLER_CHART,
            versions.SCALE_SET_CHART_VERSION,
        )
    ]
    return [
        HelmRelease(
            "cert-manager",
            CERT_MANAGER_NAMESPACE,
            versions.CERT_MANAGER_CHART,
            versions.CERT_MANAGER_CHART_VERSION,
        ),
        HelmRelease(
            "cluster-autoscaler",
            CLUSTER_AUTOSCALER_NAMESPACE,
            versions.CLUSTER_AUTOSCALER_CHART,
            versions.CLUSTER_AUTOSCALER_CHART_VERSION,
        ),
        HelmRelease(
            "actions-runner-controller",
            ARC_NAMESPACE,
            versions.ARC_CHART,
            versions.ARC_CHART_VERSION,
        ),
        *(scale_set_controller if scale_sets else []),
    ]


def decode_helm_release(encoded: str) -> dict[str, Any]:
    """A Helm 3 release from its Secret's `release` value: base64 (Kubernetes) of base64 (Helm)
    of gzipped JSON."""
    raw = base64.b64decode(base64.b64decode(encoded))
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    document: dict[str, Any] = json.loads(raw)
    return document


def chart_crds(release: dict[str, Any]) -> list[dict[str, Any]]:
    """The CRDs a release's chart ships: `crds/` files and CRDs rendered from its templates."""
    texts: list[str] = []
    for item in release.get("chart", {}).get("files") or []:
        if str(item.get("name", "")).startswith("crds/"):
            texts.append(base64.b64decode(item.get("data", "")).decode())
    texts.append(str(release.get("manifest", "")))
    crds = []
    for text in texts:
        for document in yaml.safe_load_all(text):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                crds.append(document)
    return crds


def _paths(schema: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if not isinstance(schema, dict):
        return out
    for key, sub in (schema.get("properties") or {}).items():
        out.add(f"{prefix}.{key}")
        out |= _paths(sub, f"{prefix}.{key}")
    if isinstance(schema.get("items"), dict):
        out |= _paths(schema["items"], f"{prefix}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        out |= _paths(schema["additionalProperties"], f"{prefix}{{}}")
    return out


def crd_fingerprint(crd: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Per served version, the set of schema field paths: what a chart bump changes."""
    return {
        str(v.get("name")): frozenset(_paths((v.get("schema") or {}).get("openAPIV3Schema") or {}))
        for v in crd.get("spec", {}).get("versions", [])
    }


class InCluster:
    """The checks through the Kubernetes API."""

    def __init__(
        self,
        expected: StackExpectations,
        outputs: dict[str, Any],
        report: Report,
        *,
        api_client: Any | None = None,
        pending_minutes: int = 10,
        now: datetime | None = None,
    ) -> None:
        self.expected = expected
        self.outputs = outputs
        self.report = report
        self.api_client = api_client
        self.pending = timedelta(minutes=pending_minutes)
        self.now = now or datetime.now(UTC)

    def run(self) -> None:
        api = self.api_client or self._client_from_outputs()
        if api is None:
            return
        self.core = k8s.CoreV1Api(api)
        self.apps = k8s.AppsV1Api(api)
        self.extensions = k8s.ApiextensionsV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)
        self.serialize = api.sanitize_for_serialization
        scale_sets = any(p.spec.is_scale_set for p in self.expected.pools)
        for release in helm_releases(scale_sets=scale_sets):
            self.controllers(release)
            self.release_and_crds(release)
        self.pools()
        self.pending_pods()

    def _client_from_outputs(self) -> Any | None:
        kubeconfig = self.outputs.get("kubeconfig")
        if isinstance(kubeconfig, str):
            try:
                kubeconfig = json.loads(kubeconfig)
            except json.JSONDecodeError:
                kubeconfig = None
        if not isinstance(kubeconfig, dict):
            self.report.cannot_check(
                "kubernetes-api",
                "no kubeconfig in the outputs: run `pulumi stack output --json --show-secrets` "
                "(the kubeconfig output is a secret)",
            )
            return None
        try:
            return k8s_config.new_client_from_config_dict(kubeconfig)
        except ConfigException as error:
            self.report.fail("kubernetes-api", f"the stack's kubeconfig is unusable: {error}")
            return None

    @contextmanager
    def _checking(self, name: str, permission: str) -> Iterator[None]:
        """A 403 is `cannot-check` naming the RBAC permission; a 401 (no valid credentials, e.g.
        `aws eks get-token` failed) and other API errors fail."""
        try:
            yield
        except ApiException as error:
            if error.status == 403:
                self.report.cannot_check(name, "HTTP 403 from the API", permission)
            elif error.status == 401:
                self.report.fail(
                    name,
                    "HTTP 401: not authenticated (the kubeconfig runs `aws eks get-token`: "
                    "check the AWS CLI and credentials, and that the role has an access entry)",
                )
            else:
                self.report.fail(name, f"HTTP {error.status}: {error.reason}")
        except (HTTPError, OSError) as error:
            self.report.fail(name, f"Kubernetes API unreachable: {error}")
        except ConfigException as error:
            # e.g. the kubeconfig's `aws eks get-token` failed (no AWS CLI, no credentials)
            self.report.fail(name, f"no Kubernetes API credentials: {error}")

    def controllers(self, release: HelmRelease) -> None:
        name = f"controllers/{release.name}"
        with self._checking(name, f"list deployments in {release.namespace}"):
            deployments = self.apps.list_namespaced_deployment(
                release.namespace,
                label_selector=f"app.kubernetes.io/instance={release.name}",
                _request_timeout=REQUEST_TIMEOUT,
            ).items
            if not deployments:
                self.report.fail(
                    name, f"no Deployment of release {release.name} in {release.namespace}"
                )
                return
            not_ready = []
            for d in deployments:
                wanted = d.spec.replicas if d.spec.replicas is not None else 1
                ready = (d.status.ready_replicas or 0) if d.status else 0
                if ready < wanted:
                    not_ready.append(f"{d.metadata.name} {ready}/{wanted} ready")
            if not_ready:
                self.report.fail(name, "; ".join(not_ready))
            else:
                names = ", ".join(sorted(d.metadata.name for d in deployments))
                self.report.ok(name, f"ready: {names}")

    def release_and_crds(self, release: HelmRelease) -> None:
        name = f"helm-release/{release.name}"
        with self._checking(name, f"list secrets in {release.namespace}"):
            secrets = self.core.list_namespaced_secret(
                release.namespace,
                label_selector=f"owner=helm,name={release.name},status=deployed",
                _request_timeout=REQUEST_TIMEOUT,
            ).items
            if not secrets:
                self.report.fail(
                    name, f"no deployed Helm release {release.name} in {release.namespace}"
                )
                return
            latest = max(secrets, key=lambda s: int((s.metadata.labels or {}).get("version", "0")))
            document = decode_helm_release(latest.data["release"])
            metadata = document.get("chart", {}).get("metadata", {})
            deployed = f"{metadata.get('name')} {metadata.get('version')}"
            if (metadata.get("name"), metadata.get("version")) != (release.chart, release.version):
                self.report.fail(
                    name, f"chart {deployed}; pinned {release.chart} {release.version}"
                )
                return
            self.report.ok(name, f"chart {deployed}, as pinned")
        if not any(r.name == name and r.status.value == "ok" for r in self.report.results):
            return
        for crd in chart_crds(document):
            self._crd(release, crd)

    def _crd(self, release: HelmRelease, shipped: dict[str, Any]) -> None:
        crd_name = str(shipped.get("metadata", {}).get("name"))
        name = f"crd/{crd_name}"
        with self._checking(name, "get customresourcedefinitions"):
            try:
                installed = self.serialize(
                    self.extensions.read_custom_resource_definition(
                        crd_name, _request_timeout=REQUEST_TIMEOUT
                    )
                )
            except ApiException as error:
                if error.status != 404:
                    raise
                self.report.fail(name, f"not installed (chart {release.chart} {release.version})")
                return
            conditions = {
                c.get("type"): c.get("status")
                for c in (installed.get("status") or {}).get("conditions") or []
            }
            want, have = crd_fingerprint(shipped), crd_fingerprint(installed)
            if conditions.get("Established") != "True":
                self.report.fail(name, "not Established")
            elif want != have:
                missing = sorted(set(want) - set(have))
                fields = sorted(path for v in set(want) & set(have) for path in want[v] - have[v])[
                    :5
                ]
                self.report.fail(
                    name,
                    f"differs from chart {release.chart} {release.version}: "
                    + (f"versions {missing} missing; " if missing else "")
                    + (f"fields missing: {', '.join(fields)}; " if fields else "")
                    + "apply the chart's CRDs (kubectl apply --server-side -f crds/)",
                )
            else:
                self.report.ok(
                    name,
                    f"as in chart {release.chart} {release.version} ({', '.join(sorted(want))})",
                )

    def _pool_namespace(self, key: str, team: str) -> str:
        entry = (self.outputs.get("runnerPools") or {}).get(key) or {}
        return str(entry.get("namespace") or namespace_name(team))

    def scale_set(self, pool: ResolvedPool, name: str, namespace: str) -> None:
        """A scale-set pool: its runner-set release at the pinned chart, and its
        AutoscalingRunnerSet with the runners the controller reports."""
        release = HelmRelease(
            scale_set_name(pool),
            namespace,
            versions.SCALE_SET_CHART,
            versions.SCALE_SET_CHART_VERSION,
        )
        self.release_and_crds(release)
        with self._checking(name, f"get autoscalingrunnersets in {namespace}"):
            try:
                found = self.custom.get_namespaced_custom_object(
                    SCALE_SET_GROUP,
                    SCALE_SET_VERSION,
                    namespace,
                    "autoscalingrunnersets",
                    scale_set_name(pool),
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except ApiException as error:
                if error.status != 404:
                    raise
                self.report.fail(
                    name, f"no AutoscalingRunnerSet {namespace}/{scale_set_name(pool)}"
                )
                return
            status = found.get("status") or {}
            running = int(status.get("runningEphemeralRunners") or 0)
            pending = int(status.get("pendingEphemeralRunners") or 0)
            failed = int(status.get("failedEphemeralRunners") or 0)
            detail = (
                f"{int(status.get('currentRunners') or 0)} runner(s): {running} running, "
                f"{pending} pending, {failed} failed (minRunners "
                f"{pool.spec.autoscaling.min}, maxRunners {pool.spec.autoscaling.max})"
            )
            if failed:
                self.report.warn(name, detail + " (failed runners: see the EphemeralRunners)")
            else:
                self.report.ok(name, detail)

    def pools(self) -> None:
        for pool in self.expected.pools:
            name = f"runners/{pool.key}"
            namespace = self._pool_namespace(pool.key, pool.team)
            if pool.spec.is_scale_set:
                self.scale_set(pool, name, namespace)
                continue
            with self._checking(name, f"get runnerdeployments, list runners in {namespace}"):
                try:
                    deployment = self.custom.get_namespaced_custom_object(
                        ARC_GROUP,
                        ARC_VERSION,
                        namespace,
                        "runnerdeployments",
                        pool.name,
                        _request_timeout=REQUEST_TIMEOUT,
                    )
                except ApiException as error:
                    if error.status != 404:
                        raise
                    self.report.fail(name, f"no RunnerDeployment {namespace}/{pool.name}")
                    continue
                runners = self.custom.list_namespaced_custom_object(
                    ARC_GROUP,
                    ARC_VERSION,
                    namespace,
                    "runners",
                    label_selector=f"{RUNNER_DEPLOYMENT_LABEL}={pool.name}",
                    _request_timeout=REQUEST_TIMEOUT,
                ).get("items", [])
                desired = int((deployment.get("status") or {}).get("desiredReplicas") or 0)
                registered = sum(
                    1
                    for r in runners
                    if (r.get("status") or {}).get("phase") == "Running"
                    and (r.get("status") or {}).get("ready") is True
                )
                detail = f"{registered} of {desired} desired runner(s) running and ready"
                if registered < desired:
                    self.report.warn(name, detail + " (still starting, or failing to register)")
                else:
                    self.report.ok(name, detail)

    def pending_pods(self) -> None:
        namespaces = sorted({self._pool_namespace(p.key, p.team) for p in self.expected.pools})
        for namespace in namespaces:
            name = f"pending-pods/{namespace}"
            with self._checking(name, f"list pods in {namespace}"):
                pods = self.core.list_namespaced_pod(
                    namespace,
                    field_selector="status.phase=Pending",
                    _request_timeout=REQUEST_TIMEOUT,
                ).items
                stuck = []
                for pod in pods:
                    created = pod.metadata.creation_timestamp
                    if created is None or self.now - created <= self.pending:
                        continue
                    minutes = int((self.now - created).total_seconds() // 60)
                    reason = next(
                        (
                            c.message or c.reason
                            for c in (pod.status.conditions or [])
                            if c.type == "PodScheduled" and c.status != "True"
                        ),
                        None,
                    )
                    stuck.append(
                        f"{pod.metadata.name} {minutes} min" + (f" ({reason})" if reason else "")
                    )
                if stuck:
                    self.report.fail(
                        name,
                        f"Pending longer than {int(self.pending.total_seconds() // 60)} min: "
                        + "; ".join(stuck),
                    )
                else:
                    self.report.ok(
                        name,
                        f"no pod Pending longer than {int(self.pending.total_seconds() // 60)} min",
                    )
