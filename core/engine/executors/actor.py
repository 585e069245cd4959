"""What runs on each Ray node: an actor that owns the node's sandbox (its fork server).

Kept free of Ray imports at module level so that it loads anywhere; the ray executor
turns ``SandboxHolder`` into an actor class with ``ray.remote``. Verdicts travel back
in their dict form (``Verdict.to_dict``), with the node that ran them.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from repair_tui.sandbox.result import Limits
from repair_tui.sandbox.runner import Sandbox


class SandboxHolder:
    """One node's sandbox with ``workers`` slots; its methods run in the actor's loop."""

    def __init__(self, workers: int, limits: dict[str, Any] | None = None) -> None:
        self.workers = workers
        self.sandbox = Sandbox(limits=Limits(**limits) if limits else Limits(), workers=workers)
        # One waiting thread per slot: the actor never has more programs than slots.
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verdicts")
        self.node = _node_id()
        self.host = socket.gethostname()

    async def describe(self) -> dict[str, Any]:
        """Where this sandbox runs and what it isolates."""
        return {"node": self.node, "host": self.host, "workers": self.workers,
                "isolation": self.sandbox.isolation_description}

    async def run(self, program: str, tests: dict[str, Any],
                  limits: dict[str, Any] | None = None) -> dict[str, Any]:
        """One program's verdict as a dict, with the node that ran it."""
        handle = self.sandbox.submit(program, tests, Limits(**limits) if limits else None)
        verdict = await asyncio.get_running_loop().run_in_executor(self._threads, self.sandbox.wait, handle)
        return {"verdict": verdict.to_dict(), "node": self.node}


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())
