"""Helpers for the sandbox tests: short limits and process probes."""

from __future__ import annotations

import os

from repair_tui.sandbox import Limits, Sandbox

# Short limits keep hostile programs quick; min_timeout is lowered so they apply.
FAST = Limits(timeout=0.5, min_timeout=0.1)


def namespaces_available(box: Sandbox) -> bool:
    return box.isolation_description.startswith("namespaces")


def filter_in_force(box: Sandbox) -> bool:
    """The syscall filter is on (the isolation line says "+seccomp")."""
    return "+seccomp" in box.isolation_description


def cgroup_in_force(box: Sandbox) -> bool:
    """Memory and CPU time are counted per test by a cgroup."""
    return "+cgroup-" in box.isolation_description


def processes_matching(marker: str) -> list[int]:
    """Live processes whose name (comm), command line or environment contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/comm", "rb") as f:
                comm = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                environ = b""
        except OSError:
            continue
        if state != b"Z" and any(marker.encode() in text for text in (comm, cmdline, environ)):
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, frontier = [], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, [])]
        out += frontier
    return out


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def server_pid(box: Sandbox) -> int:
    proc = box._proc
    assert proc is not None
    return proc.pid


def assert_host_unharmed(box: Sandbox) -> None:
    """The server is alive, idle (no process left under it) and still runs programs."""
    pid = server_pid(box)
    assert os.path.exists(f"/proc/{pid}"), "the sandbox server died"
    left = [p for p in descendants(pid) if _comm(p) not in ("sbx-zygote", "sbx-judge")]  # they stay
    assert left == [], "processes were left behind under the server"
    verdict = box.run("print(int(input()) * 2)", {"style": "stdio", "cases": [{"input": "21", "output": "42"}]})
    assert verdict.passed, verdict.error_message
