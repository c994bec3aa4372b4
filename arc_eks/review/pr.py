"""A pull request's review, for .github/workflows/review.yml: which stacks a change affects, and the
markdown summary of what it adds, changes and removes, diffed against the base branch.

    python -m arc_eks.review.pr affected --base base --head head
        the environments to review, one per line (from the files that differ between the two
        checkouts: a stack file -> its environment; a team file -> every environment its pools
        name, before or after; anything else -> every stack)
    python -m arc_eks.review.pr summary --base build/base --head build/head dev prod
        markdown from each stack's two summary.json (`review.summary`); exits with the worst
        exit code of the head reviews, so the check fails where the review fails

Values from team and stack files are shown inside code spans with backticks and line breaks
replaced, so a file cannot inject markdown or HTML into the summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from arc_eks.review.summary import FILE_NAME

# Not part of the project's content: tools' output and caches.
SKIPPED_DIRS = {".git", ".venv", ".cache", "build", "__pycache__", ".mypy_cache", ".ruff_cache"}
SKIPPED_DIRS |= {".pytest_cache", "node_modules", "venv"}
# Files whose change cannot alter a review: documentation and tests.
NO_REVIEW_PREFIXES = ("docs/", "tests/", ".github/", "examples/")
NO_REVIEW_SUFFIXES = (".md",)
MAX_CHANGED_FIELDS = 12
MAX_LIST = 60
MAX_CHARS_PER_STACK = 60_000
ENVIRONMENT = re.compile(r"[a-z][a-z0-9-]{1,15}")
LEVEL_ORDER = {"privileged": 0, "baseline": 1, "restricted": 2}


# --- which stacks -------------------------------------------------------------------------------


def _files(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def changed_files(base: Path, head: Path) -> list[str]:
    """Project files added, removed or changed between two checkouts."""
    before, after = _files(base), _files(head)
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def stacks_of(root: Path) -> set[str]:
    """The environments with a stack file (names as the stack model allows them, nothing else)."""
    names = {
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in (root / "stacks").glob("Pulumi.*.yaml")
    }
    return {n for n in names if ENVIRONMENT.fullmatch(n)}


def _team_environments(path: Path) -> set[str] | None:
    """The environments a team file's pools name; None when the file cannot tell."""
    if not path.is_file():
        return set()
    try:
        document = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("pools"), list):
        return None
    out: set[str] = set()
    for pool in document["pools"]:
        envs = pool.get("environments") if isinstance(pool, dict) else None
        if isinstance(envs, list | dict):
            out |= {str(e) for e in envs}
        else:
            return None
    return out


def affected_stacks(base: Path, head: Path) -> list[str]:
    """The environments whose review a change between `base` and `head` can alter."""
    every = stacks_of(base) | stacks_of(head)
    out: set[str] = set()
    for path in changed_files(base, head):
        if path.startswith(NO_REVIEW_PREFIXES) or path.endswith(NO_REVIEW_SUFFIXES):
            continue
        if path.startswith("stacks/Pulumi.") and path.endswith(".yaml") and path.count("/") == 1:
            out.add(path.removeprefix("stacks/Pulumi.").removesuffix(".yaml"))
        elif path.startswith("teams/") and path.count("/") == 1:
            named = [_team_environments(root / path) for root in (base, head)]
            if any(n is None for n in named):
                return sorted(every)  # unreadable: the review of every stack says why
            out |= {e for n in named if n for e in n}
        else:
            return sorted(every)
    return sorted(out & every)


# --- the markdown ---------------------------------------------------------------------------------


def code(value: Any, limit: int = 200) -> str:
    """A value as an inline code span that cannot break out of it (or out of a table cell)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(text.replace("`", "'").replace("|", "/").split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"`{text}`" if text else "` `"


def _message(text: str) -> str:
    """A violation message: what is wrong, then its remediation, as plain escaped text."""
    what, _, remediation = text.partition(" Remediation: ")
    line = code(what, 600)
    if remediation:
        line += f"<br>**Remediation:** {code(remediation, 400)}"
    return line


def load(folder: Path, stack: str) -> dict[str, Any] | None:
    path = folder / stack / FILE_NAME
    if not path.is_file():
        return None
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


def _objects(summary: Mapping[str, Any] | None) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(o["type"], o["name"]): o for o in (summary or {}).get("objects", [])}


def _key(finding: Mapping[str, Any]) -> tuple[str, str, str]:
    return (finding["policy"], finding.get("urn", ""), finding["message"])


def _bullets(items: Iterable[str]) -> Iterator[str]:
    items = list(items)
    for item in items[:MAX_LIST]:
        yield f"- {item}"
    if len(items) > MAX_LIST:
        yield f"- ... and {len(items) - MAX_LIST} more (see the job's artifacts or run `make review`)"


def _field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    old, new = before.get("fields") or {}, after.get("fields") or {}
    lines = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        if path not in old:
            lines.append(f"{code(path)}: added {code(new[path])}")
        elif path not in new:
            lines.append(f"{code(path)}: removed (was {code(old[path])})")
        else:
            lines.append(f"{code(path)}: {code(old[path])} → {code(new[path])}")
    if not lines:
        lines.append("changed (a field not listed: a CRD or a value over 200 characters)")
    if len(lines) > MAX_CHANGED_FIELDS:
        extra = len(lines) - MAX_CHANGED_FIELDS
        lines = [*lines[:MAX_CHANGED_FIELDS], f"... and {extra} more field(s)"]
    return lines


def _pod_security(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> list[str]:
    def levels(summary: Mapping[str, Any] | None) -> dict[str, str]:
        return {
            n["name"]: n["podSecurity"].get("enforce", "(unset)")
            for n in (summary or {}).get("namespaces", [])
        }

    before, after = levels(base), levels(head)
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"{code(name)}: new namespace, enforces {code(new)}")
        elif new is None:
            lines.append(f"{code(name)}: removed (enforced {code(old)})")
        else:
            direction = ""
            if old in LEVEL_ORDER and new in LEVEL_ORDER:
                direction = (
                    " (**less strict**)" if LEVEL_ORDER[new] < LEVEL_ORDER[old] else " (stricter)"
                )
            lines.append(f"{code(name)}: {code(old)} → {code(new)}{direction}")
    return lines


def _problems_and_violations(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if head.get("configProblems"):
        lines += ["### Configuration problems (nothing can be planned until they are fixed)", ""]
        lines += _bullets(code(p, 600) for p in head["configProblems"])
        lines.append("")
    if head.get("invalid"):
        lines += ["### Invalid objects", ""]
        lines += _bullets(code(p, 600) for p in head["invalid"])
        lines.append("")
    base_findings = {_key(f) for f in (base or {}).get("violations", [])}
    for level, title, meaning in (
        ("mandatory", "Mandatory violations", "fail the review and block the deploy"),
        ("advisory", "Advisory violations", "reported, never a failure"),
    ):
        found = [f for f in head.get("violations", []) if f["enforcementLevel"] == level]
        if not found:
            continue
        lines += [f"### {title} ({meaning})", ""]
        lines += _bullets(
            f"{'**new** ' if _key(f) not in base_findings else ''}[{code(f['policy'])}] "
            f"{_message(f['message'])}"
            for f in found
        )
        lines.append("")
    fixed = base_findings - {_key(f) for f in head.get("violations", [])}
    if base and fixed:
        lines += [f"{len(fixed)} violation(s) of the base branch no longer reported.", ""]
    return lines


def _changes(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> list[str]:
    before, after = _objects(base), _objects(head)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(
        k for k in set(before) & set(after) if before[k].get("digest") != after[k].get("digest")
    )
    lines = ["### What this change does", ""]
    if base is None:
        lines += [
            "The base branch has no review of this stack: every object is listed as added.",
            "",
        ]
    if not (added or removed or changed):
        lines += ["No resource or rendered object changes.", ""]
    if added:
        lines += [
            f"**Adds** {len(added)}:",
            "",
            *_bullets(f"{code(t)} {code(n)}" for t, n in added),
        ]
        lines.append("")
    if changed:
        lines += [f"**Changes** {len(changed)}:", ""]
        for key in changed[:MAX_LIST]:
            lines.append(f"- {code(key[0])} {code(key[1])}")
            lines += [f"  - {c}" for c in _field_changes(before[key], after[key])]
        if len(changed) > MAX_LIST:
            lines.append(f"- ... and {len(changed) - MAX_LIST} more")
        lines.append("")
    if removed:
        lines += [f"**Removes** {len(removed)}:", ""]
        lines += [*_bullets(f"{code(t)} {code(n)}" for t, n in removed), ""]
    return lines


def _admins_and_pod_security(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> list[str]:
    def admins(summary: Mapping[str, Any] | None) -> set[tuple[str, str]]:
        return {(a["subject"], a["via"]) for a in (summary or {}).get("clusterAdmins", [])}

    lines: list[str] = []
    new_admins = sorted(admins(head) - admins(base))
    gone_admins = sorted(admins(base) - admins(head))
    if new_admins or gone_admins:
        lines += ["### Cluster admins", ""]
        lines += _bullets(f"⚠️ **added** {code(s)} via {code(v)}" for s, v in new_admins)
        lines += _bullets(f"removed {code(s)} via {code(v)}" for s, v in gone_admins)
        lines.append("")
    security = _pod_security(base, head)
    if security:
        lines += ["### Pod Security (namespace enforce level)", "", *_bullets(security), ""]
    return lines


def stack_markdown(
    stack: str, base: Mapping[str, Any] | None, head: Mapping[str, Any] | None
) -> str:
    """The section of one stack: verdict, problems, violations, changes, admins, Pod Security."""
    lines = [f"## Stack `{stack}`", ""]
    if head is None:
        lines += [
            "**No review result for the head of this pull request** (the review did not run).",
            "",
        ]
        return "\n".join(lines)
    verdict = head.get("verdict", "?")
    icon = {"PASS": "✅", "FAIL": "❌"}.get(verdict, "⚠️")
    was = f" (base: {base.get('verdict')})" if base else " (base: not reviewed)"
    counts = head.get("counts", {})
    lines += [
        f"{icon} **{verdict}**{was}: {counts.get('mandatory', 0)} mandatory, "
        f"{counts.get('advisory', 0)} advisory, {counts.get('invalid', 0)} invalid, "
        f"{counts.get('configProblems', 0)} config problem(s)",
        "",
    ]
    lines += _problems_and_violations(base, head)
    lines += _changes(base, head)
    lines += _admins_and_pod_security(base, head)
    text = "\n".join(lines)
    if len(text) > MAX_CHARS_PER_STACK:
        text = (
            text[:MAX_CHARS_PER_STACK] + "\n\n... (cut; run `make review` for the whole review)\n"
        )
    return text


def summary_markdown(stacks: Sequence[str], base_dir: Path, head_dir: Path) -> tuple[str, int]:
    """The whole pull-request summary and the worst exit code of the head reviews."""
    lines = ["# arc-eks review", ""]
    if not stacks:
        lines.append("No stack is affected by this change (documentation or tests only).")
        return "\n".join(lines) + "\n", 0
    lines.append(
        "Stacks reviewed: "
        + ", ".join(f"`{s}`" for s in stacks)
        + ". Each is reviewed offline at the base branch and at this pull request's head; the "
        "differences below are what merging it changes."
    )
    lines.append("")
    worst = 0
    for stack in stacks:
        head = load(head_dir, stack)
        worst = max(worst, 2 if head is None else int(head.get("exitCode", 2)))
        lines.append(stack_markdown(stack, load(base_dir, stack), head))
    return "\n".join(lines) + "\n", worst


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arc_eks.review.pr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    affected = commands.add_parser("affected", help="the stacks a change affects")
    affected.add_argument("--base", type=Path, required=True, help="the base branch's checkout")
    affected.add_argument("--head", type=Path, required=True, help="the pull request's checkout")
    summary = commands.add_parser("summary", help="the markdown summary")
    summary.add_argument("--base", type=Path, required=True, help="folder of <stack>/summary.json")
    summary.add_argument("--head", type=Path, required=True, help="folder of <stack>/summary.json")
    summary.add_argument("--out", type=Path, default=None, help="append the markdown here")
    summary.add_argument("stacks", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "affected":
        for stack in affected_stacks(args.base, args.head):
            print(stack)
        return 0
    text, worst = summary_markdown(args.stacks, args.base, args.head)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(text)
    print(text, end="")
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
