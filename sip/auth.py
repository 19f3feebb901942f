"""How the System Gateway authenticates an outbound INVITE: a pure function of the account,
of what the INVITE carried and of the gateway's one-time nonces.

The order follows the seed (CarrierX, "Set Up Authentication to Place Calls"):

1. Header-based: when X-Auth-EndpointSid or X-Auth-VoipToken is present, both must be there
   and match one third-party endpoint, else 401.
2. IP-based: the source ip:port is an endpoint address with direction any/outbound. With the
   endpoint attribute `insecure_address` only the IP is compared (our reading of the seed:
   it relaxes the port match).
3. Proxy (digest) authentication: otherwise answer 407 with a challenge; the caller retries
   with username = endpoint SID and password = VoIP token. Wrong credentials: 401.
4. IP/subnet restrictions: an endpoint identified by credentials (header or proxy) that has
   `ip_restrictions` is accepted only from inside them, else 403.

Every 401 carries a fresh challenge (WWW-Authenticate), as RFC 3261 section 21.4.2 requires:
without one, real user agents either hang or retry in a loop; with one, a UA that already sent
its credentials for this realm knows they were wrong and gives up.

A nonce authenticates one INVITE only (sip/nonces.py). A nonce this gateway did not issue, an
expired one, or one already used by another INVITE is not an error of the caller's password:
the answer is a new 407 challenge with stale=true, which a real UA answers by itself and a
replayed header cannot. The digest `uri` must name this request: its user part (when it has
one) is the Request-URI's, its host is the Request-URI's or this gateway's (SIPp puts
`sip:<gateway ip>:<port>` there, see docs/DESIGN.md).

Every outcome carries a `cause` sentence for the trainee: what the gateway saw and decided.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from store.records import Account, Endpoint

from . import digest
from .nonces import NonceBook, NonceStatus
from .sipmsg import SipMessage, uri_host_port, uri_user

REALM = "trunklab.carrier"  # the realm the gateway puts in its challenges


@dataclass(frozen=True)
class InviteFacts:
    """What authentication looks at in an INVITE, plus where it came from."""

    source_ip: str
    source_port: int
    method: str = "INVITE"
    request_uri: str = ""
    call_id: str = ""
    cseq: int = 1
    x_auth_endpoint_sid: str | None = None
    x_auth_voip_token: str | None = None
    proxy_authorization: str | None = None  # or an Authorization header: a UAS takes either

    @classmethod
    def from_message(cls, message: SipMessage, source_ip: str, source_port: int) -> InviteFacts:
        return cls(
            source_ip=source_ip,
            source_port=source_port,
            method=message.method or "INVITE",
            request_uri=message.request_uri or "",
            call_id=message.call_id or "",
            cseq=message.cseq_number or 0,
            x_auth_endpoint_sid=_stripped(message.header("X-Auth-EndpointSid")),
            x_auth_voip_token=_stripped(message.header("X-Auth-VoipToken")),
            proxy_authorization=message.header("Proxy-Authorization") or message.header("Authorization"),
        )

    @property
    def request(self) -> tuple[str, int]:
        """What a nonce is spent on: this INVITE and its retransmissions."""
        return (self.call_id, self.cseq)


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None


@dataclass(frozen=True)
class Gateway:
    """Where the deciding gateway listens, and its nonces (read here, never changed)."""

    ip: str
    port: int
    nonces: NonceBook
    fresh_nonce: str  # the nonce to issue if this decision challenges
    now: float


@dataclass(frozen=True)
class Accepted:
    endpoint_sid: str
    method: str  # 'ip' | 'proxy' | 'header'
    cause: str
    nonce_used: str | None = None  # the shell marks it used


@dataclass(frozen=True)
class Challenged:
    """Answer 407 with this Proxy-Authenticate value and wait for the retry."""

    header_value: str
    cause: str
    nonce_issued: str
    status: int = 407
    reason: str = "Proxy Authentication Required"
    header_name: str = "Proxy-Authenticate"


@dataclass(frozen=True)
class Refused:
    status: int  # 401 or 403
    reason: str
    cause: str
    method: str  # the method that was tried: 'header' | 'proxy'
    challenge: str | None = None  # a 401's WWW-Authenticate value
    nonce_issued: str | None = None


AuthDecision = Accepted | Challenged | Refused


def authenticate(account: Account, facts: InviteFacts, gateway: Gateway) -> AuthDecision:
    if facts.x_auth_endpoint_sid is not None or facts.x_auth_voip_token is not None:
        return _header_auth(account, facts, gateway)
    by_ip = _match_by_address(account, facts)
    if isinstance(by_ip, Endpoint):
        return Accepted(
            by_ip.endpoint_sid, "ip",
            f"source {facts.source_ip}:{facts.source_port} is an address of endpoint {by_ip.name!r}",
        )
    if facts.proxy_authorization is None:
        why = by_ip or f"source {facts.source_ip}:{facts.source_port} is no endpoint address"
        return _challenge(gateway, f"{why}: challenged for proxy authentication", stale=False)
    return _proxy_auth(account, facts, gateway)


def _unauthorized(gateway: Gateway, cause: str, method: str) -> Refused:
    return Refused(401, "Unauthorized", cause, method, _challenge_value(gateway, stale=False), gateway.fresh_nonce)


def _third_party(account: Account, endpoint_sid: str) -> Endpoint | None:
    endpoint = account.endpoint(endpoint_sid)
    return endpoint if endpoint is not None and not endpoint.is_system_gateway else None


def _header_auth(account: Account, facts: InviteFacts, gateway: Gateway) -> AuthDecision:
    sid, token = facts.x_auth_endpoint_sid, facts.x_auth_voip_token
    if not sid or not token:
        missing = "X-Auth-VoipToken" if sid else "X-Auth-EndpointSid"
        return _unauthorized(gateway, f"header auth needs both headers; {missing} is missing", "header")
    endpoint = _third_party(account, sid)
    if endpoint is None:
        return _unauthorized(gateway, f"X-Auth-EndpointSid {sid} is not a third-party endpoint", "header")
    if endpoint.voip_token != token:
        return _unauthorized(gateway, f"X-Auth-VoipToken does not match endpoint {endpoint.name!r}", "header")
    return _restricted(endpoint, facts, "header") or Accepted(
        endpoint.endpoint_sid, "header", f"X-Auth headers match endpoint {endpoint.name!r}"
    )


def _match_by_address(account: Account, facts: InviteFacts) -> Endpoint | str | None:
    """The endpoint whose address the source is, or a sentence on a near miss (right IP, wrong
    port) that explains why IP-based auth did not apply, or None."""
    source = ipaddress.ip_address(facts.source_ip)
    near_miss: str | None = None
    for endpoint in account.third_party_endpoints:
        for address in endpoint.addresses:
            if not address.allows("outbound") or source not in ipaddress.ip_network(address.ip):
                continue
            if endpoint.attributes.insecure_address or address.port == facts.source_port:
                return endpoint
            near_miss = near_miss or (
                f"source port {facts.source_port} is not the port {address.port} of endpoint "
                f"{endpoint.name!r} address {address.ip} and insecure_address is off"
            )
    return near_miss


_STALE_WHY = {
    NonceStatus.UNKNOWN: "the digest nonce was not issued by this gateway",
    NonceStatus.EXPIRED: "the digest nonce expired",
    NonceStatus.REPLAYED: "the digest nonce was already used by another INVITE (a replayed Proxy-Authorization)",
    NonceStatus.OTHER_ADDRESS: "the digest nonce was issued to another address",
}


def _proxy_auth(account: Account, facts: InviteFacts, gateway: Gateway) -> AuthDecision:
    try:
        creds = digest.parse_credentials(facts.proxy_authorization or "")
    except digest.DigestError as error:
        return _unauthorized(gateway, f"unusable Proxy-Authorization: {error}", "proxy")
    if creds.realm != REALM:
        return _unauthorized(gateway, f"digest realm {creds.realm!r} is not {REALM!r}", "proxy")
    status = gateway.nonces.status(creds.nonce, now=gateway.now, source_ip=facts.source_ip, request=facts.request)
    if not status.usable:
        # Not an error of the caller's credentials: a real UA answers a stale challenge by itself.
        return _challenge(gateway, f"{_STALE_WHY[status]}: challenged again (stale)", stale=True)
    uri_problem = _uri_problem(creds.uri, facts, gateway)
    if uri_problem:
        return _unauthorized(gateway, uri_problem, "proxy")
    endpoint = _third_party(account, creds.username)
    if endpoint is None or endpoint.voip_token is None:
        return _unauthorized(gateway, f"digest username {creds.username} is not a third-party endpoint SID", "proxy")
    if not digest.verify_credentials(
        creds, method=facts.method, password=endpoint.voip_token, expected_realm=REALM, expected_nonce=creds.nonce
    ):
        return _unauthorized(gateway, f"digest response is wrong: not the VoIP token of {endpoint.name!r}", "proxy")
    return _restricted(endpoint, facts, "proxy") or Accepted(
        endpoint.endpoint_sid, "proxy", f"digest credentials of endpoint {endpoint.name!r} are right", creds.nonce
    )


def _uri_problem(digest_uri: str, facts: InviteFacts, gateway: Gateway) -> str:
    """Why the digest uri does not name this request ('' when it does)."""
    request_user = uri_user(facts.request_uri) if facts.request_uri else None
    user = uri_user(digest_uri)
    if user is not None and request_user is not None and user != request_user:
        return f"the digest was computed for {user}, not for the dialled {request_user}"
    where = uri_host_port(digest_uri)
    if where is None:
        return f"the digest uri {digest_uri[:60]!r} is not a sip: URI"
    request_where = uri_host_port(facts.request_uri) if facts.request_uri else None
    allowed_hosts = {gateway.ip} | ({request_where[0]} if request_where else set())
    allowed_ports = {None, gateway.port} | ({request_where[1]} if request_where else set())
    if where[0] not in allowed_hosts or where[1] not in allowed_ports:
        return f"the digest uri {digest_uri[:60]!r} names another host than this gateway"
    return ""


def _restricted(endpoint: Endpoint, facts: InviteFacts, method: str) -> Refused | None:
    restrictions = endpoint.attributes.ip_restrictions
    if not restrictions:
        return None
    source = ipaddress.ip_address(facts.source_ip)
    if any(source in ipaddress.ip_network(cidr) for cidr in restrictions):
        return None
    return Refused(
        403, "Forbidden",
        f"credentials are right but {facts.source_ip} is outside the IP restrictions of {endpoint.name!r} "
        f"({', '.join(restrictions)})",
        method,
    )


def _challenge_value(gateway: Gateway, *, stale: bool) -> str:
    return digest.DigestChallenge(realm=REALM, nonce=gateway.fresh_nonce, algorithm="MD5", qop="auth",
                                  stale=stale).to_header()


def _challenge(gateway: Gateway, cause: str, *, stale: bool) -> Challenged:
    return Challenged(_challenge_value(gateway, stale=stale), cause, gateway.fresh_nonce)
