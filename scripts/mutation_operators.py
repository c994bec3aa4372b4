"""cosmic-ray with three more mutation operators, for code whose product is data (IAM documents,
resource types, field names, regex patterns) rather than arithmetic.

cosmic-ray's core operators change operators, numbers, booleans, break/continue, decorators and
loops; they never touch a string literal, a dict entry or a `raise`. Here, as provider `arc`:

- `arc/StringMutation`: a string literal without whitespace (an IAM action, a key, a kind, a
  pattern; prose such as messages is left alone) becomes "" ; an IAM action `svc:Verb` becomes
  `svc:*`; a pattern loses its `^` or its `$` anchor.
- `arc/RemoveDictEntry`: one entry of a dict literal is dropped.
- `arc/StatementToPass`: a `raise`, a `yield`, an augmented assignment (`x += ...`) or a call
  statement (`items.append(...)`) becomes `pass`.

Run as `python scripts/mutation_operators.py <cosmic-ray arguments>` (scripts/mutation.py does):
it registers the provider in-process, then hands over to cosmic-ray's command line. The local
distributor applies the mutations in this same process, so no packaging or entry point is needed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import parso.python.tree as pt
from cosmic_ray import plugins
from cosmic_ray.cli import cli
from cosmic_ray.mutating import MutationVisitor
from cosmic_ray.operators.operator import Example, Operator

Position = tuple[tuple[int, int], tuple[int, int]]

_STRING = re.compile(
    r"^(?P<prefix>[rRbBuU]*)(?P<quote>'''|\"\"\"|'|\")(?P<body>.*)(?P=quote)$", re.S
)
_IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z][A-Za-z0-9]*$")


def _string_parts(node: Any) -> tuple[str, str, str] | None:
    if node.type != "string":
        return None
    match = _STRING.match(node.value)
    if match is None:
        return None
    return match["prefix"], match["quote"], match["body"]


def _is_docstring(node: Any) -> bool:
    parent = node.parent
    return parent is not None and parent.type == "simple_stmt" and parent.children[0] is node


def _string_variants(node: Any) -> list[str]:
    parts = _string_parts(node)
    if parts is None or _is_docstring(node):
        return []
    prefix, quote, body = parts
    pieces = (
        node.parent.children
        if node.parent is not None and node.parent.type == "strings"
        else [node]
    )
    if any(ch.isspace() for piece in pieces for ch in (_string_parts(piece) or ("", "", " "))[2]):
        return []  # prose (a message or a description), also when split over several literals
    variants = [body + "XX"] if body == "" else [""]
    if _IAM_ACTION.match(body):
        variants.append(body.split(":", 1)[0] + ":*")
    if body.startswith("^"):
        variants.append(body[1:])
    if body.endswith("$") and not body.endswith("\\$"):
        variants.append(body[:-1])
    return [f"{prefix}{quote}{v}{quote}" for v in variants]


class StringMutation(Operator):
    """A string literal emptied, an IAM action widened to `svc:*`, a regex anchor dropped."""

    def mutation_positions(self, node: Any) -> Iterator[Position]:
        for _ in _string_variants(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        value = _string_variants(node)[index]
        return pt.String(value, node.start_pos, prefix=node.prefix)

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (
            Example('x = "sts:AssumeRole"', 'x = ""'),
            Example('x = "sts:AssumeRole"', 'x = "sts:*"', occurrence=1),
            Example('x = r"^a$"', 'x = r"a$"', occurrence=1),
        )


def _dict_entries(node: Any) -> list[tuple[int, int]]:
    """(first, last) child index of each entry of a dict display's `dictorsetmaker`."""
    if node.type != "dictorsetmaker":
        return []
    children = node.children
    if any(c.type in ("comp_for", "sync_comp_for") for c in children):
        return []
    if not any(c.type == "operator" and c.value in (":", "**") for c in children):
        return []  # a set
    entries: list[tuple[int, int]] = []
    start = 0
    for index, child in enumerate([*children, None]):
        if child is None or (child.type == "operator" and child.value == ","):
            if index > start:
                entries.append((start, index - 1))
            start = index + 1
    return entries


class RemoveDictEntry(Operator):
    """One `key: value` (or `**mapping`) of a dict literal dropped."""

    def mutation_positions(self, node: Any) -> Iterator[Position]:
        for first, last in _dict_entries(node):
            yield (node.children[first].start_pos, node.children[last].end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        entries = _dict_entries(node)
        first, last = entries[index]
        children = list(node.children)
        if len(entries) == 1:
            return None
        if index < len(entries) - 1:
            drop = range(first, entries[index + 1][0])  # the entry and the comma after it
        else:
            drop = range(entries[index - 1][1] + 1, last + 1)  # the comma before it and the entry
        kept = [c for i, c in enumerate(children) if i not in drop]
        if kept and kept[0] is not children[0]:
            kept[0] = _with_prefix(kept[0], children[0].get_first_leaf().prefix)
        new = pt.PythonNode("dictorsetmaker", kept)
        return new

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (
            Example('x = {"a": 1, "b": 2}', 'x = {"b": 2}'),
            Example('x = {"a": 1, "b": 2}', 'x = {"a": 1}', occurrence=1),
        )


def _with_prefix(node: Any, prefix: str) -> Any:
    leaf = node.get_first_leaf()
    leaf.prefix = prefix
    return node


def _removable_statement(node: Any) -> bool:
    if node.type == "raise_stmt":
        return True
    parent = node.parent
    if parent is None or parent.type != "simple_stmt" or parent.children[0] is not node:
        return False
    if node.type == "yield_expr":
        return True
    if node.type == "expr_stmt":
        return any(
            c.type == "operator" and c.value.endswith("=") and c.value != "=" for c in node.children
        )
    if node.type in ("power", "atom_expr"):
        last = node.children[-1]
        return last.type == "trailer" and last.children[0].value == "("
    return False


class StatementToPass(Operator):
    """A `raise`, a `yield`, an augmented assignment or a call statement replaced by `pass`."""

    def mutation_positions(self, node: Any) -> Iterator[Position]:
        if _removable_statement(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        prefix = node.get_first_leaf().prefix
        return pt.Keyword("pass", node.start_pos, prefix=prefix)

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (
            Example("def f():\n    raise ValueError()\n", "def f():\n    pass\n"),
            Example("x += [1]\n", "pass\n"),
        )


class ArcOperators:
    """cosmic-ray operator provider `arc`."""

    _operators: ClassVar[dict[str, type[Operator]]] = {
        "StringMutation": StringMutation,
        "RemoveDictEntry": RemoveDictEntry,
        "StatementToPass": StatementToPass,
    }

    def __iter__(self) -> Iterator[str]:
        return iter(self._operators)

    def __getitem__(self, name: str) -> type[Operator]:
        return self._operators[name]


def register() -> None:
    plugins.OPERATOR_PROVIDERS["arc"] = ArcOperators()


def _self_check() -> None:
    """Every example of the three operators produces the code it shows."""
    for operator in (StringMutation, RemoveDictEntry, StatementToPass):
        for example in operator.examples():
            got = MutationVisitor.mutate_code(
                example.pre_mutation_code, operator(), example.occurrence
            )
            if got != example.post_mutation_code:
                raise SystemExit(f"{operator.__name__}: {example!r} gave {got!r}")


if __name__ == "__main__":
    register()
    if sys.argv[1:] == ["--self-check"]:
        _self_check()
        print("operators: examples hold")
        raise SystemExit(0)
    cli(prog_name="cosmic-ray")
