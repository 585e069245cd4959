"""`repair-tui tasks list|check`: tables, JSON, exit statuses, and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from repair_tui.tui.cli import main

DATA = Path(__file__).resolve().parent.parent / "data" / "datasets"


# ---------------------------------------------------------------- list


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "apps-sample", "--difficulty", "competition"]) == 0
    out = capsys.readouterr().out
    assert "apps-sample: 4 tasks" in out
    for task_id in ("test/0016", "test/0017", "test/0018", "test/0019"):
        assert task_id in out
    assert "test/0000" not in out
    assert "competition" in out and "call" in out and "stdio" in out


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "humaneval", "--limit", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dataset"] == "humaneval"
    assert [t["id"] for t in data["tasks"]] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert data["tasks"][0] == {
        "id": "HumanEval/0",
        "source": "humaneval",
        "split": None,
        "difficulty": None,
        "style": "assert",
        "tests": 1,
        "entry_point": "has_close_elements",
        "references": 1,
    }


def test_list_shows_missing_references(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", f"jsonl:{DATA / 'tasks.jsonl'}", "--ids", "is-even"]) == 0
    out = capsys.readouterr().out
    assert "is-even" in out and "assert" in out and "no" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["tasks", "list", "jsonl:/nonexistent/tasks.jsonl"], "tasks.jsonl: no such file"),
        (
            ["tasks", "list", f"jsonl:{DATA / 'broken_json.jsonl'}"],
            "broken_json.jsonl:3: malformed JSON",
        ),
        (["tasks", "list", f"jsonl:{DATA / 'no_tests.jsonl'}"], "no_tests.jsonl:2: no tests"),
        (["tasks", "list", f"apps:{DATA / 'apps_no_tests'}"], "0009: no tests"),
        (["tasks", "list", "mbpp"], "unknown dataset 'mbpp'"),
        (["tasks", "list", "apps-sample", "--difficulty", "hard"], "has no difficulty 'hard'"),
        (["tasks", "list", "humaneval", "--ids", "HumanEval/500"], "humaneval has no task"),
        (["tasks", "check", "apps-sample", "--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("repair-tui: error: ") and needle in err
    assert err.count("\n") == 1


# ---------------------------------------------------------------- check


def test_check_apps_sample_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "check", "apps-sample", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["passed"], report["failed"], report["no_reference"]) == (20, 0, 0)
    assert report["dataset"] == "apps-sample" and report["isolation"]
    assert report["tasks"][0] == {"task_id": "test/0000", "passed": True, "reason": None}
    assert len(report["tasks"]) == 20


def _mixed_jsonl(tmp_path: Path) -> Path:
    tests = {"style": "stdio", "cases": [{"input": "2 3\n", "output": "5\n"}]}
    good = "a, b = map(int, input().split())\nprint(a + b)\n"
    rows = [
        {"id": "good", "spec": "add", "tests": tests, "reference": good},
        {"id": "bad", "spec": "add", "tests": tests, "reference": good.replace("+", "*")},
        {"id": "bare", "spec": "add", "tests": tests},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_check_failure_table_and_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["tasks", "check", f"jsonl:{_mixed_jsonl(tmp_path)}"]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "passed" in lines["good"]
    assert "FAILED" in lines["bad"] and "wrong" in lines["bad"].lower()
    assert "no reference" in lines["bare"]
    assert "1 passed, 1 failed, 1 without a reference" in out
    assert "6" in out  # what the wrong program printed (2 * 3), from the verdict


def test_check_json_reasons_and_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ref = f"jsonl:{_mixed_jsonl(tmp_path)}"
    assert main(["tasks", "check", ref, "--ids", "bad", "good", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [t["task_id"] for t in report["tasks"]] == ["bad", "good"]
    assert (report["passed"], report["failed"], report["no_reference"]) == (1, 1, 0)
    assert "5" in report["tasks"][0]["reason"] and "6" in report["tasks"][0]["reason"]
    assert main(["tasks", "check", ref, "--ids", "good", "bare", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["passed"], report["failed"], report["no_reference"]) == (1, 0, 1)


def test_check_humaneval_in_a_real_process(tmp_path: Path) -> None:
    """The installed command path end to end: 164 canonical solutions pass."""
    proc = subprocess.run(
        [sys.executable, "-m", "repair_tui.tui", "tasks", "check", "humaneval", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert (report["passed"], report["failed"], report["no_reference"]) == (164, 0, 0)
    assert all(t["passed"] for t in report["tasks"])
