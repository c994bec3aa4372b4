"""Turn validation failures into one clear `pulumi.RunError` (no Python traceback).

Every problem names the file, the key path in the file's own camelCase names, the value and what
was expected, in plain words (no pydantic or regex wording). A value is shown only when it cannot
be a credential: anything under an unknown key, and any string that looks like a token, a key or a
password, is masked, since these messages end up in CI logs and pull-request comments.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

_MAX_VALUE_CHARS = 80
MASKED = "(value hidden: it could be a credential)"

# Shapes of credentials: provider token prefixes, PEM blocks, JWTs, AWS key ids.
_SECRET_SHAPES = re.compile(
    r"(-----BEGIN|PRIVATE KEY|\b(gh[pousr]_|github_pat_|glpat-|xox[abposr]-|sk-|AKIA|ASIA)"
    r"|^eyJ[A-Za-z0-9_-]{8,}\.)",
)
# What a harmless value looks like: short words, numbers, names, paths, ARNs, CIDRs, durations.
_PLAIN_TEXT = re.compile(r"^[A-Za-z0-9 ._:/@+=,()*-]{0,200}$")


# Words that mark a value as a credential whatever its shape (`DB_PASSWORD=hunter2`).
_CREDENTIAL_WORDS = re.compile(
    r"(passw|secret|token|api.?key|private|credential|bearer|authorization)", re.IGNORECASE
)


def has_credential_shape(text: str) -> bool:
    """A provider token, a PEM block, a JWT or an AWS key id: refused wherever it is written
    (a team or stack file is plain text in a repository), not only masked."""
    return bool(_SECRET_SHAPES.search(text))


def looks_secret(text: str) -> bool:
    """Whether a string might be a credential (then it is never echoed).

    A value is shown only when its shape is plainly harmless: short, of the characters names,
    numbers, paths and ARNs use, with no run of letters and digits long or mixed enough to be a
    random token (a 40-hex classic PAT, an AWS secret key, `hunter2hunter2`), no `key=value`
    and no credential word."""
    if _SECRET_SHAPES.search(text) or not _PLAIN_TEXT.match(text):
        return True
    if _CREDENTIAL_WORDS.search(text) or re.search(r"[A-Za-z0-9]=[^\s]", text):
        return True
    for run in re.findall(r"[A-Za-z0-9]+", text):
        mixed = bool(re.search(r"[A-Za-z]", run)) and bool(re.search(r"[0-9]", run))
        if len(run) >= 48 or (mixed and len(run) >= 13):
            return True
    # A long unbroken run of mixed-case letters, digits and symbols: a random token or key.
    for run in re.findall(r"[A-Za-z0-9+/=_-]{20,}", text):
        classes = sum(bool(re.search(p, run)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[+/=_]"))
        if classes >= 3:
            return True
    return False


def show(value: Any) -> str:
    """A value as it may appear in an error: short, and masked where it could be a secret.
    A value under a key that names a credential (password, token, ...) is masked too."""
    if value is None or isinstance(value, bool | int | float):
        shown = repr(value)
    elif isinstance(value, str):
        short = value if len(value) <= _MAX_VALUE_CHARS else value[:77] + "..."
        shown = MASKED if looks_secret(value) else repr(short)
    elif isinstance(value, dict):
        small = len(value) <= 3 and all(
            isinstance(k, str) and len(k) <= 40 and not looks_secret(k) for k in value
        )
        # A value under a key that names a credential is never shown, whatever it looks like.
        inner = ", ".join(
            f"{k}: {MASKED if _CREDENTIAL_WORDS.search(k) else show(v)}"
            if isinstance(v, str | int | float | bool)
            else f"{k}: {show(v)}"
            for k, v in value.items()
        )
        plural = "s" if len(value) != 1 else ""
        shown = (
            f"{{{inner}}}"
            if small and len(inner) <= _MAX_VALUE_CHARS
            else f"(a mapping of {len(value)} key{plural})"
        )
    elif isinstance(value, list | tuple):
        items = ", ".join(show(v) for v in value[:6])
        plain = all(isinstance(v, str | int | float | bool) for v in value)
        fits = plain and len(value) <= 5 and len(items) <= _MAX_VALUE_CHARS
        shown = f"[{items}]" if fits else f"(a list of {len(value)})"
    else:
        shown = f"(a {type(value).__name__})"
    return shown


def credential_problems(document: Any, source: str, prefix: str = "") -> list[ConfigProblem]:
    """Every key or value of a parsed file shaped like a credential (see `has_credential_shape`),
    whatever key it sits under: such a file is plain text in a repository and its values reach
    Kubernetes objects, AWS tags and logs. Masked, and refused."""
    found: list[ConfigProblem] = []
    stack: list[tuple[str, Any]] = [(prefix, document)]
    while stack and len(found) < 20:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                name = str(key)
                shown = (
                    "(a key that looks like a credential)" if has_credential_shape(name) else name
                )
                child = f"{path}.{shown}" if path and not path.endswith(":") else f"{path}{shown}"
                stack.append((child, value))
                if shown != name:
                    found.append(ConfigProblem(source, child, MASKED, _NO_CREDENTIALS))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
        elif isinstance(node, str) and has_credential_shape(node):
            found.append(ConfigProblem(source, path or "(file)", MASKED, _NO_CREDENTIALS))
    return sorted(found, key=lambda p: p.path)


_NO_CREDENTIALS = (
    "no credential here: this file is plain text in the repository (a credential goes in a "
    "Pulumi secret of the stack); remove it and rotate the credential"
)


@dataclass(frozen=True)
class ConfigProblem:
    """One bad key: where it is, what it holds, and what was expected instead."""

    source: str  # e.g. "stack config" or "teams/payments.yaml"
    path: str  # e.g. "arc-eks:cluster.publicAccessCidrs[1]" or "pools[0].autoscaling.min"
    value: str  # already shown safely (see `show`), or a description such as "(missing)"
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


def _plain_list(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as "a, b or c"."""
    names = re.findall(r"'([^']*)'", expected) or [p.strip() for p in expected.split(",")]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _field(model: Any, key: int | str) -> Any:
    """The pydantic field of `model` spelt `key` in the file (alias) or in Python."""
    fields = getattr(model, "model_fields", {})
    return next((f for n, f in fields.items() if key in (f.alias or n, n)), None)


def _known_keys(model: type[BaseModel] | None, loc: Sequence[int | str]) -> list[str]:
    """The camelCase keys the model accepts at `loc` (for "did you mean")."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        field = _field(current, part)
        if field is None:
            return []
        current = _model_of(field.annotation)
    fields = getattr(current, "model_fields", {}) if current is not None else {}
    return [f.alias or n for n, f in fields.items()]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


# pydantic error types -> what was expected, in plain words.
_PLAIN = {
    "missing": "a value: this key is required",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
    "tuple_type": "a list",
    "datetime_parsing": "a date and time in ISO 8601 with a UTC offset, e.g. 2026-01-03T00:00:00+09:00",
    "datetime_type": "a date and time in ISO 8601 with a UTC offset, e.g. 2026-01-03T00:00:00+09:00",
}
_BOUNDS = {
    "greater_than": "more than",
    "greater_than_equal": "at least",
    "less_than": "less than",
    "less_than_equal": "at most",
}


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """ "; did you mean x?" for a key close to a known one, else ""."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _unknown_key(model: type[BaseModel] | None, loc: Sequence[int | str]) -> str:
    known = _known_keys(model, loc)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6) if loc else []
    hint = f"; did you mean {close[0]}?" if close else ""
    listed = f" (known here: {', '.join(sorted(known))})" if known and len(known) <= 12 else ""
    return f"no such key{hint}{listed}; unknown keys are refused"


def _length(kind: str, ctx: dict[str, Any]) -> str:
    unit = "characters" if kind.startswith("string") else "entries"
    if "short" in kind:
        return f"at least {ctx.get('min_length')} {unit}"
    return f"at most {ctx.get('max_length')} {unit}"


def _plain_message(err: Any, model: type[BaseModel] | None, loc: Sequence[int | str]) -> str:
    """pydantic's message, said plainly."""
    kind, message, ctx = err["type"], err["msg"], err.get("ctx") or {}
    if kind in _PLAIN:
        plain = _PLAIN[kind]
    elif kind == "extra_forbidden":
        plain = _unknown_key(model, loc)
    elif kind in ("literal_error", "enum"):
        plain = f"one of {_plain_list(str(ctx.get('expected', '')))}"
    elif kind == "union_tag_invalid":
        plain = f"type one of {_plain_list(str(ctx.get('expected_tags', '')))}"
    elif kind == "union_tag_not_found":
        plain = "a type key"
    elif kind == "string_pattern_mismatch":
        plain = _pattern_hint(model, loc)
    elif kind in _BOUNDS:
        plain = f"{_BOUNDS[kind]} {next(iter(ctx.values()), '')}"
    elif kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        plain = _length(kind, ctx)
    else:
        plain = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return plain


def _pattern_hint(model: type[BaseModel] | None, loc: Sequence[int | str]) -> str:
    """A pattern failure explained by the field's own description, never the regex."""
    current: Any = model
    description = None
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = _field(current, part)
        if field is None:
            break
        metadata_descriptions = [getattr(m, "description", None) for m in field.metadata]
        description = next((d for d in metadata_descriptions if d), field.description)
        current = _model_of(field.annotation)
    if description:
        return f"a value of the right form: {description.rstrip('.')}"
    return "a value of the right form (see docs/runner-pools.md)"


def problems_from_validation_error(
    error: ValidationError,
    *,
    source: str,
    prefix: str = "",
    model: type[BaseModel] | None = None,
) -> list[ConfigProblem]:
    """One `ConfigProblem` per pydantic error, with the key path in the file's own (camelCase)
    names, in plain words; values masked where they could be secrets."""
    problems = []
    for err in error.errors(include_url=False):
        # Drop pydantic's union-member and function-validator segments (e.g. "function-after[...]").
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p and "]" in p)]
        loc = [p for p in loc if not _is_union_member(p)]
        if err["type"] == "missing":
            value = "(missing)"
        elif err["type"] == "extra_forbidden":
            value = "(an unknown key; its value is not shown)"
        elif err["type"] == "value_error" and isinstance(err.get("input"), dict) and not loc:
            value = "(these settings together)"
        else:
            value = show(err.get("input"))
        problems.append(
            ConfigProblem(
                source=source,
                path=format_path(prefix, loc),
                value=value,
                expected=_plain_message(err, model, loc),
            )
        )
    return problems


_UNION_MEMBERS = {
    "PercentageRunnersBusy",
    "TotalNumberOfQueuedAndInProgressWorkflowRuns",
    "WebhookOnly",
    "list[str]",
    "dict[str,PoolOverride]",
}


def _is_union_member(part: int | str) -> bool:
    return isinstance(part, str) and (part in _UNION_MEMBERS or part.startswith(("list[", "dict[")))


class ConfigError(pulumi.RunError):
    """Raised before any resource is registered; lists every problem found."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p.render()}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid configuration ({count} {noun}); nothing was created:\n{lines}")
