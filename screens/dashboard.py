"""The first screen: the parties with their addresses, the CONFIGURE menu, the checklist."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from . import messages
from .base import LabScreen
from .dialogs.account import start_blank
from .widgets.checklist import ChecklistView

def parties_text(account) -> Text:
    """PSTN -> System Gateway -> PBX firewall -> PBX, with every address, in two lines that fit
    80 columns in any lab's block (127.0.254.x included)."""
    pstn, pbx, roaming = account.party("pstn"), account.party("pbx"), account.party("pbx_roaming")
    gateways = ", ".join(a.ip for a in account.system_gateway.addresses)
    rules = len(account.firewall_rules)
    text = Text()
    text.append(" PSTN ", style="bold reverse")
    text.append(f" {pstn.ip}  ──▶  ")
    text.append(" System Gateway ", style="bold reverse")
    text.append(f" {gateways}  ──▶\n")
    text.append(" PBX firewall ", style="bold reverse")
    text.append(f" {rules} allow rule{'s' if rules != 1 else ''}  ──▶  ")
    text.append(" PBX ", style="bold reverse")
    text.append(f" {pbx.ip}, roaming {roaming.ip}")
    return text


class DashboardScreen(LabScreen):
    BINDINGS = [
        Binding("escape", "app.open('dashboard')", "", show=False),  # Home: nothing to go back to
        Binding("ctrl+n", "start_blank", "Blank account"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="parties")
        menu = [Option(Text(f"{e.title:<15} {e.key}"), id=e.name) for e in self.app.REGISTRY if e.on_menu]
        with Horizontal(id="home"):
            with Vertical(id="configure"):
                yield Static("CONFIGURE", classes="title")
                yield OptionList(*menu, id="menu")
            with Vertical(id="checklist-box"):
                yield Static(Text("Verification Checklist   k runs it"), classes="title", id="checklist-title")
                with VerticalScroll(id="checklist-scroll"):  # four failing items do not fit 80x24
                    yield ChecklistView(id="checklist")

    def action_start_blank(self) -> None:
        """Start again as a new CarrierX customer, after a confirmation (the account is replaced)."""

        def done(message: str | None) -> None:
            if message:
                self.notify(message, markup=False)

        self.app.push_screen(start_blank(self.app.store), done)

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        await self.app.action_open(event.option.id)

    def refresh_view(self) -> None:
        self.query_one("#parties", Static).update(parties_text(self.lab.account))
        self.show_checklist(self.lab.checklist)

    def show_checklist(self, items) -> None:
        trainee = self.app.trainee_mode()
        title = "Verification Checklist" + (" (exercise)" if trainee else "") + "   k runs it"
        self.query_one("#checklist-title", Static).update(Text(title))
        self.query_one(ChecklistView).show(items, show_fix=not trainee)

    @on(messages.ChecklistChanged)
    def _checklist_changed(self, message: messages.ChecklistChanged) -> None:
        self.show_checklist(list(message.event.items))

    @on(messages.ProgressChanged)
    def _progress_changed(self) -> None:  # an exercise started or ended, a hint was asked for
        self.show_checklist(self.lab.checklist)
