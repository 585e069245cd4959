"""Source text helpers for the simulated model: parsing, positions and text patches.

AST positions count columns in UTF-8 bytes; `Source` turns them into character
offsets so that patches keep the rest of a program (comments, blank lines) intact.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from functools import lru_cache

from repair_tui.sandbox import pyast


def parse(code: str) -> ast.Module | None:
    """The module AST, or None when the code does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes says nothing here
            tree: ast.Module = pyast.parse(code)
            return tree
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


@lru_cache(maxsize=1024)
def syntax_error(code: str) -> SyntaxError | None:
    """The SyntaxError that compiling `code` raises, or None when it compiles.

    Cached: the model checks a program when it plants a bug and again when it explains
    it; the error is only read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<program>", "exec")
    except SyntaxError as exc:
        return exc
    except (ValueError, MemoryError, RecursionError):
        return SyntaxError("invalid source")
    return None


_KEY = "_structure_key"


def dump(node: ast.AST) -> str:
    """A position-free structural key of a node: two nodes have the same key exactly
    when ``ast.dump(..., include_attributes=False)`` is the same for both.

    Kept on each node once made, so the keys of every statement of a tree (the
    differ compares bodies level by level) cost one walk, not one per level.
    """
    return _key(node)


def _key(value: object) -> str:
    if isinstance(value, ast.AST):
        cached: str | None = value.__dict__.get(_KEY)
        if cached is None:
            parts = ",".join([_key(getattr(value, f, None)) for f in value._fields])
            cached = f"{type(value).__name__}({parts})"
            value.__dict__[_KEY] = cached
        return cached
    if isinstance(value, list):
        return "[" + ",".join([_key(v) for v in value]) + "]"
    return repr(value)


def unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (ValueError, RecursionError, AttributeError):
        return ""


def squash(text: str) -> str:
    """Text without any whitespace: the form fragments are compared in."""
    return "".join(text.split())


def is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def body_without_docstring(stmts: list[ast.stmt]) -> list[ast.stmt]:
    return stmts[1:] if stmts and is_docstring(stmts[0]) else stmts


@dataclass(frozen=True)
class Patch:
    """Replace source[start:end] (character offsets) with `text`."""

    start: int
    end: int
    text: str

    def apply(self, source: str) -> str:
        return source[: self.start] + self.text + source[self.end :]


class Source:
    """A program's text with line starts, for turning AST positions into offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts: list[int] = []
        pos = 0
        for line in self.lines:
            self.starts.append(pos)
            pos += len(line) + 1

    def offset(self, lineno: int, col_bytes: int) -> int:
        """Character offset of (1-based line, UTF-8 byte column)."""
        if lineno > len(self.lines):
            return len(self.text)
        line = self.lines[lineno - 1]
        col = len(line.encode()[:col_bytes].decode(errors="ignore"))
        return self.starts[lineno - 1] + col

    def line_start(self, lineno: int) -> int:
        return self.starts[lineno - 1] if lineno <= len(self.lines) else len(self.text)

    def line(self, lineno: int) -> str:
        return self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def span(self, node: ast.AST) -> tuple[int, int]:
        lineno = getattr(node, "lineno", 1)
        end_lineno = getattr(node, "end_lineno", None) or lineno
        start = self.offset(lineno, getattr(node, "col_offset", 0))
        end_col = getattr(node, "end_col_offset", None)
        end = self.offset(end_lineno, end_col) if end_col is not None else start
        return start, end

    def indent_of(self, lineno: int) -> str:
        line = self.line(lineno)
        return line[: len(line) - len(line.lstrip())]

    def owns_lines(self, node: ast.stmt) -> bool:
        """True if the statement alone fills its lines (nothing but a comment after it)."""
        first = self.line(node.lineno)
        if len(first) - len(first.lstrip()) != len(first.encode()[: node.col_offset].decode(errors="ignore")):
            return False
        end_lineno = node.end_lineno or node.lineno
        tail = self.text[self.span(node)[1] : self.line_start(end_lineno + 1)].strip()
        return tail == "" or tail.startswith("#")

    def replace_lines(self, first: int, last: int, text: str) -> Patch:
        """A patch replacing whole lines first..last (inclusive) with `text` lines."""
        start = self.line_start(first)
        end = self.line_start(last + 1)
        if not text:
            return Patch(start, end, "")
        newline = "\n" if self.text[start:end].endswith("\n") else ""
        return Patch(start, end, text.rstrip("\n") + newline)


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else line for line in text.split("\n"))


_BINOP_PREC: dict[type[ast.operator], int] = {
    ast.BitOr: 7, ast.BitXor: 8, ast.BitAnd: 9, ast.LShift: 10, ast.RShift: 10,
    ast.Add: 11, ast.Sub: 11, ast.Mult: 12, ast.Div: 12, ast.FloorDiv: 12, ast.Mod: 12,
    ast.MatMult: 12, ast.Pow: 14,
}


def precedence(node: ast.AST) -> int:
    """Python's binding strength of an expression node (higher binds tighter)."""
    if isinstance(node, ast.NamedExpr):
        return 0
    if isinstance(node, ast.Lambda):
        return 1
    if isinstance(node, ast.IfExp):
        return 2
    if isinstance(node, ast.BoolOp):
        return 3 if isinstance(node.op, ast.Or) else 4
    if isinstance(node, ast.UnaryOp):
        return 5 if isinstance(node.op, ast.Not) else 13
    if isinstance(node, ast.Compare):
        return 6
    if isinstance(node, ast.BinOp):
        return _BINOP_PREC.get(type(node.op), 12)
    if isinstance(node, ast.Await):
        return 15
    return 16


def as_operand(new: ast.AST, old: ast.AST, parent: ast.AST | None) -> str:
    """`new` unparsed for the place of `old` in `parent`, parenthesised where needed."""
    text = unparse(new)
    if parent is None or precedence(new) == 16:
        return text
    if isinstance(parent, ast.Attribute | ast.Starred) or (
        isinstance(parent, ast.Subscript) and parent.value is old
    ) or (isinstance(parent, ast.Call) and parent.func is old):
        outer = 16  # a primary: anything but an atom needs brackets
    elif isinstance(parent, ast.BinOp | ast.UnaryOp | ast.BoolOp | ast.Compare | ast.Await | ast.IfExp):
        outer = precedence(parent)
        if isinstance(parent, ast.IfExp):
            outer = 3  # test, body and orelse take anything above a conditional
    else:
        return text  # call arguments, subscripts, statements: any expression fits
    return f"({text})" if precedence(new) <= outer else text
