"""Full-text search: specs, programs and feedback of one run, kept current by triggers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.store.records import NewNode, RunConfig
from repair_tui.core.store.search import MARK_END, MARK_START
from repair_tui.core.store.store import Store


def _run(store: Store, name: str, spec: str) -> int:
    run = store.create_run(name, RunConfig(dataset="jsonl", model="m"), isolation="t", simulated=True,
                           status="running")
    store.add_tasks(run.id, [Task(id="t1", source="jsonl", spec=spec, tests={})])
    return int(run.id)


def test_search_follows_writes_and_keeps_runs_apart(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        a = _run(store, "a", "Return the sum of a list of integers.")
        b = _run(store, "b", "Return the sum of squares.")
        store.add_nodes(a, [NewNode("t1", "t1|p0", "program", text="```\ndef f(xs): return sum(xs[1:])\n```",
                                    code="def f(xs):\n    return sum(xs[1:])\n")])
        assert store.search(a, '"off by one"') == []
        # A feedback written after the first search is found at once (triggers, not a rebuild).
        store.add_nodes(a, [NewNode("t1", "t1|p0|f0", "feedback", parent_key="t1|p0",
                                    text="Off by one: the slice skips the first element.")])
        store.add_nodes(b, [NewNode("t1", "t1|p0", "program", text="off by one", code="x = 1")])
        (hit,) = store.search(a, '"off by one"')
        assert (hit.kind, hit.task_id, hit.key, hit.origin) == ("feedback", "t1", "t1|p0|f0", "model")
        assert f"{MARK_START}Off by one{MARK_END}" in hit.snippet
        assert [h.kind for h in store.search(a, "sum")] == ["spec", "program"]
        assert [h.kind for h in store.search(a, "sum", kind="spec")] == ["spec"]
        assert [h.key for h in store.search(a, "slice OR xs", kind="program")] == ["t1|p0"]
        assert store.search(a, "squares") == []  # another run's spec
        assert [h.task_id for h in store.search(b, "squares")] == ["t1"]
        store.delete_run(b)
        assert store.search(a, "squares") == [] and store.search(b, '"off by one"') == []


def test_bad_queries_are_user_errors(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        a = _run(store, "a", "spec")
        for query in ('"unterminated', "AND", "   "):
            with pytest.raises(UserError, match="search"):
                store.search(a, query)


def test_an_old_database_gets_its_text_indexed(dumped_db: Callable[[str], Path]) -> None:
    """A database written before the index existed finds its old texts after migrating."""
    path = dumped_db("schema_v1")
    conn = sqlite3.connect(path)
    run_id, text = conn.execute("SELECT run_id, code FROM nodes WHERE code != '' LIMIT 1").fetchone()
    conn.close()
    token = next(w for w in text.replace("(", " ").replace(")", " ").split() if w.isalpha() and len(w) > 3)
    with Store.open(path) as store:
        assert any(h.kind == "program" for h in store.search(run_id, token))


def test_typed_text_is_never_syntax_and_hits_say_exploration(tmp_path: Path) -> None:
    from repair_tui.core.store.search import literal_query

    assert literal_query("off by o") == '"off by o"*'
    assert literal_query('x[i-1] AND "') == '"x i 1 AND"*' and literal_query(" ((( ") == ""
    with Store.open(tmp_path / "s.db") as store:
        a = _run(store, "a", "spec")
        store.add_nodes(a, [NewNode("t1", "t1|p0", "program", text="x", code="return xs[i-1]")])
        x = store.create_exploration(a, "feedback", source="app").id
        store.add_feedback(store.get_node_by_key(a, "t1|p0").id, "Off by one: i-1 AND more",
                           exploration_id=x)
        (hit,) = store.search(a, literal_query("off by o"))
        assert hit.exploration and hit.origin == "human" and hit.to_dict()["exploration"] is True
        assert [h.kind for h in store.search(a, literal_query("i-1 AND"))] == ["feedback"]
        assert store.matching_tasks(a, literal_query("xs i")) == {"t1"}
        assert store.matching_tasks(a, literal_query("pelican")) == set()
