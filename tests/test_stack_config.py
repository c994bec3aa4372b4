"""Stack config validation: every mistake ends the run with one RunError naming the key, before
any resource is registered."""

from __future__ import annotations

import pulumi
import pytest

from arc_eks.errors import ConfigError
from tests.conftest import run_stack


def _error_of(**kwargs: object) -> ConfigError:
    run = run_stack("dev", raise_errors=False, **kwargs)  # type: ignore[arg-type]
    assert isinstance(run.error, ConfigError), f"expected a ConfigError, got {run.error!r}"
    assert isinstance(run.error, pulumi.RunError)  # printed without a Python traceback
    assert run.resources == [], "nothing may be registered when the config is invalid"
    return run.error


def _dev_cluster(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
        "adminRoleArns": ["arn:aws:iam::111122223333:role/platform-admin"],
    }
    base.update(changes)
    return base


def test_missing_required_key_is_named() -> None:
    error = _error_of(remove_config=("arc-eks:cluster",))
    assert "arc-eks:cluster: got (missing)" in str(error)


def test_unknown_key_is_refused_with_its_path() -> None:
    error = _error_of(set_config={"arc-eks:cluster": _dev_cluster(endpiontPublicAccess=False)})
    assert "arc-eks:cluster.endpiontPublicAccess" in str(error)
    assert "no such key" in str(error)


def test_unknown_top_level_key_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:nodegroup": {"minSize": 1}})
    assert "arc-eks:nodegroup: got" in str(error)


def test_wrong_type_names_key_value_and_expectation() -> None:
    error = _error_of(set_config={"arc-eks:nodeGroup": {"minSize": "two"}})
    assert "arc-eks:nodeGroup.minSize: got 'two'; expected" in str(error)
    assert "a whole number" in str(error)


def test_min_above_max_is_refused() -> None:
    error = _error_of(
        set_config={"arc-eks:nodeGroup": {"minSize": 5, "desiredSize": 5, "maxSize": 3}}
    )
    assert "arc-eks:nodeGroup" in str(error)
    assert "minSize <= desiredSize <= maxSize" in str(error)


def test_open_public_endpoint_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:cluster": _dev_cluster(publicAccessCidrs=["0.0.0.0/0"])})
    assert "arc-eks:cluster.publicAccessCidrs" in str(error)
    assert "0.0.0.0/0" in str(error)


def test_public_endpoint_without_allowlist_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:cluster": _dev_cluster(publicAccessCidrs=[])})
    assert "publicAccessCidrs to list the networks" in str(error)


def test_unpinned_kubernetes_version_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:cluster": _dev_cluster(kubernetesVersion="1.29")})
    assert "arc-eks:cluster.kubernetesVersion: got '1.29'" in str(error)


def test_instance_type_outside_known_capacity_is_refused() -> None:
    error = _error_of(set_config={"arc-eks:nodeGroup": {"instanceType": "m7g.large"}})
    assert "arc-eks:nodeGroup.instanceType: got 'm7g.large'" in str(error)


def test_app_auth_needs_ids() -> None:
    error = _error_of(set_config={"arc-eks:github": {"auth": "app"}})
    assert "arc-eks:github" in str(error)
    assert "appId and installationId" in str(error)


def test_existing_vpc_and_new_vpc_settings_together_are_refused() -> None:
    network = {
        "vpcCidr": "10.9.0.0/16",
        "existingVpc": {
            "vpcId": "vpc-0123456789abcdef0",
            "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        },
    }
    error = _error_of(set_config={"arc-eks:network": network})
    assert "either existingVpc or the new-VPC settings" in str(error)


def test_missing_token_secret_says_how_to_set_it() -> None:
    error = _error_of(secrets={})
    assert "arc-eks:githubToken: got (missing)" in str(error)
    assert "pulumi config set --secret arc-eks:githubToken" in str(error)


def test_token_in_plain_text_is_refused() -> None:
    error = _error_of(secrets={}, set_config={"arc-eks:githubToken": "ghp_plaintexttoken"})
    assert "arc-eks:githubToken: got (set in plain text)" in str(error)
    assert "ghp_plaintexttoken" not in str(error)


def test_every_problem_is_listed_at_once() -> None:
    error = _error_of(
        secrets={},
        set_config={
            "arc-eks:nodeGroup": {"minSize": 0},
            "arc-eks:controller": {"replicas": 9},
        },
    )
    text = str(error)
    assert "arc-eks:nodeGroup.minSize" in text
    assert "arc-eks:controller.replicas" in text
    assert "arc-eks:githubToken" in text
    assert len(error.problems) == 3


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_preflight_lists_missing_secrets_of_each_shipped_stack(env: str) -> None:
    from arc_eks.ops.stackfile import check_stack_file
    from arc_eks.review.offline import stack_file
    from tests.conftest import FIXTURE_PROJECT

    problems = check_stack_file(stack_file(FIXTURE_PROJECT, env), env)
    # The shipped files validate; only the secrets (never committed) are reported.
    assert problems, "the shipped stack files carry no secrets"
    assert all(p.value == "(missing)" and "--secret" in p.expected for p in problems)


def test_webhook_server_needs_an_allowlist() -> None:
    error = _error_of(set_config={"arc-eks:controller": {"webhookServer": True}})
    assert "arc-eks:controller" in str(error)
    assert "webhookAllowedCidrs with webhookServer" in str(error)


def test_webhook_server_open_to_the_internet_is_refused() -> None:
    controller = {"webhookServer": True, "webhookAllowedCidrs": ["0.0.0.0/0"]}
    error = _error_of(set_config={"arc-eks:controller": controller})
    assert "arc-eks:controller.webhookAllowedCidrs: got ['0.0.0.0/0']" in str(error)


def test_config_as_the_cli_passes_it_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The language host hands config to the program as PULUMI_CONFIG (JSON, objects as JSON
    text) and PULUMI_CONFIG_SECRET_KEYS; the loader reads that path too, not only mocks' config."""
    import json

    from arc_eks import program
    from arc_eks.review.offline import config_map_from_stack_file, run_program, stack_file
    from tests.conftest import FIXTURE_PROJECT, default_secrets

    config, secret_keys = config_map_from_stack_file(stack_file(FIXTURE_PROJECT, "dev"))
    secrets = default_secrets(config)
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**config, **secrets}))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(sorted({*secret_keys, *secrets})))
    run = run_program(
        lambda: program.main(project_dir=FIXTURE_PROJECT), config={}, secret_keys=[], stack="dev"
    )
    assert run.one("eks:index:Cluster").inputs["name"] == "arc-eks-dev"

    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")  # the token set without --secret
    run = run_program(
        lambda: program.main(project_dir=FIXTURE_PROJECT),
        config={},
        secret_keys=[],
        stack="dev",
        raise_errors=False,
    )
    assert isinstance(run.error, ConfigError)
    assert "arc-eks:githubToken: got (set in plain text)" in str(run.error)
