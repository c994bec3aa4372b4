"""ImageCache: the ECR pull-through cache the platform images come through.

Per upstream: a pull-through cache rule for `<prefix>/<suffix>`, a repository creation template for
the repositories ECR creates under it (lifecycle policy), and for Docker Hub and ghcr.io the
upstream credentials in a Secrets Manager secret named `ecr-pullthroughcache/...`, whose value is
only ever a Pulumi secret. The node role gets the import/create actions on those repositories.

Everything in the cluster waits for `ready` (the program makes the Kubernetes provider wait for
it), so no pod asks for a cached image before its rule exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from arc_eks.builders.registry import (
    SECRET_NAME_PREFIX,
    ImageCachePlan,
    lifecycle_policy,
    node_pull_through_policy,
    upstream_credentials,
)


@dataclass(frozen=True)
class ImageCacheArgs:
    plan: ImageCachePlan
    node_role_name: pulumi.Input[str]
    """The node role (kubelet pulls with it)."""
    tokens: Mapping[str, pulumi.Output[str]]
    """Per upstream name that needs credentials: the access token (a Pulumi secret)."""
    tags: Mapping[str, str] = field(default_factory=dict)


class ImageCache(pulumi.ComponentResource):
    """The stack's ECR pull-through cache."""

    ready: list[pulumi.Resource]
    """Everything a pull through the cache needs: rules, templates, the node role's policy."""

    def __init__(
        self, name: str, args: ImageCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("arc-eks:registry:ImageCache", name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        self.ready = []
        self.rules: dict[str, aws.ecr.PullThroughCacheRule] = {}
        for upstream in plan.upstreams:
            prefix = plan.rule_prefix(upstream)
            credential_arn: pulumi.Output[str] | None = None
            waits: list[pulumi.Resource] = []
            if upstream.secret_key is not None:
                token = args.tokens.get(upstream.name)
                username = plan.usernames.get(upstream.name)
                if token is None or username is None:
                    raise ValueError(f"the {upstream.name} upstream needs its username and token")
                # name_prefix: a deleted secret's name stays reserved for its recovery window,
                # so a replacement under the same name would fail.
                secret = aws.secretsmanager.Secret(
                    f"{name}-{upstream.suffix}-credentials",
                    name_prefix=f"{SECRET_NAME_PREFIX}{prefix}-",
                    description=f"{upstream.url} credentials of the ECR pull-through cache "
                    f"rule {prefix} (arc-eks)",
                    tags=dict(args.tags),
                    opts=child,
                )
                version = aws.secretsmanager.SecretVersion(
                    f"{name}-{upstream.suffix}-credentials",
                    secret_id=secret.id,
                    secret_string=_credentials(username, token),
                    opts=child,
                )
                credential_arn = secret.arn
                waits.append(version)
            template = aws.ecr.RepositoryCreationTemplate(
                f"{name}-{upstream.suffix}-template",
                prefix=prefix,
                applied_fors=["PULL_THROUGH_CACHE"],
                description=f"Repositories the pull-through cache creates for {upstream.url}",
                lifecycle_policy=json.dumps(lifecycle_policy(plan.untagged_expiry_days)),
                # Tags would need a custom role for ECR to assume; the stack's tags are on
                # the rules' secrets instead. Tags stay mutable: the cache refreshes a moved
                # upstream tag.
                image_tag_mutability="MUTABLE",
                opts=child,
            )
            rule = aws.ecr.PullThroughCacheRule(
                f"{name}-{upstream.suffix}",
                ecr_repository_prefix=prefix,
                upstream_registry_url=upstream.url,
                credential_arn=credential_arn,
                # The template first: repositories created by the first pull get its settings.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[template, *waits]),
            )
            self.rules[upstream.name] = rule
            self.ready += [template, rule]
        self.ready.append(
            aws.iam.RolePolicy(
                f"{name}-node-pull-through",
                role=args.node_role_name,
                policy=json.dumps(node_pull_through_policy(plan)),
                opts=child,
            )
        )
        self.register_outputs({"prefixes": [plan.rule_prefix(u) for u in plan.upstreams]})


def _credentials(username: str, token: pulumi.Output[str]) -> pulumi.Output[str]:
    """The secret's value, itself a Pulumi secret (the token is one already; kept explicit)."""
    value: pulumi.Output[str] = token.apply(lambda t: upstream_credentials(username, t))
    return pulumi.Output.secret(value)
