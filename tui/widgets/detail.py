"""The detail pane of the Task screen: what the selected node of a repair tree holds.

The spec as Markdown; a program with syntax highlighting and line numbers
(``CodeView``), its failing tests (``FailingTestsView``) and tokens; a feedback with its model,
origin and tokens; a repair with a diff against the program it repairs (toggle with
``diff_mode``). ``NodeDetail`` only shows what its parent hands it: the Task screen
reads the store and calls ``show_spec``, ``show_program`` or ``show_feedback``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from repair_tui.core.datasets.task import Task
from repair_tui.core.store.records import Call, Node
from repair_tui.sandbox.result import TestResult, summary
from repair_tui.tui.untrusted import visible
from repair_tui.tui.widgets.diff import DiffView, diff_stats
from repair_tui.tui.widgets.tree import short_key
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Markdown, Static

CELL_CHARS = 160  # characters of a test's input / expected / got shown in the table
MAX_CASES = 30  # test cases listed by the tests view
MAX_FAILING_ROWS = 10  # a program rarely fails more than one test: the runner stops early


def spec_markdown(task: Task) -> str:
    """A task's spec as Markdown: code-shaped specs (HumanEval prompts) in a Python fence."""
    spec = visible(task.spec.rstrip())
    first = spec.lstrip().split("\n", 1)[0]
    looks_like_code = task.source == "humaneval" or first.startswith(
        ("def ", "from ", "import ", "class ", "@")
    )
    if looks_like_code:
        return f"```python\n{spec}\n```"
    starter = visible(task.starter_code.rstrip())
    if starter.strip() and spec.endswith(starter):
        # APPS ends the question with its starter code: a fence keeps its indentation.
        question = _text_markdown(spec[: -len(starter)])
        return f"{question}\n\n#### Starter code\n\n```python\n{starter.strip(chr(10))}\n```"
    return _text_markdown(str(spec))


_APPS_SECTION = re.compile(r"^-{3,}\s*([A-Za-z][\w ]*?)\s*-{3,}$")


def _text_markdown(spec: str) -> str:
    """A plain-text question (APPS) as Markdown that keeps its line breaks.

    Example inputs are one value per line, so every line ends in a hard break;
    ``-----Input-----`` markers become headings. Leading spaces become no-break spaces,
    which Markdown keeps (four plain ones would start a code block, fewer vanish).
    """
    lines = []
    for line in spec.splitlines():
        section = _APPS_SECTION.match(line.strip())
        if section:
            lines.extend(["", f"#### {section.group(1)}", ""])
        elif line.strip():
            text = line.rstrip()
            indent = len(text) - len(text.lstrip(" "))
            lines.append("\u00a0" * indent + text.lstrip(" ") + "  ")
        else:
            lines.append("")
    return "\n".join(lines).strip()


def _clip(value: str | None, limit: int = CELL_CHARS) -> str:
    if value is None:
        return ""
    value = visible(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def error_text(r: TestResult) -> str:
    """A failing test's error in words; an assertion's line is the tests' line, said so."""
    error = " ".join(x for x in (r.error_type, r.message) if x)
    if r.line is None:
        return error
    if is_test_line(r):
        return f"{error} at line {r.line} of the tests (t shows them)"
    return f"{error} at line {r.line}"


def is_test_line(r: TestResult) -> bool:
    """Whether ``r.line`` counts lines of the task's tests (a failed assert-style check)
    rather than of the program."""
    return r.line is not None and r.error_type == "AssertionError" and \
        r.status.value == "wrong_answer"


class FailingTests:
    """The failing tests of a program, drawn to fit the width it gets: a table when wide,
    one block per test when narrow, so every field (got, error) stays in view."""

    WIDE = 100  # columns from which the five-column table reads well

    def __init__(self, results: list[TestResult]) -> None:
        self.results = results
        self.failing = [r for r in results if not r.passed and r.status.value != "skipped"]
        self.title = f"{summary(results)}; failing:"

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        return [(f"{r.number} {r.status.value}", _clip(r.input), _clip(r.expected),
                 _clip(r.got), _clip(error_text(r))) for r in self.failing[:MAX_FAILING_ROWS]]

    @property
    def caption(self) -> str | None:
        more = len(self.failing) - MAX_FAILING_ROWS
        return f"and {more} more failing tests" if more > 0 else None

    def table(self) -> Table:
        table = Table(title=self.title, title_justify="left", expand=True, show_lines=True,
                      caption=self.caption)
        table.add_column("test", no_wrap=True)
        for name in ("input", "expected", "got", "error"):
            table.add_column(name, overflow="fold", min_width=len(name))
        for row in self.rows():  # a program's output: text, never markup (no forged links)
            table.add_row(*(Text(cell) for cell in row))
        return table

    def blocks(self) -> Group:
        parts: list[RenderableType] = [Text(self.title)]
        for test, *values in self.rows():
            parts.append(Text(f"test {test}", style="bold red"))
            grid = Table.grid(padding=(0, 1), expand=True)
            grid.add_column(no_wrap=True, style="dim", width=10)
            grid.add_column(overflow="fold", ratio=1)
            for name, value in zip(("input", "expected", "got", "error"), values, strict=True):
                if value:
                    grid.add_row(f"  {name}", Text(value))
            parts.append(grid)
        if self.caption:
            parts.append(Text(self.caption, style="dim"))
        return Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table() if options.max_width >= self.WIDE else self.blocks()


def tests_table(results: list[TestResult], *, executed: bool = True) -> FailingTests | Text:
    """The failing tests of a program (input, expected, got, error), or a one-line note.

    ``executed`` False means the program has not run yet; an executed program without
    results comes from an import that kept only its verdict.
    """
    failing = [r for r in results if not r.passed and r.status.value != "skipped"]
    if not results:
        if executed:
            return Text("no per-test results stored (the verdict was imported)", style="dim")
        return Text("not executed yet", style="yellow")
    if not failing:
        return Text(summary(results), style="green")
    return FailingTests(results)


def program_header(node: Node, parent_feedback: Node | None) -> Text:
    """One line on a program: kind, key, status, tokens, model and where it came from."""
    text = Text()
    kind = "repair" if node.parent_id is not None else "program"
    text.append(f"{kind} {short_key(node)}", style="bold")
    if node.passed is None:
        text.append("  not run yet", style="bold yellow")
    elif node.passed:
        text.append("  passed", style="bold green")
    else:
        text.append(f"  failed: {visible(node.fault or 'unknown fault')}", style="bold red")
    text.append(f"\n{node.tokens} tokens", style="dim")
    if node.model:
        text.append(f" · model {visible(node.model)}", style="dim")
    if parent_feedback is not None:
        text.append(f" · from feedback {short_key(parent_feedback)} ({parent_feedback.origin})",
                    style="dim")
    return text


def feedback_header(node: Node, program: Node | None) -> Text:
    """One line on a feedback: key, origin, model, tokens and the program it explains."""
    text = Text()
    text.append(f"feedback {short_key(node)}", style="bold magenta")
    text.append(f"  origin {node.origin}", style="bold")
    text.append(f"\n{node.tokens} tokens · model {visible(node.model or '-')}", style="dim")
    if program is not None:
        text.append(f" · explains {short_key(program)}", style="dim")
        if program.fault:
            text.append(f" ({visible(program.fault)})", style="dim")
    return text


def call_text(call: Call, node: Node) -> Text:
    """A call's prompt, message by message, then the raw completion that made ``node``."""
    out = Text()
    for message in call.messages:
        role = str(message.get("role", "?"))
        out.append(f"── {role} ──\n", "bold magenta")
        out.append(visible(str(message.get("content", ""))).rstrip() + "\n\n")
    out.append("── completion (raw, as the model answered) ──\n", "bold green")
    out.append(visible(node.text or "(empty)"))
    if call.error:
        out.append(f"\n\n── error ──\n{visible(call.error)}", "red")
    return out


def cases_text(tests: dict[str, Any]) -> Text:
    """Input/output test cases, one block each (the first ``MAX_CASES``)."""
    cases = list(tests.get("cases") or [])
    out = Text()
    for i, case in enumerate(cases[:MAX_CASES], start=1):
        out.append(f"test {i}\n", "bold")
        for key, value in case.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            out.append(f"  {key}: ", "dim")
            out.append(_clip(shown) + "\n")
    if len(cases) > MAX_CASES:
        out.append(f"and {len(cases) - MAX_CASES} more", "dim")
    return out


class UntrustedMarkdown(Markdown):
    """Markdown from a model's answer or a dataset's spec. Its links are not followed
    on a click (the text shown can name another place than the link leads to): the
    click shows where the link leads, in a notification."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, open_links=False)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        self.notify(f"link to {visible(event.href, keep_newlines=False)} (not opened: the text is "
                    "a model's or a dataset's; copy it to open it)", markup=False, timeout=10)


class CodeView(Static):
    """A program with Python syntax highlighting and line numbers."""

    DEFAULT_CSS = """
    CodeView {
        height: auto;
        padding: 0 1;
    }
    """

    def show(self, code: str, *, mark: int | None = None) -> None:
        """Show ``code`` (an empty program shows a note); ``mark`` highlights that line."""
        if not code.strip():
            self.update(Text("(empty program: no code could be extracted)", style="italic"))
            return
        self.update(Syntax(visible(code.rstrip("\n")), "python", line_numbers=True, theme="ansi_dark",
                           background_color="default", word_wrap=True,
                           highlight_lines=None if mark is None else {mark}))


class FailingTestsView(Static):
    """A program's failing tests as a table."""

    DEFAULT_CSS = """
    FailingTestsView {
        height: auto;
        padding: 0 1;
    }
    """

    def show(self, results: list[TestResult], *, executed: bool = True) -> None:
        self.update(tests_table(results, executed=executed))


class NodeDetail(VerticalScroll):
    """Everything about the selected node; the parent screen feeds it."""

    DEFAULT_CSS = """
    NodeDetail > #detail-header { padding: 0 1; margin-bottom: 1; }
    NodeDetail > #detail-text { margin: 0 1; }
    NodeDetail > #detail-note { padding: 0 1; color: $text-muted; }
    NodeDetail > #detail-raw { padding: 0 1; }
    """

    diff_mode: reactive[bool] = reactive(True)
    """Show a repair as a diff against the program it repairs (else as code)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self._program: Node | None = None
        self._repaired_code: str | None = None  # code of the program the shown repair repairs
        self.mode = "node"  # what is shown: "node", "call" (v) or "tests" (t)

    def compose(self) -> ComposeResult:
        yield Static(id="detail-header")
        yield UntrustedMarkdown(id="detail-text")
        yield Static(id="detail-note")
        yield Static(id="detail-raw")
        yield CodeView(id="detail-code")
        yield DiffView(id="detail-diff")
        yield FailingTestsView(id="detail-tests")

    @property
    def showing_diff(self) -> bool:
        """True while a repair is shown as a diff."""
        return bool(self.query_one(DiffView).display)

    def _set_visible(self, *ids: str) -> None:
        for child in self.children:
            wanted = child.id in ids
            if child.display != wanted:  # a change costs a layout pass: skip no-ops
                child.display = wanted

    def show_spec(self, task: Task) -> None:
        """Show a task's spec (the tree's root)."""
        self._program = None
        self.mode = "node"
        header = Text(f"spec {visible(task.id)}", style="bold cyan")
        details = [task.source, task.difficulty, f"{task.n_tests} tests ({task.style})"]
        header.append("\n" + " · ".join(d for d in details if d), style="dim")
        self.query_one("#detail-header", Static).update(header)
        self.query_one("#detail-text", Markdown).update(spec_markdown(task))
        self._set_visible("detail-header", "detail-text")
        self.scroll_home(animate=False)

    def show_program(
        self,
        node: Node,
        results: list[TestResult],
        *,
        feedback: Node | None = None,
        repaired: Node | None = None,
    ) -> None:
        """Show a program; a repair also gets its ``feedback`` and the program it ``repaired``."""
        self._program = node
        self.mode = "node"
        self._repaired_code = None if repaired is None else (repaired.code or "")
        self.query_one("#detail-header", Static).update(program_header(node, feedback))
        self.query_one(CodeView).show(node.code or "")
        self.query_one(FailingTestsView).show(results, executed=node.passed is not None)
        self._show_code_or_diff()
        self.scroll_home(animate=False)

    def show_call(self, node: Node, call: Call | None) -> None:
        """Show the model call that made ``node``: its prompt messages and the raw answer."""
        self._program = None
        self.mode = "call"
        header = Text(f"the call that made {short_key(node)}", style="bold")
        if call is None:
            header.append(f"\nno model call: made by {node.origin}" +
                          (" (written by a person)" if node.origin == "human" else ""), "dim")
            body = Text()
        else:
            usage = " · ".join(f"{k} {v}" for k, v in (("prompt tokens", call.prompt_tokens),
                                                       ("completion tokens", call.completion_tokens))
                               if v is not None)
            params = ", ".join(f"{k}={v}" for k, v in sorted(call.params.items())
                               if k in ("temperature", "max_tokens", "n", "seed"))
            facts = [call.role, f"model {call.model}", params, usage, f"status {call.status}"]
            header.append("\n" + visible(" · ".join(f for f in facts if f),
                                         keep_newlines=False), "dim")
            body = call_text(call, node)
        self.query_one("#detail-header", Static).update(header)
        self.query_one("#detail-raw", Static).update(body)
        self._set_visible("detail-header", "detail-raw")
        self.scroll_home(animate=False)

    def show_tests(self, task: Task, line: int | None = None) -> None:
        """Show the task's tests; ``line`` (of an assert-style check) is marked and scrolled to."""
        self._program = None
        self.mode = "tests"
        header = Text(f"tests of {visible(task.id)}", style="bold cyan")
        header.append(f"\n{task.n_tests} tests ({task.style})"
                      + (f" · line {line} is the failing assertion" if line else ""), "dim")
        self.query_one("#detail-header", Static).update(header)
        code = self.query_one(CodeView)
        if task.style == "assert":
            code.show(str(task.tests.get("test", "")), mark=line)
        else:
            code.update(cases_text(task.tests))
        self._set_visible("detail-header", "detail-code")
        self.scroll_home(animate=False)
        if line:
            # After layout: the code's top in this scroll view, plus the line, less context.
            self.call_after_refresh(lambda: self.scroll_to(
                y=max(0, code.virtual_region.y + line - 4), animate=False))

    def show_feedback(self, node: Node, program: Node | None) -> None:
        """Show a feedback and the program it explains."""
        self._program = None
        self.mode = "node"
        self.query_one("#detail-header", Static).update(feedback_header(node, program))
        self.query_one("#detail-text", Markdown).update(visible(node.text or "") or "*(empty feedback)*")
        self._set_visible("detail-header", "detail-text")
        self.scroll_home(animate=False)

    def watch_diff_mode(self) -> None:
        if self._program is not None:
            self._show_code_or_diff()

    def _show_code_or_diff(self) -> None:
        node = self._program
        if node is None:
            return
        note = self.query_one("#detail-note", Static)
        if self._repaired_code is None or not self.diff_mode:
            if self._repaired_code is not None:
                note.update("code of the repair (d: diff against the program it repairs)")
                self._set_visible("detail-header", "detail-note", "detail-code", "detail-tests")
            else:
                self._set_visible("detail-header", "detail-code", "detail-tests")
            return
        added, removed = diff_stats(self._repaired_code, node.code or "")
        note.update(f"diff against the program it repairs: +{added} -{removed} lines "
                    "(d: show code)")
        self.query_one(DiffView).show(self._repaired_code, node.code or "")
        self._set_visible("detail-header", "detail-note", "detail-diff", "detail-tests")
