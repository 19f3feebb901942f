"""CONFIGURE > Endpoints: the list, Endpoint Details and the Assigned Phone Numbers tab."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from store import StoreError, validate
from store.export import mask_token
from store.records import Endpoint, EndpointAddress, EndpointAttributes
from store.validate import display_phonenumber

from .base import LabScreen
from .dialogs import endpoint as dialogs
from .hints import hints
from .widgets.inputs import LabInput

EMPTY_TAB = (
    "No phone numbers are associated with this endpoint's trunk group.\n\n"
    "To fix this:\n"
    "  1. Navigate to Configure > Phone Numbers  (key n)\n"
    "  2. Select a phone number\n"
    "  3. Edit  (enter)\n"
    "  4. Assign the phone number to the appropriate trunk group\n"
    "  5. Save\n\n"
    "After this, the number will appear here."
)
HEADER_AUTH_NOTE = (
    "Header-based authentication sends X-Auth-VoipToken in clear text in the INVITE: "
    "prefer proxy authentication (endpoint SID as username, VoIP token as password)."
)


def details_text(endpoint: Endpoint, revealed: bool) -> Text:
    """Who the endpoint is: its name, type, SID, token and capacity (its addresses are a table
    of their own, its attributes below them)."""
    text = Text()
    text.append(endpoint.name, style="bold")
    if endpoint.is_system_gateway:
        text.append("   system-generated, read-only\n", style="italic grey62")
    else:
        text.append("   third-party   [enter] edit  [del] delete\n", style="grey62")
    text.append("\nendpoint_sid  ", style="bold")
    text.append(endpoint.endpoint_sid + "\n")
    if endpoint.voip_token is not None:
        text.append("voip_token    ", style="bold")
        text.append((endpoint.voip_token if revealed else mask_token(endpoint.voip_token)) + "\n")
        text.append("              [r] reveal/hide  [g] regenerate\n", style="grey62")
    if not endpoint.is_system_gateway:
        text.append("capacity      ", style="bold")
        text.append(f"{endpoint.capacity} concurrent calls" if endpoint.capacity else "no limit")
    text.rstrip()
    return text


def addresses_title(endpoint: Endpoint) -> Text:
    text = Text()
    text.append("Endpoint Addresses", style="bold underline")
    if not endpoint.is_system_gateway:
        text.append("   [a] add  [enter] edit  [del] remove", style="grey62")
    return text


def attributes_text(endpoint: Endpoint) -> Text:
    if endpoint.is_system_gateway:
        return Text("Configure your firewall to allow SIP signaling from these IP addresses.\n", style="yellow")
    attributes = endpoint.attributes
    text = Text()
    text.append("Attributes\n", style="bold underline")
    text.append(f"  insecure_address  {str(attributes.insecure_address).lower()}   [i] toggle\n")
    text.append(f"  ip_restrictions   {', '.join(attributes.ip_restrictions) or 'none'}   [x] edit\n")
    text.append(f"\n{HEADER_AUTH_NOTE}\n", style="italic yellow")
    return text


class EndpointsScreen(LabScreen):
    # r, g, i, x, enter and del are written beside what they change: the footer keeps its room
    BINDINGS = [
        Binding("plus", "add_endpoint", "Add New Endpoint"),
        Binding("a", "add_address", "Address"),
        Binding("enter", "edit", "Edit the endpoint or address", show=False),
        Binding("delete", "delete", "Delete the endpoint or address", show=False),
        Binding("r", "reveal_token", "Reveal the VoIP token", show=False),
        Binding("g", "regenerate_token", "Regenerate the VoIP token", show=False),
        Binding("i", "toggle_insecure", "Toggle insecure_address", show=False),
        Binding("x", "focus_restrictions", "IP restrictions", show=False),
        Binding("p", "tab('numbers-tab')", "Numbers"),
        Binding("s", "tab('details-tab')", "Details"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revealed: set[str] = set()
        self.known: set[str] = set()  # the endpoints before Add New Endpoint, while it is open

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="endpoint-list-box"):
                yield Static("ENDPOINTS", classes="title")
                yield OptionList(id="endpoint-list")
                yield Static(Text("+ Add New Endpoint", style="grey62"), id="endpoint-list-keys")
            with TabbedContent(id="endpoint-tabs"):
                with TabPane("Endpoint Details", id="details-tab"):
                    with VerticalScroll(can_focus=False):  # tab: from the list to the addresses
                        yield Static(id="details")
                        yield Static(id="addresses-title")
                        yield DataTable(id="endpoint-addresses", cursor_type="row")
                        yield Static(id="attributes")
                        yield LabInput(id="restrictions", max_length=validate.MAX_IP_RESTRICTIONS_TEXT)
                        yield Static(id="error", classes="error")
                with TabPane("Assigned Phone Numbers", id="numbers-tab"):
                    yield Static(id="assigned")

    def on_mount(self) -> None:
        self.query_one("#endpoint-addresses", DataTable).add_columns(
            "ip", "port", "transport", "direction", "priority")
        self.query_one("#endpoint-list", OptionList).focus()

    def on_screen_suspend(self) -> None:
        self.revealed.clear()  # a token shown stays shown only while its screen is

    @property
    def selected(self) -> Endpoint | None:
        option_list = self.query_one("#endpoint-list", OptionList)
        if option_list.highlighted is None:
            return None
        option = option_list.get_option_at_index(option_list.highlighted)
        return self.lab.account.endpoint(option.id)

    @property
    def selected_address(self) -> EndpointAddress | None:
        endpoint, table = self.selected, self.query_one("#endpoint-addresses", DataTable)
        if endpoint is None or not endpoint.addresses:
            return None
        return endpoint.addresses[min(table.cursor_row, len(endpoint.addresses) - 1)]

    def refresh_view(self) -> None:
        examples = hints(self.lab.account)
        self.query_one("#restrictions", Input).placeholder = examples.ip_restrictions
        option_list = self.query_one("#endpoint-list", OptionList)
        keep = option_list.highlighted or 0
        option_list.clear_options()
        for endpoint in self.lab.account.endpoints:
            marker = " (system)" if endpoint.is_system_gateway else ""
            option_list.add_option(Option(endpoint.name + marker, id=endpoint.endpoint_sid))
        option_list.highlighted = min(keep, option_list.option_count - 1)
        new = [i for i, e in enumerate(self.lab.account.endpoints) if self.known and e.endpoint_sid not in self.known]
        if new:  # just added: selected, for its address next
            option_list.highlighted = new[0]
            self.known = set()
        self.show_selected()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_error()  # an error was about the endpoint selected before
        self.show_selected()

    def show_selected(self) -> None:
        endpoint = self.selected
        if endpoint is None:
            return
        self.query_one("#details", Static).update(details_text(endpoint, endpoint.endpoint_sid in self.revealed))
        self.query_one("#addresses-title", Static).update(addresses_title(endpoint))
        table = self.query_one("#endpoint-addresses", DataTable)
        row = table.cursor_row
        table.clear()
        for address in endpoint.addresses:
            table.add_row(address.ip, str(address.port), address.transport, address.direction, str(address.priority),
                          key=str(address.address_id))
        if endpoint.addresses:
            table.move_cursor(row=min(row, len(endpoint.addresses) - 1))
        self.query_one("#attributes", Static).update(attributes_text(endpoint))
        restrictions = self.query_one("#restrictions", Input)
        restrictions.display = not endpoint.is_system_gateway
        restrictions.value = ", ".join(endpoint.attributes.ip_restrictions)  # what Enter would save
        numbers = self.lab.account.assigned_phonenumbers(endpoint.endpoint_sid)
        assigned = self.query_one("#assigned", Static)
        if endpoint.is_system_gateway:
            assigned.update("The System Gateway is the carrier's side: numbers are assigned to your trunk groups.")
        elif numbers:
            assigned.update(Text("\n".join(f"{display_phonenumber(d.phonenumber):<18} {d.name}" for d in numbers)))
        else:
            assigned.update(Text(EMPTY_TAB))

    # ------------------------------------------------------------------ the CONFIGURE dialogs

    def _dialog_done(self, done: str | None) -> None:
        if done:
            self.show_error()
            self.notify(done, markup=False)

    def action_add_endpoint(self) -> None:
        self.known = {e.endpoint_sid for e in self.lab.account.endpoints}  # the new one gets selected
        self.app.push_screen(dialogs.add_endpoint(self.app.store), self._added)

    def _added(self, done: str | None) -> None:
        if not done:
            self.known = set()  # cancelled: nothing to select
        self._dialog_done(done)

    def _on_addresses(self) -> bool:
        return self.focused is self.query_one("#endpoint-addresses", DataTable)

    def action_edit(self) -> None:
        if self._on_addresses():
            self.action_edit_address()
            return
        endpoint = self._editable("Edit the endpoint")
        if endpoint is not None:
            self.app.push_screen(dialogs.edit_endpoint(self.app.store, endpoint), self._dialog_done)

    def action_delete(self) -> None:
        if self._on_addresses():
            self.run_worker(self.remove_address(), group="endpoints-edit")
            return
        endpoint = self._editable("Delete the endpoint")
        if endpoint is not None:
            self.app.push_screen(dialogs.delete_endpoint(self.app.store, endpoint), self._dialog_done)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_edit()  # enter on the list

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit_address()  # enter on an address

    def action_add_address(self) -> None:
        endpoint = self._editable("Add an address")
        if endpoint is not None:
            self.app.push_screen(dialogs.add_address(self.app.store, endpoint,
                                                     hints(self.lab.account).endpoint_address), self._dialog_done)

    def action_edit_address(self) -> None:
        endpoint = self._editable("Edit an address")
        address = self.selected_address
        if endpoint is not None and address is not None:
            self.app.push_screen(dialogs.edit_address(self.app.store, endpoint, address), self._dialog_done)

    async def remove_address(self) -> None:
        endpoint = self._editable("Remove an address")
        address = self.selected_address
        if endpoint is None or address is None:
            return
        try:
            await self.app.store.remove_endpoint_address(address.address_id)
        except StoreError as error:
            self.show_error(error.message)
            return
        self.show_error()
        self.notify(f"{endpoint.name}: address {address.ip}:{address.port} removed", markup=False)

    def _editable(self, what: str) -> Endpoint | None:
        """The selected endpoint, when `what` can be done to it; else say why not (the System
        Gateway's keys used to do nothing at all, which looked like a broken key)."""
        endpoint = self.selected
        if endpoint is not None and endpoint.is_system_gateway:
            self.show_error(f"{what}: not here. The System Gateway is system-generated and read-only (the "
                            "carrier's side of the trunk). Select your own endpoint (down) for this.")
            return None
        return endpoint

    def action_reveal_token(self) -> None:
        endpoint = self._editable("Reveal the VoIP token")
        if endpoint is None or endpoint.voip_token is None:
            return
        self.revealed ^= {endpoint.endpoint_sid}
        self.show_selected()

    async def action_regenerate_token(self) -> None:
        endpoint = self._editable("Regenerate the VoIP token")
        if endpoint is None:
            return
        try:
            await self.app.store.regenerate_voip_token(endpoint.endpoint_sid)
        except StoreError as error:
            self.show_error(error.message)
            return
        self.show_error()
        self.revealed.discard(endpoint.endpoint_sid)  # a new secret starts hidden
        self.notify("New VoIP token issued: the old one now gets 401 Unauthorized. The PBX still sends the "
                    "old one until you update PBX settings (b)")

    async def action_toggle_insecure(self) -> None:
        endpoint = self._editable("insecure_address")
        if endpoint is None:
            return
        # From the store, not the screen's copy: two quick presses must toggle twice.
        endpoint = (await self.app.store.account()).endpoint(endpoint.endpoint_sid) or endpoint
        attributes = EndpointAttributes(not endpoint.attributes.insecure_address, endpoint.attributes.ip_restrictions)
        try:
            await self.app.store.update_endpoint(endpoint.endpoint_sid, attributes=attributes)
        except StoreError as error:
            self.show_error(error.message)

    def action_tab(self, tab: str) -> None:
        self.query_one("#endpoint-tabs", TabbedContent).active = tab

    def action_focus_restrictions(self) -> None:
        endpoint = self._editable("IP restrictions")
        if endpoint is None:
            return
        field = self.query_one("#restrictions", Input)
        field.value = ", ".join(endpoint.attributes.ip_restrictions)
        field.focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        endpoint = self.selected
        if endpoint is None:
            return
        try:
            cidrs = tuple(c.strip() for c in event.value.split(",") if c.strip())
            attributes = EndpointAttributes(endpoint.attributes.insecure_address, cidrs)
            await self.app.store.update_endpoint(endpoint.endpoint_sid, attributes=attributes)
        except StoreError as error:
            self.show_error(error.message)  # the input keeps what was typed, to correct it
            return
        self.show_error()
        event.input.value = ""
        self.query_one("#endpoint-list", OptionList).focus()  # done: back to the list
