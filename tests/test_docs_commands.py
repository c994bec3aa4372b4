"""The commands the README and docs show exist and do what they say: every `make <target>` is a
Makefile target, every Makefile target is documented, CI (.ci/run) runs what the README says it
runs, every `python -m <module>` is a runnable module, and the sample `make review` output in
docs/policy-and-review.md is what a real review prints."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

from arc_eks.review import charts
from arc_eks.review import run as review
from tests.conftest import FIXTURE_PROJECT, PROJECT_DIR

DOCS = [PROJECT_DIR / "README.md", PROJECT_DIR / "CONTRIBUTING.md"]
DOCS += sorted((PROJECT_DIR / "docs").glob("*.md"))
MAKE_COMMAND = re.compile(r"\bmake ([a-z][a-z0-9-]*)\b")
PYTHON_MODULE = re.compile(r"python -m ([a-z_][a-z0-9_.]*[a-z0-9_])")
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`([^`\n]+)`")


def _code(path: Path) -> str:
    """What a document shows as code (fenced blocks and inline spans), not its prose."""
    text = path.read_text()
    blocks = FENCED.findall(text)
    prose = FENCED.sub("", text)
    return "\n".join([*blocks, *INLINE.findall(prose)])


def _targets() -> set[str]:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))


def _documented(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for target in MAKE_COMMAND.findall(_code(path)):
            found.setdefault(target, set()).add(path.name)
    return found


def test_every_make_command_the_docs_show_is_a_target() -> None:
    missing = {t: files for t, files in _documented(DOCS).items() if t not in _targets()}
    assert missing == {}, f"documented but not in the Makefile: {missing}"


def test_every_target_is_documented() -> None:
    undocumented = _targets() - set(_documented(DOCS)) - {"clean"}
    assert undocumented == set(), f"Makefile targets no document shows: {undocumented}"


def test_ci_runs_what_the_readme_says_it_runs() -> None:
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    ci_targets = re.findall(r"^\S.*\bmake ([a-z-]+) </dev/null$", ci, re.M)
    assert ci_targets == ["test", "lint", "review-all"]
    readme = (PROJECT_DIR / "README.md").read_text()
    for target in ci_targets:
        assert f"make {target}" in readme
    assert "`make review-all` reviews every stack in `stacks/` (CI runs it)" in readme


def test_every_python_module_the_docs_show_runs() -> None:
    modules = {m for path in DOCS for m in PYTHON_MODULE.findall(_code(path))}
    assert {"arc_eks.review", "arc_eks.review.policy_config", "arc_eks.review.pr"} <= modules
    for module in sorted(modules):
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"python -m {module}: no such module"
        if spec.submodule_search_locations is not None:  # a package runs its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, module


# The scenario of the sample: the web team's ci pool may reach 20 runners in prod.
def _sample_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, project)
    web = project / "teams" / "web.yaml"
    web.write_text(web.read_text().replace("prod: {}", "prod: {autoscaling: {max: 20}}"))
    stack = project / "stacks" / "Pulumi.prod.yaml"
    text = stack.read_text()
    old = "    web:\n      organizations: [acme]\n      maxRunnersPerPool: 10\n"
    assert old in text
    stack.write_text(text.replace(old, old.replace("10", "20")))
    return project


def _sample() -> list[str]:
    text = (PROJECT_DIR / "docs" / "policy-and-review.md").read_text()
    section = text.split("## Reading `make review`", 1)[1]
    block = section.split("```\n", 2)[1]
    return block.splitlines()


def _pattern(line: str) -> re.Pattern[str]:
    """A sample line as a pattern: counts may differ between releases, `...` ends a cut line."""
    cut = line.endswith("...")
    body = line[:-3] if cut else line
    escaped = re.sub(r"\d+", r"\\d+", re.escape(body))
    return re.compile(escaped + ("" if cut else "$"))


def test_the_sample_review_output_is_what_a_review_prints(tmp_path: Path) -> None:
    project = _sample_project(tmp_path)
    # What `make review STACK=prod` prints (the check of ignored chart values, slow and silent
    # here, is left out).
    result = review.run_review(
        "prod",
        project_dir=project,
        chart_cache=charts.cache_dir_of(PROJECT_DIR),
        check_ignored_values=False,
        out_dir=project / "build" / "review" / "prod",
    )
    assert result.exit_code == 1
    printed = review.render(result).replace(f"{project}/", "").splitlines()
    position = 0
    for line in _sample():
        if line.strip() in ("", "..."):
            continue
        pattern = _pattern(line)
        for index in range(position, len(printed)):
            if pattern.match(printed[index]):
                position = index + 1
                break
        else:
            pytest.fail(f"the sample line is not printed (in this order): {line!r}")
