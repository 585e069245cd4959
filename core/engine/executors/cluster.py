"""The ray executor: one sandbox per Ray node, each held by an actor (actor.py).

Ray places the actors (one per alive node, pinned with a node-affinity strategy and
reserving the node's CPUs, so nothing else is booked on those cores) and carries the
calls; this module only counts free slots. Each actor's sandbox has ``slots_for(node
CPUs)`` slots, and a program waits for a free slot before it is sent: no more programs
are in flight than the cluster's sandboxes can run, and nothing queues without bound.

Batches: the programs that get slots of one actor close together go to it in one
actor call, and each actor sends every verdict back on one long-lived stream (a Ray
generator), what finished together in one item. A batch goes at once if the actor's
last one left more than ``batch_window`` ago, else when that much time has passed; the
stream's items are as far apart. So a quiet run waits for nothing, and a busy one pays
Ray's cost per message for several programs at a time.

Faults: the programs of an actor or node that dies and that have no verdict yet are
sent again to another actor (each verdict comes back once, so it is stored once). A poll of the cluster's nodes starts
actors on nodes that join and drops those of nodes that leave. An actor that dies on
a live node is replaced (a few times per node).

All Ray calls happen on one event loop in a thread of its own (Ray's asyncio API:
``await ref``), so the executor serves any caller's loop or thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import threading
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from repair_tui.core.engine.executors.base import Executor, slots_for
from repair_tui.core.errors import UserError
from repair_tui.sandbox.result import Limits, Verdict
from repair_tui.sandbox.runner import SandboxError
from repair_tui.sandbox.spec import parse_tests

log = logging.getLogger("repair_tui.executor")

INSTALL_HINT = "the ray executor needs Ray, which is not installed: pip install 'repair-tui[ray]'"
REPLACEMENTS_PER_NODE = 3  # actors started on one node before it is left alone
ATTEMPTS_PER_PROGRAM = 5  # actors tried for one program before the run fails
BATCH_WINDOW = 0.01  # seconds between two batches, or two stream items, of one actor
LOST: dict[str, Any] = {"lost": True}  # the reply of a program whose actor died first
T = TypeVar("T")


def import_ray() -> Any:
    """The ray module, or UserError saying in one line how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


@dataclass(eq=False)
class _Holder:
    """The driver's view of one node's actor."""

    node: str
    actor: Any
    cpus: int
    workers: int = 0
    isolation: str = ""
    host: str = ""
    ready: bool = False
    alive: bool = True
    outbox: list[_Job] = field(default_factory=list)  # have a slot, not sent yet
    flush: asyncio.TimerHandle | None = None
    last_flush: float = 0.0
    sent: dict[int, _Job] = field(default_factory=dict)  # sent, no verdict yet


@dataclass(eq=False)
class _Job:
    """One program on its way to an actor; ``reply`` is set once, by the batch's reader."""

    key: int
    program: str
    tests: dict[str, Any]
    limits: dict[str, Any] | None
    reply: asyncio.Future[dict[str, Any]]


class RayExecutor(Executor):  # type: ignore[misc]
    """Programs run on the Ray cluster at ``address`` (None: a new local Ray instance;
    ``auto``: the cluster running on this machine). See the module docstring."""

    name = "ray"

    def __init__(self, address: str | None = None, *, limits: Limits | None = None,
                 workers_per_node: int | None = None, poll_seconds: float = 1.0,
                 start_timeout: float = 120.0, batch_window: float = BATCH_WINDOW) -> None:
        self._ray = ray = import_ray()
        self.address = address
        self.limits = limits or Limits()
        self.workers_per_node = workers_per_node
        self.poll_seconds = poll_seconds
        self.start_timeout = start_timeout
        self.batch_window = batch_window
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            self._init_ray(address)
        self._exceptions = _retryable(ray)
        self._actor_class = ray.remote(_holder_class())
        self._holders: dict[str, _Holder] = {}
        self._started: Counter[str] = Counter()
        self._free: asyncio.Queue[_Holder | None] | None = None
        self._broken: str | None = None
        self._keys = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self.peak_in_flight = 0  # the most programs ever in flight at once
        self.resent = 0  # programs sent again after their actor or node died
        self.calls = 0  # actor calls that carried programs (a batch is one)
        self.items = 0  # items read from the actors' streams of verdicts
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ray-executor", daemon=True)
        self._thread.start()
        self._poller: asyncio.Task[None] | None = None
        try:
            self._call(self._start())
        except BaseException:
            self.close()
            raise

    # --- lifecycle --------------------------------------------------------------------

    def _init_ray(self, address: str | None) -> None:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.WARNING}
        try:
            if address is None:
                self._ray.init(address="local", num_cpus=os.cpu_count() or 1, **kwargs)
            else:
                self._ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = "start a local Ray instance" if address is None else f"join the Ray cluster at {address}"
            raise UserError(f"could not {where}: {str(exc).strip().splitlines()[0]}") from None

    async def _start(self) -> None:
        self._free = asyncio.Queue()
        await self._refresh()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while not any(h.ready for h in self._holders.values()):
            if loop.time() > deadline:
                raise SandboxError(f"no Ray node started a sandbox actor within {self.start_timeout:.0f} s "
                                   "(are all of the cluster's CPUs taken?)")
            await asyncio.sleep(0.05)
            if not self._holders:
                await self._refresh()
        self._poller = asyncio.create_task(self._poll())

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._stop(), timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if self._owns_ray:
            with contextlib.suppress(Exception):
                self._ray.shutdown()

    async def _stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        for holder in list(self._holders.values()):
            self._drop(holder, None)
        tasks = list(self._tasks)
        for task in tasks:  # the streams' readers and the batches' watchers
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- nodes ------------------------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self._refresh()
            except Exception as exc:  # a passing GCS hiccup: try again at the next poll
                log.warning("ray executor: could not list the cluster's nodes: %s", exc)

    async def _refresh(self) -> None:
        """Actors for nodes that joined; none for nodes that left."""
        nodes = await asyncio.to_thread(self._ray.nodes)
        alive = {n["NodeID"]: int(n.get("Resources", {}).get("CPU", 0))
                 for n in nodes if n.get("Alive")}
        for node, holder in list(self._holders.items()):
            if node not in alive:
                self._drop(holder, "its node left the cluster")
        for node, cpus in alive.items():
            if cpus >= 1 and node not in self._holders and self._started[node] < REPLACEMENTS_PER_NODE:
                self._spawn(node, cpus)
        if not self._holders and self._started and all(
                self._started[n] >= REPLACEMENTS_PER_NODE for n in alive):
            self._broken = "every Ray node's sandbox actor died repeatedly"
            assert self._free is not None
            self._free.put_nowait(None)  # wakes the programs waiting for a slot

    def _spawn(self, node: str, cpus: int) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        workers = self.workers_per_node or slots_for(cpus)
        actor = self._actor_class.options(
            num_cpus=cpus, max_concurrency=workers + 4, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
        ).remote(workers, dataclasses.asdict(self.limits))
        holder = _Holder(node, actor, cpus)
        self._holders[node] = holder
        self._started[node] += 1
        self._background(self._ready(holder))

    async def _ready(self, holder: _Holder) -> None:
        try:
            info = await holder.actor.describe.remote()
        except Exception as exc:
            self._drop(holder, f"its actor did not start: {exc}")
            return
        if not holder.alive:
            return
        holder.workers, holder.isolation, holder.host = info["workers"], info["isolation"], info["host"]
        holder.ready = True
        log.info("ray executor: node %s (%s) runs %d programs at once; %s",
                 holder.node[:12], holder.host, holder.workers, holder.isolation)
        self._background(self._read(holder))
        assert self._free is not None
        for _ in range(holder.workers):
            self._free.put_nowait(holder)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the loop, holding the task (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drop(self, holder: _Holder, reason: str | None) -> None:
        """Forget a node's actor: its free slots are skipped, its programs sent again."""
        if not holder.alive:
            return
        holder.alive = False
        if self._holders.get(holder.node) is holder:
            del self._holders[holder.node]
        if reason:
            log.warning("ray executor: dropping node %s: %s", holder.node[:12], reason)
        with contextlib.suppress(Exception):
            self._ray.kill(holder.actor, no_restart=True)

    # --- programs ---------------------------------------------------------------------

    @property
    def isolation_description(self) -> str:
        found = sorted({h.isolation for h in list(self._holders.values()) if h.ready})
        return " | ".join(found)

    @property
    def slots(self) -> int:
        return sum(h.workers for h in list(self._holders.values()) if h.ready and h.alive)

    def nodes(self) -> list[dict[str, Any]]:
        """The nodes with a ready sandbox: id, host, slots and isolation."""
        return [{"node": h.node, "host": h.host, "workers": h.workers, "isolation": h.isolation}
                for h in list(self._holders.values()) if h.ready and h.alive]

    async def execute(self, program: str, tests: dict[str, Any],
                      limits: Limits | None = None) -> Verdict:
        parse_tests(tests)  # malformed tests fail here, as with the local executor
        future = asyncio.run_coroutine_threadsafe(self._run(program, tests, limits), self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    def run_many(self, items: Sequence[tuple[str, dict[str, Any]]],
                 limits: Limits | None = None) -> list[Verdict]:
        for _, tests in items:
            parse_tests(tests)

        async def gather() -> list[Verdict]:
            return list(await asyncio.gather(*(self._run(p, t, limits) for p, t in items)))

        return self._call(gather())

    async def _take(self) -> _Holder:
        """A free slot of a live actor; waits (back-pressure) while every slot is busy."""
        assert self._free is not None
        while True:
            if self._broken:
                raise SandboxError(f"the ray executor cannot run programs: {self._broken}")
            holder = await self._free.get()
            if holder is None:  # the executor broke: pass the wake-up on to the next waiter
                self._free.put_nowait(None)
            elif holder.alive:
                return holder

    async def _run(self, program: str, tests: dict[str, Any], limits: Limits | None) -> Verdict:
        sent_limits = dataclasses.asdict(limits) if limits is not None else None
        loop = asyncio.get_running_loop()
        for _ in range(ATTEMPTS_PER_PROGRAM):
            holder = await self._take()
            job = _Job(next(self._keys), program, tests, sent_limits, loop.create_future())
            self._send(holder, job)
            # Cancelled: the program may still run on its node; its slot comes back with its verdict.
            reply = await job.reply
            if reply is LOST:
                self.resent += 1
                continue
            if "error" in reply:
                raise SandboxError(f"the sandbox on Ray node {holder.node[:12]} failed: {reply['error']}")
            verdict = Verdict.from_dict(reply["verdict"])
            return dataclasses.replace(verdict, extra={**verdict.extra, "ray_node": holder.node})
        raise SandboxError(f"a program was lost with {ATTEMPTS_PER_PROGRAM} Ray actors in turn")

    def _send(self, holder: _Holder, job: _Job) -> None:
        """Put a program with a slot of ``holder`` in its next batch."""
        holder.outbox.append(job)
        if holder.flush is None:
            loop = asyncio.get_running_loop()
            wait = max(0.0, holder.last_flush + self.batch_window - loop.time())
            holder.flush = loop.call_later(wait, self._flush, holder)

    def _flush(self, holder: _Holder) -> None:
        """Send the holder's waiting programs in one actor call."""
        holder.flush, holder.last_flush = None, asyncio.get_running_loop().time()
        jobs, holder.outbox = holder.outbox, []
        for job in jobs:
            if job.reply.done():  # cancelled before it was sent: its slot is free again
                self._release(holder)
        jobs = [job for job in jobs if not job.reply.done()]
        if not jobs:
            return
        if not holder.alive:  # dropped since the slots were taken: send them elsewhere
            for job in jobs:
                job.reply.set_result(LOST)
            return
        self.in_flight += len(jobs)
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        holder.sent.update((job.key, job) for job in jobs)
        self.calls += 1
        ref = holder.actor.submit.remote([(j.key, j.program, j.tests, j.limits) for j in jobs])
        self._background(self._submitted(holder, jobs, ref))

    async def _submitted(self, holder: _Holder, jobs: list[_Job], ref: Any) -> None:
        """Watch a batch's call: a lost actor is the stream's to handle; any other failure
        fails that batch's programs."""
        try:
            await ref
        except self._exceptions as exc:
            self._lose(holder, f"lost while taking programs ({type(exc).__name__})")
        except Exception as exc:
            for job in jobs:
                if holder.sent.pop(job.key, None) is not None:
                    self._finish(holder, job, {"error": f"{type(exc).__name__}: {exc}"})

    async def _read(self, holder: _Holder) -> None:
        """Hand each verdict on the actor's stream to its program, for the actor's life."""
        try:
            async for ref in holder.actor.verdicts.remote(self.batch_window):
                self.items += 1
                for key, reply in await ref:
                    job = holder.sent.pop(key, None)
                    if job is not None:
                        self._finish(holder, job, reply)
            reason = "its stream of verdicts ended"
        except Exception as exc:
            reason = f"lost while running programs ({type(exc).__name__})"
        self._lose(holder, reason)

    def _lose(self, holder: _Holder, reason: str) -> None:
        """Drop the holder; its programs without a verdict go to other actors (only
        those: nothing comes back twice)."""
        self._drop(holder, reason)
        lost, holder.sent = list(holder.sent.values()), {}
        for job in lost:
            self.in_flight -= 1
            if not job.reply.done():
                job.reply.set_result(LOST)

    def _finish(self, holder: _Holder, job: _Job, reply: dict[str, Any]) -> None:
        self.in_flight -= 1
        self._release(holder)
        if not job.reply.done():  # not cancelled meanwhile
            job.reply.set_result(reply)

    def _release(self, holder: _Holder) -> None:
        if holder.alive:
            assert self._free is not None
            self._free.put_nowait(holder)


def _retryable(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors that mean the actor or its node is gone, not that the program failed."""
    e = ray.exceptions
    names = ("RayActorError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError",
             "ObjectLostError", "LocalRayletDiedError", "ActorUnschedulableError")
    return tuple(getattr(e, n) for n in names if hasattr(e, n))


def _holder_class() -> type:
    from repair_tui.core.engine.executors.actor import SandboxHolder

    holder: type = SandboxHolder
    return holder
