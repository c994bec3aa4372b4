"""Check results, the report both commands print, and the AWS call plumbing they share.

Every check ends as one line: `ok`, `warn`, `fail` or `cannot-check` (with the IAM permission that
was missing). A denied call is never a traceback: it is `cannot-check`, naming the permission. Any
other AWS error is a `fail` with the service's own error code and message, since nothing was
proved. Throttling and transient errors are retried by botocore's `standard` retry mode first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

# Error codes that mean "these credentials may not do this", across the services used here.
# Ref: botocore's service models (AccessDenied for S3/IAM/STS, AccessDeniedException for the JSON
# services, UnauthorizedOperation for EC2, AuthorizationError/Forbidden for a few older APIs).
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "Forbidden",
        "403",
        "UnauthorizedException",
        "AllAccessDisabled",
    }
)

# Ref: https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html ("standard" mode:
# exponential backoff with jitter on throttling and transient errors, 3 attempts by default).
RETRY_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    CANNOT_CHECK = "cannot-check"


@dataclass(frozen=True)
class CheckResult:
    """One line of a report."""

    name: str
    status: Status
    detail: str
    permission: str | None = None
    """The IAM action that was denied (cannot-check only)."""

    def render(self) -> str:
        line = f"{self.status.value:<12} {self.name}: {self.detail}"
        if self.permission:
            line += f" (needs {self.permission})"
        return line


@dataclass
class Report:
    """The checks of one command, in the order they ran."""

    command: str
    stack: str
    results: list[CheckResult] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str, permission: str | None = None) -> None:
        self.results.append(CheckResult(name, status, detail, permission))

    def ok(self, name: str, detail: str) -> None:
        self.add(name, Status.OK, detail)

    def warn(self, name: str, detail: str) -> None:
        self.add(name, Status.WARN, detail)

    def fail(self, name: str, detail: str) -> None:
        self.add(name, Status.FAIL, detail)

    def cannot_check(self, name: str, detail: str, permission: str | None = None) -> None:
        self.add(name, Status.CANNOT_CHECK, detail, permission)

    @property
    def failed(self) -> bool:
        return any(r.status is Status.FAIL for r in self.results)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(r.status is s for r in self.results) for s in Status}

    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def text(self) -> str:
        lines = [r.render() for r in self.results]
        summary = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        lines.append(f"{self.command} {self.stack}: {summary or 'nothing checked'}")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps(
            {
                "command": self.command,
                "stack": self.stack,
                "failed": self.failed,
                "counts": self.counts(),
                "checks": [{**asdict(r), "status": r.status.value} for r in self.results],
            },
            indent=2,
        )


class Aws:
    """boto3 clients for one region, all with standard retries and timeouts.

    The endpoint comes from botocore's own configuration, so `AWS_ENDPOINT_URL` (e.g. a local
    moto server) redirects every client without code here knowing about it.
    """

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self.session = session or boto3.Session(region_name=region)
        self.config = Config(
            region_name=region,
            retries={"mode": "standard", "max_attempts": RETRY_ATTEMPTS},
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of `service` (in `region`, default the stack's)."""
        key = f"{service}@{region or self.region}"
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=region or self.region, config=self.config
            )
        return self._clients[key]

    def use(self, service: str, client: Any, region: str | None = None) -> None:
        """Use this client for `service` (tests: a client under botocore's Stubber)."""
        self._clients[f"{service}@{region or self.region}"] = client


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    """The service's message; a body that is no AWS error (an HTML page from an endpoint that
    does not implement the operation, e.g. a local emulator) is summarised, not printed."""
    message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
    if message.lstrip().startswith("<"):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return (
            f"HTTP {status} without an AWS error body from the endpoint (does it implement "
            f"{permission_for(error.operation_name)}?)"
        )
    return message.splitlines()[0] if message else message


def is_denied(error: ClientError) -> bool:
    return error_code(error) in ACCESS_DENIED_CODES


# The IAM action behind each API operation the commands call (operation names are unique across
# the services used here). Ref: https://docs.aws.amazon.com/service-authorization/latest/reference/
_SERVICE_OF_OPERATION = {
    "GetCallerIdentity": "sts",
    "GetRole": "iam",
    "GetOpenIDConnectProvider": "iam",
    "SimulatePrincipalPolicy": "iam",
    "DescribeAvailabilityZones": "ec2",
    "DescribeInstanceTypeOfferings": "ec2",
    "DescribeInstanceTypes": "ec2",
    "DescribeInstances": "ec2",
    "DescribeAddresses": "ec2",
    "DescribeVpcs": "ec2",
    "DescribeSubnets": "ec2",
    "GetServiceQuota": "servicequotas",
    "GetAWSDefaultServiceQuota": "servicequotas",
    "GetBucketLocation": "s3",
    "DescribeKey": "kms",
    "DescribeRepositories": "ecr",
    "DescribeCertificate": "acm",
    "GetHostedZone": "route53",
    "DescribeClusterVersions": "eks",
    "DescribeAddonVersions": "eks",
    "DescribeCluster": "eks",
    "ListNodegroups": "eks",
    "DescribeNodegroup": "eks",
    "DescribeAddon": "eks",
}


def permission_for(operation: str) -> str:
    """`s3:GetBucketLocation` for the operation `GetBucketLocation`."""
    service = _SERVICE_OF_OPERATION.get(operation)
    return f"{service}:{operation}" if service else operation


@contextmanager
def checking(report: Report, name: str) -> Iterator[None]:
    """Run one check's AWS calls; a denied call becomes `cannot-check` naming the permission it
    needed, any other AWS error a `fail` with the service's error code (never a traceback)."""
    try:
        yield
    except ClientError as error:
        if is_denied(error):
            permission = permission_for(error.operation_name)
            report.cannot_check(name, f"{error_code(error)} from AWS", permission)
        else:
            report.fail(name, f"{error_code(error)}: {error_message(error)}")
    except NoCredentialsError:
        report.fail(name, "no AWS credentials (configure a profile or export AWS_PROFILE)")
    except BotoCoreError as error:
        report.fail(name, f"AWS call failed: {error}")
