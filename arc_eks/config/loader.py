"""Read the stack's `arc-eks:` config once, validate it, and keep secrets as Pulumi secrets.

This is the only module that reads Pulumi config; components get typed values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import ValidationError

from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import StackContext, known_environments
from arc_eks.errors import (
    ConfigError,
    ConfigProblem,
    credential_problems,
    problems_from_validation_error,
)

NAMESPACE = "arc-eks"
SOURCE = "stack config"

# Secret keys: never part of the pydantic model, never read as plain text.
GITHUB_TOKEN = "githubToken"
GITHUB_APP_PRIVATE_KEY = "githubAppPrivateKey"
GITHUB_WEBHOOK_SECRET = "githubWebhookSecret"
# Access tokens of the image cache's authenticated upstreams (imageCache; Docker Hub, ghcr.io).
IMAGE_CACHE_DOCKER_HUB_TOKEN = "imageCacheDockerHubToken"
IMAGE_CACHE_GITHUB_TOKEN = "imageCacheGithubToken"
IMAGE_CACHE_TOKENS = {
    "docker-hub": IMAGE_CACHE_DOCKER_HUB_TOKEN,
    "github-container-registry": IMAGE_CACHE_GITHUB_TOKEN,
}
SECRET_KEYS = (
    GITHUB_TOKEN,
    GITHUB_APP_PRIVATE_KEY,
    GITHUB_WEBHOOK_SECRET,
    IMAGE_CACHE_DOCKER_HUB_TOKEN,
    IMAGE_CACHE_GITHUB_TOKEN,
)


@dataclass(frozen=True)
class GitHubSecrets:
    """The credentials, as Pulumi secrets; `None` where the auth mode does not use one."""

    token: pulumi.Output[str] | None
    app_private_key: pulumi.Output[str] | None
    webhook_secret: pulumi.Output[str] | None
    registry_tokens: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    """Per image cache upstream that needs credentials (imageCache on): its access token."""


def raw_namespace_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every `<namespace>:<key>` the engine passed in, objects decoded from their JSON form."""
    merged = _all_config()
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


# Config namespaces a stack may set: ours, the AWS provider's, Pulumi's own. Anything else is a
# typo (`arc_eks:`) whose keys would be silently ignored.
KNOWN_NAMESPACES = ("arc-eks", "aws", "pulumi")
# Key names that hold credentials in any namespace (aws:secretKey, aws:accessKey, aws:token, ...).
_CREDENTIAL_KEY = re.compile(
    r"(secret|token|password|passphrase|private.?key|access.?key|credential)", re.IGNORECASE
)


def _all_config() -> dict[str, Any]:
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def namespace_problems(keys: Iterable[str], secret_keys: set[str]) -> list[ConfigProblem]:
    """Unknown namespaces, and credentials of any namespace set in plain text (never echoed)."""
    problems = []
    for full_key in sorted(keys):
        ns, sep, key = full_key.partition(":")
        if not sep or ns not in KNOWN_NAMESPACES:
            problems.append(
                ConfigProblem(
                    SOURCE,
                    full_key if len(full_key) <= 80 else full_key[:77] + "...",
                    "(a key of an unknown namespace; its value is not shown)",
                    f"keys under {', '.join(n + ':' for n in KNOWN_NAMESPACES)} only (a "
                    "misspelt namespace is otherwise ignored)",
                )
            )
        elif (
            _CREDENTIAL_KEY.search(key)
            and full_key not in secret_keys
            and not (ns == NAMESPACE and key in SECRET_KEYS)
        ):
            problems.append(
                ConfigProblem(
                    SOURCE,
                    full_key,
                    "(set in plain text; value not shown)",
                    f"a Pulumi secret: `pulumi config set --secret {full_key} <value>`, and rotate "
                    "the credential: it sits unencrypted in the stack file",
                )
            )
    return problems


@dataclass(frozen=True)
class AwsSettings:
    """The AWS provider settings the program's checks use."""

    region: str | None
    allowed_account_ids: tuple[str, ...]


def load_aws_settings() -> AwsSettings:
    raw = raw_namespace_config("aws")
    accounts = raw.get("allowedAccountIds")
    ids = tuple(str(a) for a in accounts) if isinstance(accounts, list) else ()
    region = raw.get("region")
    return AwsSettings(region if isinstance(region, str) else None, ids)


def load_stack_config(stack_name: str | None = None) -> tuple[StackConfig, GitHubSecrets]:
    """Validate the whole stack config; raise one `ConfigError` listing every problem."""
    raw = raw_namespace_config()
    secrets_present = {k: raw.pop(k) for k in SECRET_KEYS if k in raw}
    raw.setdefault("environment", stack_name or pulumi.get_stack())

    problems: list[ConfigProblem] = namespace_problems(_all_config(), _secret_keys())
    # A credential pasted under a plain key (a token in arc-eks:tags, a key in aws:profile):
    # refused and never echoed. The secret keys themselves are checked by _require_secret.
    secret_keys_now = _secret_keys()
    for ns in KNOWN_NAMESPACES:
        plain = {
            k: v
            for k, v in raw_namespace_config(ns).items()
            if f"{ns}:{k}" not in secret_keys_now and not (ns == NAMESPACE and k in SECRET_KEYS)
        }
        problems += credential_problems(plain, SOURCE, prefix=f"{ns}:")
    stack: StackConfig | None = None
    try:
        stack = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems += problems_from_validation_error(
            exc, source=SOURCE, prefix=f"{NAMESPACE}:", model=StackConfig
        )

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
    registry_tokens: dict[str, pulumi.Output[str]] = {}
    if stack is not None and stack.image_cache_enabled:
        for upstream in stack.image_cache.upstreams:
            key = IMAGE_CACHE_TOKENS.get(upstream)
            if key is None:
                continue
            secret = _require_secret(
                key,
                secrets_present,
                secret_keys,
                f"the {upstream} access token of the image cache (imageCache is on)",
                problems,
            )
            if secret is not None:
                registry_tokens[upstream] = secret
    if problems or stack is None:
        raise ConfigError(problems)
    return stack, GitHubSecrets(
        token=token,
        app_private_key=app_key,
        webhook_secret=webhook,
        registry_tokens=registry_tokens,
    )


def load_stack_context(stack: StackConfig, stacks_dir: Path) -> StackContext:
    """What the team loader needs beyond `arc-eks:`: the running config's `aws:` settings and the
    environments that have a stack file."""
    aws = load_aws_settings()
    return StackContext(
        environments=known_environments(stacks_dir) | {stack.environment},
        own_accounts=aws.allowed_account_ids,
        region=aws.region,
    )
