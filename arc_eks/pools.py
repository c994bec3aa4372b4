"""The runner pools of a stack: one RunnerTeam per team, and per pool an IrsaServiceAccount and a
RunnerPool. The single entry point the program calls is `build_runner_pools`.

Names are stable: every resource is named after its team and pool only, so adding a pool adds
that pool's resources and changes no other resource's name or inputs (one exception, by design:
the first dind pool of a team raises the team Namespace's Pod Security level to privileged).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from arc_eks.builders.node_groups import Placement, placement
from arc_eks.builders.registry import ImageCachePlan
from arc_eks.builders.runner import NAMESPACE_MAX_LENGTH, pool_namespace, service_account_name
from arc_eks.builders.s3_grants import cross_account_bucket_statements
from arc_eks.builders.scale_set import SCALE_SET_NAME_MAX_LENGTH, scale_set_name
from arc_eks.components.handles import ClusterHandles
from arc_eks.components.irsa_service_account import (
    IrsaServiceAccount,
    IrsaServiceAccountArgs,
    role_name,
)
from arc_eks.components.runner_pool import RunnerPool, RunnerPoolArgs
from arc_eks.components.runner_team import RunnerTeam, RunnerTeamArgs
from arc_eks.components.scale_set import (
    RunnerScaleSet,
    RunnerScaleSetArgs,
    github_config_secret,
    github_server_ca,
)
from arc_eks.config.loader import GitHubSecrets
from arc_eks.config.stack import StackConfig
from arc_eks.config.teams import DockerMode, ResolvedPool, ResolvedS3Grant
from arc_eks.errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class PoolExport:
    """What the stack exports about one pool."""

    team: str
    pool: str
    namespace: str
    service_account: str
    role_arn: pulumi.Output[str] | None
    """None when the pool has no AWS access (no role exists)."""
    mode: str = "runnerDeployment"
    """runnerDeployment or scaleSet."""
    scale_set_name: str | None = None
    """The scale set's name (its AutoscalingRunnerSet and Helm release); None for a
    RunnerDeployment pool."""

    def as_output(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "pool": self.pool,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "roleArn": self.role_arn,
            "mode": self.mode,
            "scaleSetName": self.scale_set_name,
        }


@dataclass(frozen=True)
class PoolsResult:
    """Everything `build_runner_pools` created that the program exports."""

    pools: dict[str, PoolExport] = field(default_factory=dict)
    """Per pool key (`<team>-<pool>`)."""
    cross_account_bucket_statements: dict[str, pulumi.Output[list[dict[str, Any]]]] = field(
        default_factory=dict
    )
    """Per `<team>-<pool>/<bucket>`: statements the bucket's owner must add to its bucket policy."""
    teams: dict[str, RunnerTeam] = field(default_factory=dict)

    def exports(self) -> dict[str, Any]:
        """One value for `pulumi.export("runnerPools", ...)`."""
        return {
            "pools": {key: export.as_output() for key, export in self.pools.items()},
            "crossAccountBucketPolicyStatements": dict(self.cross_account_bucket_statements),
        }


def runner_namespace_problems(pools: Sequence[ResolvedPool]) -> list[ConfigProblem]:
    """Every `docker: kubernetes` pool's own namespace is a valid name that no other pool or team
    uses: a shared namespace would give one pool's container hooks the other's pods and Secrets.
    The program raises them (with every other problem) before anything is created."""
    problems: list[ConfigProblem] = []
    owners: dict[str, ResolvedPool] = {}
    for pool in sorted(pools, key=lambda p: (p.source, p.key)):
        namespace = pool_namespace(pool)
        own = pool.spec.docker == DockerMode.KUBERNETES
        if own and len(namespace) > NAMESPACE_MAX_LENGTH:
            problems.append(
                ConfigProblem(
                    source=pool.source,
                    path=f"pools[name={pool.name}].name",
                    value=repr(pool.name),
                    expected=f"a shorter pool name: a docker: kubernetes pool gets its own "
                    f"namespace {namespace!r}, longer than Kubernetes' {NAMESPACE_MAX_LENGTH} "
                    "characters",
                )
            )
        other = owners.setdefault(namespace, pool)
        if other is not pool and (own or other.spec.docker == DockerMode.KUBERNETES):
            problems.append(
                ConfigProblem(
                    source=pool.source,
                    path=f"pools[name={pool.name}].name",
                    value=repr(pool.name),
                    expected=f"a pool name whose namespace {namespace!r} no other pool uses "
                    f"(taken by pool {other.name!r} of team {other.team!r}, {other.source})",
                )
            )
    return problems


def scale_set_problems(pools: Sequence[ResolvedPool]) -> list[ConfigProblem]:
    """Every scale-set pool's scale set name (`<team>-<pool>-<environment>`, also its Helm release
    name) within the 45 characters the runner-set chart allows. Unique per runner group by
    construction: team and pool are unique in the stack, and the environment tells stacks apart."""
    problems: list[ConfigProblem] = []
    for pool in sorted(pools, key=lambda p: (p.source, p.key)):
        name = scale_set_name(pool)
        if pool.spec.is_scale_set and len(name) > SCALE_SET_NAME_MAX_LENGTH:
            problems.append(
                ConfigProblem(
                    source=pool.source,
                    path=f"pools[name={pool.name}].name",
                    value=repr(pool.name),
                    expected=f"a shorter pool name with mode: scaleSet: its scale set is named "
                    f"{name!r} (<team>-<pool>-<environment>, {len(name)} characters), and GitHub "
                    f"scale set names have at most {SCALE_SET_NAME_MAX_LENGTH}",
                )
            )
    return problems


def check_runner_namespaces(pools: Sequence[ResolvedPool]) -> None:
    """`runner_namespace_problems` as a `ConfigError`."""
    problems = runner_namespace_problems(pools)
    if problems:
        raise ConfigError(problems)


def _tags(stack: StackConfig, pool: ResolvedPool) -> dict[str, str]:
    return {**stack.tags, "arc-eks:team": pool.team, "arc-eks:pool": pool.name}


@dataclass(frozen=True)
class ScaleSetInputs:
    """What the scale-set pools need from the program."""

    controller: Sequence[pulumi.Resource]
    """The scale-set controller release."""
    secrets: GitHubSecrets
    """The stack's GitHub credentials (Pulumi secrets) for each namespace's githubConfigSecret."""


def build_runner_pools(
    pools: Sequence[ResolvedPool],
    *,
    stack: StackConfig,
    cluster: ClusterHandles,
    depends_on: Sequence[pulumi.Resource],
    opts_parent: pulumi.Resource | None = None,
    scale_sets: ScaleSetInputs | None = None,
    image_cache: ImageCachePlan | None = None,
) -> PoolsResult:
    """Create every pool of the current stack (from `load_team_pools`).

    `depends_on` is the ARC controller release: RunnerDeployments and autoscalers wait for it
    (CRDs and the admission webhook). `scale_sets` is required when a pool has mode scaleSet.
    Kubernetes resources use `cluster.k8s_provider` through each RunnerTeam's `providers`.
    """
    if scale_sets is None and any(p.spec.is_scale_set for p in pools):
        raise ValueError("scale-set pools without the scale-set controller (scale_sets)")
    result = PoolsResult()
    by_team: dict[str, list[ResolvedPool]] = {}
    for pool in sorted(pools, key=lambda p: p.key):
        by_team.setdefault(pool.team, []).append(pool)

    for team, team_pools in by_team.items():
        runner_team = RunnerTeam(
            team,
            RunnerTeamArgs(
                team=team,
                pools=team_pools,
                registry_mirror_cidrs=tuple(stack.image_cache.dind_registry_mirror_cidrs),
                registry_mirror_port=stack.image_cache.dind_registry_mirror_port,
            ),
            opts=pulumi.ResourceOptions(parent=opts_parent, providers=[cluster.k8s_provider]),
        )
        result.teams[team] = runner_team
        namespace_config = (
            _scale_set_namespace_config(team_pools, runner_team, stack, scale_sets)
            if scale_sets is not None
            else {}
        )
        for pool in team_pools:
            _build_pool(
                pool,
                runner_team,
                stack=stack,
                cluster=cluster,
                depends_on=depends_on,
                result=result,
                scale_sets=scale_sets,
                namespace_config=namespace_config.get(pool_namespace(pool), []),
                image_cache=image_cache,
            )
    return result


def _scale_set_namespace_config(
    pools: Sequence[ResolvedPool],
    team: RunnerTeam,
    stack: StackConfig,
    scale_sets: ScaleSetInputs,
) -> dict[str, list[pulumi.Resource]]:
    """Per runner namespace holding scale sets: its githubConfigSecret (and the GHES CA)."""
    out: dict[str, list[pulumi.Resource]] = {}
    for pool in pools:
        namespace = pool_namespace(pool)
        if not pool.spec.is_scale_set or namespace in out:
            continue
        waits = [team.namespaces[namespace]]
        created: list[pulumi.Resource] = [
            github_config_secret(
                f"{namespace}-github-config",
                namespace,
                github=stack.github,
                secrets=scale_sets.secrets,
                parent=team,
                depends_on=waits,
            )
        ]
        if stack.github.enterprise_ca_certificate:
            created.append(
                github_server_ca(
                    f"{namespace}-github-server-ca",
                    namespace,
                    stack.github.enterprise_ca_certificate,
                    parent=team,
                    depends_on=waits,
                )
            )
        out[namespace] = created
    return out


def _build_pool(
    pool: ResolvedPool,
    team: RunnerTeam,
    *,
    stack: StackConfig,
    cluster: ClusterHandles,
    depends_on: Sequence[pulumi.Resource],
    result: PoolsResult,
    scale_sets: ScaleSetInputs | None = None,
    namespace_config: Sequence[pulumi.Resource] = (),
    image_cache: ImageCachePlan | None = None,
) -> None:
    identity = IrsaServiceAccount(
        pool.key,
        IrsaServiceAccountArgs(
            pool=pool,
            role_name=role_name(cluster.cluster_name, pool),
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            region=cluster.region,
            account_id=cluster.account_id,
            tags=_tags(stack, pool),
            depends_on=[team.namespace_for(pool)],
        ),
        opts=pulumi.ResourceOptions(parent=team),
    )
    where = placement(pool, stack.runner_nodes.privileged_isolation)
    if pool.spec.is_scale_set:
        assert scale_sets is not None  # checked by build_runner_pools
        RunnerScaleSet(
            pool.key,
            RunnerScaleSetArgs(
                pool=pool,
                namespace=pool_namespace(pool),
                node_selector=where.node_selector,
                tolerations=where.tolerations,
                service_account=identity,
                controller=list(scale_sets.controller),
                namespace_config=list(namespace_config),
                isolation=team.isolation_for(pool),
                enterprise_url=stack.github.enterprise_url,
                enterprise_ca=stack.github.enterprise_ca_certificate is not None,
                image_cache=image_cache,
                registry_mirror=stack.image_cache.dind_registry_mirror,
            ),
            opts=pulumi.ResourceOptions(parent=team),
        )
    else:
        _runner_deployment(
            pool,
            team,
            stack=stack,
            where=where,
            identity=identity,
            depends_on=depends_on,
            image_cache=image_cache,
        )
    result.pools[pool.key] = PoolExport(
        team=pool.team,
        pool=pool.name,
        namespace=pool_namespace(pool),
        service_account=service_account_name(pool),
        role_arn=identity.role_arn,
        mode=pool.spec.mode or "runnerDeployment",
        scale_set_name=scale_set_name(pool) if pool.spec.is_scale_set else None,
    )
    if identity.role_arn is None:
        return
    for grant in pool.s3:
        if grant.account_id is not None:
            key = f"{pool.key}/{grant.bucket}"
            result.cross_account_bucket_statements[key] = _owner_statements(
                identity.role_arn, grant, sid_prefix=f"{pool.team}{pool.name}"
            )


def _runner_deployment(
    pool: ResolvedPool,
    team: RunnerTeam,
    *,
    stack: StackConfig,
    where: Placement,
    identity: IrsaServiceAccount,
    depends_on: Sequence[pulumi.Resource],
    image_cache: ImageCachePlan | None = None,
) -> None:
    RunnerPool(
        pool.key,
        RunnerPoolArgs(
            pool=pool,
            node_selector=where.node_selector,
            tolerations=where.tolerations,
            webhook_server=stack.controller.webhook_server,
            service_account=identity,
            controller=list(depends_on),
            isolation=team.isolation_for(pool),
            image_cache=image_cache,
            registry_mirror=stack.image_cache.dind_registry_mirror,
        ),
        opts=pulumi.ResourceOptions(parent=team),
    )


def _owner_statements(
    role_arn: pulumi.Output[str], grant: ResolvedS3Grant, *, sid_prefix: str
) -> pulumi.Output[list[dict[str, Any]]]:
    def render(arn: str) -> list[dict[str, Any]]:
        return cross_account_bucket_statements(grant, role_arn=arn, sid_prefix=sid_prefix)

    return role_arn.apply(render)


def bucket_policy_json(statements: list[dict[str, Any]]) -> str:
    """Render statements as a complete bucket policy, for the owner's convenience."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
