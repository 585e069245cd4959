"""The judges: one long-lived process per slot that runs assert-style checks.

A judge is forked by the server right after its preloading (as the zygote is), so it
never holds program code or data. For each assert test the server hands it, over a
Unix socket, the check's memfd, its ends of the two call pipes and the write end of
the test's result pipe, with the test's token. It runs the check against a proxy of
the candidate (``_checker``), writes the one report frame, closes its fds and says
``idle``. The program's process holds none of this: not the check, not the result
pipe, not the token.

Compared with forking a checker inside every test process, a warm judge costs no fork,
no copy-on-write faults and no exit per test; and it lives outside the test's PID
namespace, so the program can neither see nor signal it. A judge that does not come
back (a check stuck in its own loop, or one that exited) is killed and replaced.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
from typing import Any, NoReturn

import repair_tui.sandbox._checker as _checker
import repair_tui.sandbox._linux as L
from repair_tui.sandbox._zygote import Link


class Judge:
    """The server's handle on one judge process."""

    def __init__(self, pid: int, link: Link) -> None:
        self.pid = pid
        self.link = link
        self.busy = False  # a check was handed over and no ``idle`` came back yet

    def fileno(self) -> int:
        return int(self.link.sock.fileno())

    def kill(self) -> None:
        """End the process now and reap it (the server is its parent)."""
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.link.sock.close()


def start(server_pid: int) -> Judge:
    """Fork a judge; its handle (in the server)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ours.close()
        _serve(Link(theirs), server_pid)
    theirs.close()
    return Judge(pid, Link(ours))


class Judges:
    """One judge per slot, started with the server and replaced when stuck or gone.

    Their sockets are not in the server's poll set: a judge's messages (``idle``, or
    EOF if it died) are read only when the server needs to know, at the end of the
    slot's test and before the next, so judging costs the server no extra wakeup.
    """

    def __init__(self, slots: int, server_pid: int) -> None:
        self.server_pid = server_pid
        self.by_slot: list[Judge | None] = [None] * slots
        self.slot_of: dict[int, int] = {}  # socket fd -> slot

    def _start(self, slot: int) -> Judge:
        judge = self.by_slot[slot] = start(self.server_pid)
        self.slot_of[judge.fileno()] = slot
        return judge

    def _drop(self, slot: int) -> None:
        judge = self.by_slot[slot]
        if judge is not None:
            self.slot_of.pop(judge.fileno(), None)
            judge.kill()
            self.by_slot[slot] = None

    def start_all(self) -> None:
        """Fork every slot's judge now, while the server is small and fresh."""
        for slot in range(len(self.by_slot)):
            self._start(slot)

    def settle(self, slot: int) -> None:
        """The slot's test has ended: a judge still busy with it (a check stuck in its
        own loop) is killed; a fresh one is started when the slot next needs one. Its
        ``idle`` is sent before it lets go of the test's fds, so if it is done, the
        message is here by now."""
        judge = self.by_slot[slot]
        if judge is not None and judge.busy:
            self.on_readable(judge.fileno())
            if self.by_slot[slot] is judge and judge.busy:
                self._drop(slot)

    def assign(self, slot: int, token: str, fds: list[int]) -> None:
        """Hand a test's check to the slot's judge (a fresh one if it is gone or busy)."""
        self.settle(slot)
        judge = self.by_slot[slot] or self._start(slot)
        judge.link.send({"op": "check", "token": token, "fds": 1}, fds)
        judge.busy = True

    def on_readable(self, fd: int) -> None:
        """Read a judge's messages if there are any (never blocks); a judge that is gone
        is forgotten (and reaped)."""
        slot = self.slot_of[fd]
        judge = self.by_slot[slot]
        assert judge is not None
        ready = select.poll()
        ready.register(fd, select.POLLIN)
        if not ready.poll(0):
            return
        messages = None
        with contextlib.suppress(OSError, ValueError):
            messages = judge.link.receive()
        if messages is None:
            self._drop(slot)
            return
        for msg, fds in messages:
            for received in fds:
                os.close(received)
            if msg.get("ev") == "idle":
                judge.busy = False

    def close(self) -> None:
        for slot in range(len(self.by_slot)):
            self._drop(slot)


# -- the judge process ------------------------------------------------------------------


def _serve(link: Link, server_pid: int) -> NoReturn:
    try:
        L.set_name("sbx-judge")
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)  # the server died: so do we
        if os.getppid() != server_pid:
            os._exit(1)
        L.prctl(L.PR_SET_DUMPABLE, 0)  # no one reads our memory or our fds
        keep = link.sock.fileno()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # what a check prints goes nowhere
            os.dup2(null, fd)
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 20)  # the server's pipes, other tests' fds
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        import random  # noqa: F401 -- loaded once here (not in the server): reseeded per check
        while True:
            messages = link.receive()
            if messages is None:
                os._exit(0)  # the server closed the link
            for msg, fds in messages:
                try:
                    _one(msg, fds)
                finally:  # idle first: when the server sees the fds closed, it is known
                    link.send({"ev": "idle"})
                    for fd in fds:
                        with contextlib.suppress(OSError):
                            os.close(fd)
    except BaseException:  # noqa: BLE001 -- a judge that cannot go on just ends; the server replaces it
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
        os._exit(1)


def _one(msg: dict[str, Any], fds: list[int]) -> None:
    if msg.get("op") == "check" and len(fds) == 4:
        check_fd, call_w, reply_r, result_fd = fds
        _checker.judge(str(msg.get("token")), check_fd, _checker.Link(call_w, reply_r), result_fd)
