"""Our own jsonl format: exact round trip, gzip, detection, and malformed files."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import UserError
from repair_tui.core.formats.files import export_run, import_run
from repair_tui.core.formats.lines import detect_format, output
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox import result as sr

DATA = Path(__file__).resolve().parents[2] / "data" / "store"
T = "HumanEval/12"


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def rich_run(store: Store, status: str = "finished") -> str:
    """A run with every kind of record and field: unicode, nulls, errors, depth 2, pending."""
    config = RunConfig(dataset="humaneval", model="gpt-x", feedback_model="gpt-y", np=2, nfr=1,
                       mode="separate", depth=2, task_ids=(T,), seed=7)
    run = store.create_run("rich", config, isolation="namespaces+rlimits", simulated=False)
    store.add_tasks(run.id, [
        Task(id=T, source="humaneval", spec='def longest(s):\n    """Longest string. ☃"""\n',
             tests={"style": "assert", "check": "assert candidate([]) is None"},
             entry_point="longest", references=("def longest(s): ...",), meta={"n": 1}),
        Task(id="HumanEval/13", source="humaneval", spec="def gcd(a, b): ...", tests={}),
    ])
    _, (p0, p1) = store.add_call(run.id, NewCall(
        task_id=T, key="generate|HumanEval/12|0", role="generate", model="gpt-x",
        messages=[{"role": "user", "content": "Écris la fonction"}], params={"n": 2, "temperature": 0.8},
        response=[{"id": "cmpl-1", "choices": [{"text": "…"}]}], prompt_tokens=50, completion_tokens=30,
        latency=1.25, requests=2, prompt_version="v3"), [
        NewNode(task_id=T, key=f"{T}|p0", kind="program", model="gpt-x", text="```py\nA\n```", code="A",
                tokens=15, meta={"finish_reason": "stop"}),
        NewNode(task_id=T, key=f"{T}|p1", kind="program", model="gpt-x", text="B", code="B", tokens=15,
                sample_index=1)])
    store.add_call(run.id, NewCall(task_id=T, key="feedback|HumanEval/12|p1|0", role="feedback",
                                   model="gpt-y", status="error", error="HTTP 500"))
    store.record_verdict(p0.id, sr.Verdict(
        False, [sr.TestResult(0, sr.Status.WRONG_ANSWER, input="longest([])", expected="None", got="''",
                              message="AssertionError", line=3, duration=0.01),
                sr.TestResult(1, sr.Status.SKIPPED)],
        "namespaces+rlimits", error_message="longest([]) returned ''", fault="wrong_answer on test 0",
        duration=0.2, extra={"peak_rss": 1234}))
    human = store.add_feedback(p0.id, "Return None for an empty list.")
    _, (rep,) = store.add_call(run.id, NewCall(task_id=T, key=f"repair|{human.key}|0", role="repair",
                                               model="gpt-x"), [
        NewNode(task_id=T, key=f"{human.key}|r0", kind="program", parent_key=human.key, text="C",
                code="C", tokens=9)])
    store.record_verdict(rep.id, sr.Verdict(False, [], "namespaces+rlimits", fault="timeout"))
    store.add_call(run.id, NewCall(task_id=T, key=f"joint|{rep.key}|0", role="joint", model="gpt-x"), [
        NewNode(task_id=T, key=f"{rep.key}|f0", kind="feedback", parent_key=rep.key, text="Loop.", tokens=2),
        NewNode(task_id=T, key=f"{rep.key}|f0|r0", kind="program", parent_key=f"{rep.key}|f0",
                text="D", code="D", tokens=4)])
    store.set_run_status(run.id, status)
    return "rich"


def export(store: Store, name: str) -> list[str]:
    buf = io.StringIO()
    export_run(store, store.get_run(name), "jsonl", buf)
    return buf.getvalue().splitlines()


def test_round_trip_is_exact_except_the_name(store: Store, tmp_path: Path) -> None:
    first = export(store, rich_run(store))
    path = tmp_path / "rich.jsonl"
    path.write_text("\n".join(first) + "\n")
    copy = import_run(store, path, "copy")
    again = export(store, "copy")
    header_a, header_b = json.loads(first[0]), json.loads(again[0])
    assert header_a["run"].pop("name") == "rich" and header_b["run"].pop("name") == "copy"
    assert header_a == header_b
    assert first[1:] == again[1:]
    types = [json.loads(line)["type"] for line in first[1:]]
    assert types == ["task"] * 2 + ["call"] * 4 + ["node"] * 6
    # The copy is a working run, not just text: same reads as the original.
    original = store.get_run("rich")
    assert store.frozen_tasks(copy.id) == store.frozen_tasks(original.id)
    assert store.run_totals(copy.id) == store.run_totals(original.id)
    assert copy.status == "finished"


def test_a_running_run_imports_as_interrupted(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(export(store, rich_run(store, status="running"))) + "\n")
    assert import_run(store, path, "copy").status == "interrupted"


def test_gzip_files_and_format_detection(store: Store, tmp_path: Path) -> None:
    rich_run(store)
    gz = tmp_path / "rich.jsonl.gz"
    with output(gz) as out:
        export_run(store, store.get_run("rich"), "jsonl", out)
    assert gzip.decompress(gz.read_bytes()).startswith(b'{"format": "repair-tui-run"')
    assert detect_format(gz) == "jsonl"
    assert detect_format(DATA / "paper_apps.jsonl") == "paper"
    assert import_run(store, gz, "from-gz").status == "finished"
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(UserError, match=r"other.jsonl:1: neither"):
        detect_format(other)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(UserError, match="empty"):
        import_run(store, empty, "e")


def test_a_failed_export_leaves_no_file(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), output(target) as out:
        out.write("partial\n")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_import_into_an_existing_name_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(export(store, rich_run(store))) + "\n")
    with pytest.raises(UserError, match="already exists"):
        import_run(store, path, "rich")
    with pytest.raises(UserError, match="no such file"):
        import_run(store, tmp_path / "missing.jsonl", "x")


def break_line(lines: list[str], index: int, change: dict[str, object] | None) -> list[str]:
    obj = json.loads(lines[index])
    if change is None:
        return lines[:index] + ["{broken"] + lines[index + 1:]
    for key, value in change.items():
        if value is KeyError:
            obj.pop(key)
        else:
            obj[key] = value
    return lines[:index] + [json.dumps(obj)] + lines[index + 1:]


# (line index, change, message): line 0 is the header, 1-2 tasks, 3-6 calls, 7-12 nodes.
BREAKS = [
    (0, {"format": "something-else"}, "not a repair-tui export"),
    (0, {"version": 99}, "newer"),
    (0, {"run": {"config": {"model": "m"}}}, "missing field 'dataset'"),
    (1, {"tests": "none"}, "field 'tests' has the wrong type"),
    (2, {"id": T}, "appears twice"),
    (3, {"role": "chat"}, "unknown role"),
    (4, {"task_id": "HumanEval/99"}, "not defined by an earlier task line"),
    (5, {"key": "generate|HumanEval/12|0"}, "appears twice"),
    (7, {"type": "edge"}, "unknown record type"),
    (7, {"tokens": "many"}, "field 'tokens' has the wrong type"),
    (8, {"call_key": "nope"}, "call 'nope' is not defined"),
    (9, {"parent_key": "HumanEval/12|p7"}, "parent 'HumanEval/12|p7' is not stored"),
    (9, {"kind": "program"}, "parent must be a feedback"),
    (8, {"key": "HumanEval/12|p0"}, "appears twice"),
    (7, {"execution": {"passed": False, "results": [{"index": 0, "status": "exploded"}]}}, "exploded"),
    (7, {"execution": {"passed": "no"}}, "field 'passed' has the wrong type"),
    (10, None, "not valid JSON"),
    (11, {"text": KeyError}, "missing field 'text'"),
]


@pytest.mark.parametrize(("index", "change", "message"), BREAKS)
def test_a_malformed_line_names_its_line_and_stores_nothing(
    store: Store, tmp_path: Path, index: int, change: dict[str, object] | None, message: str
) -> None:
    lines = export(store, rich_run(store))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(break_line(lines, index, change)) + "\n")
    before = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("runs", "tasks", "calls", "nodes", "test_results")}
    with pytest.raises(UserError) as info:
        import_run(store, path, "bad", "jsonl")
    text = str(info.value)
    assert text.startswith(f"{path}:{index + 1}: ") and message in text and "\n" not in text
    after = {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in before}
    assert after == before
