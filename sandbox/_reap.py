"""Killing everything a program started, without namespaces or cgroups.

Used when there is no PID namespace. The runner is a child subreaper
(PR_SET_CHILD_SUBREAPER), so every orphan below it -- a double-forked daemon, a
process that called setsid -- is re-parented to it rather than to init. Killing all
descendants, reaping, and repeating until none is left therefore catches them all,
as long as the runner itself is alive (see docs/sandbox.md for what this cannot stop).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain ") ".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            table[int(entry)] = int(fields[1])
    return table


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    frontier = [pid]
    while frontier:
        nxt: list[int] = []
        for p in frontier:
            for c in children.get(p, []):
                found.append(c)
                nxt.append(c)
        frontier = nxt
    return found


def reap_children(block_for: int | None = None) -> None:
    """Reap every child that has exited (and wait for ``block_for`` to exit first)."""
    if block_for is not None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(block_for, 0)
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_all_descendants(group: int | None = None, deadline: float = 10.0) -> bool:
    """SIGKILL every descendant of this process and reap them; True when none is left.

    ``group`` is a process group to kill first (the test's session). Loops because a
    fork bomb may create children between the scan and the kill.
    """
    if group is not None:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    me = os.getpid()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        pids = descendants(me)
        if not pids:
            reap_children()
            return True
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reap_children()
        time.sleep(0.001)
    return False
