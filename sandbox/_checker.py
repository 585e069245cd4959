"""Assert-style (HumanEval) tests: the check never shares a process with the program.

The check runs in a *judge* (``_judge``): a long-lived process per slot, forked by the
server before any program existed, outside the test's namespaces and non-dumpable. It
runs the task's trusted code (its prompt's helpers, then ``check``) and hands
``check`` a proxy for the candidate. The test process is the program's process: it
loads the program, then answers the judge's calls over two pipes (its fds 3 and 5)
until the judge closes them. Only the judge holds the result pipe and the report's
token, so the program can neither write a report nor read or change the judge's
memory; in a PID namespace it cannot even see the judge.

The check itself (source and compiled code) reaches only the judge: the server puts
it in a sealed memfd and hands its fd to the judge alone. No byte of the check, and so
none of its expected answers, is ever in memory the program can read. The prompt's
helpers are in both processes: they are the task's prompt, given to the model anyway.

The proxy sends the arguments out as plain data and gets back plain data: values
whose types *are* (``type(x) is``) None, bool, int, float, complex, str, bytes, list,
tuple, dict, set or frozenset, at every depth. Anything else fails the test with a
message naming the type. What arrives is decoded strictly (``_values.decode``): size
and depth caps, no tag it does not know, no code run. So an object with a rigged
``__eq__``, a replaced builtin or encoder, or a forged report gains the program nothing.
Once the program's side is gone or has sent something malformed, nothing the check
does afterwards (a check may catch exceptions) can make the test pass.

Protocol, frames of a 4-byte length plus JSON, program -> judge first::

    {"ready": 1} | {"failed": <report: compile_error, exception or missing_function>}
    judge -> program: {"args": [...], "kwargs": {"~d": [...]}}
    program -> judge: {"ok": value} | {"raised": {...}} | {"unplain": "type"}
"""

from __future__ import annotations

import builtins
import contextlib
import json
import marshal
import os
import sys
import types
from collections.abc import Callable
from typing import Any

import repair_tui.sandbox._values as V
from repair_tui.sandbox._asserts import TEST_FILENAME, CheckCode

REPLY_FD = 3  # in the program's process: its replies to the judge
CALL_FD = 5  # in the program's process: the judge's calls
RANDOM_SEED = 0  # see _child.RANDOM_SEED
MAX_ERROR_CLASSES = 1000  # exception classes the judge keeps (one per name the programs raised)
MAX_FRAME = 32 * 1024**2  # bytes of one message from the program
TEXT_LIMIT = 2000
_encoder = json.JSONEncoder(separators=(",", ":"))


class ProgramGone(BaseException):
    """The program's process closed its end (it exited, or closed the pipe). Not an
    Exception: a check's ``except Exception`` must not swallow it."""


class ProgramMisbehaved(BaseException):
    """The program's process sent something that is not a well-formed message."""


class Unplain(Exception):
    """The candidate returned a value of a type other than the plain ones."""

    def __init__(self, type_name: str, reason: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name
        self.reason = reason


class Link:
    """One end of the call pipes: whole frames out, whole frames in (blocking).

    A frame is written with one write and usually read with one read (what arrives
    beyond it is kept for the next). The first failure (the other side gone, or a
    malformed message) is remembered in ``failure``.
    """

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.buf = bytearray()
        self.failure: BaseException | None = None
        self.unplain: Unplain | None = None  # the first value of a type that is not plain

    def send(self, obj: dict[str, Any]) -> None:
        body = _encoder.encode(obj).encode()
        data = memoryview(len(body).to_bytes(4, "big") + body)
        try:
            while data:
                data = data[os.write(self.write_fd, data):]
        except OSError:  # EPIPE: the other side is gone
            raise self._failed(ProgramGone()) from None

    def _failed(self, exc: BaseException) -> BaseException:
        if self.failure is None:
            self.failure = exc
        return exc

    def _read(self, size: int) -> bytes:
        while len(self.buf) < size:
            try:
                chunk = os.read(self.read_fd, max(1 << 16, min(size - len(self.buf), 1 << 20)))
            except OSError:
                chunk = b""
            if not chunk:
                raise self._failed(ProgramGone())
            self.buf += chunk
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    def wait_closed(self) -> None:
        """Block until the other end is closed (the judge is done with this test)."""
        while os.read(self.read_fd, 1 << 16):
            pass

    def receive(self) -> dict[str, Any]:
        """The next message: a JSON object. ProgramGone at EOF, ProgramMisbehaved if bad."""
        if self.failure is not None:
            raise self.failure
        size = int.from_bytes(self._read(4), "big")
        if size > MAX_FRAME:
            raise self._failed(ProgramMisbehaved(f"a message of {size} bytes"))
        try:
            msg = json.loads(self._read(size))
        except (ValueError, RecursionError, MemoryError):
            raise self._failed(ProgramMisbehaved("an unreadable message")) from None
        if type(msg) is not dict:
            raise self._failed(ProgramMisbehaved("a message that is not an object"))
        return msg


# -- the judge's side -------------------------------------------------------------------


def judge(token: str, check_fd: int, link: Link, result_fd: int) -> None:
    """Run one test's check against the program's process at the other end of ``link``
    and write the report (with ``token``) to ``result_fd``; in a judge process."""
    report: dict[str, Any] | None
    try:
        report = _check(check_fd, link)
    except BaseException as exc:  # the harness itself failed
        report = {"kind": "harness_error", "message": f"{type(exc).__name__}: {_text(exc)}"}
    if isinstance(link.failure, ProgramGone):  # whatever the check made of it
        report = None  # the program's exit status (or its kill) tells why
    elif isinstance(link.failure, ProgramMisbehaved):
        report = _misbehaved(link.failure)
    elif link.unplain is not None and report is not None and report.get("kind") == "checked":
        unplain = link.unplain
        report = {"kind": "unplain", "type": unplain.type_name, "reason": unplain.reason,
                  "test_line": _test_line(unplain)}
    if report is not None:
        report["token"] = token
        body = _encoder.encode(report).encode()
        data = memoryview(len(body).to_bytes(4, "big") + body)
        with contextlib.suppress(OSError):  # the server gave up on this test
            while data:
                data = data[os.write(result_fd, data):]


def _check(check_fd: int, link: Link) -> dict[str, Any] | None:
    _reseed()
    source, code, prompt_code, prompt_error, entry_point = _read_check(check_fd)
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
    if prompt_error is not None:
        return {"kind": "harness_error", "message": prompt_error}
    check_code = CheckCode(source, code)
    ns: dict[str, Any] = {"__name__": "__check__", "__builtins__": builtins}
    if prompt_code is not None:
        exec(prompt_code, ns)
    # As in HumanEval's harness, where the program defines it, the entry point's name is
    # the candidate too (HumanEval/33's check compares it with itself): here, the proxy.
    proxy = ns[entry_point] = _proxy(link, entry_point)
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


def check_payload(source: str, code: types.CodeType | None, prompt_code: types.CodeType | None,
                  prompt_error: str | None, entry_point: str) -> bytes:
    """What the server puts in a test's check memfd (read back by ``_read_check``)."""
    return marshal.dumps((source, code, prompt_code, prompt_error, entry_point))


def _read_check(check_fd: int) -> tuple[str, types.CodeType | None, types.CodeType | None, str | None, str]:
    """The check from its memfd, where only the judge reads it."""
    data = os.pread(check_fd, os.fstat(check_fd).st_size, 0)
    source, code, prompt_code, prompt_error, entry_point = marshal.loads(data)
    return str(source), code, prompt_code, prompt_error, str(entry_point)


def _reseed() -> None:
    """Every check sees ``random`` as a fresh process would: seeded with RANDOM_SEED
    (HumanEval/50's check draws its inputs unseeded)."""
    module = sys.modules.get("random")
    if module is not None:
        module.seed(RANDOM_SEED)


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
                raise link._failed(ProgramMisbehaved(f"a malformed value ({exc})")) from None
        if "unplain" in reply:
            unplain = Unplain(_field(reply.get("unplain"), 200) or "?", _field(reply.get("reason"), 200) or "")
            if link.unplain is None:  # a check that catches it still fails the test
                link.unplain = unplain
            raise unplain
        if "raised" in reply and type(reply["raised"]) is dict:
            raise _candidate_error(reply["raised"])
        raise link._failed(ProgramMisbehaved("an unexpected reply"))

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
        if len(_error_classes) >= MAX_ERROR_CLASSES:  # a long-lived judge; names are the programs'
            _error_classes.clear()
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


def _misbehaved(exc: BaseException) -> dict[str, Any]:
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
    """In the program's process: answer the judge's calls until it closes its end."""
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
