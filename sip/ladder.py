"""A call's messages as a ladder: who sent what to whom, in order (pure).

Each datagram between two lab agents is captured twice (sent, then received); the ladder shows
it once, from the sender's capture, plus what only one side saw: a message from a peer outside
the lab (received only), and a datagram the PBX firewall dropped (sent, never received). RFC
4733 digits are drawn too, once, from the side that sent them.

A call is several SIP dialogs, each with its own Call-ID: the caller's leg to the gateway (A)
and the gateway's legs onward (B1, B2... one per target it tried). The ladder shows them all,
each rung marked with its leg, as sngrep's "extended" call flow does.

A ladder grows as its call does: `Ladder.sync()` reads only what the call gained since the last
sync, so a screen following a call pays the same for a new message whether the call has ten
messages or ten thousand.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from store.records import Account, SipMessageRecord

from .calls import LabCall
from .sdp import is_hold


@dataclass(frozen=True)
class Column:
    label: str  # "PSTN", "GW 127.0.0.2", "FIREWALL", "PBX", "YOUR PBX"
    addresses: frozenset[str]  # ip:port values that belong to it
    agent: bool = True  # a lab agent, which reports what it sends; a PBX of yours is seen as received
    catch_all: bool = False  # also every address no other column has (your PBX, wherever it sends from)


@dataclass(frozen=True)
class Rung:
    at: float  # when it was seen (Unix time): the message's own clock
    src: int  # column index (-1: a peer outside the lab's columns)
    dst: int
    label: str  # "INVITE 12025550100", "183 Session Progress (SDP)", "re-INVITE (hold)"
    short: str  # the same in fewer characters, for a narrow ladder: "INVITE", "183 SDP"
    dropped: bool
    message: SipMessageRecord

    @property
    def leg(self) -> str:
        return self.message.sip_call_id

    @property
    def dtmf(self) -> bool:
        return self.message.first_line.startswith("DTMF ")

    @property
    def span(self) -> tuple[int, int] | None:
        """The columns it joins, left first (None for a peer outside the lab's columns)."""
        if self.src < 0 or self.dst < 0 or self.src == self.dst:
            return None
        return (min(self.src, self.dst), max(self.src, self.dst))


def columns(account: Account) -> list[Column]:
    """One column per party, in the order a call crosses them."""
    def at(ip: str, port: int) -> str:
        return f"{ip}:{port}"

    pstn = account.party("pstn")
    pbx, roaming = account.party("pbx"), account.party("pbx_roaming")
    cols = [Column("PSTN", frozenset({at(pstn.ip, pstn.port)} if pstn else set()))]
    cols += [Column(f"GW {a.ip}", frozenset({at(a.ip, a.port)})) for a in account.system_gateway.addresses]
    if not account.builtin_pbx:  # your own PBX: no lab firewall in front of it, and it is no lab agent
        endpoint = account.pbx_endpoint()
        own = {at(a.ip, a.port) for a in endpoint.addresses} if endpoint else set()
        cols.append(Column("YOUR PBX", frozenset(own), agent=False, catch_all=True))
        return cols
    pbx_addresses = {at(p.ip, p.port) for p in (pbx, roaming) if p}
    if pbx and account.pbx_trunk:  # its IP-authenticated INVITEs may leave from another port
        pbx_addresses.add(at(pbx.ip, account.pbx_trunk.source_port))
    cols.append(Column("FIREWALL", frozenset()))
    cols.append(Column("PBX", frozenset(pbx_addresses)))
    return cols


def short_label(first_line: str) -> str:
    parts = first_line.split()
    if first_line.startswith("SIP/2.0") and len(parts) >= 2:
        return " ".join(parts[1:])  # "200 OK"
    if len(parts) >= 2:
        target = parts[1].split(":", 1)[-1].split("@", 1)[0]
        return f"{parts[0]} {target}"  # "INVITE 12025550100"
    return first_line


# Header lookups on the raw text: a ladder labels every message, so no full parse (70 µs each).
_TO_TAG = re.compile(r"^(?:to|t)[ \t]*:[^\r\n]*;[ \t]*tag=", re.IGNORECASE | re.MULTILINE)
_SDP = re.compile(r"^(?:content-type|c)[ \t]*:[ \t]*application/sdp", re.IGNORECASE | re.MULTILINE)
_WARNING = re.compile(r"^warning[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_CSEQ = re.compile(r"^cseq[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)", re.IGNORECASE | re.MULTILINE)


def _head_and_body(text: str) -> tuple[str, str]:
    head, _, body = text.partition("\r\n\r\n")
    return head, body


def _has_sdp(head: str, body: str) -> bool:
    return bool(body.strip()) and _SDP.search(head) is not None


def cseq_method(text: str) -> str:
    """The method a message's CSeq names ('INVITE' for a response to an INVITE), or ''."""
    found = _CSEQ.search(_head_and_body(text)[0])
    return found.group(1).upper() if found else ""


def labels(message: SipMessageRecord) -> tuple[str, str]:
    """What a rung says, in full and short. Early media and holds are marked: a 18x response
    with an SDP answer is early media, an INVITE inside a dialog (its To has a tag) is a
    re-INVITE, and one whose offer is sendonly/inactive puts the call on hold."""
    line = message.first_line
    if line.startswith("DTMF "):
        return line, line
    full = short_label(line)
    parts = line.split()
    if len(parts) < 2:
        return full, full
    head, body = _head_and_body(message.text)
    if line.startswith("SIP/2.0"):
        code = parts[1]
        if code.startswith("18") and _has_sdp(head, body):
            return f"{full} (SDP)", f"{code} SDP"
        return full, code
    method = parts[0]
    if method == "INVITE" and _TO_TAG.search(head):
        held = _has_sdp(head, body) and is_hold(body)
        return ("re-INVITE (hold)", "reINV hold") if held else ("re-INVITE", "reINVITE")
    return full, method


# ---------------------------------------------------------------------------- legs


@dataclass
class Leg:
    """One Call-ID of a call: where its first message went, and how its INVITE ended."""

    sip_call_id: str
    first_at: float
    src: str  # ip:port of its first message
    dst: str
    src_column: int
    dst_column: int
    code: int | None = None  # the final answer to its INVITE (2xx once answered, else the last)
    reason: str = ""
    ringing: bool = False  # a 18x came back
    early_media: bool = False  # ... with SDP
    bye: bool = False
    dropped: int = 0  # its datagrams the PBX firewall dropped
    rungs: int = 0


def leg_state(leg: Leg, call_finished: bool) -> str:
    """How a leg stands, in a word: from the responses to its INVITE."""
    if leg.code is not None and 200 <= leg.code < 300:
        return "ended" if leg.bye else "answered"
    if leg.code is not None:
        return "failed"
    if call_finished:
        return "dropped" if leg.dropped else "no answer"
    if leg.early_media:
        return "early media"
    return "ringing" if leg.ringing else "calling"


# ---------------------------------------------------------------------------- the ladder


class Ladder:
    """The rungs of one call, kept in step with it: `sync()` after the call changed.

    The call book only appends to a call's messages and digits; when two provisional calls are
    merged it replaces those lists, and the ladder is then read again from the start."""

    def __init__(self, call: LabCall, cols: list[Column]) -> None:
        self.call = call
        self._plan = list(cols)
        self._lab_addresses = set().union(*(c.addresses for c in cols if c.agent)) if cols else set()
        self._firewall = next((i for i, c in enumerate(cols) if c.label == "FIREWALL"), -1)
        self._reset()

    def _reset(self) -> None:
        self.columns = list(self._plan)  # the lab's parties, then any other address met (a peer, a dead PBX address)
        self.rungs: list[Rung] = []
        self._times: list[float] = []  # rung times, for bisect
        self._messages: list[SipMessageRecord] | None = None  # the list object read so far
        self._messages_read = 0
        self._dtmf: list[SipMessageRecord] | None = None
        self._dtmf_read = 0
        self.legs: dict[str, Leg] = {}  # Call-ID -> leg, in order of arrival
        self.warnings: list[tuple[str, int, str]] = []  # (Call-ID, code, Warning header) of refusals
        self.spans: dict[tuple[int, int], tuple[int, int]] = {}  # (left, right) -> longest (full, short) label
        self.version = 0  # grows when the legs or the spans change (names, layout)
        self._names: tuple[tuple[str, int], dict[str, str]] | None = None
        self._a_leg = self.call.a_leg
        self._unseen: int | None = None  # the first rung changed since a view last asked (take_changes)

    # ------------------------------------------------------------------ growing

    def sync(self) -> int | None:
        """Read what the call gained. Returns the index of the first rung that is new or moved
        (rungs after it shifted), or None when nothing changed."""
        call = self.call
        first: int | None = None
        if (self._messages is not None and (call.messages is not self._messages or len(call.messages) < self._messages_read)) \
                or (self._dtmf is not None and (call.dtmf is not self._dtmf or len(call.dtmf) < self._dtmf_read)):
            version = self.version
            self._reset()  # merged: read it all again
            self.version, first = version + 1, 0
        if call.a_leg != self._a_leg:  # the caller's leg became known: the legs are named again
            self._a_leg = call.a_leg
            self.version += 1
            first = 0
        self._messages, self._dtmf = call.messages, call.dtmf
        new = call.messages[self._messages_read:]
        self._messages_read = len(call.messages)
        digits = call.dtmf[self._dtmf_read:]
        self._dtmf_read = len(call.dtmf)
        for message in new:
            if message.event in ("tx", "drop") or (message.event == "rx" and message.src not in self._lab_addresses):
                index = self._add(message)
                first = index if first is None else min(first, index)
        for digit in digits:
            if digit.event == "tx" and digit.src:
                index = self._add(digit)
                first = index if first is None else min(first, index)
        if first is not None:
            self._unseen = first if self._unseen is None else min(self._unseen, first)
        return first

    def take_changes(self) -> int | None:
        """The first rung that changed since the last call of this (whoever synced meanwhile)."""
        first, self._unseen = self._unseen, None
        return first

    def _add(self, message: SipMessageRecord) -> int:
        src, dst = self.column_of(message.src), self.column_of(message.dst)
        if message.dropped:
            dst = self._firewall
        full, short = labels(message)
        rung = Rung(message.t, src, dst, full, short, message.dropped, message)
        index = bisect.bisect_right(self._times, message.t)
        sent = self.rungs[index - 1] if message.dropped and index else None
        if sent is not None and not sent.dropped and (sent.message.src, sent.message.dst, sent.message.text) == (
                message.src, message.dst, message.text):
            # The datagram the firewall dropped is the one just sent: one rung, ending at the
            # firewall (an arrow on to the PBX would say it got there).
            index -= 1
            self._times[index], self.rungs[index] = message.t, rung
            self.legs[sent.leg].rungs -= 1
        else:
            self._times.insert(index, message.t)
            self.rungs.insert(index, rung)
        if rung.span is not None:
            longest = self.spans.get(rung.span, (0, 0))
            wanted = (max(longest[0], len(full)), max(longest[1], len(short)))
            if wanted != longest:
                self.spans[rung.span] = wanted
                self.version += 1
        self._note_leg(rung)
        return index

    def _note_leg(self, rung: Rung) -> None:
        message = rung.message
        leg = self.legs.get(message.sip_call_id)
        if leg is None:
            leg = self.legs[message.sip_call_id] = Leg(message.sip_call_id, rung.at, message.src, message.dst,
                                                       rung.src, rung.dst)
            self.version += 1
        elif rung.at < leg.first_at and not rung.dtmf:  # arrived late, happened first
            leg.first_at, leg.src, leg.dst, leg.src_column, leg.dst_column = (
                rung.at, message.src, message.dst, rung.src, rung.dst)
            self.version += 1
        leg.rungs += 1
        if rung.dropped:
            leg.dropped += 1
            return
        line = message.first_line
        if line.startswith("BYE "):
            leg.bye = True
        if not line.startswith("SIP/2.0 "):
            return
        code_text, _, reason = line[8:].partition(" ")
        if not code_text.isdigit():
            return
        code = int(code_text)
        if code >= 300:  # a refusal says why in its Warning header (RFC 3261 20.43)
            found = _WARNING.search(_head_and_body(message.text)[0])
            warning = (message.sip_call_id, code, found.group(1).strip()) if found else None
            if warning and warning not in self.warnings:
                self.warnings.append(warning)
        if cseq_method(message.text) != "INVITE":
            return
        if code < 200:
            leg.ringing = leg.ringing or code >= 180
            leg.early_media = leg.early_media or rung.label.endswith("(SDP)")
        elif leg.code is None or not 200 <= leg.code < 300:  # once answered, a re-INVITE's answer is not the call's
            leg.code, leg.reason = code, reason

    def column_of(self, address: str) -> int:
        """The column of an ip:port; an address outside the lab's plan (SIPp, a softphone, an
        endpoint address nothing answers at) gets a column of its own, as in sngrep."""
        for index, col in enumerate(self.columns):
            if address in col.addresses:
                return index
        if not address:
            return -1
        catch_all = next((index for index, col in enumerate(self.columns) if col.catch_all), None)
        if catch_all is not None:  # your own PBX sends from wherever it likes
            return catch_all
        self.columns.append(Column(address, frozenset({address})))
        self.version += 1
        return len(self.columns) - 1

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self.rungs)

    def delta(self, index: int) -> float:
        """Seconds since the rung before (0 for the first)."""
        return self.rungs[index].at - self.rungs[index - 1].at if index > 0 else 0.0

    def since_start(self, index: int) -> float:
        return self.rungs[index].at - self.rungs[0].at

    def a_leg(self) -> str:
        """The caller's Call-ID: the call book's word for it, else the leg that started first."""
        if self.call.a_leg in self.legs or not self.legs:
            return self.call.a_leg
        return min(self.legs.values(), key=lambda leg: leg.first_at).sip_call_id

    def leg_names(self) -> dict[str, str]:
        """Call-ID -> 'A', 'B1', 'B2'... (B legs in the order they started)."""
        key = (self.call.a_leg, self.version)
        if self._names is None or self._names[0] != key:
            a = self.a_leg()
            others = sorted((leg for leg in self.legs.values() if leg.sip_call_id != a), key=lambda leg: leg.first_at)
            names = {a: "A"} if a else {}
            names.update({leg.sip_call_id: f"B{n}" for n, leg in enumerate(others, 1)})
            self._names = (key, names)
        return self._names[1]

    def leg_name(self, sip_call_id: str) -> str:
        return self.leg_names().get(sip_call_id, "?")

    def ordered_legs(self) -> list[tuple[str, Leg]]:
        names = self.leg_names()
        return sorted(((names.get(cid, "?"), leg) for cid, leg in self.legs.items()),
                      key=lambda pair: (pair[0] != "A", pair[1].first_at))

    def first_rung_of(self, sip_call_id: str) -> int | None:
        leg = self.legs.get(sip_call_id)
        if leg is None:
            return None
        index = bisect.bisect_left(self._times, leg.first_at)
        for i in range(index, len(self.rungs)):
            if self.rungs[i].leg == sip_call_id:
                return i
        return None


def rungs(call: LabCall, cols: list[Column]) -> list[Rung]:
    """The whole ladder of a call at once."""
    ladder = Ladder(call, cols)
    ladder.sync()
    return ladder.rungs


def render_text(call: LabCall, account: Account) -> list[str]:
    """The ladder as plain text lines, one per message (for the command line):

         0.000  PSTN          -> GW 127.0.0.2   INVITE 12025550100
         1.502  GW 127.0.0.3  -x FIREWALL       INVITE 12025550100  (dropped by the PBX firewall: ...)
    """
    ladder = Ladder(call, columns(account))
    ladder.sync()

    def name(index: int, address: str) -> str:
        return ladder.columns[index].label if index >= 0 else address

    lines = []
    for index, rung in enumerate(ladder.rungs):
        arrow = "-x" if rung.dropped else "~>" if rung.dtmf else "->"
        note = f"  ({rung.message.note})" if rung.message.note else ""
        lines.append(
            f"{ladder.since_start(index):8.3f}  {name(rung.src, rung.message.src):<15} {arrow} "
            f"{name(rung.dst, rung.message.dst):<15} {rung.label}{note}"
        )
    return lines
