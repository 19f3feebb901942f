"""The console's text fields: each has a length limit and says so when it is reached, esc
leaves the field (the keys act on the screen again) instead of leaving the screen, and nothing
blinks in deterministic (snapshot) runs.

Errors are shown under the field they are about: a screen or dialog that mixes in FieldErrors
shows them in `#<field id>-error` when it has one (an `error_line(field id)`, which takes no
room while empty), else in its `#error`.
"""

from __future__ import annotations

from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Input, Static


class LabInput(Input):
    # While a field has the focus it takes the letters, so the screen's keys are not in the
    # footer: these two are, so nobody is left without a way out.
    BINDINGS = [Binding("enter", "submit", "Submit"), Binding("escape", "leave", "Leave the field")]

    class Refused(Message):
        """A key press or paste the field did not take, and why."""

        def __init__(self, field: LabInput, reason: str) -> None:
            super().__init__()
            self.field = field
            self.reason = reason

    def __init__(self, value: str | None = None, *, max_length: int, **options) -> None:
        super().__init__(value, max_length=max_length, **options)

    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            self.cursor_blink = False

    def restricted(self) -> None:
        """Textual refused the change (the only restriction set here is the length): say why
        instead of only ringing the bell."""
        super().restricted()
        self.post_message(self.Refused(self, f"{self.max_length} characters at most in this field"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """esc is "Leave the field" only where the screen offers leave_field(); in a dialog it
        is the dialog's (Cancel), and the footer says so."""
        if action == "leave" and getattr(self.screen, "leave_field", None) is None:
            return False
        return True

    def action_leave(self) -> None:
        """esc: back to the screen's list, where its keys work. A dialog's esc (cancel) is not
        taken: the screen must offer leave_field()."""
        leave = getattr(self.screen, "leave_field", None)
        if leave is None:
            raise SkipAction()
        leave(self)


def error_line(field: str) -> Static:
    """The line under a field where its error goes: hidden while there is none."""
    line = Static(id=f"{field}-error", classes="error")
    line.display = False
    return line


class FieldErrors:
    """Mixed into screens and dialogs (before Screen): the error of a field, under that field."""

    def show_error(self, message: str = "", field: str | None = None) -> None:
        """Show (or clear, with no message) an error: under `field` when it has its own line,
        else on the screen's error line. Plain text: it may echo what was typed."""
        target = None
        if field is not None:
            try:
                target = self.query_one(f"#{field}-error", Static)
                target.display = bool(message)
            except NoMatches:
                pass
        if target is None:
            try:
                target = self.query_one("#error", Static)
            except NoMatches:  # a screen without an error line: say it anyway
                if message:
                    self.notify(message, severity="error", markup=False)
                return
        target.update(Text(message))

    def on_lab_input_refused(self, message: LabInput.Refused) -> None:
        self.show_error(message.reason, message.field.id)
