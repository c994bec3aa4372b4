"""Read the stack's `arc-eks:` config once, validate it, and keep secrets as Pulumi secrets.

This is the only module that reads Pulumi config; components get typed values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import ValidationError

from arc_eks.config.stack import StackConfig
from arc_eks.errors import ConfigError, ConfigProblem, problems_from_validation_error

NAMESPACE = "arc-eks"
SOURCE = "stack config"

# Secret keys: never part of the pydantic model, never read as plain text.
GITHUB_TOKEN = "githubToken"
GITHUB_APP_PRIVATE_KEY = "githubAppPrivateKey"
GITHUB_WEBHOOK_SECRET = "githubWebhookSecret"
SECRET_KEYS = (GITHUB_TOKEN, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET)


@dataclass(frozen=True)
class GitHubSecrets:
    """The credentials, as Pulumi secrets; `None` where the auth mode does not use one."""

    token: pulumi.Output[str] | None
    app_private_key: pulumi.Output[str] | None
    webhook_secret: pulumi.Output[str] | None


def raw_namespace_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every `<namespace>:<key>` the engine passed in, objects decoded from their JSON form."""
    merged: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    out: dict[str, Any] = {}
    for full_key, value in merged.items():
        ns, _, key = full_key.partition(":")
        if ns != namespace or not key:
            continue
        out[key] = _decode(value)
    return out


def _decode(value: Any) -> Any:
    """Structured config reaches the program as JSON text; anything else stays as it is (and a
    malformed object stays a string, so the model reports the type it expected)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _secret_keys() -> set[str]:
    return set(runtime_config.get_config_secret_keys_env()) | set(
        runtime_config._SECRET_KEYS.get()  # the set filled by set_all_config (mocks, automation)
    )


def _require_secret(
    key: str,
    present: dict[str, Any],
    secret_keys: set[str],
    why: str,
    problems: list[ConfigProblem],
) -> pulumi.Output[str] | None:
    full = f"{NAMESPACE}:{key}"
    if key not in present:
        problems.append(
            ConfigProblem(
                source=SOURCE,
                path=full,
                value="(missing)",
                expected=f"{why}: run `pulumi config set --secret {full} <value>`",
            )
        )
        return None
    if full not in secret_keys:
        problems.append(
            ConfigProblem(
                source=SOURCE,
                path=full,
                value="(set in plain text)",
                expected=f"a Pulumi secret: run `pulumi config set --secret {full} <value>` "
                "(and rotate the credential, it sits unencrypted in the stack file)",
            )
        )
        return None
    return pulumi.Config(NAMESPACE).require_secret(key)


def load_stack_config(stack_name: str | None = None) -> tuple[StackConfig, GitHubSecrets]:
    """Validate the whole stack config; raise one `ConfigError` listing every problem."""
    raw = raw_namespace_config()
    secrets_present = {k: raw.pop(k) for k in SECRET_KEYS if k in raw}
    raw.setdefault("environment", stack_name or pulumi.get_stack())

    problems: list[ConfigProblem] = []
    stack: StackConfig | None = None
    try:
        stack = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, source=SOURCE, prefix=f"{NAMESPACE}:")

    secret_keys = _secret_keys()
    token = app_key = webhook = None
    auth = stack.github.auth if stack else raw.get("github", {}).get("auth", "pat")
    if auth == "app":
        app_key = _require_secret(
            GITHUB_APP_PRIVATE_KEY,
            secrets_present,
            secret_keys,
            "the GitHub App private key (PEM)",
            problems,
        )
    else:
        token = _require_secret(
            GITHUB_TOKEN,
            secrets_present,
            secret_keys,
            "a GitHub token for the controller",
            problems,
        )
    if stack is not None and stack.controller.webhook_server:
        webhook = _require_secret(
            GITHUB_WEBHOOK_SECRET,
            secrets_present,
            secret_keys,
            "the webhook secret shared with GitHub (controller.webhookServer is on)",
            problems,
        )
    if problems or stack is None:
        raise ConfigError(problems)
    return stack, GitHubSecrets(token=token, app_private_key=app_key, webhook_secret=webhook)
