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

from store import StoreError, validate
from store.records import CARRIER_CODECS, CODEC_CHOICES, PbxTrunk

from . import messages
from .base import LabScreen
from .endpoints import HEADER_AUTH_NOTE
from .widgets.inputs import LabInput

FIELDS = (  # (input id, label, what it is for, the longest value it takes)
    ("endpoint_sid", "endpoint SID", "digest username and X-Auth-EndpointSid", validate.MAX_CREDENTIAL),
    ("voip_token", "VoIP token", "digest password and X-Auth-VoipToken", validate.MAX_CREDENTIAL),
    ("source_port", "source port", "the UDP port IP-authenticated INVITEs leave from", len("65535")),
    ("codecs", "codecs", f"in order of preference; choose from {', '.join(CODEC_CHOICES)}",
     len(", ".join(CODEC_CHOICES)) + 8),
)
LABELS = {field: label for field, label, *_ in FIELDS}


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
    """Each field is saved by enter, or when the trainee leaves it (tab, a click, another
    screen); a refused value stays in its field with the reason, and esc puts back the saved
    value. (A field left without enter used to lose its edit without a word.)"""

    AUTO_FOCUS = ""  # no field focused at first: the screen's keys work; tab reaches the fields
    BINDINGS = [
        Binding("r", "reveal_token", "Reveal"),
        Binding("h", "toggle_token_header", "Token header"),
        Binding("u", "copy_from_portal", "Copy from portal"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.revealed = False
        self.refused: set[str] = set()  # fields holding a value the store refused: kept, to correct
        self.newer_trunk: PbxTrunk | None = None  # what a save returned, until the lab's account has it

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="pbx-box"):
            yield Static("PBX SETTINGS   typed into the customer's PBX, not the carrier portal", classes="title")
            with Grid(id="pbx-fields"):
                for field, label, help_text, longest in FIELDS:
                    yield Label(label)
                    yield LabInput(id=field, placeholder=help_text, password=field == "voip_token",
                                   max_length=longest)
            yield Static(id="error", classes="error")
            yield Static(id="pbx-status")

    def on_screen_suspend(self) -> None:
        self.revealed = False  # the token is shown only while its screen is
        if isinstance(self.focused, Input):  # left for another screen with a field half-edited
            self.run_worker(self._save_field(self.focused), group="pbx-save")

    @property
    def trunk(self) -> PbxTrunk | None:
        return self.newer_trunk or self.lab.account.pbx_trunk

    @on(messages.AccountChanged)
    def _lab_caught_up(self) -> None:
        self.newer_trunk = None  # the lab's account now holds this screen's saves (and any other writer's)
        self.refresh_view()

    def saved_text(self, field: str) -> str:
        """The stored value of a field, as the field shows it."""
        trunk = self.trunk
        if trunk is None:
            return ""
        return {"endpoint_sid": trunk.endpoint_sid, "voip_token": trunk.voip_token,
                "source_port": str(trunk.source_port), "codecs": ", ".join(trunk.codecs)}[field]

    def refresh_view(self) -> None:
        trunk, endpoint, pbx = self.trunk, self.lab.account.pbx_endpoint(), self.lab.account.party("pbx")
        if trunk is None:
            self.query_one("#pbx-status", Static).update("This database has no PBX settings.")
            return
        for field, *_ in FIELDS:
            field_input = self.query_one(f"#{field}", Input)
            if not field_input.has_focus and field not in self.refused:  # never overwrite what was typed
                field_input.value = self.saved_text(field)
        self.query_one("#voip_token", Input).password = not self.revealed
        self.query_one("#pbx-status", Static).update(status_text(
            trunk, endpoint.endpoint_sid if endpoint else None, endpoint.voip_token if endpoint else None,
            pbx.ip if pbx else "?", self.lab.pbx_source_port))

    async def _save(self, **changes) -> bool:
        try:
            self.newer_trunk = await self.app.store.update_pbx_trunk(**changes)
        except StoreError as error:
            self.show_error(f"{error.message}. Not saved: correct it and press enter, or esc for the saved value.")
            return False
        self.show_error()
        return True

    async def _save_field(self, field_input: Input) -> bool:
        """Save what a field holds, if it changed; a refused value stays in the field."""
        field, text = field_input.id, field_input.value
        if text == self.saved_text(field):
            self.refused.discard(field)
            return True
        value: object = [c.strip() for c in text.replace(",", " ").split()] if field == "codecs" else text
        if not await self._save(**{field: value}):
            self.refused.add(field)
            return False
        self.refused.discard(field)
        self.notify(f"PBX settings: {LABELS[field]} saved")
        return True

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if await self._save_field(event.input):
            self.set_focus(None)  # done: the keys act on the screen again
            self.refresh_view()

    async def on_input_blurred(self, event: Input.Blurred) -> None:
        await self._save_field(event.input)

    def leave_field(self, field: Input) -> None:
        """esc: the edit is dropped, and the field shows the saved value again (said, not silent)."""
        if field.value != self.saved_text(field.id):
            self.notify(f"PBX settings: {LABELS[field.id]} not changed (esc put back the saved value)")
        self.refused.discard(field.id)
        field.value = self.saved_text(field.id)
        self.show_error()
        self.set_focus(None)

    def action_reveal_token(self) -> None:
        self.revealed = not self.revealed
        self.refresh_view()

    async def action_toggle_token_header(self) -> None:
        if self.trunk is not None:
            await self._save(send_voip_token_header=not self.trunk.send_voip_token_header)

    async def action_copy_from_portal(self) -> None:
        endpoint = self.lab.account.pbx_endpoint()
        if endpoint is None or endpoint.voip_token is None:
            self.show_error("The account has no third-party endpoint to copy from")
            return
        if await self._save(endpoint_sid=endpoint.endpoint_sid, voip_token=endpoint.voip_token):
            self.refused -= {"endpoint_sid", "voip_token"}
            self.notify(f"Copied {endpoint.name}'s endpoint SID and current VoIP token into the PBX")

    @on(messages.PbxTrunkApplied)
    @on(messages.AgentError)
    def _pbx_answered(self) -> None:  # what the PBX applied, or refused
        self.refresh_view()
