"""Every pinned version the program deploys, in one place.

Bump a pin here and nowhere else; each says where it comes from. The chart pins match the values
files in ../shared/reference, which the tests check every Helm value against.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ref: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
# 1.35 is in EKS standard support through 2027. Bumping it is the whole upgrade (docs/operations.md,
# "Upgrades"): the control plane, the node groups, cluster-autoscaler and every EKS add-on follow
# it through the row of MINOR_PINS below, which must exist for it.
KUBERNETES_VERSION = "1.35"


@dataclass(frozen=True)
class MinorPins:
    """Everything whose version must match the cluster's Kubernetes minor."""

    cluster_autoscaler_chart_version: str
    cluster_autoscaler_image_tag: str
    """cluster-autoscaler's minor must equal the cluster's."""
    vpc_cni: str
    """EKS add-on `vpc-cni` (managed through pulumi-eks's vpcCniOptions)."""
    kube_proxy: str
    """EKS add-on `kube-proxy` (managed through pulumi-eks's kubeProxyAddonOptions)."""
    coredns: str
    """EKS add-on `coredns` (created after the node groups: its pods need nodes)."""
    ebs_csi_driver: str | None
    """EKS add-on `aws-ebs-csi-driver`; None: the version EKS marks default for this minor,
    resolved at deploy time (no published per-minor version table to pin from)."""


MINOR_PINS: dict[str, MinorPins] = {
    "1.35": MinorPins(
        # Ref: ../shared/reference/cluster-autoscaler/Chart.yaml (chart 9.59.0, appVersion 1.35.0),
        # upstream kubernetes/autoscaler at 55c37cd5. Repository https://kubernetes.github.io/autoscaler
        cluster_autoscaler_chart_version="9.59.0",
        cluster_autoscaler_image_tag="v1.35.0",
        # Ref: Amazon EKS user guide, latest EKS add-on versions per Kubernetes version, row 1.35:
        # managing-vpc-cni.md, managing-kube-proxy.md, managing-coredns.md (docs.amazonaws.cn
        # /eks/latest/userguide/, seen 2026-11-25).
        vpc_cni="v1.21.1-eksbuild.7",
        kube_proxy="v1.35.3-eksbuild.2",
        coredns="v1.13.2-eksbuild.4",
        ebs_csi_driver=None,
    ),
}


def pins(kubernetes_version: str | None = None) -> MinorPins:
    """The pins for a Kubernetes minor (default: the pinned one)."""
    version = kubernetes_version or KUBERNETES_VERSION
    if version not in MINOR_PINS:
        raise KeyError(
            f"no MINOR_PINS row for Kubernetes {version} in arc_eks/versions.py: add the "
            "cluster-autoscaler and EKS add-on versions for that minor"
        )
    return MINOR_PINS[version]


CLUSTER_AUTOSCALER_CHART = "cluster-autoscaler"
CLUSTER_AUTOSCALER_CHART_VERSION = pins().cluster_autoscaler_chart_version
CLUSTER_AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler"
CLUSTER_AUTOSCALER_IMAGE_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
CLUSTER_AUTOSCALER_IMAGE_TAG = pins().cluster_autoscaler_image_tag

# Ref: ../shared/reference/cert-manager (values at cert-manager/cert-manager 2d0d7f7f; latest
# release tag seen there: v1.21.1). Repository https://charts.jetstack.io
CERT_MANAGER_CHART = "cert-manager"
CERT_MANAGER_CHART_VERSION = "v1.21.1"
CERT_MANAGER_REPO = "https://charts.jetstack.io"
# The chart's image registry and namespace (values.yaml imageRegistry, imageNamespace): its images
# are <registry>/<namespace>/cert-manager-<component>:<appVersion = chart version>.
CERT_MANAGER_IMAGE_REGISTRY = "quay.io"
CERT_MANAGER_IMAGE_NAMESPACE = "jetstack"

# Ref: ../shared/reference/actions-runner-controller/legacy/Chart.yaml (chart 0.23.7, app 0.27.6),
# upstream actions/actions-runner-controller at 2ee6b3b8.
ARC_CHART = "actions-runner-controller"
ARC_CHART_VERSION = "0.23.7"
ARC_REPO = "https://actions-runner-controller.github.io/actions-runner-controller"
# The chart takes no controller image tag: it runs its appVersion (v0.27.6), pinned by the chart pin.
ARC_CONTROLLER_IMAGE_REPOSITORY = "summerwind/actions-runner-controller"
ARC_APP_VERSION = "0.27.6"
# The metrics proxy sidecar of the controller and webhook server (chart 0.23.7 values.yaml
# metrics.proxy.image, rendered whenever metrics.proxy.enabled, its default).
KUBE_RBAC_PROXY_IMAGE_REPOSITORY = "quay.io/brancz/kube-rbac-proxy"
KUBE_RBAC_PROXY_IMAGE_TAG = "v0.13.1"
KUBE_RBAC_PROXY_IMAGE = f"{KUBE_RBAC_PROXY_IMAGE_REPOSITORY}:{KUBE_RBAC_PROXY_IMAGE_TAG}"

# Ref: actions-runner-controller runner/VERSION at 2ee6b3b8: RUNNER_VERSION=2.335.1, images built
# with Docker 28.0.4. GitHub refuses runners that fall too far behind: keep this current.
RUNNER_VERSION = "2.335.1"
RUNNER_IMAGE_REPOSITORY = "summerwind/actions-runner"
RUNNER_IMAGE = f"{RUNNER_IMAGE_REPOSITORY}:v{RUNNER_VERSION}-ubuntu-22.04"
# The runner user and docker group of that image (ubuntu-22.04 based: runner uid 1001, docker gid
# 121; ubuntu-20.04-based images use uid 1000). Pools with their own runnerImage state theirs.
RUNNER_IMAGE_UID = 1001
RUNNER_IMAGE_DOCKER_GID = 121
# The runner container hooks that image bundles (runner/VERSION: RUNNER_CONTAINER_HOOKS_VERSION).
# Not deployed on its own: the hooks Role (builders.runner.CONTAINER_HOOKS_RULES) is exactly the
# permission list of this version; re-check it when the runner image brings a new one.
RUNNER_CONTAINER_HOOKS_VERSION = "0.8.1"
# The docker CLI inside the runner image is 28.0.4; the daemon in the sidecar matches it
# (a daemon newer than the client is the usual source of API-version errors).
DIND_IMAGE = "docker:28.0.4-dind"

# Ref: osscontainertools/kaniko (the maintained kaniko fork: GoogleContainerTools/kaniko was archived
# in June 2025; this fork carries the fixes and publishes to ghcr.io/osscontainertools/kaniko since
# PR #329). v1.28.0 is its newest release seen (PR #846). Used by images/kaniko-runner/Dockerfile.
KANIKO_EXECUTOR_IMAGE = "ghcr.io/osscontainertools/kaniko:v1.28.0"

# Pod Security admission policy version the runner namespaces pin (the cluster's minor), so a
# Kubernetes upgrade does not silently tighten or loosen the checks.
# Ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/
POD_SECURITY_VERSION = f"v{KUBERNETES_VERSION}"

# Ref: ../shared/reference/charts/gha-runner-scale-set{,-controller}-0.14.2/SOURCE (upstream
# actions/actions-runner-controller tag gha-runner-scale-set-0.14.2, 9bb16ae4). Runner scale sets:
# the controller chart and one runner-set release per scale-set pool. Published as OCI artifacts
# under the registry path of ARC's docs (`helm install ... oci://ghcr.io/actions/
# actions-runner-controller-charts/<chart>`). ONE version for both charts: the controller deletes
# every AutoscalingRunnerSet whose chart major.minor differs from its own
# (apis/actions.github.com/v1alpha1/version.go IsVersionAllowed), and Helm never upgrades the
# actions.github.com CRDs (docs/runner-pools.md, "Upgrading the scale-set charts").
SCALE_SET_CHART_VERSION = "0.14.2"
SCALE_SET_CONTROLLER_CHART = "gha-runner-scale-set-controller"
SCALE_SET_CHART = "gha-runner-scale-set"
SCALE_SET_REPO = "oci://ghcr.io/actions/actions-runner-controller-charts"
# The controller chart runs image.repository:image.tag (default: its appVersion, 0.14.2); the tag
# is set explicitly so the image moves only with this pin.
SCALE_SET_CONTROLLER_IMAGE_REPOSITORY = "ghcr.io/actions/gha-runner-scale-set-controller"
SCALE_SET_CONTROLLER_IMAGE_TAG = SCALE_SET_CHART_VERSION

# Runner image of scale-set pools. Ref: actions/runner tag v2.335.1, images/Dockerfile and
# .github/workflows/release.yml (published as ghcr.io/actions/actions-runner:<runner version>):
# user runner uid 1001 in group docker gid 123, runner in /home/runner (run.sh), Docker CLI 29.5.3,
# runner-container-hooks in /home/runner/k8s (unused: no scale set runs container mode
# kubernetes, see config/pool_spec.py). Scale sets turn the runner's self-update off,
# and GitHub stops queuing jobs to a runner 30 days behind a runner release: keep this current.
SCALE_SET_RUNNER_VERSION = RUNNER_VERSION
SCALE_SET_RUNNER_IMAGE = f"ghcr.io/actions/actions-runner:{SCALE_SET_RUNNER_VERSION}"
SCALE_SET_RUNNER_IMAGE_UID = 1001
SCALE_SET_RUNNER_IMAGE_DOCKER_GID = 123
# The dind daemon of scale-set pools matches that image's Docker CLI (29.5.3).
SCALE_SET_DIND_IMAGE = "docker:29.5.3-dind"


@dataclass(frozen=True)
class ChartPin:
    """A pinned chart: its name, version and repository (https:// index or oci:// registry)."""

    name: str
    version: str
    repository: str


def pinned_charts(kubernetes_version: str | None = None) -> tuple[ChartPin, ...]:
    """Every chart the program installs (the scale-set charts where a stack has scale-set pools)."""
    return (
        ChartPin(CERT_MANAGER_CHART, CERT_MANAGER_CHART_VERSION, CERT_MANAGER_REPO),
        ChartPin(
            CLUSTER_AUTOSCALER_CHART,
            pins(kubernetes_version).cluster_autoscaler_chart_version,
            CLUSTER_AUTOSCALER_REPO,
        ),
        ChartPin(ARC_CHART, ARC_CHART_VERSION, ARC_REPO),
        ChartPin(SCALE_SET_CONTROLLER_CHART, SCALE_SET_CHART_VERSION, SCALE_SET_REPO),
        ChartPin(SCALE_SET_CHART, SCALE_SET_CHART_VERSION, SCALE_SET_REPO),
    )


@dataclass(frozen=True)
class CrdBundlePin:
    """CRD files of a release, each pinned by its sha256 (the review's chart cache holds them)."""

    name: str
    version: str
    base_url: str
    files: dict[str, str]
    """File name -> sha256 of its content."""


# Ref: prometheus-operator/prometheus-operator tag v0.93.0 (commit f8fafd47), folder
# example/prometheus-operator-crd/: the CRDs of the Prometheus Operator release the monitoring
# objects (monitoring.mode: prometheusOperator) are validated against. Digests are of those files.
# Not deployed: the cluster's own Prometheus Operator installation brings its CRDs.
PROMETHEUS_OPERATOR_CRDS = CrdBundlePin(
    name="prometheus-operator-crds",
    version="v0.93.0",
    base_url="https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.93.0/"
    "example/prometheus-operator-crd/",
    files={
        "monitoring.coreos.com_servicemonitors.yaml": (
            "a99047972c9dd7679ce2050b9968e8a08773492e671b3e17abd476d42aa78a32"
        ),
        "monitoring.coreos.com_podmonitors.yaml": (
            "45a93443daa687d3654f7e9631909ff7edcdf3ec09c5e60251b74aa2722aee5d"
        ),
        "monitoring.coreos.com_prometheusrules.yaml": (
            "78be98554b9c8506ab2b4f4feb91c5f3a56e536a0a510f3a8e876a459970d56d"
        ),
    },
)
