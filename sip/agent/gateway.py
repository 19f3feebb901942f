"""The carrier's System Gateway at one address: a carrier edge in front of a pjsua2
back-to-back user agent.

The edge (sip/edge/, run by sip/agent/edge.py on a thread of this process) owns the public
address and decides every new INVITE. pjsua listens on an internal port, hears only the edge
(a socket filter) and sends every request through it (the edge is its outbound proxy). An
INVITE reaching pjsua has been accepted: its A leg carries the decision (targets, caller ID)
in an internal header. pjsua places a B leg from the gateway's address and bridges the audio
of the two legs once the B leg has media:

  inbound:  PSTN -> gateway -> the trunk group's endpoint address (failover in order)
  outbound: PBX  -> gateway (authenticated) -> PSTN

A B leg not answered within `b_leg_timeout_s` is cancelled (a target that sends nothing at all
is ended by the edge, which answers pjsua 408 on its behalf) and the next target tried; when
none is left the A leg gets the last failure, 408 by default. A B leg that rings (180/183) may
take up to RING_TIMEOUT_S to answer: a PBX of yours may wait for a person to pick up.

pjsua2 rule learned here: an incoming call must never be answered from inside onIncomingCall.
For an INVITE without SDP (a delayed offer) pjsua frees the call's cloned request when the
answer ends the call, then pjsua2's Endpoint::on_incoming_call frees it again: an assertion
(`pjsip_rx_data_free_cloned: rdata`) aborts the process. Every answer is sent on the next loop
turn instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pjsua2 as pj

from store.records import Account, account_from_wire

from .. import firewall
from ..edge.proxy import A_LEG_HEADER, DECISION_HEADER, RING_TIMEOUT_S, WHY_HEADER, Edge, decode_decision
from .base import Agent, LegCall, add_headers
from .edge import EdgeThread, internal_port, new_nonce
from .runtime import Runtime
from .tally import SharedTally


@dataclass
class Bridge:
    a: LegCall | None  # None once the A leg is gone
    a_call_id: str
    targets: list[tuple[str, int]]  # (ip, port) still to try, in order
    dialled: str
    caller: str
    asserted: str
    delayed_offer: bool  # the A leg's INVITE had no SDP: no early media towards it
    b: LegCall | None = None
    tried: list[dict] = field(default_factory=list)
    bridged: bool = False
    b_ended: bool = True  # no B leg alive (none placed yet, or the last one ended)


class _GatewayLine(pj.Account):
    def __init__(self, gateway: GatewayAgent) -> None:
        super().__init__()
        self.gateway = gateway

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802 - pjsua2's name
        self.gateway.runtime.guard(lambda: self.gateway.on_incoming(prm))


class GatewayAgent(Agent):
    role = "gateway"

    def __init__(self, runtime: Runtime, config: dict) -> None:
        super().__init__(runtime)
        self.ip = config["ip"]
        self.port = int(config["port"])
        self.b_leg_timeout_s = float(config.get("b_leg_timeout_s", 4.0))
        self.account: Account | None = None
        self.bridges: list[Bridge] = []
        b2bua = (self.ip, internal_port(self.port))
        edge = Edge((self.ip, self.port), b2bua, secret=os.urandom(16), new_nonce=new_nonce,
                    b_leg_timeout_s=self.b_leg_timeout_s)
        self.tally = SharedTally(Path(config["tally"]) if config.get("tally") else None, f"{self.ip}:{self.port}")
        self.edge = EdgeThread(edge, runtime.emit, lambda: self.account, self.tally.open())  # binds the public address
        self.line = _GatewayLine(self)
        runtime.add_account(self.line, self.ip, b2bua[1], user="gateway", proxy=f"sip:{self.ip}:{self.port};lr")
        self._guard_internal_port(b2bua[1])
        self.edge.start()

    def _guard_internal_port(self, port: int) -> None:
        """pjsua's own socket hears the edge and nobody else."""
        for sock, local_port in firewall.sockets_bound_to(self.ip):
            with sock:
                if local_port == port:
                    firewall.attach_filter(sock, firewall.only_from(self.ip, self.port))

    def cmd_configure(self, command: dict) -> None:
        self.account = account_from_wire(command["account"])
        self.emit("configured", dids=len(self.account.dids))

    def release_all(self) -> None:
        self.edge.stop()
        self.tally.close()
        super().release_all()

    # ------------------------------------------------------------------ the A leg arrives

    def on_incoming(self, prm: pj.OnIncomingCallParam) -> None:
        a = self.track(LegCall(self, self.line, prm.callId))
        a.sip_call_id = a.getInfo().callIdString
        a.state = "incoming"  # pjsua reports no INCOMING state change for a delayed offer
        self.edge.call_started(a.sip_call_id)
        decision = _decision_in(prm.rdata.wholeMsg)
        if decision is None:  # only the edge reaches pjsua, and it always decides: a bug if seen
            self.later_for(a, 0.0, lambda call: self._refuse(call, 500, "the edge's decision is missing"))
            return
        bridge = Bridge(a, a.sip_call_id, [tuple(t) for t in decision["targets"]], decision["dialled"],
                        decision["caller"], decision["asserted"], delayed_offer=_has_no_body(prm.rdata.wholeMsg))
        self.bridges.append(bridge)
        self.runtime.post(lambda: self._next_target(bridge))

    def _refuse(self, a: LegCall, status: int, why: str) -> None:
        a.respond(status, headers=[(WHY_HEADER, why)])

    # ------------------------------------------------------------------ the B leg

    def _next_target(self, bridge: Bridge) -> None:
        if bridge.a is None or bridge.a.ended:
            self._forget(bridge)
            return
        if not bridge.targets:
            last = bridge.tried[-1] if bridge.tried else {}
            code = last.get("code") or 408
            self._refuse(bridge.a, code if code >= 400 else 408, last.get("why") or "no target answered")
            self._forget(bridge)
            return
        ip, port = bridge.targets.pop(0)
        b = self.track(LegCall(self, self.line))
        b.bridge = bridge  # type: ignore[attr-defined]
        bridge.b, bridge.b_ended = b, False
        prm = pj.CallOpParam(True)
        prm.txOption.localUri = f"sip:{bridge.caller}@{self.ip}:{self.port}"
        add_headers(prm, [(A_LEG_HEADER, bridge.a_call_id),
                          ("P-Asserted-Identity", f"<sip:{bridge.asserted}@{self.ip}:{self.port}>")])
        try:
            b.makeCall(f"sip:{bridge.dialled}@{ip}:{port}", prm)
        except pj.Error:
            b.ended, bridge.b_ended = True, True
            self.forget(b)
            bridge.tried.append({"target": f"{ip}:{port}", "code": 503,
                                 "why": "the gateway has no free line to place the call on"})
            self.runtime.post(lambda: self._next_target(bridge))
            return
        b.sip_call_id = b.getInfo().callIdString
        self.emit("bridge", a=bridge.a_call_id, b=b.sip_call_id, target=f"{ip}:{port}")
        self.later_for(b, self.b_leg_timeout_s, lambda leg: self._b_timeout(bridge, leg, f"{ip}:{port}"))

    def _b_timeout(self, bridge: Bridge, b: LegCall, target: str) -> None:
        if b.confirmed_at is not None or bridge.b is not b or bridge.a is None:
            return
        rang_for = time.monotonic() - b.started
        if b.state == "early" and rang_for < RING_TIMEOUT_S:  # it rings: somebody may still pick up
            self.later_for(b, RING_TIMEOUT_S - rang_for, lambda leg: self._b_timeout(bridge, leg, target))
            return
        bridge.tried.append({"target": target, "code": 408, "why": f"no answer from {target} in {self.b_leg_timeout_s:g} s"})
        self.emit("b_timeout", a=bridge.a_call_id, b=b.sip_call_id, after_s=self.b_leg_timeout_s)
        b.timed_out = True  # type: ignore[attr-defined]
        self.hang_up(b)  # CANCEL; the DISCONNECTED callback moves on to the next target

    def on_call_state(self, call: LegCall) -> None:
        self.call_event(call)
        bridge = self._bridge_of(call)
        if bridge is None:
            if call.ended:
                self.edge.call_ended(call.sip_call_id)  # an A leg refused before any B leg
            return
        if call is bridge.a:
            if call.ended and bridge.b is not None and not bridge.b_ended:
                self.hang_up(bridge.b)  # the caller hung up or cancelled
            if call.ended:
                self._forget(bridge)
            return
        # a B leg
        if call.ended:
            bridge.b_ended = True
        if bridge.a is None:
            if call.ended:
                self.edge.call_ended(bridge.a_call_id)
            return
        a_state = bridge.a.state
        if call.state == "early" and a_state == "incoming":
            early_media = call.audio_media is not None and not bridge.delayed_offer
            self._answer_later(bridge.a, 183 if early_media else 180)
        elif call.state == "confirmed" and a_state in ("incoming", "early"):
            self._answer_later(bridge.a, 200)
        elif call.ended:
            if bridge.bridged or a_state in ("confirmed", "connecting"):
                self.hang_up(bridge.a)  # the far end hung up: end the call
                self._forget(bridge)
            else:  # this target failed: try the next one (a timeout was recorded already)
                if not getattr(call, "timed_out", False):
                    bridge.tried.append({"target": "", "code": call.code, "why": f"the trunk answered {call.code}"})
                self.runtime.post(lambda: self._next_target(bridge))

    def _answer_later(self, a: LegCall, code: int) -> None:
        """Answer on the next loop turn, never inside a pjsua callback (see the module docstring)."""
        self.later_for(a, 0.0, lambda call: call.respond(code) if call.state in ("incoming", "early") else None)

    def on_media_active(self, call: LegCall) -> None:
        bridge = self._bridge_of(call)
        if bridge is None or bridge.bridged or bridge.a is None or bridge.b is None:
            return
        if call is bridge.b and call.state == "early" and bridge.a.state == "incoming" and not bridge.delayed_offer:
            self._answer_later(bridge.a, 183)  # the callee sent early media: relay it with our SDP
        a_audio, b_audio = bridge.a.audio_media, bridge.b.audio_media
        if a_audio is not None and b_audio is not None:
            a_audio.startTransmit(b_audio)
            b_audio.startTransmit(a_audio)
            bridge.bridged = True
            self.emit("bridged", a=bridge.a_call_id, b=bridge.b.sip_call_id)

    # ------------------------------------------------------------------ what one leg does, the other hears

    def _other_leg(self, call: LegCall) -> LegCall | None:
        bridge = self._bridge_of(call)
        if bridge is None or not bridge.bridged:
            return None
        other = bridge.b if call is bridge.a else bridge.a
        return other if other is not None and not other.ended else None

    def on_dtmf(self, call: LegCall, digit: str) -> None:
        """An RFC 4733 digit on one leg is sent on the other (a B2BUA terminates RTP, so it
        regenerates the event rather than forwarding packets)."""
        super().on_dtmf(call, digit)
        other = self._other_leg(call)
        if other is not None:
            self.send_dtmf(other, digit)

    def on_media_status(self, call: LegCall, status: str, previous: str) -> None:
        """A re-INVITE that puts one leg on hold, or takes it off, goes on to the other leg."""
        super().on_media_status(call, status, previous)
        other = self._other_leg(call)
        if other is None:
            return
        if status == "remote_hold" and other.media_status == "active":
            self.hold(other)
        elif status == "active" and previous == "remote_hold" and other.media_status == "local_hold":
            self.resume(other)

    def _bridge_of(self, call: LegCall) -> Bridge | None:
        return next((br for br in self.bridges if br.a is call or br.b is call), None)

    def _forget(self, bridge: Bridge) -> None:
        """The A leg is done with this bridge; the edge hears the call ended once no B leg is left."""
        if bridge in self.bridges and bridge.b_ended:
            self.bridges.remove(bridge)
            self.edge.call_ended(bridge.a_call_id)
        bridge.a = None  # a pending timer may still hold the bridge: not the legs

    def forget(self, call: LegCall) -> None:
        super().forget(call)
        for bridge in list(self.bridges):  # no Bridge may keep a finished leg alive
            if bridge.a is call:
                bridge.a = None
            if bridge.b is call:
                bridge.b = None
                bridge.b_ended = True
                if bridge.a is None:
                    self.bridges.remove(bridge)
                    self.edge.call_ended(bridge.a_call_id)


def _header_value(message: str, name: str) -> str | None:
    head = message.split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n")[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return None


def _decision_in(message: str) -> dict | None:
    value = _header_value(message, DECISION_HEADER)
    if value is None:
        return None
    try:
        return decode_decision(value)
    except ValueError:
        return None


def _has_no_body(message: str) -> bool:
    return not message.split("\r\n\r\n", 1)[-1].strip() if "\r\n\r\n" in message else True
