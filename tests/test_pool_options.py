"""Pool options for what teams' existing setups do: a pinned dind image with the runner image's
user and docker group, HRA scale steps as adjustments, webhook-only scaling from zero, the
bucket-owner-full-control ACL for another account's bucket, and the team's own metadata."""

from __future__ import annotations

import json
from typing import Any

import pytest

from arc_eks import versions
from arc_eks.builders.runner import (
    horizontal_runner_autoscaler_manifest,
    runner_deployment_manifest,
)
from arc_eks.builders.s3_grants import cross_account_bucket_statements, s3_statements
from arc_eks.config.pool_spec import RESERVED_KEY_DOMAINS
from arc_eks.config.teams import ResolvedPool, ResolvedS3Grant
from tests.test_pool_spec import accepted, pool
from tests.test_pool_spec import problems as _problems
from tests.test_runner_manifests import _validate_crd

NODE = {"arc-eks.io/node-class": "runners"}
CUSTOM_RUNNER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/runner:2.335.1-focal"
CUSTOM_DIND = "docker:27.5.1-dind"


def resolved(raw: dict[str, Any], **context: Any) -> ResolvedPool:
    return ResolvedPool("payments", "dev", "teams/payments.yaml", accepted(raw, **context), ())


def _pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


# --- dind image, runner uid, docker gid ---------------------------------------------------


def test_a_pool_pins_its_own_dind_image_and_the_runner_images_user_and_group() -> None:
    raw = pool(docker="dind", runnerImage=CUSTOM_RUNNER, dindImage=CUSTOM_DIND)
    raw.update(runnerUid=1000, dockerGid=998)
    spec = _pod_spec(runner_deployment_manifest(resolved(raw), node_selector=NODE))
    (sidecar,) = spec["sidecarContainers"]
    assert sidecar["image"] == CUSTOM_DIND
    assert "--group=998" in sidecar["args"]
    assert spec["securityContext"]["fsGroup"] == 1000
    assert spec["image"] == CUSTOM_RUNNER


def test_defaults_are_the_platform_images_user_and_group() -> None:
    spec = _pod_spec(runner_deployment_manifest(resolved(pool(docker="dind")), node_selector=NODE))
    (sidecar,) = spec["sidecarContainers"]
    assert sidecar["image"] == versions.DIND_IMAGE
    assert f"--group={versions.RUNNER_IMAGE_DOCKER_GID}" in sidecar["args"]
    assert spec["securityContext"]["fsGroup"] == versions.RUNNER_IMAGE_UID == 1001
    # Stating the platform image's own values is accepted (and changes nothing).
    accepted(pool(docker="dind", runnerUid=1001, dockerGid=121))


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (pool(docker="dind", dindImage="docker:dind"), "a version tag"),
        (pool(docker="dind", dindImage="docker"), "pinned tag"),
        (pool(docker="dind", dindImage="docker:latest"), "not latest"),
        (pool(docker="none", dindImage=CUSTOM_DIND), "dindImage only with docker: dind"),
        (pool(docker="kaniko", runnerImage=CUSTOM_RUNNER, dockerGid=121), "dockerGid only with"),
        (pool(docker="dind", runnerUid=1000), "runnerUid 1001 or unset"),
        (pool(docker="dind", dockerGid=999), "dockerGid 121 or unset"),
        (pool(docker="none", runnerImage=CUSTOM_RUNNER, runnerUid=0), "greater than or equal"),
        (pool(docker="none", runnerImage=CUSTOM_RUNNER, runnerUid=65536), "less than or equal"),
    ],
)
def test_image_pair_rules(raw: dict[str, Any], fragment: str) -> None:
    found = _problems(raw)
    assert any(fragment in message for _, message in found), found


# --- autoscaling: adjustments and webhook-only ----------------------------------------------


def test_scale_adjustments_replace_the_factors() -> None:
    metric = {"type": "PercentageRunnersBusy", "scaleUpAdjustment": 3, "scaleDownAdjustment": 1}
    hra = horizontal_runner_autoscaler_manifest(
        resolved(pool(autoscaling={"metric": metric})), webhook_server=False
    )
    (rendered,) = hra["spec"]["metrics"]
    assert rendered == {
        "type": "PercentageRunnersBusy",
        "scaleUpThreshold": "0.75",
        "scaleDownThreshold": "0.25",
        "scaleUpAdjustment": 3,
        "scaleDownAdjustment": 1,
    }
    _validate_crd(hra)


def test_one_adjustment_keeps_the_other_directions_factor() -> None:
    metric = {"type": "PercentageRunnersBusy", "scaleUpAdjustment": 2}
    hra = horizontal_runner_autoscaler_manifest(
        resolved(pool(autoscaling={"metric": metric})), webhook_server=False
    )
    (rendered,) = hra["spec"]["metrics"]
    assert rendered["scaleUpAdjustment"] == 2 and "scaleUpFactor" not in rendered
    assert rendered["scaleDownFactor"] == "0.5" and "scaleDownAdjustment" not in rendered


@pytest.mark.parametrize(
    ("metric", "fragment"),
    [
        ({"scaleUpFactor": 2, "scaleUpAdjustment": 2}, "either scaleUpFactor or scaleUpAdjustment"),
        (
            {"scaleDownFactor": 0.5, "scaleDownAdjustment": 1},
            "either scaleDownFactor or scaleDownAdjustment",
        ),
        ({"scaleUpAdjustment": 0}, "greater than or equal to 1"),
        ({"scaleDownAdjustment": 101}, "less than or equal to 100"),
    ],
)
def test_adjustment_rules(metric: dict[str, Any], fragment: str) -> None:
    raw = pool(autoscaling={"metric": {"type": "PercentageRunnersBusy", **metric}})
    found = [p for p in _problems(raw) if fragment in p[1]]
    assert found, _problems(raw)


def test_webhook_only_scales_from_zero_where_the_stack_runs_the_webhook_server() -> None:
    raw = pool(autoscaling={"min": 0, "max": 4, "metric": {"type": "WebhookOnly"}})
    hra = horizontal_runner_autoscaler_manifest(
        resolved(raw, webhook_server=True), webhook_server=True
    )
    # No metric: ARC keeps minReplicas plus what webhook scale-up reserved.
    assert "metrics" not in hra["spec"]
    assert hra["spec"]["minReplicas"] == 0
    assert hra["spec"]["scaleUpTriggers"] == [
        {"githubEvent": {"workflowJob": {}}, "duration": "30m"}
    ]
    _validate_crd(hra)


def test_webhook_only_is_refused_where_nothing_would_ever_add_a_runner() -> None:
    raw = pool(autoscaling={"min": 0, "metric": {"type": "WebhookOnly"}})
    assert any(
        "controller.webhookServer: true" in m for _, m in _problems(raw, webhook_server=False)
    )
    # Another environment's stack decides for itself (no webhook_server in the context).
    accepted(raw)


# --- S3: bucket-owner-full-control ----------------------------------------------------------


def _grant(access: str = "write", acl: str | None = "bucket-owner-full-control") -> ResolvedS3Grant:
    return ResolvedS3Grant("partner-exchange", "payments/", access, None, "444455556666", acl)


def test_the_acl_option_adds_put_object_acl_with_exactly_that_canned_acl() -> None:
    acl = {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
    role = s3_statements([_grant()])
    assert {
        "Sid": "ObjectAcl0",
        "Effect": "Allow",
        "Action": "s3:PutObjectAcl",
        "Resource": "arn:aws:s3:::partner-exchange/payments/*",
        "Condition": acl,
    } in role
    owner = cross_account_bucket_statements(
        _grant(), role_arn="arn:aws:iam::111122223333:role/r", sid_prefix="PaymentsBuild"
    )
    acl_statements = [s for s in owner if "s3:PutObjectAcl" in json.dumps(s["Action"])]
    assert acl_statements == [
        {
            "Sid": "PaymentsBuildObjectAcl",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/r"},
            "Action": "s3:PutObjectAcl",
            "Resource": "arn:aws:s3:::partner-exchange/payments/*",
            "Condition": acl,
        }
    ]


def test_without_the_option_no_acl_action_anywhere() -> None:
    grant = _grant(acl=None)
    documents = [
        s3_statements([grant]),
        cross_account_bucket_statements(grant, role_arn="arn:aws:iam::1:role/r", sid_prefix="P"),
    ]
    assert "Acl" not in json.dumps(documents)


def test_the_acl_option_needs_uploads() -> None:
    grant = {"bucket": "acme-logs", "access": "read", "objectAcl": "bucket-owner-full-control"}
    assert any("objectAcl only with access write" in m for _, m in _problems(pool(s3=[grant])))
    grant = {"bucket": "acme-logs", "access": "write", "objectAcl": "public-read"}
    assert _problems(pool(s3=[grant]))


# --- metadata -------------------------------------------------------------------------------


def test_team_metadata_reaches_the_runner_objects_beside_the_platforms_labels() -> None:
    metadata = {
        "labels": {"maintainer": "payments-oncall", "acme.com/cost-centre": "cc-1234"},
        "annotations": {"acme.com/runbook": "https://wiki.example.com/payments/runners"},
    }
    pool_ = resolved(pool(metadata=metadata))
    deployment = runner_deployment_manifest(pool_, node_selector=NODE)
    hra = horizontal_runner_autoscaler_manifest(pool_, webhook_server=False)
    for meta in (
        deployment["metadata"],
        deployment["spec"]["template"]["metadata"],
        hra["metadata"],
    ):
        assert meta["labels"]["maintainer"] == "payments-oncall"
        assert meta["labels"]["arc-eks.io/pool"] == "build"  # the platform's own stay
        assert meta["annotations"] == metadata["annotations"]


@pytest.mark.parametrize(
    "key",
    [
        "arc-eks.io/pool",
        "arc-eks.io/team",
        "app.kubernetes.io/managed-by",
        "pod-security.kubernetes.io/enforce",
        "node.k8s.io/x",
        "eks.amazonaws.com/role-arn",
        "actions.summerwind.dev/x",
        "actions-runner-controller/inject-registration-token",
        "runner-template-hash",
        "pod-template-hash",
        "actions-runner",
        "Bad Key",
        "-leading",
        "UPPER.example.com/x",
        "a" * 64,
    ],
)
def test_platform_and_malformed_keys_are_refused(key: str) -> None:
    for kind in ("labels", "annotations"):
        assert _problems(pool(metadata={kind: {key: "v"}})), (kind, key)


def test_metadata_bounds() -> None:
    assert _problems(pool(metadata={"labels": {"x": "not a label value"}}))
    assert _problems(pool(metadata={"labels": {"x": "a" * 64}}))
    accepted(pool(metadata={"labels": {"x": "a" * 63}}))
    assert _problems(pool(metadata={"annotations": {"x": "a" * 1025}}))
    accepted(pool(metadata={"annotations": {"x": "a" * 1024}}))
    many = {f"k{i}": "v" for i in range(21)}
    assert _problems(pool(metadata={"labels": many}))
    accepted(pool(metadata={"labels": dict(list(many.items())[:20])}))
    assert "arc-eks.io" in RESERVED_KEY_DOMAINS
