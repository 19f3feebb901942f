"""Correlating the agents' reports into calls (pure: typed reports in, call records out).

Each agent reports what it sees by SIP Call-ID (sip/wire.py types what it says). One lab call spans several Call-IDs: the
caller's leg to the gateway (A) and the gateway's leg onward (B, one per failover attempt). The
gateway's 'bridge' events say which B belongs to which A; the caller's 'call' events say which
A belongs to which lab call `ref`. Events can arrive in any order across agents, so a Call-ID
seen first belongs to a provisional call that is merged when its owner becomes known.
`CallBook.apply` says what each report changed (`Applied`), so the lab can announce exactly that.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import asdict, dataclass, field

from store.records import CallRecord, FirewallRule, SipMessageRecord, stopped_reason

from .audio import LegEnergy, judge, observe
from .routing import firewall_rule_for
from .sipmsg import SipParseError, parse_message, uri_host_port
from .wire import (
    AgentReport,
    BLegTimedOut,
    BridgeOpened,
    CallerSeen,
    CallState,
    DtmfDigits,
    GatewayDecision,
    HoldChanged,
    MediaFigures,
    SipSeen,
    parse_report,
)


@dataclass(frozen=True)
class RtpDrop:
    """RTP a lab agent sent to the PBX from an address no 'rtp' rule allows: the PBX's firewall
    drops it. One per stream, with the packets dropped so far (the kernel keeps no count: this
    is the sender's count while no rule allowed it)."""

    t: float
    src: str  # ip:port
    dst: str
    sip_call_id: str
    packets: int

    @property
    def note(self) -> str:
        return f"RTP dropped by the PBX firewall: no rule allows {self.src.rpartition(':')[0]}"


Drop = SipMessageRecord | RtpDrop
RuleKey = tuple[int, str, str]  # (rule_id, cidr, protocol): SQLite reuses the id of a deleted rule


def rule_key(rule: FirewallRule) -> RuleKey:
    return (rule.rule_id, rule.cidr, rule.protocol)


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
    messages: list[SipMessageRecord] = field(default_factory=list)
    decisions: list[GatewayDecision] = field(default_factory=list)
    legs: dict[tuple[str, str], MediaFigures] = field(default_factory=dict)  # (agent, Call-ID) -> latest
    notes: list[str] = field(default_factory=list)
    heard: dict[str, bool] = field(default_factory=dict)  # party -> heard the far tone at least once
    external: bool = False  # placed by a peer outside the lab (SIPp, a softphone)
    dtmf: list[SipMessageRecord] = field(default_factory=list)  # digits sent ('tx') and received ('rx')
    holds: list[tuple[float, str, str]] = field(default_factory=list)  # (t, agent, media status)
    caller_ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # callee -> (From user, P-Asserted-Identity user)
    practice: bool = False  # placed with deliberately wrong credentials: never counts in the checklist
    stored: bool = False  # read back from the store's CDRs (an earlier session): history only
    caller_agent: str = ""  # the address of the lab agent asked to place it
    # agent address -> the Call-IDs of this call that agent reported: the legs it holds, which
    # the lab hangs up there when another agent of the call dies
    seen_by: dict[str, set[str]] = field(default_factory=dict)
    cut_by: str = ""  # the address of the agent whose death cut the call short ('' if none did)
    energy: dict[tuple[str, str], LegEnergy] = field(default_factory=dict)  # per leg: reports with audio energy
    audio_evidence: dict[str, str] = field(default_factory=dict)  # party -> what 'heard' rests on (your own PBX)

    @property
    def finished(self) -> bool:
        return self.state in ("ended", "failed")

    @property
    def answered(self) -> bool:
        """Answered, and not cut short since: a call an agent's death ended is a failed call,
        whatever it did before."""
        return self.answered_at is not None and self.state != "failed"

    def legs_elsewhere(self, agent_address: str) -> dict[str, set[str]]:
        """The Call-IDs each other agent holds of this call."""
        return {other: set(ids) for other, ids in self.seen_by.items() if other != agent_address and ids}

    @property
    def duration_s(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return round(self.ended_at - self.answered_at, 3)

    def drops(self) -> list[SipMessageRecord]:
        return [m for m in self.messages if m.dropped]

    def digits(self, agent: str, direction: str) -> str:
        """The DTMF digits `agent` sent ('tx') or received ('rx') in this call, in order."""
        return "".join(d.text for d in self.dtmf if d.agent == agent and d.event == direction)


def call_record(call: LabCall, state: str | None = None) -> CallRecord:
    """A lab call as the store's CDR, as far as it has got (state: override, e.g. 'interrupted')."""
    state = state or {"ended": "ended", "failed": "failed"}.get(call.state, "in_progress")
    return CallRecord(
        started_at=call.started_at, direction=call.direction or "inbound", from_number=call.from_number,
        to_number=call.to_number, gateway_address=call.gateway, endpoint_sid=call.endpoint_sid or None,
        auth_method=call.auth_method, final_code=None if state == "interrupted" else call.final_code,
        final_reason=call.final_reason, state=state,
        setup_ms=call.setup_ms, duration_s=call.duration_s,
        rtp={f"{agent} {sip_call_id}": _figures_dict(figures) for (agent, sip_call_id), figures in call.legs.items()},
        audio_verdict=dict(call.heard),
        messages=tuple(call.messages),
    )


def _figures_dict(figures: MediaFigures) -> dict:
    data = asdict(figures)
    for transient in ("t", "ref", "sip_call_id", "final"):
        data.pop(transient)
    return data


def call_from_record(record: CallRecord) -> LabCall:
    """A CDR of an earlier session as a (finished, stored) call, for the call list and ladder."""
    legs: dict[tuple[str, str], MediaFigures] = {}
    for key, figures in record.rtp.items():
        agent, _, sip_call_id = key.partition(" ")
        report = parse_report({**figures, "ev": "media", "t": record.started_at, "sip_call_id": sip_call_id})
        if isinstance(report, MediaFigures):
            legs[(agent, sip_call_id)] = report
    answered = record.setup_ms is not None if record.state != "ended" else record.final_code == 200
    answered_at = record.started_at + (record.setup_ms or 0.0) / 1000 if answered else None
    ended_at = answered_at + record.duration_s if answered_at is not None and record.duration_s is not None else None
    return LabCall(
        ref=f"cdr{record.call_id}", direction=record.direction, to_number=record.to_number,
        from_number=record.from_number, gateway=record.gateway_address, auth_method=record.auth_method,
        endpoint_sid=record.endpoint_sid or "", started_at=record.started_at,
        state="ended" if record.state == "ended" and answered else "failed", final_code=record.final_code,
        final_reason=(f"in progress in another trunklab (process {record.owner_pid})"
                      if record.state == "in_progress" else record.final_reason),
        setup_ms=record.setup_ms, answered_at=answered_at, ended_at=ended_at,
        sip_call_ids={m.sip_call_id for m in record.messages if m.sip_call_id},
        messages=list(record.messages), legs=legs, heard=dict(record.audio_verdict), stored=True,
    )


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


@dataclass
class Applied:
    """What one agent report changed: the call it touched, the SIP messages it captured and
    the firewall drops it revealed (the lab announces each)."""

    call: LabCall | None = None
    messages: list[SipMessageRecord] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)


class CallBook:
    """All calls of a lab session, built from agent reports as they come."""

    def __init__(self, pbx_addresses: tuple[str, ...] = ()) -> None:
        self.calls: dict[str, LabCall] = {}
        self._by_sip_call_id: dict[str, LabCall] = {}
        self._external_ids = itertools.count(1)
        self._external: collections.deque[str] = collections.deque()  # refs of outside calls, oldest first
        self.pbx_addresses = set(pbx_addresses)  # ip:port of the PBX, behind its firewall
        self.firewall: tuple[FirewallRule, ...] = ()
        self.rule_hits: dict[RuleKey, int] = {}  # datagrams each rule let through (SIP and RTP)
        self.recent_drops: list[Drop] = []  # newest last
        self._rtp_dropped: dict[tuple[str, str], int] = {}  # (agent, Call-ID) -> packets sent while dropped
        self._requests: dict[tuple[str, str, int | None, str | None], str] = {}  # received request -> its dst
        # Your own PBX instead of the lab's: no lab agent listens at that end, so audio both ways
        # is judged by RTP energy (sip/audio.py), with the gateway's legs' figures.
        self.outside_pbx = False
        self.pstn_ip = ""

    # ------------------------------------------------------------------ identity

    def open(self, ref: str, **details: object) -> LabCall:
        call = LabCall(ref=ref, **details)
        self.calls[ref] = call
        return call

    def add_history(self, records: list[CallRecord]) -> None:
        """Calls of earlier sessions (the store's CDRs): shown, never correlated or re-saved."""
        for record in records:
            call = call_from_record(record)
            self.calls.setdefault(call.ref, call)

    def set_firewall(self, rules: tuple[FirewallRule, ...]) -> None:
        """The PBX's current rules; a rule that is gone takes its count with it."""
        self.firewall = rules
        current = {rule_key(r) for r in rules}
        self.rule_hits = {k: n for k, n in self.rule_hits.items() if k in current}

    def hits(self, rule: FirewallRule) -> int:
        return self.rule_hits.get(rule_key(rule), 0)

    def clear_firewall_history(self) -> None:
        """Start the firewall's figures over (a new exercise: its drops are not the last one's)."""
        self.rule_hits.clear()
        self.recent_drops.clear()

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

    @staticmethod
    def _saw(call: LabCall | None, agent_address: str, sip_call_id: str) -> None:
        if call is not None and agent_address and sip_call_id:
            call.seen_by.setdefault(agent_address, set()).add(sip_call_id)

    def _merge(self, old: LabCall, into: LabCall) -> None:
        into.messages = sorted(old.messages + into.messages, key=lambda m: m.t)
        for agent_address, ids in old.seen_by.items():
            into.seen_by.setdefault(agent_address, set()).update(ids)
        into.decisions = old.decisions + into.decisions
        into.legs.update(old.legs)
        into.notes += old.notes
        into.dtmf = sorted(old.dtmf + into.dtmf, key=lambda d: d.t)
        into.holds = sorted(old.holds + into.holds)
        into.caller_ids = {**old.caller_ids, **into.caller_ids}
        into.energy = {**old.energy, **into.energy}
        into.audio_evidence = {**old.audio_evidence, **into.audio_evidence}
        for party, heard in old.heard.items():
            into.heard[party] = into.heard.get(party, False) or heard
        for field_name in ("direction", "gateway", "auth_method", "endpoint_sid"):
            if not getattr(into, field_name):
                setattr(into, field_name, getattr(old, field_name))
        for sip_call_id in old.sip_call_ids:
            into.sip_call_ids.add(sip_call_id)
            self._by_sip_call_id[sip_call_id] = into
        self.calls.pop(old.ref, None)

    # ------------------------------------------------------------------ reports

    def apply(self, agent: str, agent_address: str, report: AgentReport) -> Applied:
        """Fold one agent report into the calls. agent is the role ('gateway', 'pstn', 'pbx'),
        agent_address the agent's own SIP ip:port."""
        if isinstance(report, SipSeen):
            return self._on_sip(agent, agent_address, report)
        if isinstance(report, CallState):
            call = self._on_call(report)
            self._saw(call, agent_address, report.sip_call_id)
            return Applied(call)
        if isinstance(report, GatewayDecision):
            call = self._call_for(report.sip_call_id, report.t)
            self._saw(call, agent_address, report.sip_call_id)
            call.decisions.append(report)
            call.direction = call.direction or report.direction
            call.gateway = call.gateway or agent_address
            if report.auth and report.auth != "challenge":
                call.auth_method = report.auth
            call.endpoint_sid = report.endpoint_sid or call.endpoint_sid
            if report.dialled and not call.to_number:
                call.to_number = report.dialled
            return Applied(call)
        if isinstance(report, BridgeOpened):
            call = self._call_for(report.a, report.t)
            self._link(call, report.b)
            self._saw(call, agent_address, report.a)
            self._saw(call, agent_address, report.b)
            return Applied(call)
        if isinstance(report, BLegTimedOut):
            call = self._call_for(report.a, report.t)
            call.notes.append(f"{agent}: no answer from the trunk in {report.after_s:g} s; leg cancelled")
            return Applied(call)
        if isinstance(report, MediaFigures):
            applied = self._on_media(agent, report)
            self._saw(applied.call, agent_address, report.sip_call_id)
            return applied
        if isinstance(report, DtmfDigits) and report.sip_call_id:
            return Applied(self._on_dtmf(agent, report))
        if isinstance(report, HoldChanged) and report.sip_call_id:
            call = self._call_for(report.sip_call_id, report.t)
            call.holds.append((report.t, agent, report.status))
            return Applied(call)
        if isinstance(report, CallerSeen) and report.sip_call_id:
            call = self._call_for(report.sip_call_id, report.t)
            call.caller_ids[agent] = (report.caller, report.asserted)
            self._saw(call, agent_address, report.sip_call_id)
            return Applied(call)
        return Applied()

    def cut_short(self, agent_address: str, who: str, how: str, t: float) -> list[LabCall]:
        """The agent at agent_address died: every unfinished call it took part in (or was asked
        to place) fails, its final reason saying what stopped and when. Returns those calls."""
        cut = []
        for call in self.calls.values():
            if call.finished or not (agent_address in call.seen_by or agent_address == call.caller_agent):
                continue
            call.final_code = 503
            call.final_reason = stopped_reason(who, call.answered_at is not None, how)
            call.state, call.ended_at, call.cut_by = "failed", t, agent_address
            cut.append(call)
        return cut

    def _on_dtmf(self, agent: str, report: DtmfDigits) -> LabCall:
        """Digits, kept with the leg's own SIP addresses so the ladder can draw them between the
        parties' columns (RTP has no columns of its own)."""
        call = self._call_for(report.sip_call_id, report.t)
        leg = next((m for m in call.messages if m.agent == agent and m.sip_call_id == report.sip_call_id
                    and m.event in ("tx", "rx")), None)
        src, dst = ("", "") if leg is None else (leg.src, leg.dst) if leg.event == "tx" else (leg.dst, leg.src)
        if report.direction == "rx":
            src, dst = dst, src
        call.dtmf.append(SipMessageRecord(report.t, agent, report.direction, src, dst, report.sip_call_id,
                                          f"DTMF {report.digits}", report.digits, note="RFC 4733 telephone-event"))
        return call

    def _on_sip(self, agent: str, agent_address: str, seen: SipSeen) -> Applied:
        try:
            message = parse_message(seen.text)
        except SipParseError:
            return Applied()
        sip_call_id = message.call_id or ""
        local = seen.local or local_address(seen.text, seen.direction, "")  # the edge says where
        call = self._call_for(sip_call_id, seen.t)
        cseq = (agent, sip_call_id, message.cseq_number, message.cseq_method)
        if not local:  # a response without Contact leaves where its request arrived
            local = self._requests.get(cseq, agent_address)
        src, dst = (local, seen.remote) if seen.direction == "tx" else (seen.remote, local)
        captured = SipMessageRecord(seen.t, agent, seen.direction, src, dst, sip_call_id, message.first_line,
                                    seen.text)
        if seen.direction == "rx" and message.is_request:
            self._requests[cseq] = dst
        call.messages.append(captured)
        self._saw(call, agent_address, sip_call_id)
        applied = Applied(call, [captured])
        if seen.direction == "tx" and dst in self.pbx_addresses and agent != "pbx":
            drop = self._firewall_check(call, captured)
            if drop is not None:
                applied.messages.append(drop)
                applied.drops.append(drop)
        elif seen.direction == "rx" and agent == "pbx":
            self._count_hit(src.rpartition(":")[0], "sip", 1)
        return applied

    def _count_hit(self, source_ip: str, protocol: str, datagrams: int) -> None:
        rule = firewall_rule_for(self.firewall, source_ip or "0.0.0.0", protocol)
        if rule is not None and datagrams > 0:
            self.rule_hits[rule_key(rule)] = self.rule_hits.get(rule_key(rule), 0) + datagrams

    def _remember_drop(self, drop: Drop) -> None:
        self.recent_drops = (self.recent_drops + [drop])[-50:]

    def _firewall_check(self, call: LabCall, sent: SipMessageRecord) -> SipMessageRecord | None:
        """A datagram to the PBX from a source no rule allows never arrives: show it dropped.
        (The kernel filter really drops it; it keeps no count, so the ladder infers the drop
        from the same rules the filter was built from.)"""
        source_ip = sent.src.rpartition(":")[0]
        if firewall_rule_for(self.firewall, source_ip, "sip") is not None:
            return None
        drop = SipMessageRecord(sent.t + 1e-6, "firewall", "drop", sent.src, sent.dst, sent.sip_call_id,
                                sent.first_line, sent.text)
        call.messages.append(drop)
        self._remember_drop(drop)
        return drop

    def _on_call(self, report: CallState) -> LabCall | None:
        sip_call_id = report.sip_call_id
        if report.ref is not None and report.ref in self.calls:
            call = self.calls[report.ref]
            self._link(call, sip_call_id)
            call.a_leg = call.a_leg or sip_call_id
        elif sip_call_id:
            call = self._call_for(sip_call_id, report.t)
        else:
            return None
        # The caller's view decides the state: our own agent for a lab call; for a call from a
        # peer outside the lab, the gateway's side of that peer's leg.
        if report.ref is not None or (call.external and sip_call_id == call.a_leg):
            self._caller_state(call, report)
        return call

    @staticmethod
    def _caller_state(call: LabCall, report: CallState) -> None:
        if call.finished:  # its outcome is settled (a call cut short stays failed as the legs end)
            return
        if report.state == "early":
            call.state = "ringing"
        elif report.state == "confirmed":
            call.state = "answered"
            call.answered_at = call.answered_at or report.t
            call.setup_ms = report.setup_ms
            call.final_code, call.final_reason = 200, "OK"
        elif report.state == "disconnected":
            call.ended_at = report.t
            if call.answered_at is not None:
                call.state = "ended"
            else:
                call.state = "failed"
                call.final_code, call.final_reason = report.code or 0, report.reason

    def _on_media(self, agent: str, figures: MediaFigures) -> Applied:
        if not figures.sip_call_id:
            return Applied()
        call = self._call_for(figures.sip_call_id, figures.t)
        key = (agent, figures.sip_call_id)
        previous = call.legs.get(key)
        call.legs[key] = figures
        applied = Applied(call)
        if agent == "pbx":  # RTP the PBX received came through the firewall: count it on its rule
            received = figures.rx.pkt - (previous.rx.pkt if previous else 0)
            self._count_hit(figures.remote_rtp.rpartition(":")[0], "rtp", received)
        elif self._to_pbx(figures.remote_rtp):
            drop = self._rtp_check(agent, figures, previous)
            if drop is not None:
                applied.drops.append(drop)
        call.energy[key] = observe(call.energy.get(key), figures)
        if self.outside_pbx:  # your own PBX: no lab agent listens at its end; judged by RTP energy
            for party, direction in judge(call.legs, call.energy, self.pstn_ip).items():
                call.heard[party] = call.heard.get(party, False) or direction.heard
                if not call.heard[party] or direction.heard:
                    call.audio_evidence[party] = direction.evidence
            return applied
        if figures.tone is not None and agent in ("pstn", "pbx"):
            call.heard[agent] = call.heard.get(agent, False) or figures.tone.present
        return applied

    def _to_pbx(self, address: str) -> bool:
        ip = address.rpartition(":")[0]
        return bool(ip) and any(a.rpartition(":")[0] == ip for a in self.pbx_addresses)

    def _rtp_check(self, agent: str, figures: MediaFigures, previous: MediaFigures | None) -> RtpDrop | None:
        """RTP a lab agent sends the PBX from a source no 'rtp' rule allows is dropped: one
        entry per stream in the recent drops, its count growing with each report."""
        source_ip = figures.local_rtp.rpartition(":")[0]
        if not source_ip or firewall_rule_for(self.firewall, source_ip, "rtp") is not None:
            return None
        sent = figures.tx.pkt - (previous.tx.pkt if previous else 0)
        if sent <= 0:
            return None
        key = (agent, figures.sip_call_id)
        self._rtp_dropped[key] = self._rtp_dropped.get(key, 0) + sent
        drop = RtpDrop(figures.t, figures.local_rtp, figures.remote_rtp, figures.sip_call_id, self._rtp_dropped[key])
        self.recent_drops = [d for d in self.recent_drops
                             if not (isinstance(d, RtpDrop) and d.sip_call_id == drop.sip_call_id and d.src == drop.src)]
        self._remember_drop(drop)
        return drop


def apply_wire(book: CallBook, agent: str, agent_address: str, event: dict) -> Applied:
    """book.apply for one agent event as it came off the wire (replays of recorded sessions)."""
    report = parse_report(event)
    return book.apply(agent, agent_address, report) if report is not None else Applied()
