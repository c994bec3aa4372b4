"""Run the stack program with no cloud and no Pulumi CLI: Pulumi's mocks, with the stack's real config.

Used by the tests and by `make review`. Every registered resource is captured with its type, name,
inputs (camelCase, as a provider and the policy engine see them), parent, dependencies and options.
Outputs that a real provider would compute (ids, ARNs, the pulumi-eks component outputs) are
synthesized so that no `None` leaks into a policy document or a manifest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from arc_eks.config.yaml_files import STACK_FILE_MAX_BYTES, load_yaml
from arc_eks.errors import ConfigError, ConfigProblem, did_you_mean

FAKE_ACCOUNT = "123456789012"
FAKE_REGION = "eu-west-1"
FAKE_OIDC_ID = "EXAMPLED539D4633E53DE1B716D3041A"
# Secrets given to offline runs: recognisable, so a test can prove they never leak in plain text.
OFFLINE_SECRET_PREFIX = "offline-review-secret-"

_SECRET_SIG = rpc._special_sig_key
_SECRET_VALUE = rpc._special_secret_sig


def is_secret(value: Any) -> bool:
    """Whether a captured input value is a Pulumi secret (as the engine would store it)."""
    return isinstance(value, dict) and value.get(_SECRET_SIG) == _SECRET_VALUE


def reveal(value: Any, *, mask: str | None = None) -> Any:
    """Captured inputs with every secret unwrapped (or replaced by `mask`)."""
    if is_secret(value):
        return mask if mask is not None else reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v, mask=mask) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, mask=mask) for v in value]
    return value


@dataclass
class CapturedResource:
    """One resource the program registered, as the engine would have seen it."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    protect: bool = False
    provider: str = ""
    ignore_changes: list[str] = field(default_factory=list)

    def plain_inputs(self, mask: str | None = None) -> dict[str, Any]:
        """Inputs with Pulumi's secret wrappers removed (or masked)."""
        out: dict[str, Any] = reveal(self.inputs, mask=mask)
        return out


class _Outputs:
    """Plausible provider outputs, per resource type, for values the program reads back."""

    @staticmethod
    def for_resource(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        out = dict(inputs)
        physical = inputs.get("name") if isinstance(inputs.get("name"), str) else name
        if typ == "eks:index:Cluster":
            cluster_name = inputs.get("name") or name
            issuer = f"oidc.eks.{FAKE_REGION}.amazonaws.com/id/{FAKE_OIDC_ID}"
            out.update(
                kubeconfig={
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": cluster_name,
                            "cluster": {
                                "server": f"https://{FAKE_OIDC_ID}.gr7.{FAKE_REGION}.eks.amazonaws.com"
                            },
                        }
                    ],
                },
                kubeconfigJson="{}",
                oidcProviderArn=f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/{issuer}",
                oidcProviderUrl=f"https://{issuer}",
                oidcIssuer=issuer,
                clusterSecurityGroupId="sg-0123456789abcdef0",
                nodeSecurityGroupId="sg-0fedcba9876543210",
            )
            return out
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/", maxsplit=1)[0]
            kind = typ.rsplit(":", maxsplit=1)[-1][0].lower() + typ.rsplit(":", maxsplit=1)[-1][1:]
            out.setdefault(
                "arn", f"arn:aws:{service}:{FAKE_REGION}:{FAKE_ACCOUNT}:{kind}/{physical}"
            )
            if typ == "aws:iam/role:Role":
                out["arn"] = f"arn:aws:iam::{FAKE_ACCOUNT}:role/{physical}"
                out.setdefault("name", physical)
            elif typ == "aws:iam/policy:Policy":
                out["arn"] = f"arn:aws:iam::{FAKE_ACCOUNT}:policy/{physical}"
            elif typ == "aws:kms/key:Key":
                out["arn"] = f"arn:aws:kms:{FAKE_REGION}:{FAKE_ACCOUNT}:key/{name}-0000"
                out["keyId"] = f"{name}-0000"
            elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
                out["latestVersion"] = 1
            elif typ == "aws:ec2/subnet:Subnet":
                out.setdefault("availabilityZone", f"{FAKE_REGION}a")
        return out


def operator_arn() -> str:
    """Who an offline run deploys as: a session of the stack's first `cluster.adminRoleArns` role,
    as an operator would run `pulumi up` (an IAM user when the config lists no admin)."""
    raw = pulumi.runtime.get_config("arc-eks:cluster")
    try:
        roles = json.loads(raw).get("adminRoleArns") if isinstance(raw, str) else None
    except (json.JSONDecodeError, AttributeError):
        roles = None
    match = (
        re.match(r"^arn:([a-z-]+):iam::(\d{12}):role/(?:.*/)?([^/]+)$", roles[0])
        if isinstance(roles, list) and roles and isinstance(roles[0], str)
        else None
    )
    if match is None:
        return f"arn:aws:iam::{FAKE_ACCOUNT}:user/offline"
    partition, account, role = match.groups()
    return f"arn:{partition}:sts::{account}:assumed-role/{role}/offline-review"


_STATIC_INVOKES: dict[str, dict[str, Any]] = {
    "aws:index/getPartition:getPartition": {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
    },
    # The cluster as the managed scraper (monitoring.mode ampScraper) looks it up.
    "aws:eks/getCluster:getCluster": {
        "arn": f"arn:aws:eks:{FAKE_REGION}:{FAKE_ACCOUNT}:cluster/offline",
        "vpcConfig": {"clusterSecurityGroupId": "sg-0123456789abcdef0"},
        "id": "offline",
    },
    # The webhook server's NLB, as the in-tree cloud provider names it.
    "aws:lb/getLoadBalancer:getLoadBalancer": {
        "dnsName": f"a{'0' * 31}-0123456789abcdef.elb.{FAKE_REGION}.amazonaws.com",
        "zoneId": "ZOFFLINENLB0000",
        "arn": f"arn:aws:elasticloadbalancing:{FAKE_REGION}:{FAKE_ACCOUNT}:loadbalancer/net/a0/0",
        "id": "offline-nlb",
    },
}


class ArcMocks(pulumi.runtime.Mocks):
    """Records nothing itself: the monitor below records; this synthesizes outputs and calls."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        return f"{args.name}-id", _Outputs.for_resource(args.typ, args.name, args.inputs)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self._invoke_result(args.token), []

    @staticmethod
    def _invoke_result(token: str) -> dict[str, Any]:
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{FAKE_REGION}{s}" for s in "abc"]
            zone_ids = [f"euw1-az{i}" for i in (1, 2, 3)]
            return {"names": names, "zoneIds": zone_ids, "id": FAKE_REGION}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": FAKE_ACCOUNT,
                "arn": operator_arn(),
                "userId": "AIDAOFFLINE",
                "id": FAKE_ACCOUNT,
            }
        if token == "aws:index/getRegion:getRegion":
            return {"name": FAKE_REGION, "region": FAKE_REGION, "id": FAKE_REGION}
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            # A made-up version: offline runs only check that the program pins *a* version.
            return {"version": "v0.0.0-offline.1", "id": "offline"}
        return dict(_STATIC_INVOKES.get(token, {}))


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping what `MockResourceArgs` drops (parent, deps, protect)."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[CapturedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.captured.append(
                CapturedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    # Plain JSON of the wire form: no resource objects are rebuilt (that would
                    # need the program's event loop); numbers are floats, as policies see them.
                    inputs=json_format.MessageToDict(request.object),
                    custom=bool(request.custom),
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    protect=bool(request.protect),
                    provider=request.provider,
                    ignore_changes=list(request.ignoreChanges),
                )
            )
        return response


@dataclass
class ProgramRun:
    """What an offline run of the program registered."""

    resources: list[CapturedResource]
    error: BaseException | None = None
    """What the program raised (a `ConfigError` for bad config), if `raise_errors` was off."""

    def of_type(self, typ: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> CapturedResource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {typ} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def __iter__(self) -> Iterator[CapturedResource]:
        return iter(self.resources)


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / "stacks" / f"Pulumi.{stack}.yaml"


# The top-level keys of a Pulumi stack settings file (Pulumi.<stack>.yaml); anything else, e.g. a
# misspelt `confg:`, would be silently ignored by the CLI together with every key under it.
STACK_FILE_KEYS = ("config", "encryptedkey", "encryptionsalt", "environment", "secretsprovider")


def stack_file_shape_problems(document: Any, source: str) -> list[ConfigProblem]:
    """A stack file is a mapping of the known top-level keys, `config` a mapping of keys."""
    if not isinstance(document, dict):
        return [ConfigProblem(source, "(file)", "(not a mapping)", "a mapping with a config key")]
    problems = [
        ConfigProblem(
            source,
            str(key)[:80],
            "(an unknown top-level key; its value is not shown)",
            f"only {', '.join(STACK_FILE_KEYS)} at the top level{did_you_mean(str(key), STACK_FILE_KEYS)}",
        )
        for key in document
        if key not in STACK_FILE_KEYS
    ]
    if not isinstance(document.get("config") or {}, dict):
        problems.append(ConfigProblem(source, "config", "(not a mapping)", "a mapping of keys"))
    return problems


def config_map_from_stack_file(
    path: Path, *, secrets: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The engine's view of a stack file: `ns:key` -> string (objects JSON-encoded).

    Values under `secure:` cannot be decrypted offline; every secret key is given a recognisable
    placeholder instead (or the value from `secrets`), marked secret as the engine would.
    """
    loaded = load_yaml(path, f"stacks/{path.name}", max_bytes=STACK_FILE_MAX_BYTES)
    if loaded.problems:
        raise ConfigError(loaded.problems)
    document = loaded.document or {}
    problems = stack_file_shape_problems(document, f"stacks/{path.name}")
    if problems:
        raise ConfigError(problems)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = f"{OFFLINE_SECRET_PREFIX}{key}"
            secret_keys.append(key)
        elif isinstance(value, str):
            config[key] = value
        else:
            config[key] = json.dumps(value)
    for key, value in (secrets or {}).items():
        config[key] = value
        secret_keys.append(key)
    return config, sorted(set(secret_keys))


def run_program(
    program: Callable[[], Any],
    *,
    config: Mapping[str, str],
    secret_keys: list[str],
    stack: str,
    project: str = "arc-eks",
    preview: bool = False,
    raise_errors: bool = True,
    mocks: pulumi.runtime.Mocks | None = None,
) -> ProgramRun:
    """Run `program` under mocks with this config; return every resource it registered.

    Raises whatever the program raised (a `ConfigError` for bad config) after the run settles,
    or with `raise_errors=False` returns it in `ProgramRun.error` beside what was registered.
    """
    monitor = RecordingMonitor(mocks or ArcMocks())
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor
    )
    pulumi.runtime.set_all_config(dict(config), secret_keys)

    @pulumi.runtime.test
    def _run() -> None:
        program()

    try:
        _run()
    except Exception as exc:
        if raise_errors:
            raise
        return ProgramRun(resources=monitor.captured, error=exc)
    return ProgramRun(resources=monitor.captured)
