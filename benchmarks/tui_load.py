"""How fast the app opens a big run, against the budgets of issue 6 ("Speed").

Builds a database holding one HumanEval run of 164 tasks x 50 programs with one
feedback and one repair per failing program (about 15,000 nodes; programs are the
tasks' reference solutions, so texts have realistic sizes), imported through the
paper's format. Then, driving the real app with its test driver (``App.run_test``,
as the pilot tests do), it times:

- runs screen: from creating the app to a runs table listing the run (budget 1 s);
- run screen: from Enter on the run to the tallies and the task table drawn
  (budget 0.5 s); "+ pass@t": until the estimator worker's chart and heat map are
  in too (they follow the first frame; no budget of their own);
- task tree: from Enter on the task with the most nodes to its Task screen drawn
  with the tree loaded (budget 100 ms), if the Task screen is available; "expand
  all": then opening every node of that tree (no budget of its own);
- live refresh (no budget in the issue): one node written by another connection,
  from the poll to the run screen's tallies, table and estimate updated.

Then the same steps again (rows marked "+ writing") on a copy of the database into
whose run another process writes the whole time, as a run in progress does (about 40
feedback + repair pairs and verdicts a second, in every task), while the app polls for
changes every 0.5 s as it does by default: the run screen and the task tree then also
take in what was written.

Each figure is the median of --repeat fresh apps, as wall time and as the CPU time
this process spent (the second is what a loaded machine does not inflate). The
ratios printed are measured / budget: below 1.0 is within budget.

    python benchmarks/tui_load.py [--repeat 5] [--keep DB] [--no-writing] [--profile N]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.estimate.grid import Grid
from repair_tui.core.formats.files import import_run
from repair_tui.core.store.store import Store
from repair_tui.tui.app import RepairApp
from repair_tui.tui.screens.run import RunScreen
from repair_tui.tui.widgets.chart import PassChart
from repair_tui.tui.widgets.task_table import TaskTable
from textual.pilot import Pilot
from textual.widgets import DataTable

SIZE = (160, 50)
RUN_NAME = "humaneval-50x1"
WRITE_PAUSE = 0.02  # seconds between the writer's steps (about 40 a second)
PROFILE: cProfile.Profile | None = None  # set by --profile: on around each tree opening
BUDGETS = {"runs screen": 1.0, "run screen": 0.5, "task tree": 0.1}
EXPLANATION = ("The function returns early inside the loop, so only the first element is "
               "checked; the expected output for the failing input needs every element. "
               "Move the return after the loop and compare each pair.")


def write_run(path: Path, seed: int) -> None:
    """164 HumanEval tasks x 50 programs, one feedback + repair per failing program."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as f:
        for task in load_dataset("humaneval"):
            code = task.references[0] if task.references else task.spec
            first = float(rng.beta(1.6, 1.0))  # chance a program passes (mean 0.62)
            fix = float(rng.beta(0.8, 2.5))
            completions = []
            for _ in range(50):
                item = _item(code, first, rng)
                if not item["binary"]:
                    repair = _item(code, fix, rng)
                    repair["explanation"] = EXPLANATION
                    repair["tokens_generated"] += 45
                    repair["repairs"] = []
                    item["repairs"] = [repair]
                completions.append(item)
            f.write(json.dumps({"task_id": task.id, "prompt": task.spec,
                                "completions": completions}) + "\n")


def _item(code: str, p_pass: float, rng: np.random.Generator) -> dict[str, Any]:
    passed = bool(rng.random() < p_pass)
    return {"original_completion": f"```python\n{code}\n```", "executed_completion": code,
            "tokens_generated": int(rng.lognormal(np.log(120), 0.3)), "binary": passed,
            "fault": "passed" if passed else "wrong_answer", "errors": [],
            "repairs": None}


def build_db(db: Path, seed: int) -> int:
    """Write the run into ``db``; returns its node count."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "humaneval-50x1.jsonl"
        write_run(source, seed)
        with Store.open(db) as store:
            run = import_run(store, source, RUN_NAME, model="sim",
                             feedback_model="sim")
            return sum(r.programs + r.repairs + r.feedback for r in store.task_rows(run.id))


async def until(pilot: Pilot[None], ready: Callable[[], bool], limit: float = 30.0) -> None:
    """Let the app run until ``ready()``: short pauses, no fixed sleeps."""
    start = time.perf_counter()
    while not ready():
        await pilot.pause(0.002)
        if time.perf_counter() - start > limit:
            raise TimeoutError("the app did not get there")


class Clock:
    """Wall time and this process's CPU time (all threads) since ``start``.

    On a loaded machine the wall time grows with the other processes' share of the
    cores; the CPU time is what the app itself spent, close to the wall time of an
    idle machine (the GIL keeps the worker threads from running in parallel).
    """

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


Figures = dict[str, tuple[float, float]]


@contextmanager
def record(marks: Figures, clock: Clock) -> Iterator[None]:
    """Note the clock when the Run screen's first frame (tallies and tasks) is drawn
    and when the estimate is shown, from inside the app: the pilot's own waits for
    idle would otherwise be counted."""
    mount, show = RunScreen.on_mount, PassChart.show

    def on_mount(self: RunScreen) -> None:
        mount(self)
        self.call_after_refresh(lambda: marks.setdefault("run screen", clock.stop()))

    def show_grid(self: PassChart, grid: Grid | None) -> None:
        show(self, grid)
        self.call_after_refresh(lambda: marks.setdefault("+ pass@t", clock.stop()))

    RunScreen.on_mount = on_mount  # type: ignore[method-assign,unused-ignore]
    PassChart.show = show_grid  # type: ignore[method-assign,unused-ignore]
    try:
        yield
    finally:
        RunScreen.on_mount, PassChart.show = mount, show  # type: ignore[method-assign,unused-ignore]


async def measure_once(db: Path, writing: bool = False) -> Figures:
    """One fresh app: (wall, cpu) seconds per step (no task tree if not available).

    ``writing``: another process writes into ``db`` meanwhile, and the app polls for
    changes as often as it does by default (no live refresh step then)."""
    out: Figures = {}
    clock = Clock()
    clock.start()
    app = RepairApp(db, load_samples=False, poll_interval=0.5 if writing else 3600)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: RUN_NAME in {
            s.name for s in getattr(app.screen, "summaries", {}).values()})
        out["runs screen"] = clock.stop()
        runs = app.screen.query_one(DataTable)
        run_id = next(k for k, s in app.screen.summaries.items()  # type: ignore[attr-defined]
                      if s.name == RUN_NAME)
        runs.move_cursor(row=runs.get_row_index(str(run_id)))
        await pilot.pause()

        marks: dict[str, tuple[float, float]] = {}
        clock.start()
        with record(marks, clock):
            await pilot.press("enter")
            await until(pilot, lambda: "+ pass@t" in marks and "run screen" in marks)
        out.update(marks)
        screen = app.screen
        assert isinstance(screen, RunScreen)

        if not writing:
            out["live refresh"] = await live_refresh(app, pilot, screen, db, clock)
        out.update(await task_tree(app, pilot, screen, clock))
    return out


@contextmanager
def writing_run(db: Path) -> Iterator[None]:
    """Another process writing into the benchmark's run until the block ends, as a run
    in progress does: ``write_steps`` (this script with --write-into)."""
    cmd = [sys.executable, __file__, "--write-into", str(db)]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "writing":  # after its first steps
            raise RuntimeError(f"the writer stopped: {proc.communicate()[1].strip()}")
        yield
        if proc.poll() is not None:
            raise RuntimeError("the writer ended before the measurements did")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_steps(db: Path, pause: float = WRITE_PAUSE) -> None:
    """Write into the benchmark's run until killed, as a running run does: a feedback
    and its repair under a failing program (random task, the biggest ones included),
    then the repair's verdict; two transactions per step, a step every ``pause`` s."""
    from repair_tui.core.store.records import NewNode
    from repair_tui.sandbox.result import Status, TestResult, Verdict

    rng = np.random.default_rng(1)
    with Store.open(db) as store:
        run = store.get_run(RUN_NAME)
        failing = [(r[0], r[1]) for r in store.db.execute(
            "SELECT task_id, key FROM nodes WHERE run_id = ? AND kind = 'program' "
            "AND passed = 0 AND parent_id IS NULL", (run.id,))]
        code = "def f(x):\n    return x\n"
        for step in range(10**9):
            task_id, key = failing[int(rng.integers(len(failing)))]
            feedback = f"{key}|f{1000 + step}"
            nodes = store.add_nodes(run.id, [
                NewNode(task_id, feedback, "feedback", parent_key=key, model="sim",
                        text=EXPLANATION, tokens=45),
                NewNode(task_id, f"{feedback}|r0", "program", parent_key=feedback,
                        model="sim", text=f"```python\n{code}```", code=code, tokens=120)])
            passed = bool(rng.random() < 0.3)
            results = [TestResult(0, Status.PASSED if passed else Status.WRONG_ANSWER,
                                  "[1]", "1", "1" if passed else "2")]
            store.record_verdict(nodes[-1].id, Verdict(
                passed, results, "fixed", fault=None if passed else "wrong answer on test 1"))
            if step == 20:
                print("writing", flush=True)
            time.sleep(pause)


async def live_refresh(app: RepairApp, pilot: Pilot[None], screen: RunScreen, db: Path,
                       clock: Clock) -> tuple[float, float]:
    with Store.open(db) as writer:
        node = writer.nodes_by_key(1, "HumanEval/0")["HumanEval/0|p0"]
        writer.add_feedback(node.id, "A human note.")
    before = screen.grid
    clock.start()
    app.poll_data()
    await until(pilot, lambda: screen.grid is not before)
    return clock.stop()


async def task_tree(app: RepairApp, pilot: Pilot[None], screen: RunScreen, clock: Clock) -> Figures:
    """Open the biggest task: Enter to its tree drawn, then expanding every node."""
    try:
        from repair_tui.tui.screens.task import TaskScreen
    except ImportError:
        return {}
    table = screen.query_one(TaskTable)
    biggest = max(screen.rows, key=lambda r: r.programs + r.repairs + r.feedback)
    table.move_cursor(row=table.get_row_index(biggest.task_id))
    await pilot.pause()
    marks: Figures = {}
    mount = TaskScreen.on_mount

    def drawn() -> None:
        marks.setdefault("task tree", clock.stop())
        if PROFILE is not None:
            PROFILE.disable()

    def on_mount(self: TaskScreen) -> None:
        mount(self)
        self.call_after_refresh(drawn)

    TaskScreen.on_mount = on_mount  # type: ignore[method-assign,unused-ignore]
    try:
        clock.start()
        if PROFILE is not None:
            PROFILE.enable()
        await pilot.press("enter")
        await until(pilot, lambda: "task tree" in marks)
    finally:
        TaskScreen.on_mount = mount  # type: ignore[method-assign,unused-ignore]
    tree = app.screen.query_one("#task-tree")
    clock.start()
    tree.root.expand_all()
    tree.call_after_refresh(lambda: marks.setdefault("expand all", clock.stop()))
    await until(pilot, lambda: "expand all" in marks)
    return marks


async def measure(db: Path, repeat: int, writing: bool = False,
                  ) -> dict[str, list[tuple[float, float]]]:
    runs: dict[str, list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for name, value in (await measure_once(db, writing)).items():
            runs.setdefault(name + (" + writing" if writing else ""), []).append(value)
    return runs


def measure_writing(db: Path, repeat: int) -> dict[str, list[tuple[float, float]]]:
    """The steps again on a copy of ``db`` that another run writes into meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "writing.db"
        with Store.open(db) as store:  # a checkpointed, self-contained file to copy
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(db, copy)
        with writing_run(copy):
            return asyncio.run(measure(copy, repeat, writing=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh apps to time (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated run")
    parser.add_argument("--keep", type=Path, default=None, help="build (or reuse) this database")
    parser.add_argument("--no-writing", action="store_true",
                        help="skip the pass with another process writing into the run")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="instead of timing: profile the task tree's opening (Enter to "
                             "drawn) in --repeat fresh apps, print the N top entries")
    parser.add_argument("--write-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_into:  # the writer process of the "+ writing" pass
        write_steps(args.write_into)
        return 0
    if args.profile:
        global PROFILE
        PROFILE = cProfile.Profile()
        args.no_writing = True
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep or Path(tmp) / "bench.db"
        if not db.exists():
            t0 = time.perf_counter()
            nodes = build_db(db, args.seed)
            print(f"built {db.name}: 164 tasks x 50 programs, {nodes:,} nodes "
                  f"in {time.perf_counter() - t0:.1f} s")
        runs = asyncio.run(measure(db, args.repeat))
        load = [os.getloadavg()[0]]
        if PROFILE is not None:
            print(f"cProfile of the task tree's opening, {args.repeat} fresh apps, load "
                  f"average {load[0]:.2f}:")
            pstats.Stats(PROFILE).sort_stats("cumulative").print_stats(args.profile)
            return 0
        if not args.no_writing:
            runs.update(measure_writing(db, args.repeat))
            load.append(os.getloadavg()[0])
    print(f"median of {args.repeat} fresh apps, terminal {SIZE[0]}x{SIZE[1]}, load average "
          f"{' then '.join(f'{x:.2f}' for x in load)} on {os.cpu_count()} cores")
    steps = ("runs screen", "run screen", "+ pass@t", "task tree", "expand all", "live refresh")
    width = 25
    print(f"{'step':<{width}} {'wall':>9} {'cpu':>9} {'budget':>8} {'wall/budget':>12} "
          f"{'cpu/budget':>11}")
    for name in [*steps, *(f"{s} + writing" for s in steps if s != "live refresh")]:
        if name.endswith(" + writing") and args.no_writing:
            continue
        if name not in runs:
            print(f"{name:<{width}} not available (the Task screen is not built)")
            continue
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        budget = BUDGETS.get(name.removesuffix(" + writing"))
        ratios = (f"{wall / budget:12.2f} {cpu / budget:11.2f}" if budget
                  else f"{'-':>12} {'-':>11}")
        shown = f"{budget * 1000:.0f} ms" if budget else "-"
        print(f"{name:<{width}} {wall * 1000:6.0f} ms {cpu * 1000:6.0f} ms {shown:>8} {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
