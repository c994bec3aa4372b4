"""`make verify STACK=<env>`: after `pulumi up`, the deployed stack against its config.

Read-only, from the stack's outputs (`pulumi stack output --json --show-secrets`, as a file or on
stdin) and the same validated stack and team files the program read:

- with boto3: the cluster is ACTIVE at the pinned version with the configured endpoint access,
  every control-plane log type and Secrets encryption; every node group (AMI type, instance type,
  scaling bounds, taints, version); every pinned add-on; the OIDC provider matches the issuer;
  every pool role's trust policy is exactly the one the program writes; and every pool role is
  put through AWS's own policy evaluator (`iam:SimulatePrincipalPolicy`, with `s3:prefix`):
  allowed on its own grants, denied on other prefixes, other buckets and bucket policy/ACL changes;
- in the cluster, through the Kubernetes API with the stack's kubeconfig (arc_eks.ops.kube).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from arc_eks.builders.iam import IRSA_AUDIENCE, irsa_trust_policy
from arc_eks.builders.s3_grants import (
    ECR_PULL_ACTIONS,
    ECR_PUSH_ACTIONS,
    LIST_ACTION,
    bucket_arn,
    ecr_repository_arn,
    object_actions,
    objects_arn,
)
from arc_eks.components.cluster import CONTROL_PLANE_LOG_TYPES
from arc_eks.config.teams import ResolvedPool
from arc_eks.ops.checks import Aws, Report, checking
from arc_eks.ops.kube import InCluster
from arc_eks.ops.stackfile import NodeGroupExpectation, StackExpectations, load_expectations

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Objects the simulation asks about: names no grant could mean by accident.
PROBE_KEY = "arc-eks-verify-probe"
OTHER_PREFIX = "arc-eks-verify-other-prefix/"
CANARY_BUCKET = "arc-eks-verify-canary-bucket"
CANARY_REPOSITORY = "arc-eks-verify/canary"
BUCKET_ADMIN_ACTIONS = ("s3:PutBucketPolicy", "s3:PutBucketAcl", "s3:DeleteBucketPolicy")
ALLOWED = "allowed"


@dataclass(frozen=True)
class SimulationCase:
    """One question to AWS's policy evaluator for one role."""

    label: str
    actions: tuple[str, ...]
    resource: str
    allowed: bool
    s3_prefix: str | None = None


def ecr_cases(
    pool: ResolvedPool, stack_repositories: Iterable[str], *, region: str, account_id: str
) -> list[SimulationCase]:
    """What a pool's role must and must not be allowed in ECR: pull (and push) on its own
    repositories, no push where it only pulls, nothing on any other pool's or a canary's."""
    cases: list[SimulationCase] = []
    own = {grant.repository for grant in pool.spec.ecr}
    for grant in pool.spec.ecr:
        arn = ecr_repository_arn(region, account_id, grant.repository)
        actions = ECR_PUSH_ACTIONS if grant.access == "push" else ECR_PULL_ACTIONS
        cases.append(SimulationCase(f"{grant.access} {grant.repository}", actions, arn, True))
        if grant.access == "pull":
            push_only = tuple(a for a in ECR_PUSH_ACTIONS if a not in ECR_PULL_ACTIONS)
            cases.append(SimulationCase(f"push {grant.repository}", push_only, arn, False))
    for other in sorted({*stack_repositories, CANARY_REPOSITORY} - own):
        arn = ecr_repository_arn(region, account_id, other)
        cases.append(SimulationCase(f"repository {other}", ECR_PUSH_ACTIONS, arn, False))
    return cases


def simulation_cases(pool: ResolvedPool, stack_buckets: Iterable[str]) -> list[SimulationCase]:
    """What a pool's role must and must not be allowed in S3, from its grants."""
    cases: list[SimulationCase] = []
    own = {grant.bucket for grant in pool.s3}
    for grant in pool.s3:
        actions = tuple(object_actions(grant.access))
        cases.append(
            SimulationCase(
                f"{grant.access} {grant.bucket}/{grant.prefix}",
                actions,
                objects_arn(grant.bucket, grant.prefix).removesuffix("*") + PROBE_KEY,
                allowed=True,
            )
        )
        if grant.access in ("read", "readwrite"):
            cases.append(
                SimulationCase(
                    f"list {grant.bucket} under '{grant.prefix}'",
                    (LIST_ACTION,),
                    bucket_arn(grant.bucket),
                    allowed=True,
                    s3_prefix=grant.prefix,
                )
            )
        if grant.prefix:
            cases.append(
                SimulationCase(
                    f"objects of {grant.bucket} outside '{grant.prefix}'",
                    ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
                    objects_arn(grant.bucket, OTHER_PREFIX).removesuffix("*") + PROBE_KEY,
                    allowed=False,
                )
            )
            cases.append(
                SimulationCase(
                    f"list {grant.bucket} outside '{grant.prefix}'",
                    (LIST_ACTION,),
                    bucket_arn(grant.bucket),
                    allowed=False,
                    s3_prefix=OTHER_PREFIX,
                )
            )
        cases.append(
            SimulationCase(
                f"policy/ACL of {grant.bucket}",
                BUCKET_ADMIN_ACTIONS,
                bucket_arn(grant.bucket),
                allowed=False,
            )
        )
    for other in sorted({*stack_buckets, CANARY_BUCKET} - own):
        cases.append(
            SimulationCase(
                f"objects of {other}",
                ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
                objects_arn(other, "").removesuffix("*") + PROBE_KEY,
                allowed=False,
            )
        )
        cases.append(
            SimulationCase(
                f"list {other}", (LIST_ACTION,), bucket_arn(other), allowed=False, s3_prefix=""
            )
        )
    return cases


def load_outputs(source: str) -> dict[str, Any]:
    """`pulumi stack output --json` (a file path, or `-` for stdin)."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("stack outputs: expected a JSON object (pulumi stack output --json)")
    return document


def _normalise(value: Any) -> Any:
    """IAM treats a one-element list and its element alike; compare documents that way."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normalise(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=json.dumps)
    return value


def _decode_policy(value: Any) -> Any:
    """GetRole returns the trust policy decoded (boto3) or as URL-encoded JSON text."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


class Verify:
    """The AWS checks of a deployed stack."""

    def __init__(
        self, expected: StackExpectations, outputs: dict[str, Any], aws: Aws, report: Report
    ) -> None:
        self.expected = expected
        self.outputs = outputs
        self.aws = aws
        self.report = report
        self.cluster_name = str(outputs.get("clusterName") or expected.cluster_name)
        self.issuer: str | None = None

    def run(self) -> None:
        self.cluster()
        self.node_groups()
        self.addons()
        self.oidc_provider()
        self.pool_roles()

    # -- control plane ---------------------------------------------------------------------

    def cluster(self) -> None:
        name = f"cluster/{self.cluster_name}"
        with checking(self.report, name):
            cluster = self.aws.client("eks").describe_cluster(name=self.cluster_name)["cluster"]
            self.issuer = (cluster.get("identity", {}).get("oidc", {}) or {}).get("issuer")
            status = cluster.get("status")
            if status != "ACTIVE":
                self.report.fail(name, f"status {status}, not ACTIVE")
            else:
                self.report.ok(name, "ACTIVE")
            version = cluster.get("version")
            if version != self.expected.kubernetes_version:
                self.report.fail(
                    "cluster/version",
                    f"Kubernetes {version}; pinned {self.expected.kubernetes_version}",
                )
            else:
                self.report.ok("cluster/version", f"Kubernetes {version}")
            self._endpoint(cluster.get("resourcesVpcConfig", {}))
            self._logging(cluster.get("logging", {}))
            self._encryption(cluster.get("encryptionConfig", []))

    def _endpoint(self, vpc: dict[str, Any]) -> None:
        config = self.expected.stack.cluster
        problems = []
        if vpc.get("endpointPublicAccess") != config.endpoint_public_access:
            problems.append(
                f"public endpoint {vpc.get('endpointPublicAccess')}, configured "
                f"{config.endpoint_public_access}"
            )
        if vpc.get("endpointPrivateAccess") is not True:
            problems.append("private endpoint off")
        cidrs = sorted(vpc.get("publicAccessCidrs", []))
        if config.endpoint_public_access and cidrs != sorted(config.public_access_cidrs):
            problems.append(
                f"public access from {', '.join(cidrs)}, configured "
                f"{', '.join(sorted(config.public_access_cidrs))}"
            )
        if problems:
            self.report.fail("cluster/endpoint", "; ".join(problems))
            return
        where = (
            f"public from {', '.join(config.public_access_cidrs)} and private"
            if config.endpoint_public_access
            else "private only"
        )
        self.report.ok("cluster/endpoint", where)

    def _logging(self, logging: dict[str, Any]) -> None:
        enabled: set[str] = set()
        for entry in logging.get("clusterLogging", []):
            if entry.get("enabled"):
                enabled |= set(entry.get("types", []))
        missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
        if missing:
            self.report.fail("cluster/logging", f"log types off: {', '.join(missing)}")
        else:
            self.report.ok("cluster/logging", f"all of {', '.join(CONTROL_PLANE_LOG_TYPES)}")

    def _encryption(self, encryption: list[dict[str, Any]]) -> None:
        keys = [
            e.get("provider", {}).get("keyArn")
            for e in encryption
            if "secrets" in e.get("resources", [])
        ]
        keys = [k for k in keys if k]
        if not keys:
            self.report.fail("cluster/secrets-encryption", "Secrets are not KMS-encrypted")
        else:
            self.report.ok("cluster/secrets-encryption", f"Secrets encrypted with {keys[0]}")

    def node_groups(self) -> None:
        with checking(self.report, "node-groups"):
            eks = self.aws.client("eks")
            names: list[str] = []
            for page in eks.get_paginator("list_nodegroups").paginate(
                clusterName=self.cluster_name
            ):
                names += page.get("nodegroups", [])
            actual = [
                eks.describe_nodegroup(clusterName=self.cluster_name, nodegroupName=n)["nodegroup"]
                for n in names
            ]
            matched: set[str] = set()
            for group in self.expected.node_groups:
                found = [
                    g
                    for g in actual
                    if all(g.get("labels", {}).get(k) == v for k, v in group.labels.items())
                ]
                name = f"node-group/{group.name}"
                if not found:
                    self.report.fail(name, f"no node group with labels {group.labels}")
                    continue
                for g in found:
                    matched.add(g["nodegroupName"])
                    self._node_group(name, group, g)
            for extra in sorted(set(names) - matched):
                self.report.warn(f"node-group/{extra}", "not created by this stack's config")

    def _node_group(
        self, name: str, expected: NodeGroupExpectation, actual: dict[str, Any]
    ) -> None:
        problems = []
        if actual.get("status") != "ACTIVE":
            problems.append(f"status {actual.get('status')}")
        if tuple(actual.get("instanceTypes", [])) != expected.instance_types:
            problems.append(f"instance types {actual.get('instanceTypes')}")
        if actual.get("amiType") != expected.ami_type:
            problems.append(f"AMI type {actual.get('amiType')}, expected {expected.ami_type}")
        scaling = actual.get("scalingConfig", {})
        if (scaling.get("minSize"), scaling.get("maxSize")) != (
            expected.min_size,
            expected.max_size,
        ):
            problems.append(
                f"min/max {scaling.get('minSize')}/{scaling.get('maxSize')}, configured "
                f"{expected.min_size}/{expected.max_size}"
            )
        if actual.get("version") != self.expected.kubernetes_version:
            problems.append(f"Kubernetes {actual.get('version')}")
        taints = sorted(
            (t.get("key"), t.get("value"), t.get("effect")) for t in actual.get("taints", [])
        )
        wanted = sorted((t["key"], t["value"], t["effect"]) for t in expected.taints)
        if taints != wanted:
            problems.append(f"taints {taints}, expected {wanted}")
        label = f"{name} ({actual.get('nodegroupName')})"
        if problems:
            self.report.fail(label, "; ".join(problems))
        else:
            self.report.ok(
                label,
                f"{'/'.join(expected.instance_types)} {expected.ami_type}, "
                f"{expected.min_size}-{expected.max_size} nodes",
            )

    def addons(self) -> None:
        for addon, pinned in self.expected.addons.items():
            name = f"addon/{addon}"
            with checking(self.report, name):
                info = self.aws.client("eks").describe_addon(
                    clusterName=self.cluster_name, addonName=addon
                )["addon"]
                version, status = info.get("addonVersion"), info.get("status")
                if status != "ACTIVE":
                    self.report.fail(name, f"{version} status {status}, not ACTIVE")
                elif pinned is not None and version != pinned:
                    self.report.fail(name, f"{version}; pinned {pinned}")
                else:
                    self.report.ok(name, f"{version} ACTIVE")

    # -- IRSA ----------------------------------------------------------------------------------

    def oidc_provider(self) -> None:
        name = "oidc-provider"
        arn = self.outputs.get("oidcProviderArn")
        if not isinstance(arn, str) or self.issuer is None:
            self.report.fail(name, "no oidcProviderArn output or no cluster issuer to compare")
            return
        with checking(self.report, name):
            provider = self.aws.client("iam").get_open_id_connect_provider(
                OpenIDConnectProviderArn=arn
            )
            url = provider.get("Url", "").removeprefix("https://")
            issuer = self.issuer.removeprefix("https://")
            problems = []
            if url != issuer:
                problems.append(f"URL {url}, cluster issuer {issuer}")
            if IRSA_AUDIENCE not in provider.get("ClientIDList", []):
                problems.append(f"client ids {provider.get('ClientIDList')} lack {IRSA_AUDIENCE}")
            if problems:
                self.report.fail(name, "; ".join(problems))
            else:
                self.report.ok(name, f"{arn} matches the issuer, audience {IRSA_AUDIENCE}")

    def pool_roles(self) -> None:
        exported: dict[str, Any] = self.outputs.get("runnerPools") or {}
        buckets = [b.name for b in self.expected.buckets]
        for pool in self.expected.pools:
            name = f"pool-role/{pool.key}"
            entry = exported.get(pool.key)
            if not isinstance(entry, dict):
                self.report.fail(name, "missing from the runnerPools output (not deployed?)")
                continue
            role_arn = entry.get("roleArn")
            if not pool.has_aws_access:
                if role_arn:
                    self.report.fail(name, f"the pool has no grants but a role {role_arn}")
                else:
                    self.report.ok(name, "no AWS access, no role")
                continue
            if not isinstance(role_arn, str):
                self.report.fail(name, "the pool has grants but no role in the outputs")
                continue
            self._trust(name, pool, entry, role_arn)
            cases = simulation_cases(pool, buckets) if pool.s3 else []
            cases += ecr_cases(
                pool,
                [r.repository for r in self.expected.ecr_repositories],
                region=self.expected.region,
                account_id=role_arn.split(":")[4],
            )
            self._simulate(f"simulate/{pool.key}", role_arn, cases)

    def _trust(self, name: str, pool: ResolvedPool, entry: dict[str, Any], role_arn: str) -> None:
        arn = self.outputs.get("oidcProviderArn")
        if not isinstance(arn, str) or self.issuer is None:
            self.report.fail(name, "no OIDC provider/issuer to build the expected trust from")
            return
        with checking(self.report, name):
            role = self.aws.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
            actual = _decode_policy(role["AssumeRolePolicyDocument"])
            wanted = irsa_trust_policy(
                arn, self.issuer, str(entry.get("namespace")), str(entry.get("serviceAccount"))
            )
            if _normalise(actual) != _normalise(wanted):
                self.report.fail(
                    name,
                    f"trust policy of {role_arn} differs from the one for "
                    f"{entry.get('namespace')}/{entry.get('serviceAccount')} only: "
                    f"{json.dumps(actual, sort_keys=True)}",
                )
            else:
                self.report.ok(
                    name,
                    f"{role_arn} trusts exactly {entry.get('namespace')}/"
                    f"{entry.get('serviceAccount')} through the cluster's OIDC provider",
                )

    def _simulate(self, name: str, role_arn: str, cases: list[SimulationCase]) -> None:
        wrong: list[str] = []
        asked = 0
        with checking(self.report, name):
            iam = self.aws.client("iam")
            for case in cases:
                kwargs: dict[str, Any] = {
                    "PolicySourceArn": role_arn,
                    "ActionNames": list(case.actions),
                    "ResourceArns": [case.resource],
                }
                if case.s3_prefix is not None:
                    kwargs["ContextEntries"] = [
                        {
                            "ContextKeyName": "s3:prefix",
                            "ContextKeyValues": [case.s3_prefix],
                            "ContextKeyType": "string",
                        }
                    ]
                results = []
                for page in iam.get_paginator("simulate_principal_policy").paginate(**kwargs):
                    results += page.get("EvaluationResults", [])
                decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
                for action in case.actions:
                    asked += 1
                    decision = decisions.get(action, "(not evaluated)")
                    if (decision == ALLOWED) != case.allowed:
                        wrong.append(
                            f"{action} on {case.resource} ({case.label}): {decision}, expected "
                            f"{'allowed' if case.allowed else 'denied'}"
                        )
            if wrong:
                self.report.fail(
                    name, f"{len(wrong)} of {asked} decisions wrong: " + "; ".join(wrong)
                )
            else:
                allowed = sum(len(c.actions) for c in cases if c.allowed)
                self.report.ok(
                    name,
                    f"{allowed} allowed on its own grants, {asked - allowed} denied (other "
                    "prefixes, other buckets, bucket policy/ACL, other repositories)",
                )


def run(
    environment: str,
    *,
    stack_path: Path,
    teams_dir: Path,
    outputs: dict[str, Any],
    aws: Aws | None = None,
    kube: Any | None = None,
    pending_minutes: int = 10,
    in_cluster: bool = True,
) -> Report:
    """Every verify check of one deployed stack, as a report."""
    report = Report("verify", environment)
    expected, problems = load_expectations(stack_path, teams_dir, environment)
    if expected is None:
        for problem in problems:
            report.fail(
                f"config/{problem.source}",
                f"{problem.path}: got {problem.value}; expected {problem.expected}",
            )
        return report
    Verify(expected, outputs, aws or Aws(expected.region), report).run()
    if in_cluster:
        InCluster(expected, outputs, report, api_client=kube, pending_minutes=pending_minutes).run()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arc_eks.ops.verify", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack", required=True, help="environment / stack name, e.g. dev")
    parser.add_argument(
        "--outputs",
        required=True,
        help="`pulumi stack output --json --show-secrets` saved to a file, or - for stdin",
    )
    parser.add_argument("--stack-file", type=Path, help="default: stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--teams-dir", type=Path, help="default: teams/")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--pending-minutes",
        type=int,
        default=10,
        help="a runner pod Pending longer than this fails (default 10)",
    )
    parser.add_argument(
        "--no-cluster", action="store_true", help="skip the checks through the Kubernetes API"
    )
    args = parser.parse_args(argv)
    try:
        outputs = load_outputs(args.outputs)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the stack outputs: {error}", file=sys.stderr)
        return 2
    report = run(
        args.stack,
        stack_path=args.stack_file or PROJECT_DIR / "stacks" / f"Pulumi.{args.stack}.yaml",
        teams_dir=args.teams_dir or PROJECT_DIR / "teams",
        outputs=outputs,
        pending_minutes=args.pending_minutes,
        in_cluster=not args.no_cluster,
    )
    print(report.as_json() if args.json else report.text())
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
