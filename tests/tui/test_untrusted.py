"""Untrusted text never reaches a terminal raw: the `visible` function, the CLI's
output, and the app's screens drawn on a real terminal (a pseudo-terminal)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import HarnessApp
from hypothesis import given
from hypothesis import strategies as st
from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.store.records import NewCall, NewNode, RunConfig
from repair_tui.core.store.store import Store
from repair_tui.sandbox import result as R
from repair_tui.tui.screens.runs import RunsScreen
from repair_tui.tui.untrusted import has_controls, visible

# What a hostile program or answer prints: window title, clear screen, clipboard write,
# a forged link, an 8-bit CSI and a right-to-left override.
TITLE = "\x1b]0;PWNED-TITLE\x07"
CLEAR = "\x1b[2JCLEARED"
CLIP = "\x1b]52;c;Q0xJUEJPQVJE\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
PAYLOADS = (TITLE, CLEAR, CLIP, LINK, "\x9b31m", "abc\u202edef")
MARKERS = (b"\x1b]0;PWNED", b"\x1b[2JCLEARED", b"\x1b]52;", b"\x1b]8;;http://evil",
           "\x9b31m".encode(), "\u202e".encode())


def test_visible_replaces_every_control_character() -> None:
    assert visible(TITLE) == "␛]0;PWNED-TITLE␇"
    assert visible("\x7f\x9b\u202e\u2066") == "␡<U+009B><U+202E><U+2066>"
    assert visible("a\r\nb") == "a␍\nb"
    assert visible("a\nb\tc", keep_newlines=False) == "a␊b␉c"


def test_visible_keeps_ordinary_text() -> None:
    text = "def f(x):\n\treturn 'héllo' + \"世界\" + '🙂'  # ✓ → ±\n"
    assert visible(text) == text
    assert not has_controls(text)


@given(st.text())
def test_visible_output_has_no_control_characters(text: str) -> None:
    out = visible(text)
    assert not has_controls(out)
    assert all(ch.isprintable() or ch in "\n\t" or not _dangerous(ch) for ch in out)
    assert visible(out) == out


def _dangerous(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or 0x202A <= code <= 0x202E


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "repair_tui.tui", *args], capture_output=True,
                          cwd=cwd, timeout=120)


def test_exec_shows_a_programs_escape_sequences_as_text(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text(
        "import sys\n"
        f"print({TITLE!r} + {CLEAR!r} + {CLIP!r} + {LINK!r})\n"
        f"sys.stderr.write({TITLE!r})\n"
        f"raise ValueError({CLEAR!r})\n")
    tests = tmp_path / "t.json"
    tests.write_text('{"style": "stdio", "cases": [{"input": "", "output": "x"}]}')
    out = _cli("exec", str(program), "--tests", str(tests), cwd=tmp_path)
    shown = out.stdout + out.stderr
    assert b"\xe2\x90\x9b" in shown  # the visible ESC, '␛'
    for marker in MARKERS[:4]:
        assert marker not in shown


def test_an_error_message_naming_a_hostile_path_shows_controls_as_text(tmp_path: Path) -> None:
    tests = tmp_path / "t.json"
    tests.write_text('{"style": "stdio", "cases": [{"input": "", "output": "x"}]}')
    out = _cli("exec", str(tmp_path / f"no{CLEAR}\nfile.py"), "--tests", str(tests), cwd=tmp_path)
    assert out.returncode == 2
    assert b"\x1b" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "␛[2JCLEARED␊file.py".encode() in out.stderr


def _hostile_db(path: Path) -> str:
    """A run whose task, program, test results, feedback and run name carry payloads."""
    task = load_dataset("humaneval", ids=["HumanEval/2"])[0]
    tid = task.id
    code = f"def truncate_number(number):\n    return {TITLE!r} + {CLEAR!r}  # {CLIP}\n"
    fail = R.Verdict(passed=False, isolation="fixed", fault=f"wrong_answer {CLEAR}",
                   error_message=f"got {TITLE}",
                   results=[R.TestResult(0, R.Status.WRONG_ANSWER, f"in {CLIP}", "0.5",
                                       f"got {TITLE}{LINK}", f"Err{CLEAR}", f"msg {CLIP}", 2)])
    name = "hostile"
    with Store.open(path) as store:
        run = store.create_run(name, RunConfig(dataset="humaneval", model=f"sim{TITLE}", np=1,
                                               nfr=1, task_ids=(tid,)),
                               isolation=f"fixed{CLEAR}", simulated=True, status="finished")
        store.add_tasks(run.id, [task])
        _, nodes = store.add_call(run.id, NewCall(tid, f"generate|{tid}|0", "generate", "sim"),
                                  [NewNode(tid, f"{tid}|p0", "program", model="sim", text=code,
                                           code=code, tokens=9, sample_index=0)])
        store.record_verdict(nodes[0].id, fail)
        fkey = f"{tid}|p0|f0"
        _, pair = store.add_call(run.id, NewCall(tid, f"joint|{tid}|p0|0", "joint", "sim"), [
            NewNode(tid, fkey, "feedback", parent_key=f"{tid}|p0", model=f"sim{CLIP}",
                    text=f"The bug {TITLE} is here {LINK} {CLEAR}", tokens=5),
            NewNode(tid, f"{fkey}|r0", "program", parent_key=fkey, model="sim",
                    text=code + f"# {LINK}\n", code=code + f"# {LINK}\n", tokens=7),
        ])
        store.record_verdict(pair[1].id, fail)
    return name


def _drive_app(db: Path, keys: list[tuple[float, bytes]], total: float) -> bytes:
    """Run the real app in a pseudo-terminal, type ``keys`` (delay, bytes), return its output."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user starts it
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"})
        os.execv(sys.executable, [sys.executable, "-m", "repair_tui.tui", "--db", str(db)])
    out = bytearray()
    start = time.monotonic()
    pending = list(keys)
    next_at = start + (pending[0][0] if pending else total)
    try:
        while time.monotonic() - start < total:
            if pending and time.monotonic() >= next_at:
                os.write(fd, pending.pop(0)[1])
                next_at = time.monotonic() + (pending[0][0] if pending else total)
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return bytes(out)


@pytest.mark.slow
def test_the_app_draws_hostile_text_without_its_escape_sequences(tmp_path: Path) -> None:
    db = tmp_path / "hostile.db"
    _hostile_db(db)
    down, up, enter, escape = b"\x1b[B", b"\x1b[A", b"\r", b"\x1b"
    # Runs screen -> run -> task; walk the tree (spec, program, feedback, repair as a
    # diff and as code), edit the feedback (the editor is prefilled with it), then the
    # annotation queue of the run.
    keys = [(4.0, enter), (3.0, enter), (3.0, down), (1.0, down), (1.0, down), (1.0, down),
            (1.0, b"d"), (1.0, up), (1.0, b"e"), (1.5, escape), (1.0, escape),
            (1.5, b"a")]
    out = _drive_app(db, keys, total=24.0)
    assert "␛".encode() in out, "the hostile text was never drawn"
    for marker in MARKERS:
        assert marker not in out, marker


async def test_notifications_are_text_not_markup(samples_db: Path) -> None:
    # A screen's notify passes markup=True by default; a run named "[/oops]" in a toast
    # ("deleted run [/oops]") raised MarkupError when the toast was drawn.
    app = HarnessApp(samples_db, RunsScreen)
    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await pilot.pause()
        app.screen.notify("renamed run x to [/oops] [link=https://evil.example]y[/link]")
        await pilot.pause(0.3)
        toast = app.screen.query("Toast").last()
        assert "[/oops] [link=https://evil.example]y[/link]" in str(toast.render())


async def test_a_link_in_a_models_markdown_is_shown_not_opened() -> None:
    # Feedback and specs are drawn as Markdown; "[the docs](https://evil.example/)" reads
    # as one place and leads to another. A click names where it leads and opens nothing.
    from repair_tui.tui.widgets.detail import UntrustedMarkdown
    from textual.app import App, ComposeResult
    from textual.widgets import Markdown

    opened: list[str] = []
    notices: list[str] = []

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield UntrustedMarkdown(id="md")

        def open_url(self, url: str, *, new_tab: bool = True) -> None:
            opened.append(url)

        def notify(self, message: str, **kwargs: object) -> None:  # type: ignore[override]
            notices.append(message)

    app = One()
    async with app.run_test() as pilot:
        md = app.query_one("#md", Markdown)
        await md.update("See [the docs](https://evil.example/\x1b]0;x\x07).")
        md.post_message(Markdown.LinkClicked(md, "https://evil.example/\x1b]0;x\x07"))
        await pilot.pause()
    assert opened == []
    assert notices and "https://evil.example/␛]0;x␇" in notices[-1]
