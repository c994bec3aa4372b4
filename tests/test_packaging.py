"""`pip install .` builds a library wheel: the `arc_eks` package with its type marker and the runtime
pins of requirements.txt as dependencies; nothing of the repository's tooling (policy pack, tests,
scripts) rides along."""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_the_wheel_is_the_typed_library_with_the_pinned_dependencies(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "README.md", "LICENSE"):
        shutil.copy(PROJECT_DIR / name, source / name)
    shutil.copytree(
        PROJECT_DIR / "arc_eks", source / "arc_eks", ignore=shutil.ignore_patterns("__pycache__")
    )
    # Tooling the wheel must leave out, present in the tree as in a checkout.
    for directory in ("policies", "tests", "scripts"):
        (source / directory).mkdir()
        (source / directory / "__init__.py").write_text("")
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("arc_eks-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(info).decode())
    tops = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith("-info")}
    assert tops == {"arc_eks"}
    assert "arc_eks/py.typed" in names
    assert "arc_eks/config/stack.py" in names and "arc_eks/versions.py" in names
    assert metadata["Name"] == "arc-eks"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert sorted(metadata.get_all("Requires-Dist")) == sorted(
        _pins(PROJECT_DIR / "requirements.txt")
    )
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
