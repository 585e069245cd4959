"""Check that the simulated model shows the paper's effects in shape (HumanEval).

Samples n_p programs per task, then n_fr repairs per failing program, in several modes:
joint self-repair with sim-strong, sim and sim-weak, sim repairing with its own
feedback, sim repairing with sim-strong's feedback, and sim tests-only repair. Programs
run in repair_tui.sandbox (or, with --no-sandbox and HumanEval, in a plain subprocess),
once per distinct program AST. Prints pass rates, repair success rates, and pass@t of
repair vs. the no-repair baseline at equal tokens (batch mode, resampled).

    python benchmarks/sim_calibration.py [--dataset humaneval] [--limit N] [--np 10] [--nfr 3]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.core.llm import prompts
from repair_tui.core.llm.extract import extract_code
from repair_tui.core.sim.model import SimModel

_CHILD = r"""
import json, sys, resource, traceback
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
job = json.loads(sys.stdin.read())
g = {"__name__": "__candidate__"}
try:
    exec(compile(job["program"], "<program>", "exec"), g)
    exec(compile(job["test"], "<test>", "exec"), g)
    g["check"](g[job["entry"]])
    print(json.dumps({"passed": True, "error": ""}))
except BaseException as exc:
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f"line {f.lineno} of the {f.filename.strip('<>')}" for f in reversed(tb)
                  if f.filename in ("<program>", "<test>")), "")
    line = next((f.line for f in reversed(tb) if f.filename == "<test>" and f.line), "")
    msg = f"{type(exc).__name__}: {exc}".strip()
    if line:
        msg += f"\nFailed check: {line.strip()}"
    print(json.dumps({"passed": False, "error": f"{msg} ({where})" if where else msg}))
"""


class Evaluator:
    """Runs programs against HumanEval tests, caching by (task, program AST)."""

    def __init__(self, workers: int = 2, sandbox: bool = True) -> None:
        self.sandbox = sandbox
        self.cache: dict[tuple[str, str], tuple[bool, str]] = {}
        self.pool = ThreadPoolExecutor(workers)
        self.runs = 0

    def key(self, task: Task, code: str) -> tuple[str, str]:
        try:
            return task.id, ast.dump(ast.parse(code))
        except (SyntaxError, ValueError):
            return task.id, code

    def run(self, task: Task, code: str) -> tuple[bool, str]:
        k = self.key(task, code)
        if k not in self.cache:
            self.cache[k] = self._run(task, code)
        return self.cache[k]

    def _run(self, task: Task, code: str) -> tuple[bool, str]:
        self.runs += 1
        if self.sandbox:
            from repair_tui.sandbox import run

            verdict = run(code, task.tests)
            return verdict.passed, verdict.error_message or verdict.fault or ""
        job = json.dumps({"program": code, "test": task.tests["test"], "entry": task.entry_point})
        try:
            out = subprocess.run([sys.executable, "-I", "-c", _CHILD], input=job, text=True,
                                 capture_output=True, timeout=3)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            return bool(res["passed"]), str(res["error"])
        except subprocess.TimeoutExpired:
            return False, "Timeout: the program took longer than 3 seconds"
        except (ValueError, IndexError):
            return False, "RuntimeError: the program crashed"

    async def arun(self, task: Task, code: str) -> tuple[bool, str]:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.run, task, code)


@dataclass
class Prog:
    tokens: int
    passed: bool
    error: str = ""
    code: str = ""
    repairs: list[Prog] = field(default_factory=list)


async def sample_task(task: Task, models: dict[str, SimModel], ev: Evaluator, np_: int,
                      nfr: int, mode: str, coder: str, explainer: str) -> list[Prog]:
    gen = await models[coder].complete(prompts.generate_messages(task), n=np_, seed=0)
    progs = []
    for c in gen.completions:
        code = extract_code(c.text)
        ok, err = await ev.arun(task, code)
        progs.append(Prog(c.tokens, ok, err, code))
    if nfr == 0:
        return progs
    for p in progs:
        if p.passed:
            continue
        if mode == "joint":
            r = await models[coder].complete(prompts.joint_messages(task, p.code, p.error), n=nfr, seed=0)
            for c in r.completions:
                _, raw = prompts.split_joint(c.text)
                code = extract_code(raw)
                ok, _ = await ev.arun(task, code)
                p.repairs.append(Prog(c.tokens, ok))
        elif mode == "tests-only":
            r = await models[coder].complete(prompts.repair_messages(task, p.code, p.error, None), n=nfr, seed=0)
            for c in r.completions:
                ok, _ = await ev.arun(task, extract_code(c.text))
                p.repairs.append(Prog(c.tokens, ok))
        else:
            fb = await models[explainer].complete(prompts.feedback_messages(task, p.code, p.error), n=nfr, seed=0)
            for f in fb.completions:
                r = await models[coder].complete(prompts.repair_messages(task, p.code, p.error, f.text), n=1, seed=0)
                c = r.completions[0]
                ok, _ = await ev.arun(task, extract_code(c.text))
                p.repairs.append(Prog(f.tokens + c.tokens, ok))
    return progs


def pass_at_t(trees: list[list[Prog]], np_: int, nfr: int, draws: int, rng: random.Random) -> tuple[float, float]:
    """(mean pass rate, mean tokens) of batch (np, nfr) self-repair, by resampling."""
    total_pass = total_tokens = 0.0
    for progs in trees:
        for _ in range(draws):
            chosen = rng.sample(progs, np_)
            tokens = sum(p.tokens for p in chosen)
            ok = any(p.passed for p in chosen)
            for p in chosen:
                if not p.passed and p.repairs:
                    reps = rng.sample(p.repairs, min(nfr, len(p.repairs)))
                    tokens += sum(r.tokens for r in reps)
                    ok = ok or any(r.passed for r in reps)
            total_pass += ok
            total_tokens += tokens
    n = len(trees) * draws
    return total_pass / n, total_tokens / n


def baseline_at(trees: list[list[Prog]], tokens: float, draws: int, rng: random.Random) -> tuple[float, float]:
    """Baseline pass rate at `tokens`: interpolate pass@k between the two k around it."""
    curve = [(0.0, 0.0)]
    for k in range(1, len(trees[0]) + 1):
        curve.append(pass_at_t([[Prog(p.tokens, p.passed) for p in t] for t in trees], k, 0, draws, rng)[::-1])
    for (t0, p0), (t1, p1) in zip(curve, curve[1:], strict=False):
        if t0 <= tokens <= t1:
            return p0 + (p1 - p0) * (tokens - t0) / (t1 - t0), tokens
    return curve[-1][1], curve[-1][0]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--np", type=int, default=10)
    ap.add_argument("--nfr", type=int, default=3)
    ap.add_argument("--base", type=int, default=25, help="programs per task for the baseline curve")
    ap.add_argument("--dataset", default="humaneval")
    ap.add_argument("--no-sandbox", action="store_true",
                    help="run HumanEval checks in a plain subprocess instead of repair_tui.sandbox")
    args = ap.parse_args()
    tasks = load_dataset(args.dataset, limit=args.limit)
    models = {n: SimModel(n, tasks=tasks, load_datasets=False) for n in ("sim", "sim-weak", "sim-strong")}
    ev = Evaluator(sandbox=not args.no_sandbox)
    start = time.monotonic()
    setups = [
        ("sim-strong joint", "joint", "sim-strong", "sim-strong"),
        ("sim joint", "joint", "sim", "sim"),
        ("sim + own feedback", "separate", "sim", "sim"),
        ("sim + sim-strong feedback", "separate", "sim", "sim-strong"),
        ("sim tests-only", "tests-only", "sim", "sim"),
        ("sim-weak joint", "joint", "sim-weak", "sim-weak"),
    ]
    rng = random.Random(0)
    for label, mode, coder, explainer in setups:
        trees = await asyncio.gather(*(
            sample_task(t, models, ev, args.np, args.nfr, mode, coder, explainer) for t in tasks))
        progs = [p for t in trees for p in t]
        reps = [r for p in progs for r in p.repairs]
        fixed_programs = sum(1 for p in progs if not p.passed and any(r.passed for r in p.repairs))
        failing = sum(1 for p in progs if not p.passed)
        print(f"\n== {label}: pass@1 {sum(p.passed for p in progs) / len(progs):.3f}; "
              f"repairs passing {sum(r.passed for r in reps)}/{len(reps)} "
              f"({sum(r.passed for r in reps) / max(1, len(reps)):.3f}); failing programs repaired "
              f"{fixed_programs}/{failing} ({fixed_programs / max(1, failing):.3f})")
        if mode != "joint" and label != "sim + sim-strong feedback":
            continue
        base = await asyncio.gather(*(
            sample_task(t, models, ev, args.base, 0, "none", coder, coder) for t in tasks))
        base = [[Prog(p.tokens, p.passed) for p in b] for b in base]
        for np_, nfr in ((1, 1), (2, 1), (5, 1), (5, 3), (10, 1), (10, 3)):
            if np_ > args.np or nfr > args.nfr:
                continue
            pr, tok = pass_at_t(trees, np_, nfr, 40, rng)
            bp, btok = baseline_at(base, tok, 40, rng)
            print(f"  np={np_:2d} nfr={nfr}: repair {pr:.3f} at {tok:6.0f} tokens; "
                  f"baseline {bp:.3f} at {btok:6.0f}; ratio {pr / max(bp, 1e-9):.3f}")
    print(f"\n{ev.runs} program runs, {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
