"""Store writes off the event loop: one writer thread, batched transactions.

A run's engine awaits its writes (a call with its nodes, a batch of verdicts) through
a `StoreWriter` instead of writing on the event loop's thread. The writer thread owns
its own connection to the same database file. It takes every write waiting in its
queue, and while writes come in together those that arrive within ``linger`` seconds
of the first (up to ``batch``), and does them in one transaction, each write in a savepoint of
its own: a write that fails rolls back alone and raises in its caller; the others
commit. A write's caller is answered only after the COMMIT, so nothing the engine
does next (run a program, report a node) rests on an uncommitted step.

Every write is still whole or absent: a killed process loses at most the writes of
the batch in flight, each entirely, and a resumed run makes those calls again (calls
are keyed and seeded, core/engine/steps.py).

In-memory databases cannot be shared between connections: `StoreWriter.for_store`
gives None for them and the caller writes directly.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repair_tui.core.store.store import Store

# Seconds the writer waits, after a first write, for more to share its transaction
# (when writes come in together): each COMMIT, and the full-text index's new segment,
# costs about as much CPU as a write, and a step's model call takes far longer.
LINGER = 0.005


@dataclass
class WriterStats:
    """What the writer thread did: transactions, writes, and seconds spent writing
    (``busy``: wall time; ``cpu``: the thread's CPU time)."""

    transactions: int = 0
    writes: int = 0
    busy: float = 0.0
    cpu: float = 0.0


@dataclass
class _Job:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class StoreWriter:
    """Performs `Store` write methods on a thread of its own (see the module docstring)."""

    def __init__(self, path: str | Path, *, batch: int = 64, linger: float = LINGER) -> None:
        self.path = Path(path)
        self.batch = max(1, batch)
        self.linger = max(0.0, linger)
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise self._error

    @classmethod
    def for_store(cls, store: Store, *, batch: int = 64, linger: float = LINGER) -> StoreWriter | None:
        """A writer on the same file as ``store``, or None for an in-memory database."""
        row = store.db.execute("PRAGMA database_list").fetchone()
        path = row[2] if row else ""
        return cls(path, batch=batch, linger=linger) if path else None

    async def write(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``Store.<method>(*args, **kwargs)`` on the writer thread; its result once committed."""
        if self._closed:
            raise RuntimeError("the store writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(method, args, kwargs, loop, future))
        return await future

    def close(self) -> None:
        """Finish every write already queued, then stop the thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    # --- the writer thread -----------------------------------------------------------

    def _serve(self) -> None:
        try:
            store = Store.open(self.path)
        except BaseException as exc:  # reported by __init__
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        recent: collections.deque[int] = collections.deque(maxlen=8)  # writes per transaction
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                jobs = [first]
                stop = False
                # Linger only while writes come in together (one of the last transactions
                # held several): a caller writing one step at a time never waits.
                until = time.monotonic() + (self.linger if max(recent, default=0) > 1 else 0.0)
                while len(jobs) < self.batch:
                    try:
                        job = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    jobs.append(job)
                self._run(store, jobs)
                recent.append(len(jobs))
                if stop:
                    return
        finally:
            store.close()

    def _run(self, store: Store, jobs: list[_Job]) -> None:
        start, cpu = time.monotonic(), time.thread_time()
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with store.transaction():
                for job in jobs:
                    try:
                        # Nested in the batch's transaction, each write method's own
                        # transaction is a savepoint: a failure undoes that write only.
                        value = getattr(store, job.method)(*job.args, **job.kwargs)
                    except Exception as exc:
                        outcomes.append((job, None, exc))
                    else:
                        outcomes.append((job, value, None))
        except Exception as exc:  # the COMMIT itself failed: nothing of the batch is stored
            outcomes = [(job, None, exc) for job in jobs]
        self.stats.transactions += 1
        self.stats.writes += len(jobs)
        self.stats.busy += time.monotonic() - start
        self.stats.cpu += time.thread_time() - cpu
        for job, value, error in outcomes:
            # A closed event loop raises RuntimeError: nobody waits for that answer.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_settle, job.future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
