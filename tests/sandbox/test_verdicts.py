"""Every status, with the error message a repair prompt gets and the one-line fault."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from repair_tui.sandbox import Limits, Sandbox, Status
from sandbox_helpers import FAST

ADD = {"style": "stdio", "cases": [{"input": "3 4\n", "output": "7\n"}, {"input": "1 1\n", "output": "2\n"}]}


def stdio(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"style": "stdio", "cases": [{"input": i, "output": o} for i, o in pairs]}


def statuses(verdict: Any) -> list[str]:
    return [r.status.value for r in verdict.results]


def test_passed(sandbox: Sandbox) -> None:
    verdict = sandbox.run("a, b = map(int, input().split())\nprint(a + b)\n", ADD)
    assert verdict.passed and statuses(verdict) == ["passed", "passed"]
    assert verdict.error_message is None and verdict.fault is None
    assert verdict.isolation == sandbox.isolation_description


def test_wrong_answer_shows_input_output_and_expected(sandbox: Sandbox) -> None:
    verdict = sandbox.run("a, b = map(int, input().split())\nprint(a * b)\n", stdio(("3 4\n", "7\n")))
    assert statuses(verdict) == ["wrong_answer"]
    result = verdict.results[0]
    assert (result.input, result.got, result.expected) == ("3 4\n", "12\n", "7\n")
    assert verdict.error_message == "Given input:\n3 4\nthe program printed:\n12\nbut the expected output was:\n7"
    assert verdict.fault == "wrong answer on test 1"


def test_later_tests_are_skipped_after_the_first_failure(sandbox: Sandbox) -> None:
    verdict = sandbox.run("print(2)", stdio(("", "2"), ("", "3"), ("", "2"), ("", "2")))
    assert statuses(verdict) == ["passed", "wrong_answer", "skipped", "skipped"]
    assert verdict.fault == "wrong answer on test 2"


def test_every_test_runs_when_asked(sandbox: Sandbox) -> None:
    limits = replace(FAST, stop_at_first_failure=False)
    verdict = sandbox.run("print(2)", stdio(("", "2"), ("", "3"), ("", "2")), limits)
    assert statuses(verdict) == ["passed", "wrong_answer", "passed"]


def test_runtime_error_names_the_exception_line_and_input(sandbox: Sandbox) -> None:
    program = "a, b = map(int, input().split())\nzero = 0\nprint(a // zero)\n"
    verdict = sandbox.run(program, stdio(("3 4\n", "7\n")))
    result = verdict.results[0]
    assert result.status is Status.RUNTIME_ERROR
    assert (result.error_type, result.line) == ("ZeroDivisionError", 3)
    assert result.message == "integer division or modulo by zero"
    assert verdict.error_message == (
        "Given input:\n3 4\nthe program raised ZeroDivisionError: integer division or modulo by zero"
        " at line 3 of the program:\n    print(a // zero)"
    )
    assert verdict.fault == "ZeroDivisionError line 3"


def test_runtime_error_inside_a_function_reports_the_innermost_program_line(sandbox: Sandbox) -> None:
    program = "def f(xs):\n    return xs[10]\n\nprint(f([1]))\n"
    verdict = sandbox.run(program, stdio(("", "1")))
    assert (verdict.results[0].error_type, verdict.results[0].line) == ("IndexError", 2)


def test_compile_error_names_the_message_and_line(sandbox: Sandbox) -> None:
    verdict = sandbox.run("x = 1\ndef f(:\n    pass\n", ADD)
    assert statuses(verdict) == ["compile_error", "skipped"]
    result = verdict.results[0]
    assert (result.error_type, result.line) == ("SyntaxError", 2)
    assert verdict.error_message == "The program does not compile: SyntaxError: invalid syntax (line 2)\n    def f(:"
    assert verdict.fault == "SyntaxError line 2"


def test_compile_error_stops_even_when_all_tests_should_run(sandbox: Sandbox) -> None:
    verdict = sandbox.run("def f(:", ADD, replace(FAST, stop_at_first_failure=False))
    assert statuses(verdict) == ["compile_error", "skipped"]


def test_timeout(sandbox: Sandbox) -> None:
    verdict = sandbox.run("while True:\n    pass\n", stdio(("5\n", "5\n")))
    assert statuses(verdict) == ["timeout"]
    assert verdict.error_message == (
        "Given input:\n5\nthe program did not finish within 0.5 seconds of CPU time (time limit exceeded)"
    )
    assert verdict.fault == "timeout on test 1"
    assert 0.4 < verdict.results[0].duration < 3.0


def test_many_slow_tests_each_get_their_own_limit(sandbox: Sandbox) -> None:
    # No whole-program budget: six tests of 0.3 s each pass under a 0.5 s per-test limit.
    program = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass\nprint(1)\n"
    verdict = sandbox.run(program, stdio(*[("", "1")] * 6))
    assert verdict.passed, verdict.error_message


def test_the_timeout_names_the_test_that_ran_too_long(sandbox: Sandbox) -> None:
    program = "n = int(input())\nwhile n == 3:\n    pass\nprint(n)\n"
    verdict = sandbox.run(program, stdio(*[(f"{i}\n", f"{i}\n") for i in range(1, 6)]))
    assert statuses(verdict) == ["passed", "passed", "timeout", "skipped", "skipped"]
    assert verdict.fault == "timeout on test 3"
    assert verdict.error_message.startswith("Given input:\n3\n")


def test_memory_limit(sandbox: Sandbox) -> None:
    verdict = sandbox.run("x = bytearray(20 * 1024**3)\n", stdio(("", "")))
    assert statuses(verdict) == ["memory_limit"]
    assert verdict.error_message == "Given input:\n(nothing)\nthe program ran out of memory (limit 2048 MiB)"
    assert verdict.fault == "memory limit on test 1"


def test_output_limit(sandbox: Sandbox) -> None:
    verdict = sandbox.run("while True:\n    print('x' * 65536)\n", stdio(("", "")))
    assert statuses(verdict) == ["output_limit"]
    assert verdict.error_message == (
        "Given input:\n(nothing)\nthe program printed more than 1 MiB (output limit exceeded)"
    )


def test_stderr_is_capped_too(sandbox: Sandbox) -> None:
    verdict = sandbox.run("import sys\nwhile True:\n    sys.stderr.write('e' * 65536)\n", stdio(("", "")))
    assert statuses(verdict) == ["output_limit"]


def test_long_values_are_truncated_with_a_marker(sandbox: Sandbox) -> None:
    verdict = sandbox.run("print('a' * 5000)", stdio(("", "b")))
    got = verdict.results[0].got
    assert got is not None and got.endswith("... [truncated: 3001 more characters]")
    assert len(got) < 2100
    assert "[truncated: 3001 more characters]" in (verdict.error_message or "")


def test_nonzero_exit_is_a_runtime_error(sandbox: Sandbox) -> None:
    verdict = sandbox.run("print(7)\nraise SystemExit(3)\n", stdio(("", "7")))
    assert statuses(verdict) == ["runtime_error"]
    assert verdict.error_message == "Given input:\n(nothing)\nthe program exited with status 3"


def test_exit_zero_after_printing_is_a_normal_end(sandbox: Sandbox) -> None:
    for program in ("print(7)\nexit()\n", "import sys\nprint(7)\nsys.exit(0)\n",
                    "import os, sys\nprint(7)\nsys.stdout.flush()\nos._exit(0)\n"):
        assert sandbox.run(program, stdio(("", "7"))).passed, program


def test_input_can_be_read_every_usual_way(sandbox: Sandbox) -> None:
    tests = stdio(("1 2\n3\n", "6\n"))
    for program in (
        "import sys\nprint(sum(map(int, sys.stdin.read().split())))",
        "print(sum(map(int, open(0).read().split())))",
        "import sys\nprint(sum(int(t) for line in sys.stdin for t in line.split()))",
        "import sys\ndata = sys.stdin.buffer.read()\nprint(sum(map(int, data.split())))",
        "a, b = map(int, input().split())\nc = int(input())\nprint(a + b + c)",
    ):
        assert sandbox.run(program, tests).passed, program


def test_main_in_a_thread_is_waited_for(sandbox: Sandbox) -> None:
    program = "import threading\ndef main():\n    print(int(input()) + 1)\nthreading.Thread(target=main).start()\n"
    assert sandbox.run(program, stdio(("1", "2"))).passed


def test_call_style_top_level_function(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3},
                                                            {"input": [[1], [2]], "output": [[1, 2]]}]}
    assert sandbox.run("def add(a, b):\n    return a + b\n", tests).passed


def test_call_style_method_of_solution(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "pair", "cases": [{"input": [3], "output": [[3, 3]]}]}
    program = "class Solution:\n    def pair(self, n):\n        return (n, n)\n"
    assert sandbox.run(program, tests).passed


def test_call_style_wrong_answer(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [2, "x"], "output": [5]}]}
    verdict = sandbox.run("def f(a, b):\n    return 4\n", tests)
    assert statuses(verdict) == ["wrong_answer"]
    assert (verdict.results[0].got, verdict.results[0].expected) == ("4", "5")
    assert verdict.error_message == "Calling f(2, 'x') returned:\n4\nbut the expected return value was:\n5"


def test_call_style_missing_function(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 1}]}
    verdict = sandbox.run("def g():\n    return 1\n", tests)
    assert statuses(verdict) == ["runtime_error"]
    assert verdict.error_message == "The program does not define a function `f` (nor a method `f` of class Solution)"


def test_call_style_error_while_loading(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 1}]}
    verdict = sandbox.run("x = undefined_name\ndef f():\n    return 1\n", tests)
    assert verdict.error_message == (
        "Loading the program raised NameError: name 'undefined_name' is not defined"
        " at line 1 of the program:\n    x = undefined_name"
    )


def test_call_style_exiting_instead_of_returning_fails(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": None}]}
    verdict = sandbox.run("import os\ndef f():\n    os._exit(0)\n", tests)
    assert statuses(verdict) == ["runtime_error"]
    assert verdict.error_message == "Calling f() exited (status 0) before the function returned"


CHECK = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9, 'squares'\n"


def test_assert_style_passes(sandbox: Sandbox) -> None:
    verdict = sandbox.run("def sq(x):\n    return x * x\n", {"style": "assert", "entry_point": "sq", "test": CHECK})
    assert verdict.passed and statuses(verdict) == ["passed"]


def test_assert_style_failure_shows_the_assertion_and_its_values(sandbox: Sandbox) -> None:
    verdict = sandbox.run("def sq(x):\n    return x + x\n", {"style": "assert", "entry_point": "sq", "test": CHECK})
    result = verdict.results[0]
    assert result.status is Status.WRONG_ANSWER
    assert (result.line, result.input, result.got, result.expected) == (
        3, "assert candidate(3) == 9, 'squares'", "6", "9")
    assert verdict.error_message == (
        "The test assertion failed (line 3 of the tests):\nassert candidate(3) == 9, 'squares'\n"
        "its left side evaluated to:\n6\nand its right side to:\n9\nassertion message: squares"
    )
    assert verdict.fault == "assertion failed line 3"


def test_assert_style_error_in_the_program(sandbox: Sandbox) -> None:
    verdict = sandbox.run("def sq(x):\n    return x / 0\n", {"style": "assert", "entry_point": "sq", "test": CHECK})
    assert (verdict.results[0].error_type, verdict.results[0].line) == ("ZeroDivisionError", 2)
    assert verdict.error_message == (
        "Running the tests, the program raised ZeroDivisionError: division by zero"
        " at line 2 of the program:\n    return x / 0"
    )


def test_assert_style_assertion_inside_the_program_is_a_runtime_error(sandbox: Sandbox) -> None:
    verdict = sandbox.run("def sq(x):\n    assert x < 0\n", {"style": "assert", "entry_point": "sq", "test": CHECK})
    assert statuses(verdict) == ["runtime_error"]
    assert (verdict.results[0].error_type, verdict.results[0].line) == ("AssertionError", 2)


def test_assert_style_missing_entry_point(sandbox: Sandbox) -> None:
    verdict = sandbox.run("def other(x):\n    return x\n", {"style": "assert", "entry_point": "sq", "test": CHECK})
    assert statuses(verdict) == ["runtime_error"]
    assert "does not define a function `sq`" in (verdict.error_message or "")


def test_every_verdict_round_trips_through_a_dict(sandbox: Sandbox) -> None:
    from repair_tui.sandbox import Verdict

    verdict = sandbox.run("print(1/0)", ADD)
    assert Verdict.from_dict(verdict.to_dict()) == verdict
    assert verdict.to_dict()["results"][0]["status"] == "runtime_error"


def test_limits_are_per_run(sandbox: Sandbox) -> None:
    roomy = replace(FAST, memory_bytes=4 * 1024**3)
    program = "import mmap\nm = mmap.mmap(-1, 3 * 1024**3)\nprint(len(m) > 0)\n"
    assert sandbox.run(program, stdio(("", "True")), roomy).passed
    assert statuses(sandbox.run(program, stdio(("", "True")))) == ["memory_limit"]


def test_the_default_limits_match_the_contract() -> None:
    box_limits = Limits()
    assert (box_limits.timeout, box_limits.memory_bytes, box_limits.output_bytes) == (4.0, 2 * 1024**3, 1024**2)


@pytest.mark.parametrize("style", ["stdio", "call", "assert"])
def test_each_test_gets_a_fresh_process(sandbox: Sandbox, style: str) -> None:
    program = "import builtins\nbuiltins.counter = getattr(builtins, 'counter', 0) + 1\n"
    if style == "stdio":
        verdict = sandbox.run(program + "print(builtins.counter)", stdio(("", "1"), ("", "1")))
    elif style == "call":
        tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 1}] * 2}
        verdict = sandbox.run(program + "def f():\n    return builtins.counter\n", tests)
    else:
        test = "def check(c):\n    assert c() == 1\n"
        verdict = sandbox.run("def f():\n    return 1\n", {"style": "assert", "entry_point": "f", "test": test})
    assert verdict.passed, verdict.error_message


# -- stdio programs run as APPS runs them: inside a function, so a top-level return is valid


def test_a_top_level_return_ends_a_stdio_program_as_in_apps(sandbox: Sandbox) -> None:
    program = "n = int(input())\nif n < 0:\n    print('negative')\n    return\nprint(n * 2)\n"
    verdict = sandbox.run(program, stdio(("5\n", "10"), ("-1\n", "negative")))
    assert verdict.passed, verdict.error_message


def test_a_wrapped_program_keeps_its_module_names_and_star_imports(sandbox: Sandbox) -> None:
    program = (
        "from math import *\ncount = 0\ndef bump():\n    global count\n    count += 1\n"
        "for _ in range(3):\n    bump()\nprint(count, floor(2.5))\nif count:\n    return\nprint('not reached')\n"
    )
    assert sandbox.run(program, stdio(("", "3 2"))).passed


def test_a_wrapped_program_reports_its_own_line_numbers(sandbox: Sandbox) -> None:
    verdict = sandbox.run("print(1)\nx = 1 / 0\nreturn\n", stdio(("", "1")))
    assert verdict.results[0].error_type == "ZeroDivisionError" and verdict.results[0].line == 2
    assert "at line 2 of the program:\n    x = 1 / 0" in (verdict.error_message or "")
    verdict = sandbox.run("a = 1\nreturn\nb = [1, 2\n", stdio(("", "")))
    assert verdict.results[0].status is Status.COMPILE_ERROR and verdict.results[0].line == 3


def test_a_top_level_return_is_still_an_error_in_call_style(sandbox: Sandbox) -> None:
    tests = {"style": "call", "fn_name": "f", "cases": [{"input": [], "output": 1}]}
    verdict = sandbox.run("def f():\n    return 1\nreturn\n", tests)
    assert verdict.results[0].status is Status.COMPILE_ERROR


# -- messages say what happened; a test has one number (1-based) everywhere


def test_stopping_at_the_first_failure_says_so(sandbox: Sandbox) -> None:
    cases = [("1", "1"), ("2", "0")] + [(str(i), str(i)) for i in range(3, 15)]
    verdict = sandbox.run("print(input())", stdio(*cases))
    assert verdict.summary == "failed test 2 of 14; the rest were not run"
    assert verdict.fault == "wrong answer on test 2"
    data = verdict.to_dict()
    assert data["summary"] == verdict.summary
    assert [r["number"] for r in data["results"][:2]] == [1, 2] and data["results"][1]["index"] == 1
    assert type(verdict).from_dict(data) == verdict


def test_running_every_test_names_each_failure(sandbox: Sandbox) -> None:
    limits = replace(FAST, stop_at_first_failure=False)
    verdict = sandbox.run("print(input())", stdio(("1", "1"), ("2", "0"), ("3", "3"), ("4", "0")), limits)
    assert verdict.summary == "2 of 4 tests passed; failed: tests 2 and 4"
    assert sandbox.run("print(input())", stdio(("1", "1"), ("2", "2"))).summary == "all 2 tests passed"
