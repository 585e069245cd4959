"""The modals return what the user chose, and refuse bad input with a message."""

from __future__ import annotations

from typing import Any

import pytest
from repair_tui.tui.modals import (
    MAX_REPAIRS,
    ConfirmModal,
    FeedbackEditorModal,
    RepairChoice,
    RepairDialogModal,
    parse_repair_choice,
)
from textual.app import App
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea

NOTHING = object()


class ModalApp(App[None]):
    """Pushes one modal at start and keeps what it dismissed with."""

    def __init__(self, modal: ModalScreen[Any]) -> None:
        super().__init__()
        self.modal = modal
        self.result: Any = NOTHING

    def on_mount(self) -> None:
        self.push_screen(self.modal, self.keep)

    def keep(self, result: Any) -> None:
        self.result = result


def test_parse_repair_choice_accepts_and_names_the_bad_field() -> None:
    assert parse_repair_choice(" 3 ", "gpt-4o", "0.5") == RepairChoice(3, "gpt-4o", 0.5)
    for args, message in [
        (("x", "sim", "1"), "repairs must be a whole number, not 'x'"),
        (("0", "sim", "1"), "repairs must be between 1 and"),
        ((str(MAX_REPAIRS + 1), "sim", "1"), "repairs must be between 1 and"),
        (("1", "", "1"), "model must be one name"),
        (("1", "my model", "1"), "model must be one name"),
        (("1", "sim", "hot"), "temperature must be a number"),
        (("1", "sim", "2.5"), "temperature must be between 0 and 2"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_repair_choice(*args)


async def test_feedback_editor_saves_edits_and_cancels() -> None:
    app = ModalApp(FeedbackEditorModal("Model says: off by one.", title="Feedback on p0"))
    async with app.run_test() as pilot:
        editor = app.screen.query_one(TextArea)
        assert editor.text == "Model says: off by one." and app.focused is editor
        assert editor.cursor_location == editor.document.end  # ready to append
        await pilot.press("space", "x", "ctrl+s")
        await pilot.pause()
    assert app.result == "Model says: off by one. x"

    app = ModalApp(FeedbackEditorModal("keep me"))
    async with app.run_test() as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_feedback_editor_refuses_empty_text() -> None:
    app = ModalApp(FeedbackEditorModal("   "))
    async with app.run_test() as pilot:
        await pilot.click("#save")
        assert app.result is NOTHING
        assert "empty" in str(app.screen.query_one("#feedback-error", Label).content)
        await pilot.click("#cancel")
        await pilot.pause()
    assert app.result is None


async def test_repair_dialog_returns_defaults_or_edits() -> None:
    defaults = RepairChoice(3, "sim", 0.8)
    app = ModalApp(RepairDialogModal(defaults, models=["sim-strong"]))
    async with app.run_test() as pilot:
        await pilot.press("enter")
        await pilot.pause()
    assert app.result == defaults

    app = ModalApp(RepairDialogModal(defaults))
    async with app.run_test() as pilot:
        dialog = app.screen
        dialog.query_one("#repair-n", Input).value = "5"
        dialog.query_one("#repair-model", Input).value = "sim-strong"
        dialog.query_one("#repair-temperature", Input).value = "0"
        await pilot.click("#ok")
        await pilot.pause()
    assert app.result == RepairChoice(5, "sim-strong", 0.0)


async def test_repair_dialog_shows_the_error_and_stays() -> None:
    app = ModalApp(RepairDialogModal(RepairChoice(1, "sim", 0.8)))
    async with app.run_test() as pilot:
        dialog = app.screen
        dialog.query_one("#repair-n", Input).value = "0"
        await pilot.press("enter")
        assert app.screen is dialog and app.result is NOTHING
        assert "between 1 and" in str(dialog.query_one("#repair-error", Label).content)
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


@pytest.mark.parametrize(("keys", "expected"), [(("y",), True), (("n",), False),
                                                 (("escape",), False), (("enter",), True)])
async def test_confirm_answers(keys: tuple[str, ...], expected: bool) -> None:
    app = ModalApp(ConfirmModal("Discard?"))
    async with app.run_test() as pilot:
        await pilot.press(*keys)  # enter presses the focused "yes" button
        await pilot.pause()
    assert app.result is expected
