"""sip.edge.decide: the System Gateway's decision on a new INVITE, over the matrix issue 9 asks
for (authentication x capacity x rate limit x who calls) and each refusal on its own: 483, 420,
488 only after authentication, routing refusals, caller ID."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from sip import digest
from sip.auth import REALM, Gateway
from sip.edge.decide import (
    RETRY_AFTER_BUSY_S,
    RETRY_AFTER_CPS_S,
    Accept,
    Load,
    Refuse,
    caller_id,
    decide,
    e164,
)
from sip.nonces import NonceBook
from sip.sipmsg import parse_message
from store.records import EndpointAddress, Trunk
from tests.support.accounts import (
    GROUP_SID,
    OTHER_SID,
    OTHER_TOKEN,
    PBX_SID,
    PBX_TOKEN,
    default_account,
    restricted,
)

NOW = 1_800_000_000.0
G = ("127.0.0.2", 5060)
PSTN = ("127.0.0.20", 5060)  # the account's PSTN party: the carrier's own network
PBX = ("127.0.0.10", 5060)  # the PBX endpoint's address: IP-based authentication
ROAMING = ("127.0.0.11", 5060)  # the PBX from an address that is not an endpoint address
OUT_NUMBER = "14155550123"  # any E.164 number goes to the PSTN
DID = "12025550100"  # a phone number of the account, in Acme's trunk group
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.10\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP {formats}\r\na=rtpmap:101 telephone-event/8000\r\n")
FREE = Load(0, 2, False, "11 new INVITEs per 0.5 s")
_nonce = itertools.count(1)


def invite(number: str = OUT_NUMBER, *headers: tuple[str, str], body: str | None = None,
           from_user: str = "+12025550100", c: str = "127.0.0.10", formats: str = "0 8 101"):
    body = SDP.format(c=c, formats=formats) if body is None else body
    lines = [
        f"INVITE sip:{number}@127.0.0.2:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.11:5060;branch=z9hG4bK-1",
        "Max-Forwards: 70",
        f"From: <sip:{from_user}@127.0.0.11>;tag=f1",
        f"To: <sip:{number}@127.0.0.2>",
        "Call-ID: call-1@127.0.0.11",
        "CSeq: 1 INVITE",
        *[f"{n}: {v}" for n, v in headers],
    ] + (["Content-Type: application/sdp"] if body else []) + [f"Content-Length: {len(body)}"]
    return parse_message("\r\n".join(lines) + "\r\n\r\n" + body)


class Shell:
    """The edge's part around decide(): a nonce book, a fresh nonce per decision."""

    def __init__(self) -> None:
        self.book = NonceBook()

    def gateway(self) -> Gateway:
        return Gateway(*G, self.book, f"nonce-{next(_nonce)}", NOW)

    def decide(self, message, source, account=None, load: Load = FREE):
        account = default_account() if account is None else account
        return decide(message, source, account, self.gateway(), load)

    def credentials(self, source, password: str = PBX_TOKEN, username: str = PBX_SID, number: str = OUT_NUMBER):
        """A Proxy-Authorization answering a challenge this gateway issued to `source`."""
        nonce = f"issued-{next(_nonce)}"
        self.book.issue(nonce, now=NOW - 1, source_ip=source[0])
        uri = f"sip:{number}@127.0.0.2:5060"
        response = digest.digest_response(method="INVITE", uri=uri, username=username, realm=REALM,
                                          password=password, nonce=nonce, qop="auth", nc="00000001", cnonce="c")
        return digest.DigestCredentials(username, REALM, nonce, uri, response, qop="auth", nc="00000001",
                                        cnonce="c").to_header()


def auth_headers(shell: Shell, auth: str, source) -> tuple[tuple[str, str], ...]:
    if auth == "proxy":
        return (("Proxy-Authorization", shell.credentials(source)),)
    if auth == "header":
        return (("X-Auth-EndpointSid", PBX_SID), ("X-Auth-VoipToken", PBX_TOKEN))
    if auth == "wrong":
        return (("Proxy-Authorization", shell.credentials(source, password="wrong-token")),)
    return ()  # 'ip' (the source does it) and 'none'


def source_for(auth: str):
    return PBX if auth == "ip" else ROAMING


# ------------------------------------------------------------------ the matrix

AUTHS = ("ip", "proxy", "header", "none", "wrong")


@pytest.mark.parametrize("caller", ["customer", "pstn"])
@pytest.mark.parametrize("over_rate", [False, True], ids=["under-rate", "over-rate"])
@pytest.mark.parametrize("full", [False, True], ids=["free", "full"])
@pytest.mark.parametrize("auth", AUTHS)
def test_the_decision_matrix(auth, full, over_rate, caller):
    shell = Shell()
    load = Load(2 if full else 1, 2, over_rate, "11 new INVITEs per 0.5 s")
    source = PSTN if caller == "pstn" else source_for(auth)
    number = DID if caller == "pstn" else OUT_NUMBER
    decision = shell.decide(invite(number, *auth_headers(shell, auth, source)), source, load=load)

    if over_rate:  # load comes before authentication: a flood costs no digest work
        assert isinstance(decision, Refuse) and decision.status == 503
        assert decision.headers == (("Retry-After", str(RETRY_AFTER_CPS_S)),) and "CPS" in decision.cause
        assert "11 new INVITEs per 0.5 s" in decision.cause
    elif full:
        assert isinstance(decision, Refuse) and decision.status == 503
        assert decision.headers == (("Retry-After", str(RETRY_AFTER_BUSY_S)),) and "capacity" in decision.cause
    elif caller == "pstn":  # the carrier's own network: no authentication, inbound routing
        assert isinstance(decision, Accept) and decision.direction == "inbound"
        assert decision.targets == (PBX,) and decision.dialled == DID and decision.auth == ""
        assert decision.endpoint_sid == PBX_SID and decision.trunk_group_sid == GROUP_SID
    elif auth == "none":
        assert isinstance(decision, Refuse) and decision.status == 407 and decision.auth == "challenge"
        (name, value), = decision.headers
        assert name == "Proxy-Authenticate" and digest.parse_challenge(value).nonce == decision.nonce_issued
    elif auth == "wrong":
        assert isinstance(decision, Refuse) and decision.status == 401 and decision.auth == "proxy"
        (name, value), = decision.headers
        assert name == "WWW-Authenticate" and not digest.parse_challenge(value).stale
    else:
        assert isinstance(decision, Accept) and decision.direction == "outbound" and decision.auth == auth
        assert decision.targets == (PSTN,) and decision.dialled == OUT_NUMBER
        assert decision.endpoint_sid == PBX_SID and decision.trunk_group_sid == GROUP_SID
        assert (decision.nonce_used is not None) is (auth == "proxy")
    if isinstance(decision, Refuse):
        assert decision.explain is (decision.status not in (401, 407))  # no Warning on an auth failure
        assert decision.cause


def test_no_account_yet_is_503_with_retry_after():
    decision = decide(invite(), PBX, None, Shell().gateway(), FREE)
    assert isinstance(decision, Refuse) and decision.status == 503 and ("Retry-After", "1") in decision.headers


@pytest.mark.parametrize(("in_progress", "capacity", "busy"), [(0, 2, False), (1, 2, False), (2, 2, True),
                                                                (3, 2, True), (0, 0, True), (4, 5, False)])
def test_capacity_boundary(in_progress, capacity, busy):
    decision = Shell().decide(invite(), PBX, load=Load(in_progress, capacity, False))
    assert (isinstance(decision, Refuse) and decision.status == 503) is busy


# ------------------------------------------------------------------ protocol refusals

@pytest.mark.parametrize("source", [PBX, ROAMING, PSTN])
def test_max_forwards_zero_is_483_before_anything(source):
    message = invite(DID if source == PSTN else OUT_NUMBER)
    message = replace(message, headers=tuple((n, "0" if n == "Max-Forwards" else v) for n, v in message.headers))
    decision = Shell().decide(message, source, load=Load(5, 2, True))  # even over rate and full
    assert isinstance(decision, Refuse) and decision.status == 483 and decision.explain


def test_max_forwards_one_goes_on():
    message = invite()
    message = replace(message, headers=tuple((n, "1" if n == "Max-Forwards" else v) for n, v in message.headers))
    assert isinstance(Shell().decide(message, PBX), Accept)


def test_no_max_forwards_goes_on():
    message = invite()
    message = replace(message, headers=tuple((n, v) for n, v in message.headers if n != "Max-Forwards"))
    assert isinstance(Shell().decide(message, PBX), Accept)


@pytest.mark.parametrize(("requires", "unsupported"), [
    (("100rel",), "100rel"),
    (("precondition",), "precondition"),
    (("100rel, timer",), "100rel"),
    (("timer", "100rel, foo"), "100rel, foo"),  # two Require headers
    (("replaces",), "replaces"),  # the gateway carries no transfers
    (("Timer, Replaces",), "Replaces"),
])
def test_an_extension_we_do_not_support_is_420(requires, unsupported):
    decision = Shell().decide(invite(OUT_NUMBER, *[("Require", r) for r in requires]), ROAMING)
    assert isinstance(decision, Refuse) and decision.status == 420  # before the 407: the caller must drop it
    assert decision.headers == (("Unsupported", unsupported),) and unsupported in decision.cause


@pytest.mark.parametrize("requires", ["timer", "Timer", "norefersub", " , timer"])
def test_extensions_we_take_in_require(requires):
    assert isinstance(Shell().decide(invite(OUT_NUMBER, ("Require", requires)), PBX), Accept)


def test_supported_100rel_is_not_required():
    assert isinstance(Shell().decide(invite(OUT_NUMBER, ("Supported", "100rel, timer")), PBX), Accept)


# ------------------------------------------------------------------ the offer: only after authentication

BAD_OFFERS = {
    "no common codec": dict(formats="9 101"),
    "off loopback": dict(c="192.168.1.20"),
    "unreadable": dict(body="this is not sdp"),
    "no audio": dict(body="v=0\r\nc=IN IP4 127.0.0.10\r\nm=video 5000 RTP/AVP 31\r\n"),
}


@pytest.mark.parametrize("offer", BAD_OFFERS)
@pytest.mark.parametrize(("auth", "status"), [("none", 407), ("wrong", 401)])
def test_an_unauthenticated_bad_offer_is_never_488(offer, auth, status):
    shell = Shell()
    decision = shell.decide(invite(OUT_NUMBER, *auth_headers(shell, auth, ROAMING), **BAD_OFFERS[offer]), ROAMING)
    assert isinstance(decision, Refuse) and decision.status == status


def test_a_bad_offer_with_the_wrong_token_in_headers_is_401_not_488():
    message = invite(OUT_NUMBER, ("X-Auth-EndpointSid", PBX_SID), ("X-Auth-VoipToken", "wrong"), c="192.168.1.20")
    assert Shell().decide(message, ROAMING).status == 401


def test_a_bad_offer_outside_the_ip_restrictions_is_403_not_488():
    account = default_account(attributes=restricted("127.0.0.99"))
    shell = Shell()
    message = invite(OUT_NUMBER, *auth_headers(shell, "proxy", ROAMING), c="192.168.1.20")
    assert shell.decide(message, ROAMING, account).status == 403


@pytest.mark.parametrize("offer", BAD_OFFERS)
@pytest.mark.parametrize("auth", ["ip", "proxy", "header"])
def test_an_authenticated_bad_offer_is_488(offer, auth):
    shell = Shell()
    source = source_for(auth)
    decision = shell.decide(invite(OUT_NUMBER, *auth_headers(shell, auth, source), **BAD_OFFERS[offer]), source)
    assert isinstance(decision, Refuse) and decision.status == 488 and decision.warn_code == 305
    assert decision.direction == "outbound" and decision.auth == auth and decision.endpoint_sid == PBX_SID
    assert decision.explain and decision.nonce_issued is None


@pytest.mark.parametrize("offer", BAD_OFFERS)
def test_a_bad_offer_from_the_pstn_is_488(offer):
    decision = Shell().decide(invite(DID, **BAD_OFFERS[offer]), PSTN)
    assert isinstance(decision, Refuse) and decision.status == 488 and decision.direction == "inbound"


def test_488_off_loopback_says_why():
    decision = Shell().decide(invite(c="192.168.1.20"), PBX)
    assert "192.168.1.20" in decision.cause and "loopback" in decision.cause


def test_488_without_a_common_codec_names_both_sides():
    decision = Shell().decide(invite(formats="9 101"), PBX)
    assert decision.cause == "no codec in common: the offer has G722; the carrier offers PCMU, PCMA"


def test_the_offer_comes_before_routing():
    decision = Shell().decide(invite("bob", c="192.168.1.20"), PBX)  # also no E.164 number
    assert decision.status == 488


def test_hold_address_is_a_good_offer():
    assert isinstance(Shell().decide(invite(c="0.0.0.0"), PBX), Accept)


@pytest.mark.parametrize(("source", "number"), [(PBX, OUT_NUMBER), (PSTN, DID)])
@pytest.mark.parametrize("body", ["", "\r\n"])
def test_a_delayed_offer_is_accepted(source, number, body):
    assert isinstance(Shell().decide(invite(number, body=body), source), Accept)


# ------------------------------------------------------------------ routing refusals

@pytest.mark.parametrize(("number", "status", "words"), [
    ("12025550177", 404, "is not a phone number of this account"),  # a valid number, not ours
    ("bob", 404, "is not a phone number of this account"),
    ("12025550199", 404, "is not assigned to a trunk group"),
])
def test_inbound_routing_refusals(number, status, words):
    decision = Shell().decide(invite(number), PSTN)
    assert isinstance(decision, Refuse) and decision.status == status and words in decision.cause
    assert decision.direction == "inbound" and decision.explain


@pytest.mark.parametrize(("addresses", "words"), [
    ((EndpointAddress(3, PBX_SID, "127.0.0.10", 5060, direction="outbound"),),
     "no trunk has an endpoint address for inbound calls"),
    ((EndpointAddress(3, PBX_SID, "192.168.1.10", 5060),), "off loopback"),
    ((EndpointAddress(3, PBX_SID, "127.0.0.0/29", 5060),), "is a subnet"),
])
def test_inbound_480_when_the_trunk_has_nowhere_to_send(addresses, words):
    decision = Shell().decide(invite(DID), PSTN, default_account(addresses=addresses))
    assert isinstance(decision, Refuse) and decision.status == 480 and words in decision.cause


def test_inbound_targets_in_order_for_failover():
    addresses = (EndpointAddress(3, PBX_SID, "127.0.0.10", 5060), EndpointAddress(5, PBX_SID, "127.0.0.12", 5070))
    decision = Shell().decide(invite(DID), PSTN, default_account(addresses=addresses))
    assert decision.targets == (PBX, ("127.0.0.12", 5070))


def test_the_pstn_party_is_recognised_by_ip_and_port():
    decision = Shell().decide(invite(DID), ("127.0.0.20", 5070))  # right IP, wrong port: a customer
    assert isinstance(decision, Refuse) and decision.status == 407


@pytest.mark.parametrize("number", ["bob", "123", "*67", "0014155550123"])
def test_outbound_to_no_e164_number_is_484(number):
    decision = Shell().decide(invite(number), PBX)
    assert isinstance(decision, Refuse) and decision.status == 484 and decision.explain
    assert decision.auth == "ip" and decision.endpoint_sid == PBX_SID and "E.164" in decision.cause


def test_outbound_from_an_endpoint_in_no_trunk_group_is_403():
    decision = Shell().decide(invite(), ("127.0.0.40", 5060))  # Other PBX: IP auth works, no trunk group
    assert isinstance(decision, Refuse) and decision.status == 403 and decision.endpoint_sid == OTHER_SID
    assert "not a trunk of any trunk group" in decision.cause


def test_outbound_by_header_auth_of_an_endpoint_in_no_trunk_group_is_403():
    message = invite(OUT_NUMBER, ("X-Auth-EndpointSid", OTHER_SID), ("X-Auth-VoipToken", OTHER_TOKEN))
    assert Shell().decide(message, ROAMING).status == 403


def test_a_second_trunk_group_routes_its_own_endpoint():
    account = default_account()
    group = replace(account.trunk_groups[0], trunk_group_sid="group-2", name="Other group",
                    trunks=(Trunk("trunk-2", "group-2", OTHER_SID, "Other trunk"),))
    account = replace(account, trunk_groups=account.trunk_groups + (group,))
    decision = Shell().decide(invite(), ("127.0.0.40", 5060), account)
    assert isinstance(decision, Accept) and decision.trunk_group_sid == "group-2"


@pytest.mark.parametrize("number", ["+14155550123", "14155550123"])
def test_the_dialled_number_is_e164_digits(number):
    assert Shell().decide(invite(number), PBX).dialled == "14155550123"


# ------------------------------------------------------------------ caller ID

@pytest.mark.parametrize(("from_user", "caller"), [
    ("+12025550100", "+12025550100"),
    ("12025550100", "+12025550100"),  # E.164 with '+' on the B leg, however the caller wrote it
    ("%2B12025550100", "+12025550100"),  # percent-escaped '+'
    ("alice", "alice"),  # not a number: passed as is
    ("1001", "1001"),  # an extension
])
@pytest.mark.parametrize(("source", "number"), [(PBX, OUT_NUMBER), (PSTN, DID)])
def test_caller_id_in_e164_with_plus_on_both_directions(from_user, caller, source, number):
    decision = Shell().decide(invite(number, from_user=from_user), source)
    assert isinstance(decision, Accept) and decision.caller == caller and decision.asserted == caller


@pytest.mark.parametrize(("pai", "asserted"), [
    ("<sip:+14155550199@carrier.example>", "+14155550199"),
    ("<sip:14155550199@127.0.0.10;user=phone>", "+14155550199"),
    ("<tel:+14155550199>", "+14155550199"),
    ('"Reception" <sip:reception@127.0.0.10>', "reception"),
    ("<sip:+14155550199@h>, <tel:+14155550199>", "+14155550199"),  # two identities: the first
])
def test_p_asserted_identity_is_passed_on(pai, asserted):
    decision = Shell().decide(invite(OUT_NUMBER, ("P-Asserted-Identity", pai)), PBX)
    assert decision.asserted == asserted and decision.caller == "+12025550100"


def test_p_asserted_identity_without_a_user_falls_back_to_the_caller():
    caller, asserted = caller_id(invite(OUT_NUMBER, ("P-Asserted-Identity", "<sip:127.0.0.10>")))
    assert (caller, asserted) == ("+12025550100", "+12025550100")


def test_a_from_without_a_user_is_anonymous():
    message = invite()
    message = replace(message, headers=tuple((n, "<sip:127.0.0.11>;tag=f" if n == "From" else v)
                                             for n, v in message.headers))
    assert caller_id(message) == ("anonymous", "anonymous")


@pytest.mark.parametrize(("user", "expected"), [
    ("+12025550100", "+12025550100"), ("1 (202) 555-0100", "+12025550100"), ("bob", None), (None, None), ("", None),
])
def test_e164(user, expected):
    assert e164(user) == expected
