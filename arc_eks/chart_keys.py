"""Check that every Helm value the program sets is a key the pinned chart knows.

A chart silently ignores a misspelt key, so a typo ships as "the setting had no effect". The
chart's values.yaml is the reference: a key counts as known if the file sets it, documents it in a
comment (`#githubEnterpriseServerURL: ...`), or sits under a free-form map the chart passes through
whole (a key whose default is `{}`, such as `podAnnotations` or `resources`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

Path_ = tuple[str, ...]
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?:#+\s?)?(?P<key>[A-Za-z_][\w.\-/]*):(?:\s|$)")


def documented_paths(values_yaml: str) -> set[Path_]:
    """Every key path values.yaml sets or shows in a comment, by indentation."""
    paths: set[Path_] = set()
    stack: list[tuple[int, str]] = []
    for line in values_yaml.splitlines():
        match = _KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(k for _, k in stack), match["key"])
        paths.add(path)
        stack.append((indent, match["key"]))
    return paths


def free_form_paths(values: Mapping[str, Any], prefix: Path_ = ()) -> set[Path_]:
    """Paths whose default is an empty map: the chart passes whatever is set there through."""
    out: set[Path_] = set()
    for key, value in values.items():
        path = (*prefix, key)
        if isinstance(value, Mapping):
            if not value:
                out.add(path)
            out |= free_form_paths(value, path)
    return out


def leaf_paths(values: Mapping[str, Any], prefix: Path_ = ()) -> Iterator[Path_]:
    """Paths of what a values dict sets (lists and scalars are leaves)."""
    for key, value in values.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, path)
        else:
            yield path


def unknown_keys(values: Mapping[str, Any], values_yaml: str) -> list[str]:
    """Dotted paths in `values` that the chart's values.yaml does not know."""
    known = documented_paths(values_yaml)
    free = free_form_paths(yaml.safe_load(values_yaml) or {})
    unknown = []
    for path in leaf_paths(values):
        if any(path[:i] in known for i in range(len(path), 0, -1)) and (
            path in known or any(path[:i] in free for i in range(1, len(path)))
        ):
            continue
        unknown.append(".".join(path))
    return unknown
