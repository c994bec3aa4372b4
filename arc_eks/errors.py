"""Turn validation failures into one clear `pulumi.RunError` (no Python traceback)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pulumi
from pydantic import ValidationError

_MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class ConfigProblem:
    """One bad key: where it is, what it holds, and what was expected instead."""

    source: str  # e.g. "stack config" or "teams/payments.yaml"
    path: str  # e.g. "arc-eks:cluster.publicAccessCidrs[1]" or "pools[0].autoscaling.min"
    value: str  # repr of the bad value, or "(missing)"
    expected: str

    def render(self) -> str:
        return f"{self.source}: {self.path}: got {self.value}; expected {self.expected}"


def format_path(prefix: str, loc: Sequence[int | str]) -> str:
    """`("pools", 0, "name")` -> `pools[0].name`, joined onto an optional prefix."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out and not out.endswith(":") else str(part)
    return out


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def problems_from_validation_error(
    error: ValidationError, *, source: str, prefix: str = ""
) -> list[ConfigProblem]:
    """One `ConfigProblem` per pydantic error, with the key path in the file's own (camelCase) names."""
    problems = []
    for err in error.errors(include_url=False):
        # Drop pydantic's union-member and function-validator segments (e.g. "function-after[...]").
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p and "]" in p)]
        value = "(missing)" if err["type"] == "missing" else _short(err.get("input"))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "no such key (check the spelling; unknown keys are refused)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        elif message.startswith("Assertion failed, "):
            message = message.removeprefix("Assertion failed, ")
        problems.append(
            ConfigProblem(
                source=source, path=format_path(prefix, loc), value=value, expected=message
            )
        )
    return problems


class ConfigError(pulumi.RunError):
    """Raised before any resource is registered; lists every problem found."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p.render()}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid configuration ({count} {noun}); nothing was created:\n{lines}")
