"""CONFIGURE > Phone Numbers: the list with trunk group assignment; select -> Edit -> Save."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from store import StoreError, validate
from store.records import Did
from store.validate import display_phonenumber

from .base import LabScreen
from .widgets.footer import LabFooter
from .widgets.inputs import LabInput

UNASSIGNED = "(unassigned)"


class EditNumberScreen(ModalScreen[str | None]):
    """Edit a phone number's trunk group. Dismisses with the chosen trunk group SID ('' for
    unassigned) or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, did: Did, groups: list[tuple[str, str]]) -> None:
        super().__init__()
        self.did, self.groups = did, groups

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Edit {display_phonenumber(self.did.phonenumber)}  {self.did.name}", classes="title")
            yield Label("Trunk group")
            yield Select([(UNASSIGNED, "")] + [(name, sid) for sid, name in self.groups],
                         value=self.did.trunk_group_sid or "", allow_blank=False, id="group")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield LabFooter()  # the dialog's keys, ctrl+s among them (the screen's beneath do not reach it)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        self.dismiss(self.query_one("#group", Select).value)


class PhoneNumbersScreen(LabScreen):
    BINDINGS = [Binding("enter", "edit", "Edit"), Binding("a", "focus_add", "Add number")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("PHONE NUMBERS   select a number, enter: Edit, choose the trunk group, Save"), classes="title")
            yield DataTable(id="numbers", cursor_type="row")
            yield LabInput(placeholder="add a number: +1 202 555 0142, enter", id="add-number",
                           max_length=validate.MAX_PHONE_TEXT)
            yield Static(id="error", classes="error")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Phone number", "Name", "Trunk group")
        table.focus()

    def refresh_view(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        account = self.lab.account
        for did in account.dids:
            group = account.trunk_group(did.trunk_group_sid) if did.trunk_group_sid else None
            table.add_row(display_phonenumber(did.phonenumber), did.name, group.name if group else UNASSIGNED,
                          key=did.did_sid)
        if account.dids:
            table.move_cursor(row=min(row, len(account.dids) - 1))

    def action_edit(self) -> None:
        table = self.query_one(DataTable)
        if not self.lab.account.dids:
            return
        did = self.lab.account.dids[table.cursor_row]
        groups = [(g.trunk_group_sid, g.name) for g in self.lab.account.trunk_groups]

        async def save(group_sid: str | None) -> None:
            if group_sid is None:
                return
            try:
                await self.app.store.assign_did(did.did_sid, group_sid or None)
            except StoreError as error:
                self.show_error(error.message)
                return
            self.notify(f"{display_phonenumber(did.phonenumber)} saved")

        self.app.push_screen(EditNumberScreen(did, groups), save)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_focus_add(self) -> None:
        self.query_one("#add-number", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            await self.app.store.create_did(event.value)
        except StoreError as error:
            self.show_error(error.message)
            return
        self.show_error()
        event.input.value = ""
        self.query_one(DataTable).focus()  # done: back to the list
