"""The PBX's firewall: its allow list (default deny), what each rule let through, recent drops."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from store import StoreError

from .base import LabScreen
from .widgets.inputs import LabInput


def drops_text(drops) -> Text:
    text = Text()
    if not drops:
        text.append("no drops", style="grey62")
    for drop in drops[-8:][::-1]:
        stamp = time.strftime("%H:%M:%S", time.localtime(drop.t))
        text.append(f"{stamp}  ", style="grey62")
        text.append(f"{drop.src} -x {drop.dst}  ", style="red")
        text.append(f"{drop.first_line[:48]}\n")
    return text


class FirewallScreen(LabScreen):
    BINDINGS = [Binding("delete", "remove_rule", "Remove rule"), Binding("a", "focus_add", "Add rule")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield Static("PBX FIREWALL   allow rules, in order; everything else is dropped", classes="title")
            yield DataTable(id="rules", cursor_type="row")
            yield LabInput(placeholder="allow: 127.0.0.3  or  10.0.0.0/24 sip|rtp|any, enter", id="add-rule")
            yield Static(id="error", classes="error")
            yield Static("RECENT DROPS", classes="title")
            yield Static(id="drops")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("#", "Allow from", "Protocol", "Note", "Let through")
        self.refresh_account()
        self.query_one(DataTable).focus()

    def refresh_account(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        hits = self.app.lab.book.rule_hits if self.app.lab else {}
        rules = self.app.account.firewall_rules
        for index, rule in enumerate(rules, 1):
            table.add_row(str(index), rule.cidr, rule.protocol, rule.note, str(hits.get(rule.rule_id, 0)),
                          key=str(rule.rule_id))
        if rules:
            table.move_cursor(row=min(row, len(rules) - 1))
        self.query_one("#drops", Static).update(drops_text(self.app.lab.book.recent_drops if self.app.lab else []))

    def engine_event(self, source: str, event: dict) -> None:
        if event.get("ev") in ("drop", "sip", "media"):
            self.refresh_account()

    async def action_remove_rule(self) -> None:
        rules = self.app.account.firewall_rules
        if not rules:
            return
        rule = rules[self.query_one(DataTable).cursor_row]
        try:
            await self.app.store.remove_firewall_rule(rule.rule_id)
        except StoreError as error:
            self.query_one("#error", Static).update(Text(error.message))
            return
        self.notify(f"Removed: allow {rule.cidr} ({rule.protocol})")

    def action_focus_add(self) -> None:
        self.query_one("#add-rule", Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        words = event.value.split()
        cidr = words[0] if words else ""
        protocol = words[1] if len(words) > 1 else "any"
        try:
            await self.app.store.add_firewall_rule(cidr, protocol=protocol, note="added in the console")
        except StoreError as error:
            self.query_one("#error", Static).update(Text(error.message))  # what was typed stays, to correct
            return
        self.query_one("#error", Static).update("")
        event.input.value = ""
        self.query_one(DataTable).focus()  # done: back to the list
