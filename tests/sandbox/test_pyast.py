"""pyast: one tree conversion at a time in a process (CPython 3.11 can raise
'AST constructor recursion depth mismatch' when two threads convert at once)."""

from __future__ import annotations

import ast
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from repair_tui.sandbox import pyast


def test_parse_and_compile_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    inside: dict[int, int] = {}  # thread -> nesting (ast.parse calls compile)
    most = 0
    guard = threading.Lock()
    real_parse, real_compile = ast.parse, compile

    def watched(real):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal most
            me = threading.get_ident()
            with guard:
                inside[me] = inside.get(me, 0) + 1
                most = max(most, len(inside))
            time.sleep(0.002)  # wide enough for another thread to come in
            try:
                return real(*args, **kwargs)
            finally:
                with guard:
                    inside[me] -= 1
                    if not inside[me]:
                        del inside[me]
        return call

    monkeypatch.setattr(ast, "parse", watched(real_parse))
    monkeypatch.setattr("builtins.compile", watched(real_compile))

    def work(i: int) -> object:
        tree = pyast.parse(f"x = {i}\n")
        return pyast.compile_tree(tree, "<t>") if i % 2 else tree

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(64)))
    assert len(results) == 64
    assert most == 1  # never two threads converting at once


def test_parse_reports_syntax_errors_as_ast_does() -> None:
    with pytest.raises(SyntaxError):
        pyast.parse("def (:\n")
    assert isinstance(pyast.parse("pass"), ast.Module)


NESTED_ASSERTS = """\
def f():
    if x:
        assert a == 1
    else:
        for i in y:
            assert b < 2
    try:
        assert c
    except E:
        assert d != 3
    finally:
        assert e in f
    with g:
        assert h is None
    match v:
        case 1:
            assert i == 9
    while 1:
        assert 1
    else:
        assert 2
class K:
    async def m(self):
        async for x in y:
            assert x
"""


def test_every_assert_at_any_depth_is_instrumented() -> None:
    from repair_tui.sandbox._asserts import CheckCode

    check = CheckCode(NESTED_ASSERTS)
    everywhere = [n.lineno for n in ast.walk(ast.parse(NESTED_ASSERTS)) if isinstance(n, ast.Assert)]
    assert sorted(a.lineno for a in check._asserts or []) == sorted(everywhere)
    assert check.instrumented == {3: "==", 6: "<", 10: "!=", 12: "in", 14: "is", 17: "=="}
