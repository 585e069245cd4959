"""The README stays true: every command of its CLI reference exists and answers --help,
and .ci/run runs exactly the README's install and test commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def reference_commands() -> list[list[str]]:
    section = README.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    commands: list[list[str]] = []
    for line in block.splitlines():
        if not line.startswith("repair-tui"):
            continue
        words = []
        for word in line.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        if words not in commands:
            commands.append(words)
    return commands


def test_the_reference_lists_every_command() -> None:
    from repair_tui.tui.cli import build_parser

    listed = {tuple(c[:1]) for c in reference_commands()}
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {(name,) for name in sub.choices} | {()} == listed  # type: ignore[attr-defined]


@pytest.mark.parametrize("words", reference_commands(), ids=lambda w: " ".join(w) or "app")
def test_every_reference_command_answers_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from repair_tui.tui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: repair-tui" + "".join(" " + w for w in words))


def test_the_console_script_answers_help() -> None:
    result = subprocess.run([sys.executable, "-m", "repair_tui.tui", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and "estimate" in result.stdout


def quick_start_commands() -> list[str]:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n", 1)[1].strip() for block in quick.split("```bash")[1:]]


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    install_and_run, install_and_test = quick_start_commands()[:2]
    assert install_and_run.startswith("pip install .")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test.split("```")[0].strip() in ci.splitlines()
