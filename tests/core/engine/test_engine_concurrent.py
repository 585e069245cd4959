"""A reader in this process polls a run that `repair-tui run` writes in another
process: it never sees half a step (a call without its nodes, a joint feedback
without its repair, a verdict without its test results)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from repair_tui.core.store.store import Store

NP, NFR = 4, 2

# Every stored call with the nodes it must have: generate np programs, joint nfr pairs.
HALF_STEPS = f"""
SELECT
  (SELECT count(*) FROM calls c WHERE c.status = 'ok' AND (SELECT count(*) FROM nodes n
      WHERE n.call_id = c.id) != CASE c.role WHEN 'generate' THEN {NP} ELSE {2 * NFR} END),
  (SELECT count(*) FROM nodes n WHERE n.call_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.id = n.call_id AND c.status = 'ok')),
  (SELECT count(*) FROM nodes n WHERE n.passed IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM test_results r WHERE r.node_id = n.id)),
  (SELECT count(*) FROM calls)
"""


def test_a_reader_never_sees_half_a_step(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    Store.open(db).close()  # migrated before both sides start
    cmd = [sys.executable, "-m", "repair_tui.tui", "--db", str(db), "run", "--dataset", "humaneval",
           "--model", "sim", "--np", str(NP), "--nfr", str(NFR), "--limit", "8", "--seed", "5",
           "--sim-latency", "0.1", "--concurrency", "4", "--name", "live", "--json"]
    writer = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = Store.open(db)
    states: set[int] = set()
    run_id = None
    try:
        while True:
            done = writer.poll() is not None
            if run_id is None:
                run = reader.find_run("live")
                run_id = None if run is None else run.id
            if run_id is not None:
                states.add(check_snapshot(reader, run_id))
            if done:
                break
            time.sleep(0.002)
    finally:
        if writer.poll() is None:
            writer.kill()
        out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert reader.get_run("live").status == "finished"
    final = check_snapshot(reader, reader.get_run("live").id)
    assert final > 8  # the run made repair calls too
    assert len(states - {0, final}) >= 3, states  # the reader really read mid-run
    reader.close()


def check_snapshot(reader: Store, run_id: int) -> int:
    """Check one consistent view of the run; return how many calls it holds."""
    reader.db.execute("BEGIN")  # one read transaction: all queries see the same commit
    try:
        bad_calls, orphans, bare_verdicts, calls = reader.db.execute(HALF_STEPS).fetchone()
        assert (bad_calls, orphans, bare_verdicts) == (0, 0, 0)
        rows = reader.task_rows(run_id)
        totals = reader.run_totals(run_id)
    finally:
        reader.db.execute("COMMIT")
    for row in rows:
        assert row.programs in (0, NP)
        assert row.feedback == row.repairs and row.repairs % NFR == 0  # joint pairs
        assert row.programs_passed + row.repairs_passed <= row.programs + row.repairs - row.pending
    assert totals.programs == sum(r.programs for r in rows)
    assert totals.feedback_by_origin.get("model", 0) == totals.repairs
    assert totals.calls == calls
    return int(calls)
