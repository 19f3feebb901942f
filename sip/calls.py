"""Correlating the agents' events into calls (pure: events in, call records out).

Each agent reports what it sees by SIP Call-ID. One lab call spans several Call-IDs: the
caller's leg to the gateway (A) and the gateway's leg onward (B, one per failover attempt). The
gateway's 'bridge' events say which B belongs to which A; the caller's 'call' events say which
A belongs to which lab call `ref`. Events can arrive in any order across agents, so a Call-ID
seen first belongs to a provisional call that is merged when its owner becomes known.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field

from store.records import FirewallRule

from .routing import firewall_rule_for
from .sipmsg import SipParseError, parse_message, uri_host_port


@dataclass(frozen=True)
class Captured:
    """One SIP message as it crossed the lab (or was dropped by the PBX firewall)."""

    t: float
    agent: str
    event: str  # 'tx' | 'rx' | 'drop'
    src: str  # ip:port
    dst: str
    sip_call_id: str
    first_line: str
    text: str
    note: str = ""
    cseq: tuple[int | None, str | None] = (None, None)


@dataclass
class LegFigures:
    """The latest RTP figures and tone verdict of one leg at one agent."""

    agent: str
    sip_call_id: str
    figures: dict


@dataclass
class LabCall:
    ref: str
    direction: str = ""  # 'inbound' | 'outbound' ('' until known)
    to_number: str = ""
    from_number: str = ""
    gateway: str = ""  # the System Gateway address the call went through
    auth_method: str = ""  # how the gateway identified the caller ('ip', 'proxy', 'header')
    requested_auth: str = ""  # how the lab's PBX was asked to authenticate (outbound calls)
    endpoint_sid: str = ""
    started_at: float = 0.0
    state: str = "dialling"  # dialling -> ringing -> answered -> ended | failed
    final_code: int | None = None
    final_reason: str = ""
    setup_ms: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    a_leg: str = ""  # the caller's Call-ID: the leg whose state is the call's state
    sip_call_ids: set[str] = field(default_factory=set)
    messages: list[Captured] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    legs: dict[tuple[str, str], LegFigures] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    heard: dict[str, bool] = field(default_factory=dict)  # party -> heard the far tone at least once
    external: bool = False  # placed by a peer outside the lab (SIPp, a softphone)
    dtmf: list[Captured] = field(default_factory=list)  # digits sent ('dtmf' tx) and received ('dtmf' rx)
    holds: list[tuple[float, str, str]] = field(default_factory=list)  # (t, agent, media status)
    caller_ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # callee -> (From user, P-Asserted-Identity user)

    @property
    def finished(self) -> bool:
        return self.state in ("ended", "failed")

    @property
    def duration_s(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return round(self.ended_at - self.answered_at, 3)

    def drops(self) -> list[Captured]:
        return [m for m in self.messages if m.event == "drop"]

    def digits(self, agent: str, direction: str) -> str:
        """The DTMF digits `agent` sent ('tx') or received ('rx') in this call, in order."""
        return "".join(d.text for d in self.dtmf if d.agent == agent and d.event == direction)


def local_address(text: str, direction: str, fallback: str) -> str:
    """Which of our addresses a captured message used (pjsua's log names only the remote end).

    A request we send carries our address in its top Via; a request we receive was addressed to
    us in its Request-URI; a response we receive has our Via on top. For a response we send,
    our Contact names us when there is one."""
    try:
        message = parse_message(text)
    except SipParseError:
        return fallback
    if message.is_request:
        source = message.header("Via") if direction == "tx" else message.request_uri
    else:
        source = message.header("Via") if direction == "rx" else message.header("Contact")
    if not source:
        return fallback
    if message.is_request and direction == "tx" or not message.is_request and direction == "rx":
        # Via: SIP/2.0/UDP host:port;params
        sent_by = source.split(None, 1)[-1].split(";", 1)[0].strip()
        host, _, port = sent_by.partition(":")
        return f"{host}:{port or 5060}" if host else fallback
    found = uri_host_port(source)
    if found is None:
        return fallback
    host, port = found
    return f"{host}:{port or 5060}"


MAX_EXTERNAL = 1000  # calls from outside peers kept in memory (the newest)
PLACED_FIELDS = ("direction", "to_number", "from_number", "gateway", "requested_auth")


class CallBook:
    """All calls of a lab session, built from agent events as they come."""

    def __init__(self, pbx_addresses: tuple[str, ...] = ()) -> None:
        self.calls: dict[str, LabCall] = {}
        self._by_sip_call_id: dict[str, LabCall] = {}
        self._external_ids = itertools.count(1)
        self._external: collections.deque[str] = collections.deque()  # refs of outside calls, oldest first
        self.pbx_addresses = set(pbx_addresses)  # ip:port of the PBX, behind its firewall
        self.firewall: tuple[FirewallRule, ...] = ()
        self.rule_hits: dict[int, int] = {}  # firewall rule_id -> datagrams let through (SIP and RTP)
        self.recent_drops: list[Captured] = []
        self.unreported_drops: list[Captured] = []  # drops the lab has not announced yet

    # ------------------------------------------------------------------ identity

    def open(self, ref: str, **details: object) -> LabCall:
        call = LabCall(ref=ref, **details)
        self.calls[ref] = call
        return call

    def _call_for(self, sip_call_id: str, t: float) -> LabCall:
        call = self._by_sip_call_id.get(sip_call_id)
        if call is None:
            call = self.open(f"x{next(self._external_ids)}", started_at=t, external=True, a_leg=sip_call_id)
            self._link(call, sip_call_id)
            self._external.append(call.ref)
            self._forget_old_external()
        return call

    def _forget_old_external(self) -> None:
        """Calls from peers outside the lab are kept for the ladder, the newest MAX_EXTERNAL of
        them: a flood or a fuzzer opens one per Call-ID and must not grow the lab without bound."""
        while len(self._external) > MAX_EXTERNAL:
            old = self.calls.get(self._external.popleft())
            if old is None or not old.external:
                continue  # merged into a lab call meanwhile: it is that call's now
            del self.calls[old.ref]
            for sip_call_id in old.sip_call_ids:
                if self._by_sip_call_id.get(sip_call_id) is old:
                    del self._by_sip_call_id[sip_call_id]

    def _link(self, call: LabCall, sip_call_id: str) -> None:
        """Make sip_call_id part of call, merging the provisional call that held it."""
        if not sip_call_id:
            return
        previous = self._by_sip_call_id.get(sip_call_id)
        if previous is not None and previous is not call:
            self._merge(previous, into=call)
        call.sip_call_ids.add(sip_call_id)
        self._by_sip_call_id[sip_call_id] = call

    def _merge(self, old: LabCall, into: LabCall) -> None:
        into.messages = sorted(old.messages + into.messages, key=lambda m: m.t)
        into.decisions = old.decisions + into.decisions
        into.legs.update(old.legs)
        into.notes += old.notes
        into.dtmf = sorted(old.dtmf + into.dtmf, key=lambda d: d.t)
        into.holds = sorted(old.holds + into.holds)
        into.caller_ids = {**old.caller_ids, **into.caller_ids}
        for party, heard in old.heard.items():
            into.heard[party] = into.heard.get(party, False) or heard
        for field_name in ("direction", "gateway", "auth_method", "endpoint_sid"):
            if not getattr(into, field_name):
                setattr(into, field_name, getattr(old, field_name))
        for sip_call_id in old.sip_call_ids:
            into.sip_call_ids.add(sip_call_id)
            self._by_sip_call_id[sip_call_id] = into
        self.calls.pop(old.ref, None)

    # ------------------------------------------------------------------ events

    def apply(self, agent: str, agent_address: str, event: dict) -> LabCall | None:
        """Fold one agent event into the calls; returns the call it touched, if any."""
        kind = event.get("ev")
        t = float(event.get("t", 0.0))
        if kind == "placed":  # the lab asked an agent to place a call: the call starts here
            details = {k: event[k] for k in PLACED_FIELDS if k in event}
            return self.calls.get(event["ref"]) or self.open(event["ref"], started_at=t, **details)
        if kind == "sip":
            return self._on_sip(agent, agent_address, event, t)
        if kind == "call":
            return self._on_call(agent, event, t)
        if kind == "decision":
            call = self._call_for(event["sip_call_id"], t)
            call.decisions.append(event)
            call.direction = call.direction or event.get("direction", "")
            call.gateway = call.gateway or agent_address
            if event.get("auth") and event["auth"] != "challenge":
                call.auth_method = event["auth"]
            call.endpoint_sid = event.get("endpoint_sid") or call.endpoint_sid
            if event.get("dialled") and not call.to_number:
                call.to_number = event["dialled"]
            return call
        if kind == "bridge":
            call = self._call_for(event["a"], t)
            self._link(call, event["b"])
            return call
        if kind == "b_timeout":
            call = self._call_for(event["a"], t)
            call.notes.append(f"{agent}: no answer from the trunk in {event['after_s']:g} s; leg cancelled")
            return call
        if kind == "media":
            return self._on_media(agent, event, t)
        if kind == "dtmf" and event.get("sip_call_id"):
            return self._on_dtmf(agent, event, t)
        if kind == "hold" and event.get("sip_call_id"):
            call = self._call_for(event["sip_call_id"], t)
            call.holds.append((t, agent, event.get("status", "")))
            return call
        if kind == "incoming" and event.get("sip_call_id"):
            call = self._call_for(event["sip_call_id"], t)
            call.caller_ids[agent] = (event.get("caller") or "", event.get("asserted") or "")
            return call
        return None

    def _on_dtmf(self, agent: str, event: dict, t: float) -> LabCall:
        """Digits, kept with the leg's own SIP addresses so the ladder can draw them between the
        parties' columns (RTP has no columns of its own)."""
        sip_call_id, digits, direction = event["sip_call_id"], str(event.get("digits", "")), event.get("dir", "rx")
        call = self._call_for(sip_call_id, t)
        leg = next((m for m in call.messages if m.agent == agent and m.sip_call_id == sip_call_id
                    and m.event in ("tx", "rx")), None)
        src, dst = ("", "") if leg is None else (leg.src, leg.dst) if leg.event == "tx" else (leg.dst, leg.src)
        if direction == "rx":
            src, dst = dst, src
        call.dtmf.append(Captured(t, agent, direction, src, dst, sip_call_id, f"DTMF {digits}", digits,
                                  note="RFC 4733 telephone-event"))
        return call

    def _on_sip(self, agent: str, agent_address: str, event: dict, t: float) -> LabCall | None:
        text = event["text"]
        try:
            message = parse_message(text)
        except SipParseError:
            return None
        sip_call_id = message.call_id or ""
        local = event.get("local") or local_address(text, event["dir"], "")  # the edge says where
        call = self._call_for(sip_call_id, t)
        if not local:  # a response without Contact leaves where its request arrived
            request = next((m for m in reversed(call.messages) if m.agent == agent and m.event == "rx"
                            and m.cseq == (message.cseq_number, message.cseq_method)), None)
            local = request.dst if request else agent_address
        src, dst = (local, event["remote"]) if event["dir"] == "tx" else (event["remote"], local)
        captured = Captured(t, agent, event["dir"], src, dst, sip_call_id, message.first_line, text,
                            cseq=(message.cseq_number, message.cseq_method))
        call.messages.append(captured)
        if event["dir"] == "tx" and dst in self.pbx_addresses and agent != "pbx":
            self._firewall_check(call, captured)
        elif event["dir"] == "rx" and agent == "pbx":
            rule = firewall_rule_for(self.firewall, src.rpartition(":")[0], "sip")
            if rule is not None:
                self.rule_hits[rule.rule_id] = self.rule_hits.get(rule.rule_id, 0) + 1
        return call

    def _firewall_check(self, call: LabCall, sent: Captured) -> None:
        """A datagram to the PBX from a source no rule allows never arrives: show it dropped.
        (The kernel filter really drops it; it keeps no count, so the ladder infers the drop
        from the same rules the filter was built from.)"""
        source_ip = sent.src.rpartition(":")[0]
        if firewall_rule_for(self.firewall, source_ip, "sip") is None:
            drop = Captured(
                sent.t + 1e-6, "firewall", "drop", sent.src, sent.dst, sent.sip_call_id, sent.first_line,
                sent.text, note=f"dropped by the PBX firewall: no rule allows {source_ip}",
            )
            call.messages.append(drop)
            self.recent_drops = (self.recent_drops + [drop])[-50:]
            self.unreported_drops.append(drop)

    def _on_call(self, agent: str, event: dict, t: float) -> LabCall | None:
        ref = event.get("ref")
        sip_call_id = event.get("sip_call_id", "")
        if ref is not None and ref in self.calls:
            call = self.calls[ref]
            self._link(call, sip_call_id)
            call.a_leg = call.a_leg or sip_call_id
        elif sip_call_id:
            call = self._call_for(sip_call_id, t)
        else:
            return None
        # The caller's view decides the state: our own agent for a lab call; for a call from a
        # peer outside the lab, the gateway's side of that peer's leg.
        if ref is not None or (call.external and sip_call_id == call.a_leg):
            self._caller_state(call, event, t)
        return call

    def _caller_state(self, call: LabCall, event: dict, t: float) -> None:
        state = event["state"]
        if state == "early":
            call.state = "ringing"
        elif state == "confirmed":
            call.state = "answered"
            call.answered_at = call.answered_at or t
            call.setup_ms = event.get("setup_ms")
            call.final_code, call.final_reason = 200, "OK"
        elif state == "disconnected":
            call.ended_at = t
            if call.answered_at is not None:
                call.state = "ended"
            else:
                call.state = "failed"
                call.final_code, call.final_reason = event.get("code") or 0, event.get("reason") or ""

    def _on_media(self, agent: str, event: dict, t: float) -> LabCall | None:
        sip_call_id = event.get("sip_call_id", "")
        if not sip_call_id:
            return None
        call = self._call_for(sip_call_id, t)
        previous = call.legs.get((agent, sip_call_id))
        call.legs[(agent, sip_call_id)] = LegFigures(agent, sip_call_id, event)
        if agent == "pbx":  # RTP the PBX received came through the firewall: count it on its rule
            received = event.get("rx", {}).get("pkt", 0) - (previous.figures.get("rx", {}).get("pkt", 0) if previous else 0)
            rule = firewall_rule_for(self.firewall, event.get("remote_rtp", "").rpartition(":")[0] or "0.0.0.0", "rtp")
            if rule is not None and received > 0:
                self.rule_hits[rule.rule_id] = self.rule_hits.get(rule.rule_id, 0) + received
        tone = event.get("tone")
        if tone is not None and agent in ("pstn", "pbx"):
            call.heard[agent] = call.heard.get(agent, False) or bool(tone.get("present"))
        return call
