"""Round-trip laws over random trees: jsonl is exact; the paper format keeps what pass@t sees."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from repair_tui.core.datasets.task import Task
from repair_tui.core.formats.files import export_run, import_run
from repair_tui.core.store.records import (
    NewCall,
    NewNode,
    RunConfig,
    feedback_key,
    program_key,
    repair_key,
)
from repair_tui.core.store.store import Store
from repair_tui.sandbox import result as sr

TEXT = st.text(max_size=12)
TOKENS = st.integers(min_value=0, max_value=400)
VERDICT = st.sampled_from([None, True, False])


def programs(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    feedback: st.SearchStrategy[list[dict[str, Any]]] = st.just([])
    if depth > 0:
        feedback = st.lists(st.fixed_dictionaries({
            "origin": st.sampled_from(["model", "human", "tests"]), "tokens": TOKENS, "text": TEXT,
            "repairs": st.lists(programs(depth - 1), max_size=2),
        }), max_size=2)
    return st.fixed_dictionaries({
        "passed": VERDICT, "tokens": TOKENS, "text": TEXT, "tests": st.integers(0, 2),
        "feedback": feedback,
    })


# One dataset per run (a paper file is all HumanEval or all APPS), 1-3 tasks.
TASKS = st.sampled_from(["humaneval", "apps"]).flatmap(lambda source: st.lists(
    st.tuples(st.just(source), st.sampled_from([None, "interview"]),
              st.lists(programs(2), max_size=3)),
    min_size=1, max_size=3,
))


def write(store: Store, run_id: int, task: str, key: str, parent: str | None,
          prog: dict[str, Any], call: str) -> None:
    (node,) = store.add_call(run_id, NewCall(task_id=task, key=call, role="joint", model="m"), [
        NewNode(task_id=task, key=key, kind="program", parent_key=parent, text=prog["text"],
                code=prog["text"][::-1], tokens=prog["tokens"])])[1]
    if prog["passed"] is not None:
        results = [sr.TestResult(i, sr.Status.PASSED if prog["passed"] else sr.Status.WRONG_ANSWER,
                                 got=prog["text"]) for i in range(prog["tests"])]
        store.record_verdict(node.id, sr.Verdict(prog["passed"], results, "iso", fault="f"))
    for j, fb in enumerate(prog["feedback"]):
        fkey = feedback_key(key, j, fb["origin"])
        store.add_nodes(run_id, [NewNode(task_id=task, key=fkey, kind="feedback", parent_key=key,
                                         origin=fb["origin"], text=fb["text"], tokens=fb["tokens"])])
        for r, rep in enumerate(fb["repairs"]):
            write(store, run_id, task, repair_key(fkey, r), fkey, rep, f"c|{fkey}|{r}")


def build(store: Store, tasks: list[Any]) -> str:
    run = store.create_run("orig", RunConfig(dataset="mixed", model="m"), isolation="iso",
                           simulated=True, status="finished")
    for t, (source, difficulty, progs) in enumerate(tasks):
        task = f"apps/test/{t:04d}" if source == "apps" else f"HumanEval/{t}"
        store.add_tasks(run.id, [Task(id=task, source=source, spec="", tests={},
                                      difficulty=difficulty)])
        for i, prog in enumerate(progs):
            write(store, run.id, task, program_key(task, i), None, prog, f"g|{task}|{i}")
    return "orig"


def export(store: Store, name: str, fmt: str) -> str:
    buf = io.StringIO()
    export_run(store, store.get_run(name), fmt, buf)
    return buf.getvalue()


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(tasks=TASKS)
def test_jsonl_export_import_export_is_identical(tmp_path: Path, tasks: list[Any]) -> None:
    store = Store.open(":memory:")
    first = export(store, build(store, tasks), "jsonl")
    path = tmp_path / "run.jsonl"
    path.write_text(first, encoding="utf-8")
    import_run(store, path, "copy")
    again = export(store, "copy", "jsonl")
    head_a, rest_a = first.split("\n", 1)
    head_b, rest_b = again.split("\n", 1)
    assert rest_a == rest_b
    assert head_a.replace('"name": "orig"', '"name": "copy"', 1) == head_b


@SETTINGS
@given(tasks=TASKS)
def test_paper_format_keeps_what_the_estimator_sees(tmp_path: Path, tasks: list[Any]) -> None:
    store = Store.open(":memory:")
    orig = store.get_run(build(store, tasks))
    text = export(store, "orig", "paper")
    expected = store.frozen_tasks(orig.id)
    if not expected:
        assert text == ""
        return
    path = tmp_path / "paper.jsonl"
    path.write_text(text, encoding="utf-8")
    copy = import_run(store, path, "copy", "paper")
    assert store.frozen_tasks(copy.id) == expected
    assert export(store, "copy", "paper").count("\n") == text.count("\n")
