"""Modal dialogs of the app: edit a feedback, choose how to repair, confirm an action,
pick a search hit.

Each modal returns its result with ``dismiss`` (None when cancelled), received by a
``push_screen`` callback. They read nothing from the store: the caller hands them
their defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from repair_tui.tui.widgets.detail import CodeView, FailingTestsView
from repair_tui.tui.widgets.editor import FeedbackArea
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea

if TYPE_CHECKING:
    from repair_tui.core.store.search import SearchHit
    from repair_tui.sandbox.result import TestResult

MAX_REPAIRS = 50  # per dialog: more is almost surely a typo, and costs real tokens

_MODAL_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 80%;
    max-width: 100;
    height: auto;
    max-height: 90%;
    border: thick $primary;
    background: $surface;
    padding: 1 2;
}}
{name} .modal-title {{ text-style: bold; margin-bottom: 1; }}
{name} .modal-error {{ color: $error; height: auto; }}
{name} Horizontal.modal-buttons {{ height: auto; margin-top: 1; align-horizontal: right; }}
{name} Horizontal.modal-buttons Button {{ margin-left: 2; }}
"""


@dataclass(frozen=True)
class RepairChoice:
    """How to repair from a feedback: how many repairs, with which model, how hot."""

    n: int
    model: str
    temperature: float


def parse_repair_choice(n: str, model: str, temperature: str) -> RepairChoice:
    """A RepairChoice from the dialog's fields; ValueError naming the bad field."""
    try:
        count = int(n.strip())
    except ValueError:
        raise ValueError(f"repairs must be a whole number, not {n.strip()!r}") from None
    if not 1 <= count <= MAX_REPAIRS:
        raise ValueError(f"repairs must be between 1 and {MAX_REPAIRS}, not {count}")
    name = model.strip()
    if not name or any(c.isspace() for c in name):
        raise ValueError("model must be one name without spaces, e.g. sim or gpt-4o-mini")
    try:
        temp = float(temperature.strip())
    except ValueError:
        raise ValueError(f"temperature must be a number, not {temperature.strip()!r}") from None
    if not 0 <= temp <= 2:
        raise ValueError(f"temperature must be between 0 and 2, not {temp}")
    return RepairChoice(count, name, temp)


class FeedbackEditorModal(ModalScreen[str | None]):
    """An editor prefilled with a feedback; returns the edited text (None: cancelled).

    The program and its failing tests are shown beside the editor, so a person writes
    with them in view. The caller stores the text as a NEW human feedback; the original
    is never changed. Leaving with text typed since it opened asks first.
    """

    DEFAULT_CSS = _MODAL_CSS.format(name="FeedbackEditorModal") + """
    FeedbackEditorModal > Vertical { width: 96%; max-width: 200; height: 94%; }
    FeedbackEditorModal #feedback-body { height: 1fr; }
    FeedbackEditorModal #feedback-context {
        width: 1fr; height: 1fr; border-right: vkey $primary-darken-2; margin-right: 1;
    }
    FeedbackEditorModal #feedback-side { width: 1fr; height: 1fr; }
    FeedbackEditorModal TextArea { height: 1fr; min-height: 3; }
    FeedbackEditorModal .modal-title { margin-bottom: 0; }
    FeedbackEditorModal .modal-help { color: $text-muted; }
    FeedbackEditorModal Horizontal.modal-buttons { margin-top: 0; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="modal.save", tooltip="Store as human feedback"),
        Binding("escape", "cancel", "Cancel", id="modal.cancel",
                tooltip="Close without saving (asks first if you typed something)"),
    ]

    def __init__(
        self,
        text: str = "",
        *,
        title: str = "Edit feedback",
        code: str | None = None,
        results: Sequence[TestResult] = (),
        executed: bool = True,
    ) -> None:
        """``code`` and ``results``: the program explained and its tests, shown beside."""
        super().__init__()
        self._text = text
        self._title = title
        self._code = code
        self._results = list(results)
        self._executed = executed

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="modal-title", markup=False)
            yield Static("Saving (ctrl+s) stores a new feedback with origin human; the "
                         "original stays as it is. ctrl+a selects all.", classes="modal-help")
            with Horizontal(id="feedback-body"):
                if self._code is not None:
                    with VerticalScroll(id="feedback-context"):
                        yield CodeView(id="feedback-code")
                        yield FailingTestsView(id="feedback-tests")
                with Vertical(id="feedback-side"):
                    yield FeedbackArea(self._text, id="feedback-editor")
                    yield Label("", classes="modal-error", id="feedback-error")
                    with Horizontal(classes="modal-buttons"):
                        yield Button("Cancel", id="cancel")
                        yield Button("Save (ctrl+s)", variant="primary", id="save")

    def on_mount(self) -> None:
        if self._code is not None:
            self.query_one(CodeView).show(self._code)
            self.query_one(FailingTestsView).show(self._results, executed=self._executed)
        self.query_one("#feedback-editor", TextArea).focus()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.query_one("#feedback-error", Label).update("The feedback is empty.")
            return
        self.dismiss(text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.query_one(FeedbackArea).changed:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmModal("Discard the feedback you wrote?", yes="Discard",
                                          no="Keep editing"), answered)


class RepairDialogModal(ModalScreen[RepairChoice | None]):
    """Choose n, model and temperature for repairs from a feedback (None: cancelled)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="RepairDialogModal") + """
    RepairDialogModal Input { margin-bottom: 1; }
    RepairDialogModal .modal-title { margin-bottom: 0; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
    ]

    def __init__(
        self, defaults: RepairChoice, *, models: Sequence[str] = (), title: str = "Repair"
    ) -> None:
        super().__init__()
        self._defaults = defaults
        self._models = list(dict.fromkeys([defaults.model, *models]))
        self._title = title

    def compose(self) -> ComposeResult:
        d = self._defaults
        with Vertical():
            yield Label(self._title, classes="modal-title", markup=False)
            yield Label("Repairs to sample")
            yield Input(str(d.n), type="integer", id="repair-n", compact=True)
            yield Label("Model (sim, sim-weak, sim-strong run offline; other names use the "
                        "run's endpoint)")
            yield Input(d.model, id="repair-model", compact=True,
                        suggester=SuggestFromList(self._models, case_sensitive=False))
            yield Label("Temperature (0 to 2)")
            yield Input(f"{d.temperature:g}", type="number", id="repair-temperature",
                        compact=True)
            yield Label("", classes="modal-error", id="repair-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Repair (enter)", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#repair-n", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        """Check the fields and return the choice, or say what is wrong."""
        try:
            choice = parse_repair_choice(
                self.query_one("#repair-n", Input).value,
                self.query_one("#repair-model", Input).value,
                self.query_one("#repair-temperature", Input).value,
            )
        except ValueError as exc:
            self.query_one("#repair-error", Label).update(str(exc))
            return
        self.dismiss(choice)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; returns True for yes."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ConfirmModal")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="modal.yes"),
        Binding("n,escape", "answer(False)", "No", id="modal.no"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self._question = question
        self._yes = yes
        self._no = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._question, classes="modal-title", markup=False)
            with Horizontal(classes="modal-buttons"):
                yield Button(f"{self._no} (n)", id="no")
                yield Button(f"{self._yes} (y)", variant="primary", id="yes")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed)
    def answer_button(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class RenameModal(ModalScreen[str | None]):
    """A new name for something (a run): the Input starts with the old one; enter
    returns the new name, escape None."""

    DEFAULT_CSS = _MODAL_CSS.format(name="RenameModal")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, old: str, *, title: str = "Rename") -> None:
        super().__init__()
        self._old = old
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="modal-title", markup=False)
            yield Input(self._old, id="rename-input")
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Rename (enter)", variant="primary", id="rename")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#rename")
    def rename(self) -> None:
        self.dismiss(self.query_one(Input).value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class SearchHitsModal(ModalScreen["SearchHit | None"]):
    """A run's search hits (specs, feedback, code), one a line; returns the chosen hit
    (None: closed). The caller opens its task with the node selected."""

    DEFAULT_CSS = _MODAL_CSS.format(name="SearchHitsModal") + """
    SearchHitsModal > Vertical { width: 96%; max-width: 160; }
    SearchHitsModal OptionList { height: auto; max-height: 30; }
    SearchHitsModal .modal-help { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Close", id="modal.cancel"),
    ]

    def __init__(self, query: str, hits: Sequence[SearchHit], *, limit: int) -> None:
        super().__init__()
        self._query = query
        self._hits = list(hits)
        self._limit = limit

    def compose(self) -> ComposeResult:
        from repair_tui.tui.search_text import hit_text
        from repair_tui.tui.untrusted import visible

        n = len(self._hits)
        more = " (the first ones)" if n >= self._limit else ""
        with Vertical():
            yield Label(f"{n} match{'es' if n != 1 else ''}{more} for "
                        f"{visible(self._query, keep_newlines=False)!r} in specs, feedback and code",
                        classes="modal-title", markup=False)
            yield Static("enter opens the task with the node selected · escape closes",
                         classes="modal-help")
            yield OptionList(*(hit_text(h) for h in self._hits), id="search-hits")

    def on_mount(self) -> None:
        self.query_one("#search-hits").focus()

    @on(OptionList.OptionSelected, "#search-hits")
    def open_hit(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._hits[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
