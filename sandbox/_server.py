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

import collections
import contextlib
import gc
import importlib
import json
import marshal
import os
import select
import signal
import sys
import time
import types
from typing import Any

import repair_tui.sandbox._cgroup as _cgroup
import repair_tui.sandbox._checker as _checker
import repair_tui.sandbox._child as _child
import repair_tui.sandbox._filter as _filter
import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._judge as _judge
import repair_tui.sandbox._linux as L
import repair_tui.sandbox._proto as P
import repair_tui.sandbox._zygote as _zygote
from repair_tui.sandbox._asserts import CheckCode, prompt_definitions
from repair_tui.sandbox._testproc import TestProcess, proc_tree, read_proc
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
CPU_CHECK_MIN = 0.01  # seconds between two reads of a running test's CPU time, at least
CPUS = os.cpu_count() or 1
CHECK_CACHE_BYTES = 64 * 1024**2  # prepared checks the server keeps (see _Checks)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def preload(names: list[str]) -> None:
    """Import the modules that exist here."""
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


class _Program:
    """One program in a slot: its tests run one after another.

    With ``gate`` (stop at the first failure) the next test starts only once the
    caller, which alone can compare outputs, says ``continue``: a test is never
    started and then stopped because of an earlier test's outcome, so its start and
    its life tell it nothing of that outcome.
    """

    def __init__(self, job: dict[str, Any], slot: int, limits: _jail.RunLimits) -> None:
        self.job = job
        self.slot = slot
        self.limits = limits
        self.gate = bool(job.get("stop_on_error", True))
        self.next_index = 0
        self.current: TestProcess | None = None
        self.waiting = False  # for the caller's continue/cancel
        self.stop = False
        self.cancelled = False
        self.check_fd = -1  # assert style: the check, for the judge alone (a sealed memfd)
        self.job_bytes = b""  # what each of its tests reads (see _job_bytes)

    def prepare_job(self) -> None:
        self.job_bytes = _job_bytes(self.job)


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


def setup(isolation: str, workers: int, simulate_failure: bool,
          layers: dict[str, bool]) -> tuple[_jail.Confinement, int | None]:
    """Decide the isolation: namespaces when they work here, else rlimits with a reason;
    then the syscall filter and the cgroups where this machine has them. Everything
    that needs the host's files happens before the pivot into the private tree."""
    base = _new_base()
    root_user = os.geteuid() == 0
    pid = os.getpid()
    extras = _extras(pid, workers, layers)
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
            _apply(conf, extras, layers)
            _probe(pidns_fd)
            return conf, pidns_fd
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if not os.path.isdir(base):  # we pivoted before failing: the host is out of view
                raise
    label = "rlimits+uid" if root_user else "rlimits"
    conf = _jail.Confinement(False, f"{label} (no namespaces: {reason})", base, root_user, pid)
    _apply(conf, extras, layers)
    return conf, None


def _extras(pid: int, workers: int, layers: dict[str, bool]) -> dict[str, Any]:
    """The syscall filter, the cgroups and a /proc fd, or why not (before any pivot)."""
    extras: dict[str, Any] = {"proc_fd": os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)}
    try:
        if not layers["seccomp"]:
            raise OSError(0, "turned off")
        extras["seccomp"] = _filter.build()
    except OSError as exc:
        extras["seccomp_reason"] = exc.strerror or str(exc)
    try:
        if not layers["cgroup"]:
            raise OSError(0, "turned off")
        if os.geteuid() != 0:
            raise OSError(0, "not running as root")
        extras["cgroups"] = _cgroup.setup(pid, workers)
    except OSError as exc:
        extras["cgroup_reason"] = exc.strerror or str(exc)
    return extras


def _apply(conf: _jail.Confinement, extras: dict[str, Any], layers: dict[str, bool]) -> None:
    """Record what is in force in the Confinement and in its description."""
    conf.proc_fd = extras["proc_fd"]
    conf.seccomp = extras.get("seccomp")
    conf.cgroups = extras.get("cgroups")
    main, _, reason = conf.description.partition(" (")
    reasons = [reason.rstrip(")")] if reason else []
    if conf.seccomp is not None:
        main += "+seccomp"
        L.prepare_seccomp(conf.seccomp)  # inherited by every test process
    else:
        reasons.append(f"no seccomp: {extras['seccomp_reason']}")
    conf.netns_per_test = conf.namespaces and (conf.seccomp is None or layers["netns"])
    if conf.netns_per_test:
        main += "+netns-per-test"
    if conf.cgroups is not None:
        main += f"+cgroup-{conf.cgroups.kind}(memory,cpu-time)"
    else:
        reasons.append(f"no cgroup: {extras['cgroup_reason']}; memory capped per process, "
                       "CPU time counted per process tree")
    conf.description = main + (f" ({'; '.join(reasons)})" if reasons else "")


class Server:
    """The poll loop: requests in, raw outcomes out, ``workers`` programs at a time.

    Nothing a program does may stop it: an error while handling one test's events
    fails that program alone (a runtime error with the reason), never the loop.
    """

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
        self.judges = _judge.Judges(workers, os.getpid())
        self.checks = _Checks()

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
                    program = self.by_fd[fd]
                    self._guard(program, self._on_test_event, fd)
            for program in list(self.programs.values()):
                self._guard(program, self._enforce_limits, program)
            while self.queue and self.free and not self.closing:
                self._start_program(self.queue.popleft())

    def _guard(self, program: _Program, handler: Any, *args: Any) -> None:
        """Run one handler of a program's events; if it fails, that program fails."""
        try:
            handler(*args)
        except Exception as exc:  # noqa: BLE001 -- whatever it is, it is this program's
            self._fail_program(program, f"{type(exc).__name__}: {exc}")

    def _fail_program(self, program: _Program, reason: str) -> None:
        if self.programs.get(program.job["id"]) is not program:
            return
        test = program.current
        if test is not None:
            with contextlib.suppress(Exception):
                test.kill("failed", hard=True)
            for fd in list(test.fds):
                self._forget(fd)
            test.close()
            self.by_pid.pop(test.pid, None)
            program.current = None
            if not self.conf.namespaces:  # the shim died at once: its orphans are swept
                self.link.send({"op": "sweep"})
        self._send({"id": program.job["id"], "ev": "error",
                    "message": f"the sandbox could not handle this program's test: {reason}"})
        self._end_program(program)

    def _poll_timeout(self) -> int:
        times = []
        for program in self.programs.values():
            test = program.current
            if test is None:
                continue
            times += [test.wall_deadline, test.next_cpu_check]
            if test.backstop is not None:
                times.append(test.backstop)
            if not test.demoted:
                times.append(test.start + DEMOTE_AFTER)
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
            op = msg.get("op")
            if op == "run":
                self.queue.append(msg["job"])
            elif op == "cancel":
                self._cancel(int(msg["id"]))
            elif op == "continue":
                self._continue(int(msg["id"]))
            elif op == "shutdown":
                self._shutdown()

    def _continue(self, job_id: int) -> None:
        program = self.programs.get(job_id)
        if program is not None and program.waiting:
            program.waiting = False
            self._guard(program, self._next_test, program)

    def _cancel(self, job_id: int) -> None:
        for job in [j for j in self.queue if j["id"] == job_id]:
            self.queue.remove(job)
            self._send({"id": job_id, "ev": "done", "cancelled": True})
        program = self.programs.get(job_id)
        if program is not None:
            program.cancelled = True
            if program.current is not None:
                program.current.kill("cancelled")
            elif program.waiting:
                self._end_program(program)

    def _shutdown(self) -> None:
        self.closing = True
        for job in self.queue:
            self._send({"id": job["id"], "ev": "done", "cancelled": True})
        self.queue.clear()
        for job_id in list(self.programs):
            self._cancel(job_id)

    def _send(self, obj: dict[str, Any]) -> None:
        try:
            data = P.encode(obj)
        except (ValueError, TypeError, RecursionError):  # nothing the caller could read
            obj = {"id": obj.get("id"), "ev": "error", "message": "the test's result could not be encoded"}
            data = P.encode(obj)
        try:
            P.write_all(self.resp_fd, data)
        except BrokenPipeError:
            self.closing = True

    def _start_program(self, job: dict[str, Any]) -> None:
        limits = _jail.RunLimits(job["limits"])
        check_fd = -1
        if job["style"] == "assert":
            check_fd, prompt_code = self.checks.get(str(job["test"]), str(job.get("prompt") or ""),
                                                    str(job["entry_point"]))
            if prompt_code is not None:
                job["prompt_code"] = prompt_code
            job = {k: v for k, v in job.items() if k != "test"}  # no test process gets it
        program = _Program(job, self.free.pop(), limits)
        program.check_fd = check_fd
        self.programs[job["id"]] = program
        self._guard(program, program.prepare_job)  # whatever fails here fails this program alone
        if self.conf.cgroups is not None:  # the slot is empty: its cap for this program
            self._guard(program, self.conf.cgroups.set_memory, program.slot, limits.memory_bytes)
        if self.programs.get(job["id"]) is program:
            self._guard(program, self._next_test, program)

    def _next_test(self, program: _Program) -> None:
        """Start the program's next test, or report it done."""
        job = program.job
        if program.stop or program.cancelled or program.next_index >= len(job["inputs"]):
            self._end_program(program)
            return
        test = TestProcess(job, program.next_index, program.slot, self.conf, time.monotonic())
        program.current = test
        if self.conf.cgroups is not None and self.conf.cgroups.weight is not None:
            self.conf.cgroups.set_weight(program.slot, low=False)
        if program.check_fd >= 0:  # assert style: the slot's judge runs the check
            slot = program.slot
            test.spawn(self.link, program.job_bytes,
                       lambda token, fds: self.judges.assign(slot, token, fds), program.check_fd)
            judge = self.judges.by_slot[slot]
            if judge is not None:  # its work for this test counts as the test's
                test.set_helper(judge.pid, _runqueue_wait(self.conf.proc_fd, judge.pid))
        else:
            test.spawn(self.link, program.job_bytes)
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
                if program is None or program.current is None:  # failed meanwhile
                    for fd in fds:
                        os.close(fd)
                    continue
                program.current.spawned(int(msg["pid"]), fds[0])
                self.by_pid[int(msg["pid"])] = program
            elif msg["ev"] == "spawn_failed" and program is not None and program.current:
                program.current.spawn_error = str(msg["error"])
                self._guard(program, self._test_ended, program, 122 << 8, 0.0)
            elif msg["ev"] == "exited":
                program = self.by_pid.pop(int(msg["pid"]), None)
                if program is not None and program.current is not None:
                    self._guard(program, self._test_ended, program, int(msg["status"]), float(msg["cpu"]))

    def _test_ended(self, program: _Program, status: int, cpu_seconds: float) -> None:
        test = program.current
        assert test is not None
        for other in list(test.fds):
            self._forget(other)
        raw = test.finish(status, cpu_seconds)
        program.current = None
        if program.check_fd >= 0:
            self.judges.settle(program.slot)
        if program.cancelled:
            self._end_program(program)
            return
        self._send({"id": program.job["id"], "ev": "test", "raw": raw})
        kind = (raw.get("report") or {}).get("kind")
        if kind == "compile_error" or (kind != OK_KINDS[program.job["style"]]
                                       and program.job.get("stop_on_error", True)):
            program.stop = True
        program.next_index += 1
        if program.gate and not program.stop and program.next_index < len(program.job["inputs"]):
            program.waiting = True  # the caller compares, then says continue or cancel
            return
        self._next_test(program)

    def _forget(self, fd: int) -> None:
        if self.by_fd.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def _end_program(self, program: _Program) -> None:
        if self.programs.pop(program.job["id"], None) is None:
            return
        if program.check_fd >= 0:
            os.close(program.check_fd)
            program.check_fd = -1
        self.free.append(program.slot)
        self._send({"id": program.job["id"], "ev": "done", "cancelled": program.cancelled})

    def _enforce_limits(self, program: _Program) -> None:
        """The test's CPU-time limit, its wall-clock backstop, and its demotion."""
        test = program.current
        if test is None:
            return
        now = time.monotonic()
        if not test.demoted and test.pid > 0 and now - test.start >= DEMOTE_AFTER:
            _demote(test, self.conf)
        if test.backstop is not None:
            if now >= test.backstop:
                test.kill("backstop")  # a shim ignored SIGTERM: SIGKILL, then sweep orphans
                test.backstop = None
                self.link.send({"op": "sweep"})
            return
        if test.kill_reason is not None:
            return
        if now >= test.wall_deadline:
            # The backstop counts only time the test spent neither running (its CPU-time
            # limit covers that) nor waiting for a CPU (the machine's load, not its own).
            busy = test.cpu_used() + _runqueue_wait(self.conf.proc_fd, test.pid)
            if test.helper_pid > 0:
                busy += _runqueue_wait(self.conf.proc_fd, test.helper_pid) - test.helper_wait_base
            progress = busy - test.wait_credit
            if progress > CPU_CHECK_MIN and now < test.wall_ceiling:
                test.wait_credit = busy
                test.wall_deadline += progress
            else:
                test.kill("timeout:wall")
        elif now >= test.next_cpu_check and (test.pid > 0 or test.helper_pid > 0):
            used = test.cpu_used()
            if used >= test.limits.per_test:
                test.kill("timeout:cpu")
            else:  # no sooner than it could reach the limit on every core
                test.next_cpu_check = now + max(CPU_CHECK_MIN, (test.limits.per_test - used) / CPUS)


class _Checks:
    """What the server prepares for a task's assert tests, once per task: the prompt's
    helpers compiled (for the program's side) and the check compiled, as the bytes of
    its memfd (for the judge). A run sends each task's tests with every one of its
    programs; compiling them anew each time cost about 0.6 ms of the server's CPU per
    program. Each program still gets a memfd of its own, sealed, for its judge alone.

    Tasks are kept up to ``budget`` bytes (their texts and compiled code); the least
    recently used go first.
    """

    def __init__(self, budget: int = CHECK_CACHE_BYTES) -> None:
        self.budget = budget
        self.used = 0
        self.entries: collections.OrderedDict[tuple[str, str, str], tuple[bytes, bytes | None]] = \
            collections.OrderedDict()

    def get(self, test: str, prompt: str, entry_point: str) -> tuple[int, bytes | None]:
        """The test's check memfd (the caller closes it), and the task's prompt helpers'
        code (marshal) or None when it has no prompt or it does not compile."""
        key = (test, prompt, entry_point)
        entry = self.entries.get(key)
        if entry is None:
            entry = _prepare_check(test, prompt, entry_point)
            size = _size(key, entry)
            if size <= self.budget:
                self.entries[key] = entry
                self.used += size
                while self.used > self.budget:
                    self.used -= _size(*self.entries.popitem(last=False))
        else:
            self.entries.move_to_end(key)
        # No byte of the check is ever in the memory of the program's process (nor of
        # the zygote it is forked from): a program cannot look up the expected answers.
        return P.sealed_memfd(entry[0], "check"), entry[1]


def _size(key: tuple[str, str, str], entry: tuple[bytes, bytes | None]) -> int:
    return sum(map(len, key)) + len(entry[0]) + len(entry[1] or "")


def _prepare_check(test: str, prompt: str, entry_point: str) -> tuple[bytes, bytes | None]:
    """The check memfd's bytes (see ``check_payload``), and the prompt helpers' code."""
    prompt_code, prompt_error, prompt_bytes = None, None, None
    if prompt:  # the prompt's helpers, for the judge and the program
        try:
            prompt_code = prompt_definitions(prompt, entry_point)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            prompt_error = f"the task's prompt does not compile: {type(exc).__name__}: {exc}"
        else:
            prompt_bytes = marshal.dumps(prompt_code)
    try:
        code: types.CodeType | None = CheckCode(test).code
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        code = None  # the judge compiles it again and reports why it does not compile
    return _checker.check_payload(test, code, prompt_code, prompt_error, entry_point), prompt_bytes


def _job_bytes(job: dict[str, Any]) -> bytes:
    """The job as its test processes get it (the program, its prompt, limits; never a
    check or an expected output, nor the inputs: each test gets its own, see
    ``TestProcess.spawn``), in marshal's format: the test process decodes it with less
    work than JSON, and the prompt helpers' code (marshal bytes) goes as is."""
    return marshal.dumps({k: v for k, v in job.items() if k != "inputs"})


def _demote(test: TestProcess, conf: _jail.Confinement) -> None:
    """Lowest CPU priority for a test that has run DEMOTE_AFTER seconds: a program stuck
    in a loop then burns only CPU nobody else wants, and quick tests of other programs
    (and the caller's own work) go first. Its limits are in CPU time: unchanged."""
    test.demoted = True
    if conf.cgroups is not None and conf.cgroups.weight is not None:
        # Its slot's weight among the sandbox's slots: the rest of the machine's load
        # does not starve it (its CPU-time limit then ends it as on a quiet machine).
        conf.cgroups.set_weight(test.slot, low=True)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, test.pid, DEMOTED_NICE)
        return
    pids = [test.pid]
    if not conf.namespaces and conf.proc_fd is not None:  # the shim's test and its children;
        with contextlib.suppress(OSError):  # not the shim, which must clean up promptly
            pids = [p for p, _ in proc_tree(conf.proc_fd, test.pid) if p != test.pid]
    ours = os.getsid(0)
    for pid in pids:
        with contextlib.suppress(OSError):  # it may have exited just now
            os.setpriority(os.PRIO_PROCESS, pid, DEMOTED_NICE)
            # With autogroup scheduling a nice value only counts inside the process's
            # own session, and each test has its own: demote that session's group too,
            # through the host's /proc (opened before the pivot: the tree has none).
            if conf.proc_fd is not None and os.getsid(pid) not in (ours, -1):
                fd = os.open(f"{pid}/autogroup", os.O_WRONLY, dir_fd=conf.proc_fd)
                try:
                    os.write(fd, str(DEMOTED_NICE).encode())
                finally:
                    os.close(fd)


def _runqueue_wait(proc_fd: int | None, pid: int) -> float:
    """Seconds ``pid`` has spent runnable but waiting for a CPU (/proc/<pid>/schedstat)."""
    if proc_fd is None or pid <= 0:
        return 0.0
    try:
        return int(read_proc(proc_fd, pid, "schedstat", 200).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _stop_zygote(pid: int, link: Link) -> None:
    """End the zygote and reap it before the server exits: its parent-death signal
    would end it too, but only after the server is gone, so it outlived the caller's
    ``close()`` by a moment. Every test has ended by now (or is killed with it)."""
    link.sock.close()
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _options(argv: list[str]) -> tuple[int, str, bool, dict[str, bool]]:
    """--workers N, --isolation auto|rlimits, --simulate-no-namespaces, and --no-seccomp,
    --no-cgroup, --netns-per-test to turn layers off or on (to measure what each costs).
    No argparse: see RunLimits on what the server imports."""
    workers, isolation, simulate = os.cpu_count() or 1, "auto", False
    layers = {"seccomp": True, "cgroup": True, "netns": False}
    args = iter(argv)
    for arg in args:
        if arg == "--workers":
            workers = int(next(args))
        elif arg == "--isolation":
            isolation = next(args)
        elif arg == "--simulate-no-namespaces":
            simulate = True
        elif arg in ("--no-seccomp", "--no-cgroup"):
            layers[arg[5:]] = False
        elif arg == "--netns-per-test":
            layers["netns"] = True
        else:
            raise SystemExit(f"repair_tui.sandbox._server: unknown option {arg}")
    if isolation not in ("auto", "rlimits"):
        raise SystemExit(f"repair_tui.sandbox._server: unknown isolation {isolation}")
    return workers, isolation, simulate, layers


def main(argv: list[str] | None = None) -> int:
    """Entry point of the server process."""
    workers, isolation, simulate, layers = _options(sys.argv[1:] if argv is None else argv)
    workers = max(1, min(workers, 256))
    # Keep the protocol off fds 0 and 1 so nothing forked later can write to it by accident.
    req_fd, resp_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    L.set_name("sbx-server")
    L.libc()
    preload(PRELOAD)
    conf, pidns_fd = setup(isolation, workers, simulate, layers)
    if not conf.namespaces:
        preload(PRELOAD_FALLBACK)
    L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
    _jail.prepare_server_process()
    _child.prepare_streams()
    gc.collect()
    gc.freeze()  # the zygote, the judges and their forks then touch fewer pages
    zygote_pid, link = _zygote.start(conf, pidns_fd)
    server = Server(conf, link, workers, req_fd, resp_fd)
    server.judges.start_all()
    server._send({"ev": "hello", "isolation": conf.description, "namespaces": conf.namespaces,
                  "pid": os.getpid(), "base": conf.base, "workers": workers,
                  "cgroups": conf.cgroups.tops if conf.cgroups is not None else [],
                  "uids": [conf.uid_for(0), conf.uid_for(workers - 1)] if conf.drop_uid else None})
    try:
        server.serve()
    finally:
        server.judges.close()
        _stop_zygote(zygote_pid, link)
        if conf.cgroups is not None:  # every test has ended: the groups are empty
            conf.cgroups.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
