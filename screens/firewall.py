"""The PBX's firewall: its allow list (default deny), what each rule let through, recent drops."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from sip.calls import Drop, RtpDrop
from store import StoreError, validate

from . import messages
from .base import LabScreen
from .dialogs import firewall as dialogs
from .hints import hints
from .widgets.inputs import LabInput


def drops_text(drops: list[Drop]) -> Text:
    """The newest drops first: SIP messages one by one, RTP one line per stream."""
    text = Text()
    if not drops:
        text.append("no drops", style="grey62")
    for drop in drops[-8:][::-1]:
        stamp = time.strftime("%H:%M:%S", time.localtime(drop.t))
        text.append(f"{stamp}  ", style="grey62")
        text.append(f"{drop.src} -x {drop.dst}  ", style="red")
        what = f"RTP, {drop.packets} packets" if isinstance(drop, RtpDrop) else drop.first_line
        text.append(f"{what[:48]}\n")
    return text


class FirewallScreen(LabScreen):
    BINDINGS = [Binding("delete", "remove_rule", "Remove rule"), Binding("a", "focus_add", "Add rule"),
                Binding("enter", "edit_rule", "Edit rule")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield Static("PBX FIREWALL   allow rules, in order; everything else is dropped", classes="title")
            yield DataTable(id="rules", cursor_type="row")
            yield LabInput(id="add-rule", max_length=validate.MAX_RULE_TEXT)
            yield Static(id="error", classes="error")
            yield Static("RECENT DROPS", classes="title")
            yield Static(id="drops")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("#", "Allow from", "Protocol", "Note", "Let through")
        self.query_one(DataTable).focus()

    def refresh_view(self) -> None:
        self.query_one("#add-rule", Input).placeholder = hints(self.lab.account).firewall_rule
        self.refresh_rules()
        self.query_one("#drops", Static).update(drops_text(self.lab.book.recent_drops))

    def refresh_rules(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        book = self.lab.book
        rules = self.lab.account.firewall_rules
        for index, rule in enumerate(rules, 1):
            table.add_row(str(index), rule.cidr, rule.protocol, rule.note, str(book.hits(rule)), key=str(rule.rule_id))
        if rules:
            table.move_cursor(row=min(row, len(rules) - 1))

    @on(messages.SipCaptured)
    @on(messages.MediaChanged)
    def _traffic(self) -> None:  # what the rules let through grows
        self.refresh_rules()

    @on(messages.FirewallDropped)
    @on(messages.ProgressChanged)  # a new exercise: its drops start from none
    def _drops_changed(self) -> None:
        self.refresh_view()

    async def action_remove_rule(self) -> None:
        rules = self.lab.account.firewall_rules
        if not rules:
            return
        rule = rules[self.query_one(DataTable).cursor_row]
        try:
            await self.app.store.remove_firewall_rule(rule.rule_id)
        except StoreError as error:
            self.show_error(error.message)
            return
        self.notify(f"Removed: allow {rule.cidr} ({rule.protocol})")

    def action_edit_rule(self) -> None:
        rules = self.lab.account.firewall_rules
        if not rules:
            return
        rule = rules[min(self.query_one(DataTable).cursor_row, len(rules) - 1)]

        def done(message: str | None) -> None:
            if message:
                self.show_error()
                self.notify(message, markup=False)

        self.app.push_screen(dialogs.edit_rule(self.app.store, rule), done)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit_rule()

    def action_focus_add(self) -> None:
        self.query_one("#add-rule", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            cidr, protocol = validate.firewall_rule(event.value)
            rule = await self.app.store.add_firewall_rule(cidr, protocol=protocol, note="added in the console")
        except StoreError as error:
            self.show_error(error.message)  # what was typed stays, to correct
            return
        # The field stays focused, empty, for the next rule: had focus gone back to the table,
        # the next rule typed would have fired the screen's keys (n of "any": Numbers).
        event.input.value = ""
        self.show_error()
        self.notify(f"Added: allow {rule.protocol} from {rule.cidr}. Type another rule, or esc for the list.")
