"""sip.edge.proxy: the carrier edge as a state machine, datagram by datagram, without sockets.

The edge sits at G (127.0.0.2:5060); pjsua listens behind it on 127.0.0.2:15060. Every test
feeds it what a peer or pjsua would send and reads what it sends where (EDGE-SPEC.md): what it
answers itself, what it forwards and how it rewrites it, and what its timers do.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from sip import digest
from sip.auth import REALM
from sip.edge import wire
from sip.edge.decide import Accept, Refuse
from sip.edge.proxy import (
    A_LEG_HEADER,
    ADMIT_UNSEEN_S,
    ALLOW,
    DECISION_HEADER,
    FINAL_GRACE_S,
    RING_TIMEOUT_S,
    LINGER_S,
    WHY_HEADER,
    Context,
    Decided,
    Edge,
    Send,
    Wire,
    decode_decision,
)
from sip.sipmsg import SipMessage, parse_message
from tests.support.accounts import GROUP_SID, PBX_SID, PBX_TOKEN, default_account

T0 = 1_800_000_000.0
G = ("127.0.0.2", 5060)
B2BUA = ("127.0.0.2", 15060)
PBX = ("127.0.0.10", 5060)  # the PBX endpoint's address: IP-based authentication
ROAMING = ("127.0.0.11", 5060)  # the PBX from elsewhere: must authenticate
PSTN = ("127.0.0.20", 5060)  # the carrier's PSTN side
OUT_NUMBER = "14155550123"
DID = "12025550100"
B_TIMEOUT = 1.5
SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n")
PJ_CONTACT = "<sip:127.0.0.2:15060;ob>"


def build(start: str, headers, body: str = "") -> bytes:
    lines = [start] + [f"{n}: {v}" for n, v in headers]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def outside_request(method: str, source=PBX, *, number: str = OUT_NUMBER, call_id: str = "a-1@pbx", cseq: int = 1,
                    branch: str = "z9hG4bK-a1", to_tag: str | None = None, headers=(), body: str | None = None,
                    max_forwards: str = "70", via_host: str | None = None) -> bytes:
    """A request as a peer at `source` sends it to G."""
    if body is None:
        body = SDP.format(ip=source[0]) if method == "INVITE" else ""
    to = f"<sip:{number}@127.0.0.2>" + (f";tag={to_tag}" if to_tag else "")
    host = via_host or f"{source[0]}:{source[1]}"
    return build(f"{method} sip:{number}@127.0.0.2:5060 SIP/2.0", [
        ("Via", f"SIP/2.0/UDP {host};rport;branch={branch}"),
        ("Max-Forwards", max_forwards),
        ("From", f"<sip:+12025550100@{source[0]}>;tag=from-{call_id}"),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", f"<sip:pbx@{source[0]}:{source[1]}>"),
        *headers,
    ], body)


def read(data: bytes) -> SipMessage:
    message = wire.read(data)
    assert isinstance(message, SipMessage), data
    return message


def answer_to(request: SipMessage, status: int, *, to_tag: str = "pj-tag", headers=(), body: str = "",
              reason: str = "pjsip words", contact: str | None = PJ_CONTACT) -> bytes:
    """The response a UAS (pjsua, or a peer) sends to `request` as it received it."""
    echoed = [(n, v) for n, v in request.headers if wire.canonical_name(n) in ("via", "from", "call-id", "cseq",
                                                                               "record-route")]
    to = request.header("To") or ""
    if status > 100 and not wire.has_tag(to):
        to += f";tag={to_tag}"
    lines = echoed + [("To", to)] + ([("Contact", contact)] if contact and status < 300 and status > 100 else [])
    return build(f"SIP/2.0 {status} {reason}", lines + list(headers), body)


class Lab:
    """An edge at G with pjsua behind it, the default account, and a clock the test moves."""

    def __init__(self, **options) -> None:
        options.setdefault("b_leg_timeout_s", B_TIMEOUT)
        counter = itertools.count(1)
        self.edge = Edge(G, B2BUA, secret=b"test secret", new_nonce=lambda: f"nonce-{next(counter)}", **options)
        self.now = T0
        self.account = default_account()

    def rx(self, data: bytes, source) -> list:
        return self.edge.receive(data, source, Context(self.account, self.now))

    def tick(self, seconds: float = 0.0) -> list:
        self.now += seconds
        return self.edge.tick(self.now)

    # -- a call from outside, accepted and forwarded to pjsua

    def accept(self, source=PBX, **request) -> SipMessage:
        outputs = self.rx(outside_request("INVITE", source, **request), source)
        (forwarded,) = to(B2BUA, outputs)
        return forwarded

    def taken_up(self, source=PBX, **request) -> SipMessage:
        forwarded = self.accept(source, **request)
        self.edge.call_started(forwarded.call_id)
        return forwarded

    # -- a B leg pjsua places through the edge

    def b_leg(self, a_call_id: str = "a-1@pbx", *, target=PSTN, call_id: str = "b-1@pj", cseq: int = 4711,
              branch: str = "z9hG4bKPj.ab-c.d3f", headers=(), body: str | None = None) -> bytes:
        body = SDP.format(ip="127.0.0.2") if body is None else body
        return build(f"INVITE sip:{OUT_NUMBER}@{target[0]}:{target[1]} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP 127.0.0.2:15060;rport;branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:+12025550100@127.0.0.2:5060>;tag=pj-from-{call_id}"),
            ("To", f"<sip:{OUT_NUMBER}@{target[0]}:{target[1]}>"),
            ("Contact", PJ_CONTACT),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} INVITE"),
            ("Route", "<sip:127.0.0.2:5060;lr>"),
            (A_LEG_HEADER, a_call_id),
            ("P-Asserted-Identity", "<sip:+12025550100@127.0.0.2:5060>"),
            *headers,
        ], body)


def sends(outputs) -> list[tuple[tuple[str, int], bytes]]:
    return [(o.to, o.data) for o in outputs if isinstance(o, Send)]


def to(address, outputs) -> list[SipMessage]:
    """What the outputs send to `address`, parsed."""
    return [read(data) for where, data in sends(outputs) if where == address]


def only(address, outputs) -> SipMessage:
    """The one message sent, which must go to `address`."""
    assert [where for where, _ in sends(outputs)] == [address], sends(outputs)
    return to(address, outputs)[0]


def decisions(outputs) -> list:
    return [o.decision for o in outputs if isinstance(o, Decided)]


def vias(message: SipMessage) -> list[str]:
    return wire.via_values(message)


def warning(message: SipMessage) -> str:
    return message.header("Warning") or ""


# ================================================================== what the edge answers itself

@pytest.mark.parametrize("to_tag", [None, "in-dialog"])
def test_options_is_200_with_allow_and_accept(to_tag):
    lab = Lab()
    answer = only(PBX, lab.rx(outside_request("OPTIONS", to_tag=to_tag), PBX))
    assert answer.status_code == 200 and answer.reason == "OK"
    assert answer.header("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS" == ALLOW
    assert answer.header("Accept") == "application/sdp"


def test_options_needs_no_authentication():
    lab = Lab()
    assert only(ROAMING, lab.rx(outside_request("OPTIONS", ROAMING), ROAMING)).status_code == 200


def test_register_is_405_with_allow_and_a_reason():
    lab = Lab()
    answer = only(ROAMING, lab.rx(outside_request("REGISTER", ROAMING), ROAMING))
    assert (answer.status_code, answer.reason) == (405, "Method Not Allowed") and answer.header("Allow") == ALLOW
    assert "registrations" in warning(answer) and warning(answer).startswith('399 127.0.0.2 "')


@pytest.mark.parametrize("method", ["REFER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "INFO", "UPDATE", "PRACK"])
@pytest.mark.parametrize("to_tag", [None, "in-dialog"])
def test_methods_the_gateway_does_not_carry_are_405(method, to_tag):
    lab = Lab()
    answer = only(PBX, lab.rx(outside_request(method, to_tag=to_tag), PBX))
    assert answer.status_code == 405 and answer.header("Allow") == ALLOW and method in warning(answer)


@pytest.mark.parametrize("method", ["REFER", "INFO", "UPDATE"])
def test_a_refer_inside_a_call_is_never_acted_on(method):
    lab = Lab()
    forwarded = lab.taken_up()
    lab.rx(answer_to(forwarded, 200), B2BUA)
    outputs = lab.rx(outside_request(method, to_tag="pj-tag", cseq=2, branch="z9hG4bK-r",
                                     headers=[("Refer-To", "<sip:14155550199@127.0.0.20>")]), PBX)
    assert only(PBX, outputs).status_code == 405 and to(B2BUA, outputs) == []


@pytest.mark.parametrize("method", ["FOO", "HELLO", "invite", "Bye"])
def test_an_unknown_method_is_501(method):
    lab = Lab()
    answer = only(PBX, lab.rx(outside_request(method), PBX))
    assert (answer.status_code, answer.reason) == (501, "Not Implemented") and answer.header("Allow") == ALLOW


@pytest.mark.parametrize(("method", "to_tag"), [("BYE", "x"), ("BYE", None), ("CANCEL", None), ("INVITE", "x")])
def test_requests_for_a_call_the_gateway_does_not_carry_are_481(method, to_tag):
    lab = Lab()
    answer = only(PBX, lab.rx(outside_request(method, to_tag=to_tag, body=""), PBX))
    assert (answer.status_code, answer.reason) == (481, "Call/Transaction Does Not Exist")
    assert warning(answer).startswith("399 127.0.0.2")
    assert lab.edge.counters.accepted == 0 and decisions(lab.rx(outside_request("BYE", to_tag="y"), PBX)) == []


@pytest.mark.parametrize("to_tag", [None, "x"])
def test_an_ack_for_nothing_is_absorbed(to_tag):
    lab = Lab()
    assert sends(lab.rx(outside_request("ACK", to_tag=to_tag), PBX)) == []


def test_answers_go_to_the_source_never_to_the_via_host():
    lab = Lab()
    data = outside_request("OPTIONS", ROAMING, via_host="192.168.1.20:5060")
    answer = only(ROAMING, lab.rx(data, ROAMING))
    assert vias(answer) == ["SIP/2.0/UDP 192.168.1.20:5060;rport;branch=z9hG4bK-a1"]  # echoed, not followed


@pytest.mark.parametrize(("method", "to_tag"), [("OPTIONS", None), ("REGISTER", None), ("REFER", "x"), ("FOO", None),
                                             ("BYE", "x"), ("INVITE", "x")])
def test_a_retransmission_gets_the_very_same_answer(method, to_tag):
    lab = Lab()
    first = lab.rx(outside_request(method, to_tag=to_tag), PBX)
    lab.now += 4
    assert sends(lab.rx(outside_request(method, to_tag=to_tag), PBX)) == sends(first)


def test_own_answers_carry_a_to_tag_and_standard_headers():
    lab = Lab()
    request = read(outside_request("REGISTER"))
    answer = only(PBX, lab.rx(outside_request("REGISTER"), PBX))
    assert answer.call_id == request.call_id and answer.header("CSeq") == "1 REGISTER"
    assert answer.header("From") == request.header("From") and vias(answer) == vias(request)
    assert answer.header("To").startswith(request.header("To") + ";tag=")


# ------------------------------------------------------------------ what makes no sense

@pytest.mark.parametrize(("data", "status"), [
    (outside_request("INVITE").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), 400),
    (outside_request("INVITE").replace(b"Max-Forwards: 70", b"Max-Forwards: lots"), 400),
    (outside_request("INVITE").replace(b"Contact:", b"Contact"), 400),
    (outside_request("INVITE")[:-30], 400),  # truncated
    (outside_request("INVITE").replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505),
    (outside_request("INVITE", headers=[("X-Pad", "p" * 4000)]), 513),
])
def test_a_malformed_request_is_answered_with_a_warning(data, status):
    lab = Lab()
    outputs = lab.rx(data, ROAMING)
    answer = only(ROAMING, outputs)
    assert answer.status_code == status and answer.reason == wire.reason_for(status)
    assert warning(answer).startswith('399 127.0.0.2 "') and ";tag=" in answer.header("To")
    assert lab.edge.counters.malformed == 1 and decisions(outputs) == []
    assert lab.rx(data, ROAMING) == outputs  # a retransmission gets the very same bytes


@pytest.mark.parametrize("data", [
    b"", b"\r\n\r\n", b"garbage", b"\x00\xff" * 10,
    outside_request("INVITE").replace(b"Via: SIP/2.0/UDP 127.0.0.10:5060;rport;branch=z9hG4bK-a1\r\n", b""),
    outside_request("ACK").replace(b"CSeq: 1 ACK", b"CSeq: 1 BYE"),
    build("SIP/2.0 200 OK", [("Via", "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-nothing-of-ours"),
                             ("From", "<sip:a@b>;tag=1"), ("To", "<sip:b@c>;tag=2"), ("Call-ID", "x"),
                             ("CSeq", "1 INVITE")]),
])
def test_nonsense_and_stray_responses_are_dropped(data):
    lab = Lab()
    assert sends(lab.rx(data, ROAMING)) == []


def test_counters():
    lab = Lab()
    lab.rx(b"garbage", ROAMING)
    lab.rx(outside_request("INVITE").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), ROAMING)
    lab.rx(outside_request("INVITE", ROAMING, call_id="c-2"), ROAMING)  # 407
    lab.accept()
    counters = lab.edge.counters
    assert (counters.received, counters.dropped, counters.malformed, counters.refused, counters.accepted) == (4, 1, 1, 1, 1)


# ================================================================== new INVITEs: refused

def test_a_challenge_and_its_retransmission_are_byte_identical():
    lab = Lab()
    first = lab.rx(outside_request("INVITE", ROAMING), ROAMING)
    answer = only(ROAMING, first)
    assert answer.status_code == 407 and answer.header("Proxy-Authenticate")
    again = lab.rx(outside_request("INVITE", ROAMING), ROAMING)
    assert sends(again) == sends(first) and decisions(again) == []  # not decided again
    assert len(lab.edge.nonces) == 1  # one nonce, not one per retransmission


def test_the_ack_of_a_refusal_is_absorbed_and_its_cancel_gets_200():
    lab = Lab()
    lab.rx(outside_request("INVITE", ROAMING), ROAMING)
    assert sends(lab.rx(outside_request("ACK", ROAMING, to_tag="t", body=""), ROAMING)) == []
    cancel = only(ROAMING, lab.rx(outside_request("CANCEL", ROAMING, body=""), ROAMING))
    assert cancel.status_code == 200 and cancel.header("CSeq") == "1 CANCEL"


def test_retransmissions_of_a_refused_invite_do_not_count_against_the_cps_limit():
    lab = Lab(max_new_invites=2)
    lab.rx(outside_request("INVITE", ROAMING, call_id="c-1"), ROAMING)
    for _ in range(10):
        lab.rx(outside_request("INVITE", ROAMING, call_id="c-1"), ROAMING)
    # one more new INVITE is within the limit of 2
    assert isinstance(decisions(lab.rx(outside_request("INVITE", PBX, call_id="c-2"), PBX))[0], Accept)
    assert isinstance(decisions(lab.rx(outside_request("INVITE", PBX, call_id="c-3"), PBX))[0], Refuse)


@pytest.mark.parametrize("cseqs", [[1] * 12, [2] * 12, list(range(1, 13)), [7, 1, 99, 2, 3, 5, 8, 13, 21, 34, 55, 89]])
def test_the_cps_limit_counts_every_new_invite_whatever_its_cseq(cseqs):
    lab = Lab()
    statuses = []
    for i, cseq in enumerate(cseqs):
        outputs = lab.rx(outside_request("INVITE", ROAMING, call_id=f"flood-{i}", cseq=cseq), ROAMING)
        statuses.append(only(ROAMING, outputs).status_code)
    assert statuses == [407] * 11 + [503]
    last = read(sends(outputs)[0][1])
    assert last.header("Retry-After") == "1" and "CPS" in warning(last)


def test_the_cps_window_slides():
    lab = Lab()
    for i in range(11):
        lab.rx(outside_request("INVITE", ROAMING, call_id=f"c-{i}"), ROAMING)
    assert only(ROAMING, lab.rx(outside_request("INVITE", ROAMING, call_id="late"), ROAMING)).status_code == 503
    lab.now += 0.5
    assert only(ROAMING, lab.rx(outside_request("INVITE", ROAMING, call_id="later"), ROAMING)).status_code == 407


def test_in_dialog_requests_do_not_count_against_the_cps_limit():
    lab = Lab(max_new_invites=1)
    forwarded = lab.taken_up()
    lab.rx(answer_to(forwarded, 200), B2BUA)
    for n in range(2, 8):
        lab.rx(outside_request("INVITE", to_tag="pj-tag", cseq=n, branch=f"z9hG4bK-re{n}"), PBX)
    lab.now += 1
    assert isinstance(decisions(lab.rx(outside_request("INVITE", call_id="new"), PBX))[0], Accept)


def test_at_capacity_503_with_retry_after():
    lab = Lab()
    lab.taken_up(call_id="c-1")
    lab.taken_up(call_id="c-2")
    answer = only(PBX, lab.rx(outside_request("INVITE", call_id="c-3"), PBX))
    assert (answer.status_code, answer.header("Retry-After")) == (503, "5") and "capacity" in warning(answer)


def test_an_ended_call_frees_its_slot():
    lab = Lab()
    lab.taken_up(call_id="c-1")
    lab.taken_up(call_id="c-2")
    lab.edge.call_ended("c-1", lab.now)
    assert isinstance(decisions(lab.rx(outside_request("INVITE", call_id="c-3"), PBX))[0], Accept)


def test_an_accepted_invite_pjsua_never_took_up_stops_counting():
    lab = Lab()
    lab.accept(call_id="c-1")
    lab.accept(call_id="c-2")
    assert lab.edge.in_progress(lab.now) == 2
    lab.now += ADMIT_UNSEEN_S
    assert lab.edge.in_progress(lab.now) == 0
    assert isinstance(decisions(lab.rx(outside_request("INVITE", call_id="c-3"), PBX))[0], Accept)


def test_a_refused_invite_says_why_in_a_warning():
    lab = Lab()
    answer = only(PSTN, lab.rx(outside_request("INVITE", PSTN, number="12025550177"), PSTN))
    assert answer.status_code == 404 and "is not a phone number of this account" in warning(answer)


def test_authentication_failures_carry_no_warning():
    lab = Lab()
    answer = only(ROAMING, lab.rx(outside_request("INVITE", ROAMING), ROAMING))
    assert answer.status_code == 407 and answer.header("Warning") is None


def test_a_bad_offer_before_authentication_is_407_and_after_it_488():
    lab = Lab()
    bad = SDP.format(ip="192.168.1.20")
    assert only(ROAMING, lab.rx(outside_request("INVITE", ROAMING, body=bad), ROAMING)).status_code == 407
    answer = only(PBX, lab.rx(outside_request("INVITE", PBX, call_id="c-2", body=bad), PBX))
    assert answer.status_code == 488 and warning(answer).startswith('305 127.0.0.2 "') and "loopback" in warning(answer)


def test_an_unreadable_port_in_the_offer_is_488_not_an_exception():
    lab = Lab()
    bad = SDP.format(ip="127.0.0.10").replace("m=audio 4000", "m=audio \u00b2")
    assert only(PBX, lab.rx(outside_request("INVITE", PBX, body=bad), PBX)).status_code == 488


def test_no_account_yet_is_503():
    lab = Lab()
    lab.account = None
    answer = only(PBX, lab.rx(outside_request("INVITE"), PBX))
    assert answer.status_code == 503 and answer.header("Retry-After")


def test_max_forwards_zero_is_483():
    lab = Lab()
    assert only(PBX, lab.rx(outside_request("INVITE", max_forwards="0"), PBX)).status_code == 483


def test_require_100rel_is_420_with_unsupported():
    lab = Lab()
    answer = only(PBX, lab.rx(outside_request("INVITE", headers=[("Require", "100rel")]), PBX))
    assert (answer.status_code, answer.header("Unsupported")) == (420, "100rel")


# ================================================================== new INVITEs: accepted and forwarded

def test_an_accepted_invite_goes_to_pjsua_with_our_via_record_route_and_the_decision():
    lab = Lab()
    outputs = lab.rx(outside_request("INVITE", max_forwards="42"), PBX)
    forwarded = only(B2BUA, outputs)
    (decision,) = decisions(outputs)
    assert isinstance(decision, Accept) and decision.auth == "ip" and decision.trunk_group_sid == GROUP_SID
    ours, theirs = vias(forwarded)
    via = wire.parse_via(ours)
    assert (via.host, via.port) == G and via.branch.startswith("z9hG4bK.in.")
    assert theirs == "SIP/2.0/UDP 127.0.0.10:5060;rport;branch=z9hG4bK-a1"
    assert forwarded.headers_named("Record-Route") == ["<sip:127.0.0.2:5060;lr>"]
    assert forwarded.header("Max-Forwards") == "41"
    carried = decode_decision(forwarded.header(DECISION_HEADER))
    assert carried == {"direction": "outbound", "targets": [list(PSTN)], "dialled": OUT_NUMBER,
                       "caller": "+12025550100", "asserted": "+12025550100", "max_forwards": 42}
    assert forwarded.body == SDP.format(ip="127.0.0.10") and forwarded.request_uri == read(
        outside_request("INVITE")).request_uri
    assert [o for o in outputs if isinstance(o, Wire)][0].direction == "rx"


def test_internal_headers_from_outside_are_stripped():
    lab = Lab()
    forged = [(DECISION_HEADER, "eyJ0YXJnZXRzIjogW1siMTAuMC4wLjEiLCA1MDYwXV19"), ("x-trunklab-why", "x"),
              ("X-TRUNKLAB-A-LEG", "b-1")]
    forwarded = lab.accept(headers=forged)
    assert len(forwarded.headers_named(DECISION_HEADER)) == 1
    assert decode_decision(forwarded.header(DECISION_HEADER))["targets"] == [list(PSTN)]
    assert forwarded.header(WHY_HEADER) is None and forwarded.header(A_LEG_HEADER) is None


def test_a_delayed_offer_is_forwarded_without_a_body():
    lab = Lab()
    forwarded = lab.accept(body="")
    assert forwarded.body == "" and forwarded.header("Content-Type") is None


def test_a_pstn_call_is_forwarded_inbound():
    lab = Lab()
    forwarded = lab.accept(PSTN, number=DID)
    assert decode_decision(forwarded.header(DECISION_HEADER))["targets"] == [list(PBX)]


def test_a_digest_call_challenged_then_accepted_and_its_header_never_again():
    lab = Lab()
    challenge = only(ROAMING, lab.rx(outside_request("INVITE", ROAMING), ROAMING))
    nonce = digest.parse_challenge(challenge.header("Proxy-Authenticate")).nonce
    uri = f"sip:{OUT_NUMBER}@127.0.0.2:5060"
    response = digest.digest_response(method="INVITE", uri=uri, username=PBX_SID, realm=REALM, password=PBX_TOKEN,
                                      nonce=nonce, qop="auth", nc="00000001", cnonce="c1")
    creds = digest.DigestCredentials(PBX_SID, REALM, nonce, uri, response, qop="auth", nc="00000001",
                                     cnonce="c1").to_header()
    signed = outside_request("INVITE", ROAMING, cseq=2, branch="z9hG4bK-a2", headers=[("Proxy-Authorization", creds)])
    assert decisions(lab.rx(signed, ROAMING))[0].auth == "proxy"
    lab.edge.call_started("a-1@pbx")
    # the same header on another call, another number: challenged again (stale), no call
    replay = outside_request("INVITE", ROAMING, call_id="a-2@pbx", number="14155550199", branch="z9hG4bK-x",
                             headers=[("Proxy-Authorization", creds)])
    answer = only(ROAMING, lab.rx(replay, ROAMING))
    assert answer.status_code == 407 and "stale=true" in answer.header("Proxy-Authenticate")
    # the same INVITE again, after its call ended and its retransmissions are long over
    lab.edge.call_ended("a-1@pbx", lab.now)
    lab.tick(LINGER_S + 1)
    answer = only(ROAMING, lab.rx(signed, ROAMING))
    assert answer.status_code == 407 and "stale=true" in answer.header("Proxy-Authenticate")


def test_an_ended_call_s_invite_sent_again_with_another_branch_is_not_a_new_call():
    lab = Lab()
    lab.taken_up()
    lab.edge.call_ended("a-1@pbx", lab.now)
    lab.now += 1
    assert sends(lab.rx(outside_request("INVITE"), PBX)) == []  # a late retransmission
    assert sends(lab.rx(outside_request("INVITE", branch="z9hG4bK-other"), PBX)) == []


def test_a_retransmission_of_an_accepted_invite_goes_to_pjsua_undecided():
    lab = Lab()
    first = lab.taken_up()
    outputs = lab.rx(outside_request("INVITE"), PBX)
    again = only(B2BUA, outputs)
    assert decisions(outputs) == [] and vias(again)[0] == vias(first)[0]  # same branch: pjsua sees a retransmission
    assert lab.edge.counters.accepted == 1


def test_an_in_dialog_request_is_forwarded_one_hop_less():
    lab = Lab()
    forwarded = lab.taken_up()
    lab.rx(answer_to(forwarded, 200), B2BUA)
    bye = only(B2BUA, lab.rx(outside_request("BYE", to_tag="pj-tag", cseq=2, branch="z9hG4bK-bye",
                                             max_forwards="9", headers=[("Route", "<sip:127.0.0.2:5060;lr>")]), PBX))
    assert bye.method == "BYE" and bye.header("Max-Forwards") == "8" and bye.header("Route") is None
    assert vias(bye)[1] == "SIP/2.0/UDP 127.0.0.10:5060;rport;branch=z9hG4bK-bye"


def test_a_cancel_reaches_pjsua_on_the_invite_s_branch():
    lab = Lab()
    forwarded = lab.taken_up()
    cancel = only(B2BUA, lab.rx(outside_request("CANCEL", body=""), PBX))
    assert cancel.method == "CANCEL" and vias(cancel)[0] == vias(forwarded)[0]


def test_the_ack_of_the_200_reaches_pjsua():
    lab = Lab()
    forwarded = lab.taken_up()
    lab.rx(answer_to(forwarded, 200), B2BUA)
    ack = only(B2BUA, lab.rx(outside_request("ACK", to_tag="pj-tag", body="", branch="z9hG4bK-ack"), PBX))
    assert ack.method == "ACK"


@pytest.mark.parametrize(("ip", "forwarded"), [("127.0.0.10", True), ("0.0.0.0", True), ("192.168.1.20", False)])
def test_a_re_invite_may_not_move_rtp_off_loopback(ip, forwarded):
    lab = Lab()
    lab.rx(answer_to(lab.taken_up(), 200), B2BUA)
    reinvite = outside_request("INVITE", to_tag="pj-tag", cseq=2, branch="z9hG4bK-re",
                               body=SDP.format(ip=ip) + "a=sendonly\r\n")
    outputs = lab.rx(reinvite, PBX)
    if forwarded:
        assert only(B2BUA, outputs).method == "INVITE"
    else:
        answer = only(PBX, outputs)
        assert answer.status_code == 488 and warning(answer).startswith("305 127.0.0.2") and "loopback" in warning(answer)


@pytest.mark.parametrize("body", [
    SDP.format(ip="codec.example.com"),  # a host name (pjsua would look it up) that happens to say 'codec'
    SDP.format(ip="127.0.0.10").replace("m=audio 4000 RTP/AVP 0 8 101", "m=audio codec RTP/AVP 0"),
    "v=0\r\nc=IN IP4 127.0.0.10\r\nm=video 5000 RTP/AVP 31\r\n",  # no audio
])
def test_a_re_invite_pjsua_must_not_see_is_488_whatever_its_words(body):
    lab = Lab()
    lab.rx(answer_to(lab.taken_up(), 200), B2BUA)
    reinvite = outside_request("INVITE", to_tag="pj-tag", cseq=2, branch="z9hG4bK-re", body=body)
    assert only(PBX, lab.rx(reinvite, PBX)).status_code == 488


def test_a_re_invite_with_a_codec_pjsua_may_refuse_is_forwarded():
    lab = Lab()
    lab.rx(answer_to(lab.taken_up(), 200), B2BUA)
    reinvite = outside_request("INVITE", to_tag="pj-tag", cseq=2, branch="z9hG4bK-re",
                               body=SDP.format(ip="127.0.0.10").replace("0 8 101", "9"))
    assert only(B2BUA, lab.rx(reinvite, PBX)).method == "INVITE"


# ================================================================== pjsua's answers to the caller

def test_pjsua_s_responses_go_back_to_the_caller_without_our_via():
    lab = Lab()
    forwarded = lab.taken_up()
    for status, reason in ((100, "Trying"), (180, "Ringing"), (200, "OK")):
        outputs = lab.rx(answer_to(forwarded, status, body=SDP.format(ip="127.0.0.2") if status == 200 else ""),
                         B2BUA)
        answer = only(PBX, outputs)
        assert (answer.status_code, answer.reason) == (status, reason)  # pjsua's own words replaced
        assert vias(answer) == ["SIP/2.0/UDP 127.0.0.10:5060;rport;branch=z9hG4bK-a1"]
        assert [o.direction for o in outputs if isinstance(o, Wire)] == ["tx"]
    assert answer.header("Contact") == "<sip:127.0.0.2:5060;ob>"  # the public address, not pjsua's port
    assert answer.headers_named("Record-Route") == ["<sip:127.0.0.2:5060;lr>"]
    assert answer.body == SDP.format(ip="127.0.0.2")


def test_a_response_goes_to_where_the_request_came_from():
    lab = Lab()
    forwarded = lab.taken_up(ROAMING, headers=[("X-Auth-EndpointSid", PBX_SID), ("X-Auth-VoipToken", PBX_TOKEN)],
                             via_host="10.9.9.9:5060")
    assert only(ROAMING, lab.rx(answer_to(forwarded, 180), B2BUA)).status_code == 180


def test_pjsua_s_486_becomes_503_with_retry_after():
    lab = Lab()
    answer = only(PBX, lab.rx(answer_to(lab.taken_up(), 486, reason="Busy Here"), B2BUA))
    assert (answer.status_code, answer.reason, answer.header("Retry-After")) == (503, "Service Unavailable", "5")
    assert "no free line" in warning(answer)


def test_a_486_the_gateway_means_is_passed_on():
    lab = Lab()
    answer = only(PBX, lab.rx(answer_to(lab.taken_up(), 486, headers=[(WHY_HEADER, "the trunk answered 486")]),
                              B2BUA))
    assert answer.status_code == 486 and answer.header("Retry-After") is None


def test_why_becomes_a_warning_and_never_leaves():
    lab = Lab()
    answer = only(PBX, lab.rx(answer_to(lab.taken_up(), 408, headers=[
        (WHY_HEADER, 'no answer from 127.0.0.20:5060 in 1.5 s "quoted" \\ back'),
        ("X-Trunklab-Other", "internal")]), B2BUA))
    assert answer.status_code == 408 and answer.header(WHY_HEADER) is None and answer.header("X-Trunklab-Other") is None
    assert warning(answer) == "399 127.0.0.2 \"no answer from 127.0.0.20:5060 in 1.5 s 'quoted' / back\""


@pytest.mark.parametrize("status", [183, 200])
def test_a_why_on_a_success_is_not_a_warning(status):
    lab = Lab()
    answer = only(PBX, lab.rx(answer_to(lab.taken_up(), status, headers=[(WHY_HEADER, "x")]), B2BUA))
    assert answer.header("Warning") is None and answer.header(WHY_HEADER) is None


def test_a_final_refusal_ends_the_call():
    lab = Lab()
    lab.rx(answer_to(lab.taken_up(), 480, headers=[(WHY_HEADER, "no target answered")]), B2BUA)
    assert lab.edge.in_progress(lab.now) == 0


def test_a_refused_re_invite_does_not_end_the_call():
    lab = Lab()
    lab.rx(answer_to(lab.taken_up(), 200), B2BUA)
    reinvite = lab.rx(outside_request("INVITE", to_tag="pj-tag", cseq=2, branch="z9hG4bK-re"), PBX)
    assert only(PBX, lab.rx(answer_to(only(B2BUA, reinvite), 488), B2BUA)).status_code == 488
    assert lab.edge.in_progress(lab.now) == 1  # the call still holds its slot
    lab.tick(LINGER_S + 1)
    bye = lab.rx(outside_request("BYE", to_tag="pj-tag", cseq=3, branch="z9hG4bK-bye", body=""), PBX)
    assert only(B2BUA, bye).method == "BYE"  # and the caller can still hang up


@pytest.mark.parametrize("branch", ["z9hG4bK.in.aaaa.bbbb.cccc", "z9hG4bK-random", "z9hG4bK.in.x", ""])
def test_a_response_from_pjsua_with_a_branch_we_did_not_make_is_dropped(branch):
    lab = Lab()
    forwarded = lab.taken_up()
    good = vias(forwarded)[0]
    forged = answer_to(forwarded, 200).replace(good.encode(), f"SIP/2.0/UDP 127.0.0.2:5060;branch={branch}".encode())
    assert sends(lab.rx(forged, B2BUA)) == []


def test_a_branch_made_by_another_edge_is_dropped():
    forwarded = Lab().taken_up()
    other = Edge(G, B2BUA, secret=b"another secret", new_nonce=lambda: "n")
    assert other.receive(answer_to(forwarded, 200), B2BUA, Context(default_account(), T0)) == []


def test_pjsua_s_bye_to_the_caller_goes_to_where_the_caller_sends_from():
    lab = Lab()
    forwarded = lab.taken_up(ROAMING, headers=[("X-Auth-EndpointSid", PBX_SID), ("X-Auth-VoipToken", PBX_TOKEN)])
    lab.rx(answer_to(forwarded, 200), B2BUA)
    bye = build("BYE sip:pbx@192.168.1.20:5060 SIP/2.0", [  # the caller's Contact: never followed off loopback
        ("Via", "SIP/2.0/UDP 127.0.0.2:15060;rport;branch=z9hG4bKPj-bye"), ("Max-Forwards", "70"),
        ("From", "<sip:127.0.0.2>;tag=pj-tag"), ("To", forwarded.header("From")), ("Call-ID", forwarded.call_id),
        ("CSeq", "1 BYE"), ("Route", "<sip:127.0.0.2:5060;lr>")])
    sent = only(ROAMING, lab.rx(bye, B2BUA))
    assert sent.method == "BYE" and sent.header("Route") is None
    (via,) = vias(sent)
    assert wire.parse_via(via).host == "127.0.0.2" and wire.parse_via(via).port == 5060
    # the caller's 200 comes back to pjsua with pjsua's Via
    ok = answer_to(sent, 200, contact=None)
    back = only(B2BUA, lab.rx(ok, ROAMING))
    assert vias(back) == ["SIP/2.0/UDP 127.0.0.2:15060;rport=15060;branch=z9hG4bKPj-bye"]


def test_a_request_from_pjsua_in_no_call_is_refused_to_pjsua():
    lab = Lab()
    bye = build("BYE sip:pbx@127.0.0.10:5060 SIP/2.0", [
        ("Via", "SIP/2.0/UDP 127.0.0.2:15060;rport;branch=z9hG4bKPj-x"), ("From", "<sip:a@b>;tag=1"),
        ("To", "<sip:c@d>;tag=2"), ("Call-ID", "nobody"), ("CSeq", "1 BYE")])
    answer = only(B2BUA, lab.rx(bye, B2BUA))
    assert answer.status_code == 481


def test_garbage_from_pjsua_is_dropped():
    assert Lab().rx(b"garbage", B2BUA) == []


# ================================================================== B legs pjsua places

def test_a_b_leg_goes_to_its_target_rewritten():
    lab = Lab()
    lab.taken_up(max_forwards="30")
    outputs = lab.rx(lab.b_leg(), B2BUA)
    sent = only(PSTN, outputs)
    (via,) = vias(sent)  # pjsua's Via replaced, not stacked
    parsed = wire.parse_via(via)
    assert (parsed.host, parsed.port) == G and parsed.branch.startswith("z9hG4bK.out.")
    assert sent.header("Route") is None  # our own Route entry popped
    assert sent.headers_named("Record-Route") == ["<sip:127.0.0.2:5060;lr>"]
    assert sent.header("Max-Forwards") == "29"  # the A leg's (30) minus one
    assert sent.header(A_LEG_HEADER) is None and not any(n.lower().startswith("x-trunklab") for n, _ in sent.headers)
    assert sent.header("Contact") == "<sip:127.0.0.2:5060;ob>"
    assert sent.header("P-Asserted-Identity") == "<sip:+12025550100@127.0.0.2:5060>"
    assert sent.body == SDP.format(ip="127.0.0.2")
    assert [o.direction for o in outputs if isinstance(o, Wire)] == ["tx"]


def test_a_b_leg_without_a_known_a_leg_starts_at_69():
    lab = Lab()
    assert only(PSTN, lab.rx(lab.b_leg("unknown"), B2BUA)).header("Max-Forwards") == "69"


def test_a_b_leg_keeps_a_route_that_is_not_ours():
    lab = Lab()
    lab.taken_up()
    data = lab.b_leg().replace(b"Route: <sip:127.0.0.2:5060;lr>", b"Route: <sip:127.0.0.2:5060;lr>,<sip:127.0.0.30;lr>")
    assert only(PSTN, lab.rx(data, B2BUA)).header("Route") == "<sip:127.0.0.30;lr>"


def test_a_b_leg_off_loopback_is_refused_to_pjsua():
    lab = Lab()
    data = lab.b_leg().replace(b"INVITE sip:14155550123@127.0.0.20:5060", b"INVITE sip:14155550123@192.168.1.9:5060")
    answer = only(B2BUA, lab.rx(data, B2BUA))
    assert answer.status_code == 503 and "loopback" in answer.header(WHY_HEADER)


@pytest.mark.parametrize("branch", ["z9hG4bKPj.ab-c.d3f", "z9hG4bKPjsimple", "z9hG4bK.in.looks.like.ours",
                                    "z9hG4bK.out.x.0123456789"])
def test_the_far_end_s_answers_reach_pjsua_with_its_via_restored(branch):
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(branch=branch), B2BUA))
    for status in (100, 180, 200):
        back = only(B2BUA, lab.rx(answer_to(sent, status, contact="<sip:pstn@127.0.0.20:5060>"), PSTN))
        assert back.status_code == status
        (via,) = vias(back)
        assert wire.parse_via(via).branch == branch
        assert (wire.parse_via(via).host, wire.parse_via(via).port) == B2BUA
    assert back.header("Contact") == "<sip:pstn@127.0.0.20:5060>"  # the far end's, untouched


def test_record_route_is_added_to_the_far_end_s_answer_if_missing():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    without_rr = replace(sent, headers=tuple((n, v) for n, v in sent.headers if n != "Record-Route"))
    trying = only(B2BUA, lab.rx(answer_to(without_rr, 100), PSTN))
    assert trying.headers_named("Record-Route") == []  # a 100 creates no dialog
    for status in (180, 200):
        back = only(B2BUA, lab.rx(answer_to(without_rr, status), PSTN))
        assert back.headers_named("Record-Route") == ["<sip:127.0.0.2:5060;lr>"]
    echoed = only(B2BUA, lab.rx(answer_to(sent, 200), PSTN))
    assert echoed.headers_named("Record-Route") == ["<sip:127.0.0.2:5060;lr>"]  # not twice


def test_internal_headers_in_the_far_end_s_answer_are_stripped():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    back = only(B2BUA, lab.rx(answer_to(sent, 486, headers=[(WHY_HEADER, "forged"), (DECISION_HEADER, "x")]), PSTN))
    assert back.header(WHY_HEADER) is None and back.header(DECISION_HEADER) is None


def test_a_far_end_answer_with_a_forged_branch_is_dropped():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    ours = vias(sent)[0]
    forged = answer_to(sent, 200).replace(ours.encode(), ours[:-3].encode() + b"000")
    assert sends(lab.rx(forged, PSTN)) == [] and lab.edge.counters.dropped == 1


def test_in_dialog_requests_of_the_b_leg_go_both_ways():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.rx(answer_to(sent, 200, to_tag="pstn-tag"), PSTN)
    bye = build("BYE sip:127.0.0.2:5060 SIP/2.0", [
        ("Via", "SIP/2.0/UDP 127.0.0.20:5060;branch=z9hG4bK-pstn-bye"), ("Max-Forwards", "70"),
        ("From", f"<sip:{OUT_NUMBER}@127.0.0.20>;tag=pstn-tag"), ("To", sent.header("From")),
        ("Call-ID", "b-1@pj"), ("CSeq", "1 BYE")])
    assert only(B2BUA, lab.rx(bye, PSTN)).method == "BYE"


# ------------------------------------------------------------------ B legs nobody answers

def test_a_silent_target_is_answered_408_by_the_edge():
    lab = Lab()
    lab.taken_up()
    only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    assert lab.edge.next_deadline() == pytest.approx(T0 + B_TIMEOUT)
    assert lab.tick(B_TIMEOUT - 0.01) == []
    answer = only(B2BUA, lab.tick(0.01))
    assert (answer.status_code, answer.reason) == (408, "Request Timeout") and answer.header("CSeq") == "4711 INVITE"
    assert vias(answer) == ["SIP/2.0/UDP 127.0.0.2:15060;rport;branch=z9hG4bKPj.ab-c.d3f"]
    assert ";tag=" in answer.header("To") and "127.0.0.20:5060" in answer.header(WHY_HEADER)
    assert lab.edge.next_deadline() is None and lab.tick(10) == []  # answered once


def test_after_giving_up_pjsua_s_ack_and_retransmissions_reach_nobody():
    lab = Lab()
    lab.taken_up()
    lab.rx(lab.b_leg(), B2BUA)
    (gave_up,) = sends(lab.tick(B_TIMEOUT))
    ack = lab.b_leg().replace(b"INVITE sip:", b"ACK sip:").replace(b"4711 INVITE", b"4711 ACK")
    assert lab.rx(ack, B2BUA) == []
    again = lab.rx(lab.b_leg(), B2BUA)  # pjsua had retransmitted before it read our 408
    assert to(PSTN, again) == []
    assert sends(again) == [gave_up]  # nothing to the target; our 408 again, as a server transaction would


def test_a_late_2xx_after_giving_up_is_acked_and_hung_up_by_the_edge():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.tick(B_TIMEOUT)
    late = answer_to(sent, 200, to_tag="late", contact="<sip:pstn@127.0.0.20:5060>")
    outputs = lab.rx(late, PSTN)
    assert to(B2BUA, outputs) == []
    ack, bye = to(PSTN, outputs)
    assert (ack.method, ack.header("CSeq"), ack.request_uri) == ("ACK", "4711 ACK", "sip:pstn@127.0.0.20:5060")
    assert (bye.method, bye.header("CSeq")) == ("BYE", "4712 BYE")
    for request in (ack, bye):
        assert request.header("To").endswith(";tag=late") and request.call_id == "b-1@pj"
        assert request.header("From") == sent.header("From")
        assert (wire.top_via(request).host, wire.top_via(request).port) == G
    assert sends(lab.rx(late, PSTN)) == sends(outputs)  # its retransmission: ACKed (and BYEd) again


def test_a_late_non_2xx_after_giving_up_is_acked_and_goes_no_further():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.tick(B_TIMEOUT)
    ack = only(PSTN, lab.rx(answer_to(sent, 486, to_tag="busy"), PSTN))  # or the PSTN repeats it for 32 s
    assert (ack.method, ack.header("CSeq"), ack.request_uri) == ("ACK", "4711 ACK", sent.request_uri)
    assert wire.top_via(ack).branch == wire.top_via(sent).branch  # hop by hop: the INVITE's own branch
    assert ack.header("To").endswith(";tag=busy")


# ------------------------------------------------------------------ answers that would send RTP off loopback

OFF_LOOPBACK_SDP = SDP.format(ip="192.168.1.20")


def test_a_2xx_answer_off_loopback_is_hung_up_and_pjsua_told_488():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    outputs = lab.rx(answer_to(sent, 200, to_tag="far", body=OFF_LOOPBACK_SDP,
                               contact="<sip:pstn@127.0.0.20:5060>"), PSTN)
    ack, bye = to(PSTN, outputs)
    assert (ack.method, bye.method) == ("ACK", "BYE")
    told = only(B2BUA, [o for o in outputs if isinstance(o, Send) and o.to == B2BUA])
    assert told.status_code == 488 and "off loopback" in told.header(WHY_HEADER)
    assert all(m.body == "" for m in to(B2BUA, outputs))  # the off-loopback SDP never reaches pjsua


def test_early_media_off_loopback_reaches_pjsua_as_a_plain_provisional():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    progress = only(B2BUA, lab.rx(answer_to(sent, 183, body=OFF_LOOPBACK_SDP), PSTN))
    assert progress.status_code == 183 and progress.body == ""


def test_a_delayed_offer_answer_off_loopback_never_reaches_pjsua():
    lab = Lab()
    lab.taken_up(body="")
    ack = outside_request("ACK", to_tag="pj-tag", cseq=1, branch="z9hG4bK-ack", body=OFF_LOOPBACK_SDP)
    forwarded = only(B2BUA, lab.rx(ack, PBX))
    assert forwarded.method == "ACK" and forwarded.body == ""  # no answer: pjsua ends the call itself


# ------------------------------------------------------------------ requests in a call

def test_a_request_in_a_call_from_another_address_is_refused():
    """Call-ID and tags are on every ladder: knowing them does not make you the caller."""
    lab = Lab()
    lab.taken_up()
    stranger = ("127.0.0.31", 5060)
    answer = only(stranger, lab.rx(outside_request("BYE", stranger, to_tag="pj-tag", cseq=2), stranger))
    assert answer.status_code == 403 and "127.0.0.10" in warning(answer)
    assert sends(lab.rx(outside_request("ACK", stranger, to_tag="pj-tag", body=""), stranger)) == []
    assert only(B2BUA, lab.rx(outside_request("BYE", to_tag="pj-tag", cseq=2), PBX)).method == "BYE"


def test_a_request_in_a_call_with_max_forwards_0_is_483():
    lab = Lab()
    lab.taken_up()
    answer = only(PBX, lab.rx(outside_request("BYE", to_tag="pj-tag", cseq=2, max_forwards="0"), PBX))
    assert answer.status_code == 483


def test_replaces_never_reaches_pjsua():
    lab = Lab()
    forwarded = lab.accept(headers=(("Replaces", "other@pbx;to-tag=1;from-tag=2"),))
    assert forwarded.header("Replaces") is None


def test_an_invite_with_one_of_our_b_legs_call_id_is_a_loop():
    lab = Lab()
    lab.taken_up()
    only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    answer = only(PSTN, lab.rx(outside_request("INVITE", PSTN, number=DID, call_id="b-1@pj"), PSTN))
    assert answer.status_code == 482


def test_a_tag_inside_the_to_uri_is_not_a_to_tag():
    assert not wire.has_tag("<sip:1202@127.0.0.2;tag=x>")
    assert wire.has_tag("<sip:1202@127.0.0.2;tag=x>;tag=y") and wire.has_tag("sip:1202@127.0.0.2;tag=y")


def test_a_malformed_request_and_its_400_show_on_the_wire():
    lab = Lab()
    outputs = lab.rx(outside_request("INVITE").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), PBX)
    assert [(o.direction, o.remote) for o in outputs if isinstance(o, Wire)] == [("rx", PBX), ("tx", PBX)]
    assert only(PBX, outputs).status_code == 400


def test_a_ringing_callee_has_the_ring_timeout_to_answer_then_gets_408():
    """A 180 means a person may still pick up (a PBX of yours that answers on a delay): the edge
    then waits up to the ring timeout, not the no-answer timeout (issue 11)."""
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.rx(answer_to(sent, 180), PSTN)
    assert lab.tick(B_TIMEOUT + FINAL_GRACE_S) == []  # ringing: pjsua's own timer decides to CANCEL
    assert lab.edge.next_deadline() == pytest.approx(T0 + RING_TIMEOUT_S)
    assert lab.tick(RING_TIMEOUT_S - B_TIMEOUT - FINAL_GRACE_S - 0.1) == []
    assert only(B2BUA, lab.tick(0.1)).status_code == 408


def test_a_100_trying_alone_does_not_extend_the_wait():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.rx(answer_to(sent, 100), PSTN)
    assert lab.edge.next_deadline() == pytest.approx(T0 + B_TIMEOUT + FINAL_GRACE_S)
    assert only(B2BUA, lab.tick(B_TIMEOUT + FINAL_GRACE_S)).status_code == 408


def test_a_cancel_from_pjsua_gets_its_own_grace():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.rx(answer_to(sent, 180), PSTN)
    lab.now += 0.5
    cancel = lab.b_leg().replace(b"INVITE sip:", b"CANCEL sip:").replace(b"4711 INVITE", b"4711 CANCEL")
    sent_cancel = only(PSTN, lab.rx(cancel, B2BUA))
    assert sent_cancel.method == "CANCEL" and vias(sent_cancel) == vias(sent)  # the INVITE's branch
    assert lab.edge.next_deadline() == pytest.approx(T0 + 0.5 + FINAL_GRACE_S)
    lab.rx(answer_to(sent, 487), PSTN)  # the far end ends it: no 408 from the edge
    assert lab.tick(10) == []


def test_an_answered_b_leg_is_never_given_up():
    lab = Lab()
    lab.taken_up()
    sent = only(PSTN, lab.rx(lab.b_leg(), B2BUA))
    lab.rx(answer_to(sent, 200), PSTN)
    assert lab.edge.next_deadline() is None and lab.tick(60) == []


# ================================================================== bounded memory

def test_tick_forgets_refusals_nonces_and_calls():
    lab = Lab(capacity=5)
    lab.rx(outside_request("INVITE", ROAMING, call_id="refused"), ROAMING)
    lab.taken_up(call_id="ended")
    lab.accept(call_id="never-taken-up")
    lab.taken_up(call_id="live")
    lab.rx(lab.b_leg("ended", call_id="b-ended"), B2BUA)
    lab.edge.call_ended("ended", lab.now)
    assert len(lab.edge._answered) == 1 and len(lab.edge.nonces) == 1
    only(B2BUA, lab.tick(B_TIMEOUT))  # the B leg's target never answered
    lab.tick(LINGER_S + 5)
    assert set(lab.edge.calls) == {"live"}
    assert len(lab.edge._answered) == 0 and lab.edge.invites == {}
    lab.tick(300)
    assert len(lab.edge.nonces) == 0


def test_a_refusal_is_repeated_for_retransmissions_only_while_they_can_come():
    lab = Lab()
    first = sends(lab.rx(outside_request("INVITE", ROAMING), ROAMING))
    lab.tick(LINGER_S + 1)
    later = lab.rx(outside_request("INVITE", ROAMING), ROAMING)
    assert decisions(later) and sends(later) != first  # decided again, a new challenge


def test_a_flood_of_refused_invites_keeps_the_edge_bounded():
    lab = Lab(max_new_invites=10**9)
    for i in range(4200):  # the refusal cache keeps 4096
        lab.rx(outside_request("INVITE", ROAMING, call_id=f"flood-{i}"), ROAMING)
    assert len(lab.edge._answered) == 4096 and len(lab.edge.nonces) <= lab.edge.nonces.capacity
    assert lab.edge.calls == {} and lab.edge.invites == {}
