"""The caller's side: thread safety, order, the shared sandbox, the server's life cycle
and the isolation choice (including the fallback when namespaces cannot be created)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import repair_tui.sandbox as sandbox_pkg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from repair_tui.sandbox import Sandbox, SandboxError, Status, TestSpecError, run
from repair_tui.sandbox.runner import default_workers
from sandbox_helpers import FAST, descendants, processes_matching, server_pid

ECHO = {"style": "stdio", "cases": [{"input": "7\n", "output": "7\n"}]}


def square_tests(n: int) -> dict[str, Any]:
    return {"style": "call", "fn_name": "f", "cases": [{"input": [n], "output": n * n}]}


def test_run_is_thread_safe(sandbox: Sandbox) -> None:
    program = "def f(n):\n    return n * n if n % 3 else n + 1\n"
    with ThreadPoolExecutor(max_workers=12) as pool:
        verdicts = list(pool.map(lambda n: sandbox.run(program, square_tests(n)), range(40)))
    assert [v.passed for v in verdicts] == [n % 3 != 0 for n in range(40)]


def test_run_many_keeps_the_order(sandbox: Sandbox) -> None:
    items = [(f"def f(n):\n    return {k}\n", square_tests(k)) for k in range(12)]
    items[5] = ("def f(n):\n    return -1\n", square_tests(5))
    verdicts = sandbox.run_many(items)
    assert [v.passed for v in verdicts] == [k in (0, 1) for k in range(12)]
    assert verdicts[5].results[0].got == "-1"


def test_run_many_runs_programs_in_parallel(sandbox: Sandbox) -> None:
    items = [("import time\ntime.sleep(0.3)\nprint(7)", ECHO)] * 4
    start = time.monotonic()
    assert all(v.passed for v in sandbox.run_many(items))
    assert sandbox.workers == 2
    assert time.monotonic() - start < 4 * 0.3 + 2.0  # not strictly serial, with slack for slow machines


def test_bad_tests_raise_before_anything_runs(sandbox: Sandbox) -> None:
    with pytest.raises(TestSpecError, match=r"cases\[0\]\.output is missing"):
        sandbox.run("print(1)", {"style": "stdio", "cases": [{"input": ""}]})


def test_the_module_level_run_uses_one_shared_sandbox() -> None:
    first = run("print(input())", ECHO)
    assert first.passed
    assert sandbox_pkg.shared_sandbox() is sandbox_pkg.shared_sandbox()
    assert first.isolation == sandbox_pkg.shared_sandbox().isolation_description


def test_isolation_description_and_verdicts_agree(sandbox: Sandbox) -> None:
    description = sandbox.isolation_description
    assert description.startswith(("namespaces", "rlimits"))
    assert sandbox.run("print(input())", ECHO).isolation == description


def test_unknown_isolation_is_refused() -> None:
    with pytest.raises(ValueError, match="isolation must be one of auto, rlimits"):
        Sandbox(isolation="docker")


def test_closed_sandbox_refuses_work_and_removes_its_files() -> None:
    box = Sandbox(limits=FAST, workers=1)
    assert box.run("print(input())", ECHO).passed
    base = box._base
    proc = box._proc
    box.close()
    box.close()  # idempotent
    assert proc is not None and proc.poll() is not None
    assert base is not None and not os.path.exists(base)
    with pytest.raises(SandboxError):
        box.run("print(1)", ECHO)


def test_closing_kills_programs_still_running() -> None:
    box = Sandbox(limits=FAST, workers=1)
    proc = box._proc
    assert proc is not None
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(box.run("import time\ntime.sleep(100)", ECHO)))
    thread.start()
    time.sleep(0.2)
    box.close()
    thread.join(10)
    assert not thread.is_alive() and results and not results[0].passed
    assert proc.poll() is not None


def test_a_dead_server_fails_its_programs_and_is_restarted() -> None:
    with Sandbox(limits=FAST, workers=1) as box:
        pid = server_pid(box)
        results: list[Any] = []
        thread = threading.Thread(target=lambda: results.append(box.run("import time\ntime.sleep(100)", ECHO)))
        thread.start()
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        thread.join(10)
        verdict = results[0]
        assert not verdict.passed and verdict.results[0].status is Status.RUNTIME_ERROR
        assert "sandbox server exited" in (verdict.extra.get("sandbox_error") or "")
        time.sleep(0.1)
        assert box.run("print(input())", ECHO).passed  # a fresh server
        assert server_pid(box) != pid


def test_fallback_is_forced_by_isolation_rlimits(fallback: Sandbox) -> None:
    assert fallback.isolation_description.startswith("rlimits")
    assert "no namespaces: forced by isolation='rlimits'" in fallback.isolation_description
    assert fallback.run("print(input())", ECHO).passed


def test_fallback_when_namespaces_cannot_be_created(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("REPAIR_TUI_SANDBOX_SIMULATE_NO_NAMESPACES", "1")
    with caplog.at_level(logging.WARNING, logger="repair_tui.sandbox"), Sandbox(limits=FAST, workers=1) as box:
        assert box.isolation_description.startswith("rlimits")
        assert "Operation not permitted (simulated)" in box.isolation_description
        verdict = box.run("import os\nprint(os.getpid() != 1)", {"style": "stdio", "cases": [
            {"input": "", "output": "True"}]})
        assert verdict.passed and verdict.isolation == box.isolation_description
    assert any("namespaces not in use" in r.getMessage() for r in caplog.records)


def test_the_server_is_a_fresh_isolated_interpreter(sandbox: Sandbox) -> None:
    pid = server_pid(sandbox)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert argv[1:4] == [b"-I", b"-m", b"repair_tui.sandbox._server"]
    assert os.getppid() != pid and descendants(os.getpid()).count(pid) == 1
    with open(f"/proc/{pid}/status") as f:
        threads = next(line for line in f if line.startswith("Threads:"))
    assert threads.split()[1] == "1"  # single-threaded: safe to fork


def test_the_server_imports_no_module_with_fork_hooks() -> None:
    code = ("import sys, repair_tui.sandbox._server\n"
            "print([m for m in ('threading', 'logging', 'random', 'subprocess') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_any_source_gets_a_verdict(sandbox: Sandbox, source: str) -> None:
    verdict = sandbox.run(source, ECHO)
    assert len(verdict.results) == 1
    assert isinstance(verdict.results[0].status, Status)
    assert verdict.passed == (verdict.results[0].status is Status.PASSED)


def test_tests_are_forked_by_the_zygote_not_the_server(sandbox: Sandbox) -> None:
    mark = "sbxz" + str(os.getpid())
    program = f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{mark}', 0, 0, 0)\ntime.sleep(0.3)\nprint(7)"
    thread = threading.Thread(target=lambda: sandbox.run(program, ECHO))
    thread.start()
    try:
        for _ in range(100):
            found = processes_matching(mark)
            if found:
                break
            time.sleep(0.01)
        assert found
        with open(f"/proc/{found[0]}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{parent}/comm") as f:
            assert f.read().strip() == "sbx-zygote"
        with open(f"/proc/{parent}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) == server_pid(sandbox)
    finally:
        thread.join()


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_random_is_seeded_the_same_in_every_test_so_verdicts_are_reproducible(isolation: str) -> None:
    # HumanEval checks such as HumanEval/50 draw unseeded random inputs.
    program = "import random\nprint(random.random(), random.randrange(10**9))"
    with Sandbox(workers=2, isolation=isolation) as box:
        first, second = (box.run(program, {"style": "stdio", "cases": [{"input": "", "output": ""}]})
                         for _ in range(2))
    assert first.results[0].got == second.results[0].got
    assert first.results[0].got is not None and first.results[0].got.startswith("0.844421851525")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_caller_never_waits_forever_even_if_its_reader_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reader is built never to end while its server runs; if it did anyway (here an
    # exception that no handler catches), a waiting caller gets a failed verdict.
    from repair_tui.sandbox import runner

    monkeypatch.setattr(runner, "WATCH_INTERVAL", 0.05)

    def dying(self: Sandbox, msg: dict) -> None:
        raise SystemExit("reader gone")

    with Sandbox(limits=FAST, workers=1) as box:
        monkeypatch.setattr(Sandbox, "_on_frame", dying)
        verdict = box.run("print(input())", ECHO)
    assert not verdict.passed
    assert "stopped reading results" in (verdict.extra.get("sandbox_error") or "")


def test_default_is_two_slots_per_core() -> None:
    # a slot waits on forks, frames and the judge's calls: one per core leaves cores idle
    box = Sandbox()
    try:
        assert box.workers == default_workers() == 2 * (os.cpu_count() or 1)
    finally:
        box.close()


def _shift_task(k: int) -> dict[str, Any]:
    prompt = f"OFFSET = {k}\n\ndef shift(x):\n    \"\"\"x + OFFSET\"\"\"\n"
    return {"style": "assert", "entry_point": "shift", "prompt": prompt,
            "test": f"def check(candidate):\n    assert candidate(1) == {k + 1}\n"}


def test_checks_prepared_once_per_task_judge_each_task_by_its_own(sandbox: Sandbox) -> None:
    # The server keeps each task's compiled check and prompt helpers (sandbox._server._Checks)
    right = "def shift(x):\n    return x + OFFSET\n"
    tasks = [_shift_task(k) for k in range(40)]
    before = len(os.listdir(f"/proc/{server_pid(sandbox)}/fd"))
    assert all(v.passed for v in sandbox.run_many([(right, t) for t in tasks * 2]))
    wrong = sandbox.run_many([("def shift(x):\n    return x + 2\n", t) for t in tasks[:4]])
    assert [v.passed for v in wrong] == [False, False, True, False]  # only task 2 expects 1 + 2
    assert len(os.listdir(f"/proc/{server_pid(sandbox)}/fd")) <= before  # every memfd closed


def test_prepared_checks_are_dropped_oldest_first_within_their_budget() -> None:
    from repair_tui.sandbox import _checker
    from repair_tui.sandbox._server import _Checks

    checks = _Checks(budget=2000)
    seen = []
    for k in range(12):
        task = _shift_task(k)
        fd, prompt_code = checks.get(task["test"], task["prompt"], "shift")
        try:
            source, code, prompt, error, entry = _checker._read_check(fd)
        finally:
            os.close(fd)
        assert (source, entry, error) == (task["test"], "shift", None)
        assert code is not None and prompt is not None and prompt_code is not None
        seen.append((task["test"], task["prompt"], "shift"))
        assert checks.used <= 2000
    kept = list(checks.entries)
    assert kept and kept == seen[-len(kept):] and len(kept) < 12  # the newest, in order
    os.close(checks.get(*seen[-len(kept)])[0])  # a hit moves the task to the end
    assert list(checks.entries)[-1] == seen[-len(kept)]


CALLER_LEAVES = """
import os, sys
from repair_tui.sandbox import Sandbox
from repair_tui.sandbox.result import Limits
box = Sandbox(limits=Limits(timeout=2.0), workers=2)
assert box.run("print(1)", {"style": "stdio", "cases": [{"input": "", "output": "1\\n"}]}).passed
print(box._proc.pid, flush=True)
sys.stdin.readline()  # the test has seen the server's processes
os._exit(0)  # no close(): the server sees its input end and shuts down
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@pytest.mark.parametrize("caller", ["closes", "exits"])
def test_nothing_of_the_server_outlives_it(caller: str) -> None:
    # the zygote and the judges end, and are reaped, before the server exits: left to
    # their parent-death signal they ended a moment after it, as zombies for init to reap
    if caller == "closes":
        box = Sandbox(limits=FAST, workers=2)
        assert box.run("print(1)", {"style": "stdio", "cases": [{"input": "", "output": "1\n"}]}).passed
        server = server_pid(box)
        tree = descendants(server)
        box.close()
    else:
        proc = subprocess.Popen([sys.executable, "-c", CALLER_LEAVES], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        server = int(proc.stdout.readline())
        tree = descendants(server)
        proc.communicate("go\n", timeout=30)
        deadline = time.monotonic() + 30
        while _alive(server) and time.monotonic() < deadline:
            time.sleep(0.001)
    assert len(tree) >= 3  # zygote, two judges
    assert not _alive(server)
    assert [pid for pid in tree if os.path.exists(f"/proc/{pid}")] == []
