"""The local executor: today's sandbox, one fork server on this machine."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from repair_tui.core.engine.executors.base import Executor
from repair_tui.core.errors import UserError
from repair_tui.sandbox.result import Limits, Verdict
from repair_tui.sandbox.runner import Sandbox, SandboxError


class LocalExecutor(Executor):  # type: ignore[misc]
    """Programs run in a Sandbox on this machine (given, or made and then owned)."""

    name = "local"

    def __init__(self, sandbox: Sandbox | None = None, *, limits: Limits | None = None,
                 workers: int | None = None) -> None:
        self._own = sandbox is None
        if sandbox is None:
            try:
                sandbox = Sandbox(limits=limits or Limits(), workers=workers)
            except SandboxError as exc:
                raise UserError(f"the sandbox could not start: {exc}") from None
        self.sandbox = sandbox
        self._threads: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def isolation_description(self) -> str:
        description: str = self.sandbox.isolation_description
        return description

    @property
    def slots(self) -> int:
        workers: int = self.sandbox.workers
        return workers

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                # Threads only wait for verdicts; the server bounds what runs at once.
                self._threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="verdicts")
            return self._threads

    async def execute(self, program: str, tests: dict[str, Any],
                      limits: Limits | None = None) -> Verdict:
        handle = self.sandbox.submit(program, tests, limits)
        verdict: Verdict = await asyncio.get_running_loop().run_in_executor(
            self._pool(), self.sandbox.wait, handle)
        return verdict

    def run_many(self, items: Sequence[tuple[str, dict[str, Any]]],
                 limits: Limits | None = None) -> list[Verdict]:
        verdicts: list[Verdict] = self.sandbox.run_many(items, limits)
        return verdicts

    def close(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)
        if self._own:
            self.sandbox.close()
