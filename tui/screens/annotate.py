"""The annotation queue (the paper's human study): write feedback for failing programs.

``AnnotationScreen(run_id, task_ids)`` steps through ``Store.annotation_queue`` (failing
programs of the run with no human feedback yet, in task order), all of the run's or
only those of ``task_ids`` (the tasks the Run screen's filter shows): it shows the
spec, the program and its failing test beside an editor. Saving stores the text as a
human feedback (``Engine.add_human_feedback``) and moves on; skipping moves on without
storing; "previous" goes back to the program before. Leaving or skipping with text
typed and not saved asks first. Then
one action repairs every annotated program from its human feedback
(``Engine.repair_annotated``), with live progress; the Run screen's origin statistics
compare the outcome with model feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from repair_tui.core.errors import UserError
from repair_tui.core.store.records import Node
from repair_tui.tui.messages import ActionStarted, DataChanged, EngineReported
from repair_tui.tui.modals import ConfirmModal, RepairChoice, RepairDialogModal
from repair_tui.tui.screens.task import (
    SIM_MODELS,
    RepairHost,
    failure_text,
    outcome_text,
)
from repair_tui.tui.untrusted import PlainNotifications, visible
from repair_tui.tui.widgets.detail import (
    CodeView,
    FailingTestsView,
    UntrustedMarkdown,
    spec_markdown,
)
from repair_tui.tui.widgets.editor import FeedbackArea
from repair_tui.tui.widgets.footer import QuietFooter
from repair_tui.tui.widgets.tree import short_key
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Markdown, ProgressBar, Static
from textual.worker import Worker, WorkerState

PEEK = 100  # queue entries read at a time: a large run has thousands of failing programs


class AnnotationScreen(PlainNotifications, Screen[None]):  # type: ignore[misc]
    """Write a human feedback for each failing program in turn, then repair from them all."""

    CSS_PATH = "annotate.tcss"
    AUTO_FOCUS = "#annotate-editor"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save & next", id="annotate.save",
                tooltip="Store the explanation as human feedback and show the next program"),
        Binding("ctrl+n", "skip", "Skip", id="annotate.skip",
                tooltip="Show the next program without storing anything"),
        Binding("ctrl+b", "previous", "Previous", id="annotate.previous",
                tooltip="Back to the program shown before this one"),
        Binding("ctrl+r", "repair_all", "Repair annotated", id="annotate.repair_all",
                tooltip="Repair every annotated program from its human feedback"),
        Binding("ctrl+g", "cancel_repairs", "Cancel repairs", id="annotate.cancel",
                tooltip="Stop the running repairs"),
        Binding("escape", "back", "Back", id="annotate.back", tooltip="Back to the run"),
    ]

    def __init__(self, run_id: int, task_ids: Sequence[str] | None = None,
                 scope: str = "") -> None:
        """``task_ids``: annotate only these tasks' programs (None: the whole run);
        ``scope`` says in the title which filter chose them."""
        super().__init__()
        self.run_id = run_id
        self.task_ids = None if task_ids is None else list(task_ids)
        self.scope = scope
        self.current: Node | None = None
        self.saved = 0
        self.skipped: set[int] = set()
        self.visited: list[Node] = []  # programs moved past, for "previous"
        self.written: dict[int, str] = {}  # program id -> the feedback saved for it here
        self._left = "0"
        self._pending: list[int] = []  # feedback ids being repaired
        self._expected = 0  # repairs the running action will make

    @property
    def host(self) -> RepairHost:
        return cast(RepairHost, self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="annotate-title")
        with Horizontal(id="annotate-body"):
            with VerticalScroll(id="annotate-context"):
                yield Static(id="annotate-header")
                yield UntrustedMarkdown(id="annotate-spec")
                yield CodeView(id="annotate-code")
                yield FailingTestsView(id="annotate-tests")
            with Vertical(id="annotate-side"):
                yield Label("What is wrong with this program, and how to fix it?")
                yield FeedbackArea(id="annotate-editor")
                yield Static("ctrl+s save & next · ctrl+n skip · ctrl+b previous · "
                             "ctrl+r repair all annotated · ctrl+a select all",
                             id="annotate-help")
                yield ProgressBar(id="annotate-progress", show_eta=False)
                yield Static(id="annotate-progress-text")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.run_record = self.host.store.get_run_by_id(self.run_id)
        self.query_one("#annotate-progress").display = False
        self.load_next()
        # Focus now rather than through AUTO_FOCUS, which lands a refresh later: a person
        # (or a test) typing at once reaches the editor.
        self.query_one(FeedbackArea).focus()

    # --- the queue ----------------------------------------------------------------

    def queue(self, limit: int) -> list[Node]:
        """Up to ``limit`` queued programs, of the scoped tasks only when scoped."""
        store = self.host.store
        if self.task_ids is None:
            return store.annotation_queue(self.run_id, limit=limit)
        found: list[Node] = []
        for task_id in self.task_ids:  # in the Run screen's order, a task at a time
            found.extend(store.annotation_queue(self.run_id, task_id, limit=limit - len(found)))
            if len(found) >= limit:
                break
        return found

    def load_next(self) -> None:
        """Show the first queued program not skipped in this session (or say it is empty)."""
        queue = self.queue(len(self.skipped) + PEEK)
        waiting = [p for p in queue if p.id not in self.skipped]
        full = len(queue) == len(self.skipped) + PEEK
        self._left = f"{len(waiting)}{'+' if full else ''}"
        self._show(waiting[0] if waiting else None)

    def _show(self, program: Node | None) -> None:
        self.current = program
        editor = self.query_one(FeedbackArea)
        editor.load("" if program is None else self.written.get(program.id, ""))
        if program is None:
            self._show_empty()
        else:
            self._show_program(program)
        self._show_title()
        self.refresh_bindings()

    def _show_title(self) -> None:
        scope = f" · {self.scope}" if self.scope else ""
        again = ""
        if self.current is not None and self.current.id in self.written:
            again = " · annotated already: saving adds another human feedback"
        self.query_one("#annotate-title", Static).update(Text.assemble(
            ("Annotation queue", "bold"),
            visible(f" · run {self.run_record.name}{scope}", keep_newlines=False),
            f" · {self._left} left · {self.saved} saved · "
            f"{len(self.skipped)} skipped this session",
            (again, "yellow"),
        ))

    def _show_program(self, program: Node) -> None:
        store = self.host.store
        task = store.get_task(self.run_id, program.task_id)
        kind = "repair" if program.parent_id is not None else "program"
        self.query_one("#annotate-header", Static).update(Text.assemble(
            (visible(program.task_id), "bold"), f" · {kind} {short_key(program)} · ",
            (visible(program.fault or "failed", keep_newlines=False), "red"), f" · {program.tokens} tokens",
        ))
        self.query_one("#annotate-spec", Markdown).update(spec_markdown(task))
        self.query_one(CodeView).show(program.code or "")
        self.query_one(FailingTestsView).show(store.test_results(program.id),
                                              executed=program.passed is not None)
        for child in self.query_one("#annotate-context").children:
            child.display = True
        self.query_one("#annotate-context", VerticalScroll).scroll_home(animate=False)

    def _show_empty(self) -> None:
        self.query_one("#annotate-header", Static).update(
            "[b]The queue is empty[/b]: every failing program of this run has a human "
            "feedback or was skipped. ctrl+r repairs every annotated program."
        )
        for child in self.query_one("#annotate-context").children:
            child.display = child.id == "annotate-header"

    # --- which actions apply -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out saving and skipping with an empty queue, and cancel with nothing running."""
        if not self.is_mounted:
            return True
        if action in ("save", "skip"):
            return True if self.current is not None else None
        if action == "previous":
            return True if self.visited else None
        if action == "cancel_repairs":
            return True if self.repairing else None
        if action == "repair_all":
            return None if self.repairing else True
        return True

    @property
    def repairing(self) -> bool:
        return any(w.node is self and w.group == "actions" and not w.is_finished
                   for w in self.workers)

    # --- annotating ----------------------------------------------------------------------

    def action_save(self) -> None:
        program = self.current
        if program is None:
            return
        text = self.query_one(FeedbackArea).text
        try:
            node = self.host.engine_for(self.run_id).add_human_feedback(
                program.id, text, kind="annotate")
        except UserError as exc:  # e.g. a read-only database: the text stays in the editor
            self.notify(failure_text(exc), title="Not saved", severity="error")
            return
        self.saved += 1
        self.written[program.id] = text.strip()
        self.visited.append(program)
        self.notify(f"saved {short_key(node)} on {visible(program.task_id)} "
                    f"{short_key(program)}", timeout=2)
        self.load_next()

    def action_skip(self) -> None:
        program = self.current
        if program is None:
            return

        def skip() -> None:
            self.skipped.add(program.id)
            self.visited.append(program)
            self.load_next()

        self._unless_unsaved(skip, "Skip this program and discard the explanation you "
                                   "are writing?", yes="Discard and skip")

    def action_previous(self) -> None:
        """Show the program before this one again (un-skipping it if it was skipped)."""
        if not self.visited:
            return

        def back() -> None:
            program = self.visited.pop()
            self.skipped.discard(program.id)
            self._show(program)

        self._unless_unsaved(back, "Go back and discard the explanation you are writing?",
                             yes="Discard and go back")

    def action_back(self) -> None:
        self._unless_unsaved(self.dismiss, "Leave and discard the explanation you are "
                                           "writing?", yes="Discard")

    def _unless_unsaved(self, then: Callable[[], object], question: str, *, yes: str) -> None:
        """Do ``then`` now, or after a yes when the editor holds text not saved."""
        if not self.query_one(FeedbackArea).changed:
            then()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                then()

        self.app.push_screen(ConfirmModal(question, yes=yes, no="Keep writing"), answered)

    # --- repairing every annotated program ------------------------------------------------

    def pending_feedback(self) -> list[Node]:
        """The run's human feedback with no repair yet (what ``repair_annotated`` repairs)."""
        store = self.host.store
        return [f for f in store.human_feedback(self.run_id) if not store.children(f.id)]

    def action_repair_all(self) -> None:
        if self.repairing:
            return
        pending = self.pending_feedback()
        if not pending:
            self.notify("no human feedback waits for a repair: save some first",
                        severity="warning")
            return
        config = self.run_record.config
        defaults = RepairChoice(max(1, config.nfr), config.model, config.temperature)
        models = [m for m in (config.feedback_model, *SIM_MODELS) if m]

        def chosen(choice: RepairChoice | None) -> None:
            if choice is not None:
                self._pending = [f.id for f in pending]
                self._expected = len(pending) * choice.n
                self._show_progress()
                self.app.post_message(ActionStarted(
                    f"repair {len(pending)} annotated program(s), n={choice.n}, "
                    f"model {choice.model}"))
                self.repair_all(choice)

        self.app.push_screen(RepairDialogModal(
            defaults, models=models,
            title=f"Repair {len(pending)} annotated program(s) from their human feedback",
        ), chosen)

    @work(exclusive=False, group="actions", exit_on_error=False)
    async def repair_all(self, choice: RepairChoice) -> None:
        """Run ``Engine.repair_annotated``; its failure becomes a notification."""
        engine = self.host.engine_for(self.run_id)
        try:
            result = await engine.repair_annotated(n=choice.n, model=choice.model,
                                                   temperature=choice.temperature)
        except Exception as exc:  # every failure is shown, never a traceback
            self.notify(failure_text(exc), title="Repairs failed", severity="error", timeout=10)
            return
        finally:
            self._show_progress()
        self.notify(f"repaired annotated programs: {outcome_text(result)}; the run screen "
                    "compares human and model feedback")

    def action_cancel_repairs(self) -> None:
        self.workers.cancel_group(self, "actions")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.node is not self or event.worker.group != "actions":
            return
        if event.state == WorkerState.CANCELLED:
            self.notify("repairs cancelled; the ones stored are kept", severity="warning")
        self.refresh_bindings()

    @on(EngineReported)
    def engine_reported(self, message: EngineReported) -> None:
        if getattr(message.event, "run_id", None) == self.run_id and self._pending:
            self._show_progress()

    @on(DataChanged)
    def data_changed(self) -> None:
        if self._pending:
            self._show_progress()

    def _show_progress(self) -> None:
        """Count the executed repairs under the feedback being repaired (read from the store)."""
        store = self.host.store
        repairs = [r for f in self._pending for r in store.children(f)]
        executed = [r for r in repairs if r.passed is not None]
        passing = sum(1 for r in executed if r.passed)
        bar = self.query_one("#annotate-progress", ProgressBar)
        bar.display = True
        bar.update(total=max(self._expected, len(repairs), 1), progress=len(executed))
        self.query_one("#annotate-progress-text", Static).update(Text(
            f"{len(executed)} of {self._expected} repairs executed, {passing} pass"
            + self._origin_line()
        ))

    def _origin_line(self) -> str:
        """The paper's paired comparison: repairs from human and from model feedback on
        the same programs (with a person's feedback) and the same repair models, never
        the person's few programs beside the whole run."""
        from repair_tui.core.estimate.paired import paired_comparison

        c = paired_comparison(self.host.store.paired_repair_rows(self.run_id), samples=500)
        if c.estimate is None or c.ci is None:
            return ""
        h, m = c.human, c.model
        lo, hi = c.ci
        return (f"\nhuman feedback: {h.passed}/{h.repairs} repairs pass ({h.pass_rate:.0%}) · "
                f"model feedback: {m.passed}/{m.repairs} ({m.pass_rate:.0%}) on the same "
                f"{h.programs} program(s): {100 * c.estimate:+.0f} points, "
                f"{c.confidence:.0%} CI [{100 * lo:+.0f}, {100 * hi:+.0f}]")
