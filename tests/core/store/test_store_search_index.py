"""The nodes' full-text index is built when someone searches: writes only mark nodes
pending, and a search indexes them first. Checked against brute force on real files."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import NewNode, RunConfig
from repair_tui.core.store.store import Store

WORDS = ("pelican", "heron", "slice", "loop", "return")


def _run(store: Store, name: str = "a") -> int:
    run = store.create_run(name, RunConfig(dataset="jsonl", model="m"), isolation="t", simulated=True,
                           status="running")
    store.add_tasks(run.id, [Task(id="t1", source="jsonl", spec="Sum a list.", tests={})])
    return int(run.id)


def _program(store: Store, run_id: int, key: str, text: str, code: str = "") -> int:
    (node,) = store.add_nodes(run_id, [NewNode("t1", key, "program", text=text, code=code)])
    return int(node.id)


def _pending(store: Store) -> list[int]:
    return [r[0] for r in store.db.execute("SELECT node_id FROM nodes_fts_pending ORDER BY node_id")]


def _integrity(conn: sqlite3.Connection, *, whole: bool = True) -> None:
    """FTS5's own check; ``whole``: the index must also agree with the nodes table row
    for row (true only when nothing is pending)."""
    conn.execute("INSERT INTO nodes_fts (nodes_fts, rank) VALUES ('integrity-check', ?)", (int(whole),))


def _brute(conn: sqlite3.Connection, word: str) -> set[int]:
    """Ids of the nodes whose text or code holds ``word`` as a token (unicode61: runs of
    letters and digits, case folded), read without the index."""
    found = set()
    for node_id, text, code in conn.execute("SELECT id, text, code FROM nodes"):
        tokens = set(re.findall(r"[^\W_]+", f"{text} {code or ''}".lower()))
        if word in tokens:
            found.add(node_id)
    return found


def _indexed(conn: sqlite3.Connection, word: str) -> set[int]:
    return {r[0] for r in conn.execute("SELECT rowid FROM nodes_fts WHERE nodes_fts MATCH ?", (word,))}


def _consistent(store: Store, run_id: int) -> None:
    """After a search's catch-up: nothing pending, the index checks out, and it finds what
    brute force finds (through ``search`` too)."""
    for word in WORDS:
        hits = {h.node_id for h in store.search(run_id, word, limit=100_000) if h.node_id is not None}
        assert _pending(store) == []
        assert hits == _indexed(store.db.conn, word) == _brute(store.db.conn, word), word
    _integrity(store.db.conn)


def test_a_written_node_waits_pending_and_the_next_search_indexes_it(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        a = _run(store)
        node = _program(store, a, "t1|p0", "pelican", "def f(xs): return xs[1:]")
        assert _pending(store) == [node]
        assert _indexed(store.db.conn, "pelican") == set()  # the write did not index it
        assert store.pending_index()
        (hit,) = store.search(a, "pelican")
        assert hit.node_id == node and store.unindexed == 0
        assert _pending(store) == [] and not store.pending_index()
        assert store.catch_up_index() == 0  # nothing left: one probe
        feedback = store.add_feedback(node, "Heron: the slice drops the first element.")
        assert store.matching_tasks(a, "heron") == {"t1"}  # matching_tasks catches up too
        assert _pending(store) == [] and _indexed(store.db.conn, "heron") == {feedback.id}
        _consistent(store, a)


def test_deletes_and_updates_of_pending_and_indexed_nodes_keep_the_index_whole(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        a = _run(store)
        ids = [_program(store, a, f"t1|p{i}", f"pelican {i} loop", f"return {i}") for i in range(6)]
        store.search(a, "loop")  # indexes p0..p5
        more = [_program(store, a, f"t1|q{i}", f"heron {i} slice", "x = 1") for i in range(4)]
        assert _pending(store) == more
        conn = store.db.conn
        with conn:
            conn.execute("DELETE FROM nodes WHERE id = ?", (ids[0],))  # indexed
            conn.execute("DELETE FROM nodes WHERE id = ?", (more[0],))  # pending
            conn.execute("UPDATE nodes SET text = 'heron now' WHERE id = ?", (ids[1],))  # indexed
            conn.execute("UPDATE nodes SET code = 'return slice' WHERE id = ?", (more[1],))  # pending
            conn.execute("UPDATE nodes SET passed = 1 WHERE id = ?", (ids[2],))  # no text change
        assert _pending(store) == [ids[1], more[1], more[2], more[3]]
        _integrity(conn, whole=False)  # consistent while rows still wait
        _consistent(store, a)
        with conn:  # the same again once everything is indexed
            conn.execute("UPDATE nodes SET text = 'pelican again', code = NULL WHERE id = ?", (more[2],))
            conn.execute("DELETE FROM nodes WHERE id = ?", (ids[3],))
        _consistent(store, a)
        store.delete_run(a)  # a cascade deletes indexed and pending nodes alike
        _program(store, _run(store, "b"), "t1|p0", "loop")
        store.db.execute("DELETE FROM runs WHERE name = 'b'")
        assert _pending(store) == []
        _integrity(conn)
        assert _indexed(conn, "loop") == _indexed(conn, "pelican") == set()


def test_a_reused_rowid_is_indexed_with_its_new_text(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        a = _run(store)
        _program(store, a, "t1|p0", "heron")
        last = _program(store, a, "t1|p1", "pelican")
        assert [h.node_id for h in store.search(a, "pelican")] == [last]
        with store.db.conn as conn:
            conn.execute("DELETE FROM nodes WHERE id = ?", (last,))
        again = _program(store, a, "t1|p2", "slice")
        assert again == last  # no AUTOINCREMENT: the highest rowid comes back
        assert [h.node_id for h in store.search(a, "slice")] == [again]
        assert store.search(a, "pelican") == []
        _consistent(store, a)


def test_an_m003_database_keeps_every_node_searchable(dumped_db: Callable[[str], Path]) -> None:
    """schema_v3.sql was written by schema 3's code, whose triggers indexed each node."""
    path = dumped_db("schema_v3")
    with Store.open(path) as store:
        assert _pending(store) == []  # what was indexed stays indexed: nothing to catch up
        run_id = store.get_run("v3-run").id
        conn = store.db.conn
        words: set[str] = set()
        for text, code in conn.execute("SELECT text, code FROM nodes"):
            words |= set(re.findall(r"[^\W_]+", f"{text} {code or ''}".lower()))
        assert len(words) > 50
        for word in sorted(words):
            hits = {h.node_id for h in store.search(run_id, f'"{word}"', limit=10_000)
                    if h.node_id is not None}
            assert hits == _brute(conn, word), word
        _integrity(conn)
        # New writes after the migration wait, and are found.
        node = store.get_node_by_key(run_id, store.human_feedback(run_id)[0].key)
        assert node is not None and "pelican" in node.text.lower()
        fresh = store.add_feedback(node.parent_id, "Heron: off by one.")
        assert _pending(store) == [fresh.id]
        assert fresh.id in {h.node_id for h in store.search(run_id, "heron")}
        _consistent(store, run_id)


@pytest.fixture
def read_only_db(tmp_path: Path, unwritable: Callable[[Path], None]) -> tuple[Path, int, int]:
    """A database with one indexed and one pending node, then made unwritable."""
    path = tmp_path / "ro.db"
    with Store.open(path) as store:
        a = _run(store)
        _program(store, a, "t1|p0", "pelican")
        store.search(a, "pelican")
        _program(store, a, "t1|p1", "pelican heron")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    unwritable(path)
    return path, a, 1


def test_a_read_only_database_searches_what_is_indexed_and_says_so(
    read_only_db: tuple[Path, int, int], capsys: pytest.CaptureFixture[str]
) -> None:
    from repair_tui.tui.cli import main

    path, run_id, waiting = read_only_db
    with Store.open(path) as store:
        assert [h.key for h in store.search(run_id, "pelican")] == ["t1|p0"]
        assert store.unindexed == waiting
        assert store.matching_tasks(run_id, "heron") == set() and store.unindexed == waiting
        assert store.search(run_id, "pelican", catch_up=False) and store.unindexed == waiting
    assert main(["search", "a", "pelican", "--db", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "t1|p0" in out and "t1|p1" not in out
    assert err.count("\n") == 1 and "1 node" in err and "not indexed" in err, err
    assert main(["search", "a", "pelican", "--json", "--db", str(path)]) == 0
    out, err = capsys.readouterr()
    assert '"unindexed": 1' in out and err.count("\n") == 1


def test_two_processes_catching_up_at_once_index_each_node_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    with Store.open(path) as store:
        a = _run(store)
        store.add_nodes(a, [NewNode("t1", f"t1|p{i}", "program", text=f"pelican {i % 7} heron",
                                    code="return slice") for i in range(3000)])
    code = (
        "import sys\n"
        "from repair_tui.core.store.store import Store\n"
        "with Store.open(sys.argv[1]) as s:\n"
        "    print(s.catch_up_index(chunk=200))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts.append(int(out))
    assert sum(counts) == 3000  # each chunk indexed by exactly one of them
    with Store.open(path) as store:
        assert _pending(store) == []
        _integrity(store.db.conn)
        assert len(_indexed(store.db.conn, "heron")) == 3000
        _consistent(store, a)
