"""Forking one test process, and what that process does before the harness runs.

Called in the zygote (see ``_zygote``). With namespaces the new process is PID 1 of its
own PID namespace: it enters a new IPC namespace, confines itself and runs the harness;
its exit, or a SIGKILL, ends the namespace and everything the program started. Without
namespaces it is a *shim*: a child subreaper that forks the confined test process,
waits, sweeps every descendant and exits mirroring the test's status.
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import resource
import signal
from typing import Any, NoReturn

import repair_tui.sandbox._child as _child
import repair_tui.sandbox._filter as _filter
import repair_tui.sandbox._jail as _jail
import repair_tui.sandbox._linux as L
import repair_tui.sandbox._reap as _reap


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


class TestSpec:
    """Everything a test process needs: inherited through the fork, and its job, which
    the test process itself reads from the job's memfd (``load_job``)."""

    __test__ = False  # not a pytest class
    job: dict[str, Any]  # both set by load_job, in the test process
    limits: _jail.RunLimits

    def __init__(self, conf: _jail.Confinement, job_fd: int, job_id: int, index: int, slot: int,
                 token: str) -> None:
        self.conf = conf
        self.job_fd = job_fd
        self.job_id = job_id
        self.index = index
        self.slot = slot
        self.token = token
        self.uid = conf.uid_for(slot)
        self.parent_pidfd = -1

    def load_job(self) -> None:
        """Read the job and this test's input (in the test process, right after the
        fork; see ``TestProcess.spawn``) and close the fd."""
        try:
            data = os.pread(self.job_fd, os.fstat(self.job_fd).st_size, 0)
        finally:
            os.close(self.job_fd)
        size = int.from_bytes(data[:4], "big")
        job = marshal.loads(data[4 : 4 + size])
        job["input"] = marshal.loads(data[4 + size :])
        if job.get("prompt_code"):
            job["_prompt_code"] = marshal.loads(job.pop("prompt_code"))
        self.job = job
        self.limits = _jail.RunLimits(job["limits"])


PARENT_FD = 4  # the zygote's pidfd in a test process, until the parent check
CALLS_FD = 5  # an assert test's pipe of calls from its judge (``_checker``)


def _pidfd_alive(fd: int) -> bool:
    """The process behind a pidfd has not exited (a pidfd polls readable when it has)."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return not poller.poll(0)


def fork_test(spec: TestSpec, fds: list[int], pidns_fd: int | None, parent_pidfd: int) -> int:
    """Fork the test process with ``fds`` (stdin, stdout, stderr, result or replies
    [, calls]) as its 0-3 (and CALLS_FD).

    ``parent_pidfd`` refers to the forking process (the zygote): the test checks through
    it that its parent is still alive once its parent-death signal is in place.
    """
    spec.parent_pidfd = parent_pidfd
    if pidns_fd is not None:
        L.unshare(L.CLONE_NEWPID)  # our next child is PID 1 of a new namespace
    try:
        pid = os.fork()
        if pid == 0:
            _child_main(spec, fds)
    finally:
        if pidns_fd is not None:
            L.setns(pidns_fd, L.CLONE_NEWPID)
    return pid


def _child_main(spec: TestSpec, fds: list[int]) -> NoReturn:
    try:
        L.set_name("sbx-test")
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote died: so do we (until setuid)
        spec.load_job()
        cgroups = spec.conf.cgroups
        if cgroups is not None:  # all it starts is counted and capped with it
            for dir_fd in cgroups.join_fds(spec.slot):
                fd = os.open("cgroup.procs", os.O_WRONLY, dir_fd=dir_fd)
                os.write(fd, b"0")
                os.close(fd)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in [*fds[:4], spec.parent_pidfd, *fds[4:]]]
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(len(high), 1 << 20)  # the server's sockets, other tests' pipes
        if spec.conf.namespaces:
            # a new, empty work dir (the slot's last test is dead): nothing of its files
            _jail.fresh_workdir(spec.slot, spec.uid if spec.uid is not None else 0)
            _jail.enter_test_namespaces(spec.conf.netns_per_test)
            _jail.confine_test_process(spec.limits, spec.uid, _jail.slot_workdir(spec.slot),
                                       True, spec.limits.max_processes)
            _jail.die_with_parent(lambda: _pidfd_alive(PARENT_FD))
            os.close(PARENT_FD)
            _start_program(spec)  # never returns
        _jail.die_with_parent(lambda: _pidfd_alive(PARENT_FD))  # root still: kept
        os.close(PARENT_FD)
        _shim(spec)
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, f"sandbox: could not start the test: {type(exc).__name__}: {exc}\n".encode())
    os._exit(122)


def _start_program(spec: TestSpec) -> NoReturn:
    """Last step before the program: the syscall filter, then the harness."""
    if spec.conf.seccomp is not None:
        _filter.install(spec.conf.seccomp)
    _child.run(spec.job, spec.token)
    os._exit(122)  # not reached: run() exits


def _shim(spec: TestSpec) -> NoReturn:
    """Fallback: fork the test, wait, kill every descendant, mirror the test's status."""
    L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
    workdir = os.path.join(spec.conf.base, f"job{spec.job_id}-test{spec.index}")
    os.mkdir(workdir, 0o700)
    nproc = spec.limits.max_processes
    if spec.uid is not None:
        os.chown(workdir, spec.uid, spec.uid)
    else:  # our own uid: RLIMIT_NPROC counts the user's other processes too
        nproc += _jail.count_processes(os.getuid())
    signal.signal(signal.SIGTERM, _raise_stop)
    shim = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            _jail.confine_test_process(spec.limits, spec.uid, workdir, False, nproc)
            _jail.die_with_parent(lambda: os.getppid() == shim)
            _start_program(spec)
        except BaseException as exc:
            os.write(2, f"sandbox: could not start the test: {exc}\n".encode())
        os._exit(122)
    os.closerange(0, CALLS_FD + 1)  # only the test holds the pipes: EOF means it is gone
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
