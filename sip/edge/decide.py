"""The System Gateway's decision on a new INVITE: a pure function of the request, where it
came from, the account, the gateway's nonces and its load.

In order (each step answers only if the ones before let the INVITE through):

1. protocol: Max-Forwards 0 -> 483; a Require we do not support -> 420;
2. load: beyond the CPS limit or at capacity -> 503 with Retry-After (the pjsua B2BUA behind
   the edge never sees a call it has no slots for, so it never answers 486 itself); an
   endpoint's own `capacity` is looked at once the endpoint is known (after authentication for
   an outbound call; an inbound call passes over a full endpoint to the group's next trunk);
3. who is calling: the PSTN party's ip:port is the carrier's own network (inbound); anyone
   else is a customer and must authenticate (sip/auth.py): 407, 401 with a challenge, 403;
4. the offer, only now (a refusal must not tell an unauthenticated caller anything about the
   media): no common codec, or RTP asked for off loopback -> 488 (sip/sdp.py);
5. routing (sip/routing.py): inbound DID -> trunk group -> endpoint addresses; outbound
   E.164 number -> the PSTN. 404, 480, 484, 403.

The result is typed: Accept carries what the B2BUA needs to place the B leg; Refuse carries
the answer. Both carry `cause`, the sentence the ladder shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from store.records import CARRIER_CODECS, Account, Endpoint

from ..auth import Accepted, Challenged, Gateway, InviteFacts, authenticate
from ..routing import InboundRoute, NoRoute, dialled_number, route_inbound, route_outbound
from ..sdp import check_offer
from ..sipmsg import SipMessage, uri_user

# Accepted in Require without acting on them. Not 'replaces': the gateway carries no transfers.
SUPPORTED_EXTENSIONS = frozenset({"timer", "norefersub"})
RETRY_AFTER_CPS_S = 1
RETRY_AFTER_BUSY_S = 5


@dataclass(frozen=True)
class Load:
    """What the gateway carries right now (the shell counts; this only compares).

    endpoint_calls: calls in progress per endpoint_sid, at every System Gateway address (the
    gateways share their counts), for each endpoint's own `capacity` (0: no limit)."""

    calls_in_progress: int
    capacity: int
    over_rate: bool  # the CPS limiter refused this INVITE
    rate_text: str = ""  # e.g. "11 new INVITEs per 0.5 s"
    endpoint_calls: Mapping[str, int] = field(default_factory=dict)

    def endpoint_full(self, endpoint: Endpoint | None) -> bool:
        return endpoint is not None and endpoint.capacity > 0 and \
            self.endpoint_calls.get(endpoint.endpoint_sid, 0) >= endpoint.capacity


@dataclass(frozen=True)
class Refuse:
    status: int
    cause: str
    direction: str = ""  # 'inbound' | 'outbound' | '' (not known yet)
    auth: str = ""  # the method tried, or 'challenge'
    headers: tuple[tuple[str, str], ...] = ()  # e.g. a challenge, Retry-After, Unsupported
    explain: bool = True  # a Warning header with the cause (not for authentication failures)
    warn_code: int = 399  # RFC 3261 20.43: 305 "incompatible media format", 399 miscellaneous
    nonce_issued: str | None = None
    endpoint_sid: str = ""


@dataclass(frozen=True)
class Accept:
    direction: str
    targets: tuple[tuple[str, int], ...]  # where the B leg goes, in order (failover)
    dialled: str  # E.164 digits, no '+'
    caller: str  # the caller ID for the B leg: '+E.164' when it is a number
    asserted: str  # P-Asserted-Identity user for the B leg
    trunk_group_sid: str
    cause: str
    auth: str = ""
    endpoint_sid: str = ""
    nonce_used: str | None = None
    extra: dict = field(default_factory=dict)


Decision = Accept | Refuse


def e164(user: str | None) -> str | None:
    """'+12025550100' for any way of writing that number; None when it is no number."""
    digits = dialled_number(user)
    return f"+{digits}" if digits else None


def caller_id(invite: SipMessage) -> tuple[str, str]:
    """(caller, asserted identity) for the B leg, each in E.164 with '+' when it is a number.
    A P-Asserted-Identity the caller sent is passed on; without one, the From user is asserted."""
    from_user = uri_user(invite.header("From") or "") or "anonymous"
    caller = e164(from_user) or from_user
    pai = invite.header("P-Asserted-Identity")
    pai_user = uri_user(pai) if pai else None
    asserted = (e164(pai_user) or pai_user) if pai_user else caller
    return caller, asserted


def decide(invite: SipMessage, source: tuple[str, int], account: Account | None, gateway: Gateway,
           load: Load) -> Decision:
    if account is None:
        return Refuse(503, "the gateway has no account yet", headers=(("Retry-After", str(RETRY_AFTER_CPS_S)),))
    max_forwards = invite.header("Max-Forwards")
    if max_forwards is not None and int(max_forwards) == 0:
        return Refuse(483, "Max-Forwards reached 0: the INVITE has been forwarded too many times")
    unsupported = _unsupported(invite)
    if unsupported:
        return Refuse(420, f"the INVITE requires {', '.join(unsupported)}, which the gateway does not support",
                      headers=(("Unsupported", ", ".join(unsupported)),))
    if load.over_rate:
        return Refuse(503, f"more than {load.rate_text or 'the allowed new calls'} at {gateway.ip} (CPS limit)",
                      headers=(("Retry-After", str(RETRY_AFTER_CPS_S)),))
    if load.calls_in_progress >= load.capacity:
        return Refuse(503, f"gateway {gateway.ip} is at capacity ({load.capacity} calls at once per address)",
                      headers=(("Retry-After", str(RETRY_AFTER_BUSY_S)),))
    caller, asserted = caller_id(invite)
    dialled_user = uri_user(invite.request_uri or "")
    pstn = account.party("pstn")
    if pstn is not None and source == (pstn.ip, pstn.port):
        return _inbound(invite, account, dialled_user, caller, asserted, load)
    return _outbound(invite, source, account, gateway, dialled_user, caller, asserted, load)


def _capacity_refusal(endpoint: Endpoint, load: Load, direction: str, auth: str = "") -> Refuse:
    calls = "call" if endpoint.capacity == 1 else "calls"
    return Refuse(503, f"endpoint {endpoint.name!r} is at its capacity ({endpoint.capacity} {calls} at once, "
                       f"{load.endpoint_calls.get(endpoint.endpoint_sid, 0)} in progress)", direction, auth,
                  headers=(("Retry-After", str(RETRY_AFTER_BUSY_S)),), endpoint_sid=endpoint.endpoint_sid)


def _unsupported(invite: SipMessage) -> list[str]:
    required = [tag.strip() for value in invite.headers_named("Require") for tag in value.split(",") if tag.strip()]
    return [tag for tag in required if tag.lower() not in SUPPORTED_EXTENSIONS]


def _offer_refusal(invite: SipMessage, direction: str, auth: str = "", endpoint_sid: str = "") -> Refuse | None:
    if not invite.body.strip():
        return None  # a delayed offer: the gateway's offer goes in its 200, the answer in the ACK
    problem = check_offer(invite.body, CARRIER_CODECS)
    if problem is None:
        return None
    return Refuse(488, problem.cause, direction, auth, warn_code=305, endpoint_sid=endpoint_sid)


def _inbound(invite: SipMessage, account: Account, dialled_user: str | None, caller: str, asserted: str,
             load: Load) -> Decision:
    refusal = _offer_refusal(invite, "inbound")
    if refusal is not None:
        return refusal
    route = route_inbound(account, dialled_user)
    if isinstance(route, NoRoute):
        return Refuse(route.status, route.cause, "inbound")
    assert isinstance(route, InboundRoute)
    # An endpoint at its capacity is passed over, as a trunk that is down would be; when every
    # endpoint of the group is full, the caller hears 503 and may try again later.
    targets = [t for t in route.targets if not load.endpoint_full(account.endpoint(t.endpoint_sid))]
    if not targets:
        return _capacity_refusal(account.endpoint(route.targets[0].endpoint_sid), load, "inbound")
    return Accept(
        direction="inbound", targets=tuple((t.ip, t.port) for t in targets), dialled=route.did.phonenumber,
        caller=caller, asserted=asserted, trunk_group_sid=route.trunk_group.trunk_group_sid, cause=route.cause,
        endpoint_sid=targets[0].endpoint_sid,
    )


def _outbound(invite: SipMessage, source: tuple[str, int], account: Account, gateway: Gateway,
              dialled_user: str | None, caller: str, asserted: str, load: Load) -> Decision:
    facts = InviteFacts.from_message(invite, *source)
    verdict = authenticate(account, facts, gateway)
    if isinstance(verdict, Challenged):
        return Refuse(verdict.status, verdict.cause, "outbound", "challenge",
                      headers=((verdict.header_name, verdict.header_value),), explain=False,
                      nonce_issued=verdict.nonce_issued)
    if not isinstance(verdict, Accepted):
        headers = (("WWW-Authenticate", verdict.challenge),) if verdict.challenge else ()
        return Refuse(verdict.status, verdict.cause, "outbound", verdict.method, headers=headers, explain=False,
                      nonce_issued=verdict.nonce_issued)
    endpoint = account.endpoint(verdict.endpoint_sid)
    if load.endpoint_full(endpoint):
        return _capacity_refusal(endpoint, load, "outbound", verdict.method)
    refusal = _offer_refusal(invite, "outbound", verdict.method, verdict.endpoint_sid)
    if refusal is not None:
        return refusal
    route = route_outbound(account, verdict.endpoint_sid, dialled_user)
    if isinstance(route, NoRoute):
        return Refuse(route.status, f"{verdict.cause}; {route.cause}", "outbound", verdict.method,
                      endpoint_sid=verdict.endpoint_sid)
    return Accept(
        direction="outbound", targets=((route.pstn_ip, route.pstn_port),), dialled=route.phonenumber,
        caller=caller, asserted=asserted, trunk_group_sid=route.trunk_group.trunk_group_sid,
        cause=f"{verdict.cause}; {route.cause}", auth=verdict.method, endpoint_sid=verdict.endpoint_sid,
        nonce_used=verdict.nonce_used,
    )
