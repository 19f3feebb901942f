"""The customer's PBX: its own trunk settings, as the admin typed them into the PBX.

This is the other side of the trunk from the carrier portal. Copying the endpoint SID and the
VoIP token here is a step people get wrong (or forget after a regeneration), so it is a step
the trainee takes by hand; `u` does the copy for those who have understood it.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Input, Label, Static

from store import StoreError
from store.records import CARRIER_CODECS, CODEC_CHOICES, PbxTrunk

from . import messages
from .base import LabScreen
from .endpoints import HEADER_AUTH_NOTE
from .widgets.inputs import LabInput

FIELDS = (  # (input id, label, what it is for)
    ("endpoint_sid", "endpoint SID", "digest username and X-Auth-EndpointSid"),
    ("voip_token", "VoIP token", "digest password and X-Auth-VoipToken"),
    ("source_port", "source port", "the UDP port IP-authenticated INVITEs leave from"),
    ("codecs", "codecs", f"in order of preference; choose from {', '.join(CODEC_CHOICES)}"),
)


def status_text(trunk: PbxTrunk, portal_sid: str | None, portal_token: str | None, pbx_ip: str,
                applied_port: int | None = None) -> Text:
    """How the PBX's copy compares with the portal: the things a trainee should notice."""
    text = Text()
    text.append("header auth sends  ", style="bold")
    text.append("X-Auth-EndpointSid + X-Auth-VoipToken" if trunk.send_voip_token_header
                else "X-Auth-EndpointSid only", style="" if trunk.send_voip_token_header else "yellow")
    text.append("  [h] toggle\n", style="grey62")
    text.append("PBX vs portal  ", style="bold")
    same_sid, same_token = trunk.endpoint_sid == portal_sid, trunk.voip_token == portal_token
    text.append(f"SID {'matches' if same_sid else 'differs'}", style="green" if same_sid else "red")
    text.append(", ")
    text.append(f"token {'matches' if same_token else 'differs'}", style="green" if same_token else "red")
    text.append("  [u] copy from portal\n", style="grey62")
    if applied_port is not None and applied_port != trunk.source_port:
        text.append(f"IP auth leaves from  {pbx_ip}:{applied_port}", style="red")
        text.append(f"  (the PBX could not take port {trunk.source_port}: it is in use)\n", style="red")
    else:
        text.append(f"IP auth leaves from  {pbx_ip}:{trunk.source_port}\n")
    common = [c for c in trunk.codecs if c in CARRIER_CODECS]
    text.append("codecs in common with the carrier  ", style="bold")
    text.append(", ".join(common) or "none: every call will get 488", style="green" if common else "red")
    text.append(f"\n\n{HEADER_AUTH_NOTE}", style="italic yellow")
    return text


class PbxScreen(LabScreen):
    AUTO_FOCUS = ""  # no field focused at first: the screen's keys work; tab reaches the fields
    BINDINGS = [
        Binding("r", "reveal_token", "Reveal"),
        Binding("h", "toggle_token_header", "Token header"),
        Binding("u", "copy_from_portal", "Copy from portal"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revealed = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="pbx-box"):
            yield Static("PBX SETTINGS   typed into the customer's PBX, not the carrier portal", classes="title")
            with Grid(id="pbx-fields"):
                for field, label, help_text in FIELDS:
                    yield Label(label)
                    yield LabInput(id=field, placeholder=help_text, password=field == "voip_token")
            yield Static(id="error", classes="error")
            yield Static(id="pbx-status")

    def on_screen_suspend(self) -> None:
        self.revealed = False  # the token is shown only while its screen is

    @property
    def trunk(self) -> PbxTrunk | None:
        return self.lab.account.pbx_trunk

    def refresh_view(self) -> None:
        trunk, endpoint, pbx = self.trunk, self.lab.account.pbx_endpoint(), self.lab.account.party("pbx")
        if trunk is None:
            self.query_one("#pbx-status", Static).update("This database has no PBX settings.")
            return
        values = {"endpoint_sid": trunk.endpoint_sid, "voip_token": trunk.voip_token,
                  "source_port": str(trunk.source_port), "codecs": ", ".join(trunk.codecs)}
        for field, value in values.items():
            field_input = self.query_one(f"#{field}", Input)
            if not field_input.has_focus:  # never overwrite what the trainee is typing
                field_input.value = value
        self.query_one("#voip_token", Input).password = not self.revealed
        self.query_one("#pbx-status", Static).update(status_text(
            trunk, endpoint.endpoint_sid if endpoint else None, endpoint.voip_token if endpoint else None,
            pbx.ip if pbx else "?", self.lab.pbx_source_port))

    def _error(self, message: str = "") -> None:
        self.query_one("#error", Static).update(Text(message))  # may echo what was typed: no markup

    async def _save(self, **changes) -> bool:
        try:
            await self.app.store.update_pbx_trunk(**changes)
        except StoreError as error:
            self._error(error.message)
            return False
        self._error()
        return True

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        field = event.input.id
        value: object = event.value
        if field == "codecs":
            value = [c.strip() for c in event.value.replace(",", " ").split()]
        if await self._save(**{field: value}):
            self.notify(f"PBX settings: {dict((f, label) for f, label, _ in FIELDS)[field]} saved")
            self.set_focus(None)  # done: the keys act on the screen again
            self.refresh_view()

    def action_reveal_token(self) -> None:
        self.revealed = not self.revealed
        self.refresh_view()

    async def action_toggle_token_header(self) -> None:
        if self.trunk is not None:
            await self._save(send_voip_token_header=not self.trunk.send_voip_token_header)

    async def action_copy_from_portal(self) -> None:
        endpoint = self.lab.account.pbx_endpoint()
        if endpoint is None or endpoint.voip_token is None:
            self._error("The account has no third-party endpoint to copy from")
            return
        if await self._save(endpoint_sid=endpoint.endpoint_sid, voip_token=endpoint.voip_token):
            self.notify(f"Copied {endpoint.name}'s endpoint SID and current VoIP token into the PBX")

    @on(messages.PbxTrunkApplied)
    @on(messages.AgentError)
    def _pbx_answered(self) -> None:  # what the PBX applied, or refused
        self.refresh_view()
