"""The caller's side: ``Sandbox`` owns the fork server and turns its frames into Verdicts.

Thread-safe: any number of threads may call ``run`` (the engine uses
``asyncio.to_thread``); a writer thread sends requests, a reader thread receives
frames, compares outputs and completes the waiting calls. Concurrency is bounded in
the server (``workers`` programs at a time, default: twice the number of cores, see
``default_workers``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import repair_tui.sandbox._proto as P
import repair_tui.sandbox.verdict as V
from repair_tui.sandbox.result import Limits, Verdict
from repair_tui.sandbox.spec import parse_tests

log = logging.getLogger("repair_tui.sandbox")

ISOLATIONS = ("auto", "rlimits")
SIMULATE_ENV = "REPAIR_TUI_SANDBOX_SIMULATE_NO_NAMESPACES"  # tests: pretend unshare fails
# Benchmarks: turn layers off or on, e.g. "no-seccomp,no-cgroup,netns-per-test".
LAYERS_ENV = "REPAIR_TUI_SANDBOX_LAYERS"
LAYER_OPTIONS = ("no-seccomp", "no-cgroup", "netns-per-test")
WATCH_INTERVAL = 5.0  # seconds between checks that a waited-for program's reader is alive
STALE_DIR = "/tmp"  # where servers make their dirs (they run with no TMPDIR)
STALE_AGE = 30.0  # seconds: a younger unlocked dir may be one whose owner is about to lock it
SERVER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def default_workers() -> int:
    """Programs run at the same time by default: two per core.

    A program's slot is not busy on a core all the time: it waits on the fork, on frames
    between caller, server and zygote, and on the judge's calls to the candidate and
    back. With one slot per core, a profile of the 164 HumanEval references showed both
    cores idle a fifth of the time; a second slot per core fills those gaps. Verdicts do
    not suffer from the sharing: time limits count CPU time, not wall time.
    """
    return 2 * (os.cpu_count() or 1)


class SandboxError(RuntimeError):
    """The sandbox itself failed (its server could not start or died)."""


class _Pending:
    """One submitted program: its tests (with expected outputs) and what came back."""

    def __init__(self, job_id: int, program: str, spec: dict[str, Any], limits: Limits) -> None:
        self.job_id = job_id
        self.program = program
        self.spec = spec
        self.limits = limits
        self.raws: dict[int, dict[str, Any]] = {}
        self.cancel_sent = False
        self.done = threading.Event()
        self.verdict: Verdict | None = None
        self.started = time.monotonic()
        self.error: str | None = None  # reported by the program's runner
        self.server: object = None  # the server process it was sent to
        self.reader: threading.Thread | None = None  # the thread that completes it


class Sandbox:
    """Runs untrusted programs against tests in a separate, confined fork server.

    ``isolation="auto"`` uses Linux namespaces when they can be created here (checked
    when the server starts; the reason is logged when it falls back), ``"rlimits"``
    forces the fallback. ``isolation_description`` says what is in force.
    """

    def __init__(self, limits: Limits = Limits(), workers: int | None = None,  # noqa: B008 -- frozen
                 isolation: str = "auto") -> None:
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)} (got {isolation!r})")
        self.limits = limits
        self.workers = max(1, workers or default_workers())
        self.isolation = isolation
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._closed = False
        self._description = ""
        self._base: str | None = None
        self._cgroups: list[str] = []  # the server's cgroup dirs (removed after it exits)
        self._uids: list[int] | None = None  # first and last uid its programs run as
        self._base_fd: int | None = None  # holds a shared flock on the dir while we live
        self._reader: threading.Thread | None = None
        self._start()

    # -- server lifecycle -------------------------------------------------------

    def _start(self) -> None:
        _remove_stale_dirs()
        cmd = [sys.executable, "-I", "-m", "repair_tui.sandbox._server",
               "--workers", str(self.workers), "--isolation", self.isolation]
        if os.environ.get(SIMULATE_ENV):
            cmd.append("--simulate-no-namespaces")
        for layer in os.environ.get(LAYERS_ENV, "").split(","):
            if layer.strip() in LAYER_OPTIONS:
                cmd.append("--" + layer.strip())
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=dict(SERVER_ENV), cwd="/",
                                start_new_session=True)
        assert proc.stdout is not None and proc.stderr is not None
        try:
            hello = P.read_frame(proc.stdout.fileno())
        except (EOFError, ValueError) as exc:
            err = proc.stderr.read().decode(errors="replace").strip()
            proc.kill()
            proc.wait()
            raise SandboxError(f"the sandbox server did not start: {err or exc}") from None
        self._proc = proc
        self._description = str(hello["isolation"])
        self._base = str(hello.get("base") or "") or None
        self._cgroups = [str(top) for top in hello.get("cgroups") or []]
        self._uids = hello.get("uids")
        self._base_fd = _hold(self._base)
        if not hello.get("namespaces"):
            level = logging.WARNING if self.isolation == "auto" else logging.INFO
            log.log(level, "sandbox: Linux namespaces not in use: %s", self._description)
        self._outbox = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, args=(proc, self._outbox),
                                        name="sandbox-reader", daemon=True)
        self._reader.start()
        threading.Thread(target=self._write_loop, args=(proc, self._outbox), name="sandbox-writer",
                         daemon=True).start()
        threading.Thread(target=self._stderr_loop, args=(proc,), name="sandbox-stderr", daemon=True).start()

    @property
    def isolation_description(self) -> str:
        """Which isolation is in force, e.g. ``namespaces(pid,mount,net,ipc,uts)+uid+rlimits``."""
        return self._description

    def close(self) -> None:
        """Stop the server (programs still running are killed). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            proc = self._proc
        if proc is not None:
            self._stop_server(proc)

    def _stop_server(self, proc: subprocess.Popen[bytes]) -> None:
        self._outbox.put(P.encode({"op": "shutdown"}))
        self._outbox.put(None)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._sweep()
        if self._base and os.path.isdir(self._base):
            _clear_dir(self._base, remove=True)  # the server died before cleaning up
        if self._base_fd is not None:
            os.close(self._base_fd)
            self._base_fd = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running ----------------------------------------------------------------

    def submit(self, program: str, tests: dict[str, Any], limits: Limits | None = None) -> _Pending:
        """Queue one program; ``wait`` on the returned handle. Raises TestSpecError."""
        spec = parse_tests(tests)
        limits = limits or self.limits
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            if self._proc is None or self._proc.poll() is not None:
                self._start()  # the server died (see _read_loop): start a fresh one
            pending = _Pending(next(self._ids), program, spec, limits)
            pending.server = self._proc
            pending.reader = self._reader
            self._pending[pending.job_id] = pending
            outbox = self._outbox
        outbox.put(P.encode({"op": "run", "job": _job(pending)}))
        return pending

    def wait(self, pending: _Pending) -> Verdict:
        """Block until the program's verdict is ready.

        Never forever: should the reader thread that completes it be gone (it is not
        meant to end while its server runs), the program fails with a SandboxError
        result instead.
        """
        while not pending.done.wait(WATCH_INTERVAL):
            reader = pending.reader
            if reader is not None and not reader.is_alive() and not pending.done.is_set():
                with self._lock:
                    self._pending.pop(pending.job_id, None)
                self._complete(pending, error="the sandbox stopped reading results")
        assert pending.verdict is not None
        return pending.verdict

    def run(self, program: str, tests: dict[str, Any], limits: Limits | None = None) -> Verdict:
        """Run ``program`` against ``tests`` and return its Verdict (blocking, thread-safe)."""
        return self.wait(self.submit(program, tests, limits))

    def run_many(self, items: Sequence[tuple[str, dict[str, Any]]],
                 limits: Limits | None = None) -> list[Verdict]:
        """Run many (program, tests) pairs in parallel; verdicts in the same order."""
        handles = [self.submit(program, tests, limits) for program, tests in items]
        return [self.wait(h) for h in handles]

    # -- threads ----------------------------------------------------------------

    def _write_loop(self, proc: subprocess.Popen[bytes], outbox: queue.Queue[bytes | None]) -> None:
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        while (frame := outbox.get()) is not None:
            try:
                P.write_all(fd, frame)
            except OSError:
                return
        with contextlib.suppress(OSError):
            proc.stdin.close()

    def _stderr_loop(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.debug("sandbox server: %s", line.decode(errors="replace").rstrip())

    def _sweep(self) -> None:
        """After the server exited: kill whatever its tests left (a killed server cannot),
        by cgroup and by uid, then remove its cgroups."""
        from repair_tui.sandbox import _cgroup

        for top in self._cgroups:
            _cgroup.kill_all(top)
        if self._uids and os.geteuid() == 0:
            _kill_uids(self._uids[0], self._uids[1])
        for top in self._cgroups:
            _cgroup.remove_tree(top)

    def _read_loop(self, proc: subprocess.Popen[bytes], outbox: queue.Queue[bytes | None]) -> None:
        """Never dies on what it reads: a frame it cannot handle fails its program only."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            try:
                msg = P.read_frame(fd)
            except (EOFError, OSError, ValueError, RecursionError, MemoryError):
                break
            try:
                self._on_frame(msg)
            except Exception as exc:  # noqa: BLE001 -- a forged value: its program fails
                self._fail_frame(msg, exc)
        proc.wait()
        outbox.put(None)
        if proc.returncode != 0 or not self._closed:
            with contextlib.suppress(Exception):
                self._sweep()
        with self._lock:
            lost = [p for p in self._pending.values() if p.server is proc]
            for p in lost:
                del self._pending[p.job_id]
            if not self._closed:
                log.warning("sandbox: the server exited (status %s); restarting on next use", proc.returncode)
        for pending in lost:  # fail what was in flight rather than hang its callers
            self._complete(pending, error=f"the sandbox server exited (status {proc.returncode})")

    def _fail_frame(self, msg: Any, exc: Exception) -> None:
        job_id = msg.get("id") if isinstance(msg, dict) else None
        with self._lock:
            pending = self._pending.pop(job_id, None) if isinstance(job_id, int) else None
        if pending is None:
            log.warning("sandbox: unreadable frame from the server: %s", exc)
            return
        self._send_op("cancel", pending)
        self._complete(pending, error=f"its result could not be read ({type(exc).__name__}: {exc})")

    def _send_op(self, op: str, pending: _Pending) -> None:
        with contextlib.suppress(Exception):
            self._outbox.put(P.encode({"op": op, "id": pending.job_id}))

    def _on_frame(self, msg: dict[str, Any]) -> None:
        with self._lock:
            pending = self._pending.get(int(msg.get("id", -1)))
        if pending is None:
            return
        ev = msg.get("ev")
        if ev == "test":
            self._on_test(pending, msg["raw"])
        elif ev == "error":
            pending.error = str(msg.get("message"))
        elif ev == "done":
            with self._lock:
                self._pending.pop(pending.job_id, None)
            error = pending.error or msg.get("error")
            if msg.get("cancelled") and not pending.cancel_sent:
                error = "the sandbox was closed before the program finished"
            self._complete(pending, error=error)

    def _on_test(self, pending: _Pending, raw: dict[str, Any]) -> None:
        """Record a test's outcome; when stopping at the first failure the server waits
        for our word before it starts the next test: continue, or cancel."""
        index = int(raw["index"])
        pending.raws[index] = raw
        if pending.cancel_sent or not pending.limits.stop_at_first_failure:
            return
        try:
            passed = V.classify(pending.spec, index, raw, pending.limits)[0].passed
        except Exception:  # noqa: BLE001 -- a forged value fails the test (see build_verdict)
            passed = False
        if passed:
            self._send_op("continue", pending)
        else:  # the verdict is decided: no further test starts
            pending.cancel_sent = True
            self._send_op("cancel", pending)

    def _complete(self, pending: _Pending, error: str | None) -> None:
        try:
            pending.verdict = V.build_verdict(pending.spec, pending.raws,
                                              self._description, pending.limits,
                                              time.monotonic() - pending.started, error)
        except Exception as exc:  # noqa: BLE001 -- never leave the caller waiting
            problem = f"its result could not be read ({type(exc).__name__}: {exc})"
            pending.verdict = V.build_verdict(pending.spec, {}, self._description, pending.limits,
                                              time.monotonic() - pending.started, problem)
        pending.done.set()


def _hold(base: str | None) -> int | None:
    """A shared flock on the server's dir, held for the Sandbox's lifetime.

    Staleness is decided by this lock, not by a PID: a PID in the dir's name means
    nothing across PID namespaces (containers, CI runners), where another sandbox's
    live server is simply not visible in our /proc.
    """
    if not base:
        return None
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _remove_stale_dirs(now: float | None = None) -> None:
    """Remove the temp dirs of servers that died without their caller cleaning up.

    A server in namespace mode cannot remove its own dir (it no longer sees the host's
    files); its caller does on close, but not if the caller was killed. A dir is stale
    when no process holds its lock (see `_hold`) and it is older than `STALE_AGE`,
    which covers the moment between a server making its dir and its caller locking it.
    """
    try:
        names = os.listdir(STALE_DIR)
    except OSError:
        return
    now = time.time() if now is None else now
    for name in names:
        if name.startswith("repair-tui-sandbox-"):
            _remove_if_stale(os.path.join(STALE_DIR, name), now)


def _remove_if_stale(path: str, now: float) -> None:
    try:
        if now - os.lstat(path).st_mtime < STALE_AGE:
            return
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a live sandbox holds it
        os.close(fd)
        return
    try:
        _clear_dir(path, remove=True)
    finally:
        os.close(fd)


def _clear_dir(path: str, remove: bool) -> None:
    """Remove a server's dir without recursion, whatever a program left in it (a
    1,200-level tree would exceed shutil.rmtree's recursion)."""
    from repair_tui.sandbox._jail import clear_dir

    clear_dir(path, remove=remove)


def _kill_uids(first: int, last: int) -> None:
    """SIGKILL every process whose uid is in [first, last] (the server's per-slot uids)."""
    for _ in range(20):
        found = False
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    uid = os.stat(f"/proc/{entry}").st_uid
                except OSError:
                    continue
                if first <= uid <= last:
                    found = True
                    with contextlib.suppress(OSError):
                        os.kill(int(entry), 9)
        if not found:
            return
        time.sleep(0.01)


_limits_dicts: dict[Limits, dict[str, Any]] = {}


def _limits_dict(limits: Limits) -> dict[str, Any]:
    """``asdict(limits)``, made once per distinct Limits (they are frozen): a run sends the
    same limits with every program, and asdict deep-copies field by field."""
    made = _limits_dicts.get(limits)
    if made is None:
        if len(_limits_dicts) > 64:
            _limits_dicts.clear()
        made = _limits_dicts[limits] = asdict(limits)
    return made


def _job(pending: _Pending) -> dict[str, Any]:
    """What the server gets: the program and inputs, never the expected outputs."""
    spec = pending.spec
    job: dict[str, Any] = {"id": pending.job_id, "program": pending.program, "style": spec["style"],
                           "limits": _limits_dict(pending.limits),
                           "stop_on_error": pending.limits.stop_at_first_failure}
    if spec["style"] == "assert":
        job.update(inputs=[None], test=spec["test"], entry_point=spec["entry_point"])
        if "prompt" in spec:
            job["prompt"] = spec["prompt"]
    else:
        job["inputs"] = [case["input"] for case in spec["cases"]]
        if spec["style"] == "call":
            job["fn_name"] = spec["fn_name"]
    if "preamble" in spec:
        job["preamble"] = spec["preamble"]
    return job


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def shared_sandbox() -> Sandbox:
    """The process-wide Sandbox behind ``run``, created on first use, closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Sandbox()
            atexit.register(_shared.close)
        return _shared


def run(program: str, tests: dict[str, Any], limits: Limits | None = None) -> Verdict:
    """Run one program with the shared Sandbox (see ``Sandbox.run``)."""
    return shared_sandbox().run(program, tests, limits)
