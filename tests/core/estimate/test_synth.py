"""Synthetic frozen sets and the paper's JSON-lines form: round trips and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.errors import UserError
from repair_tui.core.estimate.exact import FrozenTask
from repair_tui.core.estimate.synth import paper_lines, synthetic_tasks, tasks_from_paper_lines
from repair_tui.core.formats.paper import import_paper
from repair_tui.core.store.store import Store
from test_brute import frozen_tasks


def test_synthetic_sets_have_the_asked_shape_and_are_seeded() -> None:
    tasks = synthetic_tasks(7, 5, 3, seed=1)
    assert len(tasks) == 7 and all(len(t.programs) == 5 for t in tasks)
    assert all(len(p.repairs) == 3 for t in tasks for p in t.programs if not p.passed)
    assert all(not p.repairs for t in tasks for p in t.programs if p.passed)
    assert tasks == synthetic_tasks(7, 5, 3, seed=1) != synthetic_tasks(7, 5, 3, seed=2)
    short = synthetic_tasks(20, 10, 4, seed=1, short_repairs=1.0)
    assert all(len(p.repairs) < 4 for t in short for p in t.programs if not p.passed)
    deep = synthetic_tasks(5, 5, 2, seed=1, depth=2)
    assert any(r.repairs for t in deep for p in t.programs for r in p.repairs)


@settings(max_examples=100, deadline=None)
@given(st.lists(frozen_tasks(depth=2), max_size=4), st.booleans())
def test_paper_lines_round_trip(tasks: list[FrozenTask], text: bool) -> None:
    assert tasks_from_paper_lines(paper_lines(tasks, text=text)) == tasks


def test_the_lines_carry_the_fields_the_papers_script_reads() -> None:
    line = json.loads(next(paper_lines(synthetic_tasks(1, 4, 2, seed=3))))
    assert "task_id" in line
    for comp in line["completions"]:
        assert {"binary", "fault", "tokens_generated", "repairs"} <= set(comp)
        assert (comp["repairs"] is None) == comp["binary"]
        for rep in comp["repairs"] or []:
            assert {"binary", "tokens_generated"} <= set(rep)


def test_prob_path_and_fault_passed_are_read() -> None:
    line = json.dumps({"prob_path": "test/0001", "completions": [
        {"binary": False, "fault": "passed", "tokens_generated": 5, "repairs": None}]})
    (task,) = tasks_from_paper_lines([line])
    assert task.task_id == "test/0001" and task.programs[0].passed


@pytest.mark.parametrize(("line", "where"), [
    ("{not json", "f.jsonl:2: not JSON"),
    ('{"completions": []}', "f.jsonl:2: expected 'task_id'"),
    ('{"task_id": "a", "completions": [{"binary": false}]}', "completions[0]: expected an object"),
    ('{"task_id": "a", "completions": [{"binary": false, "tokens_generated": "9"}]}', "must be a number"),
    ('{"task_id": "a", "completions": [{"binary": false, "tokens_generated": 9, "repairs": '
     '[{"binary": true, "tokens_generated": 1}, {"binary": true}]}]}', "completions[0].repairs[1]"),
])
def test_malformed_lines_name_file_line_and_field(line: str, where: str) -> None:
    good = '{"task_id": "ok", "completions": []}'
    with pytest.raises(UserError) as exc:
        tasks_from_paper_lines([good, line], "f.jsonl")
    assert where in str(exc.value) and "f.jsonl:2" in str(exc.value)


def test_the_projects_paper_import_reads_the_same_frozen_set(tmp_path: Path) -> None:
    """A generated file imported into a store comes back as the same frozen set."""
    tasks = synthetic_tasks(6, 4, 3, seed=2, short_repairs=0.3, depth=2)
    path = tmp_path / "synthetic.jsonl"
    path.write_text("\n".join(paper_lines(tasks, text=True)) + "\n")
    with Store.open(tmp_path / "r.db") as store:
        run = import_paper(store, path, "synthetic")
        assert store.frozen_tasks(run.id) == tasks
