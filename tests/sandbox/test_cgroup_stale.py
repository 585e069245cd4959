"""Groups left by a server that died with its caller (kill -9 of the caller: nobody
removes them) neither stop a later server's setup nor pile up."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from repair_tui.sandbox import _cgroup


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _v1_parent(hierarchy: str) -> Path | None:
    own = _cgroup._own_paths()
    key = hierarchy.split(",")[-1]
    if key not in own:
        return None
    parent = Path(_cgroup.V1_ROOT, hierarchy, own[key].lstrip("/"))
    return parent if parent.is_dir() and os.access(parent, os.W_OK) else None


def test_stale_groups_of_a_dead_server_are_removed_and_never_collide() -> None:
    parent = _v1_parent("cpuacct") or _v1_parent("memory")
    if parent is None:
        pytest.skip("needs a writable v1 cgroup hierarchy")
    pid = _dead_pid()
    stale = parent / f"repair-tui-{pid}"
    stale_new = parent / f"repair-tui-{pid}-deadbeef"
    for top in (stale, stale_new):
        top.mkdir()
        (top / "slot0").mkdir()
    # a live server's group, whatever its PID says (it may be another PID namespace's)
    live = parent / f"repair-tui-{pid}-cafef00d"
    live.mkdir()
    fresh = parent / f"repair-tui-{pid}-0000feed"  # just made, not locked yet
    fresh.mkdir()
    held = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_SH)
    try:
        assert _cgroup._name(pid) != _cgroup._name(pid)  # same PID, distinct groups
        _cgroup.remove_stale(str(parent))
        assert stale.exists() and fresh.exists()  # too new to judge
        _cgroup.remove_stale(str(parent), now=time.time() + 2 * _cgroup.STALE_AGE)
        assert not stale.exists() and not stale_new.exists()
        assert live.exists()  # its server holds the flock
    finally:
        os.close(held)
        _cgroup.remove_tree(str(fresh))
        for top in (stale, stale_new, live):
            _cgroup.remove_tree(str(top))
