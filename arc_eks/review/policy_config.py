"""The policy pack's config of one environment, generated from its stack file: never edited by hand.

`python -m arc_eks.review.policy_config --stack prod --out build/policy-config/prod.json` writes
what `pulumi preview/up --policy-pack-config` reads (scripts/deploy.sh runs it before every
preview and deploy); `make review` uses the same function. The pack cannot read the stack
program's config at preview time, so the settings it needs are derived here from the one place
they are written, the stack file:

- `all` and per-rule levels: `arc-eks:policies` (`enforcement`, default mandatory; `rules`);
- `aws-eks-node-instance-type-allowlist.allowedInstanceTypes`: `nodeGroup.instanceType` (the
  runner node groups use it too);
- `aws-eks-cluster-endpoint-restricted`: `allowPublicEndpoint` and `allowedPublicAccessCidrs` from
  `cluster.endpointPublicAccess` and `cluster.publicAccessCidrs`;
- `aws-iam-irsa-no-wildcard-s3.allowedS3Buckets`: every `teams.<team>.s3Buckets[].bucket`;
- `arc-hra-max-replicas-cap.maxReplicas`: the largest `teams.<team>.maxRunnersPerPool`;
- `arc-scale-set-max-runners-cap`: `teamMaxRunners` each team's `maxRunnersPerPool`, `maxRunners`
  the largest of them;
- `arc-runner-images-through-cache.cachedRegistries`: the registries of `imageCache.upstreams`
  when `imageCache.enabled` (docker.io, quay.io, ...), else none.

`arc-eks:policies.rules` adds per-rule levels and the settings of other rules.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from arc_eks.builders.registry import cached_registries
from arc_eks.config.loader import NAMESPACE, SECRET_KEYS
from arc_eks.config.stack import StackConfig
from arc_eks.errors import ConfigError, ConfigProblem, problems_from_validation_error
from arc_eks.review import policies as review_policies
from arc_eks.review.offline import config_map_from_stack_file, stack_file
from policies.arc_policies import registry

INSTANCE_TYPES = "aws-eks-node-instance-type-allowlist"
ENDPOINT = "aws-eks-cluster-endpoint-restricted"
S3 = "aws-iam-irsa-no-wildcard-s3"
CAP = "arc-hra-max-replicas-cap"
SCALE_SET_CAP = "arc-scale-set-max-runners-cap"
THROUGH_CACHE = "arc-runner-images-through-cache"
# Settings derived from the stack file (rule -> keys): `policies.rules` cannot set them.
DERIVED: dict[str, tuple[str, ...]] = {
    INSTANCE_TYPES: ("allowedInstanceTypes",),
    ENDPOINT: ("allowPublicEndpoint", "allowedPublicAccessCidrs"),
    S3: ("allowedS3Buckets",),
    CAP: ("maxReplicas",),
    SCALE_SET_CAP: ("maxRunners", "teamMaxRunners"),
    THROUGH_CACHE: ("cachedRegistries",),
}


def from_stack(stack: StackConfig) -> dict[str, Any]:
    """The pack config for a validated stack config (sorted, so the file is stable)."""
    derived: dict[str, dict[str, Any]] = {
        INSTANCE_TYPES: {"allowedInstanceTypes": [stack.node_group.instance_type]},
        ENDPOINT: {
            "allowPublicEndpoint": stack.cluster.endpoint_public_access,
            "allowedPublicAccessCidrs": sorted(stack.cluster.public_access_cidrs),
        },
        S3: {
            "allowedS3Buckets": sorted(
                {entry.bucket for team in stack.teams.values() for entry in team.s3_buckets}
            )
        },
        # imageCache: the upstream registries runner images must not come from directly.
        THROUGH_CACHE: {"cachedRegistries": cached_registries(stack)},
    }
    if stack.teams:
        ceiling = max(t.max_runners_per_pool for t in stack.teams.values())
        derived[CAP] = {"maxReplicas": ceiling}
        derived[SCALE_SET_CAP] = {
            "maxRunners": ceiling,
            "teamMaxRunners": {
                name: team.max_runners_per_pool for name, team in sorted(stack.teams.items())
            },
        }
    config: dict[str, Any] = {"all": stack.policies.enforcement}
    for name, entry in sorted(stack.policies.rules.items()):
        config[name] = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
    for name, settings in derived.items():
        config[name] = {**config.get(name, {}), **settings}
    return dict(sorted(config.items()))


def _problems(stack: StackConfig, source: str) -> list[ConfigProblem]:
    problems = []
    for name, entry in sorted(stack.policies.rules.items()):
        for key in DERIVED.get(name, ()):
            if isinstance(entry, dict) and key in entry:
                problems.append(
                    ConfigProblem(
                        source,
                        f"{NAMESPACE}:policies.rules.{name}.{key}",
                        "a value",
                        "nothing: the policy pack takes it from the stack file itself "
                        "(docs/policy-and-review.md, 'Policy config')",
                    )
                )
    generated = from_stack(stack)
    for line in review_policies.config_problems(generated, registry.build_policies()):
        where, _, what = line.partition(": ")
        if where.endswith(".enforcementLevel"):
            continue  # the same bad level, already reported in plain words
        problems.append(
            ConfigProblem(source, f"{NAMESPACE}:policies.rules.{where}", "a value", what)
        )
    return problems


def stack_config_of(
    project_dir: Path, stack: str, set_config: Mapping[str, Any] | None = None
) -> StackConfig:
    """The validated `arc-eks:` config of a stack file, `set_config` (`arc-eks:<key>` -> value)
    applied as the review applies it; ConfigError naming the file and key."""
    path = stack_file(project_dir, stack)
    config, _ = config_map_from_stack_file(path)
    config.update(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in (set_config or {}).items()}
    )
    raw: dict[str, Any] = {"environment": stack}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in SECRET_KEYS:
            continue
        try:
            raw[name] = json.loads(value)
        except json.JSONDecodeError:
            raw[name] = value
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            problems_from_validation_error(
                error, source=f"stacks/{path.name}", prefix=f"{NAMESPACE}:", model=StackConfig
            )
        ) from None


def generate(
    project_dir: Path, stack: str, set_config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The pack config of `stacks/Pulumi.<stack>.yaml`; ConfigError listing every problem."""
    config = stack_config_of(project_dir, stack, set_config)
    problems = _problems(config, f"stacks/{stack_file(project_dir, stack).name}")
    if problems:
        raise ConfigError(problems)
    return from_stack(config)


def render(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arc_eks.review.policy_config",
        description="Write the policy pack's config of one environment, from its stack file.",
    )
    parser.add_argument("--stack", required=True, help="environment: dev, staging, prod")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="default: cwd")
    args = parser.parse_args(argv)
    try:
        config = generate(args.project_dir.resolve(), args.stack)
    except ConfigError as error:
        print(f"error: the policy config of stack {args.stack} cannot be generated:\n{error}")
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(config))
    print(f"policy config of stack {args.stack} written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
