"""One test case as the server sees it: its pipes, its deadline, its raw outcome.

The process itself is forked by the zygote (``_zygote``, ``_spawn``); the server keeps
the read ends of its stdout, stderr and result pipes and a pidfd to signal it, reads
with caps, enforces the deadline, and turns what it saw into a raw outcome. It never
has expected outputs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from typing import Any

import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._proto as P
from repair_tui.sandbox._zygote import Link

STDERR_KEEP = 4096  # bytes of stderr sent back (the end of it)
SHIM_GRACE = 2.0  # seconds a shim gets to clean up after SIGTERM before SIGKILL


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


class TestProcess:
    """A running test: its process, its pipes, what it printed so far."""

    __test__ = False  # not a pytest class

    def __init__(self, job: dict[str, Any], index: int, slot: int, conf: _jail.Confinement,
                 deadline: float) -> None:
        self.job = job
        self.index = index
        self.slot = slot
        self.conf = conf
        self.limits = _jail.RunLimits(job["limits"])
        self.deadline = deadline
        self.token = os.urandom(16).hex()
        self.bufs = {"stdout": bytearray(), "stderr": bytearray(), "result": bytearray()}
        self.caps = {"stdout": self.limits.output_bytes, "stderr": self.limits.output_bytes,
                     "result": self.limits.output_bytes + (1 << 20)}
        self.fds: dict[int, str] = {}  # read ends still open -> stream name
        self.kill_reason: str | None = None
        self.backstop: float | None = None  # when a shim that ignored SIGTERM gets SIGKILL
        self.pid = self.pidfd = -1
        self.start = 0.0
        self.demoted = False  # moved to the lowest CPU priority (see _server._demote)
        self.spawn_error: str | None = None

    def spawn(self, link: Link) -> None:
        """Ask the zygote to fork the test process, handing it the pipes' other ends."""
        stdin_fd = os.memfd_create("input", 0)
        if self.job["style"] == "stdio":
            P.write_all(stdin_fd, str(self.job["inputs"][self.index]).encode())
            os.lseek(stdin_fd, 0, os.SEEK_SET)
        pipes = {name: os.pipe() for name in ("stdout", "stderr", "result")}
        child_fds = [stdin_fd] + [w for _, w in pipes.values()]
        self.start = time.monotonic()
        try:
            link.send({"op": "spawn", "id": self.job["id"], "index": self.index, "slot": self.slot,
                       "token": self.token, "fds": 1}, child_fds)
        finally:
            for fd in child_fds:  # in flight now: the zygote holds its own copies
                os.close(fd)
        for name, (r, _) in pipes.items():
            os.set_blocking(r, False)
            self.fds[r] = name

    def spawned(self, pid: int, pidfd: int) -> None:
        """The zygote forked it: its pid and a pidfd to signal it by."""
        self.pid, self.pidfd = pid, pidfd
        if self.kill_reason is not None:  # killed before we knew it
            reason, self.kill_reason = self.kill_reason, None
            self.kill(reason)

    def on_readable(self, fd: int) -> bool:
        """Read what a pipe has; False at EOF (the caller stops polling it)."""
        name = self.fds[fd]
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not data:
            del self.fds[fd]
            os.close(fd)
            return False
        buf = self.bufs[name]
        room = self.caps[name] + 1 - len(buf)
        if room > 0:
            buf += data[:room]
        if len(buf) > self.caps[name] and self.kill_reason is None:
            self.kill("output_limit:" + name)
        return True

    def kill(self, reason: str) -> None:
        """Stop the test now; ``reason`` is recorded (timeout, output_limit:..., cancelled)."""
        if self.kill_reason is None:
            self.kill_reason = reason
        if self.pidfd < 0:
            return  # not forked yet: ``spawned`` delivers it
        if self.conf.namespaces or self.backstop is not None:
            sig = signal.SIGKILL
        else:  # the shim cleans up on SIGTERM; SIGKILL would orphan the program's processes
            sig = signal.SIGTERM
            self.backstop = time.monotonic() + SHIM_GRACE
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, sig)

    def finish(self, status: int, cpu_seconds: float) -> dict[str, Any]:
        """The process was reaped (``status``): read the rest of its output; the raw outcome."""
        duration = time.monotonic() - self.start
        end = time.monotonic() + 1.0
        while self.fds and time.monotonic() < end:  # every writer is dead: EOF comes
            for fd in list(self.fds):
                os.set_blocking(fd, True)
                self.on_readable(fd)
        self.close()
        if self.conf.namespaces:  # the next test in this slot starts with an empty work dir
            _jail.clear_dir(_jail.slot_workdir(self.slot))
        report, problem = parse_report(bytes(self.bufs["result"]), self.token)
        code = os.waitstatus_to_exitcode(status)
        reason = self.kill_reason or ""
        return {
            "index": self.index,
            "duration": round(duration, 6),
            "exit_code": code if code >= 0 else None,
            "signal": -code if code < 0 else None,
            "cpu_seconds": round(cpu_seconds, 6),
            "timed_out": reason in ("timeout", "backstop"),
            "killed": reason or None,
            "output_limit": reason.split(":", 1)[1] if reason.startswith("output_limit:") else None,
            "stdout": bytes(self.bufs["stdout"][: self.caps["stdout"]]).decode("utf-8", "replace"),
            "stderr": bytes(self.bufs["stderr"][-STDERR_KEEP:]).decode("utf-8", "replace")
            + (f"sandbox: could not start the test: {self.spawn_error}\n" if self.spawn_error else ""),
            "report": report,
            "report_problem": problem,
        }

    def close(self) -> None:
        for fd in [*self.fds, self.pidfd]:
            if fd < 0:
                continue
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()
        self.pidfd = -1

def parse_report(data: bytes, token: str) -> tuple[dict[str, Any] | None, str | None]:
    """The harness's one frame, if it is exactly one frame with the right token."""
    if not data:
        return None, "no result"
    reader = P.FrameReader()
    try:
        frames = reader.feed(data)
    except P.FrameError:
        return None, "unreadable data on the result channel"
    if len(frames) != 1 or reader.pending:
        return None, "unexpected data on the result channel"
    try:
        report = json.loads(frames[0])
    except ValueError:
        return None, "unreadable data on the result channel"
    if not isinstance(report, dict) or report.pop("token", None) != token:
        return None, "forged data on the result channel"
    return report, None
