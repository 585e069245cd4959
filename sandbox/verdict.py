"""From the runner's raw outcomes (what the program printed, returned or raised) to a
Verdict. This is where expected outputs are used, in the caller's process only.
"""

from __future__ import annotations

import signal
from typing import Any

import repair_tui.sandbox._values as _values
import repair_tui.sandbox.compare as compare
import repair_tui.sandbox.render as render
from repair_tui.sandbox.result import Limits, Status, TestResult, Verdict
from repair_tui.sandbox.spec import case_count

_MEMORY_HINTS = ("MemoryError", "Cannot allocate memory", "out of memory", "bad_alloc")
_SIGNALS = {signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
            signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
            signal.SIGILL: "illegal instruction"}


def render_input(spec: dict[str, Any], index: int) -> str | None:
    """The test's input as text: stdin for stdio, ``f(args)`` for call, None for assert."""
    text: str | None = None
    if spec["style"] == "stdio":
        text = render.truncate(str(spec["cases"][index]["input"]))
    elif spec["style"] == "call":
        text = render.truncate(render.render_call(str(spec["fn_name"]), list(spec["cases"][index]["input"])))
    return text


def _expected_display(expected: Any, got: Any) -> Any:
    # APPS wraps call outputs in a one-element list; show the bare value unless the
    # program returned a one-element sequence too.
    if isinstance(expected, list) and len(expected) == 1 and not isinstance(got, list | tuple):
        return expected[0]
    return expected


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(spec: dict[str, Any], index: int, raw: dict[str, Any],
             limits: Limits) -> tuple[TestResult, dict[str, Any]]:
    """One test's result, plus the details only the error message needs."""
    style = spec["style"]
    report: dict[str, Any] = raw.get("report") or {}
    kind = report.get("kind")
    base: dict[str, Any] = {"index": index, "input": render_input(spec, index),
                            "duration": float(raw.get("duration") or 0.0)}
    stdout = raw.get("stdout") or ""
    stderr = raw.get("stderr") or ""
    detail: dict[str, Any] = {}
    if raw.get("timed_out"):
        if raw.get("seconds"):
            detail["seconds"] = float(raw["seconds"])
        detail["wall"] = raw.get("limit") == "wall"
        return TestResult(status=Status.TIMEOUT, got=render.truncate(stdout) or None, **base), detail
    if raw.get("memory_limit"):
        return TestResult(status=Status.MEMORY_LIMIT, message="its processes together exceeded "
                          f"{limits.memory_bytes} bytes", **base), detail
    if raw.get("output_limit"):
        return TestResult(status=Status.OUTPUT_LIMIT, message=f"{raw['output_limit']} exceeded "
                          f"{limits.output_bytes} bytes", **base), detail
    if kind == "compile_error":
        detail["text"] = report.get("text")
        return TestResult(status=Status.COMPILE_ERROR, error_type=report.get("type"),
                          message=report.get("message"), line=report.get("line"), **base), detail
    if kind == "exception":
        return _exception(report, base, style, stdout, detail)
    if kind == "assert_failed":
        base["input"] = render.truncate(report.get("source"))
        return TestResult(status=Status.WRONG_ANSWER, error_type="AssertionError",
                          expected=report.get("right"), got=report.get("left"),
                          message=report.get("message") or None, line=report.get("line"), **base), detail
    failure = _other_failure(raw, report, style, stderr, limits)
    if failure is not None:
        status, error_type, message = failure
        detail["stderr"] = render.truncate(stderr.strip()[-800:]) if stderr.strip() else None
        if kind == "missing_function":
            detail["sentence"] = f"The program {message}"
        return TestResult(status=status, error_type=error_type, message=message,
                          got=render.truncate(stdout) or None, **base), detail
    return _compare(spec, index, report, stdout, base), detail


def _exception(report: dict[str, Any], base: dict[str, Any], style: str, stdout: str,
               detail: dict[str, Any]) -> tuple[TestResult, dict[str, Any]]:
    detail.update(exception=True, phase=report.get("phase"))
    line, place = report.get("line"), "program"
    if line is None and report.get("test_line") is not None:
        line, place = report.get("test_line"), "tests"
    detail.update(line=line, place=place, text=report.get("text") if place == "program" else None)
    # MemoryError, or an OSError with ENOMEM (mmap, thread stacks) past the address-space limit
    out_of_memory = report.get("type") == "MemoryError" or str(report.get("message")).startswith("[Errno 12]")
    status = Status.MEMORY_LIMIT if out_of_memory else Status.RUNTIME_ERROR
    return TestResult(status=status, error_type=report.get("type"), message=report.get("message"),
                      line=line, got=render.truncate(stdout) or None if style == "stdio" else None,
                      **base), detail


def _other_failure(raw: dict[str, Any], report: dict[str, Any], style: str, stderr: str,
                   limits: Limits) -> tuple[Status, str | None, str] | None:
    """Status, error type and message for failures other than exceptions; None if ok so far."""
    kind = report.get("kind")
    sig = raw.get("signal")
    per_process = int(max(limits.timeout, limits.min_timeout)) + 2  # RLIMIT_CPU (see _jail)
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and not raw.get("killed")
                                 and float(raw.get("cpu_seconds") or 0) >= per_process - 0.5):
        return Status.TIMEOUT, None, "exceeded its CPU time limit"
    if sig is not None:
        if any(h in stderr for h in _MEMORY_HINTS):
            return Status.MEMORY_LIMIT, None, "ran out of memory"
        name: str = _signal_name(sig)
        what = f" ({_SIGNALS[sig]})" if sig in _SIGNALS else ""
        return Status.RUNTIME_ERROR, name, f"was killed by signal {name}{what}"
    if kind == "exit":
        return Status.RUNTIME_ERROR, "SystemExit", f"exited with status {report.get('code')}"
    if kind == "missing_function":
        fn = report.get("name")
        return Status.RUNTIME_ERROR, "NameError", (
            f"does not define a function `{fn}` (nor a method `{fn}` of class Solution)")
    if kind == "unplain":
        at = f" (called at line {report['test_line']} of the tests)" if report.get("test_line") else ""
        what = f"a value of type `{report.get('type')}`"
        if report.get("reason"):
            what += f" ({report['reason']})"
        return Status.RUNTIME_ERROR, "TypeError", (
            f"returned {what}{at}; the tests accept only plain data: {_values.PLAIN_NAMES}")
    if kind == "interfered":
        return Status.RUNTIME_ERROR, None, f"interfered with the sandbox ({report.get('message')})"
    if kind == "harness_error":
        return Status.RUNTIME_ERROR, None, f"could not be run: {report.get('message')}"
    if kind is None:
        code = raw.get("exit_code")
        problem = raw.get("report_problem")
        if problem and problem != "no result":  # it wrote to the harness's result channel
            return Status.RUNTIME_ERROR, None, f"interfered with the sandbox ({problem})"
        if style == "stdio" and code == 0:
            return None  # os._exit(0) after printing is a normal end for a stdio program
        if any(h in stderr for h in _MEMORY_HINTS):
            return Status.MEMORY_LIMIT, None, "ran out of memory"
        if code:
            return Status.RUNTIME_ERROR, None, f"exited with status {code}"
        until = "the function returned" if style == "call" else "the tests finished"
        return Status.RUNTIME_ERROR, None, f"exited (status 0) before {until}"
    return None


def _compare(spec: dict[str, Any], index: int, report: dict[str, Any], stdout: str,
             base: dict[str, Any]) -> TestResult:
    style = spec["style"]
    if style == "assert":
        return TestResult(status=Status.PASSED, **base)
    expected = spec["cases"][index]["output"]
    if style == "stdio":
        ok = compare.stdio_equal(stdout, expected)
        got_text, expected_text = stdout, expected
    else:
        got = _returned(report)
        ok = compare.values_equal(got, expected)
        got_text, expected_text = repr(got), repr(_expected_display(expected, got))
    if ok:
        return TestResult(status=Status.PASSED, **base)
    return TestResult(status=Status.WRONG_ANSWER, expected=render.truncate(expected_text),
                      got=render.truncate(got_text), **base)


def _returned(report: dict[str, Any]) -> Any:
    """The value a call-style program returned; an opaque stand-in (equal to nothing)
    when what its process sent is not a well-formed value (its process may be rewritten)."""
    try:
        return _values.decode(report.get("value"))
    except _values.DecodeError as exc:
        return _values.Opaque(f"<unreadable value: {exc}>", "unreadable")


def build_verdict(spec: dict[str, Any], raws: dict[int, dict[str, Any]],
                  isolation: str, limits: Limits, duration: float = 0.0,
                  error: str | None = None) -> Verdict:
    """The Verdict for one program: every case has a result (SKIPPED when not run)."""
    results: list[TestResult] = []
    details: list[dict[str, Any]] = []
    stopped = False
    for index in range(case_count(spec)):
        raw = raws.get(index)
        if raw is None or stopped:
            results.append(TestResult(index=index, status=Status.SKIPPED, input=render_input(spec, index)))
            details.append({})
            continue
        result, detail = classify(spec, index, raw, limits)
        results.append(result)
        details.append(detail)
        fatal = result.status is Status.COMPILE_ERROR
        stopped = fatal or (limits.stop_at_first_failure and not result.passed)
    failures = [i for i, r in enumerate(results) if r.status not in (Status.PASSED, Status.SKIPPED)]
    if not failures and error is not None and not all(r.passed for r in results):
        first_skipped = next(i for i, r in enumerate(results) if r.status is Status.SKIPPED)
        results[first_skipped] = TestResult(index=first_skipped, status=Status.RUNTIME_ERROR,
                                            input=results[first_skipped].input, error_type="SandboxError",
                                            message=f"could not be run by the sandbox: {error}")
        failures = [first_skipped]
    passed = bool(results) and all(r.passed for r in results)
    message = fault = None
    if failures:
        first = results[failures[0]]
        message = render.error_message(first, details[failures[0]], spec["style"], limits)
        fault = render.fault(first, spec["style"])
    extra = {"sandbox_error": error} if error else {}
    return Verdict(passed=passed, results=results, isolation=isolation, error_message=message,
                   fault=fault, duration=round(duration, 6), extra=extra)
