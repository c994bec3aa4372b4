"""The pool model, rule by rule: each refusal refuses, and the value at its boundary is accepted.

Validates `PoolSpec` (and its parts) directly with the context `arc_eks.config.teams` passes. A
refusal is asserted by where it is reported (the key path) and a fragment that carries its meaning,
not by the whole wording, which the config-error reporting may rephrase.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from arc_eks.capacity import NODE_CAPACITY, _allocatable
from arc_eks.config.pool_spec import (
    DAEMONSET_RESERVED_CPU_MILLIS,
    DAEMONSET_RESERVED_MEMORY_MIB,
    DOCKER_RESOURCES_DEFAULT,
    RUNNER_RESOURCES_DEFAULT,
    DockerMode,
    PoolSpec,
    Quantities,
    Scope,
    resolved_mode,
)
from arc_eks.config.stack import BucketAllowance, TeamAllowance

ALLOWANCE = TeamAllowance(
    organizations=["acme"],
    s3_buckets=[BucketAllowance(bucket="acme-build-cache"), BucketAllowance(bucket="acme-logs")],
    max_runners_per_pool=8,
)
KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab"
NODE = NODE_CAPACITY["t3a.large"]
CPU_ROOM = NODE.allocatable_cpu_millis - DAEMONSET_RESERVED_CPU_MILLIS
MEMORY_ROOM = NODE.allocatable_memory_mib - DAEMONSET_RESERVED_MEMORY_MIB


def pool(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "build",
        "scope": {"organization": "acme"},
        "docker": "none",
        "labels": ["ci"],
    }
    raw.update(overrides)
    return raw


def validate(raw: dict[str, Any], **context: Any) -> PoolSpec:
    return PoolSpec.model_validate(raw, context={"team": "payments", **context})


def problems(raw: dict[str, Any], **context: Any) -> list[tuple[str, str]]:
    """(key path, message) of every problem; [] when the pool is valid."""
    try:
        validate(raw, **context)
    except ValidationError as exc:
        return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
    return []


def refused(raw: dict[str, Any], path: str, fragment: str = "", **context: Any) -> None:
    found = problems(raw, **context)
    assert any(p == path and fragment in m for p, m in found), (path, fragment, found)


def accepted(raw: dict[str, Any], **context: Any) -> PoolSpec:
    assert problems(raw, **context) == []
    return validate(raw, **context)


def rq(cpu: str, memory: str, lcpu: str | None = None, lmem: str | None = None) -> dict:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": lcpu or cpu, "memory": lmem or memory},
    }


# --- scope ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "kind", "value"),
    [
        ({"enterprise": "acme-corp"}, "enterprise", "acme-corp"),
        ({"organization": "Acme2"}, "organization", "Acme2"),
        ({"repository": "acme/app.web_x-1"}, "repository", "acme/app.web_x-1"),
    ],
)
def test_scope_accepts_each_kind(scope: dict[str, str], kind: str, value: str) -> None:
    parsed = Scope.model_validate(scope)
    assert (parsed.kind, parsed.value) == (kind, value)


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"organization": "acme", "repository": "acme/app"},
        {"enterprise": "acme", "organization": "acme"},
        {"enterprise": "acme", "repository": "acme/app"},
    ],
)
def test_scope_needs_exactly_one(scope: dict[str, str]) -> None:
    refused(pool(scope=scope), "scope", "exactly one")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("enterprise", "-acme"),
        ("enterprise", "acme_"),
        ("organization", "-acme"),
        ("organization", "acme_"),
        ("repository", "-acme/app"),
        ("repository", "acme/app/x"),
        ("repository", "acme"),
    ],
)
def test_scope_patterns_are_anchored(key: str, value: str) -> None:
    refused(pool(scope={key: value}), f"scope.{key}")


# --- name, group, labels ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["b", "b1", "build-2", "a" * 40])
def test_pool_name_accepted(name: str) -> None:
    assert accepted(pool(name=name)).name == name


@pytest.mark.parametrize("name", ["", "a" * 41, "1build", "-build", "build-", "Build", "build_x"])
def test_pool_name_refused(name: str) -> None:
    refused(pool(name=name), "name")


def test_group_length_and_scope() -> None:
    assert accepted(pool(group="g" * 64)).group == "g" * 64
    refused(pool(group="g" * 65), "group")
    refused(pool(group=""), "group")
    refused(pool(group="ci", scope={"repository": "acme/app"}), "", "group")
    assert accepted(pool(group="ci", scope={"enterprise": "acme"})).group == "ci"


def test_labels() -> None:
    assert accepted(pool(labels=["l" * 64, "gpu.large_x-1"])).labels == ["l" * 64, "gpu.large_x-1"]
    for label in ("l" * 65, "", "a b", "!gpu", "gpu!"):
        refused(pool(labels=["ok", label]), "labels.1")


# --- docker modes and their cross-field rules ---------------------------------------------------


@pytest.mark.parametrize(
    "mode",
    ["dood", "DooD", " host ", "hostpath", "socket", "docker.sock", "docker-outside-of-docker"],
)
def test_docker_outside_of_docker_is_refused_with_the_reason(mode: str) -> None:
    refused(pool(docker=mode), "docker", "Docker-outside-of-Docker")


@pytest.mark.parametrize("mode", ["doodle", "xdood", "dockerxsock", "hosts"])
def test_refusal_reason_is_only_for_those_exact_modes(mode: str) -> None:
    found = problems(pool(docker=mode))
    assert [p for p, _ in found] == ["docker"]
    assert "Docker-outside-of-Docker" not in found[0][1]


def test_docker_resources_only_with_dind() -> None:
    refused(pool(docker="none", dockerResources=rq("100m", "128Mi")), "", "dockerResources")
    spec = accepted(pool(docker="dind", dockerResources=rq("100m", "128Mi")))
    assert spec.docker == DockerMode.DIND and spec.docker_resources is not None


def test_work_volume_only_with_kubernetes() -> None:
    refused(pool(docker="dind", workVolume={}), "", "workVolume")
    refused(pool(docker="none", workVolume={}), "", "workVolume")
    spec = accepted(pool(docker="kubernetes", workVolume={"size": "1Gi"}))
    assert spec.work_volume is not None and spec.work_volume.storage_class_name == "gp3-encrypted"


def test_work_volume_size_and_storage_class() -> None:
    refused(pool(docker="kubernetes", workVolume={"size": "1023Mi"}), "workVolume.size", "1Gi")
    accepted(pool(docker="kubernetes", workVolume={"size": "1024Mi"}))
    accepted(pool(docker="kubernetes", workVolume={"storageClassName": "g" * 63}))
    for name in ("g" * 64, "-gp3", "gp3-", "GP3", "gp3_x"):
        refused(
            pool(docker="kubernetes", workVolume={"storageClassName": name}),
            "workVolume.storageClassName",
        )


@pytest.mark.parametrize(
    "grants",
    [
        {"s3": [{"bucket": "acme-logs", "access": "read"}]},
        {"ecr": [{"repository": "payments/app", "access": "pull"}]},
    ],
    ids=["s3", "ecr"],
)
def test_kubernetes_mode_refuses_aws_grants(grants: dict[str, Any]) -> None:
    refused(pool(docker="kubernetes", **grants), "", "kubernetes")
    accepted(pool(docker="none", **grants))


def test_kaniko_needs_a_runner_image() -> None:
    refused(pool(docker="kaniko"), "", "runnerImage")
    assert (
        accepted(pool(docker="kaniko", runnerImage="acme/kaniko:1.2")).runner_image
        == "acme/kaniko:1.2"
    )


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("acme/runner:2.320.0", True),
        ("registry.example.com:5000/acme/runner:2.320.0", True),
        ("acme/runner@sha256:" + "a" * 64, True),
        ("acme/runner", False),
        ("registry.example.com:5000/acme/runner", False),
        ("acme/runner:latest", False),
    ],
)
def test_runner_image_pinned(image: str, ok: bool) -> None:
    if ok:
        assert accepted(pool(runnerImage=image)).runner_image == image
    else:
        refused(pool(runnerImage=image), "runnerImage")


# --- resources and the fit on one node ----------------------------------------------------------


def test_quantities_numbers_and_units() -> None:
    assert Quantities.model_validate({"cpu": 1, "memory": "1Gi"}).cpu == "1"
    assert Quantities.model_validate({"cpu": 1.5, "memory": "1Gi"}).cpu_millis == 1500
    assert Quantities.model_validate({"cpu": "250m", "memory": "512Mi"}).memory_mib == 512
    for bad in ({"cpu": "lots", "memory": "1Gi"}, {"cpu": "1", "memory": "lots"}):
        with pytest.raises(ValidationError):
            Quantities.model_validate(bad)


@pytest.mark.parametrize(
    ("resources", "fragments"),
    [
        (rq("600m", "1Gi", "500m", "1Gi"), ["requests.cpu"]),
        (rq("500m", "2Gi", "500m", "1Gi"), ["requests.memory"]),
        (rq("600m", "2Gi", "500m", "1Gi"), ["requests.cpu", "requests.memory"]),
    ],
)
def test_requests_above_limits(resources: dict[str, Any], fragments: list[str]) -> None:
    for fragment in fragments:
        refused(pool(resources=resources), "resources", fragment)
    refused(pool(docker="dind", dockerResources=resources), "dockerResources", fragments[0])
    other = {"requests.cpu", "requests.memory"} - set(fragments)
    message = next(m for p, m in problems(pool(resources=resources)) if p == "resources")
    assert not any(o in message for o in other)


def test_requests_equal_to_limits_are_fine() -> None:
    accepted(pool(resources=rq("500m", "1Gi")))


def test_fit_boundary_without_sidecar() -> None:
    accepted(pool(resources=rq(f"{CPU_ROOM}m", f"{MEMORY_ROOM}Mi")))
    refused(pool(resources=rq(f"{CPU_ROOM + 1}m", f"{MEMORY_ROOM}Mi")), "resources", "t3a.large")
    refused(pool(resources=rq(f"{CPU_ROOM}m", f"{MEMORY_ROOM + 1}Mi")), "resources", "t3a.large")


def test_fit_counts_the_dind_sidecar_cpu_and_memory() -> None:
    side = DOCKER_RESOURCES_DEFAULT.requests
    cpu = CPU_ROOM - int(side.cpu_millis)
    memory = MEMORY_ROOM - int(side.memory_mib)
    accepted(pool(docker="dind", resources=rq(f"{cpu}m", f"{memory}Mi")))
    refused(pool(docker="dind", resources=rq(f"{cpu + 1}m", f"{memory}Mi")), "resources", "sidecar")
    refused(pool(docker="dind", resources=rq(f"{cpu}m", f"{memory + 1}Mi")), "resources", "sidecar")
    # an explicit sidecar request replaces the default one
    small = rq("100m", "128Mi")
    accepted(
        pool(
            docker="dind",
            dockerResources=small,
            resources=rq(f"{CPU_ROOM - 100}m", f"{MEMORY_ROOM - 128}Mi"),
        )
    )
    refused(
        pool(
            docker="dind",
            dockerResources=small,
            resources=rq(f"{CPU_ROOM - 99}m", f"{MEMORY_ROOM - 128}Mi"),
        ),
        "resources",
    )
    # without dind the same runner request fits
    accepted(pool(docker="none", resources=rq(f"{cpu + 1}m", f"{memory + 1}Mi")))


def test_fit_uses_the_stack_node_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(NODE_CAPACITY, "tiny.test", _allocatable("tiny.test", 1, 2048, 8))
    fits_large = pool(resources=rq("1500m", "2Gi"))
    accepted(fits_large)
    accepted(fits_large, instance_type="t3a.large")
    refused(fits_large, "resources", "tiny.test", instance_type="tiny.test")


def test_default_runner_resources_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RUNNER_RESOURCES_DEFAULT.requests.cpu == "500m"
    monkeypatch.setitem(NODE_CAPACITY, "tiny.test", _allocatable("tiny.test", 1, 1024, 8))
    refused(pool(), "resources", "tiny.test", instance_type="tiny.test")


# --- autoscaling --------------------------------------------------------------------------------

QUEUED = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns", "repositoryNames": ["app"]}


@pytest.mark.parametrize(
    ("key", "ok", "bad"),
    [
        ("min", [1, 5], [-1, 501]),
        ("max", [1, 8], [0, 9]),
        ("scaleDownDelaySeconds", [0, 86400], [-1, 86401]),
        ("webhookScaleUpDuration", ["30m", "45s", "2h"], ["30", "1d", "x30m", "30mx", "m"]),
    ],
)
def test_autoscaling_bounds(key: str, ok: list[Any], bad: list[Any]) -> None:
    for value in ok:
        accepted(
            pool(autoscaling={"max": 5 if key == "min" else 8, key: value}), allowance=ALLOWANCE
        )
    for value in bad:
        refused(pool(autoscaling={key: value}), f"autoscaling.{key}", allowance=ALLOWANCE)


def test_min_and_max_without_a_team_ceiling() -> None:
    accepted(pool(autoscaling={"min": 500, "max": 500}))
    refused(pool(autoscaling={"max": 501}), "autoscaling.max")
    refused(pool(autoscaling={"min": 3, "max": 2}), "autoscaling", "min")
    accepted(pool(autoscaling={"min": 2, "max": 2}))


def test_team_ceiling_for_explicit_and_default_max() -> None:
    refused(pool(autoscaling={"max": 9}), "autoscaling.max", "8", allowance=ALLOWANCE)
    accepted(pool(autoscaling={"max": 8}), allowance=ALLOWANCE)
    small = TeamAllowance(organizations=["acme"], max_runners_per_pool=4)
    refused(pool(), "", "maxRunnersPerPool", allowance=small)
    accepted(pool(), allowance=TeamAllowance(organizations=["acme"], max_runners_per_pool=5))
    accepted(pool(autoscaling={"max": 4}), allowance=small)


def test_percentage_busy_needs_one_runner() -> None:
    refused(pool(autoscaling={"min": 0}), "autoscaling", "min >= 1")
    accepted(pool(autoscaling={"min": 1}))
    accepted(pool(autoscaling={"min": 0, "metric": QUEUED}))


SCHEDULE = {
    "name": "weekend",
    "start": "2026-01-03T00:00:00+00:00",
    "end": "2026-01-05T00:00:00+00:00",
}


def test_schedule_min_rules() -> None:
    later = {**SCHEDULE, "name": "later"}
    refused(
        pool(autoscaling={"schedules": [{**SCHEDULE, "min": 1}, {**later, "min": 0}]}),
        "autoscaling",
        "schedules[1].min >= 1",
    )
    accepted(pool(autoscaling={"metric": QUEUED, "schedules": [{**SCHEDULE, "min": 0}]}))
    refused(
        pool(autoscaling={"max": 5, "schedules": [{**SCHEDULE, "min": 1}, {**later, "min": 6}]}),
        "autoscaling",
        "schedules[1].min",
    )
    accepted(pool(autoscaling={"max": 5, "schedules": [{**SCHEDULE, "min": 5}]}))
    for value in (-1, 501):
        refused(
            pool(autoscaling={"schedules": [{**SCHEDULE, "min": value}]}),
            "autoscaling.schedules.0.min",
        )


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"start": "2026-01-03T00:00:00"}, "autoscaling.schedules.0"),
        ({"end": "2026-01-05T00:00:00"}, "autoscaling.schedules.0"),
        ({"until": "2026-06-01T00:00:00"}, "autoscaling.schedules.0"),
        ({"end": SCHEDULE["start"]}, "autoscaling.schedules.0"),
        ({"end": "2026-01-02T00:00:00+00:00"}, "autoscaling.schedules.0"),
        ({"name": "Weekend"}, "autoscaling.schedules.0.name"),
        ({"name": "w" * 32}, "autoscaling.schedules.0.name"),
        ({"name": "-w"}, "autoscaling.schedules.0.name"),
        ({"name": "w!"}, "autoscaling.schedules.0.name"),
        ({"recurrence": "Hourly"}, "autoscaling.schedules.0.recurrence"),
    ],
)
def test_schedule_window_refused(change: dict[str, Any], path: str) -> None:
    refused(pool(autoscaling={"schedules": [{**SCHEDULE, "min": 1, **change}]}), path)


def test_schedule_window_accepted_at_the_boundary() -> None:
    schedule = {
        **SCHEDULE,
        "name": "w" * 31,
        "end": "2026-01-03T00:00:01+00:00",
        "until": "2026-06-01T00:00:00+09:00",
        "recurrence": "Weekly",
        "min": 1,
    }
    spec = accepted(pool(autoscaling={"schedules": [schedule]}))
    assert spec.autoscaling.schedules[0].until is not None


@pytest.mark.parametrize(
    ("metric", "path"),
    [
        ({"scaleUpThreshold": 0}, "scaleUpThreshold"),
        ({"scaleUpThreshold": 1.01}, "scaleUpThreshold"),
        ({"scaleDownThreshold": -0.01}, "scaleDownThreshold"),
        ({"scaleDownThreshold": 1, "scaleUpThreshold": 1}, "scaleDownThreshold"),
        ({"scaleUpFactor": 1}, "scaleUpFactor"),
        ({"scaleUpFactor": 10.01}, "scaleUpFactor"),
        ({"scaleDownFactor": 0}, "scaleDownFactor"),
        ({"scaleDownFactor": 1}, "scaleDownFactor"),
    ],
)
def test_percentage_busy_bounds(metric: dict[str, Any], path: str) -> None:
    raw = pool(autoscaling={"metric": {"type": "PercentageRunnersBusy", **metric}})
    refused(raw, f"autoscaling.metric.PercentageRunnersBusy.{path}")


def test_percentage_busy_boundaries_accepted_and_threshold_order() -> None:
    edges = {
        "type": "PercentageRunnersBusy",
        "scaleUpThreshold": 1,
        "scaleDownThreshold": 0,
        "scaleUpFactor": 10,
        "scaleDownFactor": 0.99,
    }
    accepted(pool(autoscaling={"metric": edges}))
    accepted(
        pool(autoscaling={"metric": {**edges, "scaleUpThreshold": 0.01, "scaleUpFactor": 1.01}})
    )
    for down, up in ((0.5, 0.5), (0.6, 0.5)):
        metric = {
            "type": "PercentageRunnersBusy",
            "scaleDownThreshold": down,
            "scaleUpThreshold": up,
        }
        refused(
            pool(autoscaling={"metric": metric}),
            "autoscaling.metric.PercentageRunnersBusy",
            "scaleDownThreshold",
        )
    metric = {"type": "PercentageRunnersBusy", "scaleDownThreshold": 0.49, "scaleUpThreshold": 0.5}
    accepted(pool(autoscaling={"metric": metric}))


def test_queued_metric_needs_repositories_unless_scoped_to_one() -> None:
    bare = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"}
    refused(pool(autoscaling={"metric": bare}), "", "repositoryNames")
    # An enterprise scope cannot use the metric at all (the controller counts repositories' runs).
    refused(
        pool(scope={"enterprise": "acme"}, autoscaling={"metric": bare}),
        "autoscaling",
        "enterprise",
    )
    accepted(pool(scope={"repository": "acme/app"}, autoscaling={"metric": bare}))
    accepted(pool(autoscaling={"metric": QUEUED}))
    for name in ("acme/app", "app!", "!app", ""):
        metric = {**bare, "repositoryNames": ["ok", name]}
        found = problems(pool(autoscaling={"metric": metric}))
        assert any(
            p.startswith("autoscaling.metric.") and p.endswith("repositoryNames.1")
            for p, _ in found
        ), (name, found)
    accepted(pool(autoscaling={"metric": {**bare, "repositoryNames": ["app.web_x-1", "-ok"]}}))


def test_misspelt_metric_type_is_refused_with_the_right_name() -> None:
    metric = {"type": "TotalNumberOfQueuedAndInProgressWorkflows", "repositoryNames": ["app"]}
    refused(
        pool(autoscaling={"metric": metric}),
        "autoscaling.metric",
        "TotalNumberOfQueuedAndInProgressWorkflowRuns",
    )
    # our explanation, not only pydantic's list of the known tags
    refused(pool(autoscaling={"metric": metric}), "autoscaling.metric", "never scale")


# --- grants -------------------------------------------------------------------------------------


def test_s3_grant_bucket_allowlist() -> None:
    grant = {"bucket": "acme-logs", "access": "read"}
    accepted(pool(s3=[grant]), allowance=ALLOWANCE)
    accepted(
        pool(s3=[{**grant, "bucket": "anything-goes"}])
    )  # no allowance in context: not checked
    refused(
        pool(s3=[grant, {**grant, "bucket": "acme-other"}]),
        "s3.1.bucket",
        "acme-build-cache, acme-logs",
        allowance=ALLOWANCE,
    )
    refused(pool(s3=[grant]), "s3.0.bucket", "none", allowance=TeamAllowance())


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [
        ("", True),
        ("payments/", True),
        ("a/b.c_(1)!'-/", True),
        ("payments", False),
        ("payments/*", False),
        ("pay*/", False),
        ("/payments/", False),
        ("payments//", False),
    ],
)
def test_s3_prefix(prefix: str, ok: bool) -> None:
    raw = pool(s3=[{"bucket": "acme-logs", "access": "read", "prefix": prefix}])
    if ok:
        assert accepted(raw).s3[0].prefix == prefix
    else:
        refused(raw, "s3.0.prefix")


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        (KMS, True),
        ("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/abc", True),
        ("arn:aws:kms:eu-west-1:123456789012:alias/builds", False),
        ("arn:aws:kms:eu-west-1:12345678901:key/abc", False),
        ("xarn:aws:kms:eu-west-1:123456789012:key/abc", False),
        (KMS + "/x", False),
    ],
)
def test_s3_kms_key_arn(arn: str, ok: bool) -> None:
    raw = pool(s3=[{"bucket": "acme-logs", "access": "write", "kmsKeyArn": arn}])
    if ok:
        assert accepted(raw).s3[0].kms_key_arn == arn
    else:
        refused(raw, "s3.0.kmsKeyArn")


def test_s3_access_levels() -> None:
    for access in ("read", "write", "readwrite"):
        accepted(pool(s3=[{"bucket": "acme-logs", "access": access}]))
    refused(pool(s3=[{"bucket": "acme-logs", "access": "admin"}]), "s3.0.access")


@pytest.mark.parametrize(
    ("repository", "ok"),
    [
        ("payments/app", True),
        ("payments/tools/app.v2_x-1", True),
        ("payments", False),
        ("Payments/app", False),
        ("payments/app/", False),
        ("/payments/app", False),
        ("payments/-app", False),
    ],
)
def test_ecr_repository_pattern(repository: str, ok: bool) -> None:
    raw = pool(ecr=[{"repository": repository, "access": "pull"}])
    if ok:
        assert accepted(raw).ecr[0].repository == repository
    else:
        refused(raw, "ecr.0.repository")


def test_ecr_repository_in_the_team_namespace() -> None:
    refused(
        pool(ecr=[{"repository": "web/app", "access": "push"}]), "ecr.0.repository", "payments/"
    )
    refused(pool(ecr=[{"repository": "payments-x/app", "access": "push"}]), "ecr.0.repository")
    accepted(pool(ecr=[{"repository": "payments/app", "access": "push"}]))
    # without a team in the context the namespace is not checked
    PoolSpec.model_validate(pool(ecr=[{"repository": "web/app", "access": "push"}]))


def test_defaults_are_what_the_docs_promise() -> None:
    spec = accepted({"name": "build", "scope": {"organization": "acme"}, "labels": ["ci"]})
    assert spec.docker == DockerMode.DIND
    assert spec.docker_resources is None and spec.runner_image is None and spec.group is None
    assert spec.labels == ["ci"] and spec.s3 == [] and spec.ecr == [] and spec.work_volume is None
    assert spec.resources == RUNNER_RESOURCES_DEFAULT
    assert RUNNER_RESOURCES_DEFAULT.model_dump() == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1500m", "memory": "4Gi"},
    }
    assert DOCKER_RESOURCES_DEFAULT.model_dump() == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1500m", "memory": "4Gi"},
    }
    scaling = spec.autoscaling
    assert (scaling.min, scaling.max, scaling.scale_down_delay_seconds) == (1, 5, 300)
    assert scaling.webhook_scale_up_duration == "30m" and scaling.schedules == []
    assert scaling.metric.model_dump() == {
        "type": "PercentageRunnersBusy",
        "scale_up_threshold": 0.75,
        "scale_down_threshold": 0.25,
        "scale_up_factor": 2.0,
        "scale_down_factor": 0.5,
        "scale_up_adjustment": None,
        "scale_down_adjustment": None,
    }
    assert spec.dind_image is None and spec.runner_uid is None and spec.docker_gid is None
    assert spec.metadata.labels == {} and spec.metadata.annotations == {}
    volume = accepted(pool(docker="kubernetes", workVolume={})).work_volume
    assert volume is not None and (volume.storage_class_name, volume.size) == (
        "gp3-encrypted",
        "10Gi",
    )
    grant = accepted(pool(s3=[{"bucket": "acme-logs", "access": "read"}])).s3[0]
    assert (grant.prefix, grant.kms_key_arn) == ("", None)
    metric = {"type": "TotalNumberOfQueuedAndInProgressWorkflowRuns"}
    queued = accepted(pool(scope={"repository": "acme/app"}, autoscaling={"metric": metric}))
    assert queued.autoscaling.metric.model_dump() == {
        "type": "TotalNumberOfQueuedAndInProgressWorkflowRuns",
        "repository_names": [],
    }


def test_more_boundaries() -> None:
    assert accepted(pool(group="g")).group == "g"
    schedule = {**SCHEDULE, "min": 500}
    accepted(pool(autoscaling={"min": 500, "max": 500, "schedules": [schedule]}))
    found = problems(pool(resources=rq(f"{CPU_ROOM + 1}m", "1Gi")))
    assert any(p == "resources" and "runner request" in m for p, m in found)


def test_fit_boundary_in_absolute_numbers() -> None:
    """t3a.large: 2 vCPU - 70m kubelet/system reserve - 150m DaemonSets = 1780m; 7859 MiB - 740 MiB
    reserve (35 pods) - 256 MiB DaemonSets = 6863 MiB (docs/runner-pools.md)."""
    accepted(pool(resources=rq("1780m", "6863Mi")))
    refused(pool(resources=rq("1781m", "6863Mi")), "resources")
    refused(pool(resources=rq("1780m", "6864Mi")), "resources")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("dev", True),
        ("e" * 16, True),
        ("d", False),
        ("e" * 17, False),
        ("Dev", False),
        ("1dev", False),
        ("dev!", False),
    ],
)
def test_environment_names_in_team_files(name: str, ok: bool) -> None:
    from pydantic import TypeAdapter

    from arc_eks.config.pool_spec import EnvironmentName

    adapter = TypeAdapter(EnvironmentName)
    if ok:
        assert adapter.validate_python(name) == name
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(name)


# --- runner image user, dind image, scale adjustments, webhook-only, object ACL, metadata -------


def test_runner_uid_and_docker_gid() -> None:
    image = {"runnerImage": "acme/runner:2.320.0"}
    for key in ("runnerUid", "dockerGid"):
        for value in (1, 65535):
            accepted(pool(docker="dind", **image, **{key: value}))
        for value in (0, 65536):
            refused(pool(docker="dind", **image, **{key: value}), key)
    # the platform image's own user and group, or unset
    accepted(pool(docker="dind", runnerUid=1001, dockerGid=121))
    refused(pool(docker="dind", runnerUid=1000), "", "runnerUid")
    refused(pool(docker="dind", dockerGid=999), "", "dockerGid")
    refused(pool(docker="none", dockerGid=121), "", "dockerGid")


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("docker:28.0.4-dind", True),
        ("mirror.example.com:5000/library/docker:28.0.4-dind-rootless", True),
        ("docker@sha256:" + "a" * 64, True),
        ("docker:dind", False),
        ("mirror.example.com:5000/docker:dind", False),
        ("docker:stable", False),
        ("docker:latest", False),
        ("docker", False),
        ("mirror.example.com:5000/docker", False),
    ],
)
def test_dind_image_pinned_to_a_version(image: str, ok: bool) -> None:
    if ok:
        assert accepted(pool(docker="dind", dindImage=image)).dind_image == image
    else:
        refused(pool(docker="dind", dindImage=image), "dindImage")


def test_dind_image_only_with_dind() -> None:
    refused(pool(docker="none", dindImage="docker:28.0.4-dind"), "", "dindImage")


BUSY = "PercentageRunnersBusy"


@pytest.mark.parametrize("way", ["Up", "Down"])
def test_scale_adjustments(way: str) -> None:
    key = f"scale{way}Adjustment"
    for value in (1, 100):
        accepted(pool(autoscaling={"metric": {"type": BUSY, key: value}}))
    for value in (0, 101):
        refused(
            pool(autoscaling={"metric": {"type": BUSY, key: value}}),
            f"autoscaling.metric.{BUSY}.{key}",
        )
    factor = {"Up": 2.0, "Down": 0.5}[way]
    both = {"type": BUSY, key: 2, f"scale{way}Factor": factor}
    refused(
        pool(autoscaling={"metric": both}), f"autoscaling.metric.{BUSY}", f"scale{way}Adjustment"
    )


def test_webhook_only_needs_the_webhook_server() -> None:
    raw = pool(autoscaling={"min": 0, "metric": {"type": "WebhookOnly"}})
    refused(raw, "autoscaling", "webhook", webhook_server=False)
    accepted(raw, webhook_server=True)
    accepted(raw)  # another environment's stack decides there


def test_object_acl_only_on_writes() -> None:
    grant = {"bucket": "acme-logs", "objectAcl": "bucket-owner-full-control"}
    for access in ("write", "readwrite"):
        assert (
            accepted(pool(s3=[{**grant, "access": access}])).s3[0].object_acl
            == "bucket-owner-full-control"
        )
    refused(pool(s3=[{**grant, "access": "read"}]), "s3.0", "objectAcl")
    refused(pool(s3=[{**grant, "access": "write", "objectAcl": "public-read"}]), "s3.0.objectAcl")


@pytest.mark.parametrize(
    "key",
    [
        "owner",
        "team.acme.com/owner",
        "a",
        "A_b.c-9",
        "n" * 63,
        ("p" * 63 + ".") * 3 + "p" * 61 + "/owner",  # a 253-character prefix
        "not-arc-eks.io/owner",
        "kubernetes.io.example.com/x",
    ],
)
def test_metadata_keys_accepted(key: str) -> None:
    spec = accepted(pool(metadata={"labels": {key: "v"}, "annotations": {key: "v"}}))
    assert key in spec.metadata.labels and key in spec.metadata.annotations


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "prefix/"),
        ("n" * 64, "prefix/"),
        ("-owner", "prefix/"),
        ("owner-", "prefix/"),
        ("team.acme.com/", "prefix/"),
        ("Team.acme.com/owner", "prefix/"),
        ("-team.acme.com/owner", "prefix/"),
        ("team.acme.com-/owner", "prefix/"),
        (("p" * 63 + ".") * 3 + "p" * 62 + "/owner", "prefix/"),  # 254
        ("arc-eks.io/pool", "your own"),
        ("team.arc-eks.io/pool", "your own"),
        ("kubernetes.io/name", "your own"),
        ("node.k8s.io/x", "your own"),
        ("eks.amazonaws.com/role-arn", "your own"),
        ("actions.summerwind.dev/x", "your own"),
        ("actions.github.com/x", "your own"),
        ("actions-runner-controller/x", "your own"),
        ("helm.sh/chart", "your own"),
        ("pulumi.com/x", "your own"),
        ("actions-runner", "your own"),
        ("pod-template-hash", "your own"),
        ("runner-deployment-name", "your own"),
        ("runner-template-hash", "your own"),
        ("runnerset-name", "your own"),
        ("sync-time", "your own"),
        ("runner-scale-set-id", "your own"),
        ("runner-scale-set-name", "your own"),
    ],
)
def test_metadata_keys_refused(key: str, fragment: str) -> None:
    for field in ("labels", "annotations"):
        refused(pool(metadata={field: {"ok": "v", key: "v"}}), f"metadata.{field}", fragment)


def test_metadata_values_and_counts() -> None:
    accepted(pool(metadata={"labels": {"a": "v" * 63, "b": "", "c": "A_b.c-9"}}))
    for value in ("v" * 64, "-v", "v-", "a b"):
        refused(pool(metadata={"labels": {"ok": "v", "k": value}}), "metadata.labels", "'k'")
    accepted(pool(metadata={"annotations": {"a": "x y " * 256}}))
    refused(pool(metadata={"annotations": {"a": "x" * 1025}}), "metadata.annotations", "1024")
    twenty = {f"k{i}": "v" for i in range(20)}
    accepted(pool(metadata={"labels": twenty, "annotations": twenty}))
    for field in ("labels", "annotations"):
        refused(pool(metadata={field: {**twenty, "k20": "v"}}), f"metadata.{field}", "20")


def test_fit_boundary_on_another_node_type(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 vCPU, 2048 MiB, 8 pods: 1000m - 60m - 150m = 790m; 2048 - 443 - 256 = 1349Mi
    monkeypatch.setitem(NODE_CAPACITY, "tiny.test", _allocatable("tiny.test", 1, 2048, 8))
    accepted(pool(resources=rq("790m", "1349Mi")), instance_type="tiny.test")
    refused(pool(resources=rq("791m", "1349Mi")), "resources", instance_type="tiny.test")
    refused(pool(resources=rq("790m", "1350Mi")), "resources", instance_type="tiny.test")


@pytest.mark.parametrize("recurrence", ["Daily", "Weekly", "Monthly", "Yearly"])
def test_schedule_recurrences(recurrence: str) -> None:
    schedule = {**SCHEDULE, "min": 1, "recurrence": "".join(list(recurrence))}
    assert (
        accepted(pool(autoscaling={"schedules": [schedule]})).autoscaling.schedules[0].recurrence
        == recurrence
    )


def test_misspelt_metric_read_from_a_file_is_refused_too() -> None:
    metric = {
        "type": "".join(list("TotalNumberOfQueuedAndInProgressWorkflows")),
        "repositoryNames": ["app"],
    }
    refused(pool(autoscaling={"metric": metric}), "autoscaling.metric", "never scale")


def test_ecr_repository_pattern_without_a_team() -> None:
    for repository in ("/web/app", "web/app/", "-web/app"):
        with pytest.raises(ValidationError):
            PoolSpec.model_validate(pool(ecr=[{"repository": repository, "access": "pull"}]))


def test_tags_that_sort_after_latest_and_single_digit_versions() -> None:
    assert accepted(pool(runnerImage="acme/runner:v2.320.0")).runner_image == "acme/runner:v2.320.0"
    assert (
        accepted(pool(docker="dind", dindImage="docker:1.13-dind")).dind_image == "docker:1.13-dind"
    )
    refused(pool(metadata={"labels": {"s3.amazonaws.com/x": "v"}}), "metadata.labels", "your own")


# --- scale sets never run docker: kubernetes -------------------------------------------------


def test_a_kubernetes_pool_is_never_a_scale_set() -> None:
    refused(
        pool(docker="kubernetes", mode="scaleSet"), "", "no docker: kubernetes with mode: scaleSet"
    )
    for docker in ("dind", "none"):  # sorting before and after "kubernetes"
        assert accepted(pool(docker=docker, mode="scaleSet")).mode == "scaleSet"


def test_a_scale_set_default_leaves_a_kubernetes_pool_that_names_no_mode_a_runner_deployment() -> (
    None
):
    assert accepted(pool(docker="kubernetes"), default_mode="scaleSet").mode == "runnerDeployment"
    for docker in ("dind", "none"):
        assert accepted(pool(docker=docker), default_mode="scaleSet").mode == "scaleSet"
    assert accepted(pool(docker="none"), default_mode="runnerDeployment").mode == "runnerDeployment"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"docker": "kubernetes"}, "runnerDeployment"),
        ({"docker": " Kubernetes "}, "runnerDeployment"),
        ({"docker": "dind"}, "scaleSet"),
        ({"docker": "none"}, "scaleSet"),
        ({"docker": "kubernetes", "mode": "scaleSet"}, "scaleSet"),  # refused later, by the model
        ({"docker": 5}, "scaleSet"),
        ({}, "scaleSet"),
        ("not a pool", "scaleSet"),
    ],
)
def test_resolved_mode(raw: Any, expected: str) -> None:
    assert resolved_mode(raw, "scaleSet") == expected
