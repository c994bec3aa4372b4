"""The real pack, as `pulumi preview --policy-pack policies` runs it: the Python language host
starts `python -u -m pulumi.policy <engine> <pack dir>` in the pack's directory, which runs
`policies/__main__.py`, and reads the analyzer's port from its stdout. This test starts it the same
way and plays the engine's part (GetAnalyzerInfo, Configure with the prod config, Analyze,
AnalyzeStack).

Ref: pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go (RunPlugin, kind analyzer).
"""

from __future__ import annotations

import copy
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from arc_eks.review import policies as review_policies
from arc_eks.review import policy_config
from policies.arc_policies import registry, scale_sets
from policies.arc_policies.testing import UNKNOWN_SENTINELS, urn_for, wire_properties
from tests import scale_set_fixtures
from tests.policy_baselines import TYPES, baseline, mutate

PROJECT_DIR = Path(__file__).resolve().parents[1]
PACK_DIR = PROJECT_DIR / "policies"
# The pack imports pulumi, grpc and its rules before it listens: seconds, even on a slow machine.
PORT_DEADLINE_SECONDS = 60.0
# Not an engine: the pack never calls the engine back. The CLI passes its own address here.
ENGINE_ADDRESS = "127.0.0.1:1"


def pack_command() -> list[str]:
    """The command line the Pulumi CLI's Python language host uses for a policy pack."""
    return [sys.executable, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(PACK_DIR)]


def read_line(process: subprocess.Popen[bytes], deadline_seconds: float) -> str:
    """One line of the process's stdout, or an AssertionError once the deadline passes (never a
    blocking read: a pack whose port line is stuck in a buffer must fail, not hang the suite)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    buffer = b""
    end = time.monotonic() + deadline_seconds
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no line from {process.args!r} within {deadline_seconds:.0f} s "
                    f"(read so far: {buffer!r})"
                )
            if not selector.select(timeout=left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(
                    f"{process.args!r} exited ({process.poll()}) before writing a line "
                    f"(read so far: {buffer!r})"
                )
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode()


def _clean_environment() -> dict[str, str]:
    """The caller's environment without the variables that would hide a buffering bug."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONUNBUFFERED", "PYTHONPATH"}}


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        pack_command(),
        stdout=subprocess.PIPE,
        cwd=PACK_DIR,
        env=_clean_environment(),
    )
    try:
        port = int(read_line(process, PORT_DEADLINE_SECONDS).strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        stub.Configure(_configure_request("prod"), timeout=30)
        yield stub
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=30)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _configure_request(env: str) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """What the CLI sends for --policy-pack-config build/policy-config/<env>.json, the file
    scripts/deploy.sh generates from the stack file."""
    config = policy_config.generate(PROJECT_DIR / "tests" / "fixtures" / "project", env)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in registry.build_policies():
        level = review_policies.enforcement(policy, config).value.upper()
        request.policyConfig[policy.name].CopyFrom(
            analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level),
                properties=_struct(review_policies.settings(policy, config)),
            )
        )
    return request


def _analyze(stub: Any, kind: str, inputs: dict[str, Any]) -> list[Any]:
    request = analyzer_pb2.AnalyzeRequest(
        type=TYPES[kind],
        name="under-test",
        urn=urn_for(TYPES[kind], "under-test"),
        properties=_struct(wire_properties(inputs)),
    )
    return list(stub.Analyze(request, timeout=30).diagnostics)


def test_pack_lists_every_rule_with_its_schema(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == registry.PACK_NAME
    assert {p.name for p in info.policies} == {r.name for r in registry.ALL_RULES}
    s3 = next(p for p in info.policies if p.name == "aws-iam-irsa-no-wildcard-s3")
    assert "allowedS3Buckets" in s3.configSchema.properties


def _through_prod_cache(value: Any) -> Any:
    """`value` with every image as prod's image cache makes it (the fixture's prod stack turns
    imageCache on): the images a compliant prod resource has."""
    from arc_eks.builders.registry import cached_image, image_cache_plan

    plan, _ = image_cache_plan(
        policy_config.stack_config_of(PROJECT_DIR / "tests" / "fixtures" / "project", "prod"),
        region="eu-west-1",
        account_ids=["111122223333"],
    )
    images = ("image", "actionsRunnerRepositoryAndTag", "dindSidecarRepositoryAndTag")
    if isinstance(value, dict):
        return {
            k: cached_image(v, plan)
            if k in images and isinstance(v, str)
            else _through_prod_cache(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_through_prod_cache(v) for v in value]
    return value


def test_compliant_resources_pass(analyzer: Any) -> None:
    for kind in TYPES:
        inputs = _through_prod_cache(baseline(kind))
        if kind == "eks_cluster":  # prod admits only the deploy runner's address
            inputs["publicAccessCidrs"] = ["198.51.100.10/32"]
        assert _analyze(analyzer, kind, inputs) == [], kind
    # The same runners pulling from Docker Hub directly: refused where prod turned the cache on.
    upstream = _analyze(analyzer, "runner_deployment", baseline("runner_deployment"))
    assert {d.policyName for d in upstream} == {"arc-runner-images-through-cache"}
    office = _analyze(analyzer, "eks_cluster", baseline("eks_cluster"))
    assert [d.policyName for d in office] == ["aws-eks-cluster-endpoint-restricted"]


def test_violation_is_mandatory_in_prod(analyzer: Any) -> None:
    inputs = mutate(baseline("launch_template"), "metadataOptions.httpPutResponseHopLimit", 2)
    (diagnostic,) = _analyze(analyzer, "launch_template", inputs)
    assert diagnostic.policyName == "aws-ec2-launch-template-imdsv2-hop-limit-1"
    assert diagnostic.enforcementLevel == analyzer_pb2.EnforcementLevel.MANDATORY
    assert "metadataOptions.httpPutResponseHopLimit" in diagnostic.message


def test_config_reaches_the_rules(analyzer: Any) -> None:
    document = json.loads(baseline("runner_policy")["policy"])
    document["Statement"][1]["Resource"] = "arn:aws:s3:::not-allowed/*"
    diagnostics = _analyze(analyzer, "runner_policy", {"policy": json.dumps(document)})
    assert [d.policyName for d in diagnostics] == ["aws-iam-irsa-no-wildcard-s3"]
    hra = mutate(baseline("hra"), "spec.maxReplicas", 17)  # prod cap 16
    assert [d.policyName for d in _analyze(analyzer, "hra", hra)] == ["arc-hra-max-replicas-cap"]


def test_unknown_values_are_not_violations(analyzer: Any) -> None:
    inputs = mutate(baseline("launch_template"), "metadataOptions", UNKNOWN_SENTINELS["object"])
    assert _analyze(analyzer, "launch_template", inputs) == []
    role = {"assumeRolePolicy": UNKNOWN_SENTINELS["string"]}
    assert _analyze(analyzer, "irsa_role", role) == []


def test_stack_analysis(analyzer: Any) -> None:
    accounts = []
    for name in ("a", "b"):
        sa = baseline("service_account")
        sa["metadata"]["name"] = name
        accounts.append(
            analyzer_pb2.AnalyzerResource(
                type=TYPES["service_account"],
                name=name,
                urn=urn_for(TYPES["service_account"], name),
                properties=_struct(sa),
            )
        )
    response = analyzer.AnalyzeStack(
        analyzer_pb2.AnalyzeStackRequest(resources=accounts), timeout=30
    )
    names = [d.policyName for d in response.diagnostics]
    assert names == ["kubernetes-irsa-one-role-per-service-account"]


def test_a_silent_process_fails_at_the_deadline_instead_of_hanging() -> None:
    # Writes half a line (as an unflushed port would look) and then waits far past the deadline.
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.stdout.write('41'); time.sleep(60)"],
        stdout=subprocess.PIPE,
        env=_clean_environment(),
    )
    started = time.monotonic()
    try:
        with pytest.raises(AssertionError, match="no line from"):
            read_line(process, deadline_seconds=1.0)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert time.monotonic() - started < 30


def _analyze_typed(stub: Any, typ: str, inputs: dict[str, Any]) -> list[Any]:
    request = analyzer_pb2.AnalyzeRequest(
        type=typ, name="pool", urn=urn_for(typ, "pool"), properties=_struct(wire_properties(inputs))
    )
    return list(stub.Analyze(request, timeout=30).diagnostics)


def test_scale_set_rules_over_grpc(analyzer: Any) -> None:
    """The scale-set rules as the engine calls them: the chart's AutoscalingRunnerSet and the
    runner-set release, compliant and not, with prod's team caps."""
    ars = _through_prod_cache(scale_set_fixtures.render_set(scale_set_fixtures.BASE_VALUES))
    release = _through_prod_cache(scale_set_fixtures.release(scale_set_fixtures.BASE_VALUES))
    assert _analyze_typed(analyzer, scale_sets.AUTOSCALING_RUNNER_SET, ars) == []
    assert _analyze_typed(analyzer, "kubernetes:helm.sh/v3:Release", release) == []
    privileged = copy.deepcopy(ars)
    privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "privileged": True
    }
    (diagnostic,) = _analyze_typed(analyzer, scale_sets.AUTOSCALING_RUNNER_SET, privileged)
    assert diagnostic.policyName == "arc-scale-set-privileged-only-dind-sidecar"
    assert diagnostic.enforcementLevel == analyzer_pb2.EnforcementLevel.MANDATORY
    over = copy.deepcopy(ars)
    over["spec"]["maxRunners"] = 17  # payments' cap in prod is 16
    names = [
        d.policyName for d in _analyze_typed(analyzer, scale_sets.AUTOSCALING_RUNNER_SET, over)
    ]
    assert names == ["arc-scale-set-max-runners-cap"]
    inline = copy.deepcopy(release)
    inline["values"]["githubConfigSecret"] = {"github_token": "ghp_not_a_real_token"}
    diagnostics = _analyze_typed(analyzer, "kubernetes:helm.sh/v3:Release", inline)
    assert sorted(d.policyName for d in diagnostics) == [
        "arc-helm-no-auth-token-in-values",
        "arc-scale-set-github-secret-by-name",
    ]
    assert all("ghp_not_a_real_token" not in d.message for d in diagnostics)


def test_scale_set_charts_in_step_over_grpc(analyzer: Any) -> None:
    release_type = "kubernetes:helm.sh/v3:Release"
    controller = {
        "name": "arc-scale-sets",
        "chart": scale_sets.CONTROLLER_CHART,
        "version": "0.13.1",
        "namespace": "arc-scale-sets",
    }
    runner_set = scale_set_fixtures.release(scale_set_fixtures.BASE_VALUES)
    resources = [
        analyzer_pb2.AnalyzerResource(
            type=release_type,
            name=name,
            urn=urn_for(release_type, name),
            properties=_struct(wire_properties(inputs)),
        )
        for name, inputs in (("controller", controller), ("payments-build", runner_set))
    ]
    response = analyzer.AnalyzeStack(
        analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=30
    )
    (diagnostic,) = response.diagnostics
    assert diagnostic.policyName == "arc-scale-set-charts-in-step"
    assert diagnostic.urn == urn_for(release_type, "payments-build")
