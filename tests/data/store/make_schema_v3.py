"""Build schema_v3.sql with schema 3's code (migrations m001-m003): one small
simulated run and a person's feedback on one of its programs (an exploration). Its
full-text index was kept by the schema-3 triggers, as users' databases are. Run once,
with that version's code; it cannot make the file again with a later schema version."""
from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from repair_tui.core.engine.run import run_repair
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store

out = Path(sys.argv[1])
db = out.with_suffix(".db")
if db.exists():
    db.unlink()


async def main() -> None:
    store = Store.open(db)
    cfg = RunConfig(dataset="humaneval", model="sim-weak", np=2, nfr=2, mode="joint", depth=1,
                    limit=3, seed=0, concurrency=4)
    run = await run_repair(store, "v3-run", cfg)
    failing = [n for n in store.iter_nodes(run.id) if n.kind == "program" and n.passed is False]
    x = store.create_exploration(run.id, "feedback", source="app")
    store.add_feedback(failing[0].id, "Pelican: the loop stops one element early.",
                       exploration_id=x.id)
    store.close()


asyncio.run(main())
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
version = conn.execute("PRAGMA user_version").fetchone()[0]
lines = [
    f"-- A database written by schema version {version} (migrations m001-m003), with one",
    "-- small simulated run and a person's feedback (an exploration); its full-text index",
    "-- was kept by that version's triggers. Never regenerate it.",
    f"PRAGMA user_version = {version};",
]
# iterdump writes an FTS5 table as a row of sqlite_master plus its shadow tables, which
# one connection cannot load (the triggers after it name a table it has not seen): write
# CREATE VIRTUAL TABLE instead and rebuild each index from its content table at the end.
virtual = dict(conn.execute(
    "SELECT name, sql FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"))
shadow = tuple(f"{name}_" for name in virtual)
for statement in conn.iterdump():
    if statement.startswith("PRAGMA writable_schema"):
        continue
    if statement.startswith("INSERT INTO sqlite_master"):
        name = next(n for n in virtual if f"'{n}'" in statement)
        lines.append(virtual[name] + ";")
        continue
    if any(f"TABLE '{s}" in statement or f'INTO "{s}' in statement for s in shadow):
        continue
    if statement == "COMMIT;":
        lines += [f"INSERT INTO {name} ({name}) VALUES ('rebuild');" for name in virtual]
    lines.append(statement)
conn.close()
out.write_text("\n".join(lines) + "\n")
db.unlink()
