"""The language models by name: the simulated ones in-process, anything else through
the OpenAI-compatible client."""

from __future__ import annotations

from collections.abc import Sequence

from repair_tui.core.datasets.task import Task
from repair_tui.core.llm.client import SIM_NAMES, ChatModel, OpenAIModel
from repair_tui.core.sim.model import SimModel

__all__ = ["make_model"]


def make_model(
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    concurrency: int = 16,
    timeout: float = 60.0,
    sim_latency: float = 0.0,
    tasks: Sequence[Task] = (),
) -> ChatModel:
    """The model for a name: `sim`, `sim-weak`, `sim-strong` without a base URL give the
    in-process simulated model (told about `tasks`); anything else is an `OpenAIModel`."""
    if name in SIM_NAMES and base_url is None:
        sim: ChatModel = SimModel(name, tasks=tasks, latency=sim_latency)
        return sim
    return OpenAIModel(
        name, base_url=base_url, api_key=api_key, concurrency=concurrency, timeout=timeout
    )
