"""The call list, sngrep-like: one row per call (its A leg) and, under it, one row per B leg the
gateway placed for it; a search over numbers, Call-IDs, states and parties.

The row values and the search are plain functions over a call and its ladder (tested without
a screen); `CallTable` is a DataTable that says when the trainee moved its cursor (as opposed to
the screen following the newest call).
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from sip.calls import LabCall
from sip.ladder import Ladder, leg_state

from .ladder import leg_style, short_column

COLUMNS = (  # (key, heading)
    ("time", "Time"), ("leg", "Leg"), ("dir", "Dir"), ("from", "From"), ("to", "To"), ("via", "Gateway"),
    ("state", "State"), ("code", "Code"), ("setup", "Setup"), ("auth", "Auth"), ("call_id", "Call-ID"),
)
CALL_ID_SHOWN = 16  # characters of a Call-ID in the list (the search reads all of it)
HOLD_STATES = ("local_hold", "remote_hold", "hold", "inactive", "sendonly", "recvonly")


def row_key(ref: str, sip_call_id: str | None = None) -> str:
    """A call's row is its ref; a B leg's row is ref, a tab, its Call-ID."""
    return ref if sip_call_id is None else f"{ref}\t{sip_call_id}"


def ref_of(key: str) -> str:
    return key.split("\t", 1)[0]


def on_hold(call: LabCall) -> bool:
    """Some party's latest media status is a hold (a re-INVITE with sendonly or inactive)."""
    if call.finished:
        return False
    return any(status in HOLD_STATES for status in _latest_holds(call).values())


def call_state(call: LabCall) -> str:
    return "on hold" if call.state == "answered" and on_hold(call) else call.state


def _short_id(sip_call_id: str) -> str:
    return sip_call_id if len(sip_call_id) <= CALL_ID_SHOWN else sip_call_id[:CALL_ID_SHOWN - 1] + "…"


def _party(ladder: Ladder, column: int, address: str) -> str:
    """'GW .2', 'PBX', 'PSTN', or the address of no party (without its port if it is 5060)."""
    label = ladder.columns[column].label if column >= 0 else address
    return short_column(label) if label.startswith("GW ") else label.removesuffix(":5060")


def _gateway_of(ladder: Ladder, leg) -> str:
    """The System Gateway address a leg starts or ends at."""
    for column, address in ((leg.src_column, leg.src), (leg.dst_column, leg.dst)):
        if column >= 0 and ladder.columns[column].label.startswith("GW "):
            return address.split(":")[0]
    return ""


def call_row(call: LabCall, ladder: Ladder) -> tuple:
    """The call's own row: what the caller dialled, how it went, its A leg's Call-ID."""
    a_leg = ladder.a_leg() or call.a_leg
    return (
        time.strftime("%H:%M:%S", time.localtime(call.started_at)),
        Text("A", style=leg_style("A")),
        {"inbound": "in", "outbound": "out"}.get(call.direction, "?"),
        call.from_number or "?",
        call.to_number or "?",
        call.gateway.split(":")[0],
        call_state(call),
        "" if call.final_code is None else str(call.final_code),
        "" if call.setup_ms is None else f"{call.setup_ms:.0f}ms",
        call.auth_method or call.requested_auth,
        _short_id(a_leg),
    )


def leg_rows(call: LabCall, ladder: Ladder) -> list[tuple[str, tuple]]:
    """(Call-ID, row) for each B leg: from where to where, how its INVITE ended."""
    rows = []
    for name, leg in ladder.ordered_legs():
        if name == "A":
            continue
        rows.append((leg.sip_call_id, (
            time.strftime("%H:%M:%S", time.localtime(leg.first_at)),
            Text(f"└{name}", style=leg_style(name)),
            "",
            _party(ladder, leg.src_column, leg.src),
            _party(ladder, leg.dst_column, leg.dst),
            _gateway_of(ladder, leg),
            _leg_state(call, leg),
            "" if leg.code is None else str(leg.code),
            "",
            "",
            _short_id(leg.sip_call_id),
        )))
    return rows


def _latest_holds(call: LabCall) -> dict[str, str]:
    latest: dict[str, str] = {}
    for _, agent, status in sorted(call.holds):
        latest[agent] = status
    return latest


def _leg_state(call: LabCall, leg) -> str:
    """The leg's state from its SIP; an answered leg whose end party (the PSTN or the PBX on
    it) last said its media is held is 'on hold'."""
    state = leg_state(leg, call.finished)
    if state != "answered" or call.finished or not call.holds:
        return state
    ends = {agent for agent, cid in call.legs if cid == leg.sip_call_id and agent in ("pstn", "pbx")}
    latest = _latest_holds(call)
    return "on hold" if any(latest.get(agent) in HOLD_STATES for agent in ends) else state


def search_text(call: LabCall, ladder: Ladder) -> str:
    """Everything a search matches, lower case: numbers, every leg's Call-ID, the state, the
    code and reason, the gateway, the parties each leg joined, the direction and auth."""
    words = [call.ref, call.direction, call.from_number, call.to_number, call.gateway, call_state(call),
             "" if call.final_code is None else str(call.final_code), call.final_reason, call.auth_method,
             call.requested_auth, *call.sip_call_ids]
    for name, leg in ladder.ordered_legs():
        words += [leg.sip_call_id, leg.src, leg.dst, leg_state(leg, call.finished),
                  "" if leg.code is None else str(leg.code), leg.reason]
        for column in (leg.src_column, leg.dst_column):
            if column >= 0:
                words += [ladder.columns[column].label, short_column(ladder.columns[column].label)]
    if call.practice:
        words.append("practice")
    return " ".join(w for w in words if w).lower()


def matches(call: LabCall, ladder: Ladder, query: str) -> bool:
    """Every word of the query is somewhere in the call (case ignored); an empty query matches."""
    terms = query.lower().split()
    if not terms:
        return True
    haystack = search_text(call, ladder)
    return all(term in haystack for term in terms)


class CallTable(DataTable):
    """The call list; posts `Picked` when the trainee moved the cursor (keys or mouse)."""

    class Picked(Message):
        """The trainee put the cursor on a row (not the screen following the newest call)."""

    def _picked(self) -> None:
        self.post_message(self.Picked())

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._picked()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._picked()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._picked()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._picked()

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self._picked()

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self._picked()

    async def _on_click(self, event) -> None:
        await super()._on_click(event)
        self._picked()
