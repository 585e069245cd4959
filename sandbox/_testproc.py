"""One test case as the server sees it: its pipes, its time limits, its raw outcome.

The process itself is forked by the zygote (``_zygote``, ``_spawn``); the server keeps
the read ends of its stdout, stderr and result pipes and a pidfd to signal it, reads
with caps, measures its CPU time, and turns what it saw into a raw outcome. It never
has expected outputs.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._proto as P
from repair_tui.sandbox._zygote import Link

STDERR_KEEP = 4096  # bytes of stderr sent back (the end of it)
SHIM_GRACE = 2.0  # seconds a shim gets to clean up after SIGTERM before SIGKILL
WALL_CEILING = 10.0  # multiples of the CPU-time limit a test may last on a loaded machine
DRAIN_GRACE = 0.2  # seconds to read what is left in the pipes of a test that exited
CLK_TCK = os.sysconf("SC_CLK_TCK")


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


class TestProcess:
    """A running test: its process, its pipes, what it printed so far."""

    __test__ = False  # not a pytest class

    def __init__(self, job: dict[str, Any], index: int, slot: int, conf: _jail.Confinement,
                 start: float) -> None:
        self.job = job
        self.index = index
        self.slot = slot
        self.conf = conf
        self.limits = _jail.RunLimits(job["limits"])
        self.start = start
        self.wall_deadline = start + self.limits.wall  # the backstop for sleeping or blocked tests
        self.wait_credit = 0.0  # CPU + runqueue seconds already added to the backstop
        self.helper_pid = -1  # see set_helper
        self.helper_base = 0.0
        self.helper_wait_base = 0.0
        # ... but never past this: a test starved of CPU by others still ends
        self.wall_ceiling = start + max(WALL_CEILING * self.limits.per_test, self.limits.wall)
        # the first CPU-time check: no test can use its limit sooner, even on every core
        self.next_cpu_check = start + self.limits.per_test / (os.cpu_count() or 1)
        cgroups = conf.cgroups
        self.cpu_base = cgroups.cpu_seconds(slot) if cgroups is not None else 0.0
        self.oom_base = cgroups.oom_kills(slot) if cgroups is not None else 0
        self.token = os.urandom(16).hex()
        self.bufs = {"stdout": bytearray(), "stderr": bytearray(), "result": bytearray()}
        self.caps = {"stdout": self.limits.output_bytes, "stderr": self.limits.output_bytes,
                     "result": self.limits.output_bytes + (1 << 20)}
        self.fds: dict[int, str] = {}  # read ends still open -> stream name
        self.kill_reason: str | None = None
        self.backstop: float | None = None  # when a shim that ignored SIGTERM gets SIGKILL
        self.pid = self.pidfd = -1
        self.demoted = False  # moved to the lowest CPU priority (see _server._demote)
        self.spawn_error: str | None = None

    def spawn(self, link: Link, job_bytes: bytes, judge: Callable[[str, list[int]], None] | None = None,
              check_fd: int = -1) -> None:
        """Ask the zygote to fork the test process, handing it the pipes' other ends and
        a sealed memfd with its job (``job_bytes``) and its own input (call style),
        which the test process reads and the zygote never does (see ``_zygote``). Only
        this test's input: the others' (megabytes in some APPS tasks) would cost each
        test process their decoding, in its own CPU time.

        Assert style (``judge``): the judge gets the check's memfd, its ends of two call
        pipes and the result pipe's write end, with the token; the test process gets
        the other call ends as its fds 3 (replies) and 5 (calls), and no token.
        """
        own_input = self.job["inputs"][self.index] if self.job["style"] == "call" else None
        job_fd = P.sealed_memfd(len(job_bytes).to_bytes(4, "big") + job_bytes
                                + marshal.dumps(own_input), "job")
        try:
            stdin_fd = os.memfd_create("input", 0)
            if self.job["style"] == "stdio":
                P.write_all(stdin_fd, str(self.job["inputs"][self.index]).encode())
                os.lseek(stdin_fd, 0, os.SEEK_SET)
            pipes = {name: os.pipe() for name in ("stdout", "stderr", "result")}
        except BaseException:
            os.close(job_fd)
            raise
        token = self.token
        if judge is not None:
            call_r, call_w = os.pipe()
            reply_r, reply_w = os.pipe()
            judge_fds = [os.dup(check_fd), call_w, reply_r, pipes["result"][1]]
            child_fds = [job_fd, stdin_fd, pipes["stdout"][1], pipes["stderr"][1], reply_w, call_r]
            token = ""
            try:
                judge(self.token, judge_fds)
            except BaseException:
                for fd in child_fds:
                    os.close(fd)
                raise
            finally:
                for fd in judge_fds:  # in flight now: the judge holds its own copies
                    os.close(fd)
        else:
            child_fds = [job_fd, stdin_fd] + [w for _, w in pipes.values()]
        try:
            link.send({"op": "spawn", "id": self.job["id"], "index": self.index, "slot": self.slot,
                       "token": token, "fds": 1}, child_fds)
        finally:
            for fd in child_fds:  # in flight now: the zygote holds its own copies
                os.close(fd)
        for name, (r, _) in pipes.items():
            os.set_blocking(r, False)
            self.fds[r] = name

    def set_helper(self, pid: int, wait_base: float) -> None:
        """A process outside the test that works for it (the slot's judge): its CPU time
        and its waits for a CPU (from ``wait_base`` on) count as the test's."""
        self.helper_pid = pid
        self.helper_base = _proc_cpu(self.conf.proc_fd, pid)
        self.helper_wait_base = wait_base

    def spawned(self, pid: int, pidfd: int) -> None:
        """The zygote forked it: its pid and a pidfd to signal it by. Its wall-clock
        backstop starts now: time the forking took on a busy machine is not its own."""
        self.pid, self.pidfd = pid, pidfd
        now = time.monotonic()
        self.wall_deadline = now + self.limits.wall
        self.wall_ceiling = now + max(WALL_CEILING * self.limits.per_test, self.limits.wall)
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

    def cpu_used(self) -> float:
        """CPU seconds the test's processes used so far: its cgroup's count, or the sum
        over its live process tree read from the host's /proc."""
        helper = _proc_cpu(self.conf.proc_fd, self.helper_pid) - self.helper_base if self.helper_pid > 0 else 0.0
        if self.conf.cgroups is not None:
            return float(self.conf.cgroups.cpu_seconds(self.slot)) - self.cpu_base + helper
        if self.conf.proc_fd is None or self.pid <= 0:
            return helper
        return _tree_cpu(self.conf.proc_fd, self.pid) + helper

    def kill(self, reason: str, hard: bool = False) -> None:
        """Stop the test now; ``reason`` is recorded (timeout:cpu, timeout:wall,
        output_limit:..., cancelled)."""
        if self.kill_reason is None:
            self.kill_reason = reason
        if self.pidfd < 0:
            return  # not forked yet: ``spawned`` delivers it
        if self.conf.namespaces or self.backstop is not None or hard:
            sig = signal.SIGKILL
        else:  # the shim cleans up on SIGTERM; SIGKILL would orphan the program's processes
            sig = signal.SIGTERM
            self.backstop = time.monotonic() + SHIM_GRACE
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, sig)

    def finish(self, status: int, cpu_seconds: float) -> dict[str, Any]:
        """The process was reaped (``status``): read the rest of its output; the raw outcome.

        Never blocks for long: the pipes are drained for at most DRAIN_GRACE, since a
        copy of a write end may live on elsewhere.
        """
        duration = time.monotonic() - self.start
        self._drain()
        self.close()
        if self.conf.cgroups is not None:
            cpu_seconds = max(cpu_seconds, self.cpu_used())
            oom = self.conf.cgroups.oom_kills(self.slot) > self.oom_base
        else:
            oom = False
        report, problem = parse_report(bytes(self.bufs["result"]), self.token)
        code = os.waitstatus_to_exitcode(status)
        reason = self.kill_reason or ""
        limit = self.limits.per_test
        if not reason and cpu_seconds > limit:  # it finished, but past its CPU time
            reason = "timeout:cpu"
        timed_out = reason.startswith("timeout") or reason == "backstop"
        return {
            "index": self.index,
            "duration": round(duration, 6),
            "exit_code": code if code >= 0 else None,
            "signal": -code if code < 0 else None,
            "cpu_seconds": round(cpu_seconds, 6),
            "timed_out": timed_out,
            "limit": ("wall" if reason in ("timeout:wall", "backstop") else "cpu") if timed_out else None,
            "seconds": (round(duration, 1) if reason in ("timeout:wall", "backstop") else limit) if timed_out else None,
            "memory_limit": oom and not timed_out,
            "killed": reason or None,
            "output_limit": reason.split(":", 1)[1] if reason.startswith("output_limit:") else None,
            "stdout": bytes(self.bufs["stdout"][: self.caps["stdout"]]).decode("utf-8", "replace"),
            "stderr": bytes(self.bufs["stderr"][-STDERR_KEEP:]).decode("utf-8", "replace")
            + (f"sandbox: could not start the test: {self.spawn_error}\n" if self.spawn_error else ""),
            "report": report,
            "report_problem": problem,
        }

    def _drain(self) -> None:
        end = time.monotonic() + DRAIN_GRACE
        poller = select.poll()
        for fd in self.fds:
            poller.register(fd, select.POLLIN)
        while self.fds:
            left = end - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(int(left * 1000) + 1):
                if fd in self.fds and not self.on_readable(fd):
                    poller.unregister(fd)

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
    except (ValueError, RecursionError, MemoryError):  # not JSON, or nested too deep
        return None, "unreadable data on the result channel"
    if not isinstance(report, dict) or report.pop("token", None) != token:
        return None, "forged data on the result channel"
    return report, None


def read_proc(proc_fd: int, pid: int | str, name: str, size: int = 4096) -> bytes:
    """``/proc/<pid>/<name>`` read through the host's /proc fd (the server's own view
    may have no /proc); OSError when the process is gone."""
    fd = os.open(f"{pid}/{name}", os.O_RDONLY, dir_fd=proc_fd)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def _proc_cpu(proc_fd: int | None, pid: int) -> float:
    """user + system seconds of one process (its own threads), from /proc/<pid>/stat."""
    if proc_fd is None or pid <= 0:
        return 0.0
    try:
        stat = read_proc(proc_fd, pid, "stat")
        fields = stat[stat.rfind(b")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, ValueError, IndexError):
        return 0.0


def proc_tree(proc_fd: int, pid: int) -> list[tuple[int, list[bytes]]]:
    """``pid`` (while it lives) and its live descendants, each with the fields of its
    /proc/<pid>/stat after the name (``fields[1]`` the parent), through the host's /proc."""
    stats: dict[int, list[bytes]] = {}
    children: dict[int, list[int]] = {}
    for entry in os.listdir(proc_fd):
        if not entry.isdigit():
            continue
        try:
            stat = read_proc(proc_fd, entry, "stat")
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 14:
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        if p in stats:
            out.append((p, stats[p]))
        frontier += children.get(p, [])
    return out


def _tree_cpu(proc_fd: int, pid: int) -> float:
    """user + system time of ``pid`` and its live descendants (each with the time of
    the children it reaped), from /proc/<pid>/stat through the host's /proc."""
    ticks = sum(int(f) for _, fields in proc_tree(proc_fd, pid) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / CLK_TCK
