"""A minimal app for testing screens, and the databases the TUI tests run on.

``HarnessApp`` has the two members screens rely on (the ``RepairHost`` contract:
``store`` and ``engine_for``) and opens one screen. The builders make real runs:
``sim_run`` with the engine and the simulated model (real sandbox verdicts), and
``fixed_run`` by hand with fixed verdicts, for snapshots that must not move when the
simulated model or the machine's isolation changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.core.engine.events import Event
from repair_tui.core.engine.run import run_repair
from repair_tui.core.engine.steps import Engine, open_engine
from repair_tui.core.store.records import NewCall, NewNode, Run, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Status, TestResult, Verdict
from repair_tui.tui.messages import EngineReported
from textual.app import App
from textual.notifications import SeverityLevel
from textual.pilot import Pilot
from textual.screen import Screen


class HarnessApp(App[None]):
    """Opens ``make_screen()`` on a database, with the app's ``store`` and ``engine_for``."""

    def __init__(self, db: Path, make_screen: Callable[[], Screen[None]],
                 api_key: str | None = None) -> None:
        super().__init__()
        self.store = Store.open(db)
        self.api_key = api_key
        self.events: list[Event] = []
        self.notices: list[tuple[str, str]] = []  # (severity, message) of every notification
        self._engines: dict[int, Engine] = {}
        self._make_screen = make_screen

    def engine_for(self, run_id: int) -> Engine:
        """One Engine per run, reporting to every screen as ``EngineReported``."""
        if run_id not in self._engines:
            self._engines[run_id] = open_engine(self.store, run_id, sink=self._report,
                                                api_key=self.api_key)
        return self._engines[run_id]

    def _report(self, event: Event) -> None:
        self.events.append(event)
        for screen in self.screen_stack:
            screen.post_message(EngineReported(event))

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        self.notices.append((severity, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def on_mount(self) -> None:
        self.push_screen(self._make_screen())

    async def on_unmount(self) -> None:
        for engine in self._engines.values():
            await engine.aclose()
        self.store.close()


HE_TASKS = ("HumanEval/1", "HumanEval/2", "HumanEval/3")


async def sim_run(db: Path, name: str = "sim-run", *, task_ids: tuple[str, ...] = HE_TASKS,
                  np: int = 3, nfr: int = 1, seed: int = 1, base_url: str | None = None) -> Run:
    """A finished run of the simulated model on a few HumanEval tasks (real sandbox)."""
    config = RunConfig(dataset="humaneval", model="sim", np=np, nfr=nfr, seed=seed,
                       task_ids=task_ids)
    with Store.open(db) as store:
        run = await run_repair(store, name, config)
        if base_url is not None:
            from dataclasses import replace

            run = store.update_run(run.id, config=replace(config, base_url=base_url))
    return run


def _verdict(passed: bool, results: list[TestResult], fault: str | None = None) -> Verdict:
    return Verdict(passed=passed, results=results, isolation="fixed", fault=fault,
                   error_message=None if passed else fault)


BUGGY = '''def truncate_number(number: float) -> float:
    """Return the decimal part of the number."""
    return number // 1.0
'''
FIXED = '''def truncate_number(number: float) -> float:
    """Return the decimal part of the number."""
    return number % 1.0
'''
RIGHT = '''def truncate_number(number: float) -> float:
    return number - int(number)
'''
FEEDBACK = ("The program returns the integer part (`number // 1.0`) instead of the "
            "decimal part. Use `number % 1.0`.")


def fixed_run(db: Path, name: str = "fixed-run") -> Run:
    """A hand-built run on HumanEval/2: a failing program with a feedback and a passing
    repair, a second failing program with a failing repair, and a passing program."""
    task: Task = load_dataset("humaneval", ids=["HumanEval/2"])[0]
    tid = task.id
    fail = _verdict(False, [TestResult(0, Status.WRONG_ANSWER, "assert candidate(3.5) == 0.5",
                                       "0.5", "3.0", "AssertionError", None, 9)],
                    "wrong answer on test 1")
    ok = _verdict(True, [TestResult(0, Status.PASSED)])
    with Store.open(db) as store:
        run = store.create_run(name, RunConfig(dataset="humaneval", model="sim", np=3, nfr=1,
                                               task_ids=(tid,)),
                               isolation="fixed", simulated=True, status="finished",
                               created_utc="2025-01-01T00:00:00.000+00:00")
        store.add_tasks(run.id, [task])
        programs = [NewNode(tid, f"{tid}|p{i}", "program", model="sim", text=code, code=code,
                            tokens=tokens, sample_index=i)
                    for i, (code, tokens) in enumerate([(BUGGY, 31), (BUGGY, 30), (RIGHT, 22)])]
        _, nodes = store.add_call(run.id, NewCall(tid, f"generate|{tid}|0", "generate", "sim"),
                                  programs)
        store.record_verdicts([(nodes[0].id, fail), (nodes[1].id, fail), (nodes[2].id, ok)])
        for p, (repair, verdict) in enumerate([(FIXED, ok), (BUGGY, fail)]):
            fkey = f"{tid}|p{p}|f0"
            _, pair = store.add_call(run.id, NewCall(tid, f"joint|{tid}|p{p}|0", "joint", "sim"), [
                NewNode(tid, fkey, "feedback", parent_key=f"{tid}|p{p}", model="sim",
                        text=FEEDBACK, tokens=28),
                NewNode(tid, f"{fkey}|r0", "program", parent_key=fkey, model="sim",
                        text=repair, code=repair, tokens=33),
            ])
            store.record_verdict(pair[1].id, verdict)
    return run


async def settle(pilot: Pilot[None], *, rounds: int = 50) -> None:
    """Wait until the app is still, so a snapshot shows one state whatever the load.

    Workers done, the footers' settling timers fired, the cursors of every editor and
    input steady (a blinking cursor is drawn or not by a clock), then one repaint.
    Waits for conditions, never for a fixed time: each round only yields to the loop.
    """
    from repair_tui.tui.widgets.footer import SETTLE, QuietFooter
    from textual.widgets import Input, TextArea

    app = pilot.app
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        footers = [f for screen in app.screen_stack for f in screen.query(QuietFooter)]
        if all(f._timer is None for f in footers) and not any(
                not w.is_finished for w in app.workers):
            break
        await pilot.pause(SETTLE)
    await pilot.pause()  # the screen's AUTO_FOCUS lands after its first refresh
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            if isinstance(widget, Input | TextArea):
                widget.cursor_blink = False
                # Pausing the blink keeps whatever phase it was in (or hides the cursor
                # if focus came later): show it exactly when the widget has focus.
                widget._cursor_visible = widget.has_focus
                if isinstance(widget, TextArea):
                    # Its line cache is keyed without focus when the blink is off: a line
                    # drawn before focus arrived would be reused, cursor-less.
                    widget._line_cache.clear()
                widget.refresh()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
