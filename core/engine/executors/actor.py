"""What runs on each Ray node: an actor that owns the node's sandbox (its fork server).

Kept free of Ray imports at module level so that it loads anywhere; the ray executor
turns ``SandboxHolder`` into an actor class with ``ray.remote``. Programs arrive in
batches (``submit``: one actor call for several programs); their verdicts, in their dict
form (``Verdict.to_dict``), go back on one long-lived stream per actor (``verdicts``, a
Ray generator) as they finish, everything finished since the last item in one item.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from repair_tui.sandbox.result import Limits
from repair_tui.sandbox.runner import Sandbox

# One program of a batch: (its key in the driver, code, tests, limits or None).
Job = tuple[int, str, dict[str, Any], "dict[str, Any] | None"]
# Its reply: {"verdict": Verdict.to_dict()} or, when the sandbox could not run it, {"error": ...}.
Reply = tuple[int, dict[str, Any]]


class SandboxHolder:
    """One node's sandbox with ``workers`` slots; its methods run in the actor's loop."""

    def __init__(self, workers: int, limits: dict[str, Any] | None = None) -> None:
        self.workers = workers
        self.sandbox = Sandbox(limits=Limits(**limits) if limits else Limits(), workers=workers)
        # One waiting thread per slot: the driver never sends more programs than slots.
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verdicts")
        self._done: asyncio.Queue[Reply] = asyncio.Queue()
        self.node = _node_id()
        self.host = socket.gethostname()

    async def describe(self) -> dict[str, Any]:
        """Where this sandbox runs and what it isolates."""
        return {"node": self.node, "host": self.host, "workers": self.workers,
                "isolation": self.sandbox.isolation_description}

    async def submit(self, jobs: list[Job]) -> int:
        """Start the jobs; their replies come out of ``verdicts``. Returns how many."""
        loop = asyncio.get_running_loop()
        for job in jobs:
            loop.run_in_executor(self._threads, self._one, job).add_done_callback(
                lambda f: self._done.put_nowait(f.result()))
        return len(jobs)

    async def verdicts(self, spacing: float) -> AsyncIterator[list[Reply]]:
        """The replies of every program submitted, forever, as they finish. Items are at
        least ``spacing`` seconds apart: when verdicts come faster, one item carries all
        that finished meanwhile (fewer messages for the driver); when slower, each goes
        at once."""
        last = 0.0
        while True:
            replies = [await self._done.get()]
            wait = last + spacing - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            while not self._done.empty():
                replies.append(self._done.get_nowait())
            last = time.monotonic()
            yield replies

    def _one(self, job: Job) -> Reply:
        key, program, tests, limits = job
        try:
            verdict = self.sandbox.run(program, tests, Limits(**limits) if limits else None)
        except Exception as exc:  # the verdict of this program only: the others go on
            return key, {"error": f"{type(exc).__name__}: {exc}"}
        return key, {"verdict": verdict.to_dict()}


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())
