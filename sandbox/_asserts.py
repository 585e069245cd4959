"""Assert-style (HumanEval) tests: compile the check so a failing assertion can say
which line failed and what values it compared.

Each ``assert <a> <op> <b>`` with a single comparison is rewritten to
``assert (__sandbox_left__ := <a>) <op> (__sandbox_right__ := <b>)``: same order of
evaluation, same result, and when it fails the two values are still in the frame.
Runs inside the test process, on test code (trusted), never on the program.
"""

from __future__ import annotations

import ast
import reprlib
from types import CodeType, TracebackType
from typing import Any

from repair_tui.sandbox import pyast

TEST_FILENAME = "test.py"
LEFT = "__sandbox_left__"
RIGHT = "__sandbox_right__"

_OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}

# Fields that hold statements (or handlers and match cases, which hold statements).
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")

_repr = reprlib.Repr()
_repr.maxstring = 400
_repr.maxother = 400
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 40
_repr.maxlevel = 4


class _Capture:
    """Rewrites every assert statement of a tree in place (see the module's doc)."""

    def __init__(self) -> None:
        self.instrumented: dict[int, str] = {}  # first line of the assert -> operator
        self.asserts: list[ast.Assert] = []

    def visit(self, tree: ast.Module) -> None:
        """Every statement, at any depth; never an expression (an assert is a statement,
        and no expression holds one), which is most of a tree's nodes."""
        stack: list[ast.AST] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Assert):
                self.visit_Assert(node)
                continue
            for field in _BODIES:
                children = getattr(node, field, None)
                if isinstance(children, list):
                    stack.extend(children)

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        self.asserts.append(node)
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _OPS:
            test.left = _capture(LEFT, test.left)
            test.comparators[0] = _capture(RIGHT, test.comparators[0])
            self.instrumented[node.lineno] = _OPS[type(test.ops[0])]
        return node


def _capture(name: str, value: ast.expr) -> ast.NamedExpr:
    target = ast.copy_location(ast.Name(name, ast.Store()), value)
    return ast.copy_location(ast.NamedExpr(target=target, value=value), value)


def _unwrap(node: ast.expr) -> ast.expr:
    return node.value if isinstance(node, ast.NamedExpr) else node


class CheckCode:
    """The compiled test code and what is needed to explain its failures."""

    def __init__(self, source: str, compiled: CodeType | None = None) -> None:
        """Compile ``source``, or take the code already compiled from it and parse the
        source again only if an assertion fails."""
        self.source = source
        self._asserts: list[ast.Assert] | None = None
        self.instrumented: dict[int, str] = {}
        if compiled is not None:
            self.code: CodeType = compiled
            return
        try:
            self.code = pyast.compile_tree(self._parse(), TEST_FILENAME)
        except SyntaxError:  # e.g. a walrus where it is not allowed: run the check as written
            self.code = compile(source, TEST_FILENAME, "exec", dont_inherit=True)
            self.instrumented = {}

    def _parse(self) -> ast.Module:
        tree: ast.Module = pyast.parse(self.source, TEST_FILENAME)
        capture = _Capture()
        capture.visit(tree)  # positions are kept, so failures map back to the source
        self._asserts = capture.asserts
        self.instrumented = capture.instrumented
        return tree

    def statement_at(self, line: int) -> ast.Assert | None:
        """The assert statement covering ``line`` (the innermost one)."""
        if self._asserts is None:
            self._parse()
        assert self._asserts is not None
        found = [a for a in self._asserts if a.lineno <= line <= (a.end_lineno or a.lineno)]
        return max(found, key=lambda a: a.lineno) if found else None

    def explain(self, exc: AssertionError) -> dict[str, Any] | None:
        """Line, source and compared values of an assertion that failed in the test code.

        None when the AssertionError came from somewhere else (the program raised it).
        """
        tb: TracebackType | None = exc.__traceback__
        last: TracebackType | None = None
        while tb is not None:
            last, tb = tb, tb.tb_next
        if last is None or last.tb_frame.f_code.co_filename != TEST_FILENAME:
            return None
        line = last.tb_lineno
        node = self.statement_at(line)  # parses the source if we only had the code
        source = ast.get_source_segment(self.source, node) if node else None
        info: dict[str, Any] = {
            "line": node.lineno if node else line,
            "source": source or _line(self.source, line),
            "message": _safe_str(exc),
        }
        if node is not None and node.lineno in self.instrumented and isinstance(node.test, ast.Compare):
            frame_vars = last.tb_frame.f_locals
            if LEFT in frame_vars and RIGHT in frame_vars:
                info["op"] = self.instrumented[node.lineno]
                info["left"] = safe_repr(frame_vars[LEFT])
                info["right"] = safe_repr(frame_vars[RIGHT])
                info["left_source"] = ast.get_source_segment(self.source, _unwrap(node.test.left))
                info["right_source"] = ast.get_source_segment(
                    self.source, _unwrap(node.test.comparators[0]))
        return info


PROMPT_FILENAME = "<prompt>"


def prompt_definitions(prompt: str, entry_point: str) -> CodeType:
    """The task prompt's code minus the entry point's own stub: its imports, helper
    functions and constants (HumanEval/32's ``poly``, /38's ``encode_cyclic``).

    Run first in the program's namespace (the program's own definitions, run after,
    win) and in the judge's (where the check finds the trusted helpers it uses).
    Compiled apart, so the program's line numbers stay its own. SyntaxError if the
    prompt does not parse.
    """
    tree: ast.Module = pyast.parse(prompt, PROMPT_FILENAME)
    tree.body = [node for node in tree.body
                 if not (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point)]
    code: CodeType = pyast.compile_tree(tree, PROMPT_FILENAME)
    return code


def _line(source: str, line: int) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def safe_repr(value: object) -> str:
    """A short repr that survives hostile or huge objects."""
    try:
        return _repr.repr(value)
    except BaseException:
        return f"<{type(value).__name__} object>"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except BaseException:
        return ""
