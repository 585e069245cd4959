"""Stale work dirs: a sandbox removes the dirs of dead sandboxes, and never the dir of a
live one, even one whose server it cannot see (another PID namespace)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from repair_tui.sandbox import Sandbox, runner
from sandbox_helpers import FAST

ECHO = {"style": "stdio", "cases": [{"input": "7\n", "output": "7\n"}]}


def _fake_dir(age: float) -> Path:
    # a PID that exists nowhere, so the old PID test would also call it stale
    path = Path(runner.STALE_DIR) / f"repair-tui-sandbox-999999999-{os.urandom(4).hex()}"
    path.mkdir()
    (path / "job1-test0").mkdir()
    (path / "job1-test0" / "out").write_text("x")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_an_old_unlocked_dir_is_removed_and_a_young_one_is_kept() -> None:
    old, young = _fake_dir(age=3600), _fake_dir(age=0)
    try:
        runner._remove_stale_dirs()
        assert not old.exists()
        assert young.exists()  # its owner may be about to lock it
    finally:
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(young, ignore_errors=True)


def test_a_live_sandbox_keeps_its_dir_whatever_its_age() -> None:
    with Sandbox(limits=FAST, workers=1) as box:
        base = box._base
        assert base and os.path.isdir(base)
        # judged as if it were old, by the path alone: a sweep of all of /tmp with a
        # clock set ahead would also take the dirs of sandboxes other test processes are
        # starting at this moment (their server made the dir, their caller has not
        # locked it yet), which only the real clock's STALE_AGE protects
        runner._remove_if_stale(base, now=time.time() + 10 * runner.STALE_AGE)
        assert os.path.isdir(base)
        assert box.run("print(input())", ECHO).passed
    assert not os.path.exists(base)


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="cannot create a PID namespace here")
def test_a_sandbox_in_another_pid_namespace_leaves_a_live_dir_alone() -> None:
    """The other process cannot see our server's PID; before, it deleted our dir."""
    with Sandbox(limits=FAST, workers=1) as box:
        base = box._base
        assert base is not None
        code = (
            "import time\n"
            "from repair_tui.sandbox import Sandbox, runner\n"
            f"runner._remove_if_stale({base!r}, now=time.time() + 10 * runner.STALE_AGE)\n"
            "with Sandbox(workers=1) as box:\n"
            "    assert box.run('print(input())', "
            "{'style': 'stdio', 'cases': [{'input': '1\\n', 'output': '1\\n'}]}).passed\n"
        )
        other = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc",
                                sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
        assert other.returncode == 0, other.stderr
        assert os.path.isdir(base)
        assert box.run("print(input())", ECHO).passed


def test_a_stale_dir_holding_a_deep_locked_tree_is_removed_without_recursion() -> None:
    # What a program may leave when its server is killed mid-test: deeper than
    # shutil.rmtree's recursion can go, with modes taken away on the way.
    path = _fake_dir(age=0)  # young while it is built: no other sandbox starts removing it
    fd = os.open(path / "job1-test0", os.O_RDONLY)
    try:
        for _ in range(1500):
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        os.fchmod(fd, 0)
    finally:
        os.close(fd)
    then = time.time() - 3600
    os.utime(path, (then, then))
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:  # another sandbox may be at it
        runner._remove_stale_dirs()
        time.sleep(0.05)
    assert not path.exists()
