"""How the System Gateway authenticates an outbound INVITE: a pure function of the account
and of what the INVITE carried.

The order follows the seed (CarrierX, "Set Up Authentication to Place Calls"):

1. Header-based: when X-Auth-EndpointSid or X-Auth-VoipToken is present, both must be there
   and match one third-party endpoint, else 401.
2. IP-based: the source ip:port is an endpoint address with direction any/outbound. With the
   endpoint attribute `insecure_address` only the IP is compared (our reading of the seed:
   it relaxes the port match).
3. Proxy (digest) authentication: otherwise answer 407 with a challenge; the caller retries
   with username = endpoint SID and password = VoIP token. Wrong or unusable credentials: 401.
4. IP/subnet restrictions: an endpoint identified by credentials (header or proxy) that has
   `ip_restrictions` is accepted only from inside them, else 403.

Every outcome carries a `cause` sentence for the trainee: what the gateway saw and decided.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from store.records import Account, Endpoint

from . import digest
from .sipmsg import SipMessage

REALM = "trunklab.carrier"  # the realm the gateway puts in its Proxy-Authenticate challenge


@dataclass(frozen=True)
class InviteFacts:
    """What authentication looks at in an INVITE, plus where it came from."""

    source_ip: str
    source_port: int
    method: str = "INVITE"
    x_auth_endpoint_sid: str | None = None
    x_auth_voip_token: str | None = None
    proxy_authorization: str | None = None

    @classmethod
    def from_message(cls, message: SipMessage, source_ip: str, source_port: int) -> InviteFacts:
        return cls(
            source_ip=source_ip,
            source_port=source_port,
            method=message.method or "INVITE",
            x_auth_endpoint_sid=_stripped(message.header("X-Auth-EndpointSid")),
            x_auth_voip_token=_stripped(message.header("X-Auth-VoipToken")),
            proxy_authorization=message.header("Proxy-Authorization"),
        )


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None


@dataclass(frozen=True)
class Accepted:
    endpoint_sid: str
    method: str  # 'ip' | 'proxy' | 'header'
    cause: str


@dataclass(frozen=True)
class Challenged:
    """Answer 407 with this Proxy-Authenticate value and wait for the retry."""

    header_value: str
    cause: str
    status: int = 407
    reason: str = "Proxy Authentication Required"


@dataclass(frozen=True)
class Refused:
    status: int  # 401 or 403
    reason: str
    cause: str
    method: str  # the method that was tried: 'header' | 'proxy'


AuthDecision = Accepted | Challenged | Refused


def authenticate(account: Account, facts: InviteFacts, *, secret: bytes, now: float) -> AuthDecision:
    if facts.x_auth_endpoint_sid is not None or facts.x_auth_voip_token is not None:
        return _header_auth(account, facts)
    by_ip = _match_by_address(account, facts)
    if isinstance(by_ip, Endpoint):
        return Accepted(
            by_ip.endpoint_sid, "ip",
            f"source {facts.source_ip}:{facts.source_port} is an address of endpoint {by_ip.name!r}",
        )
    if facts.proxy_authorization is None:
        why = by_ip or f"source {facts.source_ip}:{facts.source_port} is no endpoint address"
        return Challenged(_challenge(secret, now, stale=False), f"{why}: challenged for proxy authentication")
    return _proxy_auth(account, facts, secret=secret, now=now)


def _third_party(account: Account, endpoint_sid: str) -> Endpoint | None:
    endpoint = account.endpoint(endpoint_sid)
    return endpoint if endpoint is not None and not endpoint.is_system_gateway else None


def _header_auth(account: Account, facts: InviteFacts) -> AuthDecision:
    sid, token = facts.x_auth_endpoint_sid, facts.x_auth_voip_token
    if not sid or not token:
        missing = "X-Auth-VoipToken" if sid else "X-Auth-EndpointSid"
        return Refused(401, "Unauthorized", f"header auth needs both headers; {missing} is missing", "header")
    endpoint = _third_party(account, sid)
    if endpoint is None:
        return Refused(401, "Unauthorized", f"X-Auth-EndpointSid {sid} is not a third-party endpoint", "header")
    if endpoint.voip_token != token:
        return Refused(401, "Unauthorized", f"X-Auth-VoipToken does not match endpoint {endpoint.name!r}", "header")
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


def _proxy_auth(account: Account, facts: InviteFacts, *, secret: bytes, now: float) -> AuthDecision:
    try:
        creds = digest.parse_credentials(facts.proxy_authorization or "")
    except digest.DigestError as error:
        return Refused(401, "Unauthorized", f"unusable Proxy-Authorization: {error}", "proxy")
    if creds.realm != REALM:
        return Refused(401, "Unauthorized", f"digest realm {creds.realm!r} is not {REALM!r}", "proxy")
    if not digest.nonce_is_fresh(creds.nonce, secret, now):
        # Not an error of the caller's credentials: ask again with a new nonce.
        return Challenged(_challenge(secret, now, stale=True), "the digest nonce expired: challenged again (stale)")
    endpoint = _third_party(account, creds.username)
    if endpoint is None or endpoint.voip_token is None:
        return Refused(401, "Unauthorized", f"digest username {creds.username} is not a third-party endpoint SID", "proxy")
    if not digest.verify_credentials(
        creds, method=facts.method, password=endpoint.voip_token, expected_realm=REALM, expected_nonce=creds.nonce
    ):
        return Refused(401, "Unauthorized", f"digest response is wrong: not the VoIP token of {endpoint.name!r}", "proxy")
    return _restricted(endpoint, facts, "proxy") or Accepted(
        endpoint.endpoint_sid, "proxy", f"digest credentials of endpoint {endpoint.name!r} are right"
    )


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


def _challenge(secret: bytes, now: float, *, stale: bool) -> str:
    return digest.DigestChallenge(
        realm=REALM, nonce=digest.make_nonce(secret, now), algorithm="MD5", qop="auth", stale=stale
    ).to_header()
