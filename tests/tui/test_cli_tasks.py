"""`repair-tui tasks list|check`: tables, JSON, exit statuses, and one real subprocess."""

from __future__ import annotations

import json
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
