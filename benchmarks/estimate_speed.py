"""Speed of the pass@t estimator against a plain-Python Monte Carlo reference.

Builds a synthetic frozen set (default 300 tasks x 50 programs x 10 repairs, the size
of the paper's APPS sample), writes it in the paper's JSON-lines format, then times:

- ours: a fresh interpreter that reads the file and computes the full default grid
  ({1,2,5,10,25} x {1,3,5,10}) plus the baseline k = 1..50, exactly; once as the
  reference does (means only) and once with 1000 bootstrap resamples for intervals,
  as `repair-tui estimate` does by default. Whole-process wall time (interpreter
  start, imports, parsing, estimate), best of --repeat runs.
- reference: the same definition estimated the way the paper's analysis script does
  it, 1000 Monte Carlo samples per cell of the batch mode, in plain Python (timed
  in this process, computation only, so the ratio is if anything an underestimate).
  Running it in full takes minutes, so by default a fixed fraction of the samples
  is timed and the time extrapolated linearly; the output says so.

Also prints the live-tally case: a whole HumanEval run (164 tasks x 10 programs x
3 repairs) recomputed in process (pack + grid + baseline), with and without the
bootstrap.

    python benchmarks/estimate_speed.py [--fraction 0.02] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from repair_tui.core.estimate.exact import FrozenTask, pack
from repair_tui.core.estimate.grid import DEFAULT_NFR, DEFAULT_NP, grid
from repair_tui.core.estimate.synth import paper_lines, synthetic_tasks

# What the timed subprocess runs: read the paper-format file, estimate, print a summary.
DRIVER = """
import json, sys
from repair_tui.core.estimate.grid import grid
from repair_tui.core.estimate.synth import tasks_from_paper_lines
with open(sys.argv[1]) as f:
    tasks = tasks_from_paper_lines(f, sys.argv[1])
g = grid(tasks, bootstrap=int(sys.argv[2]), levels=False)
print(json.dumps({f"{c.np},{c.nfr}": [c.pass_rate, c.tokens] for c in g.rows()}))
"""

Program = tuple[float, bool, list[tuple[float, bool]]]


def reference_cell(progs: list[list[Program]], np_: int, nfr: int, samples: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Plain-Python Monte Carlo of batch (np_, nfr): per-sample mean pass rate and tokens."""
    rates: list[float] = []
    tokens: list[float] = []
    for _ in range(samples):
        solved = 0
        paid = 0.0
        for completions in progs:
            drawn = rng.sample(completions, np_)
            paid += sum(c[0] for c in drawn)
            if any(c[1] for c in drawn):
                solved += 1
                continue
            ok = False
            for c in drawn:
                for r in rng.sample(c[2], nfr) if nfr else ():
                    paid += r[0]
                    ok = ok or r[1]
            solved += ok
        rates.append(solved / len(progs))
        tokens.append(paid / len(progs))
    return rates, tokens


def time_reference(tasks: list[FrozenTask], fraction: float, seed: int) -> tuple[float, float, dict[str, tuple[float, float, float, float]]]:
    """(extrapolated seconds for 1000 samples, timed seconds, per-cell means and standard errors)."""
    progs = [[(p.tokens, p.passed, [(r.tokens, r.passed) for r in p.repairs]) for p in t.programs] for t in tasks]
    n_programs = min(len(p) for p in progs)
    cells = [(k, 0) for k in range(1, n_programs + 1)] + [(n, f) for n in DEFAULT_NP for f in DEFAULT_NFR]
    samples = max(2, round(1000 * fraction))
    rng = random.Random(seed)
    results: dict[str, tuple[float, float, float, float]] = {}
    start = time.perf_counter()
    for n, f in cells:
        rates, toks = reference_cell(progs, n, f, samples, rng)
        root = math.sqrt(samples)
        results[f"{n},{f}"] = (statistics.fmean(rates), statistics.stdev(rates) / root,
                               statistics.fmean(toks), statistics.stdev(toks) / root)
    elapsed = time.perf_counter() - start
    return elapsed * 1000 / samples, elapsed, results


def time_ours(path: Path, bootstrap: int, repeat: int) -> tuple[float, dict[str, list[float]]]:
    """Best whole-process wall time of the driver over ``repeat`` runs, and its output."""
    best = math.inf
    out: dict[str, list[float]] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", DRIVER, str(path), str(bootstrap)],
                              capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - start)
        out = json.loads(proc.stdout)
    return best, out


def time_live(repeat: int) -> tuple[float, float]:
    """Median in-process ms to recompute a HumanEval-sized run: (no bootstrap, 1000 resamples)."""
    tasks = synthetic_tasks(164, 10, 3, seed=1)
    timings: dict[int, list[float]] = {0: [], 1000: []}
    for _ in range(repeat):
        for boot in timings:
            start = time.perf_counter()
            grid(pack(tasks), bootstrap=boot)
            timings[boot].append(1000 * (time.perf_counter() - start))
    return statistics.median(timings[0]), statistics.median(timings[1000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--programs", type=int, default=50)
    parser.add_argument("--repairs", type=int, default=10)
    parser.add_argument("--fraction", type=float, default=0.02,
                        help="share of the reference's 1000 samples to time (1 = all; default 0.02)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of ours; the best counts (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tasks = synthetic_tasks(args.tasks, args.programs, args.repairs, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frozen.jsonl"
        path.write_text("\n".join(paper_lines(tasks)) + "\n")
        size = path.stat().st_size / 1e6
        ours, our_cells = time_ours(path, args.bootstrap, args.repeat)
        bare, _ = time_ours(path, 0, args.repeat)
    ref_full, ref_timed, ref_cells = time_reference(tasks, args.fraction, args.seed)
    worst = max(
        max(abs(our_cells[k][0] - m) / se if se > 0 else 0.0, abs(our_cells[k][1] - t) / tse if tse > 0 else 0.0)
        for k, (m, se, t, tse) in ref_cells.items()
    )
    live0, live_boot = time_live(max(args.repeat, 10))
    label = "full" if args.fraction >= 1 else f"{args.fraction:.0%} of the samples timed ({ref_timed:.1f} s), extrapolated linearly"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work slows both sides)")
    print(f"frozen set: {args.tasks} tasks x {args.programs} programs x {args.repairs} repairs "
          f"({size:.1f} MB in the paper's format); {len(ref_cells)} cells (grid + baseline 1..{args.programs})")
    print(f"reference, plain-Python Monte Carlo, 1000 samples, batch ({label}): {ref_full:.1f} s")
    print(f"ours, whole process (start, imports, parse, exact grid; best of {args.repeat}): {bare:.2f} s, "
          f"speed-up {ref_full / bare:.0f}x (goal: 300x)")
    print(f"ours with {args.bootstrap} bootstrap resamples for intervals (the command's default; the "
          f"reference has none): {ours:.2f} s, speed-up {ref_full / ours:.0f}x")
    print(f"agreement: worst |ours - reference| / reference standard error over all cells = {worst:.2f}")
    print(f"live recompute, 164 tasks x 10 x 3, in process: {live0:.1f} ms "
          f"(with {1000} bootstrap resamples: {live_boot:.1f} ms; goal: well under 50 ms)")


if __name__ == "__main__":
    main()
