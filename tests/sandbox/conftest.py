"""Fixtures for the sandbox tests: one server per module and isolation mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from repair_tui.sandbox import Sandbox
from sandbox_helpers import FAST


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The default sandbox (namespaces where this machine allows them)."""
    with Sandbox(limits=FAST, workers=2) as box:
        yield box


@pytest.fixture(scope="module")
def fallback() -> Iterator[Sandbox]:
    """The sandbox forced to its fallback (rlimits, no namespaces)."""
    with Sandbox(limits=FAST, workers=2, isolation="rlimits") as box:
        yield box


@pytest.fixture(scope="module", params=["namespaces", "rlimits"])
def any_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Each isolation mode in turn."""
    isolation = "auto" if request.param == "namespaces" else "rlimits"
    with Sandbox(limits=FAST, workers=2, isolation=isolation) as box:
        yield box
