"""Calls: place inbound and outbound calls, the call list (sngrep-like), the ladder of the
selected call with each message's full text, and the audio of each leg in each direction."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from sip.calls import LabCall
from sip.ladder import columns, rungs
from sip.lab import MAX_DIAL, PSTN_TEST_NUMBER, LabError, dial_string
from store import StoreError, validate

from . import messages
from .base import LabScreen
from .widgets.inputs import FieldErrors, LabInput, error_line
from .widgets.ladder import LadderView, header

PARTY_NAMES = {"pstn": "PSTN", "pbx": "PBX", "gateway": "GW"}
_FILE_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-_.")


def pcap_path(folder: Path, call: LabCall) -> Path:
    """Where the console saves a call's pcap: the lab's exports folder, one file per call, named
    so that a listing sorts by time and says which call it was."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(call.started_at))
    number = "".join(c if c in _FILE_NAME_CHARACTERS else "_" for c in call.to_number) or "unknown"
    return folder / f"{stamp}-{call.direction or 'call'}-{number}-{call.ref}.pcap"


def level_bar(level: int) -> str:
    """A 0..255 conference level as a 4-cell meter (a 1004 Hz test tone reads about 37)."""
    cells = min(4, (level + 15) // 16)
    return "█" * cells + "·" * (4 - cells)


def audio_text(call: LabCall) -> Text:
    text = Text()
    if not call.legs:
        text.append("no audio yet", style="grey62")
        return text
    for (agent, _), f in sorted(call.legs.items()):
        far = f.remote_rtp.rpartition(":")[0] or "?"
        text.append(f"{PARTY_NAMES.get(agent, agent):<4} ", style="bold")
        text.append(f"⇦{far:<11} {f.rx.pkt:>5} pkt loss {f.rx.loss:<2} "
                    f"{f.rx.jitter_ms:4.1f}ms {level_bar(f.level_rx)} ⇨{f.tx.pkt:>5} pkt")
        if f.tone is not None:
            heard = call.heard.get(agent, False)
            text.append(f" {f.tone.hz:.0f}Hz {'✔' if heard else '✘ silent'}", style="green" if heard else "red")
        text.append("\n")
    return text


class PlaceCallScreen(FieldErrors, ModalScreen[dict | None]):
    """Inbound: the PSTN dials a number. Outbound: the PBX calls out with an auth method.
    What was typed is checked here: a refusal stays under its field, the dialog stays open."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, direction: str, numbers: list[str], gateways: list[str], pbx_ip: str) -> None:
        super().__init__()
        self.direction, self.numbers, self.gateways, self.pbx_ip = direction, numbers, gateways, pbx_ip

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            if self.direction == "inbound":
                yield Label("Inbound call: the PSTN dials your number", classes="title")
                yield LabInput(self.numbers[0] if self.numbers else "", placeholder="number", id="to",
                               max_length=MAX_DIAL)
                yield error_line("to")
                yield Select([("spread over the gateways", "")] + [(g, g) for g in self.gateways],
                             value="", allow_blank=False, id="via")
            else:
                yield Label("Outbound call: your PBX calls the PSTN", classes="title")
                yield LabInput(PSTN_TEST_NUMBER, placeholder="destination", id="to", max_length=MAX_DIAL)
                yield error_line("to")
                yield Select([(f"IP-based (from {self.pbx_ip})", "ip"), ("Proxy authentication", "proxy"),
                              ("Header-based (token in clear text!)", "header")],
                             value="ip", allow_blank=False, id="auth")
                yield LabInput(placeholder="VoIP token to send (blank: the real one)", password=True, id="token",
                               max_length=validate.MAX_CREDENTIAL)
                yield error_line("token")
            with Horizontal(classes="buttons"):
                yield Button("Call", variant="primary", id="call")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def submit(self) -> None:
        values = {"direction": self.direction, "to": self.query_one("#to", Input).value}
        try:
            dial_string(values["to"])
        except LabError as error:
            self.show_error(str(error), "to")
            return
        self.show_error("", "to")
        if self.direction == "inbound":
            values["via"] = self.query_one("#via", Select).value or None
        else:
            values["auth"] = self.query_one("#auth", Select).value
            token = self.query_one("#token", Input).value.strip()
            try:
                values["token"] = validate.credential(token, "voip_token") if token else None
            except StoreError as error:
                self.show_error(error.message, "token")
                return
        self.dismiss(values)


class CallsScreen(LabScreen):
    BINDINGS = [
        Binding("i", "place_inbound", "Inbound call"),
        Binding("o", "place_outbound", "Outbound call"),
        Binding("h", "hangup", "Hang up"),
        Binding("p", "save_pcap", "Save pcap"),
    ]

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="call-list", cursor_type="row")
        yield Static(id="audio")
        with Horizontal(id="flow"):
            with Vertical(id="ladder-box"):
                yield Static(id="ladder-header")
                yield LadderView(id="ladder")
            with VerticalScroll(id="message-box"):
                yield Static(id="message")

    def on_mount(self) -> None:
        table = self.query_one("#call-list", DataTable)
        table.add_columns("Time", "Dir", "From", "To", "Gateway", "State", "Code", "Setup", "Auth")
        self.follow_newest = True  # open on the newest call
        self.shown_ref: str | None = None  # the call whose ladder is drawn
        table.focus()

    # ------------------------------------------------------------------ views

    def calls(self) -> list[LabCall]:
        """This session's calls and the stored ones of earlier sessions, oldest first."""
        return sorted(self.lab.book.calls.values(), key=lambda c: c.started_at)

    @property
    def selected(self) -> LabCall | None:
        table = self.query_one("#call-list", DataTable)
        if not table.row_count:
            return None
        ref = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.lab.book.calls.get(ref)

    def refresh_view(self) -> None:
        self.refresh_calls()

    def refresh_calls(self, changed: str | None = None) -> None:
        """The call list again; the cursor stays on its call, or goes to the newest one. The
        ladder is redrawn when the selection moved or its call is the one that `changed`
        (None: any may have)."""
        table = self.query_one("#call-list", DataTable)
        kept = self.selected.ref if table.row_count and self.selected is not None else None
        table.clear()
        calls = self.calls()
        for call in calls:
            code = "" if call.final_code is None else str(call.final_code)
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(call.started_at)), {"inbound": "in", "outbound": "out"}.get(call.direction, "?"),
                call.from_number or "?", call.to_number or "?", call.gateway.split(":")[0], call.state, code,
                "" if call.setup_ms is None else f"{call.setup_ms:.0f}ms", call.auth_method or call.requested_auth,
                key=call.ref,
            )
        if calls:
            refs = [c.ref for c in calls]
            row = len(refs) - 1 if self.follow_newest or kept not in refs else refs.index(kept)
            table.move_cursor(row=row, scroll=True)
            self.follow_newest = False
        selected = self.selected
        moved = selected is None or selected.ref != self.shown_ref
        if changed is None or moved or selected.ref == changed:
            self.show_selected()

    def show_selected(self) -> None:
        call = self.selected
        ladder = self.query_one("#ladder", LadderView)
        cols = columns(self.lab.account)
        self.query_one("#ladder-header", Static).update(header(cols))
        if call is None:
            ladder.show([], cols, 8)
            self.query_one("#audio", Static).update(Text("no calls yet: i places an inbound call, o an outbound call"))
            self.query_one("#message", Static).update("")
            return
        width = self.ladder_column_width(len(cols))
        self.query_one("#ladder-header", Static).update(header(cols, width))
        same_call = call.ref == self.shown_ref
        self.shown_ref = call.ref
        ladder.show(rungs(call, cols), cols, width, keep_place=same_call)
        self.query_one("#audio", Static).update(audio_text(call))
        if not ladder.rungs:
            self.query_one("#message", Static).update(self.notes_text(call))

    def ladder_column_width(self, count: int) -> int:
        """Columns as wide as the ladder's box allows (8 at 80 columns, up to 14)."""
        box = self.query_one("#ladder-box").size.width or int(self.app.size.width * 0.6)
        return max(6, min(14, (box - 12) // max(count, 1)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_selected()

    @staticmethod
    def notes_text(call: LabCall) -> Text:
        """What the gateway decided and why, and what happened to the call (above each message)."""
        notes = [d.cause for d in call.decisions] + call.notes
        text = Text()
        text.append("".join(f"• {n}\n" for n in notes if n), style="yellow")  # a span: not the base style
        return text

    def on_ladder_view_highlighted(self, event: LadderView.Highlighted) -> None:
        rung = event.rung
        message = rung.message
        call = self.selected
        head = self.notes_text(call) if call is not None else Text()
        head.append(f"{message.src} -> {message.dst}  {message.note}\n", style="bold red" if rung.dropped else "bold")
        head.append(message.text.replace("\r\n", "\n"))
        self.query_one("#message", Static).update(head)

    def _shown(self, ref: str) -> bool:
        selected = self.selected
        return selected is not None and selected.ref == ref

    @on(messages.CallChanged)
    @on(messages.GatewayDecided)
    def _call_changed(self, message: messages.CallChanged | messages.GatewayDecided) -> None:
        self.refresh_calls(changed=message.event.ref)

    @on(messages.SipCaptured)
    def _sip_captured(self, message: messages.SipCaptured) -> None:
        table = self.query_one("#call-list", DataTable)
        if message.event.ref not in table.rows:  # a call first seen by its SIP (a peer outside the lab)
            self.refresh_calls(changed=message.event.ref)
        elif self._shown(message.event.ref):
            self.show_selected()  # new rungs on the selected call's ladder, cursor kept

    @on(messages.MediaChanged)
    def _media_changed(self, message: messages.MediaChanged) -> None:
        if self._shown(message.event.ref):
            self.query_one("#audio", Static).update(audio_text(self.selected))

    # ------------------------------------------------------------------ actions

    def action_place_inbound(self) -> None:
        self._place("inbound")

    def action_place_outbound(self) -> None:
        self._place("outbound")

    def _place(self, direction: str) -> None:
        lab = self.lab
        if self.app.engine_error or lab.supervisor is None:
            self.notify("The lab's agents are not running", severity="error")
            return
        numbers = [d.phonenumber for d in lab.account.dids]
        try:
            first = lab.test_number()
            numbers = [first] + [n for n in numbers if n != first]
        except LabError:
            pass
        pbx = lab.account.party("pbx")
        self.app.push_screen(PlaceCallScreen(direction, numbers, lab.gateway_addresses, pbx.ip if pbx else "?"),
                             self._placed)

    async def _placed(self, values: dict | None) -> None:
        if values is None:
            return
        lab = self.lab
        self.follow_newest = True  # the list shows the new call when the lab opens it
        try:
            if values["direction"] == "inbound":
                await lab.place_inbound(values["to"], via=values["via"])
            else:
                await lab.place_outbound(values["to"], auth=values["auth"], voip_token=values["token"])
        except LabError as error:
            self.follow_newest = False
            self.notify(str(error), severity="error", markup=False)

    def action_save_pcap(self) -> None:
        call, lab = self.selected, self.lab
        if call is None:
            self.notify("No call to save: place one with i or o", severity="warning")
            return
        if lab.capture is None:
            self.notify(f"No pcap: {lab.capture_error}", severity="warning", markup=False)
            return
        path = pcap_path(self.app.exports_folder(), call)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            count = lab.export_pcap(call.ref, path)
        except LabError as error:
            self.notify(str(error), severity="warning", markup=False)
            return
        except OSError as error:
            self.notify(f"Could not write {path}: {error.strerror or error}", severity="error", markup=False)
            return
        token = "; its INVITE holds the VoIP token in clear text" if "header" in (call.auth_method, call.requested_auth) else ""
        self.notify(f"Saved {count} packets of the call to {path}{token}", markup=False, timeout=10)

    async def action_hangup(self) -> None:
        call = self.selected
        if call is not None:
            await self.lab.hangup(call.ref)
