"""WAL: a reader in another process never sees half a step; two writers never collide."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from repair_tui.core.store.store import Store

# A writer process: N steps, each one call with a program, its feedback and a repair,
# then the program's verdict with 5 test results. Every 50 steps it waits until the
# reader has seen that many calls, so the reader is sure to observe states mid-run.
WRITER = """
import sys, time
from pathlib import Path
from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Status, TestResult, Verdict

path, name, steps, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = Store.open(path)
run = store.create_run(name, RunConfig(dataset="d", model="m"), isolation="", simulated=True)
store.add_tasks(run.id, [Task(id="T", source="jsonl", spec="", tests={})])
results = [TestResult(i, Status.PASSED) for i in range(5)]
for i in range(steps):
    p = f"T|p{i}"
    _, nodes = store.add_call(run.id, NewCall(task_id="T", key=f"c{i}", role="joint", model="m"), [
        NewNode(task_id="T", key=p, kind="program", tokens=1),
        NewNode(task_id="T", key=p + "|f0", kind="feedback", parent_key=p, tokens=1),
        NewNode(task_id="T", key=p + "|f0|r0", kind="program", parent_key=p + "|f0", tokens=1),
    ])
    store.record_verdict(nodes[0].id, Verdict(passed=True, results=results, isolation=""))
    if sync != "-" and (i + 1) % 50 == 0:
        while not Path(f"{sync}-{i + 1}").exists():
            time.sleep(0.005)
store.close()
"""

SNAPSHOT = """
SELECT (SELECT count(*) FROM calls),
       (SELECT count(*) FROM nodes),
       (SELECT count(*) FROM nodes n WHERE n.passed IS NOT NULL
          AND (SELECT count(*) FROM test_results r WHERE r.node_id = n.id) != 5),
       (SELECT count(*) FROM (SELECT call_id FROM nodes GROUP BY call_id HAVING count(*) != 3))
"""


def start_writer(path: Path, name: str, steps: int, sync: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(steps), sync],
                            stderr=subprocess.PIPE, text=True)


def test_a_concurrent_reader_never_sees_half_a_step(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    Store.open(path).close()  # migrate first, so the reader can query at once
    steps = 200
    writer = start_writer(path, "w", steps, str(tmp_path / "seen"))
    reader = Store.open(path)
    seen_states: set[int] = set()
    acked = 0
    while True:
        done = writer.poll() is not None
        calls, nodes, partial_verdicts, partial_calls = reader.db.execute(SNAPSHOT).fetchone()
        assert nodes == 3 * calls
        assert partial_verdicts == 0 and partial_calls == 0
        seen_states.add(calls)
        while acked + 50 <= calls:
            acked += 50
            (tmp_path / f"seen-{acked}").touch()
        if done:
            break
        time.sleep(0.001)
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    assert calls == steps
    assert len(seen_states - {0, steps}) >= 3  # the reader really read mid-run
    run = reader.get_run("w")
    assert reader.run_totals(run.id).programs_passed == steps


def test_two_writer_processes_share_the_database(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    Store.open(path).close()
    writers = [start_writer(path, name, 150, "-") for name in ("left", "right")]
    for w in writers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
    with Store.open(path) as store:
        summaries = {s.name: s for s in store.list_runs()}
        assert {n: (s.programs, s.repairs) for n, s in summaries.items()} == {
            "left": (150, 150), "right": (150, 150)}
