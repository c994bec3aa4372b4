"""Helm releases: pinned chart versions, no GitHub credential in chart values, pinned runner images."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._support import UNKNOWN, Finding, Rule, get, is_true, show
from .workloads import image_problem

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = frozenset({RELEASE, CHART_V4})
ARC_CHART = "actions-runner-controller"
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def _is_local_chart(chart: Any) -> bool:
    return isinstance(chart, str) and chart.startswith(("./", "../", "/"))


def check_chart_version(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    chart, version = get(props, "chart"), get(props, "version")
    if chart is UNKNOWN or version is UNKNOWN or _is_local_chart(chart):
        return
    if not isinstance(version, str) or not version.strip():
        yield Finding("version", f"unset for chart {show(chart)}: every install takes the newest")
    elif not _EXACT_VERSION.match(version.strip()):
        yield Finding(
            "version", f"{show(version)} for chart {show(chart)} is a range, not an exact version"
        )


CHART_VERSION_PINNED = Rule(
    name="kubernetes-helm-chart-version-pinned",
    description="Every Helm chart is pinned to an exact version (no empty version, no ranges such "
    "as ^1.2 or ~0.23 or >=1): a new chart release must be a reviewed change.",
    remediation="set version to the exact chart version pinned in arc_eks/versions.py",
    resource_types=HELM_TYPES,
    check=check_chart_version,
    severity=Severity.MEDIUM,
)


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            yield child, key, item
            yield from _walk(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def check_credentials_in_values(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    values = get(props, "values")
    if not isinstance(values, dict):
        return
    forbidden = set(config["credentialKeys"])
    for path, key, item in _walk(values, "values"):
        if item is UNKNOWN:
            continue
        if key in forbidden and item not in (None, "", {}, []):
            yield Finding(
                path,
                "a GitHub credential in chart values (stored in plain text in "
                "the Helm release Secret and the Pulumi state)",
            )
    for block in ("authSecret", "githubWebhookServer.secret", "actionsMetricsServer.secret"):
        node: Any = values
        for part in block.split("."):
            node = get(node, part)
        if is_true(get(node, "create")):
            yield Finding(
                f"values.{block}.create",
                "true makes the chart build the credential Secret from values",
            )


NO_CREDENTIALS_IN_VALUES = Rule(
    name="arc-helm-no-auth-token-in-values",
    description="The controller's GitHub credential (PAT, App private key, webhook secret) never "
    "travels in Helm values: the program creates the auth Secret itself from a Pulumi secret and "
    "the chart only references it (authSecret.create: false).",
    remediation="keep authSecret: {enabled: true, create: false, name: <secret>} in the ARC "
    "values and create that kubernetes Secret from arc-eks:githubToken / githubAppPrivateKey",
    resource_types=HELM_TYPES,
    check=check_credentials_in_values,
    config={
        "credentialKeys": {
            "type": "array",
            "items": {"type": "string"},
            "default": [
                "github_token",
                "github_app_private_key",
                "github_webhook_secret_token",
                "github_basicauth_password",
            ],
            "description": "Value keys that hold credentials and must never be set.",
        }
    },
    severity=Severity.CRITICAL,
)


def check_arc_default_images(
    typ: str, props: dict[str, Any], config: Mapping[str, Any]
) -> Iterator[Finding]:
    chart = get(props, "chart")
    if not isinstance(chart, str) or not chart.rstrip("/").endswith(ARC_CHART):
        return
    image = get(props, "values", "image")
    if image is UNKNOWN:
        return
    for key, default in (
        ("actionsRunnerRepositoryAndTag", "summerwind/actions-runner:latest"),
        ("dindSidecarRepositoryAndTag", "docker:dind"),
    ):
        value = get(image, key)
        if value is UNKNOWN:
            continue
        reference = default if value is None else value
        problem = image_problem(reference)
        # The chart's defaults move even where the pack's pin check passes them (docker:dind):
        # written out, a default is as unpinned as left unset.
        if problem or (isinstance(reference, str) and reference.strip() == default):
            yield Finding(
                f"values.image.{key}",
                f"{show(value) if value is not None else f'unset (chart default {default})'}: "
                f"{problem or 'the chart default, pin it'}; runners that do not name an image, "
                "and the dind sidecar of dockerEnabled runners, use it",
            )


ARC_DEFAULT_IMAGES_PINNED = Rule(
    name="arc-helm-runner-default-images-pinned",
    description="The ARC chart's default runner and dind sidecar images are pinned (the chart "
    "defaults are summerwind/actions-runner:latest and docker:dind).",
    remediation="set values.image.actionsRunnerRepositoryAndTag and dindSidecarRepositoryAndTag "
    "to the RUNNER_IMAGE and DIND_IMAGE pins of arc_eks/versions.py",
    resource_types=frozenset({RELEASE, CHART_V4}),
    check=check_arc_default_images,
    severity=Severity.MEDIUM,
)

RULES = (CHART_VERSION_PINNED, NO_CREDENTIALS_IN_VALUES, ARC_DEFAULT_IMAGES_PINNED)
