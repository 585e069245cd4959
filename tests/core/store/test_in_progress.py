"""Tasks a running run still works on are in progress: neither attempted nor unsolved."""

from __future__ import annotations

from pathlib import Path

from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Verdict


def test_work_left_on_a_running_run_is_in_progress(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.db") as store:
        run = store.create_run("r", RunConfig(dataset="humaneval", model="sim", np=1, nfr=1),
                               isolation="test", simulated=True)
        ids = ["A", "B", "C", "D"]
        store.add_tasks(run.id, [Task(id=t, source="jsonl", spec="s", tests={}) for t in ids])

        def program(task: str, passed: bool | None) -> int:
            _, (node,) = store.add_call(run.id, NewCall(task, f"generate|{task}|0", "generate", "sim"),
                                        [NewNode(task, f"{task}|p0", "program", code="x")])
            if passed is not None:
                store.record_verdict(node.id, Verdict(passed, [], "test"))
            return node.id

        program("A", None)  # not executed yet
        program("B", False)  # failing, its feedback not sampled yet
        program("C", True)  # solved
        program("D", False)
        store.add_call(run.id, NewCall("D", "joint|D|p0|0", "joint", "sim"), [
            NewNode("D", "D|p0|f0", "feedback", parent_key="D|p0"),
            NewNode("D", "D|p0|f0|r0", "program", parent_key="D|p0|f0", code="x")])
        d_repair = store.get_node_by_key(run.id, "D|p0|f0|r0")
        store.record_verdict(d_repair.id, Verdict(False, [], "test"))  # D is done: unsolved
        rows = {r.task_id: r for r in store.task_rows(run.id)}
        assert [t for t in ids if rows[t].in_progress] == ["A", "B"]
        assert [t for t in ids if rows[t].attempted] == ["C", "D"]
        totals = store.run_totals(run.id)
        assert (totals.attempted, totals.solved, totals.in_progress) == (2, 1, 2)
        # Once the run stops (finished, interrupted), nothing is waiting for more.
        store.set_run_status(run.id, "interrupted")
        rows = {r.task_id: r for r in store.task_rows(run.id)}
        assert not any(r.in_progress for r in rows.values())
        assert store.run_totals(run.id).attempted == 3
