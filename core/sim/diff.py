"""How the simulated model "understands" a program: its first difference from a reference.

`find_bug` aligns the program's statements with the closest reference solution's
(docstrings and comments ignored), descends into the first pair that differs, and
narrows it to the smallest differing expression. The resulting `Bug` says where the
difference is in the program's own line numbers, what the code says there and what it
should say, and carries a text patch that removes exactly that difference.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from repair_tui.core.sim.source import (
    Patch,
    Source,
    as_operand,
    body_without_docstring,
    dump,
    indent,
    parse,
    squash,
    syntax_error,
    unparse,
)

_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
_BOUNDARY_PAIRS = ({"Lt", "LtE"}, {"Gt", "GtE"})


@dataclass(frozen=True)
class Bug:
    """The first difference between a program and its closest reference."""

    kind: str  # "changed" | "missing" | "extra" | "syntax"
    detail: str  # comparison, bound, operator, constant, return, statement, missing, extra, syntax
    line: int  # 1-based program line an explanation should name
    lines: tuple[int, ...]  # every line number that counts as naming it
    buggy: str  # what the program says there ("" for a missing statement)
    fixed: str  # what it should say ("" for an extra statement)
    line_text: str  # the program's line `line`, stripped
    fix: Patch  # removes exactly this difference from the program

    def fragments(self) -> list[str]:
        """Code fragments whose presence in an explanation identifies this bug."""
        out = []
        for text in (self.buggy, self.fixed, self.line_text if self.kind != "missing" else ""):
            s = squash(text)
            if len(s) >= 3 and s not in out:
                out.append(s)
        return out


@lru_cache(maxsize=256)
def _parsed(code: str) -> ast.Module | None:
    tree: ast.Module | None = parse(code)
    return tree


@lru_cache(maxsize=256)
def _shape(code: str) -> tuple[str, ...]:
    tree = _parsed(code)
    return tuple(unparse(tree).split("\n")) if tree is not None else tuple(code.split("\n"))


def closest_reference(program: str, references: Sequence[str]) -> str:
    """The reference whose normalised text is most like the program's."""
    if len(references) == 1:
        return references[0]
    shape = _shape(program)

    def score(ref: str) -> float:
        return difflib.SequenceMatcher(None, shape, _shape(ref), autojunk=False).ratio()

    return max(references[:8], key=score)


def find_bug(program: str, references: Sequence[str]) -> Bug | None:
    """The first difference of `program` from its closest reference (None: equivalent)."""
    return _find_bug(program, tuple(references))


@lru_cache(maxsize=1024)
def _find_bug(program: str, references: tuple[str, ...]) -> Bug | None:
    # Cached (a Bug is frozen): a failing program is explained once per feedback choice
    # and read again by each repair made from it.
    if not references:
        return None
    reference = closest_reference(program, references)
    if syntax_error(program) is not None:
        return _syntax_bug(program, reference)
    tree, ref_tree = _parsed(program), _parsed(reference)
    if tree is None or ref_tree is None:
        return None
    return _Differ(Source(program), Source(reference)).body(tree.body, ref_tree.body, None, None)


def _syntax_bug(program: str, reference: str) -> Bug:
    err = syntax_error(program)
    src = Source(program)
    line = max(1, min(getattr(err, "lineno", None) or 1, len(src.lines)))
    text = src.line(line).strip()
    ref_lines = [ln.strip() for ln in reference.split("\n") if ln.strip()]
    close = difflib.get_close_matches(text, ref_lines, n=1, cutoff=0.6)
    if close and close[0] != text:
        fix = src.replace_lines(line, line, src.indent_of(line) + close[0])
        return Bug("syntax", "syntax", line, (line,), text, close[0], text, fix)
    # No line to mend (e.g. a truncated program): the fix is the whole reference.
    return Bug("syntax", "syntax", line, (line,), text, "", text, Patch(0, len(program), reference))


class _Differ:
    def __init__(self, src: Source, ref: Source) -> None:
        self.src = src
        self.ref = ref

    def body(
        self, stmts: list[ast.stmt], refs: list[ast.stmt], parent: ast.AST | None, rparent: ast.AST | None
    ) -> Bug | None:
        p, r = body_without_docstring(stmts), body_without_docstring(refs)
        pk, rk = [dump(s) for s in p], [dump(s) for s in r]
        if pk == rk:
            return None
        matcher = difflib.SequenceMatcher(None, pk, rk, autojunk=False)
        for tag, i1, _i2, j1, _j2 in matcher.get_opcodes():
            if tag == "replace":
                return self.statement(p[i1], r[j1])
            if tag == "delete":
                return self.extra(p[i1])
            if tag == "insert":
                return self.missing(p, i1, r[j1], parent, rparent)
        return None

    def statement(self, p: ast.AST, r: ast.AST) -> Bug | None:
        if type(p) is type(r) and any(isinstance(getattr(p, f, None), list) for f in _BODIES if hasattr(p, f)):
            if _header(p) != _header(r):
                return self.changed(p, r, header_only=True)
            for field in _BODIES:
                pl, rl = getattr(p, field, None), getattr(r, field, None)
                if isinstance(pl, list) and isinstance(rl, list) and [dump(x) for x in pl] != [dump(x) for x in rl]:
                    return self.body(pl, rl, p, r)
            return None
        return self.changed(p, r, header_only=False)

    def changed(self, p: ast.AST, r: ast.AST, header_only: bool) -> Bug:
        found = _smallest(p, r, None)
        pe, re_, parent = found
        first = getattr(p, "lineno", 1)
        if pe is p and header_only:
            # The header differs in something without a position (e.g. a for target):
            # replace the whole compound statement.
            return self._replace_statement(p, r, "statement")
        if pe is p:
            return self._replace_statement(p, r, _detail(p, r, p))
        replacement = as_operand(re_, pe, parent)
        start, end = self.src.span(pe)
        fix = Patch(start, end, replacement)
        shown = pe
        if len(squash(self.src.segment(pe))) < 3 and isinstance(parent, ast.expr) and _one_line(parent):
            shown = parent  # "2" says little; "x % 2" says where
        s_start, s_end = self.src.span(shown)
        buggy = " ".join(self.src.text[s_start:s_end].split())
        fixed = " ".join((self.src.text[s_start:start] + replacement + self.src.text[end:s_end]).split())
        line = getattr(pe, "lineno", first)
        last = getattr(p, "end_lineno", first) or first
        span = range(line, (getattr(pe, "end_lineno", line) or line) + 1)
        lines = tuple(sorted(set(span) | ({first} if header_only else set(range(first, last + 1)))))
        return Bug("changed", _detail(pe, re_, p), line, lines, buggy, fixed,
                   self.src.line(line).strip(), fix)

    def _replace_statement(self, p: ast.AST, r: ast.AST, detail: str) -> Bug:
        first = getattr(p, "lineno", 1)
        last = getattr(p, "end_lineno", first) or first
        new = unparse(r)
        if isinstance(p, ast.stmt) and self.src.owns_lines(p):
            fix = self.src.replace_lines(first, last, indent(new, self.src.indent_of(first)))
        else:
            start, end = self.src.span(p)
            fix = Patch(start, end, new)
        buggy = self.src.line(first).strip()
        return Bug("changed", detail, first, tuple(range(first, last + 1)), buggy,
                   new.split("\n")[0], buggy, fix)

    def extra(self, p: ast.stmt) -> Bug:
        first, last = p.lineno, p.end_lineno or p.lineno
        if self.src.owns_lines(p):
            fix = self.src.replace_lines(first, last, "")
        else:
            start, end = self.src.span(p)
            fix = Patch(start, end, "pass")
        text = self.src.line(first).strip()
        return Bug("extra", "extra", first, tuple(range(first, last + 1)), text, "", text, fix)

    def missing(
        self, p: list[ast.stmt], i: int, r: ast.stmt, parent: ast.AST | None, rparent: ast.AST | None
    ) -> Bug:
        new = unparse(r)
        fixed = new.split("\n")[0]
        if i < len(p) and self.src.owns_lines(p[i]):
            at = p[i].lineno
            fix = Patch(self.src.line_start(at), self.src.line_start(at), indent(new, self.src.indent_of(at)) + "\n")
            lines = (at - 1, at) if at > 1 else (at,)
            return Bug("missing", "missing", at, lines, "", fixed, self.src.line(at).strip(), fix)
        if p and self.src.owns_lines(p[-1]):
            prev = p[-1]
            end = prev.end_lineno or prev.lineno
            pos = self.src.line_start(end + 1)
            text = indent(new, self.src.indent_of(prev.lineno))
            if pos >= len(self.src.text) and not self.src.text.endswith("\n"):
                fix = Patch(pos, pos, "\n" + text)
            else:
                fix = Patch(pos, pos, text + "\n")
            return Bug("missing", "missing", end, (end, end + 1), "", fixed, self.src.line(end).strip(), fix)
        if parent is not None and rparent is not None and isinstance(parent, ast.stmt):
            bug = self._replace_statement(parent, rparent, "missing")
            return Bug("missing", "missing", bug.line, bug.lines, "", fixed, bug.line_text, bug.fix)
        # Nothing to anchor to (an empty program): the fix is the whole reference.
        return Bug("missing", "missing", 1, (1,), "", fixed, self.src.line(1).strip(),
                   Patch(0, len(self.src.text), self.ref.text))


def _one_line(node: ast.AST) -> bool:
    return getattr(node, "lineno", 0) == getattr(node, "end_lineno", -1)


def _header(node: ast.AST) -> str:
    fields = {f: getattr(node, f, None) for f in node._fields if f not in _BODIES}
    key: str = dump(type(node)(**fields))
    return key


def _smallest(p: ast.AST, r: ast.AST, parent: ast.AST | None) -> tuple[ast.AST, ast.AST, ast.AST | None]:
    """The deepest positioned pair (program node, reference node, parent) that differs."""
    if type(p) is not type(r):
        return p, r, parent
    diffs: list[tuple[ast.AST, ast.AST]] = []
    for field in p._fields:
        if field in _BODIES:
            continue
        pv, rv = getattr(p, field, None), getattr(r, field, None)
        if isinstance(pv, ast.AST) and isinstance(rv, ast.AST):
            if dump(pv) != dump(rv):
                diffs.append((pv, rv))
        elif isinstance(pv, list) and isinstance(rv, list):
            if len(pv) != len(rv):
                return p, r, parent
            for a, b in zip(pv, rv, strict=True):
                if isinstance(a, ast.AST) and isinstance(b, ast.AST):
                    if dump(a) != dump(b):
                        diffs.append((a, b))
                elif a != b:
                    return p, r, parent
        elif (pv is None) != (rv is None) or (
            pv != rv and not isinstance(pv, ast.AST) and not isinstance(rv, ast.AST)
        ):
            return p, r, parent
    if len(diffs) != 1:
        return p, r, parent
    found = _smallest(diffs[0][0], diffs[0][1], p)
    if not hasattr(found[0], "lineno"):
        # Operators and comprehension clauses have no position: report the nearest
        # positioned node around them instead.
        return p, r, parent
    return found


def _detail(pe: ast.AST, re_: ast.AST, stmt: ast.AST) -> str:
    """A category for the explanation's wording."""
    if isinstance(pe, ast.Compare) and isinstance(re_, ast.Compare) and dump(
        ast.Compare(pe.left, [], pe.comparators)
    ) == dump(ast.Compare(re_.left, [], re_.comparators)):
        pairs = [{type(a).__name__, type(b).__name__} for a, b in zip(pe.ops, re_.ops, strict=False)]
        return "bound" if any(p in _BOUNDARY_PAIRS for p in pairs) else "comparison"
    if _shifted(pe, re_):
        return "bound"
    if isinstance(stmt, ast.Return) and pe is stmt.value:
        return "return"
    if isinstance(pe, ast.Constant) and isinstance(re_, ast.Constant):
        return "constant"
    if type(pe) is type(re_) and isinstance(pe, ast.BinOp | ast.BoolOp | ast.AugAssign):
        return "operator"
    if isinstance(pe, ast.UnaryOp) or isinstance(re_, ast.UnaryOp):
        return "operator"
    return "statement" if isinstance(pe, ast.stmt) else "expression"


def _shifted(a: ast.AST, b: ast.AST) -> bool:
    """True if one expression is the other plus or minus a small integer."""
    for x, y in ((a, b), (b, a)):
        if (
            isinstance(x, ast.BinOp)
            and isinstance(x.op, ast.Add | ast.Sub)
            and isinstance(x.right, ast.Constant)
            and dump(x.left) == dump(y)
        ):
            return True
    if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
        return type(a.value) is int and type(b.value) is int and abs(a.value - b.value) == 1
    return False
