"""Confinement: the filesystem view, the per-program namespaces and the per-test limits.

Two levels:

* the fork server, once: a private mount namespace holding a read-only root tree
  (system directories and the Python installation bound read-only, a minimal /dev
  and /etc, nothing of the user's data), and the server pivots into it --
  ``build_root``, ``enter_root``;
  then new network and UTS namespaces (no interface up) -- ``enter_root``;
* each test process, which is PID 1 of a new PID namespace: a new IPC namespace --
  ``enter_test_namespaces``; then rlimits, a clean environment, its slot's work dir
  (a tmpfs emptied between tests), another uid, no capabilities and no_new_privs --
  ``confine_test_process``.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
from typing import Any

import repair_tui.sandbox._linux as L

WORKDIR_BYTES = 64 * 1024**2  # capacity of a slot's tmpfs work dir
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
UID_BASE = 1_000_000_000
PATH = "/usr/local/bin:/usr/bin:/bin"


class RunLimits:
    """The job's limits as the server receives them (``Limits`` fields, from JSON).

    A plain class: the server avoids dataclasses, whose import (inspect and more)
    makes every fork of it more expensive.
    """

    def __init__(self, fields: dict[str, Any]) -> None:
        self.timeout = float(fields["timeout"])
        self.min_timeout = float(fields["min_timeout"])
        wall = fields.get("wall_timeout")
        self.memory_bytes = int(fields["memory_bytes"])
        self.output_bytes = int(fields["output_bytes"])
        self.file_bytes = int(fields["file_bytes"])
        self.open_files = int(fields["open_files"])
        self.max_processes = int(fields["max_processes"])
        self.wall = float(wall) if wall else WALL_FACTOR * self.per_test

    @property
    def per_test(self) -> float:
        """The CPU-time limit of one test (all its processes together)."""
        return max(self.timeout, self.min_timeout)

    @property
    def rlimit_cpu(self) -> int:
        """RLIMIT_CPU of each process: a backstop a little past the test's limit."""
        return int(self.per_test) + 2


# The wall-clock backstop of a test, in multiples of its CPU-time limit: it catches
# programs that sleep or block, and leaves room for a loaded machine.
WALL_FACTOR = 3.0


class Confinement:
    """What the server could set up, decided once at start."""

    def __init__(self, namespaces: bool, description: str, base: str, drop_uid: bool,
                 server_pid: int) -> None:
        self.namespaces = namespaces
        self.description = description
        self.base = base  # the server's private temp dir (fallback work dirs live in it)
        self.drop_uid = drop_uid  # run programs under a per-slot uid (we are root)
        self.server_pid = server_pid
        self.seccomp: bytes | None = None  # the compiled syscall filter (see _filter)
        self.cgroups: Any = None  # _cgroup.Cgroups when the memory controller is ours
        self.proc_fd: int | None = None  # the host's /proc, opened before the pivot
        self.netns_per_test = False  # each test gets its own network namespace

    def uid_for(self, slot: int) -> int | None:
        """The uid a program in ``slot`` runs as, or None to keep ours."""
        return slot_uid(self.server_pid, slot) if self.drop_uid else None


def slot_uid(server_pid: int, slot: int) -> int:
    """A uid no one else uses: one per server and concurrency slot (slots < 256)."""
    return UID_BASE + (server_pid % (1 << 20)) * 256 + slot


def python_dirs() -> list[str]:
    """Directories the interpreter needs: prefixes, resolved (not the repository)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    dirs.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted({os.path.realpath(d) for d in dirs} | dirs)


def _covered(path: str, done: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in done)


def _bind_readonly(source: str, target: str) -> None:
    L.mount(source, target, None, L.MS_BIND | L.MS_REC)
    flags = L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV
    L.mount(None, target, None, flags)
    # A recursive bind keeps submounts writable; make each of them read-only too.
    with open("/proc/self/mountinfo") as info:
        points = [line.split()[4] for line in info]
    for point in points:
        if point.startswith(target.rstrip("/") + "/"):
            with contextlib.suppress(OSError):  # e.g. a locked mount: stays as the host has it
                L.mount(None, point, None, flags)


def build_root(base: str, uids: list[int]) -> str:
    """Build the read-only tree in a new private mount namespace (this process's).

    ``uids`` are the per-slot uids: each slot gets its own tmpfs work dir, owned by
    its uid with mode 0700, so programs running side by side cannot see each other's.
    """
    L.unshare(L.CLONE_NEWNS)
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    root = os.path.join(base, "root")
    os.makedirs(root, exist_ok=True)
    L.mount("tmpfs", root, "tmpfs", L.MS_NOSUID, "size=4m,nr_inodes=4096,mode=0755")
    done: list[str] = []
    for path in [*SYSTEM_DIRS, *python_dirs()]:
        if _covered(path, done) or not os.path.lexists(path):
            continue
        target = root + path
        if os.path.islink(path) and os.path.dirname(path) == "/":
            os.symlink(os.readlink(path), target)  # /bin -> usr/bin on merged-/usr systems
            continue
        if os.path.isdir(path):
            os.makedirs(target, mode=0o755, exist_ok=True)
            _bind_readonly(path, target)
            done.append(path)
    for name in ("proc", "tmp", "dev", "etc", ".old"):
        os.makedirs(os.path.join(root, name), mode=0o755, exist_ok=True)
    for slot, uid in enumerate(uids):
        work = root + slot_workdir(slot)
        os.mkdir(work, 0o700)
        L.mount("tmpfs", work, "tmpfs", L.MS_NOSUID | L.MS_NODEV,
                f"size={WORKDIR_BYTES},nr_inodes=4096,mode=0700,uid={uid},gid={uid}")
    _build_dev(root)
    _build_etc(root, uids)
    return root


def enter_root(root: str) -> None:
    """Make the tree this process's whole filesystem view (read-only), and leave the
    network: a new network namespace with no interface up, and a new UTS namespace.

    The server does this once and every test process inherits it, so a program never
    has a path to the host's files or a route to any network.
    """
    L.pivot_root(root, os.path.join(root, ".old"))
    os.chdir("/")
    L.umount2("/.old", L.MNT_DETACH)
    os.rmdir("/.old")
    L.mount(None, "/", None, L.MS_REMOUNT | L.MS_RDONLY | L.MS_NOSUID)
    L.unshare(L.CLONE_NEWNET | L.CLONE_NEWUTS)
    L.sethostname("sandbox")


def slot_workdir(slot: int) -> str:
    """The work dir of a concurrency slot, inside the tree."""
    return f"/tmp/{slot}"


def fresh_workdir(slot: int, uid: int) -> None:
    """Give the slot a new, empty tmpfs work dir for its next test (namespace mode).

    The old one is detached, not walked: whatever a program left there (a deep tree,
    modes, extended attributes) goes when its last user is gone, and nothing of it
    reaches the next test.
    """
    work = slot_workdir(slot)
    L.umount2(work, L.MNT_DETACH)
    L.mount("tmpfs", work, "tmpfs", L.MS_NOSUID | L.MS_NODEV,
            f"size={WORKDIR_BYTES},nr_inodes=4096,mode=0700,uid={uid},gid={uid}")


def clear_dir(path: str, remove: bool = False) -> None:
    """Empty a work dir (and remove it when ``remove``); its processes are all dead.

    No recursion and a bounded number of open fds, whatever the depth: each directory
    is emptied of files and its subdirectories are moved up to the top level under new
    names, then removed. Never follows a symlink, and restores permissions a program
    may have taken away (we are root or the owner).
    """
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.chmod(top, 0o700)
        pending = [entry for entry in _entries(top) if entry[1]]
        _unlink_files(top)
        while pending:
            name, _ = pending.pop()
            try:
                os.chmod(name, 0o700, dir_fd=top, follow_symlinks=False)
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            except OSError:
                continue
            try:
                for sub, is_dir in _entries(fd):
                    if is_dir:
                        new = f".sbx-clear-{os.urandom(8).hex()}"
                        with contextlib.suppress(OSError):
                            os.chmod(sub, 0o700, dir_fd=fd, follow_symlinks=False)
                            os.rename(sub, new, src_dir_fd=fd, dst_dir_fd=top)
                            pending.append((new, True))
                _unlink_files(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)
    if remove:
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _entries(dir_fd: int) -> list[tuple[str, bool]]:
    """(name, is a real directory) for each entry of an open directory."""
    try:
        with os.scandir(dir_fd) as it:
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except OSError:
        return []


def _unlink_files(dir_fd: int) -> None:
    for name, is_dir in _entries(dir_fd):
        if not is_dir:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dir_fd)


def _build_dev(root: str) -> None:
    for name in DEVICES:
        target = os.path.join(root, "dev", name)
        open(target, "w").close()
        L.mount(f"/dev/{name}", target, None, L.MS_BIND)
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, os.path.join(root, "dev", name))


def _build_etc(root: str, uids: list[int]) -> None:
    etc = os.path.join(root, "etc")
    users = "".join(f"sandbox{i}:x:{u}:{u}:sandbox:/tmp:/bin/sh\n" for i, u in enumerate(uids))
    groups = "".join(f"sandbox{i}:x:{u}:\n" for i, u in enumerate(uids))
    files = {
        "passwd": "root:x:0:0:root:/:/bin/sh\n" + users,
        "group": "root:x:0:\n" + groups,
        "hosts": "127.0.0.1 localhost\n",
        "hostname": "sandbox\n",
    }
    for name, text in files.items():
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
    for path in ETC_FILES:
        if os.path.isfile(path):
            target = root + path
            open(target, "w").close()
            L.mount(path, target, None, L.MS_BIND)
            L.mount(None, target, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV)


def enter_test_namespaces(own_network: bool = False) -> None:
    """As PID 1 of a new PID namespace: a new IPC namespace too (System V objects a
    program creates die with it), and with ``own_network`` a network namespace of its
    own (used when no syscall filter denies sockets). The mount and UTS namespaces
    are the server's, already confined."""
    L.unshare(L.CLONE_NEWIPC | (L.CLONE_NEWNET if own_network else 0))


def _set_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def count_processes(uid: int) -> int:
    """Processes (threads included) owned by ``uid`` now; for RLIMIT_NPROC without a uid of our own."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    total += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return total


PROGRAM_ENV = {
    "PATH": PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
}


def prepare_server_process() -> None:
    """Once, in the server: what every test process would otherwise redo after its fork.

    The environment becomes the programs' (built from nothing; only HOME and TMPDIR
    change per test), and no_new_privs is set: it is inherited by every fork and only
    affects execve, which the server never does.
    """
    os.environ.clear()
    os.environ.update(PROGRAM_ENV)
    L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)


def confine_test_process(limits: RunLimits, uid: int | None, workdir: str, namespaces: bool,
                         nproc: int) -> None:
    """Confine this freshly forked test process before the harness runs the program."""
    # Its own session and process group: kill(0, ...) or killpg from the program must
    # not reach the server's group (process groups span PID namespaces).
    os.setsid()
    if not namespaces:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the shim's handler is not the program's
    # SIGCHLD and the wakeup fd are already the defaults: neither the server nor the
    # zygote sets them (the zygote watches pidfds).
    resource.setrlimit(resource.RLIMIT_CPU, (limits.rlimit_cpu, limits.rlimit_cpu + 1))
    _set_limit(resource.RLIMIT_AS, limits.memory_bytes)
    _set_limit(resource.RLIMIT_FSIZE, limits.file_bytes)
    _set_limit(resource.RLIMIT_NOFILE, limits.open_files)
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_NPROC, nproc)
    os.chdir(workdir)
    os.umask(0o077)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    if uid is not None:
        # No bounding-set drop needed: after this the uid is not 0, and with
        # no_new_privs (set in the server, inherited) no execve can grant a capability.
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # from root to another uid: every capability is gone


def die_with_parent(parent_alive: Any) -> None:
    """SIGKILL this process when its parent dies. Set after the uid change, which clears
    it; then checked, and the parent checked alive (it may have died before)."""
    L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
    if L.get_pdeathsig() != signal.SIGKILL or not parent_alive():
        os._exit(125)
