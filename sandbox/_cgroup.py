"""Per-slot control groups: one memory cap over all of a test's processes, and the CPU
time they used.

Set up once by the server, before it pivots away from the host's files: under the
server's own cgroup it makes ``repair-tui-<pid>-<random>/slot<N>`` in the kernel's memory
controller (cgroup v2 when it offers the controller here, else the v1 ``memory`` and
``cpuacct`` hierarchies) and keeps directory fds, so the server and the zygote can use
them from inside the private tree. Each test process joins its slot's groups before
it drops its uid; every process it starts is then counted and capped with it.

Without a writable memory controller nothing here is used, and the isolation line says
so: memory is then capped per process only (RLIMIT_AS).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time

V1_ROOT = "/sys/fs/cgroup"
V2_MOUNTS = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")


def _read_at(dir_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        return os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)


def _write_at(dir_fd: int, name: str, value: str) -> None:
    fd = os.open(name, os.O_WRONLY, dir_fd=dir_fd)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


class _Group:
    """One hierarchy's server dir and its slot dirs (as fds)."""

    def __init__(self, top: str, slots: int) -> None:
        self.top = top
        os.mkdir(top, 0o755)
        self.slot_paths = [os.path.join(top, f"slot{i}") for i in range(slots)]
        for path in self.slot_paths:
            os.mkdir(path, 0o755)
        self.slot_fds = [os.open(p, os.O_RDONLY | os.O_DIRECTORY) for p in self.slot_paths]
        self.top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        # Held for the server's life: how another server tells live groups from stale
        # ones, whatever PID namespace either runs in.
        fcntl.flock(self.top_fd, fcntl.LOCK_SH)
        self.parent_fd = os.open(os.path.dirname(top), os.O_RDONLY | os.O_DIRECTORY)

    def remove(self) -> None:
        """rmdir the slots and the top through fds (the server may no longer see /sys)."""
        for fd in self.slot_fds:
            os.close(fd)
        for path in self.slot_paths:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.basename(path), dir_fd=self.top_fd)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.basename(self.top), dir_fd=self.parent_fd)


class Cgroups:
    """What the server could set up: ``kind`` is "v2" or "v1"."""

    def __init__(self, kind: str, memory: _Group, cpu: _Group | None,
                 weight: _Group | None = None) -> None:
        self.kind = kind
        self.memory = memory
        self.cpu = cpu or memory  # v2: one group has both
        # where a slot's CPU weight is set (v1 "cpu", v2 cpu.weight), or None
        self.weight = weight
        groups = [memory, cpu, weight]
        self.groups = [g for i, g in enumerate(groups) if g is not None and g not in groups[:i]]
        self.tops = [g.top for g in self.groups]
        self.low: set[int] = set()  # slots whose weight is low now
        self.memory_set: dict[int, int] = {}  # slot -> the cap last written (see set_memory)

    def remove(self) -> None:
        """Remove the groups (all tests have ended)."""
        for group in self.groups:
            group.remove()

    @property
    def description(self) -> str:
        return f"cgroup {self.kind}"

    def join_fds(self, slot: int) -> list[int]:
        """The dirs whose cgroup.procs a test process writes itself into."""
        return [g.slot_fds[slot] for g in self.groups]

    def set_weight(self, slot: int, low: bool) -> None:
        """A slot's CPU weight among the sandbox's slots only (its share against the
        rest of the machine stays that of the server's group): low for a test still
        running after a while, normal again for the next."""
        if self.weight is None or low == (slot in self.low):
            return
        self.low ^= {slot}
        fd = self.weight.slot_fds[slot]
        if self.kind == "v2":
            _write_at(fd, "cpu.weight", "1" if low else "100")
        else:
            _write_at(fd, "cpu.shares", "2" if low else "1024")

    def set_memory(self, slot: int, limit: int) -> None:
        """The slot's cap for its next program (the slot is empty now). Written only when
        it changes: the programs of a run share their limits, which saved the server three
        cgroup writes a program."""
        if self.memory_set.get(slot) == limit:
            return
        self.memory_set.pop(slot, None)  # unknown until the writes below succeed
        fd = self.memory.slot_fds[slot]
        if self.kind == "v2":
            _write_at(fd, "memory.max", str(limit))
            with contextlib.suppress(OSError):
                _write_at(fd, "memory.swap.max", "0")
        else:
            with contextlib.suppress(OSError):  # memsw must stay >= the limit: lower it last
                _write_at(fd, "memory.memsw.limit_in_bytes", "-1")
            _write_at(fd, "memory.limit_in_bytes", str(limit))
            with contextlib.suppress(OSError):  # no swap either
                _write_at(fd, "memory.memsw.limit_in_bytes", str(limit))
        self.memory_set[slot] = limit

    def cpu_seconds(self, slot: int) -> float:
        """CPU time used in the slot so far (all its processes, dead ones included)."""
        fd = self.cpu.slot_fds[slot]
        if self.kind == "v2":
            for line in _read_at(fd, "cpu.stat").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return 0.0
        return int(_read_at(fd, "cpuacct.usage").strip() or 0) / 1e9

    def oom_kills(self, slot: int) -> int:
        """How many processes the memory cap has killed in the slot so far."""
        fd = self.memory.slot_fds[slot]
        name = "memory.events" if self.kind == "v2" else "memory.oom_control"
        for line in _read_at(fd, name).splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return int(_read_at(fd, "memory.failcnt").strip() or 0) if self.kind == "v1" else 0


def setup(server_pid: int, slots: int) -> Cgroups:
    """Make the slot groups; OSError with the reason when this machine cannot."""
    own = _own_paths()
    errors = []
    if "" in own:  # the v2 hierarchy: usable when it offers the memory controller
        for mount in V2_MOUNTS:
            try:
                return _setup_v2(os.path.join(mount, own[""].lstrip("/")), server_pid, slots)
            except OSError as exc:
                errors.append(f"v2 at {mount}: {exc.strerror or exc}")
    if "memory" in own:
        try:
            return _setup_v1(own, server_pid, slots)
        except OSError as exc:
            errors.append(f"v1: {exc.strerror or exc}")
    raise OSError(0, "; ".join(errors) or "no memory controller mounted")


def _setup_v2(base: str, server_pid: int, slots: int) -> Cgroups:
    with open(os.path.join(base, "cgroup.controllers")) as f:
        if "memory" not in f.read().split():
            raise OSError(0, "no memory controller")
    with open(os.path.join(base, "cgroup.procs")) as f:
        if f.read().strip() and base.rstrip("/") not in V2_MOUNTS:
            # "no internal processes": a populated non-root group cannot pass controllers down
            raise OSError(0, f"{base} holds processes")
    with open(os.path.join(base, "cgroup.controllers")) as f:
        wanted = "+memory +cpu" if "cpu" in f.read().split() else "+memory"
    with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
        f.write(wanted)
    remove_stale(base)
    top = os.path.join(base, _name(server_pid))
    try:
        group = _Group(top, 0)
        with open(os.path.join(top, "cgroup.subtree_control"), "w") as f:
            f.write(wanted)
        group.slot_paths = [os.path.join(top, f"slot{i}") for i in range(slots)]
        for path in group.slot_paths:
            os.mkdir(path, 0o755)
        group.slot_fds = [os.open(p, os.O_RDONLY | os.O_DIRECTORY) for p in group.slot_paths]
    except OSError:
        remove_tree(top)
        raise
    if "cpu" in wanted:  # the sandbox weighs against the machine as its slots would alone
        _write_at(group.top_fd, "cpu.weight", str(min(10000, 100 * slots)))
    return Cgroups("v2", group, None, group if "cpu" in wanted else None)


def _setup_v1(own: dict[str, str], server_pid: int, slots: int) -> Cgroups:
    name = _name(server_pid)
    for hierarchy in ("memory", "cpu,cpuacct", "cpuacct", "cpu"):
        parent = os.path.join(V1_ROOT, hierarchy, own.get(hierarchy.split(",")[-1], "/").lstrip("/"))
        if os.path.isdir(parent):
            remove_stale(parent)
    memory = _Group(os.path.join(V1_ROOT, "memory", own["memory"].lstrip("/"), name), slots)
    try:
        joint = os.path.isdir(os.path.join(V1_ROOT, "cpu,cpuacct"))
        cpu_dir = "cpu,cpuacct" if joint else "cpuacct"
        cpu = _Group(os.path.join(V1_ROOT, cpu_dir, own.get("cpuacct", "/").lstrip("/"), name), slots)
        weight = cpu if joint else None
        if not joint and os.path.isdir(os.path.join(V1_ROOT, "cpu")):
            with contextlib.suppress(OSError):
                weight = _Group(os.path.join(V1_ROOT, "cpu", own.get("cpu", "/").lstrip("/"), name), slots)
        cgroups = Cgroups("v1", memory, cpu, weight)
        if weight is not None:  # the sandbox weighs against the machine as its slots would alone
            _write_at(weight.top_fd, "cpu.shares", str(1024 * slots))
        cgroups.set_memory(0, 1 << 30)  # fails now, not per test, when the files are not ours
        return cgroups
    except (OSError, StopIteration) as exc:
        remove_tree(memory.top)
        raise OSError(0, f"cpuacct: {exc}") from None


def _name(server_pid: int) -> str:
    # Unique even when a dead server's groups with the same PID are still there (a
    # killed caller cannot remove them), so they never stop a new server's setup.
    return f"repair-tui-{server_pid}-{os.urandom(4).hex()}"


STALE_AGE = 30.0  # seconds: a group this new may be one a server is still setting up


def remove_stale(parent: str, now: float | None = None) -> None:
    """Remove groups left by servers that died with their caller: no server holds the
    flock on them any more (a live one holds it for its whole life) and no process is
    left in them (rmdir refuses a group that holds one)."""
    now = time.time() if now is None else now
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith("repair-tui-"):
            continue
        top = os.path.join(parent, name)
        try:
            fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            if now - os.fstat(fd).st_mtime < STALE_AGE:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live server holds it
        finally:
            os.close(fd)
        remove_tree(top)


def kill_all(top: str) -> None:
    """SIGKILL every process left in a server's groups (used by the caller when the
    server died); repeated because a fork may race the scan."""
    for _ in range(50):
        pids = []
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError), open(os.path.join(dirpath, "cgroup.procs")) as f:
                    pids += [int(p) for p in f.read().split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def remove_tree(top: str) -> None:
    """Remove a server's (empty) groups: the slots first, then the top."""
    with contextlib.suppress(OSError):
        for name in os.listdir(top):
            if os.path.isdir(os.path.join(top, name)):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(top, name))
    with contextlib.suppress(OSError):
        os.rmdir(top)
