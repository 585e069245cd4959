"""One test case in one fresh process, forked by the server and watched by it.

With namespaces the forked process is PID 1 of its own PID namespace: it enters new
mount/network/IPC/UTS namespaces, confines itself and runs the harness. Its exit, or
the server's SIGKILL, ends the namespace and with it everything the program started.
Without namespaces it is a *shim*: a child subreaper that forks the confined test
process, waits, sweeps every descendant and exits mirroring the test's status.

The server reads the test's stdout, stderr and result pipes with caps, enforces the
deadline, and turns what it saw into a raw outcome. It never has expected outputs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import signal
import time
from typing import Any, NoReturn

import repair_tui.sandbox._child as _child
import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._linux as L
import repair_tui.sandbox._proto as P
import repair_tui.sandbox._reap as _reap

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
                 pidns_fd: int | None, deadline: float) -> None:
        self.job = job
        self.index = index
        self.slot = slot
        self.conf = conf
        self.pidns_fd = pidns_fd
        self.limits = _jail.RunLimits(job["limits"])
        self.uid = conf.uid_for(slot)
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

    # -- server side ------------------------------------------------------------

    def spawn(self) -> None:
        """Fork the test process (PID 1 of a new PID namespace when namespaces are on)."""
        stdin_fd = os.memfd_create("input", 0)
        if self.job["style"] == "stdio":
            P.write_all(stdin_fd, str(self.job["inputs"][self.index]).encode())
            os.lseek(stdin_fd, 0, os.SEEK_SET)
        pipes = {name: os.pipe() for name in ("stdout", "stderr", "result")}
        child_fds = [stdin_fd] + [w for _, w in pipes.values()]
        self.start = time.monotonic()
        if self.pidns_fd is not None:
            L.unshare(L.CLONE_NEWPID)  # our next child is PID 1 of a new namespace
        try:
            pid = os.fork()
            if pid == 0:
                self._child_main(child_fds)
        finally:
            if self.pidns_fd is not None:
                L.setns(self.pidns_fd, L.CLONE_NEWPID)
        for fd in child_fds:
            os.close(fd)
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        for name, (r, _) in pipes.items():
            os.set_blocking(r, False)
            self.fds[r] = name

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
        if self.conf.namespaces or self.backstop is not None:
            sig = signal.SIGKILL
        else:  # the shim cleans up on SIGTERM; SIGKILL would orphan the program's processes
            sig = signal.SIGTERM
            self.backstop = time.monotonic() + SHIM_GRACE
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, sig)

    def finish(self, status: int, usage: resource.struct_rusage) -> dict[str, Any]:
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
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 6),
            "timed_out": reason in ("timeout", "backstop"),
            "killed": reason or None,
            "output_limit": reason.split(":", 1)[1] if reason.startswith("output_limit:") else None,
            "stdout": bytes(self.bufs["stdout"][: self.caps["stdout"]]).decode("utf-8", "replace"),
            "stderr": bytes(self.bufs["stderr"][-STDERR_KEEP:]).decode("utf-8", "replace"),
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

    # -- child side -------------------------------------------------------------

    def _child_main(self, fds: list[int]) -> NoReturn:
        try:
            L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)  # the server died: so do we
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
            for target, fd in enumerate(high):
                os.dup2(fd, target)
            os.closerange(4, 1 << 20)  # the server's protocol, other tests' pipes
            L.set_name("sbx-test")
            if self.conf.namespaces:
                _jail.enter_test_namespaces()
                _jail.confine_test_process(self.limits, self.uid, _jail.slot_workdir(self.slot),
                                           True, self.limits.max_processes)
                _child.run(self.job, self.index, self.token)
            self._shim()
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(2, f"sandbox: could not start the test: {type(exc).__name__}: {exc}\n".encode())
        os._exit(122)

    def _shim(self) -> NoReturn:
        """Fallback: fork the test, wait, kill every descendant, mirror the test's status."""
        L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
        workdir = os.path.join(self.conf.base, f"job{self.job['id']}-test{self.index}")
        os.mkdir(workdir, 0o700)
        nproc = self.limits.max_processes
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        else:  # our own uid: RLIMIT_NPROC counts the user's other processes too
            nproc += _jail.count_processes(os.getuid())
        signal.signal(signal.SIGTERM, _raise_stop)
        pid = os.fork()
        if pid == 0:
            try:
                _jail.confine_test_process(self.limits, self.uid, workdir, False, nproc)
                _child.run(self.job, self.index, self.token)
            except BaseException as exc:
                os.write(2, f"sandbox: could not start the test: {exc}\n".encode())
            os._exit(122)
        for fd in range(4):
            os.close(fd)  # only the test holds the pipes: EOF means it is gone
        try:
            _, status = os.waitpid(pid, 0)
        except _Stop:
            _reap.kill_all_descendants(group=pid)
            status = signal.SIGKILL  # a wait status meaning "killed by SIGKILL"
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _reap.kill_all_descendants(group=pid)
        _jail.clear_dir(workdir, remove=True)
        _mirror(status)


def _mirror(status: int) -> NoReturn:
    """Exit the way the test did: same exit code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


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
