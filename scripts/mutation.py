"""Mutation testing of the security-critical modules (`make mutation`), with cosmic-ray.

For each module below: copy the project (tracked and untracked-but-not-ignored files) to
build/mutation/<name>/, let cosmic-ray mutate that copy one change at a time (a flipped comparison,
`and` for `or`, a removed decorator, a changed number, ...) and run only the tests that reach the
module after each change, then print the module's score: the share of mutants some test caught.
The survivors (with their diff) go to build/mutation/<name>.survivors.txt; the ones that cannot
change behaviour are explained in docs/mutation-survivors.md.

The working tree itself is never mutated. One module at a time, one worker, at low priority (the
Makefile runs this under `nice`). Not part of `make test` or CI: a full run takes many minutes.

    python scripts/mutation.py                 # every module
    python scripts/mutation.py iam s3_grants   # only these (names from --list)
    python scripts/mutation.py --list
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import parso
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

PROJECT = Path(__file__).resolve().parents[1]
WORK = PROJECT / "build" / "mutation"
# Per mutant; a mutant that makes the tests run longer than this (a loop that never ends) counts
# as caught, the way cosmic-ray counts timeouts.
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    tests: tuple[str, ...]


# Each module with the test files that exercise it (narrow: every mutant runs these).
TARGETS = (
    Target(
        "iam",
        "arc_eks/builders/iam.py",
        (
            "tests/test_iam_documents.py",
            "tests/test_s3_grants.py",
            "tests/test_pools_components.py",
            "tests/test_platform_stack.py",
        ),
    ),
    Target(
        "irsa_trust",
        "arc_eks/components/irsa_trust.py",
        (
            "tests/test_iam_documents.py",
            "tests/test_pools_components.py",
            "tests/test_platform_stack.py",
        ),
    ),
    Target(
        "s3_grants",
        "arc_eks/builders/s3_grants.py",
        ("tests/test_s3_grants.py", "tests/test_pool_options.py"),
    ),
    Target(
        "policy_iam",
        "policies/arc_policies/iam.py",
        ("tests/test_policies_iam.py", "tests/test_policies.py"),
    ),
    Target(
        "policy_workloads",
        "policies/arc_policies/workloads.py",
        ("tests/test_policies_workloads.py", "tests/test_policies.py"),
    ),
    Target(
        "policy_scale_sets",
        "policies/arc_policies/scale_sets.py",
        ("tests/test_policies_scale_sets.py",),
    ),
    Target(
        "policy_isolation",
        "policies/arc_policies/isolation.py",
        (
            "tests/test_isolation_rule_units.py",
            "tests/test_isolation_stack_rule_units.py",
            "tests/test_isolation_policies.py",
            "tests/test_policies_scale_sets.py",
        ),
    ),
    Target(
        "pool_spec",
        "arc_eks/config/pool_spec.py",
        ("tests/test_pool_spec.py", "tests/test_pool_options.py", "tests/test_teams_config.py"),
    ),
    Target(
        "stack",
        "arc_eks/config/stack.py",
        (
            "tests/test_stack_model.py",
            "tests/test_stack_model_limits.py",
            "tests/test_stack_config.py",
            "tests/test_teams_config.py",
        ),
    ),
    # The unit tests first (fast, and `-x` stops at the first failure), then the whole-program
    # tests under Pulumi mocks that check the same code wired in.
    Target(
        "access",
        "arc_eks/access.py",
        ("tests/test_access_rules.py", "tests/test_cluster_access.py"),
    ),
    Target(
        "network_policy",
        "arc_eks/builders/network_policy.py",
        ("tests/test_network_policy_documents.py", "tests/test_isolation.py"),
    ),
    Target(
        "admission",
        "arc_eks/builders/admission.py",
        ("tests/test_admission_policy.py", "tests/test_isolation.py"),
    ),
    # The node role's ECR pull-through statements and the image rewrite (#17); the placement of
    # pools on node groups by isolation class (#10).
    Target(
        "registry",
        "arc_eks/builders/registry.py",
        (
            "tests/test_registry_builder.py",
            "tests/test_image_cache.py",
            "tests/test_dind_mirror.py",
        ),
    ),
    Target(
        "node_groups",
        "arc_eks/builders/node_groups.py",
        (
            "tests/test_node_groups_builder.py",
            "tests/test_node_groups.py",
            "tests/test_isolation.py",
        ),
    ),
    # The chart rules read objects rendered from the pinned charts: unit tests on hand-built
    # objects first, then the rendered controller charts of a fixture program.
    Target(
        "policy_charts",
        "policies/arc_policies/charts.py",
        ("tests/test_chart_rules_units.py", "tests/test_helm_render.py"),
    ),
    Target(
        "policy_helm",
        "policies/arc_policies/helm.py",
        ("tests/test_helm_rules_units.py", "tests/test_policies.py"),
    ),
    Target(
        "policy_image_cache",
        "policies/arc_policies/image_cache.py",
        ("tests/test_image_cache_rule_units.py", "tests/test_policies_image_cache.py"),
    ),
    Target(
        "policy_autoscalers",
        "policies/arc_policies/autoscalers.py",
        (
            "tests/test_autoscaler_rules_units.py",
            "tests/test_policies.py",
            "tests/test_policy_hra_scale_up.py",
        ),
    ),
    # The node role's trust and managed policies, cluster-autoscaler's tag-scoped writes; the
    # runner pods of both pool kinds (the dind sidecar's privileges, tokens, volumes, placement).
    Target(
        "node_iam",
        "arc_eks/builders/node_iam.py",
        ("tests/test_node_iam_documents.py", "tests/test_platform_stack.py"),
    ),
    Target(
        "runner",
        "arc_eks/builders/runner.py",
        (
            "tests/test_runner_builder_units.py",
            "tests/test_runner_manifests.py",
            "tests/test_pool_options.py",
            "tests/test_dind_startup.py",
            "tests/test_isolation.py",
        ),
    ),
    Target(
        "scale_set",
        "arc_eks/builders/scale_set.py",
        (
            "tests/test_scale_set_builder_units.py",
            "tests/test_scale_sets.py",
            "tests/test_policies_scale_sets_program.py",
        ),
    ),
    # The cluster and node rules (control plane, node groups, launch templates), the stack rules
    # (one role per ServiceAccount, capacity) and the helpers every rule reads values with.
    Target(
        "policy_cluster",
        "policies/arc_policies/cluster.py",
        ("tests/test_cluster_rule_units.py", "tests/test_policies.py"),
    ),
    Target(
        "policy_nodes",
        "policies/arc_policies/nodes.py",
        ("tests/test_node_rule_units.py", "tests/test_policies.py"),
    ),
    Target(
        "policy_stack",
        "policies/arc_policies/stack.py",
        ("tests/test_stack_rule_units.py", "tests/test_policies_stack.py"),
    ),
    Target(
        "policy_quantities",
        "policies/arc_policies/quantities.py",
        (
            "tests/test_policy_quantities_units.py",
            "tests/test_stack_rule_units.py",
            "tests/test_policies_stack.py",
        ),
    ),
    Target(
        "policy_support",
        "policies/arc_policies/_support.py",
        (
            "tests/test_policy_support_units.py",
            "tests/test_policies_workloads.py",
            "tests/test_policies_iam.py",
            "tests/test_isolation_rule_units.py",
            "tests/test_policies.py",
        ),
    ),
)


def _project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    return [f for f in listed.split("\0") if f and (PROJECT / f).is_file()]


def _copy_project(target: Target) -> Path:
    """A fresh copy at build/mutation/<name>/; ../shared beside it, as beside the project, and the
    chart cache linked in."""
    WORK.mkdir(parents=True, exist_ok=True)
    shared = WORK / "shared"
    if not shared.exists() and (PROJECT.parent / "shared").exists():
        shared.symlink_to((PROJECT.parent / "shared").resolve())
    copy = WORK / target.name
    shutil.rmtree(copy, ignore_errors=True)
    for name in _project_files():
        destination = copy / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / name, destination)
    # The chart cache (git-ignored; `make charts` fills it): tests that render charts read it at
    # <project>/.cache/charts.
    charts = PROJECT / ".cache" / "charts"
    if charts.is_dir():
        (copy / ".cache").mkdir()
        (copy / ".cache" / "charts").symlink_to(charts.resolve())
    return copy


def _test_command(target: Target) -> str:
    tests = [t for t in target.tests if (PROJECT / t).is_file()]
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider"]
    return shlex.join([*pytest, *tests])


def _config(target: Target) -> str:
    command = _test_command(target).replace("\\", "\\\\").replace('"', '\\"')
    return textwrap.dedent(
        f"""\
        [cosmic-ray]
        module-path = "{target.module}"
        timeout = {TIMEOUT_SECONDS}.0
        excluded-modules = []
        test-command = "{command}"

        [cosmic-ray.distributor]
        name = "local"
        """
    )


def _cosmic_ray(copy: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "mutation_operators.py"), *args],
        cwd=copy,
        env=env,
        check=True,
    )


Span = tuple[tuple[int, int], tuple[int, int]]


def _inside_function(node: Any) -> bool:
    parent = node.parent
    while parent is not None and parent.type not in ("funcdef", "classdef"):
        parent = parent.parent
    return parent is not None and parent.type == "funcdef"


def _unevaluated_annotations(source: str) -> list[Span]:
    """Where a mutation cannot change behaviour: under `from __future__ import annotations`, the
    annotations of function parameters, return values and local variables are never evaluated
    (nothing here introspects function annotations), and the bare `*` of a signature only makes
    the following parameters keyword-only (every call passes them by keyword). Class-level
    annotations are NOT in this list: pydantic evaluates them."""
    if "from __future__ import annotations" not in source:
        return []
    spans: list[Span] = []
    tree = parso.parse(source)

    def walk(node: Any) -> None:
        if node.type == "funcdef":
            for child in node.children[2].children:
                if child.type == "operator" and child.value == "*":
                    spans.append((child.start_pos, child.end_pos))
                elif child.type == "param" and child.annotation is not None:
                    spans.append((child.annotation.start_pos, child.annotation.end_pos))
            if node.annotation is not None:
                spans.append((node.annotation.start_pos, node.annotation.end_pos))
        if node.type == "annassign" and _inside_function(node):
            annotation = node.children[1]
            spans.append((annotation.start_pos, annotation.end_pos))
        for child in getattr(node, "children", ()):
            walk(child)

    walk(tree)
    return spans


def _skip_annotation_mutants(copy: Path, target: Target, session: Path) -> int:
    spans = _unevaluated_annotations((copy / target.module).read_text())
    skipped = 0
    with use_db(str(session)) as db:
        for item in list(db.pending_work_items):
            if all(
                any(a <= m.start_pos and m.end_pos <= b for a, b in spans) for m in item.mutations
            ):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
                skipped += 1
    return skipped


@dataclass(frozen=True)
class Score:
    total: int
    killed: int
    survivors: list[str]

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def _score(session: Path, spans: list[Span]) -> Score:
    """Caught share of the mutants that ran (a timeout counts as caught, as in cosmic-ray)."""
    survivors: list[str] = []
    total = killed = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED or all(
                any(a <= m.start_pos and m.end_pos <= b for a, b in spans) for m in item.mutations
            ):
                continue
            total += 1
            if result.test_outcome != TestOutcome.SURVIVED:
                killed += 1
                continue
            for mutation in item.mutations:
                line = mutation.start_pos[0]
                survivors.append(
                    f"{mutation.module_path}:{line} {mutation.operator_name} "
                    f"(occurrence {mutation.occurrence})\n{result.diff or ''}"
                )
    return Score(total, killed, survivors)


def _changed_lines(module: str, since: str) -> set[int]:
    """Line numbers of `module` (as in the work tree) added or changed since commit `since`."""
    diff = subprocess.run(
        ["git", "diff", "--unified=0", "--no-color", since, "--", module],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    lines: set[int] = set()
    for hunk in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.MULTILINE):
        start, count = int(hunk.group(1)), int(hunk.group(2) or "1")
        lines.update(range(start, start + count))
    return lines


def _skip_unchanged_mutants(session: Path, changed: set[int]) -> int:
    """Mark every pending mutant that touches no changed line as skipped (not run, not scored)."""
    skipped = 0
    with use_db(str(session)) as db:
        for item in list(db.pending_work_items):
            if not any(
                changed & set(range(m.start_pos[0], m.end_pos[0] + 1)) for m in item.mutations
            ):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
                skipped += 1
    return skipped


MutantKey = tuple[str, str, int]


def _earlier_results(target: Target) -> tuple[str, dict[MutantKey, WorkResult]]:
    """The module text and every mutant's result of the earlier run in build/mutation/<name>/."""
    copy = WORK / target.name
    session = copy / "session.sqlite"
    if not session.is_file():
        sys.exit(f"{target.name}: no earlier run in {copy} to retry the survivors of")
    results: dict[MutantKey, WorkResult] = {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            for m in item.mutations:
                results[(str(m.module_path), m.operator_name, m.occurrence)] = result
    return (copy / target.module).read_text(), results


def _reuse_caught(session: Path, earlier: dict[MutantKey, WorkResult]) -> int:
    """Record the earlier result of every mutant the earlier run caught instead of running it."""
    reused = 0
    with use_db(str(session)) as db:
        for item in list(db.pending_work_items):
            found = [
                earlier.get((str(m.module_path), m.operator_name, m.occurrence))
                for m in item.mutations
            ]
            if found and all(
                r is not None
                and r.worker_outcome != WorkerOutcome.SKIPPED
                and r.test_outcome != TestOutcome.SURVIVED
                for r in found
            ):
                db.set_result(item.job_id, found[0])
                reused += 1
    return reused


def run(target: Target, since: str | None = None, retry: bool = False) -> Score:
    changed = _changed_lines(target.module, since) if since else None
    earlier = _earlier_results(target) if retry else None
    if earlier is not None and earlier[0] != (PROJECT / target.module).read_text():
        sys.exit(
            f"{target.name}: {target.module} changed since the earlier run, so its mutants are "
            "not the same: run it in full (or with --since)"
        )
    copy = _copy_project(target)
    config = copy / "mutation.toml"
    config.write_text(_config(target))
    session = copy / "session.sqlite"
    # The tests must pass on the unmutated copy, or every mutant would look caught.
    baseline = subprocess.run(
        shlex.split(_test_command(target)),
        cwd=copy,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS * 5,
        check=False,
    )
    if baseline.returncode != 0:
        sys.exit(f"{target.name}: the tests fail before any mutation:\n{baseline.stdout[-3000:]}")
    _cosmic_ray(copy, "init", config.name, session.name)
    skipped = _skip_annotation_mutants(copy, target, session)
    print(f"{target.name}: {skipped} mutants in unevaluated annotations not run", flush=True)
    if changed is not None:
        unchanged = _skip_unchanged_mutants(session, changed)
        print(f"{target.name}: {unchanged} mutants on lines unchanged since {since} not run")
    if earlier is not None:
        reused = _reuse_caught(session, earlier[1])
        print(f"{target.name}: {reused} mutants caught by the earlier run not run again")
    _cosmic_ray(copy, "exec", config.name, session.name)
    score = _score(session, _unevaluated_annotations((copy / target.module).read_text()))
    report = WORK / f"{target.name}.survivors.txt"
    report.write_text("\n".join(score.survivors))
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the targets and their tests")
    parser.add_argument(
        "--rescore",
        metavar="DIR",
        type=Path,
        help="only score finished sessions under DIR (a build/mutation of an earlier run)",
    )
    parser.add_argument(
        "--since",
        metavar="REV",
        help="only the mutants on lines added or changed since commit REV (a quick check of a "
        "change; the module's score is the full run's)",
    )
    parser.add_argument(
        "--retry",
        action="store_true",
        help="run only the survivors of the earlier run in build/mutation/<name>/ against the "
        "current tests (the module must be unchanged; mutants it caught count as caught)",
    )
    args = parser.parse_args(argv)
    by_name = {t.name: t for t in TARGETS}
    if args.list:
        for t in TARGETS:
            print(f"{t.name:18} {t.module:40} {' '.join(t.tests)}")
        return 0
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {sorted(by_name)}")
    chosen = [by_name[n] for n in args.names] or list(TARGETS)
    results: list[tuple[Target, Score]] = []
    for target in chosen:
        if args.rescore:
            copy = args.rescore / target.name
            spans = _unevaluated_annotations((copy / target.module).read_text())
            score = _score(copy / "session.sqlite", spans)
        else:
            print(f"== {target.name}: mutating {target.module}", flush=True)
            score = run(target, args.since, args.retry)
        results.append((target, score))
        print(
            f"{target.name}: {score.percent:.1f}% ({score.killed}/{score.total} caught, "
            f"{len(score.survivors)} survived: build/mutation/{target.name}.survivors.txt)",
            flush=True,
        )
    print("\nmutation score per module")
    for target, score in results:
        print(f"  {target.module:40} {score.percent:5.1f}%  {score.killed:4}/{score.total:<4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
