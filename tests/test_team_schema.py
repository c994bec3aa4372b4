"""schema/team.schema.json: generated from the pool model, committed in step with it, a real object
schema for pools (not `dict[str, Any]`), and referenced from team files by a comment the loader
ignores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from arc_eks.config import team_schema
from arc_eks.config.pool_spec import PoolSpec
from arc_eks.config.teams import StackContext, load_team_pools
from arc_eks.config.yaml_files import load_yaml
from arc_eks.review.policy_config import stack_config_of
from tests.conftest import FIXTURE_PROJECT, PROJECT_DIR

COMMITTED = PROJECT_DIR / team_schema.SCHEMA_PATH
HEADER = "# yaml-language-server: $schema="

POOL = {
    "name": "build",
    "scope": {"organization": "acme"},
    "labels": ["linux", "x64", "mobile"],
    "docker": "dind",
    "resources": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": 1, "memory": "2Gi"},
    },
    "autoscaling": {"min": 1, "max": 3},
    "environments": {"dev": {"autoscaling": {"max": 2}}, "prod": None},
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    return ["/".join(str(p) for p in e.absolute_path) for e in validator.iter_errors(document)]


def test_the_committed_schema_is_what_the_model_generates() -> None:
    assert COMMITTED.read_text() == team_schema.render(), (
        "schema/team.schema.json is out of step with the pool model: run `make schema`"
    )


def test_the_pool_is_an_object_schema_with_every_model_key() -> None:
    schema = team_schema.build()
    assert schema["properties"]["pools"]["items"] == {"$ref": "#/$defs/Pool"}
    pool = schema["$defs"]["Pool"]
    assert pool["type"] == "object" and pool["additionalProperties"] is False
    keys = {field.alias or name for name, field in PoolSpec.model_fields.items()}
    assert set(pool["properties"]) == keys | {"environments"}
    assert {"name", "scope", "environments"} <= set(pool["required"])


def test_the_example_team_files_validate(validator: jsonschema.Draft202012Validator) -> None:
    files = sorted((FIXTURE_PROJECT / "teams").glob("*.yaml"))
    assert files
    for path in files:
        assert _errors(validator, yaml.safe_load(path.read_text())) == [], path


def test_a_misspelt_key_and_a_wrong_type_are_flagged(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert _errors(validator, {"team": "mobile", "pools": [POOL]}) == []
    typo = {**POOL, "autoscalling": {"max": 3}}
    assert _errors(validator, {"team": "mobile", "pools": [typo]}) == ["pools/0"]
    wrong = {**POOL, "docker": "docker.sock"}
    assert "pools/0/docker" in _errors(validator, {"team": "mobile", "pools": [wrong]})
    bad_override = {**POOL, "environments": {"dev": {"name": "other"}}}
    assert _errors(validator, {"team": "mobile", "pools": [bad_override]}) == [
        "pools/0/environments"
    ]
    assert _errors(validator, {"team": "mobile", "pools": []}) == ["pools"]
    assert _errors(validator, {"team": "Mobile!", "pools": [POOL]}) == ["team"]


def test_overrides_may_be_partial(validator: jsonschema.Draft202012Validator) -> None:
    partial = {**POOL, "environments": {"dev": {"resources": {"limits": {"memory": "3Gi"}}}}}
    assert _errors(validator, {"team": "mobile", "pools": [partial]}) == []
    complete_pool_without_requests = {**POOL, "resources": {"limits": POOL["resources"]["limits"]}}
    assert _errors(validator, {"team": "mobile", "pools": [complete_pool_without_requests]}) == [
        "pools/0/resources"
    ]


def test_every_example_team_file_references_the_schema() -> None:
    for path in sorted((FIXTURE_PROJECT / "teams").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first.startswith(HEADER), path
        assert (path.parent / first.removeprefix(HEADER)).resolve() == COMMITTED.resolve()


def test_the_loader_ignores_the_schema_comment(tmp_path: Path) -> None:
    text = f"{HEADER}../schema/team.schema.json\nteam: mobile\npools: []\n"
    path = tmp_path / "mobile.yaml"
    path.write_text(text)
    loaded = load_yaml(path, "teams/mobile.yaml", max_bytes=1 << 20)
    assert loaded.problems == [] and loaded.document == {"team": "mobile", "pools": []}


def test_the_team_loader_reads_files_with_the_comment() -> None:
    """The fixture project's team files carry the comment; the loader validates them all (a
    ConfigError would fail this test)."""
    stack = stack_config_of(FIXTURE_PROJECT, "dev")
    context = StackContext(
        environments=frozenset({"dev", "staging", "prod"}),
        own_accounts=("111122223333",),
        region="eu-west-1",
    )
    pools = load_team_pools(FIXTURE_PROJECT / "teams", stack, context)
    assert {p.team for p in pools} == {"payments", "data-platform", "web"}


def test_cli_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert team_schema.main([]) == 0
    assert json.loads(capsys.readouterr().out) == team_schema.build()
    target = tmp_path / "team.schema.json"
    assert team_schema.main(["--write", str(target)]) == 0
    assert target.read_text() == team_schema.render()
