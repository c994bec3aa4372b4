"""Offline review of one environment: `python -m arc_eks.review --stack dev` (`make review`).

No AWS credentials and no Pulumi CLI (run from the project folder, or give `--project-dir`):
the program runs under Pulumi mocks with the stack's real config (stacks/Pulumi.<env>.yaml,
placeholder values for its secrets) and the team files. Then:

1. prints the planned resources (type, name, the inputs that matter);
2. renders every Helm release with Helm's engine from the pinned chart (`helm_render`), and writes
   the Kubernetes manifests, the rendered chart objects, IAM documents and Helm values it would
   apply, secrets masked, to build/review/<env>/;
3. validates them: CustomResources against the CRDs the pinned charts ship (the chart cache,
   `make charts`; a chart missing from it is an error),
   built-in kinds with kubernetes_validate (strict), IAM permission policies with parliament;
4. runs every rule of the policy pack with the environment's policy config, generated from the
   stack file as `make preview`/`make up` generate it (`policy_config`), on the program's
   resources and the rendered chart objects;
5. prints a summary and writes summary.json (`review.summary`) on every exit path; exits 1 on a
   mandatory violation or an invalid object, 2 if the stack config, a team file or the policy
   config is invalid or a pinned chart is not cached, 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel

from arc_eks import program, resource_graph
from arc_eks.config.loader import NAMESPACE, SECRET_KEYS
from arc_eks.errors import ConfigError
from arc_eks.review import artifacts as review_artifacts
from arc_eks.review import charts, helm_render, image_sources
from arc_eks.review import policies as review_policies
from arc_eks.review import policy_config as policy_config_module
from arc_eks.review import summary as review_summary
from arc_eks.review.offline import (
    OFFLINE_SECRET_PREFIX,
    CapturedResource,
    config_map_from_stack_file,
    run_program,
    stack_file,
)
from arc_eks.review.sources import origin_of, team_file_origins

MASK = review_artifacts.MASK

# The inputs worth a reviewer's eye, per type (dotted paths into the camelCase inputs).
HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"),
    "aws:kms/key:Key": ("enableKeyRotation", "deletionWindowInDays"),
    "eks:index:Cluster": (
        "name",
        "version",
        "endpointPublicAccess",
        "publicAccessCidrs",
        "authenticationMode",
        "enabledClusterLogTypes",
        "encryptionConfigKeyArn",
    ),
    "eks:index:ManagedNodeGroup": ("instanceTypes", "amiType", "scalingConfig", "launchTemplate"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("metadataOptions", "blockDeviceMappings"),
    "aws:iam/role:Role": ("name", "assumeRolePolicy"),
    "aws:iam/rolePolicy:RolePolicy": ("name", "policy"),
    "aws:iam/policy:Policy": ("name", "policy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "kubernetes:helm.sh/v3:Release": ("chart", "version", "namespace"),
    "kubernetes:core/v1:Namespace": ("metadata.name", "metadata.labels"),
    "kubernetes:core/v1:ServiceAccount": (
        "metadata.namespace",
        "metadata.name",
        "metadata.annotations",
    ),
    "kubernetes:core/v1:Secret": ("metadata.namespace", "metadata.name", "stringData", "data"),
    "kubernetes:actions.summerwind.dev/v1alpha1:RunnerDeployment": (
        "metadata.namespace",
        "metadata.name",
        "spec.template.spec.image",
        "spec.template.spec.labels",
        "spec.template.spec.serviceAccountName",
        "spec.template.spec.resources.requests",
    ),
    "kubernetes:actions.summerwind.dev/v1alpha1:HorizontalRunnerAutoscaler": (
        "metadata.namespace",
        "spec.minReplicas",
        "spec.maxReplicas",
        "spec.metrics",
    ),
}
_DETAIL_CHARS = 160


@dataclass
class ReviewResult:
    """Everything one review found; `exit_code` is what the command returns."""

    stack: str
    resources: list[CapturedResource] = field(default_factory=list)
    rendered: list[CapturedResource] = field(default_factory=list)
    """The objects the Helm releases create, rendered from the pinned charts."""
    artifacts: list[review_artifacts.Artifact] = field(default_factory=list)
    validation: review_artifacts.ValidationReport = field(
        default_factory=review_artifacts.ValidationReport
    )
    findings: list[review_policies.PolicyFinding] = field(default_factory=list)
    policy_levels: dict[str, EnforcementLevel] = field(default_factory=dict)
    config_errors: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def mandatory(self) -> list[review_policies.PolicyFinding]:
        return [f for f in self.findings if f.level == EnforcementLevel.MANDATORY and not f.skipped]

    @property
    def advisory(self) -> list[review_policies.PolicyFinding]:
        return [f for f in self.findings if f.level == EnforcementLevel.ADVISORY and not f.skipped]

    @property
    def exit_code(self) -> int:
        if self.config_errors:
            return 2
        return 1 if self.mandatory or self.validation.errors else 0


def offline_config(
    project_dir: Path, stack: str, set_config: Mapping[str, Any] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The stack file's config as the engine passes it, placeholders for the secrets it needs."""
    config, secret_keys = config_map_from_stack_file(stack_file(project_dir, stack))
    for key, value in (set_config or {}).items():
        config[key] = value if isinstance(value, str) else json.dumps(value)
    placeholders = {
        f"{NAMESPACE}:{key}": f"{OFFLINE_SECRET_PREFIX}{key}"
        for key in SECRET_KEYS
        if f"{NAMESPACE}:{key}" not in config
    }
    config.update(placeholders)
    return config, sorted(set(secret_keys) | set(placeholders))


def run_review(
    stack: str,
    *,
    project_dir: Path,
    teams_dir: Path | None = None,
    out_dir: Path | None = None,
    set_config: Mapping[str, Any] | None = None,
    policy_config: Path | None = None,
    chart_cache: Path | None = None,
    check_ignored_values: bool = True,
) -> ReviewResult:
    """Run the program offline, then validate and police what it would create. Writes the
    artifacts only when `out_dir` is given. `check_ignored_values` renders each release once per
    value it sets to prove the chart reads it (seconds for ARC; tests turn it off where they
    check something else)."""
    result = ReviewResult(stack=stack, out_dir=out_dir)
    try:
        _review(
            result,
            project_dir=project_dir,
            teams_dir=teams_dir,
            set_config=set_config,
            policy_config=policy_config,
            chart_cache=chart_cache,
            check_ignored_values=check_ignored_values,
        )
    finally:
        # Every exit path, an exception included: never leave an earlier run's summary in place.
        if out_dir is not None:
            review_summary.write(review_summary.build(result), out_dir)
    return result


def _review(
    result: ReviewResult,
    *,
    project_dir: Path,
    teams_dir: Path | None,
    set_config: Mapping[str, Any] | None,
    policy_config: Path | None,
    chart_cache: Path | None,
    check_ignored_values: bool,
) -> None:
    stack, out_dir = result.stack, result.out_dir
    if out_dir is not None:
        review_artifacts.write([], out_dir)  # no file of an earlier review survives this one
    started = time.perf_counter()
    try:
        # The stack file's own problems (duplicate keys, unknown top-level keys, ...) too.
        config, secret_keys = offline_config(project_dir, stack, set_config)
        run = run_program(
            lambda: program.main(project_dir=project_dir, teams_dir=teams_dir),
            config=config,
            secret_keys=secret_keys,
            stack=stack,
        )
    except ConfigError as error:
        result.config_errors.append(str(error))
        return
    result.resources = run.resources
    result.timings["program"] = time.perf_counter() - started

    mark = time.perf_counter()
    cache = chart_cache or charts.cache_dir_of(project_dir)
    try:
        crds = review_artifacts.chart_crd_validators(cache)
        rendering = helm_render.render_all(run.resources, cache, check_ignored=check_ignored_values)
    except charts.ChartCacheError as error:
        result.config_errors.append(str(error))
        return
    result.rendered = rendering.resources
    result.timings["render"] = time.perf_counter() - mark

    mark = time.perf_counter()
    result.artifacts = review_artifacts.collect(run.resources)
    result.artifacts += review_artifacts.rendered(rendering.resources)
    if out_dir is not None:
        review_artifacts.write(result.artifacts, out_dir)
    crds = crds + review_artifacts.crd_validators(rendering.crd_texts)
    result.validation = review_artifacts.validate(result.artifacts, crds)
    result.validation.errors += rendering.errors
    result.validation.errors += [p.render() for p in resource_graph.in_cluster_order_problems(run)]
    result.validation.errors += [p.render() for p in resource_graph.image_cache_order_problems(run)]
    result.timings["artifacts"] = time.perf_counter() - mark

    mark = time.perf_counter()
    # The config `pulumi preview` gets from scripts/deploy.sh: generated from the stack file.
    config_path = policy_config or Path(f"(generated from stacks/Pulumi.{stack}.yaml)")
    try:
        if policy_config is not None:
            pack_config = review_policies.load_policy_config(policy_config)
        else:
            pack_config = policy_config_module.generate(project_dir, stack, set_config)
    except (OSError, ValueError) as error:
        result.config_errors.append(f"policy config {config_path}: {error}")
        return
    except ConfigError as error:
        result.config_errors.append(str(error))
        return
    policies, result.findings = review_policies.run_policies(
        [*run.resources, *result.rendered], pack_config
    )
    # A violation caused by a team file names that file and pool.
    origins = team_file_origins(teams_dir or project_dir / "teams")
    result.findings = [
        replace(f, message=f"{f.message} (from {origin})")
        if (origin := origin_of(f.urn, origins))
        else f
        for f in result.findings
    ]
    result.config_errors += [
        f"{config_path}: {p}" for p in review_policies.config_problems(pack_config, policies)
    ]
    result.policy_levels = {p.name: review_policies.enforcement(p, pack_config) for p in policies}
    result.timings["policies"] = time.perf_counter() - mark


def _lookup(inputs: Any, path: str) -> Any:
    node = inputs
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def highlights(resource: CapturedResource) -> str:
    keys = HIGHLIGHTS.get(resource.type, ())
    inputs = review_artifacts.integral(resource.plain_inputs(mask=MASK))
    parts = []
    for key in keys:
        value = _lookup(inputs, key)
        if value is None:
            continue
        if resource.type == "kubernetes:core/v1:Secret" and key in ("stringData", "data"):
            value = review_artifacts.masked_secret_data(resource).get(key, MASK)
        if isinstance(value, str) and value.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):  # IAM documents: show them compact
                value = json.loads(value)
        parts.append(f"{key.rsplit('.', 1)[-1]}={json.dumps(value, separators=(',', ':'))}")
    text = " ".join(parts)
    if resource.protect:
        text = f"[protect] {text}"
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."


def render(result: ReviewResult, *, show_plan: bool = True) -> str:
    lines = [f"arc-eks offline review: stack {result.stack}"]
    if result.config_errors and not result.resources:
        lines.append("INVALID CONFIGURATION (nothing was planned):")
        lines += [f"  {line}" for line in "\n".join(result.config_errors).splitlines()]
        return "\n".join(lines)
    counts = Counter(r.type for r in result.resources)
    lines.append(f"\nPlanned resources: {len(result.resources)} ({len(counts)} types)")
    if show_plan:
        width = max((len(r.type) for r in result.resources), default=10)
        name_width = max((len(r.name) for r in result.resources), default=10)
        for resource in sorted(result.resources, key=lambda r: (r.type, r.name)):
            lines.append(
                f"  {resource.type:<{width}}  {resource.name:<{name_width}}  {highlights(resource)}"
            )
    lines += ["", *resource_graph.describe_critical_path(result.resources)]
    kinds = Counter(a.kind for a in result.artifacts)
    charted = len(result.rendered)
    where = f" written to {result.out_dir}/" if result.out_dir is not None else " (not written)"
    lines.append(
        f"\nArtifacts{where}: {kinds['kubernetes'] - charted} Kubernetes manifests, {charted} "
        f"objects rendered from {kinds['helm']} Helm releases, {kinds['iam']} IAM documents, "
        f"{kinds['helm']} Helm values (secrets masked)"
    )
    lines.append("\nValidation:")
    for what, count in result.validation.checked.items():
        lines.append(f"  checked {count} {what}")
    lines += [f"  WARN    {w}" for w in result.validation.warnings]
    lines += [f"  INVALID {e}" for e in result.validation.errors]
    levels = Counter(level.value for level in result.policy_levels.values())
    lines.append(
        f"\nPolicies: {len(result.policy_levels)} rules ("
        + ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
        + ")"
    )
    for finding in sorted(result.findings, key=lambda f: (f.level.value != "mandatory", f.policy)):
        tag = "SKIPPED  " if finding.skipped else f"{finding.level.value.upper():<9}"
        lines.append(f"  {tag} [{finding.policy}] {finding.message}")
    lines += [f"  CONFIG   {e}" for e in result.config_errors]
    admins = review_summary.cluster_admins(result)
    lines.append(f"\nCluster admins: {len(admins)}")
    lines += [f"  {a['subject']}  ({a['via']})" for a in admins]
    lines.append("\nNamespaces (Pod Security enforce level):")
    lines += [
        f"  {n['name']}: {n['podSecurity']['enforce']}" for n in review_summary.namespaces(result)
    ]
    lines.append("\nImages (where each pool's and the platform's images come from):")
    lines += image_sources.render_lines(image_sources.image_uses(result.resources, result.rendered))
    verdict = {0: "PASS", 1: "FAIL", 2: "INVALID CONFIGURATION"}[result.exit_code]
    lines.append(
        f"\nSummary: {len(result.mandatory)} mandatory violation(s), {len(result.advisory)} "
        f"advisory, {len(result.validation.errors)} invalid object(s), "
        f"{len(result.config_errors)} config problem(s) -> {verdict}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arc_eks.review",
        description="Offline review of one environment: plan, manifests, validation, policies.",
    )
    parser.add_argument("--stack", required=True, help="environment: dev, staging, prod")
    parser.add_argument("--teams-dir", type=Path, default=None, help="team files (default teams/)")
    parser.add_argument(
        "--out", type=Path, default=None, help="artifact folder (default build/review/<stack>/)"
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="the project folder with stacks/, teams/ and policies/ (default: the current folder)",
    )
    args = parser.parse_args(argv)
    project_dir = args.project_dir.resolve()
    out_dir = args.out or project_dir / "build" / "review" / args.stack
    if not stack_file(project_dir, args.stack).is_file():
        missing = ReviewResult(stack=args.stack, out_dir=out_dir)
        missing.config_errors.append(f"no stack file {stack_file(project_dir, args.stack)}")
        review_summary.write(review_summary.build(missing), out_dir)
        print(render(missing))
        return missing.exit_code
    result = run_review(
        args.stack, project_dir=project_dir, teams_dir=args.teams_dir, out_dir=out_dir
    )
    print(render(result))
    return result.exit_code
