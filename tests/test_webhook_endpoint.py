"""Webhook endpoint: GitHub gets a URL whose name the ACM certificate covers (a Route 53 alias to
the NLB the stack creates), plain HTTP is refused outside dev and flagged in dev."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from arc_eks.components import actions_runner_controller as arc_module
from arc_eks.components.actions_runner_controller import (
    ActionsRunnerController,
    ActionsRunnerControllerArgs,
)
from arc_eks.config.loader import GitHubSecrets
from arc_eks.config.stack import ControllerConfig, GitHubConfig
from arc_eks.errors import ConfigError
from arc_eks.review.offline import ArcMocks, run_program
from tests.program_fixtures import pool, run_fixture, write_teams

CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
HOOKS = ["192.30.252.0/22"]
RECORD = "aws:route53/record:Record"
TLS = {
    "webhookServer": True,
    "webhookAllowedCidrs": HOOKS,
    "webhookCertificateArn": CERT,
    "webhookHostname": "arc-webhook.ci.example.com",
    "webhookHostedZoneId": "Z0123456789ABCDEFGHIJ",
}


class RecordingLookups(ArcMocks):
    def __init__(self) -> None:
        self.lookups: list[dict[str, Any]] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        if args.token == "aws:lb/getLoadBalancer:getLoadBalancer":
            self.lookups.append(dict(args.args))
        return super().call(args)


@pytest.fixture
def teams(tmp_path: Path) -> Path:
    return write_teams(tmp_path / "teams", {"alpha": [pool("build")]})


def test_the_stack_points_the_certificate_name_at_the_webhook_nlb(teams: Path) -> None:
    mocks = RecordingLookups()
    run = run_fixture(teams, env="prod", mocks=mocks, controller=TLS)
    record = run.one(RECORD)
    assert record.inputs["zoneId"] == TLS["webhookHostedZoneId"]
    assert record.inputs["name"] == TLS["webhookHostname"]
    assert record.inputs["type"] == "A"
    (alias,) = record.inputs["aliases"]
    assert alias["name"].endswith(".elb.eu-west-1.amazonaws.com")  # the NLB the lookup found
    assert alias["zoneId"] == "ZOFFLINENLB0000"
    # The NLB is the one the cloud provider made for the chart's Service in this cluster.
    (lookup,) = mocks.lookups
    assert lookup["tags"] == {
        "kubernetes.io/service-name": f"actions-runner-system/{arc_module.WEBHOOK_SERVICE_NAME}",
        "kubernetes.io/cluster/arc-eks-prod": "owned",
    }
    release = run.one("kubernetes:helm.sh/v3:Release", "arc-release").inputs["values"]
    annotations = release["githubWebhookServer"]["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == CERT


def test_without_a_hosted_zone_no_record_is_created(teams: Path) -> None:
    controller = {k: v for k, v in TLS.items() if k != "webhookHostedZoneId"}
    assert run_fixture(teams, env="prod", controller=controller).of_type(RECORD) == []


def _urls(controller: dict[str, Any], env: str) -> tuple[list[str], list[str]]:
    """The webhook URL and warnings of the controller component alone."""
    urls: list[str] = []
    warnings: list[str] = []
    config = ControllerConfig.model_validate(controller)

    def program() -> None:
        arc = ActionsRunnerController(
            "arc",
            ActionsRunnerControllerArgs(
                controller=config,
                github=GitHubConfig(),
                secrets=GitHubSecrets(
                    token=pulumi.Output.secret("t"),
                    app_private_key=None,
                    webhook_secret=pulumi.Output.secret("w"),
                ),
                depends_on=[],
                cluster_name=f"arc-eks-{env}",
            ),
        )
        assert arc.webhook_url is not None
        arc.webhook_url.apply(urls.append)

    original = pulumi.log.warn
    pulumi.log.warn = lambda message, *a, **k: warnings.append(message)  # type: ignore[assignment]
    try:
        run_program(program, config={}, secret_keys=[], stack=env)
    finally:
        pulumi.log.warn = original
    return urls, warnings


def test_the_webhook_url_is_https_on_the_certificate_name() -> None:
    urls, warnings = _urls(TLS, "prod")
    assert urls == ["https://arc-webhook.ci.example.com/"]
    assert warnings == []


def test_plain_http_in_dev_is_flagged() -> None:
    urls, warnings = _urls({"webhookServer": True, "webhookAllowedCidrs": HOOKS}, "dev")
    assert urls == [f"http://a{'0' * 31}-0123456789abcdef.elb.eu-west-1.amazonaws.com/"]
    assert any("plain HTTP" in w for w in warnings)


@pytest.mark.parametrize("env", ["staging", "prod", "qa"])
def test_plain_http_outside_dev_is_refused_before_anything(teams: Path, env: str) -> None:
    controller = {"webhookServer": True, "webhookAllowedCidrs": HOOKS}
    run = run_fixture(teams, env=env, controller=controller, raise_errors=False)
    assert isinstance(run.error, ConfigError)
    assert run.resources == []
    assert "must use TLS" in str(run.error)


@pytest.mark.parametrize(
    ("controller", "expected"),
    [
        ({k: v for k, v in TLS.items() if k != "webhookHostname"}, "webhookHostname with"),
        (
            {"webhookServer": True, "webhookAllowedCidrs": HOOKS, "webhookHostedZoneId": "Z1"},
            "webhookHostname with webhookHostedZoneId",
        ),
        ({"webhookHostname": "a.example.com"}, "only with webhookServer"),
        ({**TLS, "webhookHostname": "https://a.example.com/"}, "webhookHostname"),
        ({**TLS, "webhookHostedZoneId": "zone-1"}, "webhookHostedZoneId"),
    ],
)
def test_incomplete_or_malformed_endpoints_are_refused(
    teams: Path, controller: dict[str, Any], expected: str
) -> None:
    run = run_fixture(teams, env="prod", controller=controller, raise_errors=False)
    assert isinstance(run.error, ConfigError)
    assert run.resources == []
    assert expected in str(run.error)


def test_plain_http_is_deployed_in_dev(teams: Path) -> None:
    controller = {"webhookServer": True, "webhookAllowedCidrs": HOOKS}
    run = run_fixture(teams, env="dev", controller=controller)
    service = run.one("kubernetes:helm.sh/v3:Release", "arc-release").inputs["values"][
        "githubWebhookServer"
    ]["service"]
    assert [p["port"] for p in service["ports"]] == [80]
    assert run.of_type(RECORD) == []
