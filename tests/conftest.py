"""Shared fixtures: every test gets its own user data dir and no real secrets."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the user's data dir and database at tmp_path; drop real endpoint settings."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("REPAIR_TUI_DB", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID"):
        monkeypatch.delenv(var, raising=False)
    yield data


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[Any]:
    """A local Ray instance with two CPUs, one per test session (each start costs
    seconds); every ray executor made during the session joins it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def unwritable() -> Iterator[Callable[[Path], None]]:
    """Makes files unwritable until the test ends: a read-only mode, or for root (whom
    modes do not stop) the immutable flag; skips the test where neither is possible."""
    made: list[tuple[Path, bool]] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            os.chmod(path, 0o444)
            made.append((path, False))
            return
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a file read-only for root here (no chattr +i)")
        made.append((path, True))

    yield make
    for path, immutable in reversed(made):
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            os.chmod(path, 0o644)
