"""The harness inside a test process: run the program once for one test case and report.

By the time ``run`` is called the process is already confined (namespaces or rlimits,
another uid, a clean environment) and its fds are 0 = the input, 1/2 = capped pipes,
3 = the result pipe. It runs the program, then writes exactly one frame to fd 3 and
exits. The frame carries a per-test token; the runner discards frames without it, so
a program printing "passed" or writing junk to fd 3 gets nowhere, and a program that
exits early sends no frame at all. Expected outputs are never in this process.

Assert-style tests are judged elsewhere (``_checker``, ``_judge``): the check runs in
the slot's judge, which alone holds it, the result pipe and the token; this process
loads the program and answers the judge's calls (fds 3 and 5). So the check's answers
are never here.

Programs are run as the datasets' own harnesses run them: a stdio program with a
top-level ``return`` runs inside a function, as APPS wraps it (``_stdio_code``); an
assert-style program completes its task's prompt, as HumanEval defines a program
(``_compile``). Line numbers in reports are always those of the program as given.
"""

from __future__ import annotations

import ast
import atexit
import gc
import io
import json
import linecache
import os
import sys
import types
from collections.abc import Callable
from typing import Any, NoReturn

import repair_tui.sandbox._checker as _checker
import repair_tui.sandbox._values as _values
from repair_tui.sandbox import pyast
from repair_tui.sandbox._asserts import TEST_FILENAME, safe_repr

RESULT_FD = 3
PROGRAM_FILENAME = "program.py"

# Bound now, before any program runs: a program may monkeypatch os, json or builtins.
_write = os.write
_exit = os._exit
_encoder = json.JSONEncoder(separators=(",", ":"))
_len = len
_type = type


def run(job: dict[str, Any], token: str) -> NoReturn:
    """Run the test of ``job`` (with its ``input``, call style) in this (confined)
    process, report on fd 3, exit."""
    if job["style"] == "assert":
        _run_assert(job)
    streams = _install_streams()
    try:
        report = _run_style(job, streams)
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


def _fresh_module(name: str, source: str, offset: int = 0) -> dict[str, Any]:
    module = types.ModuleType(name)
    module.__file__ = PROGRAM_FILENAME
    sys.modules[name] = module
    sys.argv = [PROGRAM_FILENAME]
    lines = [""] * offset + source.splitlines(keepends=True)
    linecache.cache[PROGRAM_FILENAME] = (_len(source), None, lines, PROGRAM_FILENAME)
    atexit._clear()  # handlers inherited from the server are not the program's
    _seed_random()
    return module.__dict__


def _seed_random() -> None:
    if "random" in sys.modules:  # preloaded (fallback mode): its state is the server's
        sys.modules["random"].seed(RANDOM_SEED)
    else:
        sys.meta_path.insert(0, _SeededRandom())


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


class Program:
    """The program's code, and how its lines map to what the user wrote: the code may
    start with ``offset`` lines of the task's prompt (a bare function body completes it)."""

    def __init__(self, source: str, code: types.CodeType, offset: int = 0) -> None:
        self.source = source
        self.code = code
        self.offset = offset


def _compile(source: str, prompt: str = "", style: str = "") -> Program | dict[str, Any]:
    """Compile the program; a compile_error report if it does not compile."""
    try:
        code = compile(source, PROGRAM_FILENAME, "exec", dont_inherit=True)
        return Program(source, code)
    except SyntaxError as exc:
        error: BaseException = exc
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, absurd nesting
        return {"kind": "compile_error", "type": _type(exc).__name__, "message": str(exc), "line": None}
    if style == "stdio" and error.msg == "'return' outside function":  # type: ignore[attr-defined]
        wrapped = _stdio_code(source)
        if wrapped is not None:
            return Program(source, wrapped)
    if prompt:
        completed = _completion(source, prompt)
        if completed is not None:
            return completed
    return _compile_error(error, 0)


def _compile_error(exc: Any, offset: int) -> dict[str, Any]:
    line = exc.lineno - offset if exc.lineno is not None and exc.lineno > offset else None
    return {
        "kind": "compile_error",
        "type": _type(exc).__name__,
        "message": exc.msg,
        "line": line,
        "text": (exc.text or "").rstrip("\n"),
    }


def _completion(source: str, prompt: str) -> Program | None:
    """A bare function body (it starts indented) completes the prompt, as HumanEval's
    harness runs prompt + completion; None when that does not compile either."""
    if not prompt.endswith("\n"):
        prompt += "\n"
    try:
        code = compile(prompt + source, PROGRAM_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return Program(source, code, prompt.count("\n"))


def _stdio_code(source: str) -> types.CodeType | None:
    """A stdio program with a top-level ``return``, run as APPS runs every stdio program:
    as the body of a function. Its top-level names are declared global, so they stay the
    module's names (as without the wrapper); its lines keep their numbers."""
    try:
        tree = pyast.parse(source, PROGRAM_FILENAME)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    star = [n for n in tree.body if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)]
    body = [_without_globals(n) for n in tree.body if n not in star] or [ast.Pass()]
    names = sorted(_bound_names(body))
    if names:
        body.insert(0, ast.Global(names=names))
    func = ast.FunctionDef(name="__program__", args=ast.arguments(
        posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=body, decorator_list=[], returns=None, type_comment=None)
    call = ast.Expr(ast.Call(ast.Name("__program__", ast.Load()), [], []))
    module = ast.Module(body=[*star, func, call], type_ignores=[])
    for node in (func, call, *(n for n in ast.walk(call))):
        node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
        node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
    if names:
        ast.copy_location(body[0], func)
    ast.fix_missing_locations(module)
    try:
        code: types.CodeType = pyast.compile_tree(module, PROGRAM_FILENAME)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return code


def _without_globals(node: ast.stmt) -> ast.stmt:
    """The statement with module-level ``global`` statements made ``pass`` (a no-op at
    module level, an error inside the wrapper after the names' first use)."""
    if isinstance(node, ast.Global):
        return ast.copy_location(ast.Pass(), node)
    for child in _same_scope(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue  # a def's own global statements are its own
        for field, value in ast.iter_fields(child):
            if isinstance(value, list):
                setattr(child, field, [ast.copy_location(ast.Pass(), v) if isinstance(v, ast.Global) else v
                                       for v in value])
    return node


def _same_scope(node: ast.AST) -> list[ast.AST]:
    """``node`` and its descendants in the same scope (not inside defs, classes, lambdas)."""
    out: list[ast.AST] = []
    todo = [node]
    while todo:
        item = todo.pop()
        out.append(item)
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            todo.extend(item.decorator_list)  # its name is bound here; its decorators run here
            continue
        for child in ast.iter_child_nodes(item):
            if not isinstance(child, ast.Lambda):
                todo.append(child)
    return out


def _bound_names(body: list[ast.stmt]) -> set[str]:
    """The names a module body binds at its top level."""
    names: set[str] = set()
    for stmt in body:
        for node in _same_scope(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
                names.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                names.add(node.rest)
    return names


def _run_style(job: dict[str, Any], streams: list[io.TextIOWrapper]) -> dict[str, Any]:
    program = _compile(str(job["program"]), "", job["style"])
    if isinstance(program, dict):
        return program
    preamble = str(job.get("preamble") or "")
    if job["style"] == "stdio":
        return _run_stdio(program, streams, preamble)
    return _run_call(program, str(job["fn_name"]), list(job["input"]), preamble)


def _run_preamble(preamble: str, ns: dict[str, Any]) -> None:
    """The task's preamble (e.g. APPS's imports), run in the program's namespace first;
    compiled apart so the program's own line numbers stay as written."""
    if preamble:
        exec(compile(preamble, "<preamble>", "exec", dont_inherit=True), ns)


def _run_stdio(program: Program, streams: list[io.TextIOWrapper], preamble: str = "") -> dict[str, Any]:
    ns = _fresh_module("__main__", program.source)
    try:
        _run_preamble(preamble, ns)
        exec(program.code, ns)
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
        return exception_report(exc, "run", program)
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


def _load(program: Program, preamble: str | types.CodeType | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Import the program as module ``solution`` (its preamble first): its namespace,
    and the failure report if loading raised."""
    ns = _fresh_module("solution", program.source, program.offset)
    try:
        if isinstance(preamble, types.CodeType):
            exec(preamble, ns)
        elif preamble:
            _run_preamble(preamble, ns)
        exec(program.code, ns)
    except BaseException as exc:
        return ns, exception_report(exc, "load", program)
    return ns, None


def _run_call(program: Program, fn_name: str, args: list[Any], preamble: str = "") -> dict[str, Any]:
    ns, failure = _load(program, preamble)
    if failure is not None:
        return failure
    try:
        func = _resolve(ns, fn_name)
    except BaseException as exc:  # Solution() itself raised
        return exception_report(exc, "load", program)
    if func is None:
        return {"kind": "missing_function", "name": fn_name}
    try:
        value = func(*args)
    except BaseException as exc:
        return exception_report(exc, "call", program)
    return {"kind": "returned", "value": _values.encode(value)}


def _run_assert(job: dict[str, Any]) -> NoReturn:
    """The program's process of an assert test: load the program, then answer the
    judge's calls until it closes its end. The judge holds the check and the result
    pipe; this process has neither (fds 3 and 5 are the call pipes, moved first out of
    the way of a program that closes or reuses low fds)."""
    try:
        reply_w, call_r = os.dup(_checker.REPLY_FD), os.dup(_checker.CALL_FD)
        os.close(_checker.REPLY_FD)
        os.close(_checker.CALL_FD)
    except OSError:
        _exit(122)
    prompt = str(job.get("prompt") or "")
    prompt_code: types.CodeType | None = job.get("_prompt_code")
    streams = _install_streams()
    link = _checker.Link(reply_w, call_r)
    program = _compile(str(job["program"]), prompt)
    try:
        if isinstance(program, dict):
            link.send({"failed": program})
            link.wait_closed()  # the judge reports before the test ends
            _exit(0)
        # A bare body completing the prompt already has the prompt's code in it.
        ns, failure = _load(program, None if program.offset else prompt_code)
        entry_point = str(job["entry_point"])
        func = ns.get(entry_point)
        if failure is None and not callable(func):
            failure = {"kind": "missing_function", "name": entry_point}
        if failure is not None:
            link.send({"failed": failure})
            link.wait_closed()
        else:
            link.send({"ready": 1})
            _checker.serve(func, link, lambda exc: exception_report(exc, "call", program))
    except _checker.ProgramGone:  # the judge let go of this test
        pass
    _flush(streams)
    _exit(0)


def exception_report(exc: BaseException, phase: str, program: Program) -> dict[str, Any]:
    """Type, message, and the last line of the program (and of the tests) it passed through;
    lines are the program's own (a line of the prompt it completes is no line of it)."""
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
    if program_line is not None:
        program_line = program_line - program.offset if program_line > program.offset else None
    source = program.source
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
