"""Packaging: every package folder is listed in pyproject.toml, and a built wheel holds
every module (the folders are mapped into repair_tui.*, so setuptools cannot find them
by itself)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["tool"]["setuptools"])


def _package_folders() -> dict[str, Path]:
    """Import name -> folder, for every folder with an __init__.py under a mapped root."""
    found = {}
    for name, folder in dict(_config()["package-dir"]).items():  # type: ignore[arg-type]
        root = ROOT / folder
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            found[".".join([name, *rel.parts])] = init.parent
    return found


def test_every_package_folder_is_listed() -> None:
    listed = set(_config()["packages"])  # type: ignore[arg-type]
    assert set(_package_folders()) == listed


def test_core_keeps_at_most_five_top_level_modules() -> None:
    top = [p.name for p in (ROOT / "core").glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 5, top


@pytest.mark.slow
def test_the_wheel_holds_every_module(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("repair_tui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for package, folder in _package_folders().items():
        for module in folder.glob("*.py"):
            assert f"{package.replace('.', '/')}/{module.name}" in names
