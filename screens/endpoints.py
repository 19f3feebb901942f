"""CONFIGURE > Endpoints: the list, Endpoint Details and the Assigned Phone Numbers tab."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from store import StoreError, validate
from store.export import mask_token
from store.records import Endpoint, EndpointAttributes
from store.validate import display_phonenumber

from .base import LabScreen
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
    text = Text()
    text.append(endpoint.name, style="bold")
    if endpoint.is_system_gateway:
        text.append("   system-generated, read-only\n", style="italic grey62")
    else:
        text.append("   third-party\n", style="grey62")
    text.append("\nendpoint_sid  ", style="bold")
    text.append(endpoint.endpoint_sid + "\n")
    if endpoint.voip_token is not None:
        text.append("voip_token    ", style="bold")
        text.append((endpoint.voip_token if revealed else mask_token(endpoint.voip_token)) + "\n")
        text.append("              [r] reveal/hide  [g] regenerate\n", style="grey62")
    text.append("\nEndpoint Addresses\n", style="bold underline")
    for address in endpoint.addresses:
        text.append(f"  {address.ip}:{address.port}/{address.transport}  direction {address.direction}\n")
    if not endpoint.addresses:
        text.append("  (none)\n", style="italic")
    if endpoint.is_system_gateway:
        text.append("\nConfigure your firewall to allow SIP signaling from these IP addresses.\n", style="yellow")
        return text
    attributes = endpoint.attributes
    text.append("\nAttributes\n", style="bold underline")
    text.append(f"  insecure_address  {str(attributes.insecure_address).lower()}   [i] toggle\n")
    text.append(f"  ip_restrictions   {', '.join(attributes.ip_restrictions) or 'none'}\n")
    text.append(f"\n{HEADER_AUTH_NOTE}\n", style="italic yellow")
    return text


class EndpointsScreen(LabScreen):
    BINDINGS = [  # r, g and i are written beside what they change: the footer keeps its room for the others
        Binding("r", "reveal_token", "Reveal the VoIP token", show=False),
        Binding("g", "regenerate_token", "Regenerate the VoIP token", show=False),
        Binding("i", "toggle_insecure", "Toggle insecure_address", show=False),
        Binding("a", "focus_add", "Address"),
        Binding("x", "focus_restrictions", "Restrictions"),
        Binding("p", "tab('numbers-tab')", "Numbers"),
        Binding("s", "tab('details-tab')", "Details"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revealed: set[str] = set()

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="endpoint-list-box"):
                yield Static("ENDPOINTS", classes="title")
                yield OptionList(id="endpoint-list")
            with TabbedContent(id="endpoint-tabs"):
                with TabPane("Endpoint Details", id="details-tab"):
                    with VerticalScroll():
                        yield Static(id="details")
                        yield LabInput(id="add-address", max_length=validate.MAX_ADDRESS + len(":65535"))
                        yield LabInput(id="restrictions", max_length=validate.MAX_IP_RESTRICTIONS_TEXT)
                        yield Static(id="error", classes="error")
                with TabPane("Assigned Phone Numbers", id="numbers-tab"):
                    yield Static(id="assigned")

    def on_mount(self) -> None:
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

    def refresh_view(self) -> None:
        examples = hints(self.lab.account)
        self.query_one("#add-address", Input).placeholder = examples.endpoint_address
        self.query_one("#restrictions", Input).placeholder = examples.ip_restrictions
        option_list = self.query_one("#endpoint-list", OptionList)
        keep = option_list.highlighted or 0
        option_list.clear_options()
        for endpoint in self.lab.account.endpoints:
            marker = " (system)" if endpoint.is_system_gateway else ""
            option_list.add_option(Option(endpoint.name + marker, id=endpoint.endpoint_sid))
        option_list.highlighted = min(keep, option_list.option_count - 1)
        self.show_selected()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_error()  # an error was about the endpoint selected before
        self.show_selected()

    def show_selected(self) -> None:
        endpoint = self.selected
        if endpoint is None:
            return
        self.query_one("#details", Static).update(details_text(endpoint, endpoint.endpoint_sid in self.revealed))
        self.query_one("#add-address", Input).display = not endpoint.is_system_gateway
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

    def action_focus_add(self) -> None:
        if self._editable("Add an address") is not None:  # a hidden field would take the keys unseen
            self.query_one("#add-address", Input).focus()

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
            if event.input.id == "restrictions":
                cidrs = tuple(c.strip() for c in event.value.split(",") if c.strip())
                attributes = EndpointAttributes(endpoint.attributes.insecure_address, cidrs)
                await self.app.store.update_endpoint(endpoint.endpoint_sid, attributes=attributes)
            else:
                ip, _, port = event.value.strip().partition(":")
                await self.app.store.add_endpoint_address(endpoint.endpoint_sid, ip, port=port or 5060)
        except StoreError as error:
            self.show_error(error.message)  # the input keeps what was typed, to correct it
            return
        self.show_error()
        event.input.value = ""
        self.query_one("#endpoint-list", OptionList).focus()  # done: back to the list
