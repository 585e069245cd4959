"""The zygote: the process that forks test processes, so that the server does not.

Every fork makes the forking process's memory copy-on-write: the server, busy with its
event loop, then paid hundreds of page faults per test. The zygote is forked from the
server once, right after the preloading, and does little but fork: it gets ``spawn``
requests (with the job's memfd and the test's pipe ends attached) over a Unix socket,
answers ``spawned`` (with a pidfd attached) and, when a test process ends, ``exited``.
Messages are frames (``_proto``); file descriptors travel with SCM_RIGHTS.

It never reads a job: each test process is a copy of the zygote's memory, so nothing
of one program (its code, its inputs) may be in it when another is forked. The test
process reads its own job from the memfd.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
from collections import deque
from typing import Any, NoReturn

import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._linux as L
import repair_tui.sandbox._proto as P
import repair_tui.sandbox._reap as _reap
import repair_tui.sandbox._spawn as _spawn

RECV_SIZE = 1 << 20
MAX_FDS = 8


class Link:
    """One end of the server-zygote socket: frames out, frames (and fds) in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = P.FrameReader()
        self.fd_batches: deque[list[int]] = deque()

    def send(self, msg: dict[str, Any], fds: list[int] | None = None) -> None:
        """Send one frame (blocking), with ``fds`` attached to its first byte."""
        data = P.encode(msg)
        sent = socket.send_fds(self.sock, [data], fds) if fds else self.sock.send(data)
        if sent < len(data):
            self.sock.sendall(data[sent:])

    def receive(self) -> list[tuple[dict[str, Any], list[int]]] | None:
        """The frames now complete, each with the fds that came with it; None at EOF.

        A recvmsg on a Unix stream socket never returns data of two messages when the
        second carries fds, so fd batches arrive in message order.
        """
        data, fds, _flags, _addr = socket.recv_fds(self.sock, RECV_SIZE, MAX_FDS)
        if not data:
            return None
        if fds:
            self.fd_batches.append(fds)
        out = []
        for body in self.reader.feed(data):
            msg = json.loads(body)
            batch = self.fd_batches.popleft() if msg.get("fds") else []
            out.append((msg, batch))
        return out


def start(conf: _jail.Confinement, pidns_fd: int | None) -> tuple[int, Link]:
    """Fork the zygote; its pid and the server's end of the link."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ours.close()
        _Zygote(Link(theirs), conf, pidns_fd).serve()
    theirs.close()
    return pid, Link(ours)


class _Zygote:
    def __init__(self, link: Link, conf: _jail.Confinement, pidns_fd: int | None) -> None:
        self.link = link
        self.conf = conf
        self.pidns_fd = pidns_fd
        self.watch: dict[int, int] = {}  # pidfd -> pid of each live test process
        self.poller = select.poll()

    def serve(self) -> NoReturn:
        L.set_name("sbx-zygote")
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)  # the server died: so do we (and our tests)
        if os.getppid() != self.conf.server_pid:  # it died before that
            os._exit(1)
        L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
        self.pidfd = os.pidfd_open(os.getpid())  # each test checks its parent through it
        keep = {self.link.sock.fileno(), self.pidfd, *self._cgroup_fds(),
                *([self.pidns_fd] if self.pidns_fd is not None else [])}
        for fd in range(3, 1 << 10):  # the server's protocol pipes are not ours
            if fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        # A test's end is seen through its pidfd, not SIGCHLD: no signal handler and no
        # wakeup fd here, so a test process inherits the default dispositions and has
        # nothing to undo (undoing them cost each test 0.08 ms).
        self.poller.register(self.link.sock.fileno(), select.POLLIN)
        while True:
            for fd, _ in self.poller.poll():
                if fd in self.watch:
                    self._reap(fd)
                elif not self._read():
                    os._exit(0)  # the server closed the link

    def _cgroup_fds(self) -> list[int]:
        cgroups = self.conf.cgroups
        if cgroups is None:
            return []
        return [fd for slot in range(len(cgroups.memory.slot_fds)) for fd in cgroups.join_fds(slot)]

    def _read(self) -> bool:
        messages = self.link.receive()
        if messages is None:
            return False
        for msg, fds in messages:
            op = msg["op"]
            if op == "spawn":
                self._spawn(msg, fds)
            elif op == "sweep":
                self._sweep()
        return True

    def _spawn(self, msg: dict[str, Any], fds: list[int]) -> None:
        """Fork a test: ``fds`` are the job's memfd (read by the test process, never
        here), then the test's own fds."""
        spec = _spawn.TestSpec(self.conf, fds[0], int(msg["id"]), int(msg["index"]),
                               int(msg["slot"]), str(msg["token"]))
        try:
            pid = _spawn.fork_test(spec, fds[1:], self.pidns_fd, self.pidfd)
        except OSError as exc:  # e.g. EAGAIN: report it as this test's failure
            self.link.send({"ev": "spawn_failed", "id": msg["id"], "error": str(exc)})
            return
        finally:
            for fd in fds:
                os.close(fd)
        pidfd = os.pidfd_open(pid)  # polls readable once the test has exited
        self.watch[pidfd] = pid
        self.poller.register(pidfd, select.POLLIN)
        self.link.send({"ev": "spawned", "id": msg["id"], "index": msg["index"], "pid": pid,
                        "fds": 1}, [pidfd])

    def _reap(self, pidfd: int) -> None:
        """Reap the test behind ``pidfd`` (it has exited) and report it. Orphans
        re-parented to us (fallback mode) are reaped by ``_sweep``."""
        pid = self.watch.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            return
        self.link.send({"ev": "exited", "pid": pid, "status": status,
                        "cpu": usage.ru_utime + usage.ru_stime})

    def _sweep(self) -> None:
        """Kill processes re-parented to us from a killed shim (fallback mode only)."""
        me = os.getpid()
        for _ in range(100):
            tests = set(self.watch.values())
            orphans = [p for p, pp in _reap._parents().items() if pp == me and p not in tests]
            if not orphans:
                return
            for pid in orphans:
                for victim in [pid, *_reap.descendants(pid)]:
                    with contextlib.suppress(OSError):
                        os.kill(victim, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

