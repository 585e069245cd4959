"""The syscall filter every test process runs under, built with libseccomp.

The filter is generated once per server by libseccomp through a maintained Python
binding (``pyseccomp``, which loads libseccomp.so.2 with ctypes, or the ``seccomp``
module of libseccomp's own bindings), in a short-lived forked helper: the binding
imports ctypes.util and subprocess, whose at-fork hooks would slow every later fork
of the server. The helper exports the compiled BPF program; each test process
installs those bytes with one prctl(PR_SET_SECCOMP) just before the program runs
(no_new_privs is already set), so a test pays no filter compilation.

The sandbox's public surface stays standard-library only: nothing here is imported
by the caller, and without a binding the server runs without a filter and says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Any

import repair_tui.sandbox._linux as L

# Calls a test never needs, each denied with EPERM.
DENIED = (
    # namespaces and mounts: no new user namespace (nor any other), no mount table changes
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "swapon", "swapoff",
    # kernel keyrings: they outlive the process and are shared by a uid
    "keyctl", "add_key", "request_key",
    # io_uring, tracing and reading other processes
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init",
    # kernel modules, kexec and reboot
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    # named sockets of any family: no channel to another program, even an abstract Unix
    # socket (socketpair stays: its two ends are connected only to each other)
    "socket",
    # State kept on files every test can open (the read-only Python installation): a lock
    # one program holds, or a watch that sees another program open a file, is a channel
    # between programs running at the same moment. So are the page-cache probes.
    "flock", "inotify_init", "inotify_init1", "inotify_add_watch", "mincore", "cachestat",
)
# fcntl(2) commands denied for the same reason: record locks (POSIX and open file
# description), leases and directory notifications (dnotify). 5-7 F_GETLK, F_SETLK,
# F_SETLKW; 36-38 their F_OFD_ forms; 1024-1026 F_SETLEASE, F_GETLEASE, F_NOTIFY.
DENIED_FCNTL = (5, 6, 7, 36, 37, 38, 1024, 1025, 1026)
RWF_NOWAIT = 0x08
# clone(2) flags that make a new namespace; clone3 passes flags in memory, which a
# filter cannot read, so it answers ENOSYS and the C library falls back to clone.
CLONE_NAMESPACE_FLAGS = (L.CLONE_NEWUSER, L.CLONE_NEWNS, L.CLONE_NEWPID, L.CLONE_NEWNET,
                         L.CLONE_NEWIPC, L.CLONE_NEWUTS, 0x02000000)  # last: CLONE_NEWCGROUP
BINDINGS = ("pyseccomp", "seccomp")
MAX_PROGRAM = 1 << 16


def _binding() -> Any:
    import importlib

    last: Exception | None = None
    for name in BINDINGS:
        try:
            return importlib.import_module(name)
        except Exception as exc:  # missing module or missing libseccomp.so
            last = exc
    raise OSError(0, f"no seccomp binding ({type(last).__name__}: {last})")


def _compile(out_fd: int) -> None:
    sc = _binding()
    f = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except Exception:  # a call this kernel or libseccomp does not know
            continue
    for command in DENIED_FCNTL:
        f.add_rule(sc.ERRNO(errno.EPERM), "fcntl", sc.Arg(1, sc.EQ, command))
    # preadv2 with RWF_NOWAIT answers EAGAIN when the data is not in the page cache: the
    # same probe as mincore. Its other uses stay.
    f.add_rule(sc.ERRNO(errno.EPERM), "preadv2", sc.Arg(5, sc.MASKED_EQ, RWF_NOWAIT, RWF_NOWAIT))
    for flag in CLONE_NAMESPACE_FLAGS:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    with contextlib.suppress(Exception):
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    with os.fdopen(os.dup(out_fd), "wb") as out:
        f.export_bpf(out)


def build() -> bytes:
    """The compiled filter (raw BPF); OSError with the reason if it cannot be built."""
    r, w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.close(err_r)
            _compile(w)
            os._exit(0)
        except BaseException as exc:
            os.write(err_w, f"{type(exc).__name__}: {exc}".encode()[:500])
            os._exit(1)
    os.close(w)
    os.close(err_w)
    chunks = []
    while chunk := os.read(r, MAX_PROGRAM):
        chunks.append(chunk)
    os.close(r)
    message = os.read(err_r, 1000).decode(errors="replace")
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    program = b"".join(chunks)
    if status != 0 or not program or len(program) % 8:
        raise OSError(0, message or f"the filter helper exited with status {status}")
    return program


def install(program: bytes) -> None:
    """Load the filter into this process (and everything it forks from now on)."""
    L.seccomp_install(program)
