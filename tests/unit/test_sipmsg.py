"""Tests for sip.sipmsg: nominal captures first, then everything that must fail."""

from __future__ import annotations

import dataclasses

import pytest

from sip.sipmsg import SipMessage, SipParseError, parse_message, uri_host_port, uri_user


def wire(text: str) -> str:
    """Messages below are written with LF; real ones use CRLF."""
    return text.replace("\n", "\r\n")


SDP_OFFER = (
    "v=0\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
    "s=-\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "m=audio 6000 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n"
)

INVITE = wire(
    "INVITE sip:+12025550100@127.0.0.2:5060 SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 INVITE\n"
    "Contact: sip:sipp@127.0.0.1:5061\n"
    "Max-Forwards: 70\n"
    "Subject: Performance Test\n"
    "Content-Type: application/sdp\n"
    f"Content-Length: {len(wire(SDP_OFFER))}\n"
    "\n"
) + wire(SDP_OFFER)

TRYING = wire(
    "SIP/2.0 100 Trying\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0;received=127.0.0.1\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 INVITE\n"
    "Content-Length: 0\n"
    "\n"
)

UNAUTHORIZED = wire(
    "SIP/2.0 401 Unauthorized\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-77\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 INVITE\n"
    "WWW-Authenticate: Digest realm=\"trunklab\", nonce=\"1700000000000.abc\", "
    "algorithm=MD5, qop=\"auth\"\n"
    "Content-Length: 0\n"
    "\n"
)

PROXY_AUTH_REQUIRED = wire(
    "SIP/2.0 407 Proxy Authentication Required\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-78\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 INVITE\n"
    "Proxy-Authenticate: Digest realm=\"trunklab\", nonce=\"1700000000000.def\", "
    "algorithm=MD5\n"
    "Content-Length: 0\n"
    "\n"
)

SDP_ANSWER = (
    "v=0\n"
    "o=gw 1 1 IN IP4 127.0.0.2\n"
    "s=trunklab\n"
    "c=IN IP4 127.0.0.2\n"
    "t=0 0\n"
    "m=audio 7000 RTP/AVP 0\n"
)

OK_INVITE = wire(
    "SIP/2.0 200 OK\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-2-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-79\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 2 INVITE\n"
    "Contact: <sip:gw@127.0.0.2:5060>\n"
    "Content-Type: application/sdp\n"
    f"Content-Length: {len(wire(SDP_ANSWER))}\n"
    "\n"
) + wire(SDP_ANSWER)

ACK = wire(
    "ACK sip:gw@127.0.0.2:5060 SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-3-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-79\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 2 ACK\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0\n"
    "\n"
)

BYE = wire(
    "BYE sip:gw@127.0.0.2:5060 SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-4-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-79\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 3 BYE\n"
    "Max-Forwards: 70\n"
    "Content-Length: 0\n"
    "\n"
)

OK_BYE = wire(
    "SIP/2.0 200 OK\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-4-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-79\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 3 BYE\n"
    "Content-Length: 0\n"
    "\n"
)

RINGING = wire(
    "SIP/2.0 180 Ringing\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-2-0\n"
    "From: <sip:sipp@127.0.0.1:5061>;tag=a\n"
    "To: <sip:1202@127.0.0.2>;tag=b\n"
    "Call-ID: ring-1\n"
    "CSeq: 2 INVITE\n"
    "\n"
)

OPTIONS = wire(
    "OPTIONS sip:127.0.0.2:5060 SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-opt\n"
    "From: <sip:monitor@127.0.0.1>;tag=m1\n"
    "To: <sip:127.0.0.2:5060>\n"
    "Call-ID: opt-1\n"
    "CSeq: 77 OPTIONS\n"
    "Max-Forwards: 70\n"
    "\n"
)

CANCEL = wire(
    "CANCEL sip:+12025550100@127.0.0.2:5060 SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 CANCEL\n"
    "Max-Forwards: 70\n"
    "\n"
)

REQUEST_TERMINATED = wire(
    "SIP/2.0 487 Request Terminated\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\n"
    "From: \"sipp\" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=gw-80\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 INVITE\n"
    "\n"
)

TEL_INVITE = wire(
    "INVITE tel:+12025550100;phone-context=example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-tel\n"
    "From: <sip:alice@10.0.0.1>;tag=t1\n"
    "To: <tel:+12025550100>\n"
    "Call-ID: tel-1\n"
    "CSeq: 10 INVITE\n"
    "\n"
)

# (text, is_request, method, uri, status, reason, call_id, cseq no, cseq method)
NOMINAL = [
    pytest.param(INVITE, True, "INVITE", "sip:+12025550100@127.0.0.2:5060", None, None,
                 "1-4242@127.0.0.1", 1, "INVITE", id="INVITE"),
    pytest.param(TRYING, False, "INVITE", None, 100, "Trying",
                 "1-4242@127.0.0.1", 1, "INVITE", id="100"),
    pytest.param(RINGING, False, "INVITE", None, 180, "Ringing",
                 "ring-1", 2, "INVITE", id="180"),
    pytest.param(UNAUTHORIZED, False, "INVITE", None, 401, "Unauthorized",
                 "1-4242@127.0.0.1", 1, "INVITE", id="401"),
    pytest.param(PROXY_AUTH_REQUIRED, False, "INVITE", None, 407,
                 "Proxy Authentication Required", "1-4242@127.0.0.1", 1, "INVITE", id="407"),
    pytest.param(OK_INVITE, False, "INVITE", None, 200, "OK",
                 "1-4242@127.0.0.1", 2, "INVITE", id="200-INVITE"),
    pytest.param(ACK, True, "ACK", "sip:gw@127.0.0.2:5060", None, None,
                 "1-4242@127.0.0.1", 2, "ACK", id="ACK"),
    pytest.param(BYE, True, "BYE", "sip:gw@127.0.0.2:5060", None, None,
                 "1-4242@127.0.0.1", 3, "BYE", id="BYE"),
    pytest.param(OK_BYE, False, "BYE", None, 200, "OK",
                 "1-4242@127.0.0.1", 3, "BYE", id="200-BYE"),
    pytest.param(OPTIONS, True, "OPTIONS", "sip:127.0.0.2:5060", None, None,
                 "opt-1", 77, "OPTIONS", id="OPTIONS"),
    pytest.param(CANCEL, True, "CANCEL", "sip:+12025550100@127.0.0.2:5060", None, None,
                 "1-4242@127.0.0.1", 1, "CANCEL", id="CANCEL"),
    pytest.param(REQUEST_TERMINATED, False, "INVITE", None, 487, "Request Terminated",
                 "1-4242@127.0.0.1", 1, "INVITE", id="487"),
    pytest.param(TEL_INVITE, True, "INVITE", "tel:+12025550100;phone-context=example.com",
                 None, None, "tel-1", 10, "INVITE", id="tel-INVITE"),
]

ALL_MESSAGES = [p.values[0] for p in NOMINAL]


# --------------------------------------------------------------------------
# Nominal parsing
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, is_request, method, uri, status, reason, call_id, cseq_no, cseq_method", NOMINAL
)
def test_parses_real_messages(
    text, is_request, method, uri, status, reason, call_id, cseq_no, cseq_method
):
    msg = parse_message(text)
    assert msg.is_request is is_request
    assert msg.method == method
    assert msg.request_uri == uri
    assert msg.status_code == status
    assert msg.reason == reason
    assert msg.call_id == call_id
    assert msg.cseq_number == cseq_no
    assert msg.cseq_method == cseq_method


@pytest.mark.parametrize("text", ALL_MESSAGES)
def test_first_line_round_trips(text):
    assert parse_message(text).first_line == text.split("\r\n", 1)[0]


@pytest.mark.parametrize("text", ALL_MESSAGES)
def test_lf_only_gives_same_headers(text):
    crlf = parse_message(text)
    lf = parse_message(text.replace("\r\n", "\n"))
    assert lf.headers == crlf.headers
    assert lf.first_line == crlf.first_line
    assert lf.body == crlf.body.replace("\r\n", "\n")


@pytest.mark.parametrize("text", ALL_MESSAGES)
def test_mandatory_headers_are_present(text):
    msg = parse_message(text)
    for name in ("Call-ID", "CSeq", "From", "To", "Via"):
        assert msg.header(name)


def test_invite_headers_keep_names_and_order():
    msg = parse_message(INVITE)
    assert [name for name, _ in msg.headers] == [
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards",
        "Subject", "Content-Type", "Content-Length",
    ]
    assert msg.header("From") == '"sipp" <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001'
    assert msg.header("Max-Forwards") == "70"


def test_invite_body_is_the_sdp_exactly():
    msg = parse_message(INVITE)
    assert msg.body == wire(SDP_OFFER)
    assert msg.header("Content-Type") == "application/sdp"


def test_401_carries_the_challenge_with_commas_intact():
    msg = parse_message(UNAUTHORIZED)
    assert msg.header("www-authenticate") == (
        'Digest realm="trunklab", nonce="1700000000000.abc", algorithm=MD5, qop="auth"'
    )


def test_407_carries_proxy_authenticate():
    msg = parse_message(PROXY_AUTH_REQUIRED)
    assert msg.header("Proxy-Authenticate").startswith("Digest ")
    assert msg.header("WWW-Authenticate") is None


@pytest.mark.parametrize("name", ["Call-ID", "call-id", "CALL-ID", "Call-Id", "i", "I"])
def test_header_lookup_is_case_insensitive_and_knows_compact_i(name):
    assert parse_message(INVITE).header(name) == "1-4242@127.0.0.1"


def test_absent_header_is_none_and_empty_list():
    msg = parse_message(INVITE)
    assert msg.header("Authorization") is None
    assert msg.headers_named("Authorization") == []


def test_empty_header_value_is_kept():
    text = INVITE.replace("Subject: Performance Test", "Subject:")
    assert parse_message(text).header("Subject") == ""


def test_whitespace_before_colon_is_allowed():
    text = INVITE.replace("Max-Forwards: 70", "Max-Forwards  :   70  ")
    msg = parse_message(text)
    assert msg.header("Max-Forwards") == "70"
    assert ("Max-Forwards", "70") in msg.headers


def test_values_keep_inner_spacing():
    text = INVITE.replace("Subject: Performance Test", "Subject: a  b\tc")
    assert parse_message(text).header("Subject") == "a  b\tc"


def test_empty_reason_phrase_is_allowed():
    msg = parse_message(TRYING.replace("SIP/2.0 100 Trying", "SIP/2.0 100 "))
    assert msg.status_code == 100
    assert msg.reason == ""
    assert msg.first_line == "SIP/2.0 100"


def test_missing_reason_phrase_and_space_is_tolerated():
    msg = parse_message(TRYING.replace("SIP/2.0 100 Trying", "SIP/2.0 100"))
    assert msg.status_code == 100
    assert msg.reason == ""


@pytest.mark.parametrize("code", [100, 199, 200, 302, 486, 503, 603, 699])
def test_status_code_range_edges_accepted(code):
    msg = parse_message(OK_BYE.replace("SIP/2.0 200 OK", f"SIP/2.0 {code} Whatever"))
    assert msg.status_code == code
    assert msg.reason == "Whatever"


@pytest.mark.parametrize("version", ["sip/2.0", "Sip/2.0"])
def test_sip_version_is_case_insensitive(version):
    assert parse_message(BYE.replace("SIP/2.0\r\n", f"{version}\r\n", 1)).method == "BYE"
    assert parse_message(OK_BYE.replace("SIP/2.0 200", f"{version} 200")).status_code == 200


@pytest.mark.parametrize("uri", [
    "sip:1202@127.0.0.2",
    "SIP:1202@127.0.0.2",
    "sips:1202@example.com",
    "tel:+12025550100",
    "sip:[2001:db8::1]:5060",
])
def test_request_uri_schemes_accepted(uri):
    text = BYE.replace("BYE sip:gw@127.0.0.2:5060 SIP/2.0", f"BYE {uri} SIP/2.0")
    assert parse_message(text).request_uri == uri


@pytest.mark.parametrize("method", ["INVITE", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",
                                    "MESSAGE", "INFO", "PRACK", "UPDATE", "PUBLISH", "FOO-BAR"])
def test_any_token_is_a_method(method):
    text = OPTIONS.replace("OPTIONS sip:", f"{method} sip:").replace("77 OPTIONS", f"77 {method}")
    msg = parse_message(text)
    assert msg.method == method
    assert msg.cseq_method == method


def test_leading_keepalive_crlfs_are_ignored():
    assert parse_message("\r\n\r\n" + OPTIONS).method == "OPTIONS"


def test_message_without_final_blank_line_has_empty_body():
    text = OPTIONS.rstrip("\r\n")
    msg = parse_message(text)
    assert msg.body == ""
    assert msg.header("Max-Forwards") == "70"


def test_message_ending_after_last_header_line_has_empty_body():
    assert parse_message(OPTIONS[:-2]).body == ""


def test_body_without_content_length_is_kept():
    text = RINGING + "hello"
    assert parse_message(text).body == "hello"


def test_body_longer_than_content_length_is_cut():
    # RFC 3261 18.3: bytes past Content-Length are not part of the message.
    text = TRYING + "garbage after the message"
    assert parse_message(text).body == ""
    text = TRYING.replace("Content-Length: 0", "Content-Length: 4") + "abcdefgh"
    assert parse_message(text).body == "abcd"


def test_content_length_counts_utf8_bytes():
    text = TRYING.replace("Content-Length: 0", "Content-Length: 2") + "éx"
    assert parse_message(text).body == "é"


def test_undecodable_bytes_in_body_survive_the_cut():
    data = TRYING.replace("Content-Length: 0", "Content-Length: 2").encode() + b"\xff\xfe\x00"
    msg = parse_message(data.decode("utf-8", "surrogateescape"))
    assert msg.body.encode("utf-8", "surrogateescape") == b"\xff\xfe"


def test_stray_surrogate_in_body_does_not_crash():
    text = TRYING.replace("Content-Length: 0", "Content-Length: 1") + "\ud800xyz"
    assert parse_message(text).body == "\ud800xyz"


def test_body_shorter_than_content_length_is_kept():
    # Captures that turned CRLF into LF shrink the body; do not punish that.
    text = INVITE.replace("\r\n", "\n")
    assert parse_message(text).body == SDP_OFFER


def test_blank_lines_inside_body_stay_in_body():
    body = "line1\r\n\r\nline3"
    text = RINGING + body
    assert parse_message(text).body == body


def test_multiple_via_headers_in_order():
    text = TRYING.replace(
        "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0;received=127.0.0.1\r\n",
        "Via: SIP/2.0/UDP proxy1:5060;branch=z9hG4bK-p1\r\n"
        "v: SIP/2.0/UDP proxy2:5060;branch=z9hG4bK-p2\r\n"
        "VIA: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-x, SIP/2.0/UDP h:1;branch=z9hG4bK-y\r\n",
    )
    msg = parse_message(text)
    assert msg.headers_named("Via") == [
        "SIP/2.0/UDP proxy1:5060;branch=z9hG4bK-p1",
        "SIP/2.0/UDP proxy2:5060;branch=z9hG4bK-p2",
        "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-x, SIP/2.0/UDP h:1;branch=z9hG4bK-y",
    ]
    assert msg.header("v") == "SIP/2.0/UDP proxy1:5060;branch=z9hG4bK-p1"


# --------------------------------------------------------------------------
# Compact and folded headers
# --------------------------------------------------------------------------

COMPACT = wire(
    "INVITE sip:1202@127.0.0.2 SIP/2.0\n"
    "v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-c\n"
    "f: <sip:sipp@127.0.0.1>;tag=c1\n"
    "t: <sip:1202@127.0.0.2>\n"
    "i: compact-1@127.0.0.1\n"
    "CSeq: 5 INVITE\n"
    "m: <sip:sipp@127.0.0.1:5061>\n"
    "c: application/sdp\n"
    "k: timer, 100rel\n"
    "s: urgent\n"
    "l: 4\n"
    "\n"
    "v=0\n"
)


@pytest.mark.parametrize("long_name, compact_name, value", [
    ("Via", "v", "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-c"),
    ("From", "f", "<sip:sipp@127.0.0.1>;tag=c1"),
    ("To", "t", "<sip:1202@127.0.0.2>"),
    ("Call-ID", "i", "compact-1@127.0.0.1"),
    ("Contact", "m", "<sip:sipp@127.0.0.1:5061>"),
    ("Content-Type", "c", "application/sdp"),
    ("Supported", "k", "timer, 100rel"),
    ("Subject", "s", "urgent"),
    ("Content-Length", "l", "4"),
])
def test_compact_headers(long_name, compact_name, value):
    msg = parse_message(COMPACT)
    assert msg.header(long_name) == value
    assert msg.header(long_name.upper()) == value
    assert msg.header(compact_name) == value
    assert msg.header(compact_name.upper()) == value
    assert msg.headers_named(long_name) == [value]


def test_compact_message_properties_and_body():
    msg = parse_message(COMPACT)
    assert msg.call_id == "compact-1@127.0.0.1"
    assert msg.cseq_number == 5
    assert msg.body == "v=0\r"  # l: 4 keeps 4 bytes and drops the final '\n'
    assert ("i", "compact-1@127.0.0.1") in msg.headers  # original name is kept


def test_compact_and_long_forms_mix_in_headers_named():
    text = COMPACT.replace("m: <sip:sipp@127.0.0.1:5061>\r\n",
                           "m: <sip:a@h>\r\nContact: <sip:b@h>\r\nM: <sip:c@h>\r\n")
    assert parse_message(text).headers_named("contact") == [
        "<sip:a@h>", "<sip:b@h>", "<sip:c@h>",
    ]


FOLDED = wire(
    "INVITE sip:1202@127.0.0.2 SIP/2.0\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061\n"
    "   ;branch=z9hG4bK-folded\n"
    "From: <sip:sipp@127.0.0.1>;tag=f1\n"
    "To: <sip:1202@127.0.0.2>\n"
    "Call-ID: folded-1\n"
    "CSeq: 1 INVITE\n"
    "Subject: I know you're there,\n"
    "         pick up the phone\n"
    "\t and talk to me!\n"
    "Max-Forwards: 70\n"
    "\n"
)


def test_folded_headers_are_joined_with_one_space():
    msg = parse_message(FOLDED)
    assert msg.header("Subject") == "I know you're there, pick up the phone and talk to me!"
    assert msg.header("Via") == "SIP/2.0/UDP 127.0.0.1:5061 ;branch=z9hG4bK-folded"
    assert msg.header("Max-Forwards") == "70"
    assert len(msg.headers) == 7


def test_folded_headers_work_with_lf_only():
    msg = parse_message(FOLDED.replace("\r\n", "\n"))
    assert msg.header("Subject") == "I know you're there, pick up the phone and talk to me!"


def test_folded_empty_value():
    text = FOLDED.replace("Max-Forwards: 70", "X-Empty:\r\n   continued")
    assert parse_message(text).header("X-Empty") == "continued"


def test_folded_multi_line_challenge_header():
    text = UNAUTHORIZED.replace(
        'WWW-Authenticate: Digest realm="trunklab", nonce="1700000000000.abc", '
        'algorithm=MD5, qop="auth"',
        'WWW-Authenticate: Digest\r\n  realm="trunklab",\r\n  nonce="n"',
    )
    assert parse_message(text).header("WWW-Authenticate") == 'Digest realm="trunklab", nonce="n"'


# --------------------------------------------------------------------------
# The dataclass itself
# --------------------------------------------------------------------------


def test_message_is_frozen():
    msg = parse_message(INVITE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.method = "BYE"  # type: ignore[misc]


def test_hand_built_message_with_bad_cseq_gives_none():
    msg = SipMessage(is_request=True, method="INVITE", request_uri="sip:a@b",
                     status_code=None, reason=None,
                     headers=(("CSeq", "nonsense"),), body="")
    assert msg.cseq_number is None
    assert msg.cseq_method is None
    assert msg.call_id is None
    assert msg.first_line == "INVITE sip:a@b SIP/2.0"


def test_parse_error_is_a_value_error():
    assert issubclass(SipParseError, ValueError)


# --------------------------------------------------------------------------
# Garbage and broken messages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="spaces"),
    pytest.param("\r\n\r\n\r\n", "empty", id="only-crlf"),
    pytest.param("\x00\x01\x02\xff\xfe binary", "neither a request nor a status line",
                 id="binary"),
    pytest.param("hello", "neither a request nor a status line", id="one-word"),
    pytest.param("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "looks like HTTP",
                 id="http-request"),
    pytest.param("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "looks like HTTP",
                 id="http-response"),
    pytest.param("INVITE sip:1202@127.0.0.2\r\n", "neither a request nor a status line",
                 id="no-sip-version"),
    pytest.param("INVITE sip:1202@127.0.0.2 SIP/3.0\r\n", "unsupported SIP version",
                 id="request-sip-3"),
    pytest.param("SIP/3.0 200 OK\r\n", "unsupported SIP version", id="status-sip-3"),
    pytest.param("SIP/2 200 OK\r\n", "unsupported SIP version", id="status-sip-2"),
    pytest.param("SIP/2.0\r\n", "has no status code", id="status-no-code"),
    pytest.param("SIP/2.0 99 Too Low\r\n", "status code 99 out of range", id="code-99"),
    pytest.param("SIP/2.0 700 Too High\r\n", "status code 700 out of range", id="code-700"),
    pytest.param("SIP/2.0 000 Zero\r\n", "status code 000 out of range", id="code-000"),
    pytest.param("SIP/2.0 1000 Long\r\n", "status code 1000 out of range", id="code-1000"),
    pytest.param("SIP/2.0 0200 OK\r\n", "status code 0200 out of range", id="code-0200"),
    pytest.param("SIP/2.0 2OO OK\r\n", "is not a number", id="code-letters"),
    pytest.param("SIP/2.0 -200 OK\r\n", "is not a number", id="code-negative"),
    pytest.param("SIP/2.0 ２００ OK\r\n", "is not a number", id="code-fullwidth"),
    pytest.param("INV@ITE sip:1202@127.0.0.2 SIP/2.0\r\n", "not a valid token",
                 id="method-not-token"),
    pytest.param("INVITE http://127.0.0.2/ SIP/2.0\r\n", "must start with sip:, sips: or tel:",
                 id="uri-http"),
    pytest.param("INVITE 1202@127.0.0.2 SIP/2.0\r\n", "must start with sip:, sips: or tel:",
                 id="uri-no-scheme"),
    pytest.param("INVITE sip:a@b extra SIP/2.0\r\n", "neither a request nor a status line",
                 id="too-many-words"),
])
def test_garbage_first_lines_are_rejected(text, expected):
    with pytest.raises(SipParseError, match=expected):
        parse_message(text)


def test_long_garbage_is_shortened_in_the_message():
    with pytest.raises(SipParseError) as info:
        parse_message("x" * 5000)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("data", [b"INVITE sip:a@b SIP/2.0\r\n\r\n", bytearray(b"x"), None, 42])
def test_non_text_input_is_rejected(data):
    with pytest.raises(SipParseError, match="expected the message as text"):
        parse_message(data)  # type: ignore[arg-type]


def drop_header(text: str, name: str) -> str:
    lines = text.split("\r\n")
    kept = [line for line in lines if not line.lower().startswith(name.lower() + ":")]
    assert len(kept) == len(lines) - 1, f"test setup: {name} should appear once"
    return "\r\n".join(kept)


@pytest.mark.parametrize("name", ["Call-ID", "CSeq", "From", "To", "Via"])
@pytest.mark.parametrize("text", [INVITE, TRYING, OK_INVITE, ACK, BYE], ids=[
    "INVITE", "100", "200", "ACK", "BYE"])
def test_each_missing_mandatory_header_is_named(text, name):
    with pytest.raises(SipParseError, match=f"missing {name} header"):
        parse_message(drop_header(text, name))


def test_several_missing_headers_are_all_named():
    text = drop_header(drop_header(BYE, "Call-ID"), "Via")
    with pytest.raises(SipParseError, match="missing Call-ID, Via headers"):
        parse_message(text)


def test_start_line_only_names_all_missing_headers():
    with pytest.raises(SipParseError, match="missing Call-ID, CSeq, From, To, Via headers"):
        parse_message("OPTIONS sip:127.0.0.2 SIP/2.0\r\n\r\n")


def test_compact_form_satisfies_mandatory_header():
    text = BYE.replace("Call-ID: ", "i: ")
    assert parse_message(text).call_id == "1-4242@127.0.0.1"


@pytest.mark.parametrize("bad_line, expected", [
    ("This line has no colon", "header line without a colon"),
    (": value without name", "without a name"),
    ("Bad Header: x", "not allowed in a header name"),
    ("X-Émoji: x", "not allowed in a header name"),
    ("X-Bad<>: x", "not allowed in a header name"),
])
def test_broken_header_lines_are_rejected(bad_line, expected):
    text = BYE.replace("Max-Forwards: 70", bad_line)
    with pytest.raises(SipParseError, match=expected):
        parse_message(text)


def test_continuation_before_any_header_is_rejected():
    text = "BYE sip:a@b SIP/2.0\r\n  folded too early\r\nCall-ID: x\r\n\r\n"
    with pytest.raises(SipParseError, match="continuation line"):
        parse_message(text)


@pytest.mark.parametrize("cseq", [
    "INVITE", "abc INVITE", "1", "1 INVITE extra", "-1 INVITE", "1.5 INVITE",
    "1 INV@ITE", "2147483648 INVITE", "",
])
def test_malformed_cseq_is_rejected(cseq):
    text = BYE.replace("CSeq: 3 BYE", f"CSeq: {cseq}")
    with pytest.raises(SipParseError, match="malformed CSeq"):
        parse_message(text)


def test_largest_cseq_is_accepted():
    text = BYE.replace("CSeq: 3 BYE", "CSeq: 2147483647 BYE")
    assert parse_message(text).cseq_number == 2**31 - 1


@pytest.mark.parametrize("value", ["abc", "-1", "1.0", "１"])
def test_bad_content_length_is_rejected(value):
    text = BYE.replace("Content-Length: 0", f"Content-Length: {value}")
    with pytest.raises(SipParseError, match="Content-Length"):
        parse_message(text)


# --------------------------------------------------------------------------
# uri_user and uri_host_port
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value, user", [
    ("sip:1202@127.0.0.2", "1202"),
    ("sip:+12025550100@127.0.0.2:5060;user=phone", "+12025550100"),
    ("SIP:alice@example.com", "alice"),
    ("sips:bob@secure.example.com", "bob"),
    ('"Bob" <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=x', "+12025550100"),
    ("<sip:1202@127.0.0.2>", "1202"),
    ("<sip:1202@127.0.0.2>;tag=abc", "1202"),
    ("Anonymous <sip:anonymous@anonymous.invalid>;tag=1", "anonymous"),
    ('"Smith, <John>" <sip:jsmith@h>', "jsmith"),
    ('"say \\"hi\\" <x>" <sip:q@h>', "q"),
    ("sip:1202@127.0.0.2;tag=abc", "1202"),  # addr-spec with header params
    ("sip:alice:secret@example.com", "alice"),  # password is dropped
    ("sip:%2B12025550100@h", "+12025550100"),  # escapes are decoded
    ("sip:user@[2001:db8::1]:5060", "user"),
    ("tel:+12025550100", "+12025550100"),
    ("tel:+1-202-555-0100;phone-context=example.com", "+1-202-555-0100"),
    ("<tel:911>", "911"),
    ("  <sip:1202@127.0.0.2>  ", "1202"),
])
def test_uri_user(value, user):
    assert uri_user(value) == user


@pytest.mark.parametrize("value", [
    "sip:127.0.0.2",  # host only
    "sip:127.0.0.2:5060;transport=udp",
    "<sip:127.0.0.2:5060>;tag=z",
    "sip:@127.0.0.2",  # empty user
    "tel:",
    "mailto:bob@example.com",
    "http://user@example.com/",
    "bob@example.com",  # no scheme
    "",
    "   ",
    '"unterminated <sip:a@b>',
    "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1",  # a Via value is not a URI
])
def test_uri_user_none(value):
    assert uri_user(value) is None


@pytest.mark.parametrize("value, expected", [
    ("sip:1202@127.0.0.2", ("127.0.0.2", None)),
    ("sip:1202@127.0.0.2:5060", ("127.0.0.2", 5060)),
    ("sip:127.0.0.2:5080", ("127.0.0.2", 5080)),
    ("sip:127.0.0.2", ("127.0.0.2", None)),
    ("sips:bob@secure.example.com:5061;transport=tls", ("secure.example.com", 5061)),
    ('"Bob" <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=x', ("127.0.0.2", 5060)),
    ("<sip:gw@trunk.example.net>;tag=1", ("trunk.example.net", None)),
    ("sip:gw@trunk.example.net?Subject=hi", ("trunk.example.net", None)),
    ("sip:alice:secret@example.com:5070", ("example.com", 5070)),
    ("sip:user@[2001:db8::1]:5060", ("2001:db8::1", 5060)),
    ("sip:[::1]", ("::1", None)),
    ("<sip:[::1]:5062;lr>", ("::1", 5062)),
    ("sip:h:1", ("h", 1)),
    ("sip:h:65535", ("h", 65535)),
])
def test_uri_host_port(value, expected):
    assert uri_host_port(value) == expected


@pytest.mark.parametrize("value", [
    "tel:+12025550100",
    "mailto:bob@example.com",
    "bob@example.com",
    "",
    "sip:",
    "sip:user@",
    "sip:user@:5060",
    "sip:h:0",
    "sip:h:65536",
    "sip:h:abc",
    "sip:h:",
    "sip:[::1",
    "sip:[]:5060",
    "sip:[::1]junk",
    "sip:h:５０６０",
])
def test_uri_host_port_none(value):
    assert uri_host_port(value) is None


def test_uri_helpers_on_parsed_headers():
    msg = parse_message(INVITE)
    assert uri_user(msg.request_uri) == "+12025550100"
    assert uri_user(msg.header("To")) == "+12025550100"
    assert uri_user(msg.header("From")) == "sipp"
    assert uri_host_port(msg.header("Contact")) == ("127.0.0.1", 5061)
    assert uri_host_port(msg.request_uri) == ("127.0.0.2", 5060)


@pytest.mark.parametrize("field", ["cseq", "content-length", "status", "port"])
def test_numbers_of_thousands_of_digits_are_parse_errors_not_crashes(field):
    """Python refuses int() of over 4300 digits with a ValueError; the parser must say why instead."""
    huge = "9" * 5000
    request = ("INVITE sip:a@127.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bK1\r\n"
               "From: <sip:b@x>;tag=1\r\nTo: <sip:a@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    if field == "cseq":
        text = request.replace("CSeq: 1 INVITE", f"CSeq: {huge} INVITE")
    elif field == "content-length":
        text = request.replace("Content-Length: 0", f"Content-Length: {huge}")
    elif field == "status":
        text = "SIP/2.0 " + huge + " OK" + request[request.index("\r\n"):]
    else:
        assert uri_host_port(f"sip:a@127.0.0.2:{huge}") is None
        return
    with pytest.raises(SipParseError):
        parse_message(text)
