"""CONFIGURE > Phone Numbers: the list with trunk group assignment; select -> Edit -> Save."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from store import StoreError
from store.validate import display_phonenumber

from .base import LabScreen
from .dialogs import number as dialogs
from .dialogs.number import UNASSIGNED


class PhoneNumbersScreen(LabScreen):
    BINDINGS = [Binding("enter", "edit", "Edit"), Binding("a", "add_number", "Add number"),
                Binding("delete", "delete_number", "Delete")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("PHONE NUMBERS   select a number, enter: Edit (its name, its trunk group), Save"),
                         classes="title")
            yield DataTable(id="numbers", cursor_type="row")
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

    def _dialog_done(self, done: str | None) -> None:
        if done:
            self.show_error()
            self.notify(done, markup=False)

    def action_edit(self) -> None:
        dids = self.lab.account.dids
        if not dids:
            return
        did = dids[min(self.query_one(DataTable).cursor_row, len(dids) - 1)]
        self.app.push_screen(dialogs.edit_number(self.app.store, did, self.lab.account.trunk_groups),
                             self._dialog_done)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def action_add_number(self) -> None:
        self.app.push_screen(dialogs.add_number(self.app.store, self.lab.account.trunk_groups), self._dialog_done)

    async def action_delete_number(self) -> None:
        dids = self.lab.account.dids
        if not dids:
            return
        did = dids[min(self.query_one(DataTable).cursor_row, len(dids) - 1)]
        try:
            await self.app.store.delete_did(did.did_sid)
        except StoreError as error:
            self.show_error(error.message)
            return
        self.show_error()
        self.notify(f"{display_phonenumber(did.phonenumber)} deleted from the account", markup=False)
