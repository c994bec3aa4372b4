"""Check a stack file before `pulumi up`: valid config and every secret it needs is set.

`scripts/deploy.sh` runs this first so that a newcomer reads "set arc-eks:githubToken with
`pulumi config set --secret ...`" instead of an error from deep inside a deployment. It reads the
stack file only (secrets stay encrypted; it checks that they are present and `secure:`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from arc_eks.config.loader import (
    GITHUB_APP_PRIVATE_KEY,
    GITHUB_TOKEN,
    GITHUB_WEBHOOK_SECRET,
    NAMESPACE,
)
from arc_eks.config.stack import StackConfig
from arc_eks.errors import ConfigError, ConfigProblem, problems_from_validation_error
from arc_eks.offline import stack_file

PROJECT_DIR = Path(__file__).resolve().parents[1]


def check_stack_file(path: Path, environment: str) -> list[ConfigProblem]:
    """Every problem with this stack file, as `pulumi up` would report it (empty if none)."""
    if not path.is_file():
        return [
            ConfigProblem(
                source=str(path),
                path="(file)",
                value="(missing)",
                expected=f"a stack file; copy stacks/Pulumi.dev.yaml to {path.name} and edit it",
            )
        ]
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    raw: dict[str, object] = {"environment": environment}
    secure: set[str] = set()
    plain: set[str] = set()
    for full_key, value in config.items():
        ns, _, key = str(full_key).partition(":")
        if ns != NAMESPACE:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(key)
        elif key in (GITHUB_TOKEN, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET):
            plain.add(key)
        else:
            raw[key] = value
    try:
        stack = StackConfig.model_validate(raw)
    except ValidationError as exc:
        return problems_from_validation_error(exc, source=path.name, prefix=f"{NAMESPACE}:")

    needed = [GITHUB_APP_PRIVATE_KEY if stack.github.auth == "app" else GITHUB_TOKEN]
    if stack.controller.webhook_server:
        needed.append(GITHUB_WEBHOOK_SECRET)
    problems = []
    for key in needed:
        if key in secure:
            continue
        full = f"{NAMESPACE}:{key}"
        problems.append(
            ConfigProblem(
                source=path.name,
                path=full,
                value="(set in plain text)" if key in plain else "(missing)",
                expected=f"a Pulumi secret: pulumi config set --secret --stack {environment} "
                f"{full} {'< app-private-key.pem' if key == GITHUB_APP_PRIVATE_KEY else '<value>'}",
            )
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="environment / stack name, e.g. dev")
    args = parser.parse_args(argv)
    problems = check_stack_file(stack_file(PROJECT_DIR, args.stack), args.stack)
    if problems:
        print(str(ConfigError(problems)), file=sys.stderr)
        return 1
    print(f"stack {args.stack}: config valid, secrets set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
