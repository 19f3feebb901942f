"""sip.auth: the gateway's outbound authentication, each method x right/wrong credentials x
allowed/restricted source x missing pieces, and the one-time nonces."""

from __future__ import annotations

import itertools

import pytest

from sip import digest
from sip.auth import REALM, Accepted, Challenged, Gateway, InviteFacts, Refused, authenticate
from sip.nonces import NonceBook
from sip.sipmsg import parse_message
from tests.support.accounts import OTHER_SID, OTHER_TOKEN, PBX_SID, PBX_TOKEN, default_account, restricted

NOW = 1_800_000_000.0
URI = "sip:12025550142@127.0.0.2:5060"
_nonces = itertools.count(1)


class Shell:
    """What the gateway's edge does around authenticate(): makes nonces, records them, spends them."""

    def __init__(self, now: float = NOW) -> None:
        self.book = NonceBook()
        self.now = now

    def decide(self, account=None, **facts) -> object:
        facts.setdefault("source_ip", "127.0.0.11")
        facts.setdefault("source_port", 5060)
        facts.setdefault("request_uri", URI)
        facts.setdefault("call_id", "call-1")
        gateway = Gateway("127.0.0.2", 5060, self.book, f"nonce-{next(_nonces)}", self.now)
        decision = authenticate(account or default_account(), InviteFacts(**facts), gateway)
        issued = getattr(decision, "nonce_issued", None)
        if issued:
            self.book.issue(issued, now=self.now, source_ip=facts["source_ip"])
        if isinstance(decision, Accepted) and decision.nonce_used:
            self.book.use(decision.nonce_used, (facts["call_id"], facts.get("cseq", 1)))
        return decision


def decide(account=None, **facts) -> object:
    return SHELL.decide(account, **facts)


SHELL = Shell()


def answer_challenge(challenge: Challenged, username: str, password: str, *, uri: str = URI,
                     realm: str | None = None, cnonce: str = "abc123") -> str:
    parsed = digest.parse_challenge(challenge.header_value)
    response = digest.digest_response(
        method="INVITE", uri=uri, username=username, realm=realm or parsed.realm, password=password,
        nonce=parsed.nonce, qop="auth", nc="00000001", cnonce=cnonce,
    )
    return digest.DigestCredentials(
        username=username, realm=realm or parsed.realm, nonce=parsed.nonce, uri=uri, response=response,
        qop="auth", nc="00000001", cnonce=cnonce,
    ).to_header()


# ------------------------------------------------------------------ IP-based

def test_ip_auth_from_the_endpoint_address():
    decision = decide(source_ip="127.0.0.10", source_port=5060)
    assert decision == Accepted(PBX_SID, "ip", decision.cause)
    assert "127.0.0.10:5060" in decision.cause


def test_ip_auth_needs_the_port_too():
    decision = decide(source_ip="127.0.0.10", source_port=5070)
    assert isinstance(decision, Challenged) and decision.status == 407
    assert "insecure_address is off" in decision.cause


def test_insecure_address_relaxes_the_port():
    account = default_account(attributes=restricted(insecure=True))
    assert isinstance(decide(account, source_ip="127.0.0.10", source_port=5070), Accepted)


def test_ip_auth_matches_a_subnet_address():
    from dataclasses import replace
    base = default_account()
    pbx = base.endpoint(PBX_SID)
    subnet = replace(pbx.addresses[0], ip="127.0.0.0/28", port=5060)
    account = default_account(addresses=(subnet,))
    assert isinstance(decide(account, source_ip="127.0.0.13", source_port=5060), Accepted)
    assert isinstance(decide(account, source_ip="127.0.0.17", source_port=5060), Challenged)


@pytest.mark.parametrize(("direction", "accepted"), [("any", True), ("outbound", True), ("inbound", False)])
def test_ip_auth_respects_address_direction(direction, accepted):
    from dataclasses import replace
    pbx = default_account().endpoint(PBX_SID)
    account = default_account(addresses=(replace(pbx.addresses[0], direction=direction),))
    assert isinstance(decide(account, source_ip="127.0.0.10"), Accepted) is accepted


def test_unknown_source_is_challenged_not_refused():
    decision = decide(source_ip="127.0.0.99")
    assert isinstance(decision, Challenged)
    challenge = digest.parse_challenge(decision.header_value)
    assert challenge.realm == REALM and challenge.qop == "auth" and not challenge.stale
    assert challenge.nonce == decision.nonce_issued and SHELL.book.status(
        challenge.nonce, now=NOW, source_ip="127.0.0.99", request=("c", 1)).usable


# ------------------------------------------------------------------ proxy (digest)

@pytest.mark.parametrize(
    ("username", "password", "source", "restrictions", "expected"),
    [
        (PBX_SID, PBX_TOKEN, "127.0.0.11", (), (Accepted, None)),
        (PBX_SID, PBX_TOKEN, "127.0.0.11", ("127.0.0.0/29", "127.0.0.11"), (Accepted, None)),
        (PBX_SID, PBX_TOKEN, "127.0.0.12", ("127.0.0.11",), (Refused, 403)),
        (PBX_SID, "wrong-token", "127.0.0.11", (), (Refused, 401)),
        (PBX_SID, "wrong-token", "127.0.0.12", ("127.0.0.11",), (Refused, 401)),  # 401 before 403
        (PBX_SID, OTHER_TOKEN, "127.0.0.11", (), (Refused, 401)),  # another endpoint's token
        ("not-a-sid", PBX_TOKEN, "127.0.0.11", (), (Refused, 401)),
        (OTHER_SID, OTHER_TOKEN, "127.0.0.11", (), (Accepted, None)),
    ],
)
def test_proxy_auth_matrix(username, password, source, restrictions, expected):
    account = default_account(attributes=restricted(*restrictions))
    challenge = decide(account, source_ip=source)
    assert isinstance(challenge, Challenged)
    decision = decide(account, source_ip=source, proxy_authorization=answer_challenge(challenge, username, password))
    kind, status = expected
    assert isinstance(decision, kind), decision
    if status:
        assert decision.status == status and decision.method == "proxy"
    else:
        assert decision.endpoint_sid == username and decision.method == "proxy"


def test_proxy_auth_hashes_the_uri_as_sent():
    challenge = decide()
    header = answer_challenge(challenge, PBX_SID, PBX_TOKEN, uri="sip:127.0.0.2:5060")  # as SIPp sends it
    assert isinstance(decide(proxy_authorization=header), Accepted)


def test_proxy_auth_wrong_realm_is_401():
    header = answer_challenge(decide(), PBX_SID, PBX_TOKEN, realm="elsewhere")
    decision = decide(proxy_authorization=header)
    assert isinstance(decision, Refused) and decision.status == 401 and "realm" in decision.cause


def test_expired_nonce_is_challenged_again_as_stale():
    shell = Shell()
    header = answer_challenge(shell.decide(), PBX_SID, PBX_TOKEN)
    shell.now += 3600
    later = shell.decide(proxy_authorization=header)
    assert isinstance(later, Challenged) and digest.parse_challenge(later.header_value).stale
    assert "expired" in later.cause


def test_a_nonce_this_gateway_never_issued_is_challenged_again():
    header = answer_challenge(Shell().decide(), PBX_SID, PBX_TOKEN)  # another gateway's nonce
    decision = Shell().decide(proxy_authorization=header)
    assert isinstance(decision, Challenged) and "not issued by this gateway" in decision.cause


@pytest.mark.parametrize(("call_id", "uri"), [("call-2", URI), ("call-2", "sip:14155550199@127.0.0.2:5060")])
def test_a_replayed_proxy_authorization_places_no_call(call_id, uri):
    shell = Shell()
    header = answer_challenge(shell.decide(), PBX_SID, PBX_TOKEN)
    assert isinstance(shell.decide(proxy_authorization=header), Accepted)
    replay = shell.decide(proxy_authorization=header, call_id=call_id, request_uri=uri)
    assert isinstance(replay, Challenged) and "already used" in replay.cause
    assert digest.parse_challenge(replay.header_value).stale


def test_a_retransmission_may_present_its_nonce_again():
    shell = Shell()
    header = answer_challenge(shell.decide(), PBX_SID, PBX_TOKEN)
    assert isinstance(shell.decide(proxy_authorization=header), Accepted)
    assert isinstance(shell.decide(proxy_authorization=header), Accepted)  # same Call-ID and CSeq


def test_a_nonce_is_bound_to_the_address_it_was_issued_to():
    shell = Shell()
    header = answer_challenge(shell.decide(source_ip="127.0.0.11"), PBX_SID, PBX_TOKEN)
    decision = shell.decide(source_ip="127.0.0.12", proxy_authorization=header)
    assert isinstance(decision, Challenged) and "another address" in decision.cause


@pytest.mark.parametrize(("digest_uri", "accepted"), [
    (URI, True),
    ("sip:127.0.0.2:5060", True),  # SIPp: the gateway's address, no user
    ("sip:127.0.0.2", True),
    ("sip:14155550199@127.0.0.2:5060", False),  # computed for another number
    ("sip:12025550142@127.0.0.99:5060", False),  # for another host
    ("sip:127.0.0.2:5070", False),
    ("tel:+12025550142", False),
])
def test_the_digest_uri_must_name_this_request(digest_uri, accepted):
    shell = Shell()
    header = answer_challenge(shell.decide(), PBX_SID, PBX_TOKEN, uri=digest_uri)
    decision = shell.decide(proxy_authorization=header)
    if accepted:
        assert isinstance(decision, Accepted)
    else:
        assert isinstance(decision, Refused) and decision.status == 401 and "digest" in decision.cause


def test_every_401_carries_a_fresh_challenge():
    shell = Shell()
    wrong = answer_challenge(shell.decide(), PBX_SID, "wrong-token")
    decision = shell.decide(proxy_authorization=wrong)
    assert isinstance(decision, Refused) and decision.status == 401 and decision.challenge
    challenge = digest.parse_challenge(decision.challenge)
    assert challenge.nonce == decision.nonce_issued and not challenge.stale
    header_refusal = shell.decide(x_auth_endpoint_sid=PBX_SID, x_auth_voip_token="wrong")
    assert header_refusal.status == 401 and header_refusal.challenge


@pytest.mark.parametrize("garbage", ["", "Basic dXNlcjpwYXNz", "Digest username=", 'Digest realm="x"'])
def test_unusable_proxy_authorization_is_401(garbage):
    decision = decide(proxy_authorization=garbage)
    assert isinstance(decision, Refused) and decision.status == 401


def test_system_gateway_sid_is_not_a_username():
    from tests.support.accounts import GATEWAY_SID
    header = answer_challenge(decide(), GATEWAY_SID, "")
    assert isinstance(decide(proxy_authorization=header), Refused)


# ------------------------------------------------------------------ header-based

@pytest.mark.parametrize(
    ("sid", "token", "source", "restrictions", "status", "words"),
    [
        (PBX_SID, PBX_TOKEN, "127.0.0.11", (), None, "match endpoint"),
        (PBX_SID, PBX_TOKEN, "127.0.0.11", ("127.0.0.8/29",), None, "match endpoint"),
        (PBX_SID, PBX_TOKEN, "127.0.0.20", ("127.0.0.8/29",), 403, "outside"),
        (PBX_SID, "wrong-token", "127.0.0.11", (), 401, "does not match"),
        (PBX_SID, "wrong-token", "127.0.0.20", ("127.0.0.8/29",), 401, "does not match"),
        ("unknown-sid", PBX_TOKEN, "127.0.0.11", (), 401, "not a third-party endpoint"),
        (PBX_SID, None, "127.0.0.11", (), 401, "X-Auth-VoipToken is missing"),
        (None, PBX_TOKEN, "127.0.0.11", (), 401, "X-Auth-EndpointSid is missing"),
        (PBX_SID, "", "127.0.0.11", (), 401, "X-Auth-VoipToken is missing"),
        (OTHER_SID, PBX_TOKEN, "127.0.0.11", (), 401, "does not match"),
    ],
)
def test_header_auth_matrix(sid, token, source, restrictions, status, words):
    account = default_account(attributes=restricted(*restrictions))
    decision = decide(account, source_ip=source, x_auth_endpoint_sid=sid, x_auth_voip_token=token)
    if status is None:
        assert isinstance(decision, Accepted) and decision.method == "header" and decision.endpoint_sid == sid
    else:
        assert isinstance(decision, Refused) and decision.status == status and decision.method == "header"
    assert words in decision.cause


def test_headers_are_checked_even_from_the_endpoint_address():
    # A wrong X-Auth-VoipToken is refused even though IP-based auth would have accepted the source.
    decision = decide(source_ip="127.0.0.10", x_auth_endpoint_sid=PBX_SID, x_auth_voip_token="wrong")
    assert isinstance(decision, Refused) and decision.status == 401


def test_ip_restrictions_do_not_apply_to_ip_auth():
    account = default_account(attributes=restricted("127.0.0.11"))
    assert isinstance(decide(account, source_ip="127.0.0.10"), Accepted)


def test_facts_from_a_real_invite():
    text = (
        "INVITE sip:12025550142@127.0.0.2:5060 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.11:5060;branch=z9hG4bK-1\r\n"
        "From: <sip:pbx@127.0.0.11>;tag=1\r\nTo: <sip:12025550142@127.0.0.2>\r\n"
        "Call-ID: abc@127.0.0.11\r\nCSeq: 1 INVITE\r\n"
        f"x-auth-endpointsid: {PBX_SID}\r\nX-Auth-VoipToken:  {PBX_TOKEN} \r\n"
        "Content-Length: 0\r\n\r\n"
    )
    facts = InviteFacts.from_message(parse_message(text), "127.0.0.11", 5060)
    assert (facts.x_auth_endpoint_sid, facts.x_auth_voip_token) == (PBX_SID, PBX_TOKEN)
    gateway = Gateway("127.0.0.2", 5060, NonceBook(), "n", NOW)
    assert isinstance(authenticate(default_account(), facts, gateway), Accepted)
