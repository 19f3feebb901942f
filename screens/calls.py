"""Calls: place inbound and outbound calls; the call list (sngrep-like: each call and the legs
the gateway placed for it, a search, following the newest call); the audio of each leg; the
ladder of the selected call with each message's full text beside it.

The screen follows the lab's call book message by message: a new SIP message of the call on
show adds its rung to the ladder (`Ladder.sync` reads only what is new) and updates that call's
rows in the list; nothing is rebuilt from scratch unless a call or a leg appears out of order."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from sip.calls import LabCall
from sip.ladder import Column, Ladder, Rung, columns
from sip.lab import MAX_DIAL, MAX_DTMF_DIGITS, PSTN_TEST_NUMBER, LabError, call_options, dial_string
from store import StoreError, validate

from . import messages
from .base import LabScreen
from .widgets.call_list import COLUMNS, CallTable, call_row, leg_rows, matches, on_hold, ref_of, row_key
from .widgets.footer import LabFooter
from .widgets.inputs import FieldErrors, LabInput, error_line
from .widgets.ladder import LadderView, clock, leg_style, short_column

_FILE_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-_.")
PARTY_OF_AGENT = {"pstn": "PSTN", "pbx": "PBX"}


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


def party_at(cols: list[Column], ip: str) -> str:
    """The column an (RTP) address belongs to, by its IP: 'PSTN', 'GW 127.0.0.2', 'PBX' ('?')."""
    for col in cols:
        if any(address.rpartition(":")[0] == ip for address in col.addresses):
            return col.label
    return "?"


MEDIA_STATUS = {"local_hold": "on hold", "remote_hold": "held", "inactive": "inactive", "none": ""}


def _audio_cells(leg: str, here: str, far: str, rx: str, loss: str, jitter: str, level: str, tx: str) -> str:
    return f"{leg:<4}{here:<6}⇄ {far:<17} {rx:>5} {loss:>4} {jitter:>6} {level:<5}{tx:>5}  "


AUDIO_HEADING = _audio_cells("leg", "at", "far end (RTP)", "⇦pkt", "loss", "jitter", "level", "⇨pkt") + \
    f"{'tone':<9}{'DTMF ⇨ ⇦':<10}media"


def audio_text(call: LabCall, ladder: Ladder) -> Text:
    """The RTP of each leg as each of its ends measured it, a row per (leg, end): which leg, who
    measured, the far end's party and address, what came in and went out, the test tone heard,
    the DTMF digits sent and received, and a hold."""
    text = Text(no_wrap=True, overflow="crop")
    if not call.legs:
        text.append("no audio yet", style="grey62")
        return text
    text.append(AUDIO_HEADING, style="bold grey70")
    cols = ladder.columns
    order = {name: i for i, (name, _) in enumerate(ladder.ordered_legs())}
    rows = []
    for (agent, sip_call_id), f in call.legs.items():
        leg = ladder.leg_name(sip_call_id)
        gateway = agent not in PARTY_OF_AGENT
        here = short_column(party_at(cols, f.local_rtp.rpartition(":")[0])) if gateway else PARTY_OF_AGENT[agent]
        far_ip = f.remote_rtp.rpartition(":")[0]
        far = party_at(cols, far_ip)
        far = far if far.startswith("GW ") else f"{far} {far_ip or '?'}"
        # A leg: the caller's end first; a B leg: the gateway's end first (the order the call crosses them)
        rows.append(((order.get(leg, 99), gateway == (leg == "A")), leg, agent, here, far, f))
    for _, leg, agent, here, far, f in sorted(rows, key=lambda row: row[0]):
        cells = _audio_cells("", here, far, str(f.rx.pkt), str(f.rx.loss), f"{f.rx.jitter_ms:.1f}ms",
                             level_bar(f.level_rx), str(f.tx.pkt))
        text.append("\n")
        text.append(f"{leg:<4}", style=leg_style(leg))
        text.append(cells[4:])
        if f.tone is not None:
            heard = call.heard.get(agent, False)
            text.append(f"{f.tone.hz:.0f}Hz {'✔' if heard else '✘'}".ljust(9), style="green" if heard else "red")
        else:
            text.append(" " * 9)
        text.append(f"{f.dtmf_tx or '-'} {f.dtmf_rx or '-'}".ljust(10) if f.dtmf_tx or f.dtmf_rx else " " * 10,
                    style="cyan")
        status = MEDIA_STATUS.get(f.media_status, f.media_status.replace("_", " "))
        if status and status != "active":
            text.append(status, style="yellow")
    return text


def notes_text(call: LabCall, ladder: Ladder | None) -> Text:
    """What the gateway decided and why (a refusal with its Warning header, as it went out),
    what happened to the call, the digits each end party sent and received, the caller ID it saw."""
    text = Text()
    for decision in call.decisions:
        verdict = f"refused {decision.status} {decision.reason}" if decision.refused else "accepted"
        auth = f" ({decision.auth} auth)" if decision.auth and decision.auth != "challenge" else ""
        text.append(f"• gateway {verdict}{auth}: ", style="bold yellow")
        text.append(f"{decision.cause}\n", style="yellow")
    for sip_call_id, code, warning in ladder.warnings if ladder is not None else ():
        text.append(f"• the {code} on the {ladder.leg_name(sip_call_id)} leg carries Warning: {warning}\n", style="yellow")
    for note in call.notes:
        text.append(f"• {note}\n", style="yellow")
    for party in ("pstn", "pbx"):
        sent, received = call.digits(party, "tx"), call.digits(party, "rx")
        if sent or received:
            text.append(f"• {PARTY_OF_AGENT[party]} DTMF sent {sent or '-'}, received {received or '-'}\n", style="cyan")
    for party, (caller, asserted) in sorted(call.caller_ids.items()):
        if not caller and not asserted:
            continue
        shown = caller + (f" (P-Asserted-Identity {asserted})" if asserted and asserted != caller else "")
        text.append(f"• {PARTY_OF_AGENT.get(party, party)} saw caller {shown}\n", style="cyan")
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
            yield LabInput(placeholder="DTMF digits to send once answered (0-9 * # A-D)", id="dtmf",
                           max_length=MAX_DTMF_DIGITS)
            yield error_line("dtmf")
            with Horizontal(classes="buttons"):
                yield Button("Call", variant="primary", id="call")
                yield Button("Cancel", id="cancel")
        yield LabFooter()  # the dialog's keys (the screen's beneath do not reach a dialog)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def submit(self) -> None:
        values = {"direction": self.direction, "to": self.query_one("#to", Input).value,
                  "dtmf": self.query_one("#dtmf", Input).value.strip()}
        try:
            dial_string(values["to"])
        except LabError as error:
            self.show_error(str(error), "to")
            return
        self.show_error("", "to")
        try:
            call_options(values["dtmf"], delayed_offer=False)
        except LabError as error:
            self.show_error(str(error), "dtmf")
            return
        self.show_error("", "dtmf")
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


class SearchInput(LabInput):
    """The call list's search: escape clears it (and does not leave the screen). Its
    placeholder says so too, but at 80 columns the placeholder is cut: the footer says it."""

    BINDINGS = [Binding("escape", "clear", "Clear the search")]

    class Cleared(Message):
        pass

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())


class CallsScreen(LabScreen):
    AUTO_FOCUS = "#call-list"
    BINDINGS = [
        Binding("i", "place_inbound", "Inbound"),
        Binding("o", "place_outbound", "Outbound"),
        Binding("h", "hangup", "Hang up"),
        Binding("u", "hold", "Hold"),
        Binding("p", "save_pcap", "pcap"),
        # The status line above the list names these three with their keys (and `?` lists
        # them): the footer keeps its room for the keys that act on a call.
        Binding("slash", "search", "Search", show=False),
        Binding("l", "toggle_follow", "Follow newest", show=False),
        Binding("m", "toggle_time", "Δt/clock", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="calls-bar"):
            yield Static(id="calls-status")
            yield SearchInput(placeholder="number, Call-ID, state, party (enter keeps it, escape clears it)",
                              id="search", compact=True, max_length=80)
        yield CallTable(id="call-list", cursor_type="row")
        yield Static(id="audio")
        with Horizontal(id="flow"):
            yield LadderView(id="ladder")
            with VerticalScroll(id="message-box"):
                yield Static(id="message")

    def on_mount(self) -> None:
        table = self.query_one("#call-list", DataTable)
        for key, heading in COLUMNS:
            table.add_column(heading, key=key)
        self.follow = True  # a new call is selected as it arrives, until the trainee picks another
        self.search_query = ""  # the search
        self.ladders: dict[str, Ladder] = {}  # ref -> its ladder, kept in step with the call
        self._columns: list[Column] = []
        self._rows: list[str] = []  # row keys as shown, top to bottom
        self._values: dict[str, tuple] = {}  # row key -> the values shown
        self._legs: dict[str, tuple[str, ...]] = {}  # ref -> the B legs' Call-IDs shown under it
        self._shown: str | None = None  # the call whose ladder is drawn
        self._searching = False  # the search field is open
        self._highlighted: str | None = None  # the list's row last highlighted
        self._audio_lines = -1
        self._message_key: tuple | None = None  # what the message pane shows
        table.focus()  # LabScreen.on_mount then draws it all (refresh_view)

    # ------------------------------------------------------------------ reading the lab

    def ladder(self, call: LabCall) -> Ladder:
        """The call's ladder, read up to date (only what it gained since the last time)."""
        ladder = self.ladders.get(call.ref)
        if ladder is None or ladder.call is not call:
            ladder = self.ladders[call.ref] = Ladder(call, self._columns)
        ladder.sync()
        return ladder

    def calls(self) -> list[LabCall]:
        """This session's calls and the stored ones of earlier sessions, oldest first."""
        return sorted(self.lab.book.calls.values(), key=lambda c: c.started_at)

    @property
    def selected(self) -> LabCall | None:
        table = self.query_one("#call-list", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.lab.book.calls.get(ref_of(key))

    def _selected_key(self) -> str | None:
        table = self.query_one("#call-list", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    # ------------------------------------------------------------------ the list

    def refresh_view(self) -> None:
        cols = columns(self.lab.account)
        if cols != self._columns:  # another account (addresses changed): every ladder again
            self._columns = cols
            self.ladders.clear()
            self._shown = None
        self._rebuild()

    def _rows_of(self, call: LabCall) -> list[tuple[str, tuple]]:
        ladder = self.ladder(call)
        return [(row_key(call.ref), call_row(call, ladder))] + [
            (row_key(call.ref, cid), row) for cid, row in leg_rows(call, ladder)]

    def _rebuild(self) -> None:
        """The whole list again (a call or a leg appeared out of order, the search changed)."""
        table = self.query_one("#call-list", DataTable)
        kept = self._selected_key()
        table.clear()
        self._rows, self._values, self._legs = [], {}, {}
        known = set(self.lab.book.calls)
        self.ladders = {ref: ladder for ref, ladder in self.ladders.items() if ref in known}
        for call in self.calls():
            self._append(call)
        self._status()
        target = self._newest_key() if self.follow or kept not in self._values else kept
        if target is not None:
            self._cursor_to(target)
        self.show_selected()

    def _append(self, call: LabCall) -> None:
        if not matches(call, self.ladder(call), self.search_query):
            return
        table = self.query_one("#call-list", DataTable)
        rows = self._rows_of(call)
        for key, values in rows:
            table.add_row(*values, key=key)
            self._rows.append(key)
            self._values[key] = values
        self._legs[call.ref] = tuple(ref_of_leg(key) for key, _ in rows[1:])

    def _newest_key(self) -> str | None:
        refs = [key for key in self._rows if "\t" not in key]
        if not refs:
            return None
        return max(refs, key=lambda ref: self.lab.book.calls[ref].started_at)

    def _call_changed(self, ref: str) -> None:
        """Call `ref` changed: its rows are updated in place, or added at the end if it is the
        newest call; anything else (a new leg of an older call, a call merged away) rebuilds."""
        call = self.lab.book.calls.get(ref)
        table = self.query_one("#call-list", DataTable)
        if any(shown not in self.lab.book.calls for shown in self._legs):
            # a provisional call on the list (a Call-ID an agent reported before the lab knew
            # whose it was) was merged into this one, or forgotten: no event names it again
            self._rebuild()
            return
        if call is None:
            return
        if not matches(call, self.ladder(call), self.search_query):
            if ref in self._legs:
                self._rebuild()
            return
        rows = self._rows_of(call)
        legs = tuple(ref_of_leg(key) for key, _ in rows[1:])
        if ref in self._legs and legs == self._legs[ref]:
            for key, values in rows:
                old = self._values.get(key)
                if _plain(old) != _plain(values):
                    for (column, _), value, before in zip(COLUMNS, values, old):
                        if _plain((value,)) != _plain((before,)):
                            table.update_cell(key, column, value)
                    self._values[key] = values
        elif self._is_last(ref):
            for key in [k for k in self._rows if ref_of(k) == ref]:
                table.remove_row(key)
                self._rows.remove(key)
                self._values.pop(key, None)
            self._append(call)
            self._status()
        else:
            self._rebuild()
            return
        if self.follow and self._newest_key() == ref and ref_of(self._selected_key() or "") != ref:
            self._cursor_to(ref)
        if self._shown == ref:
            self._show_grown(call)

    def _cursor_to(self, key: str) -> None:
        """The list's cursor on a row, in view; on the newest call, the list's end in view too
        (the call's B legs are the rows below it)."""
        table = self.query_one("#call-list", DataTable)
        table.move_cursor(row=self._rows.index(key), scroll=True)
        if key == self._newest_key():
            table.call_after_refresh(table.scroll_end, animate=False, immediate=True, x_axis=False)

    def _is_last(self, ref: str) -> bool:
        """No call shown started after this one (so its rows can go at the end)."""
        call = self.lab.book.calls[ref]
        return all(self.lab.book.calls[r].started_at <= call.started_at
                   for r in self._legs if r != ref and r in self.lab.book.calls)

    def _status(self) -> None:
        total = len(self.lab.book.calls)
        shown = len(self._legs)
        count = f"{total} call{'s' if total != 1 else ''}" if shown == total else f"{shown} of {total} calls"
        follow = "following the newest (l)" if self.follow else "not following (l)"
        time_mode = "clock" if self.query_one("#ladder", LadderView).time_mode == "clock" else "Δt"
        text = Text(f"{count} · {follow} · time {time_mode} (m) · ", style="grey70")
        searching = bool(self.search_query) or self._searching
        text.append("search:" if searching else "/ search", style="bold" if searching else "grey70")  # the field follows
        self.query_one("#calls-status", Static).update(text)
        self.query_one("#search", Input).display = bool(self.search_query) or self._searching

    # ------------------------------------------------------------------ the selected call

    def show_selected(self, *, to_leg: bool = False) -> None:
        """The selected call's ladder, audio and notes; to_leg: the ladder's cursor goes to the
        first message of the selected row's leg (the call's A leg or one of its B legs)."""
        call = self.selected
        view = self.query_one("#ladder", LadderView)
        if call is None:
            self._shown = None
            view.show(None)
            empty = "no calls yet: i places an inbound call, o an outbound call"
            if self.search_query and self.lab.book.calls:
                empty = f"no call matches {self.search_query!r} (/ then escape clears the search)"
            self.query_one("#audio", Static).update(Text(empty))
            self._audio_lines = -1
            self.query_one("#message", Static).update("")
            self._message_key = None
            return
        ladder = self.ladder(call)
        self._shown = call.ref
        view.show(ladder)
        self._show_audio(call)
        key = self._selected_key() or ""
        if to_leg:
            first = ladder.first_rung_of(ref_of_leg(key) if "\t" in key else ladder.a_leg())
            if first is not None:
                view.select(first)
        if not ladder.rungs:
            self._show_message(ladder, None)

    def _show_audio(self, call: LabCall) -> None:
        """The audio panel; laid out again only when its number of lines changed (new figures
        of the same legs arrive every second)."""
        text = audio_text(call, self.ladder(call))
        lines = text.plain.count("\n")
        self.query_one("#audio", Static).update(text, layout=lines != self._audio_lines)
        self._audio_lines = lines

    def _show_grown(self, call: LabCall) -> None:
        """The call on show gained something: new rungs drawn where they go, and its notes
        (a decision, digits, a caller ID) beside the message under the cursor."""
        ladder = self.ladder(call)
        view = self.query_one("#ladder", LadderView)
        view.catch_up()
        self._show_message(ladder, view.rungs[view.cursor] if view.rungs else None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = self._selected_key()
        moved, self._highlighted = key != self._highlighted, key  # not the same row shown again (a rebuild)
        self.show_selected(to_leg=moved)

    @on(CallTable.Picked)
    def _picked(self) -> None:
        """The trainee chose a row: a call other than the newest stops the following."""
        call = self.selected
        if call is not None and ref_of(self._newest_key() or "") != call.ref and self.follow:
            self.follow = False
            self._status()

    def on_ladder_view_highlighted(self, event: LadderView.Highlighted) -> None:
        self._show_message(event.ladder, event.rung)

    def _show_message(self, ladder: Ladder, rung: Rung | None) -> None:
        """Beside the ladder: the call's notes (the gateway's decision, digits, caller ID...),
        then the message under the ladder's cursor, whole. Drawn again only when it changed."""
        head = notes_text(ladder.call, ladder)
        key = (id(ladder), id(rung), head.plain)
        if key == self._message_key:
            return
        self._message_key = key
        if rung is None:
            self.query_one("#message", Static).update(head)
            return
        message = rung.message
        leg = ladder.leg_name(rung.leg)
        head.append(f"{leg} leg", style=leg_style(leg))
        head.append(f"  {clock(rung.at)}  Call-ID {rung.leg}\n", style="grey70")
        head.append(f"{message.src} -> {message.dst}  {message.note}\n", style="bold red" if rung.dropped else "bold")
        head.append(message.text.replace("\r\n", "\n"))
        self.query_one("#message", Static).update(head)

    # ------------------------------------------------------------------ engine messages

    @on(messages.CallChanged)
    @on(messages.GatewayDecided)
    @on(messages.SipCaptured)
    def _engine_call(self, message: messages.CallChanged | messages.GatewayDecided | messages.SipCaptured) -> None:
        self._call_changed(message.event.ref)

    @on(messages.MediaChanged)
    def _media_changed(self, message: messages.MediaChanged) -> None:
        """New RTP figures (every second per leg): the audio panel, and the call's row when
        the figures put it on hold or took it off."""
        ref = message.event.ref
        call = self.lab.book.calls.get(ref)
        if call is None:
            return
        self._call_changed(ref)  # a leg put on hold shows in its row
        if ref == self._shown:
            self._show_audio(call)

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        self._searching = True
        self._status()
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        query = event.value.strip()
        if query != self.search_query:
            self.search_query = query
            self._rebuild()

    @on(Input.Submitted, "#search")
    @on(SearchInput.Cleared)
    def _search_closed(self) -> None:
        """enter keeps the search, escape cleared it: back to the list either way."""
        self._searching = False
        self.query_one("#call-list", DataTable).focus()
        self._status()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            newest = self._newest_key()
            if newest is not None:
                self._cursor_to(newest)
        self._status()

    def action_toggle_time(self) -> None:
        view = self.query_one("#ladder", LadderView)
        view.time_mode = "clock" if view.time_mode == "delta" else "delta"
        self._status()

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
            if first:
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
        following, self.follow = self.follow, True  # the list shows the new call when the lab opens it
        try:
            if values["direction"] == "inbound":
                await lab.place_inbound(values["to"], via=values["via"], dtmf=values.get("dtmf", ""))
            else:
                await lab.place_outbound(values["to"], auth=values["auth"], voip_token=values["token"],
                                         dtmf=values.get("dtmf", ""))
        except LabError as error:
            self.follow = following
            self.notify(str(error), severity="error", markup=False)
        self._status()

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

    async def action_hold(self) -> None:
        """Put the selected call on hold (its caller sends a re-INVITE, sendonly), or resume it."""
        call = self.selected
        if call is None:
            self.notify("No call to hold: place one with i or o", severity="warning")
            return
        try:
            await self.lab.hold(call.ref, on=not on_hold(call))
        except LabError as error:
            self.notify(str(error), severity="warning", markup=False)


def _plain(values: tuple | None) -> tuple | None:
    """Row values to compare (rich Text has no equality of its own)."""
    return None if values is None else tuple((v.plain, str(v.style)) if isinstance(v, Text) else v for v in values)


def ref_of_leg(key: str) -> str:
    """The Call-ID part of a B leg's row key."""
    return key.split("\t", 1)[1]
