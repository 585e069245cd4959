"""The Task screen: one task's repair tree on the left, the selected node's detail on the right.

It reads through the app's ``store`` and acts through ``engine_for(run_id)`` (the
``RepairHost`` contract with the app). Long actions (repair, rerun, re-execute) run as
async workers on the app's loop, since the Store belongs to that thread; the nodes
they store reach the tree through ``changes_since`` when the engine reports them, when
the app's poll posts ``DataChanged``, and when the action ends. The tree is loaded once
and then updated node by node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol, cast

from repair_tui.core.engine.steps import Engine
from repair_tui.core.errors import MissingAPIKeyError, UserError
from repair_tui.core.store.records import Node
from repair_tui.core.store.store import Store
from repair_tui.core.store.views import spec_title
from repair_tui.sandbox.runner import SandboxError
from repair_tui.tui.messages import ActionStarted, DataChanged, EngineReported
from repair_tui.tui.modals import FeedbackEditorModal, RepairChoice, RepairDialogModal
from repair_tui.tui.untrusted import PlainNotifications, visible
from repair_tui.tui.widgets.detail import NodeDetail, is_test_line
from repair_tui.tui.widgets.footer import QuietFooter
from repair_tui.tui.widgets.tree import RepairTree, TreeData, short_key
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static, Tree
from textual.worker import Worker, WorkerState, get_current_worker

SIM_MODELS = ("sim", "sim-weak", "sim-strong")


class RepairHost(Protocol):
    """What the screens need from the app: its Store and an Engine per run."""

    store: Store

    def engine_for(self, run_id: int) -> Engine: ...


def failure_text(exc: BaseException) -> str:
    """The one line a notification shows for a failed action (never a traceback)."""
    if isinstance(exc, MissingAPIKeyError):  # the CLI's advice (--base-url) means nothing here
        return (f"model {exc.model!r} needs an API key, and the app was started without "
                "one. Choose sim, sim-weak or sim-strong in the repair dialog (offline), or "
                "quit (q) and start repair-tui again with OPENAI_API_KEY set, or with "
                "OPENAI_BASE_URL naming a local OpenAI-compatible server.")
    known = isinstance(exc, UserError | SandboxError)
    text = str(exc) if known else f"{type(exc).__name__}: {exc}"
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


class TaskScreen(PlainNotifications, Screen[None]):
    """A task's repair tree and the detail of the selected node, with the actions on it."""

    CSS_PATH = "task.tcss"
    AUTO_FOCUS = "RepairTree"
    BINDINGS = [
        Binding("n", "next_failing", "Next fail", id="task.next_failing",
                tooltip="Jump to the next failing program"),
        Binding("p", "previous_failing", "Prev fail", id="task.previous_failing",
                tooltip="Jump to the previous failing program"),
        Binding("s", "next_solved", "Next solved", id="task.next_solved",
                tooltip="Jump to the next passing program and unfold its path"),
        Binding("e", "edit_feedback", "Edit feedback", id="task.edit_feedback",
                tooltip="Write a human feedback (prefilled with the selected one)"),
        Binding("r", "repair_feedback", "Repair", id="task.repair_feedback",
                tooltip="Sample repairs from the selected feedback"),
        Binding("b", "rerun_branch", "Rerun branch", id="task.rerun_branch",
                tooltip="New feedback and repairs for the selected program"),
        Binding("x", "reexecute", "Re-execute", id="task.reexecute",
                tooltip="Run the selected program's tests again"),
        Binding("d", "toggle_diff", "Diff/code", id="task.toggle_diff",
                tooltip="Show a repair as a diff or as code"),
        Binding("v", "view_call", "Prompt", id="task.view_call",
                tooltip="Show the prompt and the raw completion of the call that made the "
                        "node (again: back)"),
        Binding("t", "view_tests", "Tests", id="task.view_tests",
                tooltip="Show the task's tests, at the failing assertion's line (again: back)"),
        Binding("ctrl+x", "cancel_actions", "Cancel", id="task.cancel_actions",
                tooltip="Cancel the running actions"),
        # Less used: the footer shows them after the others, where there is room.
        Binding("c", "copy_code", "Copy code", id="task.copy_code",
                tooltip="Copy the selected program to the clipboard"),
        Binding("o", "open_spec", "Spec", id="task.open_spec",
                tooltip="Show the task's spec"),
        Binding("escape", "back", "Back", id="task.back",
                tooltip="Back to the run (running actions are cancelled)"),
    ]

    def __init__(self, run_id: int, task_id: str, node_id: int | None = None) -> None:
        """``node_id``: the node to select on opening (None: the spec), e.g. a search hit."""
        super().__init__()
        self.run_id = run_id
        self.task_id = task_id
        self.node_id = node_id
        self._mark = 0
        self._reveal_next: set[int] = set()  # parent ids whose next new child gets the cursor
        self._labels: dict[Worker[None], str] = {}  # running actions, for messages
        self._binding_state: tuple[bool | None, ...] = ()
        self._resumed = False  # shown at least once (styles are fresh on the first time)

    def _on_resize(self, event: events.Resize) -> None:
        # A new screen's first layout sends the screen a Resize to the size it was just
        # laid out at, and Textual lays out and paints it all again (a tenth of the
        # opening). Only a size other than the last layout's needs that: Screen's
        # handler runs then. (``self.size`` is the terminal's: it always matches.)
        if event.size == self._compositor.size:
            event.prevent_default()

    # --- access to the app --------------------------------------------------------

    @property
    def host(self) -> RepairHost:
        return cast(RepairHost, self.app)

    @property
    def tree(self) -> RepairTree:
        return self.query_one(RepairTree)

    @property
    def detail(self) -> NodeDetail:
        return self.query_one(NodeDetail)

    @property
    def selected(self) -> Node | None:
        return self.tree.selected

    # --- building -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="task-title")
        with Horizontal(id="task-body"):
            yield RepairTree(id="task-tree")
            yield NodeDetail(id="task-detail")
        yield Static(id="task-status")
        yield QuietFooter()

    def on_mount(self) -> None:
        store = self.host.store
        try:
            run = store.get_run_by_id(self.run_id)
            self.task_record = store.get_task(self.run_id, self.task_id)
        except UserError as exc:  # e.g. the run was deleted by another process
            self.notify(failure_text(exc), severity="error")
            self.dismiss()
            return
        self.run_record = run
        self._title = Text.assemble((visible(self.task_id), "bold"), visible(
            f" · run {run.name} · {run.config.models}"
            f" · np {run.config.np} nfr {run.config.nfr} {run.config.mode}", keep_newlines=False))
        self.sub_title = visible(self.task_id, keep_newlines=False)
        # Take the mark before loading: a node written in between arrives twice (harmless).
        self._mark = store.mark()
        self.tree.flaky = store.flaky_ids(self.run_id, self.task_id)
        self.tree.load(self.task_id, spec_title(self.task_record.spec),
                       store.task_nodes(self.run_id, self.task_id))
        self._show_title()
        self.tree.reveal(self.node_id)
        if self.node_id is None:
            # The spec's Markdown is the costliest widget here: draw the tree first.
            self.call_after_refresh(self.detail.show_spec, self.task_record)
        else:
            self.call_after_refresh(lambda: self._show(self.selected))
        self._show_status()
        # The footer is composed with the right keys already: no refresh for the root.
        self._binding_state = self._availability()

    # --- live updates ---------------------------------------------------------------

    def refresh_changes(self) -> list[Node]:
        """Put every node of this task stored or updated since the last look into the tree."""
        changed, self._mark = self.host.store.changes_since(self.run_id, self._mark)
        mine = [n for n in changed if n.task_id == self.task_id]
        for node in mine:
            self.tree.upsert(node)
        current = self.selected
        for node in mine:
            if node.parent_id in self._reveal_next:
                self._reveal_next.discard(node.parent_id)
                self.tree.reveal(node.id)
                current = None  # the cursor move shows the new node
        fresh = next((n for n in mine if current is not None and n.id == current.id), None)
        if fresh is not None:
            self._show(fresh)
        if mine:
            self.tree.set_flaky(self.host.store.flaky_ids(self.run_id, self.task_id))
            self._show_title()
            self._refresh_bindings_if_changed()
        return mine

    def _show_title(self) -> None:
        """The title line: the task and run, then the tree's tallies (sample apart from
        explorations)."""
        self.query_one("#task-title", Static).update(
            Text.assemble(self._title, (f" · {self.tree.tallies()}", "dim")))

    @on(DataChanged)
    def data_changed(self) -> None:
        self.refresh_changes()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed:
            # The first resume follows the mount, which styled every widget a moment
            # ago; Screen's handler (run after this one) would style them all again.
            self._resumed = True
            event.refresh_styles = False
        # Polls reach only visible screens: catch up on what was written meanwhile.
        if self.is_mounted and hasattr(self, "task_record"):
            self.refresh_changes()

    @on(EngineReported)
    def engine_reported(self, message: EngineReported) -> None:
        event = message.event
        if getattr(event, "run_id", None) == self.run_id and \
                getattr(event, "task_id", None) == self.task_id:
            self.refresh_changes()

    # --- detail -----------------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    def node_highlighted(self, event: Tree.NodeHighlighted[TreeData]) -> None:
        self._show(event.node.data)
        self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        # The footer rebuilds its keys on every refresh: only ask when availability moved.
        state = self._availability()
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _availability(self) -> tuple[bool | None, ...]:
        return tuple(self.check_action(b.action, ()) for b in self.BINDINGS
                     if isinstance(b, Binding))

    def _show(self, node: Node | None) -> None:
        if node is None:
            self.detail.show_spec(self.task_record)
        elif node.kind == "feedback":
            self.detail.show_feedback(node, self._parent_of(node))
        else:
            feedback = self._parent_of(node)
            repaired = None if feedback is None else self._parent_of(feedback)
            self.detail.show_program(node, self.host.store.test_results(node.id),
                                     feedback=feedback, repaired=repaired)

    def _parent_of(self, node: Node) -> Node | None:
        if node.parent_id is None:
            return None
        shown = self.tree.tree_node(node.parent_id)
        return None if shown is None else shown.data

    # --- which actions apply ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out actions that do not apply to the selected node."""
        if not self.is_mounted:
            return True
        node = self.selected
        program = node is not None and node.kind == "program"
        rules: dict[str, bool] = {
            "edit_feedback": node is not None and (node.kind == "feedback" or
                                                  (program and node.passed is False)),
            "repair_feedback": node is not None and node.kind == "feedback",
            "rerun_branch": program and node is not None and node.passed is not True,
            "reexecute": program,
            "copy_code": program,
            "toggle_diff": program and node is not None and node.parent_id is not None,
            "view_call": node is not None,
            "cancel_actions": self.running_actions > 0,
        }
        allowed = rules.get(action, True)
        return True if allowed else None

    @property
    def running_actions(self) -> int:
        """How many actions of this screen are running."""
        return sum(1 for w in self.workers
                   if w.node is self and w.group == "actions" and not w.is_finished)

    # --- navigation actions ---------------------------------------------------------------

    def _jump(self, want: str, backwards: bool = False) -> None:
        found = self.tree.find_next(want, backwards=backwards)
        if found is None:
            self.notify(f"no {want} program in this tree", severity="warning")
            return
        self.tree.reveal(found.id)
        if want == "solved":
            path = " → ".join(short_key(n) for n in self.tree.path_to(found.id))
            self.notify(f"solved path: {path}", timeout=3)

    def action_next_failing(self) -> None:
        self._jump("failing")

    def action_previous_failing(self) -> None:
        self._jump("failing", backwards=True)

    def action_next_solved(self) -> None:
        self._jump("solved")

    def action_open_spec(self) -> None:
        self.tree.reveal(None)

    def action_toggle_diff(self) -> None:
        if self.detail.mode != "node":
            self._show(self.selected)
        self.detail.diff_mode = not self.detail.diff_mode

    def action_view_call(self) -> None:
        """The prompt and raw completion behind the selected node; pressed again, the node."""
        node = self.selected
        if node is None:
            return
        if self.detail.mode == "call":
            self._show(node)
            return
        store = self.host.store
        call = None if node.call_id is None else store.get_call(node.call_id)
        self.detail.show_call(node, call)

    def action_view_tests(self) -> None:
        """The task's tests, scrolled to the failing assertion; pressed again, the node."""
        if self.detail.mode == "tests":
            self._show(self.selected)
            return
        node = self.selected
        line = None
        if node is not None and node.kind == "program":
            failing = [r for r in self.host.store.test_results(node.id) if is_test_line(r)]
            line = failing[0].line if failing else None
        self.detail.show_tests(self.task_record, line)

    def action_copy_code(self) -> None:
        node = self.selected
        if node is None or node.kind != "program":
            return
        self.app.copy_to_clipboard(node.code or "")
        self.notify(f"copied {short_key(node)} ({len((node.code or '').splitlines())} lines)")

    def action_back(self) -> None:
        self.dismiss()

    def action_cancel_actions(self) -> None:
        cancelled = self.workers.cancel_group(self, "actions")
        if cancelled:
            self.notify(f"cancelling {len(cancelled)} action(s)", severity="warning")

    # --- model and sandbox actions -----------------------------------------------------------

    def action_edit_feedback(self) -> None:
        node = self.selected
        if node is None or (node.kind == "program" and node.passed is not False):
            return
        program = node if node.kind == "program" else self._parent_of(node)
        if program is None:
            return
        prefill = visible(node.text or "") if node.kind == "feedback" else ""
        title = f"Feedback on {short_key(program)}" + (
            f" (edited from {short_key(node)})" if node.kind == "feedback" else "")

        self.edit_feedback(program, prefill, title)

    def edit_feedback(self, program: Node, text: str, title: str) -> None:
        """Open the editor on ``text``; saving stores it (a failure reopens it, text kept)."""

        def save(result: str | None) -> None:
            if result is not None:
                self.save_feedback(program.id, result, program=program, title=title)

        self.app.push_screen(FeedbackEditorModal(
            text, title=title, code=program.code or "",
            results=self.host.store.test_results(program.id),
            executed=program.passed is not None), save)

    def save_feedback(self, program_id: int, text: str, *, program: Node | None = None,
                      title: str | None = None) -> None:
        """Store ``text`` as a new human feedback on a program and put the cursor on it.

        When the store refuses (read-only or locked database), the editor opens again
        with the text, so nothing typed is lost."""
        try:
            node = self.host.engine_for(self.run_id).add_human_feedback(program_id, text)
        except UserError as exc:
            self.notify(failure_text(exc), title="Feedback not saved", severity="error")
            if program is not None and title is not None and text.strip():
                self.edit_feedback(program, text, title)
            return
        self.refresh_changes()
        self.tree.reveal(node.id)
        self.notify(f"saved human feedback {short_key(node)}; r repairs from it")

    def action_repair_feedback(self) -> None:
        node = self.selected
        if node is None or node.kind != "feedback":
            return
        config = self.run_record.config
        defaults = RepairChoice(max(1, config.nfr), config.model, config.temperature)
        models = [m for m in (config.feedback_model, *SIM_MODELS) if m]

        def chosen(choice: RepairChoice | None) -> None:
            if choice is not None:
                self._reveal_next.add(node.id)
                self.start_action(
                    f"repair from {short_key(node)}",
                    lambda engine: engine.repair_from_feedback(
                        node.id, n=choice.n, model=choice.model, temperature=choice.temperature),
                )

        self.app.push_screen(
            RepairDialogModal(defaults, models=models, title=f"Repair from {short_key(node)}"),
            chosen,
        )

    def action_rerun_branch(self) -> None:
        node = self.selected
        if node is None or node.kind != "program" or node.passed is True:
            return
        self._reveal_next.add(node.id)
        self.start_action(f"rerun branch {short_key(node)}",
                          lambda engine: engine.rerun_branch(node.id))

    def action_reexecute(self) -> None:
        node = self.selected
        if node is None or node.kind != "program":
            return
        before = node  # the verdict shown now, to say whether the new one differs
        self.start_action(f"re-execute {short_key(node)}",
                          lambda engine: engine.reexecute(node.id),
                          describe=lambda after: verdict_change(before, after))

    # --- running actions ---------------------------------------------------------------------

    def start_action(self, label: str, step: Callable[[Engine], Awaitable[Any]],
                     describe: Callable[[Any], str] = lambda result: outcome_text(result),
                     ) -> None:
        """Run one engine step as a cancellable worker; its failure becomes a notification,
        its result one through ``describe``."""
        self.app.post_message(ActionStarted(label))
        self.perform_action(label, step, describe)
        self._show_status()

    @work(exclusive=False, group="actions", exit_on_error=False)
    async def perform_action(self, label: str, step: Callable[[Engine], Awaitable[Any]],
                             describe: Callable[[Any], str]) -> None:
        self._labels[get_current_worker()] = label
        try:
            result = await step(self.host.engine_for(self.run_id))
        except Exception as exc:  # every failure is shown, never a traceback
            self.notify(failure_text(exc), title=f"{label} failed", severity="error",
                        timeout=10)
            return
        finally:
            self.refresh_changes()
        self.notify(f"{label}: {describe(result)}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "actions" or event.worker.node is not self:
            return
        if event.state == WorkerState.CANCELLED:
            label = self._labels.get(event.worker, "action")
            self.notify(f"{label} cancelled", severity="warning")
        if event.worker.is_finished:
            self._labels.pop(event.worker, None)
        self._show_status()
        self._refresh_bindings_if_changed()

    def _show_status(self) -> None:
        running = self.running_actions
        status = self.query_one("#task-status", Static)
        status.update(Text(f"{running} action(s) running · ctrl+x cancels" if running else ""))
        status.set_class(running > 0, "busy")


def verdict_text(node: Node) -> str:
    """``passed``, ``failed (wrong_answer on test 2)`` or ``not run``."""
    if node.passed is None:
        return "not run"
    if node.passed:
        return "passed"
    return f"failed ({visible(node.fault or 'unknown fault', keep_newlines=False)})"


def verdict_change(before: Node, after: object) -> str:
    """What a re-execution found, against the program's first verdict (which stays on the
    node and in the sample's numbers; a differing one marks the program flaky)."""
    kept = ""
    if isinstance(after, tuple) and len(after) == 2 and isinstance(after[0], Node):
        node, execution = after
        if execution is None:
            return f"first verdict: {verdict_text(node)}"
        after = replace(node, passed=execution.passed, fault=execution.fault)
        kept = " (flaky; the run's numbers keep the first)"
    if not isinstance(after, Node):
        return outcome_text(after)
    old, new = verdict_text(before), verdict_text(after)
    if before.passed is not None and before.passed != after.passed:
        return f"verdict changed: {old} → {new}{kept}"
    if before.passed is None:
        return f"first verdict: {new}"
    if before.passed != after.passed:
        return f"verdict changed: {old} → {new}"
    if old != new:
        return f"same verdict, other fault: {old} → {new}"
    return f"verdict unchanged: {new}"


def outcome_text(result: object) -> str:
    """What an engine step produced, in a few words: ``3 programs, 1 passes``."""
    nodes = result if isinstance(result, list) else [result]
    programs = [n for n in nodes if isinstance(n, Node) and n.kind == "program"]
    feedback = [n for n in nodes if isinstance(n, Node) and n.kind == "feedback"]
    parts = []
    if feedback:
        parts.append(f"{len(feedback)} feedback")
    if programs:
        passing = sum(1 for p in programs if p.passed)
        parts.append(f"{len(programs)} program(s), {passing} pass")
    return ", ".join(parts) or "nothing new"
