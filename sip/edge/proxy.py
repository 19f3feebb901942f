"""The carrier edge in front of one System Gateway address (sans-IO: datagrams and the clock
in, datagrams and events out; the agent's edge thread does the socket work).

A carrier does not let the internet talk to its media servers: an edge proxy (an SBC, or a
Kamailio) checks every message first. Here the edge owns the gateway's public address; the
pjsua2 B2BUA listens on an internal port of the same IP and accepts datagrams from the edge
only (a socket filter). Everything pjsua sees was parsed and written again by the edge.

Outside -> edge:
- what makes no sense is answered (400, 505, 513) or dropped (sip/edge/wire.py);
- what the gateway does not carry is answered here: OPTIONS, REGISTER, REFER and friends,
  unknown methods, requests for calls it does not carry;
- a new INVITE is decided here (sip/edge/decide.py): refused, challenged, or accepted and
  forwarded to pjsua with the decision in an internal header; its retransmissions get the same
  answer (the ACK of a refusal is absorbed, its CANCEL answered);
- requests in a call the gateway carries, and responses to pjsua's own requests, go on.

Edge -> outside, for pjsua's messages: Via, Contact and Route are rewritten so the peer sees
one address, G; Max-Forwards of a B leg is the A leg's minus one; reason phrases are the
standard ones (pjsua's may name library internals); responses go back to the address the
request came from (never to a Via host, which might be off loopback), and requests in a call
to the address the peer's signalling came from.

B legs that get no response are ended here: pjsua cannot CANCEL an INVITE that got no
provisional response, and would keep its call slot for 32 s (Timer B). After `b_leg_timeout_s`
without any response, or 2 s more without a final one, the edge answers pjsua 408 itself and
forgets the transaction (a late 2xx is ACKed and hung up by the edge). A callee that rings
(180 or 183: a PBX that answers when somebody picks up) has until `ring_timeout_s` after it
rang, as a carrier lets a phone ring.

Statelessness where it is cheap: the Via branch the edge puts on a forwarded request encodes,
under an HMAC, where its answer must go, so responses are routed without a table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from store.records import Account

from ..auth import Gateway
from ..nonces import NonceBook
from ..ratelimit import CallRateLimiter
from ..sdp import address_problem, check_offer
from ..sipmsg import SipMessage, canonical_name, uri_host_port
from . import wire
from .decide import Accept, Decision, Load, Refuse, decide

Addr = tuple[str, int]

ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
ALLOW = ", ".join(ALLOWED_METHODS)
KNOWN_NOT_CARRIED = frozenset({"REGISTER", "REFER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "INFO",
                               "UPDATE", "PRACK"})
INTERNAL_PREFIX = "x-trunklab-"  # headers between the edge and pjsua; stripped from anything outside sends
DECISION_HEADER = "X-Trunklab-Decision"  # edge -> pjsua on an accepted INVITE
A_LEG_HEADER = "X-Trunklab-A-Leg"  # pjsua -> edge on a B leg's INVITE: the Call-ID of its A leg
WHY_HEADER = "X-Trunklab-Why"  # pjsua -> edge on a refusal: the cause, for the Warning header
MAGIC = "z9hG4bK"
FINAL_GRACE_S = 2.0  # after a B leg's CANCEL: how long its final answer may take
RING_TIMEOUT_S = 60.0  # a B leg that rings (18x) may take this long to answer
LINGER_S = 32.0  # an ended call's stray retransmissions still reach pjsua this long (Timer B/F/H)
ADMIT_UNSEEN_S = 5.0  # an accepted INVITE pjsua never took up stops counting against capacity
DEFAULT_CAPACITY = 2  # bridged calls per address: two pjsua call slots each, four in all
MAX_NEW_INVITES, CPS_WINDOW_S = 11, 0.5


@dataclass(frozen=True)
class Send:
    data: bytes
    to: Addr


@dataclass(frozen=True)
class Wire:
    """A message crossing G, for the ladder: 'rx' from `remote`, 'tx' to `remote`."""

    direction: str
    remote: Addr
    text: str


@dataclass(frozen=True)
class Decided:
    call_id: str
    source: Addr
    decision: Decision


Output = Send | Wire | Decided


@dataclass
class EdgeCall:
    """A Call-ID the gateway carries: a caller's A leg it accepted, or a B leg pjsua placed."""

    call_id: str
    leg: str  # 'a' | 'b'
    peer: Addr  # where this leg's peer sends from / is sent to
    started: float
    max_forwards: int = 70
    a_call_id: str = ""
    seen_by_b2bua: bool = False
    ended_at: float | None = None
    endpoint_sid: str = ""  # the third-party endpoint the call counts against (its capacity)
    invite_key: tuple[str, int, str] = ("", 0, "")  # (Call-ID, CSeq, branch) of the INVITE that opened it


@dataclass
class ClientInvite:
    """An INVITE pjsua sent onward (a B leg, or a re-INVITE), watched for an answer."""

    call_id: str
    branch: str  # ours, as it left G: its ACK (after a non-2xx) carries it again
    sent: SipMessage  # as it left G
    b2bua_via: str
    peer: Addr
    no_response_by: float
    no_final_by: float
    provisional: bool = False
    final: int | None = None
    given_up: bool = False
    cancelled: bool = False


@dataclass
class Counters:
    received: int = 0
    dropped: int = 0
    malformed: int = 0
    refused: int = 0
    accepted: int = 0


@dataclass(frozen=True)
class Context:
    """What the edge reads from the agent around it on each datagram."""

    account: Account | None
    now: float
    calls_elsewhere: Mapping[str, int] = field(default_factory=dict)  # per endpoint, at the other gateways


class Edge:
    def __init__(self, public: Addr, b2bua: Addr, *, secret: bytes, new_nonce: Callable[[], str],
                 b_leg_timeout_s: float = 4.0, ring_timeout_s: float = RING_TIMEOUT_S,
                 capacity: int = DEFAULT_CAPACITY,
                 max_new_invites: int = MAX_NEW_INVITES, window_s: float = CPS_WINDOW_S) -> None:
        self.public = public
        self.b2bua = b2bua
        self._secret = secret
        self._new_nonce = new_nonce
        self.b_leg_timeout_s = b_leg_timeout_s
        self.ring_timeout_s = ring_timeout_s
        self.capacity = capacity
        self.limiter = CallRateLimiter(max_new_invites, window_s)
        self.rate_text = f"{max_new_invites} new INVITEs per {window_s:g} s"
        self.nonces = NonceBook()
        self.calls: dict[str, EdgeCall] = {}
        self.invites: dict[str, ClientInvite] = {}  # our branch -> a B leg INVITE in flight
        self._answered: OrderedDict[tuple[str, int, str], tuple[bytes, float]] = OrderedDict()  # refusals, for retransmissions
        self.counters = Counters()

    # ------------------------------------------------------------------ the agent's side

    def call_started(self, call_id: str) -> None:
        """pjsua took up an accepted INVITE (its onIncomingCall ran)."""
        call = self.calls.get(call_id)
        if call is not None:
            call.seen_by_b2bua = True

    def call_ended(self, call_id: str, now: float) -> None:
        """pjsua is done with a call (its A leg and any B leg): it stops counting against
        capacity; stray retransmissions still reach pjsua for a while."""
        for call in self.calls.values():
            if (call.call_id == call_id or call.a_call_id == call_id) and call.ended_at is None:
                call.ended_at = now

    def in_progress(self, now: float) -> int:
        return sum(1 for c in self._live_a_legs(now))

    def endpoint_calls(self, now: float) -> dict[str, int]:
        """Calls in progress here per endpoint_sid (the gateways add up theirs for `capacity`)."""
        counts: dict[str, int] = {}
        for call in self._live_a_legs(now):
            if call.endpoint_sid:
                counts[call.endpoint_sid] = counts.get(call.endpoint_sid, 0) + 1
        return counts

    def _live_a_legs(self, now: float):
        return (c for c in self.calls.values() if c.leg == "a" and c.ended_at is None
                and (c.seen_by_b2bua or now - c.started < ADMIT_UNSEEN_S))

    # ------------------------------------------------------------------ datagrams

    def receive(self, data: bytes, source: Addr, context: Context) -> list[Output]:
        self.counters.received += 1
        if source == self.b2bua:
            message = wire.read(data)
            if not isinstance(message, SipMessage):
                return []  # cannot happen with pjsua; never forward what we cannot read
            return self._from_b2bua(message, context.now)
        message = wire.read(data)
        if message is None:
            self.counters.dropped += 1
            return []
        if isinstance(message, wire.Malformed):
            self.counters.malformed += 1
            answer = wire.to_bytes(wire.response(message.headers, message.status, self._warning(message.cause),
                                                 tag_seed=self._tag_seed(message.headers)))
            return [Wire("rx", source, data.decode("utf-8", "replace")[:wire.MAX_MESSAGE_BYTES]),
                    Send(answer, source), Wire("tx", source, answer.decode("utf-8", "replace"))]
        message = wire.with_headers(message, _without_internal(message.headers))
        outputs: list[Output] = [Wire("rx", source, message_text(message))]
        if message.is_request:
            outputs += self._request_from_outside(message, source, context)
        else:
            outputs += self._response_from_outside(message, source, context.now)
        return outputs

    def tick(self, now: float) -> list[Output]:
        """Timers: B legs nobody answers, and forgetting what is old."""
        outputs: list[Output] = []
        for branch, invite in list(self.invites.items()):
            if invite.final is not None or invite.given_up:
                if now > invite.no_final_by + LINGER_S:
                    del self.invites[branch]
                continue
            if now >= invite.no_final_by or (not invite.provisional and now >= invite.no_response_by):
                invite.given_up = True
                outputs += self._give_up(invite)
        for call_id, call in list(self.calls.items()):
            if call.ended_at is not None and now - call.ended_at > LINGER_S:
                del self.calls[call_id]
            elif call.leg == "a" and not call.seen_by_b2bua and now - call.started > LINGER_S:
                del self.calls[call_id]
        while self._answered and now - next(iter(self._answered.values()))[1] > LINGER_S:
            self._answered.popitem(last=False)
        self.nonces.expire(now)
        return outputs

    def next_deadline(self) -> float | None:
        deadlines = [i.no_final_by if i.provisional else min(i.no_response_by, i.no_final_by)
                     for i in self.invites.values() if i.final is None and not i.given_up]
        return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------ requests from outside

    def _request_from_outside(self, request: SipMessage, source: Addr, context: Context) -> list[Output]:
        method = request.method or ""
        call = self.calls.get(request.call_id or "")
        in_dialog = wire.has_tag(request.header("To"))
        if method == "OPTIONS":
            return self._answer(request, source, 200, [("Allow", ALLOW), ("Accept", "application/sdp")])
        if method in KNOWN_NOT_CARRIED:
            why = ("this trunk does not take registrations: authenticate by IP, proxy digest or X-Auth headers"
                   if method == "REGISTER" else f"the gateway does not carry {method}")
            return self._answer(request, source, 405, [("Allow", ALLOW)], why)
        if method not in ALLOWED_METHODS:
            return self._answer(request, source, 501, [("Allow", ALLOW)], f"{method} is not a SIP method the gateway knows")
        key = self._key(request)
        if call is not None and (method != "INVITE" or in_dialog):
            refusal = self._in_call_refusal(request, source, call)
            if refusal is not None:
                return [] if method == "ACK" else self._answer(request, source, *refusal)
        if method == "ACK":
            if call is not None:
                if address_problem(request.body):  # an answer sending RTP off loopback: pjsua gets
                    request = replace(request, body="")  # none, and ends the call itself
                return self._forward_inward(request, source, call)
            return []  # the ACK of a refusal we sent, or of nothing: absorbed
        if method == "CANCEL":
            if call is not None:
                return self._forward_inward(request, source, call)
            if (key[0], key[1], key[2]) in self._answered:
                return self._answer(request, source, 200)  # the INVITE was answered already
            return self._answer(request, source, 481, why="no INVITE of this call is in progress at the gateway")
        if method == "BYE" or in_dialog:
            if call is None:
                return self._answer(request, source, 481, why="the gateway carries no call with this Call-ID")
            if method == "INVITE":
                refusal = self._reoffer_refusal(request)
                if refusal is not None:
                    return self._answer(request, source, 488, self._warning(refusal, 305))
            return self._forward_inward(request, source, call)
        return self._new_invite(request, source, context, key)

    def _in_call_refusal(self, request: SipMessage, source: Addr, call: EdgeCall) -> tuple | None:
        """(status, extra headers, why) when a request in a call the gateway carries is refused:
        it must come from the address the call's peer signals from (Call-ID and tags are on every
        ladder: knowing them is not enough), and have a hop left."""
        if source[0] != call.peer[0]:
            return 403, [], f"requests in this call are taken from {call.peer[0]} only"
        max_forwards = request.header("Max-Forwards")
        if max_forwards is not None and int(max_forwards) == 0:  # read() checked it is a number
            return 483, [], "Max-Forwards reached 0"
        return None

    def _reoffer_refusal(self, request: SipMessage) -> str | None:
        """A re-INVITE may not move RTP off loopback either (codecs are pjsua's to negotiate)."""
        if not request.body.strip():
            return None
        problem = check_offer(request.body, None)
        return problem.cause if problem is not None else None

    def _new_invite(self, request: SipMessage, source: Addr, context: Context,
                    key: tuple[str, int, str]) -> list[Output]:
        remembered = self._answered.get(key)
        if remembered is not None:  # a retransmission of an INVITE we refused: the same answer
            return [Send(remembered[0], source), Wire("tx", source, remembered[0].decode("utf-8", "replace"))]
        call = self.calls.get(request.call_id or "")
        if call is not None and call.leg == "b":  # our own B leg coming back: a routing loop
            return self._answer(request, source, 482, why="this INVITE is one the gateway sent: a loop")
        if call is not None and call.leg == "a" and call.ended_at is None:
            return self._forward_inward(request, source, call)  # a retransmission of an accepted INVITE
        if call is not None and call.invite_key[:2] == key[:2]:
            return []  # a late retransmission of a call that has ended (whatever its branch): not a new call
        over_rate = not self.limiter.admit(context.now)
        gateway = Gateway(self.public[0], self.public[1], self.nonces, self._new_nonce(), context.now)
        endpoint_calls = dict(context.calls_elsewhere)
        for sid, count in self.endpoint_calls(context.now).items():
            endpoint_calls[sid] = endpoint_calls.get(sid, 0) + count
        load = Load(self.in_progress(context.now), self.capacity, over_rate, self.rate_text, endpoint_calls)
        decision = decide(request, source, context.account, gateway, load)
        outputs: list[Output] = [Decided(request.call_id or "", source, decision)]
        if isinstance(decision, Refuse):
            self.counters.refused += 1
            if decision.nonce_issued:
                self.nonces.issue(decision.nonce_issued, now=context.now, source_ip=source[0])
            extra = list(decision.headers) + (self._warning(decision.cause, decision.warn_code) if decision.explain else [])
            answer = self._response_to(request, decision.status, extra)
            self._answered[key] = (answer, context.now)
            while len(self._answered) > 4096:
                self._answered.popitem(last=False)
            return outputs + [Send(answer, source), Wire("tx", source, answer.decode("utf-8", "replace"))]
        self.counters.accepted += 1
        if decision.nonce_used:
            self.nonces.use(decision.nonce_used, (request.call_id or "", request.cseq_number or 0), now=context.now)
        max_forwards = int(request.header("Max-Forwards") or 70)
        call = EdgeCall(request.call_id or "", "a", source, context.now, max_forwards=max_forwards, invite_key=key,
                        endpoint_sid=decision.endpoint_sid)
        self.calls[call.call_id] = call
        decided = wire.with_headers(request, list(request.headers) + [(DECISION_HEADER, encode_decision(decision, max_forwards))])
        return outputs + self._forward_inward(decided, source, call, record_route=True)

    def _forward_inward(self, request: SipMessage, source: Addr, call: EdgeCall, *,
                        record_route: bool = False) -> list[Output]:
        """On to pjsua: our Via on top (its branch says where the answer goes), one hop less."""
        top = wire.via_values(request)[0]
        headers = [("Via", f"SIP/2.0/UDP {self.public[0]}:{self.public[1]};branch={self._inward_branch(source, top)}")]
        headers += [(n, v) for n, v in _pop_own_route(request.headers, self.public)
                    if canonical_name(n) != "replaces"]  # the gateway carries no transfers
        max_forwards = request.header("Max-Forwards")
        if max_forwards is not None:
            headers = wire.replace_header(headers, "Max-Forwards", str(max(0, int(max_forwards) - 1)))
        if record_route:
            headers.insert(1, ("Record-Route", self._route_uri()))
        forwarded = wire.with_headers(request, headers)
        return [Send(wire.to_bytes(forwarded), self.b2bua)]

    # ------------------------------------------------------------------ responses from outside

    def _response_from_outside(self, response: SipMessage, source: Addr, now: float) -> list[Output]:
        vias = wire.via_values(response)
        ours = wire.parse_via(vias[0]) if vias else None
        b2bua_branch = self._outward_branch_owner(ours.branch) if ours is not None else None
        if b2bua_branch is None:
            self.counters.dropped += 1
            return []  # not an answer to anything the gateway sent
        invite = self.invites.get(ours.branch) if response.cseq_method == "INVITE" else None
        if invite is not None:
            if invite.given_up:
                return self._late_answer(invite, response)
            problem = address_problem(response.body)
            if problem and 200 <= (response.status_code or 0) < 300:
                # The far end answered with RTP off loopback: it is hung up, pjsua told 488.
                invite.given_up = True
                return self._late_answer(invite, response) + self._give_up(invite, 488, problem)
            if problem:
                response = replace(response, body="")  # early media off loopback: a plain 18x
            if response.status_code and response.status_code >= 200:
                invite.final = response.status_code
            else:
                invite.provisional = True
                if (response.status_code or 100) > 100 and not invite.cancelled:  # it rings: let it
                    invite.no_final_by = max(invite.no_final_by, now + self.ring_timeout_s)
        headers = [("Via", f"SIP/2.0/UDP {self.b2bua[0]}:{self.b2bua[1]};rport={self.b2bua[1]};branch={b2bua_branch}")]
        headers += [(n, v) for n, v in response.headers if canonical_name(n) != "via"]
        headers[1:1] = [("Via", v) for v in vias[1:]]
        if (response.cseq_method == "INVITE" and response.status_code and response.status_code < 300
                and response.status_code != 100 and not response.headers_named("Record-Route")):
            headers.append(("Record-Route", self._route_uri()))  # keep pjsua's requests in this call on the edge
        return [Send(wire.to_bytes(wire.with_headers(response, headers)), self.b2bua)]

    def _late_answer(self, invite: ClientInvite, response: SipMessage) -> list[Output]:
        """An answer to an INVITE the edge gave up on: a failure is ACKed (or the far end repeats
        it for 32 s); a 2xx is ACKed and hung up."""
        if not response.status_code or response.status_code < 200:
            return []
        if response.status_code >= 300:  # hop by hop: the INVITE's own branch and Request-URI
            ack = SipMessage(True, "ACK", invite.sent.request_uri, None, None, (
                ("Via", f"SIP/2.0/UDP {self.public[0]}:{self.public[1]};branch={invite.branch}"),
                ("From", invite.sent.header("From") or ""), ("To", response.header("To") or ""),
                ("Call-ID", invite.call_id), ("CSeq", f"{invite.sent.cseq_number or 1} ACK"),
                ("Max-Forwards", "70")), "")
            data = wire.to_bytes(ack)
            return [Send(data, invite.peer), Wire("tx", invite.peer, data.decode())]
        contact = response.header("Contact") or ""
        target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact.split(";")[0]
        common = [("From", invite.sent.header("From") or ""), ("To", response.header("To") or ""),
                  ("Call-ID", invite.call_id), ("Max-Forwards", "70")]
        outputs: list[Output] = []
        cseq = invite.sent.cseq_number or 1
        for method, number in (("ACK", cseq), ("BYE", cseq + 1)):
            via = f"SIP/2.0/UDP {self.public[0]}:{self.public[1]};branch={MAGIC}{_digest(method, invite.call_id)}"
            request = SipMessage(True, method, target or invite.sent.request_uri, None, None,
                                 tuple([("Via", via)] + common + [("CSeq", f"{number} {method}")]), "")
            data = wire.to_bytes(request)
            outputs += [Send(data, invite.peer), Wire("tx", invite.peer, data.decode())]
        return outputs

    # ------------------------------------------------------------------ pjsua's messages

    def _from_b2bua(self, message: SipMessage, now: float) -> list[Output]:
        if message.is_request:
            return self._request_from_b2bua(message, now)
        return self._response_from_b2bua(message, now)

    def _request_from_b2bua(self, request: SipMessage, now: float) -> list[Output]:
        call_id = request.call_id or ""
        call = self.calls.get(call_id)
        b2bua_via = wire.via_values(request)[0]
        b2bua_branch = (wire.parse_via(b2bua_via) or wire.Via("UDP", "", None, ())).branch
        branch = self._outward_branch(b2bua_branch)
        if request.method in ("ACK", "INVITE"):
            invite = self.invites.get(branch)
            if invite is not None and invite.given_up:  # the far end never saw a final answer
                return [] if request.method == "ACK" else self._give_up(invite)  # pjsua had not read our 408 yet
        headers = [("Via", f"SIP/2.0/UDP {self.public[0]}:{self.public[1]};branch={branch}")]
        for name, value in _pop_own_route(request.headers, self.public):
            key = canonical_name(name)
            if key == "via" or key.startswith(INTERNAL_PREFIX):
                continue
            headers.append((name, wire.uri_with_host(value, *self.public) if key == "contact" else value))
        new_dialog = request.method == "INVITE" and not wire.has_tag(request.header("To"))
        if new_dialog:
            a_call_id = request.header(A_LEG_HEADER) or ""
            a_leg = self.calls.get(a_call_id)
            max_forwards = max(0, (a_leg.max_forwards if a_leg else 70) - 1)
            headers = wire.replace_header(headers, "Max-Forwards", str(max_forwards))
            headers.insert(1, ("Record-Route", self._route_uri()))
            peer = _uri_address(request.request_uri or "")
            if peer is None:
                return self._refuse_b2bua(request, 503, "the B leg's target is not a loopback address")
            call = EdgeCall(call_id, "b", peer, now, a_call_id=a_call_id, seen_by_b2bua=True)
            self.calls[call_id] = call
        if call is None:
            return self._refuse_b2bua(request, 481, "no call with this Call-ID")
        sent = wire.with_headers(request, headers)
        if request.method == "INVITE":
            timeout = self.b_leg_timeout_s if new_dialog else LINGER_S
            existing = self.invites.get(branch)
            if existing is None:  # not a retransmission: watch it
                self.invites[branch] = ClientInvite(call_id, branch, sent, b2bua_via, call.peer, now + timeout,
                                                    now + timeout + FINAL_GRACE_S)
        elif request.method == "CANCEL":
            invite = self.invites.get(branch)
            if invite is not None and invite.final is None:  # a CANCEL gets its own grace
                invite.cancelled = True
                invite.no_final_by = min(invite.no_final_by, now + FINAL_GRACE_S)
        data = wire.to_bytes(sent)
        return [Send(data, call.peer), Wire("tx", call.peer, data.decode("utf-8", "replace"))]

    def _response_from_b2bua(self, response: SipMessage, now: float) -> list[Output]:
        vias = wire.via_values(response)
        ours = wire.parse_via(vias[0]) if vias else None
        destination = self._inward_branch_owner(ours.branch) if ours is not None else None
        if destination is None:
            return []
        status = response.status_code or 500
        why = response.header(WHY_HEADER)
        headers = [(n, v) for n, v in response.headers
                   if canonical_name(n) != "via" and not canonical_name(n).startswith(INTERNAL_PREFIX)]
        headers = [("Via", v) for v in vias[1:]] + [
            (n, wire.uri_with_host(v, *self.public) if canonical_name(n) == "contact" else v) for n, v in headers]
        if status == 486 and response.cseq_method == "INVITE" and why is None:
            status = 503  # pjsua out of call slots: a carrier says "try again", so a PBX fails over
            headers.append(("Retry-After", "5"))
            why = "the gateway has no free line for the call"
        if why and status >= 300:
            headers += self._warning(why)
        if response.cseq_method == "INVITE" and status >= 300:
            call = self.calls.get(response.call_id or "")
            if (call is not None and call.leg == "a" and call.ended_at is None
                    and response.cseq_number == call.invite_key[1]):  # not a refused re-INVITE
                call.ended_at = now
        out = replace(wire.with_headers(response, headers), status_code=status, reason=wire.reason_for(status))
        data = wire.to_bytes(out)
        return [Send(data, destination), Wire("tx", destination, data.decode("utf-8", "replace"))]

    def _refuse_b2bua(self, request: SipMessage, status: int, why: str) -> list[Output]:
        if request.method == "ACK":
            return []
        answer = wire.response(request.headers, status, [(WHY_HEADER, why)], tag_seed=request.call_id or "")
        return [Send(wire.to_bytes(answer), self.b2bua)]

    def _give_up(self, invite: ClientInvite, status: int = 408, why: str = "") -> list[Output]:
        """Answer pjsua's INVITE ourselves: 408 on behalf of a target that stays silent, or
        another refusal of what the target answered."""
        headers = [("Via", invite.b2bua_via)] + [(n, v) for n, v in invite.sent.headers
                                                  if canonical_name(n) in ("from", "to", "call-id", "cseq")]
        why = why or f"no answer from {invite.peer[0]}:{invite.peer[1]}"
        answer = wire.response(headers, status, [(WHY_HEADER, why)], tag_seed=invite.call_id)
        return [Send(wire.to_bytes(answer), self.b2bua)]

    # ------------------------------------------------------------------ answers and branches

    def _answer(self, request: SipMessage, source: Addr, status: int, extra=(), why: str = "") -> list[Output]:
        headers = list(extra) + (self._warning(why) if why else [])
        data = self._response_to(request, status, headers)
        return [Send(data, source), Wire("tx", source, data.decode("utf-8", "replace"))]

    def _response_to(self, request: SipMessage, status: int, extra) -> bytes:
        return wire.to_bytes(wire.response(request.headers, status, extra, tag_seed=self._tag_seed(request.headers)))

    def _warning(self, why: str, code: int = 399) -> list[tuple[str, str]]:
        text = why.replace("\\", "/").replace('"', "'")[:200]
        return [("Warning", f'{code} {self.public[0]} "{text}"')]

    @staticmethod
    def _tag_seed(headers) -> str:
        return "|".join(v for n, v in headers if canonical_name(n) in ("call-id", "from", "cseq"))

    @staticmethod
    def _key(request: SipMessage) -> tuple[str, int, str]:
        via = wire.top_via(request)
        return (request.call_id or "", request.cseq_number or 0, via.branch if via else "")

    def _route_uri(self) -> str:
        return f"<sip:{self.public[0]}:{self.public[1]};lr>"

    def _mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:10]

    def _inward_branch(self, source: Addr, top_via: str) -> str:
        """Our branch on a request going to pjsua: the requester's address, under an HMAC, and
        a digest of its Via (retransmissions and its CANCEL get the same branch)."""
        packed = base64.b32encode(ipaddress.IPv4Address(source[0]).packed + source[1].to_bytes(2, "big"))
        where, via = packed.decode().rstrip("=").lower(), _digest(top_via)
        return f"{MAGIC}.in.{where}.{via}.{self._mac('in' + where + via)}"

    def _inward_branch_owner(self, branch: str) -> Addr | None:
        parts = branch.split(".")
        if len(parts) != 5 or parts[0] != MAGIC or parts[1] != "in":
            return None
        if not hmac.compare_digest(parts[4], self._mac("in" + parts[2] + parts[3])):
            return None
        try:
            raw = base64.b32decode(parts[2].upper() + "=" * (-len(parts[2]) % 8))
        except ValueError:
            return None
        if len(raw) != 6:
            return None
        return str(ipaddress.IPv4Address(raw[:4])), int.from_bytes(raw[4:], "big")

    def _outward_branch(self, b2bua_branch: str) -> str:
        tail = b2bua_branch[len(MAGIC):] if b2bua_branch.startswith(MAGIC) else b2bua_branch
        return f"{MAGIC}.out.{tail}.{self._mac('out' + tail)}"

    def _outward_branch_owner(self, branch: str) -> str | None:
        """pjsua's own branch, when `branch` is one the edge put on a request of pjsua's."""
        prefix = f"{MAGIC}.out."
        tail, dot, mac = branch[len(prefix):].rpartition(".")  # pjsua's own branch may hold dots
        if not branch.startswith(prefix) or not dot or not hmac.compare_digest(mac, self._mac("out" + tail)):
            return None
        return MAGIC + tail


def message_text(message: SipMessage) -> str:
    return wire.to_bytes(message).decode("utf-8", "replace")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()[:12]


def _without_internal(headers) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if not canonical_name(n).startswith(INTERNAL_PREFIX)]


def _pop_own_route(headers, public: Addr) -> list[tuple[str, str]]:
    """The headers without the Route entries that name the edge itself (loose routing)."""
    out = []
    for name, value in headers:
        if canonical_name(name) != "route":
            out.append((name, value))
            continue
        kept = [part for part in value.split(",") if _uri_address(part) != public]
        if kept:
            out.append((name, ",".join(kept).strip()))
    return out


def _uri_address(uri: str) -> Addr | None:
    """The loopback ip:port a sip URI names (port 5060 when none), or None."""
    where = uri_host_port(uri)
    if where is None:
        return None
    try:
        ip = ipaddress.IPv4Address(where[0])
    except ValueError:
        return None
    return (str(ip), where[1] or 5060) if ip.is_loopback else None


def encode_decision(decision: Accept, max_forwards: int) -> str:
    payload = {"direction": decision.direction, "targets": [list(t) for t in decision.targets],
               "dialled": decision.dialled, "caller": decision.caller, "asserted": decision.asserted,
               "max_forwards": max_forwards}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_decision(value: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(value.encode()))

