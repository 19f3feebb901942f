"""The carrier's System Gateway at one address: a back-to-back user agent.

Every INVITE that reaches it is an A leg. The gateway decides (sip/auth.py, sip/routing.py,
pure code), then either answers with a final error, challenges, or places a B leg from its own
address and bridges the audio of the two legs once the B leg answers:

  inbound:  PSTN -> gateway -> the trunk group's endpoint address (failover in order)
  outbound: PBX  -> gateway (authenticated) -> PSTN

A B leg that gets no answer within `b_leg_timeout_s` is cancelled and the next target tried;
when none is left the A leg gets 408. A bridged call uses two of the process's four call slots,
so one gateway address carries two calls at once; beyond that it answers 503.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pjsua2 as pj

from store.records import Account, account_from_wire

from ..auth import Accepted, Challenged, InviteFacts, authenticate
from ..ratelimit import CallRateLimiter
from ..routing import InboundRoute, NoRoute, Target, route_inbound, route_outbound
from ..sipmsg import SipParseError, parse_message, uri_user
from .base import Agent, LegCall
from .runtime import Runtime


@dataclass
class Bridge:
    a: LegCall | None  # None once the A leg is gone
    targets: list[tuple[str, int]]  # (ip, port) still to try, in order
    dialled: str
    caller: str
    b: LegCall | None = None
    tried: list[dict] = field(default_factory=list)
    bridged: bool = False


# New calls admitted per gateway address: 11 per 0.5 s (22 calls/s). Each admitted call opens 4
# sockets (RTP+RTCP on both legs) and pjsua's I/O queue holds 64, each kept 0.5 s after closing:
# 11 x 4 + refused legs + live ones stays below 64 (see sip/ratelimit.py and docs/PERFORMANCE.md).
MAX_CALLS_PER_WINDOW, CPS_WINDOW_S = 11, 0.5
TARPIT_S = 0.5  # a refused excess call holds its slot this long, so pjsua itself answers the
# next ones 486 without opening media sockets for them (the flood cannot churn the I/O queue)


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
        self.secret = bytes.fromhex(config["nonce_secret"])
        self.b_leg_timeout_s = float(config.get("b_leg_timeout_s", 4.0))
        self.account: Account | None = None
        self.limiter = CallRateLimiter(int(config.get("max_calls_per_window", MAX_CALLS_PER_WINDOW)), window_s=CPS_WINDOW_S)
        self.bridges: list[Bridge] = []
        self.line = _GatewayLine(self)
        runtime.add_account(self.line, self.ip, self.port, user="gateway")

    def cmd_configure(self, command: dict) -> None:
        self.account = account_from_wire(command["account"])
        self.emit("configured", dids=len(self.account.dids))

    # ------------------------------------------------------------------ the A leg arrives

    def on_incoming(self, prm: pj.OnIncomingCallParam) -> None:
        a = self.track(LegCall(self, self.line, prm.callId))
        a.sip_call_id = a.getInfo().callIdString
        source_ip, _, source_port = prm.rdata.srcAddress.rpartition(":")
        decision = self._decide(prm.rdata.wholeMsg, source_ip, int(source_port or 0))
        self.emit("decision", sip_call_id=a.sip_call_id, src=prm.rdata.srcAddress, **decision)
        status = decision.get("status")
        if status is not None and decision.get("tarpit"):
            self.later_for(a, TARPIT_S, lambda call: self._refuse(call, status, decision["reason"], None))
            return
        if status is not None:
            self._refuse(a, status, decision["reason"], decision.get("header"))
            return
        bridge = Bridge(a, decision["targets"], decision["dialled"], decision["caller"])
        self.bridges.append(bridge)
        self.runtime.post(lambda: self._next_target(bridge))

    def _decide(self, text: str, source_ip: str, source_port: int) -> dict:
        """The whole decision as plain data (also what the 'decision' event reports)."""
        if self.account is None:
            return {"status": 503, "reason": "Service Unavailable", "cause": "the gateway has no account yet"}
        try:
            message = parse_message(text)
        except SipParseError as error:
            return {"status": 400, "reason": "Bad Request", "cause": str(error)}
        dialled = uri_user(message.request_uri or "")
        caller = uri_user(message.header("From") or "") or "anonymous"
        # This A leg holds a slot already; its B leg needs one more, and so does every accepted
        # call whose B leg is not placed yet. A refused leg is held (tarpit) only in a slot
        # that no accepted call needs.
        spare = self.free_slots() - sum(1 for br in self.bridges if br.b is None)
        if spare < 1:
            return {"status": 503, "reason": "Service Unavailable", "tarpit": spare >= 0,
                    "cause": f"gateway {self.ip} is at capacity (2 bridged calls per address)"}
        if message.cseq_number == 1 and not self.limiter.admit(time.monotonic()):
            return {"status": 503, "reason": "Service Unavailable", "tarpit": True,
                    "cause": f"more than {self.limiter.max_calls} new calls per {CPS_WINDOW_S:g} s at {self.ip} (CPS limit)"}
        pstn = self.account.party("pstn")
        if pstn is not None and (source_ip, source_port) == (pstn.ip, pstn.port):
            return self._inbound(dialled, caller)
        return self._outbound(message, source_ip, source_port, dialled, caller)

    def _inbound(self, dialled: str | None, caller: str) -> dict:
        route = route_inbound(self.account, dialled)
        if isinstance(route, NoRoute):
            return {"direction": "inbound", "status": route.status, "reason": route.reason, "cause": route.cause}
        assert isinstance(route, InboundRoute)
        return {
            "direction": "inbound", "cause": route.cause, "dialled": route.did.phonenumber, "caller": caller,
            "trunk_group_sid": route.trunk_group.trunk_group_sid,
            "endpoint_sid": route.targets[0].endpoint_sid,
            "targets": [(t.ip, t.port) for t in route.targets],
        }

    def _outbound(self, message, source_ip: str, source_port: int, dialled: str | None, caller: str) -> dict:
        facts = InviteFacts.from_message(message, source_ip, source_port)
        verdict = authenticate(self.account, facts, secret=self.secret, now=time.time())
        base = {"direction": "outbound", "cause": verdict.cause}
        if isinstance(verdict, Challenged):
            return {**base, "status": verdict.status, "reason": verdict.reason, "auth": "challenge",
                    "header": ("Proxy-Authenticate", verdict.header_value)}
        if not isinstance(verdict, Accepted):
            return {**base, "status": verdict.status, "reason": verdict.reason, "auth": verdict.method}
        route = route_outbound(self.account, verdict.endpoint_sid, dialled)
        base.update(auth=verdict.method, endpoint_sid=verdict.endpoint_sid)
        if isinstance(route, NoRoute):
            return {**base, "status": route.status, "reason": route.reason, "cause": f"{verdict.cause}; {route.cause}"}
        return {**base, "cause": f"{verdict.cause}; {route.cause}", "dialled": route.phonenumber, "caller": caller,
                "trunk_group_sid": route.trunk_group.trunk_group_sid,
                "targets": [(route.pstn_ip, route.pstn_port)]}

    def _refuse(self, a: LegCall, status: int, reason: str, header: tuple[str, str] | None) -> None:
        a.respond(status, reason, [header] if header is not None else ())

    # ------------------------------------------------------------------ the B leg

    def _next_target(self, bridge: Bridge) -> None:
        if bridge.a is None or bridge.a.ended:
            self._forget(bridge)
            return
        if not bridge.targets:
            last = bridge.tried[-1] if bridge.tried else {}
            code = last.get("code") or 408
            reason = last.get("reason") or "Request Timeout"
            self._refuse(bridge.a, code if code >= 400 else 408, reason, None)
            self._forget(bridge)
            return
        ip, port = bridge.targets.pop(0)
        b = self.track(LegCall(self, self.line))
        b.bridge = bridge  # type: ignore[attr-defined]
        bridge.b = b
        prm = pj.CallOpParam(True)
        prm.txOption.localUri = f"sip:{bridge.caller}@{self.ip}:{self.port}"
        try:
            b.makeCall(f"sip:{bridge.dialled}@{ip}:{port}", prm)
        except pj.Error as error:
            b.ended = True
            self.forget(b)
            bridge.tried.append({"target": f"{ip}:{port}", "code": 503, "reason": error.info()})
            self.runtime.post(lambda: self._next_target(bridge))
            return
        b.sip_call_id = b.getInfo().callIdString
        self.emit("bridge", a=bridge.a.sip_call_id, b=b.sip_call_id, target=f"{ip}:{port}")
        self.later_for(b, self.b_leg_timeout_s, lambda leg: self._b_timeout(bridge, leg))

    def _b_timeout(self, bridge: Bridge, b: LegCall) -> None:
        if b.confirmed_at is not None or bridge.b is not b or bridge.a is None:
            return
        bridge.tried.append({"target": b.getInfo().remoteUri, "code": 408, "reason": "Request Timeout"})
        self.emit("b_timeout", a=bridge.a.sip_call_id, b=b.sip_call_id, after_s=self.b_leg_timeout_s)
        b.timed_out = True  # type: ignore[attr-defined]
        self.hang_up(b)  # CANCEL; the DISCONNECTED callback moves on to the next target

    def on_call_state(self, call: LegCall) -> None:
        self.call_event(call)
        bridge = self._bridge_of(call)
        if bridge is None:
            return
        if call is bridge.a:
            if call.ended and bridge.b is not None:
                self.hang_up(bridge.b)  # the caller hung up or cancelled
            if call.ended:
                self._forget(bridge)
            return
        if bridge.a is None:
            return
        # a B leg
        if call.state == "early" and bridge.a.state == "incoming":
            bridge.a.respond(180)
        elif call.state == "confirmed" and bridge.a.state in ("incoming", "early"):
            bridge.a.respond(200)
        elif call.ended:
            if bridge.bridged or bridge.a.state in ("confirmed", "connecting"):
                self.hang_up(bridge.a)  # the far end hung up: end the call
                self._forget(bridge)
            else:  # this target failed: try the next one (a timeout was recorded already)
                if not getattr(call, "timed_out", False):
                    bridge.tried.append({"target": "", "code": call.code, "reason": call.reason})
                self.runtime.post(lambda: self._next_target(bridge))

    def on_media_active(self, call: LegCall) -> None:
        bridge = self._bridge_of(call)
        if bridge is None or bridge.bridged or bridge.a is None or bridge.b is None:
            return
        a_audio, b_audio = bridge.a.audio_media, bridge.b.audio_media
        if a_audio is not None and b_audio is not None:
            a_audio.startTransmit(b_audio)
            b_audio.startTransmit(a_audio)
            bridge.bridged = True
            self.emit("bridged", a=bridge.a.sip_call_id, b=bridge.b.sip_call_id)

    def _bridge_of(self, call: LegCall) -> Bridge | None:
        return next((br for br in self.bridges if br.a is call or br.b is call), None)

    def _forget(self, bridge: Bridge) -> None:
        if bridge in self.bridges:
            self.bridges.remove(bridge)
        bridge.a = bridge.b = None  # a pending timer may still hold the bridge: not the legs

    def forget(self, call: LegCall) -> None:
        super().forget(call)
        for bridge in self.bridges:  # no Bridge may keep a finished leg alive
            if bridge.a is call:
                bridge.a = None
            if bridge.b is call:
                bridge.b = None
