"""Benchmark: the same program executions through the ray executor and the local one.

The programs are the bundled HumanEval sample run's first programs (164 tasks x 10 =
1,640, with their tests), submitted all at once as the engine submits a task's
samples. Both executors run on this machine in the same process, their passes taking
turns (local, ray, local, ray, ...) so that a change in the machine's load falls on
both; the load average is printed before each pass:

* baseline: ``local``, the sandbox's fork server with ``slots_for(cores)`` slots;
* measured: ``ray``, a local Ray instance with one sandbox actor of the same size.

It checks that both give the same verdict (passed, fault) for every program, prints
each time and the ratio ray / local (target on one machine: at most 1.3), then the
cost per program: core-seconds per program (the local wall time x this machine's
cores / programs: an upper bound, since the cores were never idle) and the driver's
own CPU per program on Ray (Ray's client runs in the driver's process), with how many
programs each actor call and each item of the verdict streams carried. From those it
writes down what N nodes of C cores would give: programs per second
~ min(N x C / core-seconds per program, 1 / driver CPU per program).

Usage: python benchmarks/executor_ray.py [--rounds 3] [--limit N] [--repairs]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from repair_tui.core.engine.executors import Executor, LocalExecutor, slots_for
from repair_tui.core.engine.executors.cluster import RayExecutor
from repair_tui.sandbox.result import Verdict

SAMPLE = Path(__file__).resolve().parents[1] / "sample_runs" / "humaneval-sim-joint.jsonl.gz"


def load_programs(repairs: bool, limit: int | None) -> list[tuple[str, dict[str, Any]]]:
    """(code, tests) of the sample run's first programs (and repairs with --repairs)."""
    tests: dict[str, dict[str, Any]] = {}
    programs: list[tuple[str, dict[str, Any]]] = []
    with gzip.open(SAMPLE, "rt") as f:
        for line in f:
            row = json.loads(line)
            if row.get("type") == "task":
                tests[row["id"]] = row["tests"]
            elif (row.get("type") == "node" and row["kind"] == "program" and row.get("code") is not None
                  and (repairs or row.get("parent_key") is None)):
                programs.append((row["code"], tests[row["task_id"]]))
    return programs[:limit] if limit else programs


def own_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


async def execute_all(executor: Executor, programs: list[tuple[str, dict[str, Any]]]) -> list[Verdict]:
    return list(await asyncio.gather(*(executor.execute(code, tests) for code, tests in programs)))


def timed(executor: Executor, programs: list[tuple[str, dict[str, Any]]]) -> tuple[float, float, list[Verdict]]:
    """Wall seconds, this process's CPU seconds and the verdicts of one pass."""
    load = os.getloadavg()[0]
    cpu, start = own_cpu_seconds(), time.perf_counter()
    verdicts = asyncio.run(execute_all(executor, programs))
    wall = time.perf_counter() - start
    print(f"  {executor.name:>5}: {wall:6.2f} s  (load average before: {load:.1f})", flush=True)
    return wall, own_cpu_seconds() - cpu, verdicts


def same(a: list[Verdict], b: list[Verdict]) -> int:
    """How many programs got a different verdict (passed or fault)."""
    return sum((x.passed, x.fault) != (y.passed, y.fault) for x, y in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes per executor; the best counts")
    parser.add_argument("--limit", type=int, default=None, help="only the first N programs")
    parser.add_argument("--repairs", action="store_true", help="the repairs too, not only first programs")
    args = parser.parse_args()
    programs = load_programs(args.repairs, args.limit)
    cores = os.cpu_count() or 1
    print(f"{len(programs):,} programs from {SAMPLE.name}; {cores} cores, "
          f"{slots_for(cores)} sandbox slots per machine")

    start = time.perf_counter()
    with RayExecutor() as on_ray, LocalExecutor(workers=slots_for(cores)) as local:
        ray_start = time.perf_counter() - start
        local_runs, ray_runs = [], []
        for _ in range(args.rounds):
            local_runs.append(timed(local, programs))
            ray_runs.append(timed(on_ray, programs))
        slots = on_ray.slots
        calls, items = on_ray.calls / args.rounds, on_ray.items / args.rounds

    t_local, t_ray = min(r[0] for r in local_runs), min(r[0] for r in ray_runs)
    core_seconds = t_local * cores / len(programs)
    driver_cpu = min(r[1] for r in ray_runs) / len(programs)
    differ = same(local_runs[0][2], ray_runs[0][2])
    print(f"local: {', '.join(f'{r[0]:.2f}' for r in local_runs)} s")
    print(f"ray:   {', '.join(f'{r[0]:.2f}' for r in ray_runs)} s  ({slots} slots; starting "
          f"the local Ray instance and its actor took {ray_start:.1f} s, not counted)")
    print(f"ray: {len(programs) / calls:.1f} programs per actor call, "
          f"{len(programs) / items:.1f} verdicts per item of the actor's stream")
    print(f"verdicts that differ between the executors: {differ} of {len(programs):,}")
    print(f"ratio ray / local: {t_ray / t_local:.2f}x (target <= 1.30x)")
    print(f"cost per program: {1000 * t_local / len(programs):.1f} ms wall here, "
          f"{1000 * core_seconds:.1f} ms of a core, "
          f"{1000 * driver_cpu:.2f} ms CPU in the driver on Ray")
    project(core_seconds, driver_cpu)


def project(core_seconds: float, driver_cpu: float) -> None:
    """Programs per second N nodes of C cores would give, and the paper's APPS sample."""
    cap = 1 / driver_cpu if driver_cpu > 0 else float("inf")
    print("what N nodes of C cores would give (CPU-bound estimate; the driver's CPU per "
          f"program caps it at {cap:,.0f} programs/s):")
    print(f"  {'nodes x cores':>14}  {'programs/s':>11}  {'100,000 such programs (the APPS count)':>48}")
    for nodes, cores in ((1, 2), (1, 16), (4, 16), (16, 32), (64, 64)):
        rate = min(nodes * cores / core_seconds, cap)
        print(f"  {f'{nodes} x {cores}':>14}  {rate:>11,.0f}  {100_000 / rate / 60:>44,.1f} min")


if __name__ == "__main__":
    main()
