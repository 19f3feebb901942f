"""A small form dialog: labelled fields, Save and Cancel, the store's refusal under its field.

Save runs one store call (the dialog's `save`). When the store refuses, the dialog stays open
with what was typed and the reason under the field it is about (the store names the field:
StoreError.field); nothing was written, because the store refuses before it commits. When the
store accepts, the dialog closes with a sentence saying what was done, for a notification.

Every widget has a stable id (the dialog's own id is the screen's), so a script can drive it:
`#<field id>` for a field, `#<field id>-error` under it, `#<dialog id>-save` and `-cancel`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from store import StoreError

from ..widgets.footer import LabFooter
from ..widgets.inputs import FieldErrors, LabInput, error_line

Values = dict[str, object]  # field id -> what it holds: text (str), choice (str), check (bool)
Save = Callable[[Values], Awaitable[str]]  # raises StoreError, or says what it did


CONFIRM_KEYS = "enter: confirm   esc: cancel"  # the Delete (Start blank) button has the focus


@dataclass(frozen=True)
class Field:
    id: str  # the widget's id, stable: 'endpoint-name'
    label: str
    store_field: str = ""  # the store's name for it (StoreError.field), so its refusal shows here
    value: str | bool = ""
    kind: str = "text"  # 'text' | 'choice' | 'check'
    choices: tuple[tuple[str, str], ...] = ()  # (shown, value) for a choice
    max_length: int = 64
    placeholder: str = ""


class FormDialog(FieldErrors, ModalScreen[str | None]):
    """Enter in a text field or ctrl+s saves; esc cancels. With no fields it is a confirmation
    (its Save button, named for what it does, has the focus)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, dialog_id: str, title: str, fields: tuple[Field, ...], save: Save, *,
                 intro: str = "", save_label: str = "Save") -> None:
        super().__init__(id=dialog_id)
        self.title_text, self.fields, self.save_action = title, fields, save
        self.intro, self.save_label = intro, save_label
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="form"):
            yield Label(self.title_text, classes="title")
            if self.intro:
                yield Static(self.intro, classes="intro", markup=False)
            with Vertical(classes="form-fields"):
                for field in self.fields:
                    with Horizontal(classes="form-row"):
                        yield Label(field.label, classes="field-label")
                        if field.kind == "check":
                            yield Checkbox("", bool(field.value), id=field.id, compact=True)
                        elif field.kind == "choice":
                            yield Select(list(field.choices), value=field.value, allow_blank=False, id=field.id,
                                         compact=True)
                        else:
                            yield LabInput(str(field.value), id=field.id, max_length=field.max_length,
                                           placeholder=field.placeholder, compact=True)
                    yield error_line(field.id)
            error = Static(id="error", classes="error")
            error.display = False
            yield error
            with Horizontal(classes="buttons"):
                yield Button(self.save_label, variant="primary" if self.fields else "error", id=f"{self.id}-save",
                             compact=True)
                yield Button("Cancel", id=f"{self.id}-cancel", compact=True)
            if not self.fields:
                yield Static(CONFIRM_KEYS, classes="keys")
        yield LabFooter()  # the dialog's keys (the screen's beneath do not reach a dialog)

    def show_error(self, message: str = "", field: str | None = None) -> None:
        super().show_error(message, field)
        if field is None or self.field_for_id(field) is None:  # the dialog's own line: no room while empty
            self.query_one("#error", Static).display = bool(message)

    def field_for_id(self, field_id: str) -> Field | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def values(self) -> Values:
        found: Values = {}
        for field in self.fields:
            found[field.id] = self.query_one(f"#{field.id}").value
        return found

    def field_for(self, store_field: str | None) -> str | None:
        """The id of the field a refusal is about, if this dialog has it."""
        return next((f.id for f in self.fields if store_field and f.store_field == store_field), None)

    async def action_save(self) -> None:
        if self.saving:  # enter held down: one transaction, not two
            return
        self.saving = True
        try:
            done = await self.save_action(self.values())
        except StoreError as error:
            for field in self.fields:
                self.show_error("", field.id)
            self.show_error()
            self.show_error(error.message, self.field_for(error.field))
            return
        finally:
            self.saving = False
        self.dismiss(done)

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == f"{self.id}-save":
            await self.action_save()
        else:
            self.action_cancel()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_save()


def choices(*values: str) -> tuple[tuple[str, str], ...]:
    """A choice whose values are shown as they are (direction: inbound, outbound, any)."""
    return tuple((value, value) for value in values)
