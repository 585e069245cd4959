"""Build a database with the current (schema 1) code: a run, then every app action."""
from __future__ import annotations
import asyncio, json, sqlite3, sys
from pathlib import Path
from repair_tui.core.engine.run import run_repair
from repair_tui.core.engine.steps import open_engine
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.store import Store

out = Path(sys.argv[1])
db = out.with_suffix(".db")
if db.exists():
    db.unlink()

async def main() -> dict:
    store = Store.open(db)
    cfg = RunConfig(dataset="humaneval", model="sim-weak", np=3, nfr=2, mode="joint", depth=1,
                    limit=4, seed=0, concurrency=4)
    run = await run_repair(store, "he-joint", cfg)
    cfg2 = RunConfig(dataset="humaneval", model="sim-weak", feedback_model="sim-strong", np=2,
                     nfr=2, mode="separate", depth=2, limit=3, seed=1, concurrency=4)
    run2 = await run_repair(store, "he-separate-d2", cfg2)
    cfg3 = RunConfig(dataset="humaneval", model="sim-weak", np=2, nfr=2, mode="tests-only",
                     depth=1, limit=3, seed=2, concurrency=4)
    run3 = await run_repair(store, "he-tests", cfg3)
    actions: dict[str, list[str]] = {}
    sample = {r.name: sorted(store.nodes_by_key(r.id)) for r in (run, run2, run3)}

    def new_keys(run_id, before):
        return sorted(set(store.nodes_by_key(run_id)) - set(before))

    for r in (run, run2, run3):
        eng = open_engine(store, r.id)
        failing = [n for n in store.nodes_by_key(r.id).values()
                   if n.kind == "program" and n.passed is False]
        first = [n for n in failing if n.depth == 0]
        deeper = [n for n in failing if n.depth > 0]
        p = first[0]
        b = store.nodes_by_key(r.id)
        h = eng.add_human_feedback(p.id, "You return the wrong value when the list is empty.")
        actions[f"{r.name}:human_feedback"] = new_keys(r.id, b)
        b = store.nodes_by_key(r.id)
        await eng.repair_from_feedback(h.id, n=2)
        actions[f"{r.name}:repair_from_human"] = new_keys(r.id, b)
        model_fb = [n for n in store.nodes_by_key(r.id).values()
                    if n.kind == "feedback" and n.origin != "human"]
        b = store.nodes_by_key(r.id)
        await eng.repair_from_feedback(model_fb[0].id, n=1, model="sim-strong")
        actions[f"{r.name}:repair_from_model_feedback"] = new_keys(r.id, b)
        b = store.nodes_by_key(r.id)
        await eng.rerun_branch(first[-1].id)
        actions[f"{r.name}:rerun_first_program"] = new_keys(r.id, b)
        if deeper:
            b = store.nodes_by_key(r.id)
            await eng.rerun_branch(deeper[0].id)
            actions[f"{r.name}:rerun_repair"] = new_keys(r.id, b)
        b = store.nodes_by_key(r.id)
        try:
            await eng.explain(first[0].id, model="sim-strong")
        except Exception as exc:  # noqa: BLE001
            print("explain", r.name, exc)
        actions[f"{r.name}:explain"] = new_keys(r.id, b)
        before_exec = store.get_node(first[0].id)
        await eng.reexecute(first[0].id)
        actions[f"{r.name}:reexecute"] = [before_exec.key]
        # annotation queue: human feedback on the next program, then "repair annotated"
        q = store.annotation_queue(r.id, limit=1)
        b = store.nodes_by_key(r.id)
        if q:
            eng.add_human_feedback(q[0].id, "Off by one in the loop bound.")
            await eng.repair_annotated(n=1)
        actions[f"{r.name}:annotation_queue"] = new_keys(r.id, b)
        await eng.aclose()
    store.close()
    return {"sample": sample, "actions": actions}

result = asyncio.run(main())
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
version = conn.execute("PRAGMA user_version").fetchone()[0]
lines = [
    f"-- A database written by schema version {version}, with three small simulated runs",
    "-- (joint, separate depth 2, tests-only) and then every app action of that version on",
    "-- each: human feedback, repairs from human and model feedback, rerun branches,",
    "-- explain, re-execute, the annotation queue. Never regenerate it.",
    f"PRAGMA user_version = {version};",
]
lines += list(conn.iterdump())
out.write_text("\n".join(lines) + "\n")
out.with_suffix(".json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
print({k: len(v) for k, v in result["actions"].items()})
