"""The harness inside a test process: run the program once for one test case and report.

By the time ``run`` is called the process is already confined (namespaces or rlimits,
another uid, a clean environment) and its fds are 0 = the input, 1/2 = capped pipes,
3 = the result pipe. It runs the program, then writes exactly one frame to fd 3 and
exits. The frame carries a per-test token; the runner discards frames without it, so
a program printing "passed" or writing junk to fd 3 gets nowhere, and a program that
exits early sends no frame at all. Expected outputs are never in this process (except,
unavoidably, inside an assert-style check).
"""

from __future__ import annotations

import atexit
import builtins
import gc
import io
import json
import linecache
import os
import sys
import types
from collections.abc import Callable
from typing import Any, NoReturn

import repair_tui.sandbox._values as _values
from repair_tui.sandbox._asserts import TEST_FILENAME, CheckCode, safe_repr

RESULT_FD = 3
PROGRAM_FILENAME = "program.py"

# Bound now, before any program runs: a program may monkeypatch os, json or builtins.
_write = os.write
_exit = os._exit
_encoder = json.JSONEncoder(separators=(",", ":"))
_len = len
_type = type
# The builtins as the server has them; an assert-style check fails if the program
# replaced any (a rigged ``abs`` or ``isinstance`` could make every assertion pass).
_BUILTINS = dict(builtins.__dict__)


def run(job: dict[str, Any], index: int, token: str) -> NoReturn:
    """Run test ``index`` of ``job`` in this (confined) process, report on fd 3, exit."""
    streams = _install_streams()
    try:
        report = _run_style(job, index, streams)
    except BaseException as exc:  # the harness itself failed; report rather than hang
        report = {"kind": "harness_error", "message": f"{_type(exc).__name__}: {exc}"}
    _flush(streams)
    report["token"] = token
    try:
        body = _encoder.encode(report).encode()
        frame = _len(body).to_bytes(4, "big") + body
        while frame:
            frame = frame[_write(RESULT_FD, frame) :]
    except BaseException:
        _exit(121)
    _exit(0)


_streams: list[io.TextIOWrapper] = []


def prepare_streams() -> None:
    """Build the program's stdin/stdout/stderr objects once, in the server.

    They wrap fds 0-2 by number and are empty at every fork, so each test process
    can install them as they are after putting its own pipes on 0-2.
    """
    _streams[:] = [
        io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8"),
        io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"),
        io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                         errors="backslashreplace"),
    ]


def _install_streams() -> list[io.TextIOWrapper]:
    if not _streams:
        prepare_streams()
    stdin, stdout, stderr = _streams
    sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]
    sys.stdout = sys.__stdout__ = stdout  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = stderr  # type: ignore[misc]
    return [stdout, stderr]


def _flush(streams: list[io.TextIOWrapper]) -> None:
    for stream in [sys.stdout, sys.stderr, *streams]:
        try:  # noqa: SIM105 -- the program may have replaced contextlib; not this
            stream.flush()
        except BaseException:
            pass


def _fresh_module(name: str, source: str) -> dict[str, Any]:
    module = types.ModuleType(name)
    module.__file__ = PROGRAM_FILENAME
    sys.modules[name] = module
    sys.argv = [PROGRAM_FILENAME]
    lines = source.splitlines(keepends=True)
    linecache.cache[PROGRAM_FILENAME] = (_len(source), None, lines, PROGRAM_FILENAME)
    atexit._clear()  # handlers inherited from the server are not the program's
    if "random" in sys.modules:  # preloaded (fallback mode): its state is the server's
        sys.modules["random"].seed(RANDOM_SEED)
    else:
        sys.meta_path.insert(0, _SeededRandom())
    return module.__dict__


# Tests that draw random inputs (HumanEval/50, /53, ... call `random` unseeded) get the
# same inputs on every run, so a program's verdict and error message are reproducible
# and a resumed run equals an uninterrupted one.
RANDOM_SEED = 0


class _SeededRandom:
    """A meta-path finder that seeds `random` with RANDOM_SEED right after its import."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "random":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None:
                loader, run_module = spec.loader, spec.loader.exec_module

                def exec_and_seed(module: types.ModuleType, run_module: Any = run_module) -> None:
                    run_module(module)
                    module.seed(RANDOM_SEED)

                loader.exec_module = exec_and_seed  # type: ignore[method-assign]
                return spec
        return None


def _compile(source: str) -> types.CodeType | dict[str, Any]:
    try:
        return compile(source, PROGRAM_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return {
            "kind": "compile_error",
            "type": _type(exc).__name__,
            "message": exc.msg,
            "line": exc.lineno,
            "text": (exc.text or "").rstrip("\n"),
        }
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, absurd nesting
        return {"kind": "compile_error", "type": _type(exc).__name__, "message": str(exc), "line": None}


def _run_style(job: dict[str, Any], index: int, streams: list[io.TextIOWrapper]) -> dict[str, Any]:
    source = str(job["program"])
    code = _compile(source)
    if isinstance(code, dict):
        return code
    style = job["style"]
    preamble = str(job.get("preamble") or "")
    if style == "stdio":
        return _run_stdio(code, source, streams, preamble)
    if style == "call":
        return _run_call(code, source, str(job["fn_name"]), list(job["inputs"][index]), preamble)
    check_code = job.get("_check_code") or CheckCode(str(job["test"]))
    return _run_assert(code, source, check_code, str(job["entry_point"]), preamble)


def _run_preamble(preamble: str, ns: dict[str, Any]) -> None:
    """The task's preamble (e.g. APPS's imports), run in the program's namespace first;
    compiled apart so the program's own line numbers stay as written."""
    if preamble:
        exec(compile(preamble, "<preamble>", "exec", dont_inherit=True), ns)


def _run_stdio(code: types.CodeType, source: str, streams: list[io.TextIOWrapper],
               preamble: str = "") -> dict[str, Any]:
    ns = _fresh_module("__main__", source)
    try:
        _run_preamble(preamble, ns)
        exec(code, ns)
        threading = sys.modules.get("threading")
        if threading is not None:  # wait for non-daemon threads, as Python does at exit
            threading._shutdown()
        atexit._run_exitfuncs()
    except SystemExit as exc:
        status = exc.code
        if status is not None and status != 0:
            if not isinstance(status, int):
                print(status, file=sys.stderr)
            return {"kind": "exit", "code": status if isinstance(status, int) else 1}
    except BaseException as exc:
        return exception_report(exc, "run", source)
    finally:
        _flush(streams)
        ns.clear()
        gc.collect()  # finalize file objects the program left open, flushing them
    return {"kind": "done"}


def _resolve(ns: dict[str, Any], name: str) -> Callable[..., Any] | None:
    func = ns.get(name)
    if callable(func) and not isinstance(func, type):
        return func  # type: ignore[no-any-return]
    solution = ns.get("Solution")
    if isinstance(solution, type) and hasattr(solution, name):
        return getattr(solution(), name)  # type: ignore[no-any-return]
    return func if callable(func) else None


def _load(code: types.CodeType, source: str, preamble: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Import the program as module ``solution`` (its preamble first): its namespace,
    and the failure report if loading raised."""
    ns = _fresh_module("solution", source)
    try:
        _run_preamble(preamble, ns)
        exec(code, ns)
    except BaseException as exc:
        return ns, exception_report(exc, "load", source)
    return ns, None


def _run_call(code: types.CodeType, source: str, fn_name: str, args: list[Any],
              preamble: str = "") -> dict[str, Any]:
    ns, failure = _load(code, source, preamble)
    if failure is not None:
        return failure
    try:
        func = _resolve(ns, fn_name)
    except BaseException as exc:  # Solution() itself raised
        return exception_report(exc, "load", source)
    if func is None:
        return {"kind": "missing_function", "name": fn_name}
    try:
        value = func(*args)
    except BaseException as exc:
        return exception_report(exc, "call", source)
    return {"kind": "returned", "value": _values.encode(value)}


def _run_assert(code: types.CodeType, source: str, check_code: CheckCode,
                entry_point: str, preamble: str = "") -> dict[str, Any]:
    ns, failure = _load(code, source, preamble)
    if failure is not None:
        return failure
    try:
        exec(check_code.code, ns)
        check = ns.get("check")
        candidate = ns.get(entry_point)
        if candidate is None:
            return {"kind": "missing_function", "name": entry_point}
        if not callable(check):
            return {"kind": "harness_error", "message": "the test code defines no check(candidate)"}
        check(candidate)
    except AssertionError as exc:
        info = check_code.explain(exc)
        if info is not None:
            return {"kind": "assert_failed", **info}
        return exception_report(exc, "check", source)
    except BaseException as exc:
        return exception_report(exc, "check", source)
    current = builtins.__dict__
    changed = sorted(k for k, v in _BUILTINS.items() if current.get(k, None) is not v)
    if changed:
        return {"kind": "tampered", "names": changed[:10]}
    return {"kind": "checked"}


def exception_report(exc: BaseException, phase: str, source: str) -> dict[str, Any]:
    """Type, message, and the last line of the program (and of the tests) it passed through."""
    program_line: int | None = None
    test_line: int | None = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == PROGRAM_FILENAME:
            program_line = tb.tb_lineno
        elif filename == TEST_FILENAME:
            test_line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM_FILENAME:
        program_line = exc.lineno
    try:
        message = str(exc)[:2000]
    except BaseException:
        message = safe_repr(exc)
    lines = source.splitlines()
    text = lines[program_line - 1].strip() if program_line and 0 < program_line <= _len(lines) else None
    return {
        "kind": "exception",
        "phase": phase,
        "type": _type(exc).__name__,
        "message": message,
        "line": program_line,
        "text": text,
        "test_line": test_line,
    }
