"""`repair-tui run`: sample, execute, explain and repair a dataset into the database.

The engine (core/engine/run.py) does the work; this module turns its events into a
rich progress bar and its end into a summary, and turns Ctrl-C into a clean stop
with the command that resumes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from repair_tui.tui.cli import add_db_option, add_executor_options, count_int, positive_int
from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.core.engine.events import Event
    from repair_tui.core.store.records import Run, RunConfig
    from rich.progress import Progress, TaskID


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run self-repair on a dataset: sample programs, test, explain, repair",
        description="Sample NP programs per task, run their tests in the sandbox, and for "
        "every failing program sample NFR feedback-repair pairs (joint: one call explains "
        "and fixes; separate: the feedback model explains, the code model fixes; tests-only: "
        "the fix sees only the error message). Everything is stored in the database; run "
        "the same command again (or --resume NAME) to finish an interrupted run.",
    )
    p.add_argument("--dataset", metavar="DATASET",
                   help="humaneval, apps-sample, apps:PATH (folder or .jsonl) or jsonl:PATH")
    p.add_argument("--model", metavar="MODEL",
                   help="code model: sim, sim-weak, sim-strong (simulated) or an endpoint's model name")
    p.add_argument("--feedback-model", metavar="MODEL", default=None,
                   help="model that explains failures in separate mode (default: --model)")
    p.add_argument("--base-url", metavar="URL", default=None,
                   help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or OpenAI)")
    p.add_argument("--api-key", metavar="KEY", default=None,
                   help="API key (default: $OPENAI_API_KEY); never stored")
    p.add_argument("--np", type=positive_int, default=10, help="programs per task (default 10)")
    p.add_argument("--nfr", type=count_int, default=3,
                   help="feedback-repair pairs per failing program (default 3)")
    p.add_argument("--mode", choices=("joint", "separate", "tests-only"), default="joint",
                   help="how feedback and repair are sampled (default joint)")
    p.add_argument("--depth", type=positive_int, default=1,
                   help="repair levels: failing repairs are explained and repaired again (default 1)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    p.add_argument("--feedback-temperature", type=float, default=None,
                   help="temperature of the feedback model (default: --temperature)")
    p.add_argument("--max-tokens", type=positive_int, default=1024, help="tokens per completion (default 1024)")
    p.add_argument("--seed", type=int, default=0, help="run seed; every call's seed derives from it (default 0)")
    p.add_argument("--split", default=None, help="APPS split: train or test")
    p.add_argument("--difficulty", default=None, help="APPS difficulty: introductory, interview, competition")
    p.add_argument("--limit", type=count_int, default=None, help="only the first N tasks")
    p.add_argument("--ids", nargs="+", default=(), metavar="ID", help="only these task ids")
    p.add_argument("--concurrency", type=positive_int, default=16, help="model calls in flight (default 16)")
    p.add_argument("--sim-latency", type=_seconds, default=0.0, metavar="S",
                   help="seconds each simulated call takes (to try concurrency; default 0)")
    add_executor_options(p, default=None)
    p.add_argument("--name", default=None,
                   help="run name (default: built from dataset, model, np, nfr and mode)")
    p.add_argument("--resume", metavar="NAME", default=None,
                   help="finish the stored run NAME with its own configuration")
    p.add_argument("--json", action="store_true", help="print the final totals as JSON")
    add_db_option(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    from repair_tui.core.errors import UserError
    from repair_tui.core.store.records import RunConfig

    for option in ("dataset", "model"):
        if not getattr(args, option):
            raise UserError(f"--{option} is required (or --resume NAME)")
    return RunConfig(
        dataset=args.dataset, model=args.model, feedback_model=args.feedback_model,
        base_url=args.base_url, np=args.np, nfr=args.nfr, mode=args.mode, depth=args.depth,
        temperature=args.temperature, feedback_temperature=args.feedback_temperature,
        max_tokens=args.max_tokens, seed=args.seed, limit=args.limit, split=args.split,
        difficulty=args.difficulty, task_ids=tuple(args.ids), concurrency=args.concurrency,
        sim_latency=args.sim_latency, executor=args.executor or "local",
        ray_address=args.ray_address,
    )


def default_name(config: RunConfig) -> str:
    """A name that the same command gives again, so repeating it resumes."""
    dataset = config.dataset.rsplit("/", 1)[-1] if ":" in config.dataset else config.dataset
    models = config.model if not config.feedback_model else f"{config.model}+{config.feedback_model}"
    extra = "" if config.limit is None else f"-limit{config.limit}"
    # Settings other than the defaults name the run too, so that changing one of them
    # starts a new run instead of failing on the stored one's configuration.
    for label, value, default in (("depth", config.depth, 1), ("t", config.temperature, 0.8),
                                  ("seed", config.seed, 0), ("split-", config.split, None),
                                  ("", config.difficulty, None)):
        if value != default:
            extra += f"-{label}{value}"
    if config.task_ids:
        extra += f"-ids{len(config.task_ids)}"
    return f"{dataset}-{models}-np{config.np}-nfr{config.nfr}-{config.mode}{extra}"


# Options that decide what a run samples: (argument, config field, the parser's default).
_SAMPLE_OPTIONS = (
    ("dataset", "dataset", None), ("model", "model", None),
    ("feedback_model", "feedback_model", None), ("np", "np", 10), ("nfr", "nfr", 3),
    ("mode", "mode", "joint"), ("depth", "depth", 1), ("temperature", "temperature", 0.8),
    ("feedback_temperature", "feedback_temperature", None), ("max_tokens", "max_tokens", 1024),
    ("seed", "seed", 0), ("limit", "limit", None), ("split", "split", None),
    ("difficulty", "difficulty", None), ("ids", "task_ids", ()),
)


def resume_conflicts(args: argparse.Namespace, stored: RunConfig) -> list[str]:
    """The options given with --resume whose values would change the stored run's sample,
    as ``--np 5 (sampled with 10)``."""
    out = []
    for arg, field, default in _SAMPLE_OPTIONS:
        value = getattr(args, arg)
        value = tuple(value) if arg == "ids" else value
        if value == default or value is None:
            continue
        have = getattr(stored, field)
        if value != have:
            flag = "--" + arg.replace("_", "-")
            shown = " ".join(value) if arg == "ids" else value
            was = " ".join(have) if arg == "ids" else have
            out.append(f"{flag} {shown} (sampled with {was})")
    return out


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.engine.run import run_repair
    from repair_tui.core.errors import UserError
    from repair_tui.core.store.store import Store

    if args.resume and (args.dataset or args.model):
        raise UserError("--resume NAME takes the stored configuration: drop --dataset and --model")
    if args.resume:
        with Store.open(getattr(args, "db", None)) as store:
            stored = store.get_run(args.resume)
        conflicts = resume_conflicts(args, stored.config)
        if conflicts:
            raise UserError(
                f"--resume {args.resume} keeps the run's sample, and these options would "
                f"change it: {'; '.join(conflicts)}. Drop them, or start a new run with --name")
    if args.ray_address and args.executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    config = None if args.resume else config_from_args(args)
    name = args.resume or args.name or default_name(config)  # type: ignore[arg-type]
    db = getattr(args, "db", None)
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY")
    with Store.open(db) as store, _resume_executor(args) as executor:
        display = ProgressDisplay(name, quiet=args.json)
        try:
            with display:
                final = asyncio.run(run_repair(store, name, config, sink=display.on_event,
                                               api_key=api_key, executor=executor))
        except KeyboardInterrupt:
            hint = f"repair-tui run --resume {_quote(name)}" + (f" --db {_quote(str(db))}" if db else "")
            print(f"repair-tui: interrupted; what finished is stored. Resume with: {hint}", file=sys.stderr)
            return 130
        totals = store.run_totals(final.id)
    _summary(final, totals, args.json, display.elapsed)
    return 0


def _resume_executor(args: argparse.Namespace) -> Any:
    """With --resume and --executor: that executor instead of the stored one (a new run's
    executor is in its configuration and made by the engine)."""
    import contextlib

    if not (args.resume and args.executor):
        return contextlib.nullcontext(None)
    from repair_tui.core.engine.executors import make_executor
    from repair_tui.core.engine.run import run_workers

    return make_executor(args.executor, address=args.ray_address,
                         workers=run_workers() if args.executor == "local" else None)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _summary(run_: Run, totals: Any, as_json: bool, elapsed: float) -> None:
    from dataclasses import asdict

    if as_json:
        print(json.dumps({"run": run_.name, "status": run_.status, "message": run_.message,
                          "isolation": run_.isolation, "seconds": round(elapsed, 2), **asdict(totals)}))
        return
    from rich.console import Console

    c = Console()
    rate = totals.solved / totals.attempted if totals.attempted else 0.0
    c.print(f"[bold]{_plain(run_.name)}[/]: {run_.status} in {elapsed:.1f} s; "
            f"solved {totals.solved}/{totals.attempted} tasks ({rate:.1%}), "
            f"{totals.solved_by_repair} only by repair")
    c.print(f"programs {totals.programs_passed}/{totals.programs} passing, "
            f"repairs {totals.repairs_passed}/{totals.repairs} passing, "
            f"{totals.tokens:,} tokens generated in {totals.calls:,} calls")
    if run_.message:
        c.print(f"[yellow]{_plain(run_.message)}[/]")
    c.print(f"next: repair-tui estimate {_plain(_quote(run_.name))}   |   repair-tui   (browse the trees)")


class ProgressDisplay:
    """A rich progress bar fed by engine events: tasks done and solved, calls, tokens,
    pass rate so far, ETA."""

    def __init__(self, name: str, *, quiet: bool = False) -> None:
        self.name = name
        self.quiet = quiet
        self.start = time.monotonic()
        self.done = self.solved = self.calls = self.tokens = self.failed = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __enter__(self) -> ProgressDisplay:
        return self

    def _start(self) -> None:
        """Show the bar once the run has started, so an error in the options or the
        dataset is the only thing printed."""
        if self._progress is not None:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, disable=self.quiet, transient=False,
        )
        self._progress.start()
        self._note(f"run [bold]{_plain(self.name)}[/]")
        self._task = self._progress.add_task("tasks", total=None, stats="starting")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_event(self, event: Event) -> None:
        from repair_tui.core.engine import events as ev

        if isinstance(event, ev.RunStarted):
            self._start()
            self.start = time.monotonic()
            self._update(total=event.tasks)
            if event.resumed:
                self._note(f"resuming {event.name}: stored calls are reused, not repeated")
        elif isinstance(event, ev.CallFinished):
            self.calls += 1
            self.tokens += event.tokens
        elif isinstance(event, ev.CallFailed):
            self.failed += 1
            self._note(f"[yellow]call failed[/] ({_plain(event.task_id)}, {event.role}): "
                       f"{_plain(event.error)}")
        elif isinstance(event, ev.TaskFinished):
            self.done += 1
            self.solved += int(event.solved)
        self._update()

    def _note(self, text: str) -> None:
        if self._progress is not None and not self.quiet:
            self._progress.console.print(text)

    def _update(self, total: int | None = None) -> None:
        if self._progress is None or self._task is None:
            return
        rate = f"{self.solved / self.done:.1%}" if self.done else "-"
        stats = (f"solved {self.solved} ({rate})  calls {self.calls:,}  tok {self.tokens:,}"
                 + (f"  failed {self.failed}" if self.failed else ""))
        kwargs: dict[str, Any] = {"completed": self.done, "stats": stats}
        if total is not None:
            kwargs["total"] = total
        self._progress.update(self._task, **kwargs)


def _plain(text: str) -> str:
    """Untrusted text for a Rich markup string: no markup, no control characters."""
    from rich.markup import escape

    return escape(visible(text, keep_newlines=False))
