"""Hostile programs: each gets its expected verdict, the host stays unharmed and no
process is left behind. Run in both isolation modes; where the fallback cannot stop
something, the test says so (and docs/sandbox.md lists it)."""

from __future__ import annotations

import ast
import os
import pwd
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from repair_tui.sandbox import Limits, Sandbox, Status
from sandbox_helpers import (
    FAST,
    assert_host_unharmed,
    cgroup_in_force,
    filter_in_force,
    namespaces_available,
    processes_matching,
    server_pid,
)


def stdio(output: str = "42") -> dict[str, Any]:
    return {"style": "stdio", "cases": [{"input": "", "output": output}]}


def marker() -> str:
    return "sbx" + uuid.uuid4().hex[:10]


def named(mark: str) -> str:
    """Program prelude: give this process (and what it forks) a findable name."""
    return f"import ctypes\nctypes.CDLL(None).prctl(15, b'{mark}', 0, 0, 0)\n"


def run_hostile(box: Sandbox, program: str, tests: dict[str, Any], mark: str | None = None) -> Any:
    verdict = box.run(program, tests)
    assert not verdict.passed or tests.get("expect_pass"), verdict
    if mark is not None:
        assert processes_matching(mark) == [], "the program left processes behind"
    assert_host_unharmed(box)
    return verdict


def status(verdict: Any) -> Status:
    return verdict.results[0].status


def test_infinite_loop(any_sandbox: Sandbox) -> None:
    mark = marker()
    verdict = run_hostile(any_sandbox, named(mark) + "while True:\n    pass\n", stdio(), mark)
    assert status(verdict) is Status.TIMEOUT


def test_long_sleep(any_sandbox: Sandbox) -> None:
    mark = marker()
    verdict = run_hostile(any_sandbox, named(mark) + "import time\ntime.sleep(1000)\n", stdio(), mark)
    assert status(verdict) is Status.TIMEOUT


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("x = bytearray(20 * 1024**3)", {Status.MEMORY_LIMIT}),
        ("x = [0] * (20 * 1024**3 // 8)", {Status.MEMORY_LIMIT}),
        # Touching 2 GiB page by page may take longer than the short test limit.
        ("x = []\nwhile True:\n    x.append(bytearray(10**8))", {Status.MEMORY_LIMIT, Status.TIMEOUT}),
    ],
    ids=["at-once", "list", "bit-by-bit"],
)
def test_allocating_20_gb(any_sandbox: Sandbox, program: str, expected: set[Status]) -> None:
    start = time.monotonic()
    verdict = run_hostile(any_sandbox, program, stdio())
    assert status(verdict) in expected
    assert time.monotonic() - start < 10


def test_fork_bomb(any_sandbox: Sandbox) -> None:
    mark = marker()
    program = named(mark) + (
        "import os, time\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        time.sleep(0.001)\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio(), mark)
    assert status(verdict) in (Status.TIMEOUT, Status.RUNTIME_ERROR)


def test_subprocess_bomb(any_sandbox: Sandbox) -> None:
    mark = marker()
    program = (
        "import subprocess\nprocs = []\nwhile True:\n    try:\n"
        f"        procs.append(subprocess.Popen(['/bin/sh', '-c', 'sleep 1000; true'], env={{'M': '{mark}'}}))\n"
        "    except OSError:\n        pass\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio(), mark)
    assert status(verdict) is Status.TIMEOUT


def test_printing_gigabytes(any_sandbox: Sandbox) -> None:
    start = time.monotonic()
    program = "import sys\nblock = 'x' * (1 << 20)\nwhile True:\n    sys.stdout.write(block)\n"
    verdict = run_hostile(any_sandbox, program, stdio())
    assert status(verdict) is Status.OUTPUT_LIMIT
    assert time.monotonic() - start < 10
    assert len(verdict.results[0].got or "") < 10_000  # only a truncated piece comes back


def test_secrets_in_the_environment_are_not_passed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("MY_TOKEN", secret)
    program = (
        "import os\nprint(sorted(os.environ.items()))\n"
        "for path in ('/proc/self/environ', '/proc/1/environ', f'/proc/{os.getppid()}/environ'):\n"
        "    try:\n        print(open(path, 'rb').read())\n    except OSError as e:\n        print(e)\n"
    )
    for isolation in ("auto", "rlimits"):
        with Sandbox(isolation=isolation) as box:
            verdict = box.run(program, stdio())
        got = verdict.results[0].got or ""
        assert "PATH" in got and secret not in got
        assert "OPENAI" not in got and "MY_TOKEN" not in got


def test_writing_outside_the_work_dir(any_sandbox: Sandbox, tmp_path: Path) -> None:
    mark = marker()
    targets = [str(tmp_path / "pwned"), "/usr/pwned-" + mark, "/pwned-" + mark, "/tmp/pwned-" + mark]
    program = (
        f"import os\nok = []\nfor path in {targets!r}:\n    try:\n"
        "        with open(path, 'w') as f:\n            f.write('x')\n        ok.append(path)\n"
        "    except OSError:\n        pass\nprint(ok)\nopen('mine', 'w').write('fine')\nprint(os.listdir('.'))\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio())
    got = verdict.results[0].got or ""
    assert "['mine']" in got  # its own work dir is writable
    assert not (tmp_path / "pwned").exists()
    assert not os.path.exists("/usr/pwned-" + mark) and not os.path.exists("/pwned-" + mark)
    if namespaces_available(any_sandbox):
        assert got.startswith("[]")
        assert not os.path.exists("/tmp/pwned-" + mark)
    else:  # the fallback cannot stop writes to world-writable places such as /tmp
        if os.path.exists("/tmp/pwned-" + mark):
            os.unlink("/tmp/pwned-" + mark)


def test_reading_the_callers_files(any_sandbox: Sandbox, tmp_path: Path) -> None:
    answer = "answer-" + uuid.uuid4().hex
    tests_file = tmp_path / "tests.json"
    tests_file.write_text(answer)
    program = f"try:\n    print(open({str(tests_file)!r}).read())\nexcept OSError as e:\n    print(type(e).__name__)\n"
    verdict = run_hostile(any_sandbox, program, stdio(answer))
    assert verdict.results[0].status is Status.WRONG_ANSWER
    assert answer not in (verdict.results[0].got or "")


@pytest.fixture
def listener() -> Any:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.3)
    yield server
    server.close()


def test_connecting_to_a_local_server(any_sandbox: Sandbox, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    program = (
        f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        "s.sendall(b'stolen')\nprint('connected')\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio("nope"))
    if filter_in_force(any_sandbox):  # no socket can be made at all
        assert status(verdict) is Status.RUNTIME_ERROR
        assert verdict.results[0].error_type == "PermissionError"
        with pytest.raises(TimeoutError):
            listener.accept()
    elif namespaces_available(any_sandbox):
        assert status(verdict) is Status.RUNTIME_ERROR
        assert verdict.results[0].error_type == "OSError"
        assert "Network is unreachable" in (verdict.results[0].message or "")
        with pytest.raises(TimeoutError):
            listener.accept()
    else:  # the fallback without a filter has no network isolation
        assert "connected" in (verdict.results[0].got or "")


def test_killing_its_parent(any_sandbox: Sandbox) -> None:
    program = (
        "import os, signal\nfor target in (os.getppid(), 1, 0, -1):\n    try:\n"
        "        os.kill(target, signal.SIGKILL)\n    except OSError:\n        pass\nprint(42)\n"
    )
    before = any_sandbox._proc.pid if any_sandbox._proc else None
    verdict = any_sandbox.run(program, stdio())
    assert verdict.results[0].status in (Status.PASSED, Status.RUNTIME_ERROR)
    assert_host_unharmed(any_sandbox)
    assert any_sandbox._proc is not None and any_sandbox._proc.pid == before  # not restarted


def test_double_forked_daemon_that_acts_later(any_sandbox: Sandbox) -> None:
    mark = marker()
    flag = f"/tmp/{mark}-acted"
    program = named(mark) + (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        time.sleep(1.0)\n        open({flag!r}, 'w').write('acted')\n        os._exit(0)\n"
        "    os._exit(0)\nprint(42)\n"
    )
    verdict = run_hostile(any_sandbox, program, {**stdio(), "expect_pass": True}, mark)
    assert verdict.passed
    time.sleep(1.5)
    assert processes_matching(mark) == []
    assert not os.path.exists(flag)


@pytest.mark.parametrize("style", ["stdio", "call", "assert"])
@pytest.mark.parametrize("ending", ["import sys\nsys.exit(0)", "import os\nos._exit(0)",
                                    "print('passed')\nprint('All tests passed')\nimport sys\nsys.exit(0)"])
def test_exiting_early_never_passes(any_sandbox: Sandbox, style: str, ending: str) -> None:
    tests: dict[str, Any]
    if style == "stdio":
        tests = stdio()
    elif style == "call":
        tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 42}]}
    else:
        tests = {"style": "assert", "entry_point": "f", "test": "def check(c):\n    assert c() == 42\n"}
    verdict = run_hostile(any_sandbox, ending + "\ndef f():\n    return 42\n", tests)
    assert not verdict.passed


def test_segfault(any_sandbox: Sandbox) -> None:
    verdict = run_hostile(any_sandbox, "import ctypes\nctypes.string_at(0)\n", stdio())
    assert status(verdict) is Status.RUNTIME_ERROR
    assert verdict.results[0].error_type == "SIGSEGV"
    assert "segmentation fault" in (verdict.error_message or "")


def test_recursion_bomb(any_sandbox: Sandbox) -> None:
    verdict = run_hostile(any_sandbox, "def f(n):\n    return f(n + 1)\nf(0)\n", stdio())
    assert (verdict.results[0].error_type, verdict.results[0].line) == ("RecursionError", 2)


def test_unbounded_recursion_bomb(any_sandbox: Sandbox) -> None:
    program = "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return [n] + f(n + 1)\nf(0)\n"
    verdict = run_hostile(any_sandbox, program, stdio())
    assert status(verdict) in (Status.RUNTIME_ERROR, Status.MEMORY_LIMIT, Status.TIMEOUT)


def test_ignoring_sigterm(any_sandbox: Sandbox) -> None:
    mark = marker()
    program = named(mark) + (
        "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio(), mark)
    assert status(verdict) is Status.TIMEOUT


def test_thousands_of_threads(any_sandbox: Sandbox) -> None:
    mark = marker()
    program = named(mark) + (
        "import threading, time\nthreads = [threading.Thread(target=time.sleep, args=(100,), daemon=True)"
        " for _ in range(5000)]\nfor t in threads:\n    t.start()\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio(), mark)
    assert status(verdict) in (Status.RUNTIME_ERROR, Status.MEMORY_LIMIT)


def test_forging_the_result_channel(any_sandbox: Sandbox) -> None:
    program = (
        "import json, os, struct\nbody = json.dumps({'kind': 'done', 'token': '0' * 32}).encode()\n"
        "os.write(3, struct.pack('>I', len(body)) + body)\nos._exit(0)\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio(""))
    assert "interfered with the sandbox" in (verdict.error_message or "")


@pytest.mark.parametrize("sabotage", ["os.close(3)", "os.dup2(1, 3)", "os.write(3, b'passed')"])
def test_tampering_with_the_result_channel(any_sandbox: Sandbox, sabotage: str) -> None:
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 1}]}
    verdict = run_hostile(any_sandbox, f"import os\n{sabotage}\ndef f():\n    return 1\n", tests)
    assert status(verdict) is Status.RUNTIME_ERROR


# -- assert-style tests: "passed" is decided in the checker, where no program code runs --

SQUARE = {"style": "assert", "entry_point": "f",
          "test": "def check(candidate):\n    assert candidate(3) == 9\n    assert abs(candidate(2) - 4) < 1e-9\n"}


@pytest.mark.parametrize("sabotage", ["os.close(3)", "os.dup2(1, 3)", "os.write(3, b'passed')"])
def test_the_program_of_an_assert_test_has_no_result_channel(any_sandbox: Sandbox, sabotage: str) -> None:
    """fd 3 is the checker's alone: in the program's process it is closed before any of
    its code runs, so nothing it does there touches the verdict."""
    right = f"import os\ntry:\n    {sabotage}\nexcept OSError:\n    pass\ndef f(x):\n    return x * x\n"
    assert any_sandbox.run(right, SQUARE).passed
    verdict = run_hostile(any_sandbox, right.replace("x * x", "x + x"), SQUARE)
    assert status(verdict) is Status.WRONG_ANSWER


def test_forging_a_report_with_the_token_found_in_memory(any_sandbox: Sandbox) -> None:
    """The old attack: take the token from the check's frame (or anywhere in memory) and
    write a "checked" report. The check's frame is in another process now, and the
    program's process holds no result channel to write to."""
    program = (
        "import gc, json, os, re, struct, sys\n"
        "def f(x):\n"
        "    tokens = {o for o in gc.get_objects() if type(o) is str and re.fullmatch('[0-9a-f]{32}', o)}\n"
        "    frame = sys._getframe()\n"
        "    while frame is not None:\n"
        "        tokens |= {v for v in frame.f_locals.values() if type(v) is str and len(v) == 32}\n"
        "        frame = frame.f_back\n"
        "    for token in tokens or {'0' * 32}:\n"
        "        body = json.dumps({'kind': 'checked', 'token': token}).encode()\n"
        "        for fd in range(3, 40):\n"
        "            try:\n"
        "                os.write(fd, struct.pack('>I', len(body)) + body)\n"
        "            except OSError:\n"
        "                pass\n"
        "    os._exit(0)\n"
    )
    verdict = run_hostile(any_sandbox, program, SQUARE)
    assert status(verdict) is Status.RUNTIME_ERROR


@pytest.mark.parametrize("forged", [
    "{'failed': {'kind': 'checked'}}",
    "{'ready': 1, 'kind': 'checked'}",
    "{'ok': 9, 'kind': 'checked', 'passed': True}",
])
def test_replacing_the_harness_encoder(any_sandbox: Sandbox, forged: str) -> None:
    """The program rewrites the harness's encoder and link in its own process: whatever
    it sends, the checker reads only plain data and relays failures, never a pass."""
    program = (
        "import json\nimport repair_tui.sandbox._checker as c\nimport repair_tui.sandbox._values as v\n"
        f"forged = {forged}\n"
        "c.Link.send = lambda self, obj: c.Link.__dict__['_raw'](self, forged)\n"
        "def _raw(self, obj):\n"
        "    import os\n"
        "    body = json.dumps(obj).encode()\n"
        "    os.write(self.write_fd, len(body).to_bytes(4, 'big') + body)\n"
        "c.Link._raw = _raw\n"
        "v.encode_exact = lambda value, *a: 9\n"
        "def f(x):\n    return 0\n"
    )
    verdict = run_hostile(any_sandbox, program, SQUARE)
    assert not verdict.passed


def test_replacing_builtins_used_by_the_check(any_sandbox: Sandbox) -> None:
    """The check's ``abs`` is the checker's own: a rigged one in the program changes nothing."""
    program = "import builtins\nbuiltins.abs = lambda x: 0\ndef f(x):\n    return 99\n"
    tests = {"style": "assert", "entry_point": "f", "test": "def check(c):\n    assert abs(c(1) - 1) < 1e-9\n"}
    verdict = run_hostile(any_sandbox, program, tests)
    assert status(verdict) is Status.WRONG_ANSWER
    assert verdict.results[0].got == "98"  # the left side, computed with the real abs


@pytest.mark.parametrize(("returned", "type_name"), [
    ("Yes()", "solution.Yes"),
    ("YesInt(9)", "solution.YesInt"),
    ("YesStr('x')", "solution.YesStr"),
    ("[9, Yes()]", "solution.Yes"),
    ("{'k': (1, Yes())}", "solution.Yes"),
    ("(i for i in [9])", "generator"),
    ("f", "function"),
    ("__import__('decimal').Decimal(9)", "decimal.Decimal"),
    ("__import__('collections').OrderedDict()", "collections.OrderedDict"),
])
def test_returning_objects_that_are_not_plain_data(any_sandbox: Sandbox, returned: str, type_name: str) -> None:
    """An ``__eq__`` that always says True (on any class, int or str subclasses
    included) never reaches the check: only exact plain types cross, at any depth."""
    program = (
        "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "    def __lt__(self, other):\n        return True\n    def __sub__(self, other):\n        return 0\n"
        "class YesInt(int):\n    __eq__ = Yes.__eq__\n    __hash__ = int.__hash__\n"
        "class YesStr(str):\n    __eq__ = Yes.__eq__\n    __hash__ = str.__hash__\n"
        f"def f(x):\n    return {returned}\n"
    )
    verdict = run_hostile(any_sandbox, program, SQUARE)
    assert status(verdict) is Status.RUNTIME_ERROR
    assert f"a value of type `{type_name}`" in (verdict.error_message or "")
    assert "line 2 of the tests" in (verdict.error_message or "")


@pytest.mark.parametrize("reply", [
    "b'\\xff\\xff\\xff\\xff'",  # a length past every cap
    "(b'[' * 100000)",  # nesting far past the recursion limit
    "b'{\"ok\": {\"~zz\": []}}'",  # an unknown tag
    "b'{\"ok\": {\"~s\": [[1]]}}'",  # an unhashable set member
    "b'{\"ok\": ' + b'{\"~t\": [' * 500 + b'1' + b']}' * 500 + b'}'",  # past the depth cap
    "b'{\"ok\": {\"~r\": \"9\", \"~type\": \"int\"}}'",  # the opaque tag is call-style only
    "b'not json'",
])
def test_malformed_replies_fail_that_program_alone(any_sandbox: Sandbox, reply: str) -> None:
    program = (
        "import os\nimport repair_tui.sandbox._checker as c\n"
        f"data = {reply}\n"
        "def send(self, obj):\n"
        "    if 'ready' in obj:\n"
        "        return c.Link.real(self, obj)\n"
        "    body = data if data.startswith(b'\\xff') else len(data).to_bytes(4, 'big') + data\n"
        "    os.write(self.write_fd, body)\n"
        "    os.close(self.write_fd)\n"
        "c.Link.real = c.Link.send\nc.Link.send = send\n"
        "def f(x):\n    return x * x\n"
    )
    verdict = run_hostile(any_sandbox, program, SQUARE)
    assert status(verdict) is Status.RUNTIME_ERROR, verdict.error_message
    assert "interfered with the sandbox" in (verdict.error_message or "")


def test_killing_every_process_it_can_reach_leaves_the_judge(any_sandbox: Sandbox) -> None:
    """The judge that runs the check is out of the program's reach (outside its PID
    namespace, or root while the program is not): killing everything else it can
    changes nothing. A right answer still passes, a wrong one still fails."""
    program = (
        "import os, signal\n"
        "def f(x):\n"
        "    for pid in range(2, 40000):\n"
        "        if pid != os.getpid():\n"
        "            try:\n"
        "                os.kill(pid, signal.SIGKILL)\n"
        "            except OSError:\n"
        "                pass\n"
        "    return x * x\n"
    )
    assert any_sandbox.run(program, SQUARE).passed
    verdict = run_hostile(any_sandbox, program.replace("x * x", "x + x"), SQUARE)
    assert status(verdict) is Status.WRONG_ANSWER


def test_prompt_names_come_from_the_prompt_not_the_program(any_sandbox: Sandbox) -> None:
    """HumanEval/32's check calls the prompt's ``poly``; a program defining its own
    (rigged) ``poly`` changes its namespace, not the check's."""
    prompt = (
        "import math\n\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n\n"
        "def find_zero(xs):\n    \"\"\"A zero of the polynomial.\"\"\"\n"
    )
    test = "def check(candidate):\n    xs = [-6, 11, -6, 1]\n    assert abs(poly(xs, candidate(xs))) < 1e-4\n"
    tests = {"style": "assert", "entry_point": "find_zero", "test": test, "prompt": prompt}
    right = "def find_zero(xs):\n    return 1.0\n"
    assert any_sandbox.run(right, tests).passed
    rigged = "def poly(xs, x):\n    return 0\ndef find_zero(xs):\n    return 17.0\n"
    verdict = run_hostile(any_sandbox, rigged, tests)
    assert status(verdict) is Status.WRONG_ANSWER
    injected = "import builtins\nbuiltins.poly = lambda xs, x: 0\ndef find_zero(xs):\n    return 17.0\n"
    assert status(run_hostile(any_sandbox, injected, tests)) is Status.WRONG_ANSWER


def test_a_candidate_that_loops_still_times_out(any_sandbox: Sandbox) -> None:
    mark = marker()
    program = named(mark) + "def f(x):\n    while True:\n        pass\n"
    verdict = run_hostile(any_sandbox, program, SQUARE, mark)
    assert status(verdict) is Status.TIMEOUT


def test_a_forged_call_style_value_fails_that_program_and_the_reader_lives_on(any_sandbox: Sandbox) -> None:
    """Call style: the program's process encodes its value and can send any JSON; the
    caller decodes it strictly (the reader thread never dies on it)."""
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 1}] * 2}
    for forged in ("[" * 900 + "]" * 900, '{"~zz": 1}', '{"~s": [[1]]}', '{"~b": "\\u0100"}'):
        program = (
            "import repair_tui.sandbox._values as v, json\n"
            f"v.encode = lambda value, *a: json.loads({forged!r})\n"
            "def f():\n    return 1\n"
        )
        verdict = run_hostile(any_sandbox, program, tests)
        assert status(verdict) is Status.WRONG_ANSWER, forged
        assert "unreadable value" in (verdict.results[0].got or ""), forged


def test_rigged_equality_in_call_style(any_sandbox: Sandbox) -> None:
    program = "class Yes(int):\n    def __eq__(self, other):\n        return True\ndef f():\n    return Yes(1)\n"
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 7}]}
    verdict = run_hostile(any_sandbox, program, tests)
    assert status(verdict) is Status.WRONG_ANSWER and verdict.results[0].got == "1"


def test_exhausting_file_descriptors(any_sandbox: Sandbox) -> None:
    program = "files = []\nwhile True:\n    files.append(open('/dev/null'))\n"
    verdict = run_hostile(any_sandbox, program, stdio())
    assert verdict.results[0].error_type == "OSError"
    assert "Too many open files" in (verdict.results[0].message or "")


def test_filling_and_locking_the_work_dir_does_not_leak_into_the_next_test(any_sandbox: Sandbox) -> None:
    program = (
        "import os\nos.makedirs('d/e')\nopen('d/e/f', 'w').write('x')\nos.chmod('d/e', 0)\nos.chmod('d', 0)\n"
        "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio())
    assert status(verdict) is Status.RUNTIME_ERROR  # EFBIG / ENOSPC
    assert any_sandbox.run("import os\nprint(os.listdir('.'))", stdio("[]")).passed


def test_system_v_shared_memory_dies_with_the_program(sandbox: Sandbox) -> None:
    if not namespaces_available(sandbox):
        pytest.skip("needs namespaces (the fallback cannot reclaim System V objects)")
    key = int(uuid.uuid4().hex[:7], 16)
    program = (
        f"import ctypes\nlibc = ctypes.CDLL(None)\nshm = libc.shmget({key}, 1 << 20, 0o1600)\n"
        "print(shm >= 0)\n"
    )
    verdict = run_hostile(sandbox, program, {**stdio("True"), "expect_pass": True})
    assert verdict.passed
    with open("/proc/sysvipc/shm") as f:
        keys = {int(line.split()[0]) for line in f.readlines()[1:]}
    assert key not in keys


def test_the_program_sees_no_other_process_nor_the_users_files(sandbox: Sandbox, tmp_path: Path) -> None:
    if not namespaces_available(sandbox):
        pytest.skip("needs namespaces")
    # The repository's files stay hidden; its directory itself may show as the way
    # to a virtual environment created inside it (the Python installation is bound).
    repo = Path(__file__).resolve().parents[2]
    home = pwd.getpwuid(os.getuid()).pw_dir
    program = (
        f"import os\ntry:\n    home = os.listdir({home!r})\nexcept OSError:\n    home = []\n"
        f"print(os.getpid(), os.path.exists('/proc/1'), os.path.exists({str(repo / 'pyproject.toml')!r}), os.path.exists({str(tmp_path)!r}))\n"
        "print(home)\n"
    )
    verdict = sandbox.run(program, stdio())
    first, second = (verdict.results[0].got or "").splitlines()
    assert first.split() == ["1", "False", "False", "False"]
    # Only the way to the Python installation is visible in the home dir, if it lives there.
    python_dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    allowed = {Path(p).relative_to(home).parts[0] for p in python_dirs if p.startswith(home + "/")}
    assert set(ast.literal_eval(second)) <= allowed


def test_a_program_still_running_after_half_a_second_drops_to_the_lowest_cpu_priority(
    sandbox: Sandbox,
) -> None:
    # A stuck program then costs other programs (and the caller) no CPU they want.
    program = (
        "import os, time\nstart = time.monotonic()\n"
        "print(os.getpriority(os.PRIO_PROCESS, 0))\n"
        "while time.monotonic() - start < 1.2:\n    pass\n"
        "print(os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    ours = os.getpriority(os.PRIO_PROCESS, 0)  # inherited (e.g. under `nice`)
    verdict = sandbox.run(program, stdio(f"{ours}\n19"), Limits(timeout=4.0))
    assert verdict.passed, verdict.results[0].got


# -- No test learns another's outcome; nothing carries over --------------------------


def test_a_test_after_a_failed_one_never_starts(fallback: Sandbox) -> None:
    # The next test starts only once the caller has compared the last one: a failed
    # test is never followed by one that starts and is then cancelled (whose life
    # would tell it the verdict). The fallback lets the program leave a trace in /tmp.
    trace = f"/tmp/{marker()}-started"
    program = f"line = input()\nopen({trace!r}, 'a').write(line + '\\n')\nprint('wrong' if line == '1' else line)\n"
    try:
        verdict = fallback.run(program, {"style": "stdio", "cases": [
            {"input": str(i), "output": str(i)} for i in range(1, 5)]})
        assert [r.status for r in verdict.results][:2] == [Status.WRONG_ANSWER, Status.SKIPPED]
        assert Path(trace).read_text() == "1\n"
    finally:
        if os.path.exists(trace):
            os.unlink(trace)


def test_files_modes_and_extended_attributes_do_not_carry_over(any_sandbox: Sandbox) -> None:
    # Every program writes what it can in its work dir, then looks for what an earlier
    # one (in either slot) left: files, an extended attribute of the dir, its mode.
    program = (
        "import os\nseen = sorted(os.listdir('.'))\n"
        "try:\n    seen.append(os.getxattr('.', 'user.carried'))\nexcept OSError:\n    pass\n"
        "seen.append(oct(os.stat('.').st_mode & 0o777))\n"
        "open('carried', 'w').write('x')\nos.setxattr('carried', 'user.carried', b'1')\n"
        "try:\n    os.setxattr('.', 'user.carried', b'1')\nexcept OSError:\n    pass\n"
        "os.chmod('.', 0o755)\nprint(seen)\n"
    )
    verdicts = any_sandbox.run_many([(program, stdio())] * 6)
    outputs = {v.results[0].got for v in verdicts}
    assert len(outputs) == 1, outputs  # every program found the same (empty) dir
    assert "carried" not in outputs.pop()


def test_kernel_keyrings_are_out_of_reach(any_sandbox: Sandbox) -> None:
    if not filter_in_force(any_sandbox):
        pytest.skip("needs the syscall filter")
    program = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "key = libc.syscall(248, b'user', b'sbx-carried', b'secret', 6, -4)\n"  # add_key
        "print(key, os.strerror(ctypes.get_errno()))\n"
    )
    verdict = run_hostile(any_sandbox, program, stdio())
    assert (verdict.results[0].got or "").split()[0] == "-1"
    assert "not permitted" in (verdict.results[0].got or "")
    with open("/proc/keys") as keys:
        assert "sbx-carried" not in keys.read()


def test_programs_running_at_once_cannot_talk_over_abstract_unix_sockets(any_sandbox: Sandbox) -> None:
    name = marker()
    listener = (
        "import socket, time\ntry:\n    s = socket.socket(socket.AF_UNIX)\n"
        f"    s.bind('\\0{name}')\n    s.listen(1)\n    s.settimeout(1.0)\n"
        "    c, _ = s.accept()\n    print('heard', c.recv(10))\nexcept OSError as e:\n    print('alone', e)\n"
    )
    talker = (
        "import socket, time\ntime.sleep(0.2)\ntry:\n    s = socket.socket(socket.AF_UNIX)\n"
        f"    s.connect('\\0{name}')\n    s.sendall(b'hi')\n    print('told')\nexcept OSError as e:\n    print('alone', e)\n"
    )
    listened, talked = any_sandbox.run_many([(listener, stdio()), (talker, stdio())])
    if filter_in_force(any_sandbox) or namespaces_available(any_sandbox):
        assert "heard" not in (listened.results[0].got or "")
        assert "told" not in (talked.results[0].got or "")
    assert_host_unharmed(any_sandbox)


LOCKERS = {  # take a lock on a file every program can read; a second program probes it
    "flock": ("fcntl.flock(f, fcntl.LOCK_EX)", "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)"),
    "fcntl": ("fcntl.lockf(f, fcntl.LOCK_SH)",
              "fcntl.fcntl(f, fcntl.F_GETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))"),
}


@pytest.mark.parametrize("kind", list(LOCKERS))
def test_programs_running_at_once_cannot_talk_through_locks_on_shared_files(any_sandbox: Sandbox,
                                                                          kind: str) -> None:
    take, probe = LOCKERS[kind]
    opening = "import fcntl, os, struct, time\nf = open('/etc/passwd', 'rb')\n"  # readable in both modes
    holder = opening + f"try:\n    {take}\n    print('holding')\nexcept OSError as e:\n    print('no lock', e)\ntime.sleep(1.0)\n"
    prober = opening + (f"time.sleep(0.3)\ntry:\n    print('probe', {probe})\n"
                        "except OSError as e:\n    print('no probe', e.errno)\n")
    held, probed = any_sandbox.run_many([(holder, stdio()), (prober, stdio())])
    if filter_in_force(any_sandbox):  # neither side can lock, nor see a lock
        assert "no lock" in (held.results[0].got or ""), held.results[0].got
        assert "no probe 1" in (probed.results[0].got or ""), probed.results[0].got
    assert_host_unharmed(any_sandbox)


def test_a_sqlite_database_on_disk_works_without_file_locks(sandbox: Sandbox) -> None:
    # What the docs tell a program that needs one, now that locks are denied.
    program = ("import sqlite3, tempfile\n"
               "db = sqlite3.connect('file:' + tempfile.mkdtemp() + '/x.db?vfs=unix-none', uri=True)\n"
               "db.execute('create table t(x)')\ndb.execute('insert into t values (42)')\ndb.commit()\n"
               "print(db.execute('select x from t').fetchone()[0])\n")
    verdict = sandbox.run(program, stdio("42"))
    assert verdict.passed, verdict.error_message


def test_a_program_cannot_watch_files_others_open(any_sandbox: Sandbox) -> None:
    program = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
               "fd = libc.inotify_init1(0)\nprint(fd, ctypes.get_errno())\n"
               "print(libc.inotify_add_watch(fd, b'/etc/passwd', 0x20), ctypes.get_errno())\n")
    verdict = run_hostile(any_sandbox, program, stdio())
    if filter_in_force(any_sandbox):
        assert (verdict.results[0].got or "").split() == ["-1", "1", "-1", "1"], verdict.results[0].got


def test_dev_shm_is_not_there(sandbox: Sandbox) -> None:
    if not namespaces_available(sandbox):
        pytest.skip("the fallback shares the host's /dev/shm (docs/sandbox.md)")
    program = "try:\n    open('/dev/shm/carried', 'w')\n    print('wrote')\nexcept OSError as e:\n    print(type(e).__name__)\n"
    verdict = run_hostile(sandbox, program, stdio())
    assert "wrote" not in (verdict.results[0].got or "")


# -- One program cannot stop the server or change another's verdict -----------------


def test_a_deeply_nested_frame_on_the_result_channel(any_sandbox: Sandbox) -> None:
    program = (
        "import os\nbody = b'[' * 200000 + b']' * 200000\n"
        "os.write(3, len(body).to_bytes(4, 'big') + body)\nos._exit(0)\n"
    )
    good = "print(int(input()) * 2)"
    bad, fine = any_sandbox.run_many([(program, stdio()), (good, {"style": "stdio", "cases": [
        {"input": "21", "output": "42"}]})])
    assert not bad.passed and fine.passed
    assert_host_unharmed(any_sandbox)


def test_passing_its_pipes_to_a_process_that_lives_on(any_sandbox: Sandbox) -> None:
    # SCM_RIGHTS over a socketpair to a child that keeps the test's pipes open and
    # tries to outlive the test: the server neither waits for those pipes nor hangs.
    mark = marker()
    program = named(mark) + (
        "import os, socket, time\na, b = socket.socketpair()\nif os.fork() == 0:\n"
        "    fds = socket.recv_fds(b, 10, 8)[1]\n    os.setsid()\n    time.sleep(60)\n    os._exit(0)\n"
        "socket.send_fds(a, [b'x'], [0, 1, 2, 3])\nprint(42)\n"
    )
    verdict = run_hostile(any_sandbox, program, {**stdio(), "expect_pass": True}, mark)
    assert verdict.passed, verdict.error_message


def test_a_deep_tree_and_a_locked_work_dir_do_not_reach_the_next_program(any_sandbox: Sandbox) -> None:
    program = (
        "import os\nfor _ in range(1200):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "os.chdir('/' if False else os.environ['HOME'])\nos.chmod('.', 0)\nprint(42)\n"
    )
    verdicts = any_sandbox.run_many([(program, stdio())] * 2)
    assert all(v.passed for v in verdicts), verdicts[0].error_message
    checks = any_sandbox.run_many([("import os\nprint(os.listdir('.'))", stdio("[]"))] * 4)
    assert all(v.passed for v in checks), checks[0].error_message
    assert_host_unharmed(any_sandbox)


# -- Nothing outlives a test, a program or the server --------------------------------


@pytest.mark.parametrize("isolation", ["auto", "rlimits"])
def test_nothing_outlives_a_killed_server(isolation: str) -> None:
    mark = marker()
    program = named(mark) + (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(60)\n    os._exit(0)\ntime.sleep(60)\n"
    )
    box = Sandbox(limits=Limits(timeout=30.0), workers=1, isolation=isolation)
    try:
        handle = box.submit(program, stdio())
        deadline = time.monotonic() + 10
        while len(processes_matching(mark)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes_matching(mark)) >= 2
        os.kill(server_pid(box), 9)
        verdict = box.wait(handle)  # the caller is told, not left waiting
        assert not verdict.passed
        deadline = time.monotonic() + 5
        while processes_matching(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_matching(mark) == []
    finally:
        box.close()


# -- Limits: memory per test across processes; the syscall filter --------------------


def test_memory_is_capped_across_all_the_processes_of_a_test(any_sandbox: Sandbox) -> None:
    if not cgroup_in_force(any_sandbox):
        pytest.skip("needs a memory cgroup (the fallback caps each process alone)")
    program = (
        "import os\npids = []\nfor _ in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
        "        block = b'x' * (200 << 20)\n        import time\n        time.sleep(3)\n        os._exit(0)\n"
        "    pids.append(pid)\nprint([os.waitpid(p, 0)[1] for p in pids])\n"
    )
    limits = Limits(timeout=2.0, min_timeout=0.1, memory_bytes=400 << 20)
    verdict = any_sandbox.run(program, stdio(), limits)
    assert status(verdict) is Status.MEMORY_LIMIT, verdict.error_message
    assert_host_unharmed(any_sandbox)



def test_a_slots_memory_cap_follows_each_programs_limits() -> None:
    """The cap is written only when it changes: one slot, its cap raised, lowered and
    raised again, each time in force for the program that asked for it."""
    with Sandbox(limits=FAST, workers=1) as box:
        if not cgroup_in_force(box):
            pytest.skip("needs a memory cgroup")
        program = (
            "import os\npids = []\nfor _ in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
            "        block = b'x' * (100 << 20)\n        import time\n        time.sleep(0.5)\n"
            "        os._exit(0)\n    pids.append(pid)\nprint([os.waitpid(p, 0)[1] for p in pids])\n"
        )
        wanted = stdio("[0, 0, 0]")
        roomy = Limits(timeout=2.0, min_timeout=0.1, memory_bytes=600 << 20)
        tight = Limits(timeout=2.0, min_timeout=0.1, memory_bytes=200 << 20)
        assert box.run(program, wanted, roomy).passed
        assert box.run(program, wanted, roomy).passed
        assert status(box.run(program, wanted, tight)) is Status.MEMORY_LIMIT
        assert box.run(program, wanted, roomy).passed

DENIED_CALLS = {  # x86_64 numbers, arguments that would do something without a filter
    "unshare(CLONE_NEWUSER)": "272, 0x10000000", "mount": "165, b'none', b'/tmp', b'tmpfs', 0, 0",
    "keyctl": "250, 0, 0", "request_key": "249, b'user', b'x', 0, 0", "io_uring_setup": "425, 1, 0",
    "ptrace": "101, 0, 0, 0, 0", "bpf": "321, 0, 0, 0", "perf_event_open": "298, 0, 0, -1, -1, 0",
    "init_module": "175, 0, 0, b''", "finit_module": "313, 0, b'', 0", "reboot": "169, 0, 0, 0, 0",
    "kexec_load": "246, 0, 0, 0, 0", "clone(CLONE_NEWUSER)": "56, 0x10000000 | 17, 0, 0, 0, 0",
    # channels through files every program can open: locks, watches, page-cache probes
    "flock": "73, 0, 2", "inotify_init1": "294, 0", "mincore": "27, 0, 4096, 0",
    "fcntl(F_SETLK)": "72, 0, 6, 0", "fcntl(F_OFD_GETLK)": "72, 0, 36, 0",
    "fcntl(F_NOTIFY)": "72, 0, 1026, 1", "fcntl(F_SETLEASE)": "72, 0, 1024, 0",
    "preadv2(RWF_NOWAIT)": "327, 0, 0, 0, 0, 0, 8",
}


def test_the_syscall_filter_denies_what_tests_never_need(any_sandbox: Sandbox) -> None:
    if not filter_in_force(any_sandbox) or os.uname().machine != "x86_64":
        pytest.skip("needs the syscall filter on x86_64")
    program = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n" + "".join(
        f"print({name!r}, libc.syscall({args}), ctypes.get_errno())\n" for name, args in DENIED_CALLS.items())
    verdict = run_hostile(any_sandbox, program, stdio())
    lines = (verdict.results[0].got or "").splitlines()
    assert len(lines) == len(DENIED_CALLS), verdict.error_message
    for line in lines:
        assert line.endswith("-1 1"), line  # EPERM


# -- the program's process never holds the check --------------------------------------
# Each hunt looks for the check's answer (a string the program cannot compute) and for
# a marker of the task's prompt (shared on purpose: its helpers run in both processes).
# Finding the prompt's marker shows the hunt works; finding the answer would pass the
# test without computing it.
HUNT_COMMON = (
    "import gc, os, re, sys, types\n"
    "ANSWER = re.compile(rb'sbx-answer-[0-9a-f]{32}')\n"
    "PROMPT = re.compile(rb'sbx-prompt-[0-9a-f]{32}')\n"
    "found = {}\n"
    "def see(value):\n"
    "    if type(value) is str:\n"
    "        value = value.encode('utf-8', 'replace')\n"
    "    if type(value) in (bytes, bytearray):\n"
    "        for name, pattern in (('answer', ANSWER), ('prompt', PROMPT)):\n"
    "            hit = pattern.search(value)\n"
    "            if hit:\n"
    "                found.setdefault(name, hit.group().decode())\n"
    "def walk(root, limit=200000):\n"
    "    seen, todo = set(), [root]\n"
    "    while todo and limit:\n"
    "        limit -= 1\n"
    "        obj = todo.pop()\n"
    "        if id(obj) in seen:\n"
    "            continue\n"
    "        seen.add(id(obj))\n"
    "        see(obj)\n"
    "        if type(obj) is types.CodeType:\n"
    "            todo.extend(obj.co_consts)\n"
    "        elif type(obj) is types.FrameType:\n"
    "            todo.extend([obj.f_locals, obj.f_globals, obj.f_code, obj.f_back])\n"
    "        elif isinstance(obj, dict):\n"
    "            todo.extend(obj.keys())\n"
    "            todo.extend(obj.values())\n"
    "        elif isinstance(obj, (list, tuple, set, frozenset)):\n"
    "            todo.extend(obj)\n"
    "        elif type(obj) in (types.FunctionType, types.MethodType):\n"
    "            todo.extend(gc.get_referents(obj))\n"
    "        elif not isinstance(obj, (str, bytes, bytearray, int, float, type, types.ModuleType)):\n"
    "            todo.extend(gc.get_referents(obj))\n"
    "        if isinstance(obj, types.ModuleType):\n"
    "            todo.append(vars(obj))\n"
    "def f(x):\n"
    "    hunt()\n"
    "    if 'answer' in found:\n"
    "        return found['answer']\n"
    "    return 'no answer; prompt seen: ' + str('prompt' in found)\n"
)
HUNTS = {
    # every object the collector knows, their referents, code objects' constants
    "gc-objects": "def hunt():\n    for obj in gc.get_objects():\n        walk(obj, 50)\n",
    # the harness's modules and the stack of frames that called the program
    "harness-modules-and-frames": (
        "def hunt():\n"
        "    for name, module in list(sys.modules.items()):\n"
        "        if name.startswith(('repair_tui', 'solution', '__main__')):\n"
        "            walk(module)\n"
        "    walk(sys._getframe())\n"
    ),
    # the zygote's globals and its live objects (its jobs) as inherited by the fork
    "zygote-globals": (
        "import repair_tui.sandbox._zygote as zygote\n"
        "def hunt():\n"
        "    walk(vars(zygote))\n"
        "    for obj in gc.get_objects():\n"
        "        if type(obj).__module__.startswith('repair_tui'):\n"
        "            walk(obj)\n"
    ),
    # every readable byte of the process's memory, freed heap included: the regions in
    # /proc/self/maps, or (no /proc in a namespace) megabytes around every live object;
    # read through a pipe, so an unmapped page is an error, not a crash
    "raw-memory": (
        "import ctypes\n"
        "def regions():\n"
        "    try:\n"
        "        with open('/proc/self/maps') as maps:\n"
        "            lines = [line.split() for line in maps]\n"
        "        return [tuple(int(a, 16) for a in p[0].split('-')) for p in lines\n"
        "                if p[1][0] == 'r' and not (len(p) > 5 and p[5].startswith('[v'))]\n"
        "    except OSError:\n"
        "        mib = {id(o) >> 20 for o in gc.get_objects()}\n"
        "        mib = sorted({m + d for m in mib for d in (-2, -1, 0, 1, 2)})\n"
        "        return [(m << 20, (m + 1) << 20) for m in mib]\n"
        "def read(r, w, address, size):\n"
        "    try:\n"
        "        n = os.write(w, (ctypes.c_char * size).from_address(address))\n"
        "    except OSError:\n"
        "        return b''\n"
        "    return os.read(r, n)\n"
        "def hunt():\n"
        "    r, w = os.pipe()\n"
        "    for start, end in regions():\n"
        "        while start < end:\n"
        "            chunk = read(r, w, start, min(end - start, 1 << 16))\n"
        "            if not chunk:  # a hole: page by page\n"
        "                chunk = b''.join(read(r, w, start + p, 4096) for p in range(0, min(end - start, 1 << 16), 4096))\n"
        "            see(chunk)\n"
        "            start += 1 << 16\n"
    ),
}


@pytest.mark.parametrize("hunt", list(HUNTS))
def test_the_program_cannot_find_the_checks_answers(any_sandbox: Sandbox, hunt: str) -> None:
    """The check's code (source, compiled code, constants) goes only to the checker,
    after the split: nothing of it is in the program's process to read, by object, by
    module, by frame or by raw memory. The prompt's helpers are there, on purpose."""
    answer, prompt_mark = (f"sbx-{kind}-{uuid.uuid4().hex}" for kind in ("answer", "prompt"))
    tests = {"style": "assert", "entry_point": "f",
             "prompt": f"PROMPT_MARK = {prompt_mark!r}\n\ndef f(x):\n    \"\"\"...\"\"\"\n",
             "test": f"def check(candidate):\n    assert candidate(1) == {answer!r}\n"}
    program = HUNT_COMMON + HUNTS[hunt]
    verdict = any_sandbox.run(program, tests, Limits(timeout=20, min_timeout=20))
    assert not verdict.passed, f"{hunt} found the check's answer"
    assert status(verdict) is Status.WRONG_ANSWER, verdict
    assert verdict.results[0].got == repr("no answer; prompt seen: True")  # the hunt did work
    assert_host_unharmed(any_sandbox)


@pytest.mark.parametrize("hunt", list(HUNTS))
def test_a_program_cannot_find_the_code_of_other_programs(any_sandbox: Sandbox, hunt: str) -> None:
    """Another sample of the same task may be right: a program that could read it (the
    one running beside it, or one that ran before) could pass by running it. Nothing of
    another program's job (its code, its inputs) is in a test process, by object or by
    raw memory: each test reads its own job from a memfd of its own."""
    before, beside = (f"sbx-other-{uuid.uuid4().hex}" for _ in range(2))
    victim = "import time\nMARK = {!r}\ntime.sleep({})\nprint(MARK)\n"
    assert any_sandbox.run(victim.format(before, 0), stdio(before)).passed
    hunter = (HUNT_COMMON + HUNTS[hunt] + "ANSWER = re.compile(rb'sbx-other-[0-9a-f]{32}')\n"
              "import time\ntime.sleep(0.3)\nhunt()\nprint(found.get('answer', 'nothing'))\n")
    _, hunted = any_sandbox.run_many([(victim.format(beside, 2.0), stdio(beside)),
                                      (hunter, stdio("nothing"))], Limits(timeout=20, min_timeout=20))
    assert hunted.passed, f"{hunt} found {hunted.results[0].got!r}"  # it printed "nothing"
    assert_host_unharmed(any_sandbox)


def test_a_test_process_holds_its_own_input_only(any_sandbox: Sandbox) -> None:
    """Each test process reads its job and its own input from a memfd of its own; the
    program's other inputs (megabytes in some APPS tasks) are not decoded in every test
    process, where that work would count in its CPU time."""
    marks = [f"sbx-in-{uuid.uuid4().hex}" for _ in range(3)]
    program = (
        "import gc, re\nPAT = re.compile(r'sbx-in-[0-9a-f]{32}')\n"
        "def f(x):\n    seen = set()\n    for o in gc.get_objects():\n"
        "        items = o.values() if type(o) is dict else o if type(o) in (list, tuple) else ()\n"
        "        for v in items:\n            if type(v) is str:\n                seen.update(PAT.findall(v))\n"
        "    return sorted(seen)\n"
    )
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [m], "output": [m]} for m in marks]}
    verdict = run_hostile(any_sandbox, program, {**tests, "expect_pass": True})
    assert verdict.passed, verdict.error_message


@pytest.mark.parametrize("ending", ["os._exit(0)", "os.close(4); os.close(6); return 9",
                                    "os.write(4, b'\\x00\\x00\\x00\\x02{}'); return 9"])
def test_a_check_that_catches_everything_still_fails_a_program_that_left(any_sandbox: Sandbox,
                                                                       ending: str) -> None:
    """A check may catch exceptions; once the program's side is gone or has sent
    something malformed, nothing the check does next makes the test pass."""
    tests = {"style": "assert", "entry_point": "f", "test": (
        "def check(candidate):\n"
        "    for x in range(3):\n"
        "        try:\n"
        "            candidate(x)\n"
        "        except BaseException:\n"
        "            pass\n")}
    program = f"import os\ndef f(x):\n    {ending}\n"
    verdict = run_hostile(any_sandbox, program, tests)
    assert status(verdict) is Status.RUNTIME_ERROR, verdict.error_message


def test_a_check_that_catches_an_unplain_value_still_fails(any_sandbox: Sandbox) -> None:
    tests = {"style": "assert", "entry_point": "f", "test": (
        "def check(candidate):\n    try:\n        candidate(1)\n    except Exception:\n        pass\n")}
    program = "class Yes:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Yes()\n"
    verdict = run_hostile(any_sandbox, program, tests)
    assert status(verdict) is Status.RUNTIME_ERROR
    assert "a value of type `solution.Yes`" in (verdict.error_message or "")


def test_a_check_stuck_in_its_own_loop_times_out_and_the_next_program_is_judged(
    any_sandbox: Sandbox,
) -> None:
    """The check runs in the slot's judge; one that never returns is ended by the test's
    wall-clock backstop, and the judge is replaced for the programs that follow."""
    stuck = {"style": "assert", "entry_point": "f", "test": "def check(c):\n    c(1)\n    while True:\n        pass\n"}
    verdict = run_hostile(any_sandbox, "def f(x):\n    return x\n", stuck)
    assert status(verdict) is Status.TIMEOUT
    for _ in range(3):  # both slots
        assert any_sandbox.run("def f(x):\n    return x * x\n", SQUARE).passed


def test_without_the_filter_each_test_has_its_own_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where no seccomp binding is found, namespace mode gives each test its own network
    # namespace: an abstract Unix socket is then seen by no other program.
    monkeypatch.setenv("REPAIR_TUI_SANDBOX_LAYERS", "no-seccomp")
    with Sandbox(limits=FAST, workers=2) as box:
        if not namespaces_available(box):
            pytest.skip("needs namespaces")
        assert "+netns-per-test" in box.isolation_description
        assert "no seccomp: turned off" in box.isolation_description
        test_programs_running_at_once_cannot_talk_over_abstract_unix_sockets(box)
