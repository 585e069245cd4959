"""Benchmark: what indexing nodes for search on demand costs, against indexing them as
a run writes (the baseline: migration m002's triggers, the schema before m004).

Imports the same run twice, into two fresh databases: the app benchmark's HumanEval run
of 164 tasks x 50 programs with a feedback and a repair per failing program (about
15,000 nodes; texts are the tasks' reference solutions, so of realistic size). One
database keeps today's schema (an insert marks the node pending; the first search
indexes every pending node); in the other the nodes' triggers are put back as m002
made them (each insert indexes the node at once). Prints, for each, the CPU seconds of
the import (the writes) and of the first search (then catching up), and the ratios.

    python benchmarks/search_index.py [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from repair_tui.core.formats.files import import_run
from repair_tui.core.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tui_load import RUN_NAME, write_run  # noqa: E402

# m002_search_text's node triggers, as databases before m004 had them.
M002_TRIGGERS = (
    "CREATE TRIGGER nodes_ai AFTER INSERT ON nodes BEGIN "
    "INSERT INTO nodes_fts (rowid, text, code) VALUES (new.rowid, new.text, new.code); END",
    "CREATE TRIGGER nodes_ad AFTER DELETE ON nodes BEGIN INSERT INTO nodes_fts "
    "(nodes_fts, rowid, text, code) VALUES ('delete', old.rowid, old.text, old.code); END",
    "CREATE TRIGGER nodes_au AFTER UPDATE OF text, code ON nodes BEGIN INSERT INTO nodes_fts "
    "(nodes_fts, rowid, text, code) VALUES ('delete', old.rowid, old.text, old.code); "
    "INSERT INTO nodes_fts (rowid, text, code) VALUES (new.rowid, new.text, new.code); END",
)


def one(db: Path, source: Path, at_write: bool) -> tuple[float, float, int, int]:
    """(import CPU, first search CPU, nodes indexed by that search, nodes) in seconds."""
    with Store.open(db) as store:
        if at_write:
            for name in ("nodes_ai", "nodes_ad", "nodes_au"):
                store.db.execute(f"DROP TRIGGER {name}")
            for sql in M002_TRIGGERS:
                store.db.execute(sql)
        t0 = time.process_time()
        run = import_run(store, source, RUN_NAME, model="sim", feedback_model="sim")
        t1 = time.process_time()
        pending = int(store._scalar("SELECT count(*) FROM nodes_fts_pending"))
        hits = store.search(run.id, "loop", limit=10)
        t2 = time.process_time()
        assert hits, "the search found nothing"
        nodes = int(store._scalar("SELECT count(*) FROM nodes"))
        store.db.execute("INSERT INTO nodes_fts (nodes_fts, rank) VALUES ('integrity-check', 1)")
    return t1 - t0, t2 - t1, pending, nodes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="imports of each kind (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated run")
    args = parser.parse_args()
    figures: dict[bool, list[tuple[float, float, int, int]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "humaneval-50x1.jsonl"
        write_run(source, args.seed)
        for i in range(args.repeat):
            for at_write in (True, False):  # alternate, so load changes hit both alike
                figures[at_write].append(one(Path(tmp) / f"{i}-{at_write}.db", source, at_write))
    nodes = figures[False][0][3]
    print(f"{nodes:,} nodes imported, median of {args.repeat}, CPU seconds, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    med = {k: (statistics.median(f[0] for f in v), statistics.median(f[1] for f in v))
           for k, v in figures.items()}
    print(f"{'':34} {'import':>8} {'1st search':>11} {'total':>8}")
    for at_write, label in ((True, "baseline: indexed as written"), (False, "indexed on first search")):
        w, s = med[at_write]
        print(f"{label:34} {w:7.2f}s {s:10.2f}s {w + s:7.2f}s")
    (bw, bs), (nw, ns) = med[True], med[False]
    indexed = figures[False][0][2]
    print(f"first search indexed {indexed:,} nodes in {ns:.2f} s CPU "
          f"({ns / max(indexed, 1) * 1e6:.0f} us a node)")
    print(f"import CPU: {nw / bw:.2f}x the baseline; import + first search: "
          f"{(nw + ns) / (bw + bs):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
