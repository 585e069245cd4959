"""Whole runs: a configuration applied to a task list, written into the store.

`run_repair` creates the run (or finds it to resume), then works every task at once
through the Engine's steps: its first programs, then for each failing program the
feedback-repair pairs, level by level up to the configured depth. All calls share one
priority pool (earlier tasks first, so tasks finish in order); executions go to the
executor (the local sandbox, or a Ray cluster: core/engine/executors) as soon as a
call returns, so neither waits on the other.

Resuming is running again: every stored call is found by its key and not made again,
unexecuted programs are executed, and failed calls are retried. An interruption
(Ctrl-C, a cancelled task) leaves the run ``interrupted``; a model endpoint that
cannot be used leaves it ``failed`` with the reason.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import replace

from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.core.engine.events import EventSink, RunFinished, RunStarted, TaskFinished, ignore
from repair_tui.core.engine.executors import (
    EXECUTORS,
    Executor,
    LocalExecutor,
    make_executor,
    slots_for,
)
from repair_tui.core.engine.steps import Engine
from repair_tui.core.errors import UserError
from repair_tui.core.llm.client import ChatModel
from repair_tui.core.store.records import MODES, Node, Run, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.core.store.writer import StoreWriter
from repair_tui.sandbox.runner import Sandbox, SandboxError


def check_config(config: RunConfig) -> None:
    """UserError naming the first option with a value that cannot work."""
    if config.mode not in MODES:
        raise UserError(f"--mode must be one of {', '.join(MODES)}, not {config.mode!r}")
    for name in ("np", "depth", "max_tokens", "concurrency"):
        if getattr(config, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(config, name)}")
    if config.nfr < 0:
        raise UserError(f"--nfr must be 0 or more, not {config.nfr}")
    if not 0 <= config.temperature <= 2:
        raise UserError(f"--temperature must be between 0 and 2, not {config.temperature}")
    if config.executor not in EXECUTORS:
        raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, not {config.executor!r}")
    if config.ray_address and config.executor != "ray":
        raise UserError("--ray-address needs --executor ray")


def load_tasks(config: RunConfig) -> list[Task]:
    """The tasks a configuration names, filtered as it says."""
    return list(load_dataset(
        config.dataset, split=config.split, difficulty=config.difficulty,
        limit=config.limit, ids=list(config.task_ids) or None,
    ))


def prepare_run(
    store: Store, name: str, config: RunConfig | None, *, isolation: str,
    models: dict[str, ChatModel] | None = None, executor: Executor | None = None,
) -> tuple[Run, bool]:
    """The run to work on and whether it is resumed.

    With ``config`` None the stored run ``name`` is resumed with its own configuration.
    A new run is marked simulated when all its models are (``models``: injected ones).
    A stored run with another configuration is an error naming the differing keys.
    The ``executor`` (its name and address) is written into the run's configuration.
    """
    existing = store.find_run(name)
    if existing is None:
        if config is None:
            raise UserError(f"no run named {name!r} in {store.label} to resume")
        check_config(config)
        if executor is not None:
            config = replace(config, executor=executor.name, ray_address=executor.address)
        tasks = load_tasks(config)
        if not tasks:
            raise UserError(f"dataset {config.dataset!r} gave no tasks with these filters")
        with store.transaction():
            run = store.create_run(name, config, isolation=isolation,
                                   simulated=_simulated(config, models))
            store.add_tasks(run.id, tasks)
        return run, False
    if existing.status == "imported":
        raise UserError(f"run {name!r} was imported, not sampled here: it cannot be resumed")
    if config is not None:
        differing = existing.config.differing_keys(config)
        if differing:
            raise UserError(
                f"run {name!r} already exists with another configuration "
                f"(differs in: {', '.join(differing)}); choose another --name or resume it"
            )
    # Runtime knobs (concurrency, latency, endpoint, executor) may change between sessions.
    config = config or existing.config
    if executor is not None:
        config = replace(config, executor=executor.name, ray_address=executor.address)
    if config != existing.config:
        existing = store.update_run(existing.id, config=config)
    return store.set_run_status(existing.id, "running"), True


async def run_repair(
    store: Store,
    name: str,
    config: RunConfig | None,
    *,
    sink: EventSink = ignore,
    sandbox: Sandbox | None = None,
    api_key: str | None = None,
    models: dict[str, ChatModel] | None = None,
    executor: Executor | None = None,
) -> Run:
    """Run (or resume) the run ``name`` to the end and return it as stored.

    ``config`` None resumes the stored run. Programs run through ``executor``, else a
    local one around ``sandbox``, else the executor the configuration names (made here
    and closed at the end). Raises UserError for bad options or an endpoint that cannot
    be used (the run is then ``failed``); on cancellation the run is ``interrupted``
    and CancelledError propagates.
    """
    own = executor is None
    if executor is None:
        executor = await _executor_for(store, name, config, sandbox)
    try:
        return await _run(store, name, config, sink, executor, api_key, models)
    finally:
        if own:
            await asyncio.to_thread(executor.close)


async def _executor_for(store: Store, name: str, config: RunConfig | None,
                        sandbox: Sandbox | None) -> Executor:
    """A local executor around ``sandbox``, else the one the run's configuration names."""
    if sandbox is not None:
        return LocalExecutor(sandbox)
    stored = store.find_run(name) if config is None else None
    chosen = config or (stored.config if stored is not None else None)
    if chosen is None:
        raise UserError(f"no run named {name!r} in {store.label} to resume")
    check_config(chosen)
    made: Executor = await asyncio.to_thread(
        make_executor, chosen.executor, address=chosen.ray_address,
        workers=run_workers() if chosen.executor == "local" else None)
    return made


def run_workers() -> int:
    """Sandbox slots for a run on this machine (see ``slots_for``)."""
    slots: int = slots_for(os.cpu_count() or 1)
    return slots


async def _run(
    store: Store, name: str, config: RunConfig | None, sink: EventSink, executor: Executor,
    api_key: str | None, models: dict[str, ChatModel] | None,
) -> Run:
    run, resumed = prepare_run(store, name, config, isolation=executor.isolation_description,
                               models=models, executor=executor)
    writer = StoreWriter.for_store(store)
    engine = Engine(store, run, executor=executor, sink=sink, api_key=api_key, models=models,
                    writer=writer)
    tasks = list(engine.tasks().values())
    sink(RunStarted(run.id, run.name, len(tasks), resumed, isolation=executor.isolation_description))
    try:
        await _work(engine, tasks)
    except asyncio.CancelledError:
        _finish(store, sink, run, "interrupted", "interrupted; run the same command again to resume")
        raise
    except (UserError, SandboxError) as exc:
        _finish(store, sink, run, "failed", str(exc))
        raise UserError(str(exc)) from None
    finally:
        await engine.aclose()
        if writer is not None:
            writer.close()  # the writes already queued are committed first
    message = None
    if engine.failed_calls:
        message = (f"{engine.failed_calls} model call(s) failed after their retries; "
                   "run the same command again to retry them")
    return _finish(store, sink, run, "finished", message)


async def _work(engine: Engine, tasks: Sequence[Task]) -> None:
    jobs = [asyncio.create_task(_task(engine, task, i)) for i, task in enumerate(tasks)]
    try:
        await asyncio.gather(*jobs)
    finally:
        for job in jobs:
            job.cancel()  # one failed: stop the others before the run is marked
        await asyncio.gather(*jobs, return_exceptions=True)


async def _task(engine: Engine, task: Task, priority: int) -> None:
    programs = await engine.generate(task, priority=priority)
    solved = any(p.passed for p in programs)
    by_repair = await _repair_level(engine, programs, priority)
    engine.sink(TaskFinished(engine.run.id, task.id, solved or by_repair, by_repair and not solved))


async def _repair_level(engine: Engine, programs: Sequence[Node], priority: int) -> bool:
    """Repair every failing program shallower than the run's depth, recursively;
    True if any repair at any level passed."""
    failing = [p for p in programs if p.passed is False and p.depth < engine.config.depth]
    if not failing:
        return False
    results = await asyncio.gather(*(_repair_one(engine, p, priority) for p in failing))
    return any(results)


async def _repair_one(engine: Engine, program: Node, priority: int) -> bool:
    repairs = await engine.feedback_and_repair(program, priority=priority)
    passed = any(r.passed for r in repairs)
    deeper = await _repair_level(engine, repairs, priority)
    return passed or deeper


def _finish(store: Store, sink: EventSink, run: Run, status: str, message: str | None) -> Run:
    stored = store.set_run_status(run.id, status, message)
    sink(RunFinished(run.id, status, message or ""))
    return stored


def _simulated(config: RunConfig, models: dict[str, ChatModel] | None) -> bool:
    from repair_tui.core.llm.client import SIM_NAMES

    names = {config.model, config.feedback_model or config.model}
    if models:
        return all(getattr(models.get(n), "simulated", False) for n in names)
    return config.base_url is None and names <= set(SIM_NAMES)
