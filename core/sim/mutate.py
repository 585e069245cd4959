"""Realistic bugs and cosmetic variation for the simulated model.

`mutation_sites` lists the places where a one-token-ish bug can be planted in a
program: a flipped comparison, an off-by-one bound or index, a wrong operator, a wrong
constant, a wrong return value, a dropped statement, or a syntax error (a lost colon).
`mutate` picks one (weighted by kind) and checks that the result really differs from
the original: it must parse (or, for the syntax kind, must not) and have a different
AST. Sites that tend to make programs loop forever are never used, so buggy programs
fail fast: any change to a variable that a ``while`` loop tests (inside the loop, and
its initial value before it: HumanEval/32's ``begin, end = -1., 1.`` turned into
``1., 1.`` never ends), any edit of such a test other than its bound, and dropping a
``break`` or ``return`` inside a loop.

`restyle` adds comments and blank lines without changing the AST, so that two correct
samples of the same task do not have identical text.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from repair_tui.core.sim.source import (
    Patch,
    Source,
    as_operand,
    dump,
    is_docstring,
    parse,
    syntax_error,
)

KIND_WEIGHTS: dict[str, float] = {
    "comparison": 3.0,
    "bound": 3.0,
    "operator": 2.0,
    "constant": 1.5,
    "return": 1.5,
    "drop": 1.5,
    "syntax": 0.4,
}

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
}
_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Div,
    ast.Div: ast.FloorDiv, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
}
# Annotations and decorators: changing them changes no behaviour.
_SKIP_FIELDS = ("returns", "annotation", "decorator_list", "type_comment", "type_params")
_DROPPABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.If)


@dataclass(frozen=True)
class Mutation:
    """One planted bug: what kind, on which line of the original, and the text patch."""

    kind: str
    line: int
    patch: Patch

    def apply(self, code: str) -> str:
        out: str = self.patch.apply(code)
        return out


class _Sites:
    """Collects mutation sites while walking a module, tracking enclosing while-loops."""

    def __init__(self, src: Source, loops: _LoopFacts | None = None) -> None:
        self.src = src
        self.sites: list[Mutation] = []
        self.guards: list[list[str]] = []  # names tested by each enclosing while loop
        # What decides whether a while loop ends, anywhere in the program (see _LoopFacts).
        self.loops = loops or _LoopFacts(frozenset(), frozenset())

    def add(self, kind: str, node: ast.AST, new: ast.AST | str, parent: ast.AST | None) -> None:
        text = new if isinstance(new, str) else as_operand(new, node, parent)
        if not text:
            return
        start, end = self.src.span(node)
        self.sites.append(Mutation(kind, getattr(node, "lineno", 1), Patch(start, end, text)))

    def guarded(self, node: ast.AST) -> bool:
        """True if `node` changes a name that decides whether a while loop ends."""
        if not isinstance(node, _CHANGERS):
            return False  # what `_changes` can say yes to, without building the name set
        return _changes(node, self.loops.names.union(*self.guards))

    def walk_body(self, stmts: list[ast.stmt]) -> None:
        live = [s for i, s in enumerate(stmts) if not (i == 0 and is_docstring(s))]
        for stmt in live:
            if len(live) >= 2:
                self.maybe_drop(stmt)
            self.walk_stmt(stmt)

    def maybe_drop(self, stmt: ast.stmt) -> None:
        if not isinstance(stmt, _DROPPABLE) or is_docstring(stmt) or not self.src.owns_lines(stmt):
            return
        inside = list(ast.walk(stmt))
        if any(self.guarded(n) for n in inside) or self.guards and any(
            isinstance(n, ast.Break | ast.Return) for n in inside
        ):
            return
        end = stmt.end_lineno or stmt.lineno
        self.sites.append(Mutation("drop", stmt.lineno, self.src.replace_lines(stmt.lineno, end, "")))

    def walk_stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.FunctionDef) and stmt.name in self.loops.names:
            return  # a helper a loop's test calls: any bug in it may keep the loop going
        if isinstance(stmt, ast.While):
            self.expressions(stmt.test, stmt, in_while_test=True)
            self.guards.append([n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)])
            self.walk_body(stmt.body)
            self.guards.pop()
            self.walk_body(stmt.orelse)
            self.colon_site(stmt)
            return
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            self.return_site(stmt)
        if isinstance(stmt, ast.AugAssign) and not self.guarded(stmt):
            swapped = _BINOP.get(type(stmt.op))
            if swapped is not None:
                self.add("operator", stmt, ast.AugAssign(stmt.target, swapped(), stmt.value), None)
        guarded = self.guarded(stmt)
        for field, value in ast.iter_fields(stmt):
            if field in _SKIP_FIELDS:
                continue
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self.walk_body(value)
            elif field == "test" and id(stmt) in self.loops.ifs:
                self.expressions(value, stmt, in_while_test=True)
            elif isinstance(value, list):
                for item in value:
                    self.child(item, stmt, guarded)
            else:
                self.child(value, stmt, guarded)
        if isinstance(stmt, ast.If | ast.For | ast.FunctionDef | ast.With):
            self.colon_site(stmt)

    def child(self, value: object, parent: ast.AST, guarded: bool) -> None:
        if isinstance(value, ast.expr) and not guarded:
            self.expressions(value, parent)
        elif isinstance(value, ast.ExceptHandler | ast.match_case):
            self.walk_body(value.body)

    def expressions(self, root: ast.expr, parent: ast.AST, in_while_test: bool = False) -> None:
        for node, par in _walk_with_parent(root, parent):
            if isinstance(node, ast.Compare):
                self.compare_sites(node, par, in_while_test)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
                for arg in node.args:
                    if not isinstance(arg, ast.Starred):
                        self.off_by_one(arg, node)
            elif isinstance(node, ast.Slice):
                for bound in (node.lower, node.upper):
                    if bound is not None:
                        self.off_by_one(bound, node)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                if isinstance(node.slice, ast.Name | ast.BinOp):
                    self.off_by_one(node.slice, node)
            elif in_while_test:
                continue  # only indices change there: other edits risk an endless loop
            elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
                self.add("operator", node, ast.BinOp(node.left, _BINOP[type(node.op)](), node.right), par)
            elif isinstance(node, ast.BoolOp):
                op: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
                self.add("operator", node, ast.BoolOp(op, node.values), par)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
                self.add("operator", node, node.operand, par)
            elif _is_int(node) and not _is_range(par):
                value = int(node.value)  # type: ignore[attr-defined]
                new = 1 if value == 0 else value + (1 if value % 2 else -1)
                self.add("constant", node, ast.Constant(new), par)

    def compare_sites(self, node: ast.Compare, parent: ast.AST, in_while_test: bool) -> None:
        for i, op in enumerate(node.ops):
            for kind, table in (("comparison", _FLIP), ("bound", _BOUNDARY)):
                swapped = table.get(type(op))
                if swapped is None or in_while_test:
                    continue  # `while n > 1` as `n >= 1` never ends once n is 1
                ops = list(node.ops)
                ops[i] = swapped()
                self.add(kind, node, ast.Compare(node.left, ops, node.comparators), parent)

    def off_by_one(self, expr: ast.expr, parent: ast.AST) -> None:
        for delta in (1, -1):
            self.add("bound", expr, _shift(expr, delta), parent)

    def return_site(self, stmt: ast.Return) -> None:
        value = stmt.value
        assert value is not None
        new: ast.expr | None = None
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            new = ast.Constant(not value.value)
        elif _is_int(value):
            new = ast.Constant(int(value.value) + 1)  # type: ignore[attr-defined]
        elif isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
            new = ast.Constant("")
        elif isinstance(value, ast.Name | ast.Call | ast.Compare | ast.BoolOp):
            new = ast.UnaryOp(ast.Not(), value) if _looks_boolean(value) else None
        if new is not None:
            self.add("return", value, new, stmt)

    def colon_site(self, stmt: ast.stmt) -> None:
        body = getattr(stmt, "body", None)
        line = self.src.line(stmt.lineno)
        if not body or body[0].lineno <= stmt.lineno or "#" in line or not line.rstrip().endswith(":"):
            return
        pos = self.src.line_start(stmt.lineno) + len(line.rstrip()) - 1
        self.sites.append(Mutation("syntax", stmt.lineno, Patch(pos, pos + 1, "")))


def _is_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _is_range(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def _looks_boolean(node: ast.expr) -> bool:
    if isinstance(node, ast.Compare | ast.BoolOp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("all", "any", "isinstance", "bool")
    return isinstance(node, ast.Name) and node.id.startswith(("is_", "has_", "ok", "found", "valid"))


def _shift(expr: ast.expr, delta: int) -> ast.expr:
    """`expr` plus `delta`, folding into a trailing integer constant when there is one."""
    if _is_int(expr):
        return ast.Constant(int(expr.value) + delta)  # type: ignore[attr-defined]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Sub) and _is_int(expr.right):
        sign = 1 if isinstance(expr.op, ast.Add) else -1
        total = sign * int(expr.right.value) + delta  # type: ignore[attr-defined]
        if total == 0:
            return expr.left
        op: ast.operator = ast.Add() if total > 0 else ast.Sub()
        return ast.BinOp(expr.left, op, ast.Constant(abs(total)))
    return ast.BinOp(expr, ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


def _walk_with_parent(root: ast.expr, parent: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
    stack: list[tuple[ast.AST, ast.AST]] = [(root, parent)]
    while stack:
        node, par = stack.pop()
        yield node, par
        if isinstance(node, ast.Lambda | ast.JoinedStr):
            continue  # f-string parts have unreliable positions; lambdas are rare targets
        children = list(ast.iter_child_nodes(node))
        stack.extend((c, node) for c in reversed(children))


@dataclass(frozen=True)
class _LoopFacts:
    """What decides whether a program's while loops end.

    ``names``: the names their tests read, closed over the loops' bodies (a name
    assigned to one of them inside a loop joins, with the names read by the ``if``
    that chooses whether that assignment happens, or whether the loop breaks or
    returns). ``ifs``: the ids of those ``if`` statements.
    """

    names: frozenset[str]
    ifs: frozenset[int]


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


# The statements `_changes` looks at; it says no to every other node.
_CHANGERS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)


def _changes(node: ast.AST, names: frozenset[str] | set[str]) -> bool:
    """True if statement `node` assigns one of `names` (or calls a method on one)."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        targets = [node.value.func]  # stack.pop(), f.append(x): the loop's progress
    return any(_names(t) & names for t in targets)


def _loop_facts(tree: ast.Module) -> _LoopFacts:
    loops = [w for w in ast.walk(tree) if isinstance(w, ast.While)]
    names: set[str] = set()
    for loop in loops:
        names |= _names(loop.test)
    inner = [s for loop in loops for s in ast.walk(loop) if isinstance(s, ast.stmt)]
    ifs: set[int] = set()
    grew = True
    while grew:  # each pass adds names, so this ends
        grew = False
        for stmt in inner:
            new: set[str] = set()
            if isinstance(stmt, ast.If) and any(
                isinstance(n, ast.Break | ast.Return) or _changes(n, names) for n in ast.walk(stmt)
            ):
                ifs.add(id(stmt))
                new = _names(stmt.test)
            elif _changes(stmt, names):
                new = _names(stmt)
            if not new <= names:
                names |= new
                grew = True
    return _LoopFacts(frozenset(names), frozenset(ifs))


@lru_cache(maxsize=512)
def _original_tree(code: str) -> ast.Module | None:
    # Read only: every mutant of a program is compared with the same tree.
    tree: ast.Module | None = parse(code)
    return tree


@lru_cache(maxsize=512)
def mutation_sites(code: str) -> tuple[Mutation, ...]:
    """All candidate bugs for `code` (empty when it does not parse)."""
    tree = parse(code)
    if tree is None:
        return ()
    sites = _Sites(Source(code), _loop_facts(tree))
    sites.walk_body(tree.body)
    return tuple(sites.sites)


@lru_cache(maxsize=2048)
def valid_mutant(original: str, mutation: Mutation) -> str | None:
    """The mutant's text if it really differs from `original`, else None.

    Cached: the choices of one request often draw the same site of the same program."""
    mutant = mutation.apply(original)
    if mutation.kind == "syntax":
        return mutant if syntax_error(mutant) is not None else None
    before, after = _original_tree(original), parse(mutant)
    if before is None or after is None or syntax_error(mutant) is not None:
        return None
    return mutant if dump(before) != dump(after) else None


def mutate(
    code: str,
    rng: random.Random,
    *,
    min_line: int = 1,
    avoid_lines: tuple[int, ...] = (),
    only_line: int | None = None,
) -> tuple[str, Mutation] | None:
    """Plant one bug in `code`: a weighted kind, then a site; None if no site works.

    Only lines from `min_line` on are touched (a HumanEval answer keeps the prompt's
    signature and helpers intact); `only_line` restricts the bug to one line.
    """
    sites = [
        s for s in mutation_sites(code)
        if s.line >= min_line and s.line not in avoid_lines
        and (only_line is None or s.line == only_line)
    ]
    by_kind: dict[str, list[Mutation]] = {}
    for site in sites:
        by_kind.setdefault(site.kind, []).append(site)
    for _ in range(8):
        kinds = [k for k in KIND_WEIGHTS if by_kind.get(k)]
        if not kinds:
            return None
        kind = rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]
        site = by_kind[kind].pop(rng.randrange(len(by_kind[kind])))
        mutant = valid_mutant(code, site)
        if mutant is not None:
            return mutant, site
    return None


_COMMENTS: dict[type[ast.stmt], tuple[str, ...]] = {
    ast.For: ("# go through the items", "# main loop", "# iterate"),
    ast.While: ("# loop until done", "# main loop"),
    ast.If: ("# handle this case", "# check the condition", "# special case"),
    ast.Return: ("# done", "# return the result"),
    ast.Assign: ("# set up", "# keep track of the answer", "# read the input"),
}
_HEADERS = ("# Solution", "# Approach: follow the specification directly.", "# Python 3")


@dataclass(frozen=True)
class _Target:
    """A statement `restyle` may put a comment or blank line before."""

    lineno: int
    docstring: bool
    comments: tuple[str, ...] | None  # the comments that fit it, None: a blank line only
    indent: str


@lru_cache(maxsize=512)
def _restyle_targets(code: str) -> tuple[_Target, ...] | None:
    """The statements of `code` that own their lines, in walk order (None: no parse).
    Cached: a task's reference is restyled for each correct sample."""
    tree = parse(code)
    if tree is None:
        return None
    src = Source(code)
    return tuple(
        _Target(s.lineno, is_docstring(s),
                next((c for t, c in _COMMENTS.items() if isinstance(s, t)), None),
                src.indent_of(s.lineno))
        for s in ast.walk(tree) if isinstance(s, ast.stmt) and src.owns_lines(s)
    )


def restyle(code: str, rng: random.Random) -> str:
    """`code` with a comment or blank line or two added: different text, same AST."""
    stmts = _restyle_targets(code)
    if stmts is None:
        return code
    src = Source(code)
    inserts: dict[int, str] = {}
    wanted = rng.randint(1, 2)
    for _ in range(8):
        if len(inserts) >= wanted:
            break
        choice = rng.random()
        if choice < 0.2 or not stmts:
            if 1 not in inserts:
                inserts[1] = rng.choice(_HEADERS) + "\n"
            continue
        stmt = stmts[rng.randrange(len(stmts))]
        if stmt.docstring or stmt.lineno in inserts:
            continue
        if stmt.comments and choice < 0.75:
            inserts[stmt.lineno] = stmt.indent + rng.choice(stmt.comments) + "\n"
        else:
            inserts[stmt.lineno] = "\n"
    if not inserts:
        inserts[1] = rng.choice(_HEADERS) + "\n"
    out = code
    for lineno in sorted(inserts, reverse=True):
        pos = src.line_start(lineno)
        out = out[:pos] + inserts[lineno] + out[pos:]
    return out

