"""The first screen: the parties with their addresses, the CONFIGURE menu, the checklist."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .base import LabScreen
from .widgets.checklist import ChecklistView

MENU = (
    ("endpoints", "Endpoints", "e"),
    ("numbers", "Phone Numbers", "n"),
    ("trunk_groups", "Trunk Groups", "t"),
    ("firewall", "Firewall", "f"),
    ("calls", "Calls", "c"),
    ("pbx", "PBX settings", "b"),
    ("exercises", "Exercises", "w"),
)


def parties_text(account) -> Text:
    """PSTN -> System Gateway -> PBX firewall -> PBX, with every address."""
    pstn, pbx, roaming = account.party("pstn"), account.party("pbx"), account.party("pbx_roaming")
    gateways = ", ".join(a.ip for a in account.system_gateway.addresses)
    rules = len(account.firewall_rules)
    text = Text()
    text.append(" PSTN ", style="bold reverse")
    text.append(f" {pstn.ip}  ──▶  ")
    text.append(" System Gateway ", style="bold reverse")
    text.append(f" {gateways}  ──▶  ")
    text.append(" PBX firewall ", style="bold reverse")
    text.append(f" {rules} allow rule{'s' if rules != 1 else ''}\n  ──▶  ")
    text.append(" PBX ", style="bold reverse")
    text.append(f" {pbx.ip} (roaming {roaming.ip})")
    return text


class DashboardScreen(LabScreen):
    BINDINGS = []  # Home is the bottom of the stack: nothing to go back to

    def compose_body(self) -> ComposeResult:
        yield Static(parties_text(self.app.account), id="parties")
        with Horizontal(id="home"):
            with Vertical(id="configure"):
                yield Static("CONFIGURE", classes="title")
                yield OptionList(*(Option(Text(f"{title:<15} {key}"), id=name) for name, title, key in MENU), id="menu")
            with Vertical(id="checklist-box"):
                yield Static(Text("Verification Checklist   k runs it"), classes="title")
                yield ChecklistView(id="checklist")

    def on_mount(self) -> None:
        self.query_one(ChecklistView).show(self.app.checklist)

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        await self.app.action_open(event.option.id)

    def engine_event(self, source: str, event: dict) -> None:
        self.query_one(ChecklistView).show(self.app.checklist)

    def refresh_account(self) -> None:
        self.query_one("#parties", Static).update(parties_text(self.app.account))
