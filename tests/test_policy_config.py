"""The policy pack's config is generated from the stack file (`arc_eks.review.policy_config`), the
one place the allowlists are written: `make review` and scripts/deploy.sh use the same generator,
and a dev-only team needs its team file and the dev stack file, nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from arc_eks.errors import ConfigError
from arc_eks.review import policies as review_policies
from arc_eks.review import policy_config
from arc_eks.review import run as review
from policies.arc_policies import registry
from tests.conftest import FIXTURE_PROJECT, PROJECT_DIR, STACKS

CHART_CACHE = PROJECT_DIR / ".cache" / "charts"


def _stack(env: str, project: Path = FIXTURE_PROJECT) -> dict[str, Any]:
    document = yaml.safe_load((project / "stacks" / f"Pulumi.{env}.yaml").read_text())
    return {k.removeprefix("arc-eks:"): v for k, v in document["config"].items()}


@pytest.mark.parametrize("env", STACKS)
def test_generated_configs_match_the_pack_schemas(env: str) -> None:
    generated = policy_config.generate(FIXTURE_PROJECT, env)
    assert review_policies.config_problems(generated, registry.build_policies()) == []


@pytest.mark.parametrize("env", STACKS)
def test_allowlists_are_exactly_the_stack_files(env: str) -> None:
    stack = _stack(env)
    generated = policy_config.generate(FIXTURE_PROJECT, env)
    buckets = {e["bucket"] for t in stack["teams"].values() for e in t.get("s3Buckets", [])}
    assert generated["aws-iam-irsa-no-wildcard-s3"] == {"allowedS3Buckets": sorted(buckets)}
    assert generated["aws-eks-cluster-endpoint-restricted"] == {
        "allowPublicEndpoint": stack["cluster"]["endpointPublicAccess"],
        "allowedPublicAccessCidrs": sorted(stack["cluster"]["publicAccessCidrs"]),
    }
    assert generated["aws-eks-node-instance-type-allowlist"] == {
        "allowedInstanceTypes": [stack["nodeGroup"]["instanceType"]]
    }
    ceiling = max(t["maxRunnersPerPool"] for t in stack["teams"].values())
    assert generated["arc-hra-max-replicas-cap"]["maxReplicas"] == ceiling


@pytest.mark.parametrize("env", STACKS)
def test_scale_set_caps_are_each_teams_ceiling(env: str) -> None:
    teams = _stack(env)["teams"]
    generated = policy_config.generate(FIXTURE_PROJECT, env)["arc-scale-set-max-runners-cap"]
    caps = {name: team["maxRunnersPerPool"] for name, team in teams.items()}
    assert generated["teamMaxRunners"] == caps
    assert generated["maxRunners"] == max(caps.values())
    level = generated.get("enforcementLevel")
    assert level == ("advisory" if env == "staging" else None)  # sizing, like the HRA cap


def test_scale_set_caps_cannot_be_set_by_hand() -> None:
    rules = {"arc-scale-set-max-runners-cap": {"teamMaxRunners": {"payments": 500}}}
    with pytest.raises(ConfigError) as raised:
        policy_config.generate(FIXTURE_PROJECT, "prod", {"arc-eks:policies": {"rules": rules}})
    assert "arc-eks:policies.rules.arc-scale-set-max-runners-cap.teamMaxRunners" in str(
        raised.value
    )


def test_enforcement_comes_from_the_stack_file() -> None:
    assert policy_config.generate(FIXTURE_PROJECT, "dev")["all"] == "advisory"
    assert policy_config.generate(FIXTURE_PROJECT, "prod")["all"] == "mandatory"
    staging = policy_config.generate(FIXTURE_PROJECT, "staging")
    assert staging["all"] == "mandatory"
    assert staging["arc-runner-capacity-fits-node-group"] == {"enforcementLevel": "advisory"}
    # A level and a derived setting of the same rule are merged.
    assert staging["arc-hra-max-replicas-cap"] == {
        "enforcementLevel": "advisory",
        "maxReplicas": 10,
    }


def test_defaults_without_a_policies_section_or_teams() -> None:
    generated = policy_config.generate(
        FIXTURE_PROJECT,
        "prod",
        {
            "arc-eks:policies": {},
            "arc-eks:teams": {},
            "arc-eks:cluster": {"endpointPublicAccess": False},
        },
    )
    assert generated["all"] == "mandatory"
    assert "arc-hra-max-replicas-cap" not in generated  # the rule's own default (20) applies
    assert "arc-scale-set-max-runners-cap" not in generated
    assert generated["aws-iam-irsa-no-wildcard-s3"] == {"allowedS3Buckets": []}
    assert generated["aws-eks-cluster-endpoint-restricted"] == {
        "allowPublicEndpoint": False,
        "allowedPublicAccessCidrs": [],
    }


def test_a_derived_setting_cannot_be_set_by_hand() -> None:
    rules = {
        "aws-iam-irsa-no-wildcard-s3": {"allowedS3Buckets": ["*"]},
        "no-such-rule": "advisory",
        "arc-hra-max-replicas-cap": {"enforcementLevel": "strict"},
    }
    with pytest.raises(ConfigError) as raised:
        policy_config.generate(FIXTURE_PROJECT, "prod", {"arc-eks:policies": {"rules": rules}})
    text = str(raised.value)
    assert "stacks/Pulumi.prod.yaml" in text
    assert "arc-eks:policies.rules.aws-iam-irsa-no-wildcard-s3.allowedS3Buckets" in text
    assert "arc-eks:policies.rules.no-such-rule" in text
    assert "strict" in text
    assert len(raised.value.problems) == 3


def test_an_invalid_stack_file_names_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        policy_config.generate(FIXTURE_PROJECT, "dev", {"arc-eks:policies": {"enforcement": "x"}})
    assert "arc-eks:policies.enforcement" in str(raised.value)


def test_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "policy" / "prod.json"
    argv = ["--stack", "prod", "--out", str(out), "--project-dir", str(FIXTURE_PROJECT)]
    assert policy_config.main(argv) == 0
    assert out.read_text() == policy_config.render(policy_config.generate(FIXTURE_PROJECT, "prod"))
    assert policy_config.main(["--stack", "qa", "--out", str(out), "--project-dir",
                               str(FIXTURE_PROJECT)]) == 2  # fmt: skip
    assert "qa" in capsys.readouterr().out


def test_no_hand_kept_policy_configs_ship() -> None:
    assert not (PROJECT_DIR / "policies" / "config").exists()
    assert not (FIXTURE_PROJECT / "policies").exists()


MOBILE = """\
team: mobile
pools:
  - name: ios
    scope: {organization: acme}
    labels: [linux, x64, mobile]
    docker: dind
    resources:
      requests: {cpu: 500m, memory: 1Gi}
      limits: {cpu: "1", memory: 2Gi}
    autoscaling: {min: 1, max: 3}
    s3:
      - {bucket: acme-mobile-cache, prefix: ios/, access: read}
    environments: [dev]
"""


def test_a_dev_only_team_is_two_files(tmp_path: Path) -> None:
    """The team file and the dev stack file: every stack's review passes, nothing else edited."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, project)
    (project / "teams" / "mobile.yaml").write_text(MOBILE)
    stack = project / "stacks" / "Pulumi.dev.yaml"
    text = stack.read_text().replace(
        "  arc-eks:teams:\n",
        "  arc-eks:teams:\n    mobile:\n      organizations: [acme]\n"
        "      s3Buckets: [{bucket: acme-mobile-cache}]\n      maxRunnersPerPool: 3\n",
    )
    stack.write_text(text)
    for env in STACKS:
        result = review.run_review(
            env, project_dir=project, chart_cache=CHART_CACHE, check_ignored_values=False
        )
        assert result.config_errors == [], (env, result.config_errors)
        assert result.exit_code == 0, (env, [f.message for f in result.mandatory])
        assert [f for f in result.advisory if "mobile" in f.message] == [], env
    dev = policy_config.generate(project, "dev")
    assert "acme-mobile-cache" in dev["aws-iam-irsa-no-wildcard-s3"]["allowedS3Buckets"]
