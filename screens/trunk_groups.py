"""CONFIGURE > Trunk Groups: groups, their trunks to endpoints, and their numbers."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from store.validate import display_phonenumber

from .base import LabScreen


def groups_text(account) -> Text:
    text = Text()
    for group in account.trunk_groups:
        text.append(f"{group.name}", style="bold")
        text.append(f"   {group.trunk_group_sid}   routing {group.routing_type}\n", style="grey62")
        for trunk in group.trunks:
            endpoint = account.endpoint(trunk.endpoint_sid)
            addresses = ", ".join(f"{a.ip}:{a.port}" for a in endpoint.addresses) if endpoint else "?"
            text.append(f"  trunk {trunk.name}  ->  {endpoint.name if endpoint else trunk.endpoint_sid}"
                        f"  ({addresses})  priority {trunk.priority}\n")
        if not group.trunks:
            text.append("  no trunks: calls to its numbers have nowhere to go\n", style="red")
        numbers = account.dids_of_trunk_group(group.trunk_group_sid)
        text.append("  numbers: ", style="bold")
        text.append(", ".join(display_phonenumber(d.phonenumber) for d in numbers) or "none", style="")
        text.append("\n\n")
    return text


class TrunkGroupsScreen(LabScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("TRUNK GROUPS", classes="title")
        with VerticalScroll():
            yield Static(id="groups")

    def refresh_view(self) -> None:
        self.query_one("#groups", Static).update(groups_text(self.lab.account))
