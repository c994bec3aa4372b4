"""Read a team or stack file defensively: it may be careless or hostile.

Before anything is parsed: a regular file (no symlink, no FIFO or device that would block the read),
at most `max_bytes`, UTF-8 text. While parsing: YAML is composed into a node graph first (linear in
the file's size: aliases are references, not copies), then checked for duplicate keys (YAML's
last-wins would silently drop the first value), non-string keys, and the size the document would
have once aliases are expanded (an "alias bomb" expands exponentially) before any Python object is
built. Every problem is a `ConfigProblem` naming the file and where; no file content is echoed
(a credential file linked in place of a team file must not end up in a CI log).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from arc_eks.errors import ConfigProblem

# A team file is a few dozen lines; a stack file a few hundred. Far above both, far below harm.
TEAM_FILE_MAX_BYTES = 256 * 1024
STACK_FILE_MAX_BYTES = 1024 * 1024
# Scalars + collections of the document with every alias expanded.
MAX_NODES = 50_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class Loaded:
    """The parsed document, or None with the problems that stopped it."""

    document: Any
    problems: list[ConfigProblem]


def _file_problem(source: str, value: str, expected: str) -> list[ConfigProblem]:
    return [ConfigProblem(source, "(file)", value, expected)]


def _regular_file(path: Path, source: str, max_bytes: int) -> list[ConfigProblem]:
    """Problems with what `path` is (checked without following it)."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return _file_problem(source, "(unreadable)", f"a readable file ({exc.strerror})")
    if stat.S_ISLNK(info.st_mode):
        return _file_problem(
            source,
            "(a symbolic link)",
            "a regular file in the repository (links are not followed: one could point at any "
            "file on the machine)",
        )
    if not stat.S_ISREG(info.st_mode):
        return _file_problem(source, "(not a regular file)", "a regular file")
    if info.st_size > max_bytes:
        return _file_problem(
            source, f"({info.st_size} bytes)", f"a file of at most {max_bytes // 1024} KiB"
        )
    return []


def read_text(path: Path, source: str, *, max_bytes: int) -> tuple[str | None, list[ConfigProblem]]:
    """The file's text, or None and why not. Never follows a symlink, never blocks on a FIFO."""
    problems = _regular_file(path, source, max_bytes)
    if problems:
        return None, problems
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        with os.fdopen(os.open(path, flags), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return None, _file_problem(source, "(unreadable)", f"a readable file ({exc.strerror})")
    if len(data) > max_bytes:
        return None, _file_problem(
            source, "(too large)", f"a file of at most {max_bytes // 1024} KiB"
        )
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            ConfigProblem(
                source, f"line {line}", "(bytes that are not UTF-8)", "UTF-8 text (a YAML file)"
            )
        ]


def _where(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}"


def _key_text(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _check_nodes(root: yaml.Node, source: str) -> list[ConfigProblem]:
    """Duplicate or non-scalar keys (each reported at its path), then the expanded size."""
    problems: list[ConfigProblem] = []
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def walk(node: yaml.Node, path: str, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if depth > MAX_DEPTH or key in on_path:
            raise _TooLargeError(f"nesting deeper than {MAX_DEPTH} levels")
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, str] = {}
            for key_node, value_node in node.value:
                name = _key_text(key_node)
                if name is None:
                    problems.append(
                        ConfigProblem(
                            source, path or "(top level)", "(a non-text key)", "text keys"
                        )
                    )
                    continue
                child = f"{path}.{name}" if path else name
                if name in seen:
                    problems.append(
                        ConfigProblem(
                            source,
                            child,
                            f"(set again at {_where(key_node)})",
                            f"each key once (first at {seen[name]}); YAML would keep only the "
                            "last value",
                        )
                    )
                else:
                    seen[name] = _where(key_node)
                total += walk(value_node, child, depth + 1)
                if total > MAX_NODES:
                    raise _TooLargeError(f"more than {MAX_NODES} values")
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                total += walk(item, f"{path}[{index}]", depth + 1)
                if total > MAX_NODES:
                    raise _TooLargeError(f"more than {MAX_NODES} values")
        on_path.discard(key)
        sizes[key] = total
        return total

    try:
        walk(root, "", 0)
    except _TooLargeError as exc:
        return [
            ConfigProblem(
                source,
                "(file)",
                "(too large once anchors and aliases are expanded)",
                f"a small file: {exc}",
            )
        ]
    return problems


class _TooLargeError(Exception):
    pass


def load_yaml(path: Path, source: str, *, max_bytes: int) -> Loaded:
    """Parse one YAML document safely (see the module docstring)."""
    text, problems = read_text(path, source, max_bytes=max_bytes)
    if text is None:
        return Loaded(None, problems)
    return parse_yaml(text, source)


# libyaml's parser when PyYAML has it (the same events, several times faster); both are iterative.
_EVENT_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _too_deep_or_long(text: str, source: str) -> list[ConfigProblem]:
    """The nesting depth and the number of values, from the parser's event stream.

    PyYAML's composer (and constructor) recurse once per nesting level: a file of 100,000 `[`
    would end in a RecursionError. The event parser is iterative, so this pass is safe on any
    input and stops at the first event past a bound."""
    depth = 0
    for events, event in enumerate(yaml.parse(text, Loader=_EVENT_LOADER), start=1):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return _file_problem(
                    source,
                    f"(nested deeper than {MAX_DEPTH} levels at line {event.start_mark.line + 1})",
                    f"a small file: at most {MAX_DEPTH} levels of nesting",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if events > MAX_NODES:
            return _file_problem(
                source,
                f"(more than {MAX_NODES} values)",
                f"a small file: at most {MAX_NODES} values",
            )
    return []


def parse_yaml(text: str, source: str) -> Loaded:
    try:
        problems = _too_deep_or_long(text, source)
        if problems:
            return Loaded(None, problems)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(file)"
        # The reason only (e.g. "found character '\t' that cannot start any token"), never the
        # snippet of the file that PyYAML would quote.
        reason = getattr(exc, "problem", None) or "not YAML"
        return Loaded(None, [ConfigProblem(source, at, "(unparsable)", f"valid YAML ({reason})")])
    if root is None:
        return Loaded(None, [])
    problems = _check_nodes(root, source)
    if problems:
        return Loaded(None, problems)
    return _construct(root, source)


def _construct(root: yaml.Node, source: str) -> Loaded:
    """Python values of a checked node graph; a value YAML cannot convert is a problem."""
    loader = yaml.SafeLoader("")
    try:
        return Loaded(loader.construct_document(root), [])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = f"line {mark.line + 1}" if mark is not None else _where(root)
        if "constructor" not in str(getattr(exc, "problem", "")):
            return Loaded(
                None, [ConfigProblem(source, at, "(unreadable value)", "a value YAML can read")]
            )
        # PyYAML's reason quotes the tag (e.g. !!python/object/apply:...); say it plainly instead.
        return Loaded(
            None,
            [
                ConfigProblem(
                    source,
                    at,
                    "(a value with a YAML tag this file may not use)",
                    "plain YAML values: text, numbers, true/false, lists and mappings (no tags "
                    "such as !!python/object)",
                )
            ],
        )
    except (ValueError, TypeError, OverflowError):
        # e.g. `2026-02-30` (YAML reads it as a date, and there is no such day) or `!!int abc`.
        return Loaded(
            None,
            [
                ConfigProblem(
                    source,
                    "(file)",
                    "(a value YAML cannot convert)",
                    "real dates and numbers (e.g. no 2026-02-30); quote a value meant as text",
                )
            ],
        )
    finally:
        loader.dispose()
