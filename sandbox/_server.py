"""The fork server: a clean, single-threaded process that forks one process per test.

Started by ``Sandbox`` as ``python -I -m repair_tui.sandbox._server`` with an empty
environment, never forked from the caller. It preloads the harness and light modules
programs commonly import (so a test costs a fork, not an interpreter start), decides
once which isolation it can use, then serves requests on stdin and writes frames to
stdout: ``hello``; per program each test's raw outcome; a final ``done``. It holds
programs and inputs, never expected outputs: the caller compares and sends ``cancel``
when a wrong answer decides the verdict.

It deliberately imports no threading, logging, random or subprocess: their at-fork
hooks would run in every test process and double the cost of a fork.
"""

from __future__ import annotations

import binascii
import collections
import contextlib
import gc
import importlib
import json
import marshal
import os
import select
import sys
import time
from typing import Any

import repair_tui.sandbox._child as _child
import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._linux as L
import repair_tui.sandbox._proto as P
import repair_tui.sandbox._zygote as _zygote
from repair_tui.sandbox._asserts import CheckCode, prompt_definitions
from repair_tui.sandbox._testproc import TestProcess
from repair_tui.sandbox._zygote import Link

# Imported once here so that programs find them already loaded after the fork.
PRELOAD = [
    "abc", "array", "bisect", "cmath", "collections", "collections.abc", "contextlib", "copy",
    "datetime", "decimal", "enum", "fractions", "functools", "heapq", "itertools", "json",
    "math", "numbers", "operator", "re", "string", "struct", "textwrap", "types",
    "typing", "unicodedata", "weakref",
]
# Without namespaces as root, programs run under another uid that may not be able to
# read the Python installation (e.g. under /root): load more up front. Fork speed
# matters less there.
PRELOAD_FALLBACK = [
    "random", "threading", "subprocess", "statistics", "queue", "socket", "encodings.idna", "hashlib",
    "calendar", "pprint", "difflib", "traceback", "signal",
]
# A test still running after this many seconds drops to the lowest CPU priority.
DEMOTE_AFTER = 0.5
DEMOTED_NICE = 19
OK_KINDS = {"stdio": "done", "call": "returned", "assert": "checked"}


def preload(names: list[str]) -> None:
    """Import the modules that exist here."""
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


class _Program:
    """One program in a slot: its tests run one after another."""

    def __init__(self, job: dict[str, Any], slot: int, limits: _jail.RunLimits, deadline: float) -> None:
        self.job = job
        self.slot = slot
        self.limits = limits
        self.deadline = deadline  # the program's whole time budget
        self.next_index = 0
        self.current: TestProcess | None = None
        self.stop = False
        self.cancelled = False


def _new_base() -> str:
    base = f"/tmp/repair-tui-sandbox-{os.getpid()}-{os.urandom(4).hex()}"
    os.mkdir(base, 0o711)  # per-program uids must reach their work dirs in fallback mode
    os.chmod(base, 0o711)
    return base


def _probe(pidns_fd: int) -> None:
    """Create one test's namespaces for real; OSError with the reason if that fails."""
    err_r, err_w = os.pipe()
    L.unshare(L.CLONE_NEWPID)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _jail.enter_test_namespaces()
                os._exit(0)
            except BaseException as exc:
                os.write(err_w, str(exc).encode()[:500])
                os._exit(1)
    finally:
        L.setns(pidns_fd, L.CLONE_NEWPID)
    os.close(err_w)
    _, status = os.waitpid(pid, 0)
    message = os.read(err_r, 1000).decode(errors="replace")
    os.close(err_r)
    if status != 0:
        raise OSError(0, message or f"namespace probe exited with status {status}")


def setup(isolation: str, workers: int, simulate_failure: bool) -> tuple[_jail.Confinement, int | None]:
    """Decide the isolation: namespaces when they work here, else rlimits with a reason."""
    base = _new_base()
    root_user = os.geteuid() == 0
    pid = os.getpid()
    reason = None
    if isolation == "rlimits":
        reason = "forced by isolation='rlimits'"
    elif simulate_failure:
        reason = "unshare(CLONE_NEWNS): Operation not permitted (simulated)"
    elif not root_user:
        reason = "not running as root (unprivileged user namespaces are not used)"
    if reason is None:
        try:
            pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
            root = _jail.build_root(base, [_jail.slot_uid(pid, s) for s in range(workers)])
            _jail.enter_root(root)
            conf = _jail.Confinement(True, "namespaces(pid,ipc,mount,net,uts)+uid+rlimits", base, True, pid)
            _probe(pidns_fd)
            return conf, pidns_fd
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if not os.path.isdir(base):  # we pivoted before failing: the host is out of view
                raise
    label = "rlimits+uid" if root_user else "rlimits"
    return _jail.Confinement(False, f"{label} (no namespaces: {reason})", base, root_user, pid), None


class Server:
    """The poll loop: requests in, raw outcomes out, ``workers`` programs at a time."""

    def __init__(self, conf: _jail.Confinement, link: Link, workers: int,
                 req_fd: int, resp_fd: int) -> None:
        self.conf = conf
        self.link = link
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.free = list(range(workers))[::-1]
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.programs: dict[int, _Program] = {}  # running, by job id
        self.by_fd: dict[int, _Program] = {}  # test pipes -> their program
        self.by_pid: dict[int, _Program] = {}  # test processes -> their program
        self.poller = select.poll()
        self.reader = P.FrameReader()
        self.closing = False

    def serve(self) -> None:
        """Run until the caller closes stdin (or asks to shut down) and all tests ended."""
        os.set_blocking(self.req_fd, False)
        self.poller.register(self.req_fd, select.POLLIN)
        self.poller.register(self.link.sock.fileno(), select.POLLIN)
        while not (self.closing and not self.programs):
            for fd, _ in self.poller.poll(self._poll_timeout()):
                if fd == self.req_fd:
                    self._read_requests()
                elif fd == self.link.sock.fileno():
                    self._from_zygote()
                elif fd in self.by_fd:
                    self._on_test_event(fd)
            self._enforce_deadlines()
            while self.queue and self.free and not self.closing:
                self._start_program(self.queue.popleft())

    def _poll_timeout(self) -> int:
        times = [t for p in self.programs.values() if p.current
                 for t in (p.current.deadline, p.current.backstop,
                           None if p.current.demoted else p.current.start + DEMOTE_AFTER)
                 if t is not None]
        if not times:
            return 60_000
        return max(0, int((min(times) - time.monotonic()) * 1000) + 1)

    def _read_requests(self) -> None:
        try:
            data = os.read(self.req_fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:  # the caller is gone
            self.poller.unregister(self.req_fd)
            self._shutdown()
            return
        for body in self.reader.feed(data):
            msg = json.loads(body)
            if msg.get("op") == "run":
                self.queue.append(msg["job"])
            elif msg.get("op") == "cancel":
                self._cancel(int(msg["id"]))
            elif msg.get("op") == "shutdown":
                self._shutdown()

    def _cancel(self, job_id: int) -> None:
        for job in [j for j in self.queue if j["id"] == job_id]:
            self.queue.remove(job)
            self._send({"id": job_id, "ev": "done", "cancelled": True})
        program = self.programs.get(job_id)
        if program is not None:
            program.cancelled = True
            if program.current is not None:
                program.current.kill("cancelled")

    def _shutdown(self) -> None:
        self.closing = True
        for job in self.queue:
            self._send({"id": job["id"], "ev": "done", "cancelled": True})
        self.queue.clear()
        for job_id in list(self.programs):
            self._cancel(job_id)

    def _send(self, obj: dict[str, Any]) -> None:
        try:
            P.write_all(self.resp_fd, P.encode(obj))
        except BrokenPipeError:
            self.closing = True

    def _start_program(self, job: dict[str, Any]) -> None:
        limits = _jail.RunLimits(job["limits"])
        budget = max(limits.program_timeout, limits.per_test)
        if job["style"] == "assert":
            # Compiled here once (it is the dataset's code) and sent as marshal bytes: the
            # zygote, whose every write costs a copy-on-write fault, only unmarshals it.
            with contextlib.suppress(SyntaxError, ValueError):
                code = CheckCode(str(job["test"])).compiled()
                job["check_code"] = binascii.b2a_base64(code, newline=False).decode()
            if job.get("prompt"):  # the prompt's helpers, for the checker and the program
                with contextlib.suppress(SyntaxError, ValueError, MemoryError, RecursionError):
                    code = marshal.dumps(prompt_definitions(str(job["prompt"]), str(job["entry_point"])))
                    job["prompt_code"] = binascii.b2a_base64(code, newline=False).decode()
        self.link.send({"op": "job", "job": job})
        program = _Program(job, self.free.pop(), limits, time.monotonic() + budget)
        self.programs[job["id"]] = program
        self._next_test(program)

    def _next_test(self, program: _Program) -> None:
        """Start the program's next test, or report it done."""
        job = program.job
        if program.stop or program.cancelled or program.next_index >= len(job["inputs"]):
            self._end_program(program)
            return
        now = time.monotonic()
        remaining = program.deadline - now
        if remaining <= 0:
            self._send({"id": job["id"], "ev": "test", "raw": {
                "index": program.next_index, "timed_out": True, "program_timeout": True}})
            self._end_program(program)
            return
        test = TestProcess(job, program.next_index, program.slot, self.conf,
                           now + min(program.limits.per_test, remaining))
        test.spawn(self.link)
        program.current = test
        for fd in test.fds:
            self.by_fd[fd] = program
            self.poller.register(fd, select.POLLIN)

    def _on_test_event(self, fd: int) -> None:
        test = self.by_fd[fd].current
        assert test is not None
        if not test.on_readable(fd):
            self._forget(fd)

    def _from_zygote(self) -> None:
        """Forks and exits reported by the zygote."""
        messages = self.link.receive()
        if messages is None:
            raise SystemExit("repair_tui.sandbox._server: the zygote died")
        for msg, fds in messages:
            program = self.programs.get(int(msg.get("id", -1)))
            if msg["ev"] == "spawned":
                if program is None or program.current is None:  # cannot happen; be safe
                    for fd in fds:
                        os.close(fd)
                    continue
                program.current.spawned(int(msg["pid"]), fds[0])
                self.by_pid[int(msg["pid"])] = program
            elif msg["ev"] == "spawn_failed" and program is not None and program.current:
                program.current.spawn_error = str(msg["error"])
                self._test_ended(program, 122 << 8, 0.0)
            elif msg["ev"] == "exited":
                program = self.by_pid.pop(int(msg["pid"]), None)
                if program is not None:
                    self._test_ended(program, int(msg["status"]), float(msg["cpu"]))

    def _test_ended(self, program: _Program, status: int, cpu_seconds: float) -> None:
        test = program.current
        assert test is not None
        for other in list(test.fds):
            self._forget(other)
        raw = test.finish(status, cpu_seconds)
        program.current = None
        if program.cancelled:
            self._end_program(program)
            return
        if raw["timed_out"] and test.deadline >= program.deadline - 1e-3:
            raw["program_timeout"] = True
        self._send({"id": program.job["id"], "ev": "test", "raw": raw})
        kind = (raw.get("report") or {}).get("kind")
        if kind == "compile_error" or (kind != OK_KINDS[program.job["style"]]
                                       and program.job.get("stop_on_error", True)):
            program.stop = True
        program.next_index += 1
        self._next_test(program)

    def _forget(self, fd: int) -> None:
        if self.by_fd.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def _end_program(self, program: _Program) -> None:
        self.programs.pop(program.job["id"], None)
        self.link.send({"op": "forget", "id": program.job["id"]})
        self.free.append(program.slot)
        self._send({"id": program.job["id"], "ev": "done", "cancelled": program.cancelled})

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for program in list(self.programs.values()):
            test = program.current
            if test is None:
                continue
            if not test.demoted and test.pid > 0 and now - test.start >= DEMOTE_AFTER:
                _demote(test)
            if test.backstop is not None and now >= test.backstop:
                test.kill("backstop")  # a shim ignored SIGTERM: SIGKILL, then sweep orphans
                test.backstop = None
                self.link.send({"op": "sweep"})
            elif test.kill_reason is None and now >= test.deadline:
                test.kill("timeout")


def _demote(test: TestProcess) -> None:
    """Lowest CPU priority for a test that has run DEMOTE_AFTER seconds: a program stuck
    in a loop then burns only CPU nobody else wants, and quick tests of other programs
    (and the caller's own work) go first. Its wall-clock limit is unchanged."""
    test.demoted = True
    with contextlib.suppress(OSError):  # it may have exited just now
        os.setpriority(os.PRIO_PROCESS, test.pid, DEMOTED_NICE)
        # With autogroup scheduling a nice value only counts inside the process's own
        # session, and each test has its own: demote that session's group too.
        if os.getsid(test.pid) != os.getsid(0):
            with open(f"/proc/{test.pid}/autogroup", "w") as group:
                group.write(str(DEMOTED_NICE))


def _options(argv: list[str]) -> tuple[int, str, bool]:
    """--workers N, --isolation auto|rlimits, --simulate-no-namespaces (no argparse: see
    RunLimits on what the server imports)."""
    workers, isolation, simulate = os.cpu_count() or 1, "auto", False
    args = iter(argv)
    for arg in args:
        if arg == "--workers":
            workers = int(next(args))
        elif arg == "--isolation":
            isolation = next(args)
        elif arg == "--simulate-no-namespaces":
            simulate = True
        else:
            raise SystemExit(f"repair_tui.sandbox._server: unknown option {arg}")
    if isolation not in ("auto", "rlimits"):
        raise SystemExit(f"repair_tui.sandbox._server: unknown isolation {isolation}")
    return workers, isolation, simulate


def main(argv: list[str] | None = None) -> int:
    """Entry point of the server process."""
    workers, isolation, simulate = _options(sys.argv[1:] if argv is None else argv)
    workers = max(1, min(workers, 256))
    # Keep the protocol off fds 0 and 1 so nothing forked later can write to it by accident.
    req_fd, resp_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    L.set_name("sbx-server")
    L.libc()
    preload(PRELOAD)
    conf, pidns_fd = setup(isolation, workers, simulate)
    if not conf.namespaces:
        preload(PRELOAD_FALLBACK)
    L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
    _jail.prepare_server_process()
    _child.prepare_streams()
    gc.collect()
    gc.freeze()  # the zygote and its forks then touch fewer pages
    _zygote_pid, link = _zygote.start(conf, pidns_fd)
    server = Server(conf, link, workers, req_fd, resp_fd)
    server._send({"ev": "hello", "isolation": conf.description, "namespaces": conf.namespaces,
                  "pid": os.getpid(), "base": conf.base, "workers": workers})
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
