"""`repair-tui estimate` end to end: a run written with the store's API, read back and estimated."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.estimate.exact import FrozenTask, Sample, estimate
from repair_tui.core.estimate.grid import grid
from repair_tui.core.estimate.synth import synthetic_tasks
from repair_tui.core.store.records import NewNode, RunConfig, feedback_key, program_key, repair_key
from repair_tui.core.store.store import Store
from repair_tui.sandbox.result import Status, Verdict
from repair_tui.sandbox.result import TestResult as Outcome
from repair_tui.tui.cli import main
from repair_tui.tui.cli.estimate_cmd import render, to_csv, to_json


def _verdict(passed: bool) -> Verdict:
    status = Status.PASSED if passed else Status.WRONG_ANSWER
    return Verdict(passed=passed, results=[Outcome(0, status)], isolation="test",
                   fault=None if passed else "wrong_answer on test 0")


def _write_node(store: Store, run_id: int, task_id: str, sample: Sample, key: str,
                parent_key: str | None, index: int, verdicts: list[tuple[int, Verdict]]) -> None:
    """Store one program (and, below it, feedback + repair pairs for its repairs)."""
    node = store.add_nodes(run_id, [NewNode(task_id=task_id, key=key, kind="program",
                                            parent_key=parent_key, text="x", code="x",
                                            tokens=int(sample.tokens), sample_index=index)])[0]
    verdicts.append((node.id, _verdict(sample.passed)))
    for j, rep in enumerate(sample.repairs):
        # The store's frozen form counts feedback + repair tokens in the repair Sample.
        fb_tokens = int(rep.tokens) // 3
        fkey = feedback_key(key, j)
        store.add_nodes(run_id, [NewNode(task_id=task_id, key=fkey, kind="feedback", parent_key=key,
                                         text="why", tokens=fb_tokens, sample_index=j)])
        with_fb = Sample(rep.tokens - fb_tokens, rep.passed, rep.repairs)
        _write_node(store, run_id, task_id, with_fb, repair_key(fkey, 0), fkey, 0, verdicts)


def write_run(db: Path, name: str, tasks: list[FrozenTask]) -> None:
    """Write frozen tasks into ``db`` as a finished run, through the store's write API."""
    with Store.open(db) as store:
        run = store.create_run(name, RunConfig(dataset="jsonl", model="sim"), isolation="test",
                               simulated=True, status="finished")
        store.add_tasks(run.id, [Task(id=t.task_id, source="jsonl", spec="s", tests={},
                                      difficulty=t.difficulty) for t in tasks])
        verdicts: list[tuple[int, Verdict]] = []
        for t in tasks:
            for i, prog in enumerate(t.programs):
                _write_node(store, run.id, t.task_id, prog, program_key(t.task_id, i), None, i, verdicts)
        store.record_verdicts(verdicts)


def _tasks() -> list[FrozenTask]:
    # Integer tokens, so the stored run is the same frozen set.
    return [FrozenTask(t.task_id, t.programs, t.difficulty)
            for t in synthetic_tasks(9, 6, 3, seed=4, short_repairs=0.2)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    write_run(path, "demo", _tasks())
    return path


def test_the_store_gives_back_the_frozen_set_written(db: Path) -> None:
    with Store.open(db) as store:
        back = store.frozen_tasks(store.get_run("demo").id)
    assert back == _tasks()


def test_json_rows_hold_every_cell_and_the_baseline(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["estimate", "demo", "--db", str(db), "--np", "1", "2", "5", "--nfr", "1", "3",
                 "--bootstrap", "200", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run"] == "demo" and out["tasks"] == 9 and out["mode"] == "batch"
    rows = {(r["np"], r["nfr"]): r for r in out["rows"]}
    assert set(rows) == {(n, f) for n in (1, 2, 5) for f in (1, 3)} | {(k, 0) for k in range(1, 7)}
    for key, row in rows.items():
        exact = estimate(_tasks(), key[0], key[1])
        assert row["pass_rate"] == pytest.approx(exact.pass_rate)
        assert row["tokens"] == pytest.approx(exact.tokens)
        assert row["ci_low"] <= row["pass_rate"] <= row["ci_high"]
        assert {"ratio", "out_of_bounds"} <= set(row)


def test_csv_has_the_same_rows(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "demo", "--db", str(db), "--mode", "dfs", "--bootstrap", "0", "--csv",
                 "--np", "1", "2", "5", "6", "--nfr", "1", "2", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 4 * 3 + 6
    first = rows[0]
    assert (first["np"], first["nfr"]) == ("1", "1")
    assert float(first["pass_rate"]) == pytest.approx(estimate(_tasks(), 1, 1, mode="dfs").pass_rate)
    assert first["ci_low"] == ""  # no bootstrap, no interval


def test_tables_show_policies_heat_map_and_baseline(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "estimate", "demo", "--bootstrap", "100", "--np", "1", "2", "6"]) == 0
    out = capsys.readouterr().out
    for title in ("Policies", "Heat map", "Baseline: k programs"):
        assert title in out
    assert "O.O.B." in out  # np = 6 with repairs is beyond 6 plain programs' budget
    assert "95% CI" in out


def test_difficulty_filters_tasks(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "demo", "--db", str(db), "--difficulty", "interview", "--json",
                 "--bootstrap", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tasks"] == 3 and out["difficulty"] == "interview"
    assert main(["estimate", "demo", "--db", str(db), "--difficulty", "nope"]) == 2
    assert "no task of difficulty 'nope'" in capsys.readouterr().err


def test_unknown_run_and_bad_numbers_are_user_errors(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "missing", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("repair-tui: error:") and "missing" in err and "demo" in err
    with pytest.raises(SystemExit) as exc:
        main(["estimate", "demo", "--db", str(db), "--np", "0"])
    assert exc.value.code == 2


def test_plot_writes_both_figures(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "figs"
    assert main(["estimate", "demo", "--db", str(db), "--bootstrap", "50", "--json", "--plot", str(out_dir)]) == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["demo-heatmap.png", "demo-heatmap.svg", "demo-pass-tokens.png", "demo-pass-tokens.svg"]
    assert (out_dir / "demo-heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (out_dir / "demo-pass-tokens.svg").read_text()
    json.loads(capsys.readouterr().out)  # the figures' note goes to stderr, stdout stays JSON


def test_plot_without_matplotlib_says_how_to_install(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert main(["estimate", "demo", "--db", str(db), "--plot", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'repair-tui[plots]'" in err
    assert not (tmp_path / "f").exists()


def test_formatting_functions_on_frozen_tasks_directly() -> None:
    deep = synthetic_tasks(6, 4, 2, seed=1, depth=2)
    result = grid(deep, [1, 2], [1, 2], bootstrap=50)
    body = to_json(result, "r", None)
    assert body["depth"] == 2 and body["levels_mode"] == "batch"
    assert {r["level"] for r in body["levels"]} == {0, 1, 2}
    assert to_csv(result).splitlines()[0].startswith("np,nfr,pass_rate,tokens")
    titles = [getattr(r, "title", None) or "" for r in render(result, "r")]
    assert any(t.startswith("Deeper repair levels") for t in titles)


def test_the_default_grid_stops_at_what_the_run_sampled(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # More programs or repairs than a task holds would only repeat the largest.
    from repair_tui.core.estimate.grid import sampled_axes

    assert main(["estimate", "demo", "--db", str(db), "--bootstrap", "0", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    nps, nfrs = sampled_axes(_tasks())
    assert body["np"] == nps and body["nfr"] == nfrs
    assert max(nps) == max(len(t.programs) for t in _tasks())
    assert max(nfrs) == max(len(p.repairs) for t in _tasks() for p in t.programs)
