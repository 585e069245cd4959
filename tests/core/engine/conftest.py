"""The engine tests' shared Ray instance: one local instance per test session (each
start costs seconds), used by every test that makes a ray executor."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[Any]:
    """A local Ray instance with two CPUs; executors made during the session join it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()
