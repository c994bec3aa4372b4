"""The real pack, as `pulumi preview --policy-pack policies` runs it: `policies/__main__.py` in a
subprocess serving the analyzer gRPC protocol; this test plays the engine's part (GetAnalyzerInfo,
Configure with the prod config, Analyze, AnalyzeStack)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from arc_eks import review_policies
from policies.arc_policies import registry
from policies.arc_policies.testing import UNKNOWN_SENTINELS, urn_for, wire_properties
from tests.policy_baselines import TYPES, baseline, mutate

PROJECT_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "policies" / "__main__.py")],
        stdout=subprocess.PIPE,
        cwd=PROJECT_DIR / "policies",
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().decode().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        stub.Configure(_configure_request("prod"))
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
    """What the CLI sends for --policy-pack-config policies/config/<env>.json."""
    config = review_policies.load_policy_config(
        review_policies.policy_config_path(PROJECT_DIR, env)
    )
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
    return list(stub.Analyze(request).diagnostics)


def test_pack_lists_every_rule_with_its_schema(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == registry.PACK_NAME
    assert {p.name for p in info.policies} == {r.name for r in registry.ALL_RULES}
    s3 = next(p for p in info.policies if p.name == "aws-iam-irsa-no-wildcard-s3")
    assert "allowedS3Buckets" in s3.configSchema.properties


def test_compliant_resources_pass(analyzer: Any) -> None:
    for kind in TYPES:
        inputs = baseline(kind)
        if kind == "eks_cluster":  # prod admits only the deploy runner's address
            inputs["publicAccessCidrs"] = ["198.51.100.10/32"]
        assert _analyze(analyzer, kind, inputs) == [], kind
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
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=accounts))
    names = [d.policyName for d in response.diagnostics]
    assert names == ["kubernetes-irsa-one-role-per-service-account"]
