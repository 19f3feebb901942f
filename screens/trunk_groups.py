"""CONFIGURE > Trunk Groups: groups, their trunks to endpoints, and their numbers.

One list: each trunk group, then its trunks under it. What enter and del do depends on the
line selected: a group is renamed or deleted, a trunk edited or removed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from store import StoreError
from store.records import Account, Trunk, TrunkGroup
from store.validate import display_phonenumber

from .base import LabScreen
from .dialogs import trunk_group as dialogs

KEYS_HINT = "+ new trunk group   a add a trunk   enter rename / edit   del delete / remove"


def group_prompt(account: Account, group: TrunkGroup) -> Text:
    text = Text()
    text.append(group.name, style="bold")
    text.append(f"   {group.trunk_group_sid}   routing {group.routing_type}\n", style="grey62")
    numbers = account.dids_of_trunk_group(group.trunk_group_sid)
    text.append("  numbers: ", style="bold")
    text.append(", ".join(display_phonenumber(d.phonenumber) for d in numbers) or "none")
    if not group.trunks:
        text.append("\n  no trunks: calls to its numbers have nowhere to go (a adds one)", style="red")
    return text


def trunk_prompt(account: Account, trunk: Trunk) -> Text:
    endpoint = account.endpoint(trunk.endpoint_sid)
    addresses = ", ".join(f"{a.ip}:{a.port}" for a in endpoint.addresses) if endpoint else "?"
    return Text(f"  trunk {trunk.name}  ->  {endpoint.name if endpoint else trunk.endpoint_sid}"
                f"  ({addresses or 'no address'})  priority {trunk.priority}")


def groups_options(account: Account) -> list[Option]:
    options = []
    for group in account.trunk_groups:
        options.append(Option(group_prompt(account, group), id=f"group:{group.trunk_group_sid}"))
        options += [Option(trunk_prompt(account, t), id=f"trunk:{t.trunk_sid}") for t in group.trunks]
    return options


class TrunkGroupsScreen(LabScreen):
    # enter and del are written above the list: the footer keeps its room
    BINDINGS = [
        Binding("plus", "create_group", "New trunk group"),
        Binding("a", "add_trunk", "Add trunk"),
        Binding("enter", "edit", "Rename the group or edit the trunk", show=False),
        Binding("delete", "delete", "Delete the group or remove the trunk", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="trunk-groups-box"):
            yield Static("TRUNK GROUPS", classes="title")
            yield Static(Text(KEYS_HINT, style="grey62"), id="trunk-groups-keys")
            yield OptionList(id="trunk-group-list")
            yield Static(id="error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#trunk-group-list", OptionList).focus()

    def refresh_view(self) -> None:
        option_list = self.query_one("#trunk-group-list", OptionList)
        keep = option_list.highlighted or 0
        option_list.clear_options()
        options = groups_options(self.lab.account)
        if options:
            option_list.add_options(options)
            option_list.highlighted = min(keep, len(options) - 1)
        else:
            option_list.add_option(Option(Text("No trunk groups yet: + creates one (or Add New Endpoint with "
                                               "Provision Trunk Group, on Endpoints)", style="italic"),
                                          disabled=True))

    def selected(self) -> tuple[TrunkGroup | None, Trunk | None]:
        """The group of the line selected, and its trunk when the line is a trunk."""
        option_list = self.query_one("#trunk-group-list", OptionList)
        if option_list.highlighted is None:
            return None, None
        kind, _, sid = (option_list.get_option_at_index(option_list.highlighted).id or "").partition(":")
        for group in self.lab.account.trunk_groups:
            if kind == "group" and group.trunk_group_sid == sid:
                return group, None
            trunk = next((t for t in group.trunks if t.trunk_sid == sid), None)
            if trunk is not None:
                return group, trunk
        return None, None

    def _dialog_done(self, done: str | None) -> None:
        if done:
            self.show_error()
            self.notify(done, markup=False)

    def action_create_group(self) -> None:
        self.app.push_screen(dialogs.create_trunk_group(self.app.store), self._dialog_done)

    def action_add_trunk(self) -> None:
        group, _ = self.selected()
        if group is None:
            self.show_error("Add a trunk: first create a trunk group (+), then select it")
            return
        endpoints = self.lab.account.third_party_endpoints
        if not endpoints:
            self.show_error("Add a trunk: a trunk goes to one of your endpoints, and there is none yet: "
                            "Endpoints (e) -> Add New Endpoint (+)")
            return
        self.app.push_screen(dialogs.add_trunk(self.app.store, group, endpoints), self._dialog_done)

    def action_edit(self) -> None:
        group, trunk = self.selected()
        if trunk is not None:
            self.app.push_screen(dialogs.edit_trunk(self.app.store, trunk), self._dialog_done)
        elif group is not None:
            self.app.push_screen(dialogs.rename_trunk_group(self.app.store, group), self._dialog_done)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_edit()  # enter on the list

    async def action_delete(self) -> None:
        group, trunk = self.selected()
        if trunk is None:
            if group is not None:
                self.app.push_screen(dialogs.delete_trunk_group(self.app.store, group), self._dialog_done)
            return
        try:
            await self.app.store.remove_trunk(trunk.trunk_sid)
        except StoreError as error:
            self.show_error(error.message)
            return
        self.show_error()
        self.notify(f"Trunk {trunk.name!r} removed from {group.name}", markup=False)
