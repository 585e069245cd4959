"""Assert-style (HumanEval) tests in two processes: the check never shares a process
with the program.

The test process forks before any program code exists in it. The child is the
*checker*: it runs the task's trusted code (its prompt's helpers, then ``check``) and
hands ``check`` a proxy for the candidate. The parent becomes the program's process:
it loads the program, then answers calls from the checker over two pipes until the
checker is done. Only the checker holds the result pipe and the report's token, and
it is non-dumpable from birth, so the program can neither write a report nor read or
change the checker's memory (no ptrace, no /proc/<pid>/mem).

The check itself (source and compiled code) reaches only the checker: the server puts
it in a sealed memfd whose fd (CHECK_FD) passes through the zygote and the test
process unread; the checker reads it after the split, and the program's process closes
its copy first. No byte of the check, and so none of its expected answers, is ever in
memory the program can read. The prompt's helpers are in both: they are the task's
prompt, which the model was given anyway.

The proxy sends the arguments out as plain data and gets back plain data: values
whose types *are* (``type(x) is``) None, bool, int, float, complex, str, bytes, list,
tuple, dict, set or frozenset, at every depth. Anything else fails the test with a
message naming the type. What arrives is decoded strictly (``_values.decode``): size
and depth caps, no tag it does not know, no code run. So an object with a rigged
``__eq__``, a replaced builtin or encoder, or a forged report gains the program nothing.

The program's process is the test's main process (PID 1 of its namespace, or the
shim's child): when it exits, the checker dies with it. So it exits only once the
checker has closed its end, which the checker does after writing its report.

Protocol, frames of a 4-byte length plus JSON, program -> checker first::

    {"ready": 1} | {"failed": <report: compile_error, exception or missing_function>}
    checker -> program: {"args": [...], "kwargs": {"~d": [...]}}
    program -> checker: {"ok": value} | {"raised": {...}} | {"unplain": "type"}
"""

from __future__ import annotations

import builtins
import contextlib
import json
import marshal
import os
import types
from collections.abc import Callable
from typing import Any, NoReturn

import repair_tui.sandbox._linux as L
import repair_tui.sandbox._values as V
from repair_tui.sandbox._asserts import TEST_FILENAME, CheckCode

RESULT_FD = 3
CHECK_FD = 5  # the check as the server compiled it (a sealed memfd; see _server.check_memfd)
MAX_FRAME = 32 * 1024**2  # bytes of one message from the program
TEXT_LIMIT = 2000
_encoder = json.JSONEncoder(separators=(",", ":"))


class ProgramGone(Exception):
    """The program's process closed its end (it exited, or closed the pipe)."""


class ProgramMisbehaved(Exception):
    """The program's process sent something that is not a well-formed message."""


class Unplain(Exception):
    """The candidate returned a value of a type other than the plain ones."""

    def __init__(self, type_name: str, reason: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name
        self.reason = reason


class Link:
    """One end of the call pipes: whole frames out, whole frames in (blocking)."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd = write_fd
        self.read_fd = read_fd

    def send(self, obj: dict[str, Any]) -> None:
        body = _encoder.encode(obj).encode()
        data = memoryview(len(body).to_bytes(4, "big") + body)
        while data:
            data = data[os.write(self.write_fd, data):]

    def _read(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = os.read(self.read_fd, min(size, 1 << 20))
            if not chunk:
                raise ProgramGone
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def wait_closed(self) -> None:
        """Block until the other end is closed (the checker has reported and exited)."""
        while os.read(self.read_fd, 1 << 16):
            pass

    def receive(self) -> dict[str, Any]:
        """The next message: a JSON object. ProgramGone at EOF, ProgramMisbehaved if bad."""
        size = int.from_bytes(self._read(4), "big")
        if size > MAX_FRAME:
            raise ProgramMisbehaved(f"a message of {size} bytes")
        try:
            msg = json.loads(self._read(size))
        except (ValueError, RecursionError, MemoryError):
            raise ProgramMisbehaved("an unreadable message") from None
        if type(msg) is not dict:
            raise ProgramMisbehaved("a message that is not an object")
        return msg


# -- the checker ------------------------------------------------------------------------


def check_main(job: dict[str, Any], token: str, link: Link,
               prompt_code: types.CodeType | None) -> NoReturn:
    """The checker process: run the check against the proxy, report on fd 3, exit."""
    report: dict[str, Any] | None
    try:
        L.prctl(L.PR_SET_DUMPABLE, 0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        report = _check(job, link, prompt_code)
    except BaseException as exc:  # the harness itself failed
        report = {"kind": "harness_error", "message": f"{type(exc).__name__}: {_text(exc)}"}
    if report is not None:  # None: the program is gone, and its exit status tells why
        report["token"] = token
        body = _encoder.encode(report).encode()
        data = memoryview(len(body).to_bytes(4, "big") + body)
        while data:
            data = data[os.write(RESULT_FD, data):]
    os._exit(0)


def _check(job: dict[str, Any], link: Link, prompt_code: types.CodeType | None) -> dict[str, Any] | None:
    try:
        hello = link.receive()
    except ProgramGone:
        return None
    except ProgramMisbehaved as exc:
        return _misbehaved(exc)
    if "failed" in hello:
        return _relayed_failure(hello["failed"])
    if hello.get("ready") != 1:
        return _misbehaved(ProgramMisbehaved("an unexpected first message"))
    check_code = _read_check()
    ns: dict[str, Any] = {"__name__": "__check__", "__builtins__": builtins}
    if prompt_code is not None:
        exec(prompt_code, ns)
    # As in HumanEval's harness, where the program defines it, the entry point's name is
    # the candidate too (HumanEval/33's check compares it with itself): here, the proxy.
    proxy = ns[str(job["entry_point"])] = _proxy(link, str(job["entry_point"]))
    exec(check_code.code, ns)
    check = ns.get("check")
    if not callable(check):
        return {"kind": "harness_error", "message": "the test code defines no check(candidate)"}
    try:
        check(proxy)
    except ProgramGone:
        return None
    except ProgramMisbehaved as exc:
        return _misbehaved(exc)
    except Unplain as exc:
        return {"kind": "unplain", "type": exc.type_name, "reason": exc.reason,
                "test_line": _test_line(exc)}
    except AssertionError as exc:
        if not hasattr(exc, "sandbox_report"):
            info = check_code.explain(exc)
            if info is not None:
                return {"kind": "assert_failed", **info}
        return _exception(exc)
    except BaseException as exc:
        return _exception(exc)
    return {"kind": "checked"}


def _read_check() -> CheckCode:
    """The check, from CHECK_FD: the only copy in any process the program can reach
    (the program's process closed its fd before any program code ran)."""
    try:
        data = os.pread(CHECK_FD, os.fstat(CHECK_FD).st_size, 0)
    except OSError as exc:
        raise RuntimeError(f"the check was not passed to the checker ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            os.close(CHECK_FD)
    source, code = marshal.loads(data)
    return CheckCode(source, code)


def _proxy(link: Link, name: str) -> Callable[..., Any]:
    def candidate(*args: Any, **kwargs: Any) -> Any:
        try:
            message = {"args": V.encode_exact(list(args)), "kwargs": V.encode_exact(kwargs)}
        except V.Unplain as exc:
            raise TypeError(f"the tests passed a value of type {exc.type_name} to the program; "
                            f"only plain data ({V.PLAIN_NAMES}) can be sent") from None
        link.send(message)
        reply = link.receive()
        if "ok" in reply:
            try:
                return V.decode(reply["ok"], opaque=False)
            except V.DecodeError as exc:
                raise ProgramMisbehaved(f"a malformed value ({exc})") from None
        if "unplain" in reply:
            raise Unplain(_field(reply.get("unplain"), 200) or "?", _field(reply.get("reason"), 200) or "")
        if "raised" in reply and type(reply["raised"]) is dict:
            raise _candidate_error(reply["raised"])
        raise ProgramMisbehaved("an unexpected reply")

    candidate.__name__ = candidate.__qualname__ = name
    return candidate


_error_classes: dict[str, type[BaseException]] = {}


def _candidate_error(info: dict[str, Any]) -> BaseException:
    """An exception standing for one the program raised: a subclass of the builtin
    exception of that name when there is one (so a check's ``except ValueError`` works),
    carrying the program's report."""
    type_name = _field(info.get("type"), 100) or "Exception"
    cls = _error_classes.get(type_name)
    if cls is None:
        base = getattr(builtins, type_name, None)
        if not (isinstance(base, type) and issubclass(base, Exception)):
            base = Exception
        try:
            cls = type(type_name, (base,), {})
        except TypeError:
            cls = type(type_name, (Exception,), {})
        _error_classes[type_name] = cls
    exc = cls(_field(info.get("message"), TEXT_LIMIT) or "")
    exc.sandbox_report = {  # type: ignore[attr-defined]
        "type": type_name,
        "message": _field(info.get("message"), TEXT_LIMIT) or "",
        "line": _line(info.get("line")),
        "text": _field(info.get("text"), 400),
    }
    return exc


def _exception(exc: BaseException) -> dict[str, Any]:
    """An exception that ended the check: the program's (relayed) or the check's own."""
    relayed = getattr(exc, "sandbox_report", None)
    if relayed is not None:
        return {"kind": "exception", "phase": "check", **relayed, "test_line": _test_line(exc)}
    return {"kind": "exception", "phase": "check", "type": type(exc).__name__,
            "message": _text(exc), "line": None, "text": None, "test_line": _test_line(exc)}


def _test_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEST_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _relayed_failure(failure: Any) -> dict[str, Any]:
    """A failure the program's process reported while loading, passed on field by field
    (never its kind as given: a program can make itself fail, not pass)."""
    if type(failure) is not dict:
        return _misbehaved(ProgramMisbehaved("an unexpected first message"))
    kind = failure.get("kind")
    if kind == "missing_function":
        return {"kind": "missing_function", "name": _field(failure.get("name"), 100) or "?"}
    out = {"type": _field(failure.get("type"), 100) or "Exception",
           "message": _field(failure.get("message"), TEXT_LIMIT) or "",
           "line": _line(failure.get("line")), "text": _field(failure.get("text"), 400)}
    if kind == "compile_error":
        return {"kind": "compile_error", **out}
    return {"kind": "exception", "phase": "load", **out, "test_line": None}


def _misbehaved(exc: Exception) -> dict[str, Any]:
    return {"kind": "interfered", "message": f"its process sent {exc}"}


def _field(value: Any, limit: int) -> str | None:
    return value[:limit] if type(value) is str else None


def _line(value: Any) -> int | None:
    return value if type(value) is int and 0 < value < 10**9 else None


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:TEXT_LIMIT]
    except BaseException:
        return ""


# -- the program's side -----------------------------------------------------------------


def serve(func: Callable[..., Any], link: Link,
          report: Callable[[BaseException], dict[str, Any]]) -> None:
    """In the program's process: answer the checker's calls until it closes its end."""
    while True:
        try:
            msg = link.receive()
        except (ProgramGone, ProgramMisbehaved):
            return
        args = V.decode(msg.get("args"), opaque=False)
        kwargs = V.decode(msg.get("kwargs"), opaque=False)
        try:
            value = func(*args, **kwargs)
        except BaseException as exc:
            link.send({"raised": report(exc)})
            continue
        try:
            link.send({"ok": V.encode_exact(value)})
        except V.Unplain as exc:
            link.send({"unplain": exc.type_name, "reason": exc.reason})
