"""The self-repair steps on one stored run: sample, execute, explain, repair.

An `Engine` owns the models and the executor of one run and performs single steps,
each stored atomically through the `Store` and reported as plain events
(core/engine/events.py). `run_repair` (core/engine/run.py) drives whole runs with them; the
app calls the same steps one at a time (explain one program, store a person's
feedback, repair from one feedback, rerun a branch, re-execute).

Every model call has a deterministic key (``role|parent-key|index``) and a seed
derived from the run's seed and that key: a stored call is never made again, and a
resumed run samples exactly what an uninterrupted one would have.

What the app or ``repair-tui explore`` does after a run is an exploration: each action
gets a new id from the store (unique across processes), which goes into its keys
(``role|parent-key|x7.0``) and marks its nodes, so it never counts in the run's sample
and two actions on the same parent at once both land.

The Store belongs to the thread that opened it: use an Engine from that thread's
event loop. A whole run hands its writes to a `StoreWriter` (its own thread and
connection, batched transactions, each step still whole), so the loop keeps serving
calls while SQLite writes. Programs run through an executor (core/engine/executors: the local
sandbox or a Ray cluster), whose verdicts are awaited without blocking the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from repair_tui.core.datasets.task import Task
from repair_tui.core.engine.events import (
    CallFailed,
    CallFinished,
    EventSink,
    NodeStored,
    ProgramExecuted,
    ignore,
)
from repair_tui.core.engine.executors import Executor, LocalExecutor
from repair_tui.core.engine.pool import PriorityPool
from repair_tui.core.errors import CallError, UserError
from repair_tui.core.llm import prompts
from repair_tui.core.llm.client import ChatModel, ModelReply
from repair_tui.core.llm.extract import extract_code
from repair_tui.core.llm.tokens import count_tokens
from repair_tui.core.models import make_model
from repair_tui.core.store.explore import Execution
from repair_tui.core.store.records import (
    NewCall,
    NewNode,
    Node,
    Run,
    call_key,
    feedback_key,
    program_key,
    repair_key,
)
from repair_tui.core.store.store import Store
from repair_tui.core.store.writer import StoreWriter
from repair_tui.sandbox.result import Verdict
from repair_tui.sandbox.runner import Sandbox, shared_sandbox

NodeBuilder = Callable[[ModelReply], list[NewNode]]


def call_seed(run_seed: int, key: str) -> int:
    """The sampling seed of one call: a stable 31-bit hash of (run seed, call key)."""
    digest = hashlib.sha256(f"{run_seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class CallSpec:
    """One model call to make (or find stored): what to ask and how."""

    task: Task
    role: str
    key: str
    model: str
    messages: list[dict[str, str]]
    n: int
    temperature: float
    priority: int = 0
    prompt: str = ""  # prompt kind for PROMPT_VERSIONS; default: the role
    exploration: int | None = None  # None: a call of the run's sample


class Engine:
    """Single self-repair steps on the stored run ``run`` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        run: Run,
        *,
        sandbox: Sandbox | None = None,
        sink: EventSink = ignore,
        api_key: str | None = None,
        models: dict[str, ChatModel] | None = None,
        executor: Executor | None = None,
        source: str = "app",
        writer: StoreWriter | None = None,
    ) -> None:
        self.store = store
        # A whole run's writes go through a writer thread (core/store/writer.py); the
        # app's single steps write directly.
        self.writer = writer
        self.source = source  # who takes the actions: recorded on each exploration
        self.run = run
        self.config = run.config
        self.sink = sink
        self.api_key = api_key
        self._executor = executor or (None if sandbox is None else LocalExecutor(sandbox))
        self._own_executor = executor is None  # a wrapper of the given or shared sandbox
        self._models: dict[str, ChatModel] = dict(models or {})
        self._owned_models: list[ChatModel] = []
        self._tasks: dict[str, Task] | None = None
        self.pool = PriorityPool(max(1, self.config.concurrency))
        self.failed_calls = 0

    # --- resources ------------------------------------------------------------------

    @property
    def executor(self) -> Executor:
        """Where programs run (default: the process's shared local sandbox)."""
        if self._executor is None:
            self._executor = LocalExecutor(shared_sandbox())
        return self._executor

    def tasks(self) -> dict[str, Task]:
        """The run's tasks by id (read once from the store)."""
        if self._tasks is None:
            self._tasks = {t.id: _with_prompt(t) for t in self.store.get_tasks(self.run.id)}
        return self._tasks

    def task(self, task_id: str) -> Task:
        task = self.tasks().get(task_id)
        if task is None:
            raise UserError(f"run {self.run.name!r} has no task {task_id!r}")
        return task

    def model(self, name: str | None = None) -> ChatModel:
        """The model called ``name`` (default: the run's code model), made once."""
        name = name or self.config.model
        if name not in self._models:
            model = make_model(
                name,
                base_url=self.config.base_url,
                api_key=self.api_key,
                concurrency=self.config.concurrency,
                sim_latency=self.config.sim_latency,
                tasks=list(self.tasks().values()),
            )
            self._models[name] = model
            self._owned_models.append(model)
        return self._models[name]

    @property
    def feedback_model_name(self) -> str:
        return str(self.config.feedback_model or self.config.model)

    @property
    def feedback_temperature(self) -> float:
        t = self.config.feedback_temperature
        return float(self.config.temperature if t is None else t)

    async def aclose(self) -> None:
        """Close the models this engine made (the executor is shared or the caller's)."""
        for model in self._owned_models:
            await model.aclose()
        self._owned_models.clear()
        self._models.clear()
        if self._own_executor and self._executor is not None:
            self._executor.close()  # its waiting threads; the sandbox is not ours
            self._executor = None

    # --- calls ----------------------------------------------------------------------

    async def call(self, spec: CallSpec, build: NodeBuilder) -> list[Node] | None:
        """Make one call (or find it stored) and store the nodes ``build`` makes of it.

        Returns the call's nodes, or None when the call failed (stored as an error,
        retried by a later resume). Errors that stop every call (a wrong key, an
        unknown model, an unreachable server) propagate as ModelError.
        """
        run_id = self.run.id
        stored = self.store.get_call_by_key(run_id, spec.key)
        if stored is not None and stored.status == "ok":
            nodes = self.store.call_nodes(stored.id)
            self.sink(CallFinished(run_id, spec.task.id, spec.role, sum(n.tokens for n in nodes), cached=True))
            return list(nodes)
        model = self.model(spec.model)
        seed = call_seed(self.config.seed, spec.key)
        params = {"n": spec.n, "temperature": spec.temperature,
                  "max_tokens": self.config.max_tokens, "seed": seed}
        try:
            async with self.pool.slot(spec.priority):
                reply = await model.complete(
                    spec.messages, n=spec.n, temperature=spec.temperature,
                    max_tokens=self.config.max_tokens, seed=seed,
                )
        except CallError as exc:
            self.failed_calls += 1
            await self._write("add_call", run_id, self._new_call(spec, params, None, str(exc)))
            self.sink(CallFailed(run_id, spec.task.id, spec.role, str(exc)))
            return None
        _, nodes = await self._write(
            "add_call", run_id, self._new_call(spec, params, reply, None), build(reply)
        )
        self.sink(CallFinished(run_id, spec.task.id, spec.role, sum(c.tokens for c in reply.completions)))
        for node in nodes:
            self.sink(NodeStored(run_id, node.task_id, node.id, node.kind, node.depth))
        return list(nodes)

    async def _write(self, method: str, *args: Any) -> Any:
        """``Store.<method>(*args)``: on the writer thread when there is one."""
        if self.writer is None:
            return getattr(self.store, method)(*args)
        return await self.writer.write(method, *args)

    def _new_call(
        self, spec: CallSpec, params: dict[str, object], reply: ModelReply | None, error: str | None
    ) -> NewCall:
        kind = spec.prompt or spec.role
        return NewCall(
            task_id=spec.task.id,
            key=spec.key,
            role=spec.role,
            model=spec.model,
            messages=spec.messages,
            params=dict(params),
            response=None if reply is None else reply.raw,
            prompt_tokens=None if reply is None else reply.usage.prompt_tokens,
            completion_tokens=None if reply is None else (
                reply.usage.completion_tokens
                if reply.usage.completion_tokens is not None
                else sum(c.tokens for c in reply.completions)
            ),
            latency=0.0 if reply is None else reply.latency,
            requests=1 if reply is None else reply.requests,
            status="error" if reply is None else "ok",
            error=error,
            prompt_version=prompts.PROMPT_VERSIONS.get(kind),
            exploration_id=spec.exploration,
        )

    # --- execution --------------------------------------------------------------------

    async def execute(self, nodes: Sequence[Node]) -> list[Node]:
        """Run the unexecuted programs among ``nodes`` in the sandbox, in parallel, and
        store their verdicts in one transaction. Returns every program node, executed."""
        programs = [n for n in nodes if n.kind == "program"]
        todo = [n for n in programs if n.passed is None]
        if todo:
            verdicts = await self._verdicts(todo)
            items = list(zip((n.id for n in todo), verdicts, strict=True))
            done = {n.id: n for n in await self._write("record_verdicts", items)}
            for node in done.values():
                self.sink(ProgramExecuted(self.run.id, node.task_id, node.id, node.depth,
                                          bool(node.passed), node.fault))
            programs = [done.get(n.id, n) for n in programs]
        return programs

    async def _verdicts(self, nodes: Sequence[Node]) -> list[Verdict]:
        executor = self.executor
        return list(await asyncio.gather(
            *(executor.execute(n.code or "", self.task(n.task_id).tests) for n in nodes)
        ))

    async def reexecute(self, program_id: int) -> tuple[Node, Execution | None]:
        """Run one stored program's tests again, as an exploration: the new verdict is
        kept beside the first one, which stays on the node (and in the sample's
        numbers). A program never executed gets its first verdict instead (None)."""
        node = self._program(program_id)
        if node.passed is None:
            (node,) = await self.execute([node])
            return node, None
        verdict = (await self._verdicts([node]))[0]
        x = self.explore("reexec", {"program": node.key})
        execution = self.store.record_execution(node.id, verdict, x)
        node = self.store.get_node(node.id)
        self.sink(ProgramExecuted(self.run.id, node.task_id, node.id, node.depth,
                                  bool(verdict.passed), verdict.fault))
        return node, execution

    def explore(self, kind: str, params: dict[str, object] | None = None) -> int:
        """Record a new exploration of this run (one action) and return its id."""
        return int(self.store.create_exploration(
            self.run.id, kind, source=self.source, params=dict(params or {})).id)

    # --- steps ------------------------------------------------------------------------

    async def generate(self, task: Task, *, priority: int = 0) -> list[Node]:
        """The run's ``np`` first programs of a task, sampled in one call and executed."""
        spec = CallSpec(task, "generate", call_key(task.id, "generate", None, 0),
                        self.config.model, prompts.generate_messages(task), self.config.np,
                        self.config.temperature, priority)

        def build(reply: ModelReply) -> list[NewNode]:
            return [
                program_node(task.id, program_key(task.id, i), None, reply.model, c.text, c.tokens, i,
                             c.finish_reason)
                for i, c in enumerate(reply.completions)
            ]

        nodes = await self.call(spec, build)
        return await self.execute(nodes or [])

    async def feedback_and_repair(
        self, program: Node, *, nfr: int | None = None, priority: int = 0,
        mode: str | None = None, exploration: int | None = None,
    ) -> list[Node]:
        """``nfr`` feedback-repair pairs for a failing program, in the run's mode; the
        repairs come back executed. With ``exploration`` None they are the run's sample
        (feedback 0..nfr-1); otherwise they belong to that exploration."""
        nfr = self.config.nfr if nfr is None else nfr
        mode = mode or self.config.mode
        if nfr < 1:
            return []
        program = await self._executed(program)
        if program.passed:
            return []
        x = exploration
        if mode == "joint":
            return await self._joint(program, nfr, priority, x)
        if mode == "separate":
            return await self._separate(program, nfr, priority, x)
        if mode == "tests-only":
            return await self._tests_only(program, nfr, priority, x)
        raise UserError(f"unknown mode {mode!r}: use joint, separate or tests-only")

    async def _joint(self, program: Node, nfr: int, priority: int, x: int | None) -> list[Node]:
        task = self.task(program.task_id)
        messages = prompts.joint_messages(task, program.code or "", program.error_message or "")
        spec = CallSpec(task, "joint", call_key(task.id, "joint", program.key, 0, x),
                        self.config.model, messages, nfr, self.config.temperature, priority,
                        exploration=x)

        def build(reply: ModelReply) -> list[NewNode]:
            nodes: list[NewNode] = []
            for i, c in enumerate(reply.completions):
                explanation, code_text = prompts.split_joint(c.text)
                fb_tokens = min(count_tokens(explanation, reply.model), c.tokens)
                fkey = feedback_key(program.key, i, "model", x)
                nodes.append(NewNode(task.id, fkey, "feedback", "model", program.key, reply.model,
                                     explanation, None, fb_tokens, i, meta={"joint": True},
                                     exploration_id=x))
                nodes.append(program_node(task.id, repair_key(fkey, 0, x), fkey, reply.model,
                                          code_text, c.tokens - fb_tokens, 0, c.finish_reason, x))
            return nodes

        return await self.execute(await self.call(spec, build) or [])

    async def _separate(self, program: Node, nfr: int, priority: int, x: int | None) -> list[Node]:
        feedback = await self._model_feedback(program, nfr, self.feedback_model_name,
                                              self.feedback_temperature, priority, x)
        batches = await asyncio.gather(*(
            self._repair(f, 1, self.config.model, self.config.temperature, priority, x, program)
            for f in feedback
        ))
        return [n for batch in batches for n in batch]

    async def _tests_only(self, program: Node, nfr: int, priority: int, x: int | None) -> list[Node]:
        fkey = feedback_key(program.key, 0, "tests", x)
        (note,) = self.store.add_nodes(self.run.id, [NewNode(
            program.task_id, fkey, "feedback", "tests", program.key, None,
            program.error_message or "", None, 0, 0, exploration_id=x,
        )])
        self.sink(NodeStored(self.run.id, note.task_id, note.id, note.kind, note.depth))
        return await self._repair(note, nfr, self.config.model, self.config.temperature, priority, x,
                                  program)

    async def _model_feedback(
        self, program: Node, n: int, model: str, temperature: float, priority: int,
        x: int | None,
    ) -> list[Node]:
        task = self.task(program.task_id)
        messages = prompts.feedback_messages(task, program.code or "", program.error_message or "")
        spec = CallSpec(task, "feedback", call_key(task.id, "feedback", program.key, 0, x),
                        model, messages, n, temperature, priority, exploration=x)

        def build(reply: ModelReply) -> list[NewNode]:
            return [
                NewNode(task.id, feedback_key(program.key, i, "model", x), "feedback", "model",
                        program.key, reply.model, c.text.strip(), None, c.tokens, i,
                        exploration_id=x)
                for i, c in enumerate(reply.completions)
            ]

        return list(await self.call(spec, build) or [])

    async def _repair(
        self, feedback: Node, n: int, model: str, temperature: float, priority: int,
        x: int | None, program: Node | None = None,
    ) -> list[Node]:
        """``n`` repairs sampled from one feedback node, executed (``program``: its
        parent, when the caller has it at hand)."""
        parent = program if program is not None and program.id == feedback.parent_id else (
            self.store.get_node(feedback.parent_id) if feedback.parent_id else None)
        if parent is None or feedback.kind != "feedback":
            raise UserError(f"node {feedback.id} is not a feedback on a program")
        task = self.task(feedback.task_id)
        text = None if feedback.origin == "tests" else feedback.text
        messages = prompts.repair_messages(task, parent.code or "", parent.error_message or "", text)
        spec = CallSpec(task, "repair", call_key(task.id, "repair", feedback.key, 0, x),
                        model, messages, n, temperature, priority,
                        "tests-only" if text is None else "repair", exploration=x)

        def build(reply: ModelReply) -> list[NewNode]:
            return [
                program_node(task.id, repair_key(feedback.key, i, x), feedback.key, reply.model,
                             c.text, c.tokens, i, c.finish_reason, x)
                for i, c in enumerate(reply.completions)
            ]

        return await self.execute(await self.call(spec, build) or [])

    # --- explorations: steps for the app and `repair-tui explore` ------------------------
    # Each makes a new exploration (unless given one to add to), so nothing it stores
    # counts in the run's sample, and two actions on the same parent never share a key.

    async def explain(
        self, program_id: int, *, model: str | None = None, n: int = 1,
        temperature: float | None = None, exploration: int | None = None,
    ) -> list[Node]:
        """``n`` new model feedback nodes on a failing program (no repair)."""
        program = await self._executed(self._program(program_id))
        if program.passed:
            raise UserError(f"program {program.key} passes its tests: nothing to explain")
        model = model or self.feedback_model_name
        temperature = self.feedback_temperature if temperature is None else temperature
        x = exploration or self.explore("explain", {"program": program.key, "model": model,
                                                     "n": n, "temperature": temperature})
        return await self._model_feedback(program, n, model, temperature, 0, x)

    def add_human_feedback(
        self, program_id: int, text: str, *, exploration: int | None = None,
        kind: str = "feedback",
    ) -> Node:
        """Store a person's explanation of a program as a new feedback (origin ``human``)."""
        program = self._program(program_id)
        if not text.strip():
            raise UserError("the feedback is empty")
        x = exploration or self.explore(kind, {"program": program.key})
        node = self.store.add_feedback(program.id, text.strip(), origin="human", exploration_id=x)
        self.sink(NodeStored(self.run.id, node.task_id, node.id, node.kind, node.depth))
        return node

    async def repair_from_feedback(
        self, feedback_id: int, *, n: int | None = None, model: str | None = None,
        temperature: float | None = None, exploration: int | None = None,
    ) -> list[Node]:
        """``n`` (default: the run's nfr) new repairs from one feedback, executed."""
        feedback = self.store.get_node(feedback_id)
        if feedback.run_id != self.run.id or feedback.kind != "feedback":
            raise UserError(f"node {feedback_id} is not a feedback of run {self.run.name!r}")
        n = self.config.nfr if n is None else n
        if n < 1:
            raise UserError(f"the number of repairs must be at least 1, not {n}")
        model = model or self.config.model
        temperature = self.config.temperature if temperature is None else temperature
        x = exploration or self.explore("repair", {"feedback": feedback.key, "model": model,
                                                    "n": n, "temperature": temperature})
        return await self._repair(feedback, n, model, temperature, 0, x)

    async def rerun_branch(
        self, program_id: int, *, nfr: int | None = None, exploration: int | None = None,
    ) -> list[Node]:
        """New feedback and repairs (the run's mode) for one program, beside the old ones."""
        program = self._program(program_id)
        x = exploration or self.explore("rerun", {"program": program.key,
                                                   "nfr": self.config.nfr if nfr is None else nfr})
        return await self.feedback_and_repair(program, nfr=nfr, exploration=x)

    async def repair_annotated(
        self, *, n: int | None = None, model: str | None = None, temperature: float | None = None,
    ) -> list[Node]:
        """Repair from every human feedback of the run that has no repair yet (one
        exploration of kind ``annotate`` for them all)."""
        pending = [f for f in self.store.human_feedback(self.run.id) if not self.store.children(f.id)]
        if not pending:
            return []
        x = self.explore("annotate", {"feedback": len(pending), "n": n, "model": model})
        batches = await asyncio.gather(*(
            self.repair_from_feedback(f.id, n=n, model=model, temperature=temperature,
                                      exploration=x)
            for f in pending
        ))
        return [node for batch in batches for node in batch]

    # --- helpers ----------------------------------------------------------------------

    def _program(self, node_id: int) -> Node:
        node = self.store.get_node(node_id)
        if node.run_id != self.run.id or node.kind != "program":
            raise UserError(f"node {node_id} is not a program of run {self.run.name!r}")
        return node

    async def _executed(self, program: Node) -> Node:
        if program.passed is None:
            (program,) = await self.execute([program])
        return program


def _with_prompt(task: Task) -> Task:
    """A HumanEval task stored before its tests carried the prompt gets it back (the
    spec is the prompt): the sandbox judges a program as prompt + completion."""
    if task.source != "humaneval" or task.style != "assert" or "prompt" in task.tests:
        return task
    return dataclasses.replace(task, tests={**task.tests, "prompt": task.spec})


def program_node(
    task_id: str, key: str, parent_key: str | None, model: str, text: str, tokens: int,
    index: int, finish_reason: str = "stop", exploration: int | None = None,
) -> NewNode:
    """A sampled program: raw completion, extracted code, tokens; not yet executed."""
    meta = {} if finish_reason == "stop" else {"finish_reason": finish_reason}
    return NewNode(task_id, key, "program", "model", parent_key, model, text, extract_code(text),
                   tokens, index, meta=meta, exploration_id=exploration)


def open_engine(
    store: Store, run_id: int | str, *, sink: EventSink = ignore, api_key: str | None = None,
    sandbox: Sandbox | None = None, executor: Executor | None = None, source: str = "app",
    base_url: str | None = None,
) -> Engine:
    """An Engine on a stored run (by id or name); ``base_url`` replaces the run's endpoint
    for this engine's calls (not stored)."""
    run = store.get_run(run_id)
    if base_url is not None:
        run = replace(run, config=replace(run.config, base_url=base_url))
    return Engine(store, run, sandbox=sandbox, sink=sink, api_key=api_key, executor=executor,
                  source=source)
