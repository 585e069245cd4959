"""`repair-tui explore`: the app's actions after a run, from the command line.

Each action is an exploration of the run (core/store/explore.py): it lives in the run's
tree with its own mark and tallies and never changes the run's numbers. Actions that
run programs take ``--executor local|ray``. With ``--json`` every action prints one
JSON object (the README lists their fields).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from repair_tui.tui.cli import add_db_option, add_executor_options, positive_int
from repair_tui.tui.untrusted import visible

if TYPE_CHECKING:
    from repair_tui.core.engine.steps import Engine
    from repair_tui.core.store.records import Node, Run
    from repair_tui.core.store.store import Store


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explore",
        help="act on a run after it was sampled: feedback, repairs, reruns, re-executions",
        description="What a person does after a run, scripted: write feedback, repair from "
        "any feedback, rerun a branch, re-execute a program, import feedback written "
        "elsewhere, list the explorations and compare human with model feedback. "
        "Nothing here changes the run's own numbers.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func: Callable[[argparse.Namespace], int],
               *, runs_programs: bool = False, models: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("name", metavar="NAME", help="the run's name (see `repair-tui runs`)")
        add_db_option(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        if runs_programs:
            add_executor_options(p)
        if models:
            p.add_argument("--base-url", metavar="URL", default=None,
                           help="OpenAI-compatible endpoint (default: the run's)")
            p.add_argument("--api-key", metavar="KEY", default=None,
                           help="API key (default: $OPENAI_API_KEY); never stored")
        p.set_defaults(func=func)
        return p

    p = action("feedback", "store a person's feedback on a program and print its key",
               run_feedback)
    p.add_argument("program", metavar="PROGRAM_KEY", help="the program's node key")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", metavar="TEXT", help="the feedback")
    text.add_argument("--file", metavar="F", help="read the feedback from this file (- : stdin)")

    p = action("repair", "repair from one feedback, execute, print the new programs",
               run_repair_cmd, runs_programs=True, models=True)
    p.add_argument("feedback", metavar="FEEDBACK_KEY", help="the feedback's node key")
    _repair_options(p)

    p = action("rerun", "a new feedback-and-repair branch for a program (the run's mode)",
               run_rerun, runs_programs=True, models=True)
    p.add_argument("program", metavar="PROGRAM_KEY", help="the program's node key")
    p.add_argument("--nfr", type=positive_int, default=None,
                   help="feedback-repair pairs (default: the run's nfr)")

    p = action("reexec", "run a program's tests again; print the stored and the new verdict",
               run_reexec, runs_programs=True)
    p.add_argument("program", metavar="PROGRAM_KEY", help="the program's node key")

    p = action("import", "store people's feedback in bulk from JSON lines "
               '({"program": KEY, "text": ...}), optionally repairing from each',
               run_import, runs_programs=True, models=True)
    p.add_argument("file", metavar="FILE.jsonl", help="one feedback per line")
    p.add_argument("--repair", type=positive_int, default=None, metavar="N",
                   help="sample N repairs from each imported feedback")
    p.add_argument("--model", metavar="M", default=None, help="repair model (default: the run's)")
    p.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="repair temperature (default: the run's)")

    action("list", "the run's explorations with their tallies", run_list)
    p = action("compare", "human versus model feedback on the same programs, with a "
               "bootstrap confidence interval over programs", run_compare)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def _repair_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=positive_int, default=None, metavar="N",
                   help="repairs to sample (default: the run's nfr)")
    p.add_argument("--model", metavar="M", default=None, help="repair model (default: the run's)")
    p.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="sampling temperature (default: the run's)")


# --- plumbing ----------------------------------------------------------------------------


T = TypeVar("T")


def _with_engine(args: argparse.Namespace, store: Store, run: Run,
                 step: Callable[[Engine], Awaitable[T]]) -> T:
    """Run one exploration step on an engine with the executor the options name, in one
    event loop (the engine's models belong to it), and close them after."""
    from repair_tui.core.engine.executors import make_executor
    from repair_tui.core.engine.steps import open_engine

    executor = None
    if getattr(args, "executor", None) is not None:
        executor = make_executor(args.executor, address=getattr(args, "ray_address", None))
    engine = open_engine(store, run.id, source="cli", executor=executor,
                         api_key=getattr(args, "api_key", None),
                         base_url=getattr(args, "base_url", None))

    async def go() -> T:
        try:
            return await step(engine)
        finally:
            await engine.aclose()

    try:
        return asyncio.run(go())
    finally:
        if executor is not None:
            executor.close()


def _node(store: Store, run: Run, key: str, kind: str) -> Node:
    from repair_tui.core.errors import UserError

    node = store.get_node_by_key(run.id, key)
    if node is None or node.kind != kind:
        raise UserError(f"run {visible(run.name)!r} has no {kind} with key {visible(key)!r}")
    return node


def _program_dict(node: Node) -> dict[str, Any]:
    return {"key": node.key, "passed": node.passed, "fault": node.fault, "model": node.model,
            "tokens": node.tokens}


def _emit(args: argparse.Namespace, obj: dict[str, Any], lines: list[str]) -> int:
    if args.json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        for line in lines:
            print(visible(line))
    return 0


def _read_text(args: argparse.Namespace) -> str:
    from repair_tui.core.errors import UserError

    if args.text is not None:
        return str(args.text)
    try:
        return sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read feedback file {args.file}: {exc}") from None


def _open(args: argparse.Namespace, *, create: bool = True) -> Store:
    from repair_tui.core.store.store import Store

    return Store.open(getattr(args, "db", None), create=create)


def _results(nodes: list[Node]) -> list[str]:
    out = []
    for n in nodes:
        verdict = "passes" if n.passed else f"fails ({n.fault})" if n.passed is False else "not run"
        out.append(f"{n.kind} {n.key}" + (f": {verdict}" if n.kind == "program" else ""))
    return out


# --- actions -------------------------------------------------------------------------------


def run_feedback(args: argparse.Namespace) -> int:
    text = _read_text(args)
    with _open(args) as store:
        run = store.get_run(args.name)
        program = _node(store, run, args.program, "program")
        async def step(engine: Engine) -> Node:
            return engine.add_human_feedback(program.id, text)

        node = _with_engine(args, store, run, step)
    return _emit(args, {"run": run.name, "exploration": node.exploration_id,
                        "program": program.key, "feedback": node.key},
                 [node.key])


def run_repair_cmd(args: argparse.Namespace) -> int:
    with _open(args) as store:
        run = store.get_run(args.name)
        feedback = _node(store, run, args.feedback, "feedback")
        repairs = _with_engine(args, store, run, lambda engine: engine.repair_from_feedback(
            feedback.id, n=args.n, model=args.model, temperature=args.temperature))
    x = repairs[0].exploration_id if repairs else None
    return _emit(args, {"run": run.name, "exploration": x, "feedback": feedback.key,
                        "repairs": [_program_dict(r) for r in repairs],
                        "passed": sum(1 for r in repairs if r.passed)},
                 _results(repairs) or ["no repair was stored (the model call failed)"])


def run_rerun(args: argparse.Namespace) -> int:
    with _open(args) as store:
        run = store.get_run(args.name)
        program = _node(store, run, args.program, "program")
        repairs = _with_engine(args, store, run,
                               lambda engine: engine.rerun_branch(program.id, nfr=args.nfr))
        feedback = [store.get_node(r.parent_id) for r in repairs if r.parent_id]
    keys = list(dict.fromkeys(f.key for f in feedback))
    x = repairs[0].exploration_id if repairs else None
    return _emit(args, {"run": run.name, "exploration": x, "program": program.key,
                        "feedback": keys, "repairs": [_program_dict(r) for r in repairs],
                        "passed": sum(1 for r in repairs if r.passed)},
                 _results(repairs) or [f"program {program.key} passes: nothing to rerun"])


def run_reexec(args: argparse.Namespace) -> int:
    with _open(args) as store:
        run = store.get_run(args.name)
        program = _node(store, run, args.program, "program")
        node, execution = _with_engine(args, store, run,
                                       lambda engine: engine.reexecute(program.id))
    stored = {"passed": node.passed, "fault": node.fault}
    new = stored if execution is None else {"passed": execution.passed, "fault": execution.fault}
    flaky = execution is not None and execution.passed != node.passed
    word = {True: "passes", False: "fails", None: "not run"}
    return _emit(args, {"run": run.name, "program": node.key,
                        "exploration": None if execution is None else execution.exploration_id,
                        "stored": stored, "new": new, "flaky": flaky},
                 [f"stored verdict: {word[node.passed]}" + (f" ({node.fault})" if node.fault else ""),
                  f"new verdict: {word[new['passed']]}" + (f" ({new['fault']})" if new["fault"] else ""),
                  *(["flaky: the verdict changed (the run's numbers keep the stored one)"]
                    if flaky else [])])


def _import_lines(path: str) -> list[tuple[int, str, str]]:
    """(line number, program key, text) per line; UserError naming the file, line, field."""
    from repair_tui.core.errors import UserError

    try:
        raw = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    out = []
    for i, line in enumerate(raw, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{i}: not JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{i}: a line must be an object with program and text")
        for field in ("program", "text"):
            if not isinstance(obj.get(field), str) or not obj[field].strip():
                raise UserError(f"{path}:{i}: field {field!r} must be a non-empty string")
        out.append((i, obj["program"], obj["text"]))
    if not out:
        raise UserError(f"{path}: no feedback lines")
    return out


def run_import(args: argparse.Namespace) -> int:
    from repair_tui.core.errors import UserError

    lines = _import_lines(args.file)
    with _open(args) as store:
        run = store.get_run(args.name)
        programs = {}
        for i, key, _ in lines:  # every key checked before anything is stored
            node = store.get_node_by_key(run.id, key)
            if node is None or node.kind != "program":
                raise UserError(f"{args.file}:{i}: run {visible(run.name)!r} has no program "
                                f"{visible(key)!r}")
            programs[key] = node
        async def step(engine: Engine) -> tuple[int, list[Node], list[Node]]:
            with store.transaction():  # all the feedback, or none of it
                x = engine.explore("import", {"file": Path(args.file).name,
                                              "lines": len(lines), "repair": args.repair})
                feedback = [engine.add_human_feedback(programs[key].id, text, exploration=x)
                            for _, key, text in lines]
            if not args.repair:
                return x, feedback, []
            batches = await asyncio.gather(*(
                engine.repair_from_feedback(f.id, n=args.repair, model=args.model,
                                            temperature=args.temperature, exploration=x)
                for f in feedback))
            return x, feedback, [r for batch in batches for r in batch]

        x, feedback, repairs = _with_engine(args, store, run, step)
    passed = sum(1 for r in repairs if r.passed)
    return _emit(args, {"run": run.name, "exploration": x,
                        "feedback": [f.key for f in feedback],
                        "repairs": len(repairs), "passed": passed},
                 [f"stored {len(feedback)} feedback as exploration {x}"]
                 + ([f"{len(repairs)} repairs, {passed} pass"] if args.repair else []))


def run_list(args: argparse.Namespace) -> int:
    with _open(args, create=False) as store:
        run = store.get_run(args.name)
        tallies = store.explorations(run.id)
        totals = store.run_totals(run.id, scope="explorations")
        flaky = store.run_totals(run.id).flaky
    obj = {"run": run.name, "explorations": [t.to_dict() for t in tallies],
           "totals": {"explorations": len(tallies), "feedback": sum(t.feedback for t in tallies),
                      "repairs": totals.repairs, "passed": totals.repairs_passed,
                      "tokens": totals.tokens,
                      "reexecutions": sum(t.reexecutions for t in tallies),
                      "flaky_programs": flaky}}
    lines = [f"{t.id:>4}  {t.kind:<9} {t.source:<9} feedback {t.feedback:>3}  repairs "
             f"{t.passed}/{t.repairs} pass  re-executions {t.reexecutions} "
             f"({t.changed} changed)  {t.created_utc[:19]}" for t in tallies]
    lines.append(f"{len(tallies)} exploration(s); repairs {totals.repairs_passed}/"
                 f"{totals.repairs} pass; flaky: {flaky} program(s). None of this is in "
                 f"the run's numbers.")
    return _emit(args, obj, lines)


def run_compare(args: argparse.Namespace) -> int:
    from repair_tui.core.estimate.paired import by_repair_model, paired_comparison

    with _open(args, create=False) as store:
        run = store.get_run(args.name)
        rows = store.paired_repair_rows(run.id)
    overall = paired_comparison(rows, seed=args.seed)
    models = by_repair_model(rows, seed=args.seed)
    obj = {"run": run.name, **overall.to_dict(),
           "by_repair_model": {m: c.to_dict() for m, c in models.items()}}

    def line(label: str, c: Any) -> str:
        if c.estimate is None:
            return f"{label}: no program has repairs from both human and model feedback"
        lo, hi = c.ci
        return (f"{label}: human {c.human.passed}/{c.human.repairs} "
                f"({100 * c.human.pass_rate:.1f}%) vs model {c.model.passed}/{c.model.repairs} "
                f"({100 * c.model.pass_rate:.1f}%) on {c.human.programs} program(s); "
                f"difference {100 * c.estimate:+.1f} points, {int(100 * c.confidence)}% CI "
                f"[{100 * lo:+.1f}, {100 * hi:+.1f}]")

    return _emit(args, obj, [line("all repair models", overall),
                             *(line(f"repair model {m}", c) for m, c in models.items())])
