"""Thin ctypes bindings to the Linux calls Python 3.11 lacks: unshare, setns, mount,
pivot_root, prctl and friends.

Every wrapper raises ``OSError`` with the call's name on failure, so the namespace
probe can log a precise reason when it falls back.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# Syscall numbers of pivot_root; glibc has no wrapper for it.
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

_libc: Any = None


def libc() -> Any:
    """The C library, loaded once with errno capture."""
    global _libc
    if _libc is None:
        # dlopen(NULL): the process's own symbols, libc included. Not ctypes.util, which
        # imports subprocess and threading, whose at-fork hooks slow every fork.
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def unshare(flags: int) -> None:
    """unshare(2): move the calling process into new namespaces."""
    _check(libc().unshare(ctypes.c_int(flags)), f"unshare({flag_names(flags)})")


def setns(fd: int, nstype: int) -> None:
    """setns(2): join the namespace referred to by ``fd``."""
    _check(libc().setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2)."""
    _check(
        libc().mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
        f"mount {target}",
    )


def umount2(target: str, flags: int) -> None:
    """umount2(2)."""
    _check(libc().umount2(_b(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2), through syscall(2) since glibc has no wrapper."""
    machine = os.uname().machine
    number = _PIVOT_ROOT.get(machine)
    if number is None:
        raise OSError(0, f"pivot_root: syscall number unknown on {machine}")
    _check(libc().syscall(ctypes.c_long(number), _b(new_root), _b(put_old)), "pivot_root")


def sethostname(name: str) -> None:
    """sethostname(2) (inside a new UTS namespace)."""
    raw = name.encode()
    _check(libc().sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def prctl(option: int, arg: int = 0) -> None:
    """prctl(2) with one integer argument."""
    _check(
        libc().prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
        f"prctl({option})",
    )


def dumpable() -> int:
    """This process's dumpable flag (0, 1, or 2 after a uid change with suid_dumpable=2)."""
    return int(libc().prctl(ctypes.c_int(PR_GET_DUMPABLE), ctypes.c_ulong(0), ctypes.c_ulong(0),
                            ctypes.c_ulong(0), ctypes.c_ulong(0)))


def drop_capability_bounding_set() -> None:
    """Drop every capability from the bounding set (needs CAP_SETPCAP; best effort)."""
    for cap in range(64):
        if libc().prctl(ctypes.c_int(PR_CAPBSET_DROP), ctypes.c_ulong(cap), 0, 0, 0) != 0:
            break  # EINVAL: past the last capability this kernel knows


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def clear_capabilities() -> None:
    """capset(2) with empty sets: the process keeps its uid but loses every capability."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(libc().capset(ctypes.byref(header), data), "capset")


def set_name(name: str) -> None:
    """Set the calling thread's name (shown in /proc/<pid>/comm)."""
    libc().prctl(ctypes.c_int(PR_SET_NAME), ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def flag_names(flags: int) -> str:
    """CLONE_NEW* flags as text, for error messages."""
    names = {
        CLONE_NEWUSER: "CLONE_NEWUSER",
        CLONE_NEWNS: "CLONE_NEWNS",
        CLONE_NEWPID: "CLONE_NEWPID",
        CLONE_NEWNET: "CLONE_NEWNET",
        CLONE_NEWIPC: "CLONE_NEWIPC",
        CLONE_NEWUTS: "CLONE_NEWUTS",
    }
    return "|".join(name for bit, name in names.items() if flags & bit) or "0"


def get_pdeathsig() -> int:
    """The calling process's parent-death signal (0 when none)."""
    value = ctypes.c_int(0)
    _check(libc().prctl(ctypes.c_int(PR_GET_PDEATHSIG), ctypes.byref(value), 0, 0, 0), "prctl(PR_GET_PDEATHSIG)")
    return value.value


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


# prctl's arguments for each filter, built once (see prepare_seccomp).
_seccomp_args: dict[bytes, tuple[Any, ...]] = {}


def prepare_seccomp(program: bytes) -> None:
    """Build the prctl arguments for ``program`` once, in the server before it forks:
    each test process then installs it with one call. (Building the buffer and the
    structure in each test process took twice as long as the kernel's own work, mostly
    in copy-on-write faults on ctypes' objects.)"""
    if program not in _seccomp_args:
        buf = ctypes.create_string_buffer(program, len(program))
        prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
        _seccomp_args[program] = (ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                                  ctypes.byref(prog), 0, 0, buf, prog)


def seccomp_install(program: bytes) -> None:
    """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) with a compiled BPF program (8 bytes
    per instruction, as libseccomp exports it); needs no_new_privs or CAP_SYS_ADMIN."""
    prepare_seccomp(program)
    args = _seccomp_args[program]
    _check(libc().prctl(*args[:5]), "prctl(PR_SET_SECCOMP)")
