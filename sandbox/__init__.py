"""repair_tui.sandbox: runs untrusted programs against unit tests, contained.

Imports only the standard library; knows nothing of models or SQLite.

    from repair_tui.sandbox import Sandbox, run, parse_tests
    with Sandbox() as sandbox:
        verdict = sandbox.run(program, {"style": "stdio", "cases": [...]})

docs/sandbox.md describes the test format, the comparison rules and the isolation.

The names below are loaded on first use: the fork server imports this package too,
and every module it imports (threading, logging, subprocess) makes each of its forks
slower, so the caller-side machinery stays out of its way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repair_tui.sandbox.result import Limits as Limits
    from repair_tui.sandbox.result import Status as Status
    from repair_tui.sandbox.result import TestResult as TestResult
    from repair_tui.sandbox.result import Verdict as Verdict
    from repair_tui.sandbox.runner import Sandbox as Sandbox
    from repair_tui.sandbox.runner import SandboxError as SandboxError
    from repair_tui.sandbox.runner import run as run
    from repair_tui.sandbox.runner import shared_sandbox as shared_sandbox
    from repair_tui.sandbox.spec import TestSpecError as TestSpecError
    from repair_tui.sandbox.spec import load_tests_file as load_tests_file
    from repair_tui.sandbox.spec import parse_tests as parse_tests

_EXPORTS = {
    "Limits": "result",
    "Status": "result",
    "TestResult": "result",
    "Verdict": "result",
    "Sandbox": "runner",
    "SandboxError": "runner",
    "run": "runner",
    "shared_sandbox": "runner",
    "TestSpecError": "spec",
    "load_tests_file": "spec",
    "parse_tests": "spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
