"""sip.edge.wire: what one datagram is to the edge (a message, a request to answer 400/505/513,
or nothing), the top Via, writing messages back, and the responses the edge builds itself."""

from __future__ import annotations

import pytest

from sip.edge import wire
from sip.edge.wire import MAX_MESSAGE_BYTES, Malformed, Via, parse_via, read, reason_for, response, to_bytes
from sip.sipmsg import SipMessage, parse_message

VIA = "SIP/2.0/UDP 127.0.0.11:5060;branch=z9hG4bK-abc;rport"
HEADERS = (
    ("Via", VIA),
    ("Max-Forwards", "70"),
    ("From", '"Acme" <sip:+12025550100@127.0.0.11>;tag=from-1'),
    ("To", "<sip:14155550123@127.0.0.2:5060>"),
    ("Call-ID", "call-1@127.0.0.11"),
    ("CSeq", "1 INVITE"),
    ("Contact", "<sip:pbx@127.0.0.11:5060>"),
)
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.11\r\ns=-\r\nc=IN IP4 127.0.0.11\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
_AUTO = object()


def datagram(start: str = "INVITE sip:14155550123@127.0.0.2:5060 SIP/2.0", headers=HEADERS, body: str = "", *,
             content_type: str | None = _AUTO, content_length: str | None = _AUTO, end: str = "\r\n\r\n") -> bytes:
    """A request (or response) as a peer sends it; Content-Type/-Length right unless told."""
    lines = [start] + [f"{n}: {v}" for n, v in headers]
    if content_type is _AUTO:
        content_type = "application/sdp" if body else None
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if content_length is _AUTO:
        content_length = str(len(body.encode("utf-8")))
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + end + body).encode("utf-8")


def headers_with(name: str, value: str | None, base=HEADERS) -> tuple[tuple[str, str], ...]:
    """base with header `name` replaced by value (removed when None)."""
    out = [(n, v) for n, v in base if n.lower() != name.lower()]
    if value is not None:
        out.insert(len(out), (name, value))
    return tuple(out)


def malformed(data: bytes) -> Malformed:
    result = read(data)
    assert isinstance(result, Malformed), result
    return result


# ------------------------------------------------------------------ read(): messages the edge acts on

def test_an_invite_with_sdp():
    message = read(datagram(body=SDP))
    assert isinstance(message, SipMessage) and message.method == "INVITE" and message.body == SDP
    assert message.call_id == "call-1@127.0.0.11" and message.cseq_number == 1


def test_a_request_without_content_length_takes_the_rest_of_the_datagram():
    message = read(datagram(body=SDP, content_length=None))
    assert isinstance(message, SipMessage) and message.body == SDP


def test_bytes_past_content_length_are_dropped():
    message = read(datagram(body=SDP + "junk after the body", content_length=str(len(SDP))))
    assert isinstance(message, SipMessage) and message.body == SDP


def test_a_lone_cr_in_the_body_is_the_body_s_business():
    body = SDP.replace("\r\n", "\r")
    message = read(datagram(body=body))
    assert isinstance(message, SipMessage) and message.body == body


def test_a_body_of_whitespace_needs_no_content_type():
    message = read(datagram(body="\r\n", content_type=None))
    assert isinstance(message, SipMessage)


@pytest.mark.parametrize("prefix", [b"\r\n", b"\r\n\r\n", b"\n"])
def test_crlf_before_the_start_line_is_ignored(prefix):
    assert isinstance(read(prefix + datagram()), SipMessage)


def test_lf_line_ends_are_read():
    message = read(datagram(body=SDP.replace("\r\n", "\n")).replace(b"\r\n", b"\n"))
    assert isinstance(message, SipMessage) and message.method == "INVITE"


def test_compact_header_names():
    compact = (("v", VIA), ("f", "<sip:a@127.0.0.11>;tag=1"), ("t", "<sip:b@127.0.0.2>"), ("i", "c-2"),
               ("CSeq", "1 INVITE"))
    message = read(datagram(headers=compact, body=SDP, content_type=None) .replace(b"Content-Length", b"l")
                   .replace(b"\r\nl:", b"\r\nc: application/sdp\r\nl:"))
    assert isinstance(message, SipMessage) and message.call_id == "c-2" and message.body == SDP


WSINV_SDP = "v=0\r\no=mhandley 29739 7272939 IN IP4 127.0.0.10\r\ns=-\r\nc=IN IP4 127.0.0.10\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\n"
WSINV = (  # after RFC 4475 3.1.1.1, 'a short tortuous INVITE', on loopback: valid, however odd
    "INVITE sip:14155550123@127.0.0.2;unknownparam SIP/2.0\r\n"
    "TO :\r\n sip:14155550123@127.0.0.2 ;   tag    = 1918181833n\r\n"
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@127.0.0.10>\r\n  ;\r\n  tag = 98asjd8\r\n'
    "MaX-fOrWaRdS: 0068\r\n"
    "Call-ID: wsinv.ndaksdj@127.0.0.10\r\n"
    f"Content-Length   : {len(WSINV_SDP)}\r\n"
    "cseq: 0009\r\n  INVITE\r\n"
    "Via  : SIP  /   2.0\r\n /UDP\r\n    127.0.0.10;rport;branch=390skdjuw\r\n"
    "s :\r\n"
    "NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
    "Content-Type: application/sdp\r\n"
    "Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n"
    'm:"Quoted string \\"\\"" <sip:jdrosen@127.0.0.10> ; newparam =\r\n      newvalue ;\r\n'
    "  secondparam ; q = 0.33\r\n"
    "\r\n" + WSINV_SDP
)


def test_a_short_tortuous_invite_is_a_message():
    message = read(WSINV.encode())
    assert isinstance(message, SipMessage), message
    assert (message.cseq_number, message.cseq_method, message.header("Max-Forwards")) == (9, "INVITE", "0068")
    assert wire.top_via(message) == Via("UDP", "127.0.0.10", None, (("rport", None), ("branch", "390skdjuw")))
    assert len(wire.via_values(message)) == 3 and message.body == WSINV_SDP


def test_a_response_is_read():
    text = datagram("SIP/2.0 180 Ringing", headers_with("To", "<sip:b@127.0.0.2>;tag=t1"))
    message = read(text)
    assert isinstance(message, SipMessage) and not message.is_request and message.status_code == 180


@pytest.mark.parametrize("method", ["ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "REFER", "FOO"])
def test_other_methods_are_messages(method):
    headers = headers_with("CSeq", f"1 {method}")
    assert read(datagram(f"{method} sip:14155550123@127.0.0.2 SIP/2.0", headers)).method == method


@pytest.mark.parametrize("max_forwards", ["0", "70", "255", " 7"])
def test_max_forwards_in_range(max_forwards):
    assert isinstance(read(datagram(headers=headers_with("Max-Forwards", max_forwards))), SipMessage)


def test_a_request_of_exactly_4000_bytes_is_taken():
    data = datagram(body="")
    pad = MAX_MESSAGE_BYTES - len(data) - len("X-Pad: \r\n")
    data = datagram(headers=HEADERS + (("X-Pad", "p" * pad),))
    assert len(data) == MAX_MESSAGE_BYTES and isinstance(read(data), SipMessage)


# ------------------------------------------------------------------ read(): nothing to answer

@pytest.mark.parametrize("data", [b"", b"\r\n", b"\r\n\r\n", b"\n", b"   ", b"\t\r\n"])
def test_keep_alives_are_nothing(data):
    assert read(data) is None


@pytest.mark.parametrize("data", [
    b"hello",
    b"\x00\x01\x02\x03",
    b"\xff\xfe\xfd",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n",
    datagram(headers=headers_with("Via", None)),  # no Via: nowhere to answer
    datagram(headers=headers_with("Via", None), content_length="abc"),
    b"INVITE sip:1@127.0.0.2 SIP/2.0\r\nCall-ID: x\r\n\r\n",
])
def test_garbage_and_requests_without_via_are_dropped(data):
    assert read(data) is None


@pytest.mark.parametrize("via", [
    "garbage",
    "SIP/2.0/UDP",  # no sent-by
    "SIP/3.0/UDP 127.0.0.11:5060;branch=z9hG4bK1",
    "SIP/2.0/UDP 127.0.0.11:99999;branch=z9hG4bK1",
    "SIP/2.0/UDP :5060;branch=z9hG4bK1",
])
@pytest.mark.parametrize("broken", [False, True])
def test_no_usable_top_via_is_dropped(via, broken):
    # EDGE-SPEC: no usable top Via -> dropped, no answer (whether or not the rest makes sense).
    headers = headers_with("Via", via)
    data = datagram(headers=headers, content_length="abc" if broken else _AUTO)
    assert read(data) is None


@pytest.mark.parametrize("start", [
    "GARBAGE",
    "INVITE",
    "INVITE sip:14155550123@127.0.0.2",  # no version
    "HELLO THERE GENERAL KENOBI",
    "INVITE sip:1@127.0.0.2 HTTP/1.1",
])
def test_no_usable_start_line_is_dropped(start):
    assert read(datagram(start)) is None


@pytest.mark.parametrize("data", [
    datagram("SIP/2.0 200 OK", headers_with("Subject", "x\rRecord-Route: <sip:192.168.1.20;lr>")),
    datagram("SIP/2.0 abc Ringing"),
    datagram("SIP/2.0 99 Too Low"),
    datagram("SIP/2.0 700 Too High"),
    datagram("SIP/2.0 180 Ringing", headers_with("Call-ID", None)),
    datagram("SIP/2.0 180 Ringing", end="\r\n"),  # no blank line after the headers
    datagram("SIP/2.0 180 Ringing", headers_with("Call-ID", "x\x00y")),
    datagram("SIP/2.0 180 Ringing") + b"\xff",
    datagram("SIP/3.0 180 Ringing"),
])
def test_broken_responses_are_dropped(data):
    assert read(data) is None


@pytest.mark.parametrize("data", [
    datagram("ACK sip:1@127.0.0.2 SIP/2.0", headers_with("CSeq", "1 ACK"), content_length="abc"),
    datagram("ACK sip:1@127.0.0.2 SIP/2.0", headers_with("CSeq", "1 INVITE")),
    datagram("ACK sip:1@127.0.0.2 SIP/2.0", headers_with("CSeq", "1 ACK"), end="\r\n"),
])
def test_a_broken_ack_is_never_answered(data):
    assert read(data) is None


# ------------------------------------------------------------------ read(): 400, 505, 513

@pytest.mark.parametrize(("data", "words"), [
    (datagram(end="\r\n"), "truncated"),  # no blank line after the headers
    (datagram(body=SDP)[:-20], "cut short"),  # Content-Length larger than the body
    (datagram(body=SDP, content_length=str(len(SDP) + 1)), "cut short"),
    (datagram(body=SDP, content_length="abc"), "not a whole number"),
    (datagram(body=SDP, content_length="-1"), "not a whole number"),
    (datagram(body=SDP, content_length="1e3"), "not a whole number"),
    (datagram(body=SDP, content_type=None), "body without a Content-Type"),
    (datagram(headers=headers_with("CSeq", "1 BYE")), "CSeq method BYE is not the request's method INVITE"),
    (datagram(headers=headers_with("CSeq", "1 invite")), "CSeq method invite"),  # methods are case-sensitive
    (datagram(headers=headers_with("CSeq", "INVITE")), "malformed CSeq"),
    (datagram(headers=headers_with("CSeq", "x INVITE")), "malformed CSeq"),
    (datagram(headers=headers_with("CSeq", "2147483648 INVITE")), "malformed CSeq"),  # 2**31
    (datagram(headers=headers_with("CSeq", None)), "missing CSeq"),
    (datagram(headers=headers_with("Call-ID", None)), "missing Call-ID"),
    (datagram(headers=headers_with("From", None)), "missing From"),
    (datagram(headers=headers_with("To", None)), "missing To"),
    (datagram(headers=headers_with("Max-Forwards", "abc")), "Max-Forwards"),
    (datagram(headers=headers_with("Max-Forwards", "-1")), "Max-Forwards"),
    (datagram(headers=headers_with("Max-Forwards", "256")), "Max-Forwards"),
    (datagram(headers=headers_with("Max-Forwards", "1000")), "Max-Forwards"),
    (datagram(headers=headers_with("Max-Forwards", "\u0667")), "Max-Forwards"),  # an Arabic-Indic seven
    (datagram(headers=HEADERS + (("Subject", "x"),)).replace(b"Subject: x", b"Subject x"), "without a colon"),
    (datagram(headers=HEADERS + (("Bad Name", "x"),)), "header name"),
    (datagram("INVITE http://example.com/ SIP/2.0"), "Request-URI"),
    (datagram("INV@TE sip:1@127.0.0.2 SIP/2.0"), "not a valid token"),
    (datagram(headers=headers_with("Call-ID", "a\x00b")), "NUL"),
    (datagram(headers=headers_with("Subject", "hi\rRequire: 100rel")), "CR without its LF"),
    (datagram(headers=headers_with("Subject", "hi\r")), "CR without its LF"),
    (datagram(headers=headers_with("Subject", "hi\rX-Trunklab-Decision: forged")), "CR without its LF"),
    (datagram(body=SDP) + b"\x00", "NUL"),
    (datagram(headers=headers_with("Subject", "caf\u00e9")).replace("caf\u00e9".encode(), b"caf\xe9"), "UTF-8"),
])
def test_requests_answered_400(data, words):
    answer = malformed(data)
    assert answer.status == 400 and words in answer.cause, answer.cause
    assert answer.method in ("INVITE", "")
    assert ("Via", VIA) in answer.headers  # what the 400 goes back along


def test_a_malformed_request_keeps_the_headers_a_response_echoes_in_order():
    data = datagram(headers=(("v", VIA), ("Via", "SIP/2.0/UDP 127.0.0.5;branch=z9hG4bK2"),
                             ("f", "<sip:a@127.0.0.11>;tag=1"), ("To", "<sip:b@127.0.0.2>"),
                             ("i", "c-9"), ("CSeq", "7 INVITE"), ("Contact", "<sip:x@y>"), ("X-Secret", "s")),
                    content_length="abc")
    assert malformed(data).headers == (("v", VIA), ("Via", "SIP/2.0/UDP 127.0.0.5;branch=z9hG4bK2"),
                                       ("f", "<sip:a@127.0.0.11>;tag=1"), ("To", "<sip:b@127.0.0.2>"),
                                       ("i", "c-9"), ("CSeq", "7 INVITE"))


def test_a_malformed_request_after_parsing_keeps_only_those_headers_too():
    answer = malformed(datagram(body=SDP, content_type=None))
    assert [n for n, _ in answer.headers] == ["Via", "From", "To", "Call-ID", "CSeq"]


HUGE = "9" * 5000  # int() refuses strings of over 4300 digits


@pytest.mark.parametrize("data", [
    datagram(headers=headers_with("CSeq", f"{HUGE} INVITE")),
    datagram(content_length=HUGE),
    datagram(headers=headers_with("Max-Forwards", HUGE)),
])
def test_a_number_of_thousands_of_digits_is_400_not_an_exception(data):
    answer = malformed(data)
    assert answer.status in (400, 513) and ("Via", VIA) in answer.headers


@pytest.mark.parametrize("data", [
    datagram("SIP/2.0 " + HUGE + " OK"),
    datagram(headers=headers_with("Via", f"SIP/2.0/UDP 127.0.0.11:{HUGE};branch=z9hG4bK1")),
    datagram(headers=headers_with("Via", f"SIP/2.0/UDP 127.0.0.11:{HUGE};branch=z9hG4bK1"), content_length=HUGE),
])
def test_a_number_of_thousands_of_digits_where_nobody_can_be_answered_is_dropped(data):
    assert read(data) is None


def test_invalid_utf8_keeps_the_readable_headers():
    data = datagram(headers=headers_with("Subject", "x")).replace(b"Subject: x", b"Subject: \xc3\x28")
    answer = malformed(data)
    assert answer.status == 400 and dict(answer.headers)["Call-ID"] == "call-1@127.0.0.11"


@pytest.mark.parametrize("version", ["SIP/3.0", "SIP/1.0", "sip/2.1"])
def test_another_sip_version_is_505(version):
    answer = malformed(datagram(f"INVITE sip:1@127.0.0.2 {version}"))
    assert answer.status == 505 and "version" in answer.cause


def test_the_version_is_case_insensitive():
    assert isinstance(read(datagram("INVITE sip:1@127.0.0.2 sip/2.0")), SipMessage)


def test_over_4000_bytes_is_513():
    data = datagram(headers=HEADERS + (("X-Pad", "p" * MAX_MESSAGE_BYTES),))
    answer = malformed(data)
    assert answer.status == 513 and str(len(data)) in answer.cause and answer.method == "INVITE"
    assert [n for n, _ in answer.headers] == ["Via", "From", "To", "Call-ID", "CSeq"]


def test_an_oversized_response_is_still_a_message():
    data = datagram("SIP/2.0 200 OK", headers=HEADERS + (("X-Pad", "p" * MAX_MESSAGE_BYTES),))
    assert isinstance(read(data), SipMessage)


def test_the_cause_is_kept_short():
    answer = malformed(datagram(headers=HEADERS + (("X" * 500, "x"),)).replace(b"X" * 500 + b":", b"X" * 500))
    assert len(answer.cause) <= 200


# ------------------------------------------------------------------ parse_via

@pytest.mark.parametrize(("value", "expected"), [
    (VIA, Via("UDP", "127.0.0.11", 5060, (("branch", "z9hG4bK-abc"), ("rport", None)))),
    ("SIP/2.0/UDP 127.0.0.11", Via("UDP", "127.0.0.11", None, ())),
    ("sip/2.0/udp pbx.example.com:5070 ; branch = z9hG4bK1",
     Via("UDP", "pbx.example.com", 5070, (("branch", "z9hG4bK1"),))),
    ("SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1", Via("TCP", "127.0.0.1", 5060, (("branch", "z9hG4bK1"),))),
    ("SIP/2.0/UDP 127.0.0.1:5060;branch=a, SIP/2.0/UDP 127.0.0.2:5060;branch=b",
     Via("UDP", "127.0.0.1", 5060, (("branch", "a"),))),  # the first via-parm only
    ("SIP/2.0/UDP 127.0.0.1:1;received=127.0.0.9;rport=5070;branch=z",
     Via("UDP", "127.0.0.1", 1, (("received", "127.0.0.9"), ("rport", "5070"), ("branch", "z")))),
    ("SIP/2.0/UDP 127.0.0.1:65535", Via("UDP", "127.0.0.1", 65535, ())),
    # RFC 3261 allows whitespace around '/' and ':' (RFC 4475 3.1.1.1 has it, folded)
    ("SIP  /   2.0 /UDP 127.0.0.10;rport;branch=390skdjuw",
     Via("UDP", "127.0.0.10", None, (("rport", None), ("branch", "390skdjuw")))),
    ("SIP / 2.0 / UDP 127.0.0.10 : 5070 ; branch = z9hG4bK1", Via("UDP", "127.0.0.10", 5070, (("branch", "z9hG4bK1"),))),
    ("SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1", Via("UDP", "[::1]", 5060, (("branch", "z9hG4bK1"),))),
    ("SIP/2.0/UDP [2001:db8::9]", Via("UDP", "[2001:db8::9]", None, ())),
])
def test_parse_via(value, expected):
    assert parse_via(value) == expected


@pytest.mark.parametrize("value", [
    "", "garbage", "SIP/2.0/UDP", "SIP/2.0/UDP ", "SIP/2.0 127.0.0.1", "SIP/3.0/UDP 127.0.0.1",
    "HTTP/2.0/UDP 127.0.0.1", "SIP/2.0/UDP 127.0.0.1:0", "SIP/2.0/UDP 127.0.0.1:65536",
    "SIP/2.0/UDP 127.0.0.1:abc", "SIP/2.0/UDP 127.0.0.1:", "SIP/2.0/UDP :5060", "SIP/2.0/UDP 127.0.0.1:\u0665",
    "SIP/2.0/UDP 127.0.0.1:000005060", "SIP/2.0/UDP 127.0.0.1:" + "9" * 5000, "SIP/2.0/UDP ::1:5060",
    "SIP/2.0/UDP [::1", "SIP/2.0/UDP host name", "SIP/2.0/UDP/X host", "SIP//2.0/UDP host",
])
def test_parse_via_refuses(value):
    assert parse_via(value) is None


def test_branch_and_params():
    via = parse_via("SIP/2.0/UDP h;Branch=z9hG4bKX;rport")
    assert via.branch == "z9hG4bKX" and via.param("rport") is None and via.param("nope") is None
    assert parse_via("SIP/2.0/UDP h;rport").branch == ""


def test_via_values_splits_every_header_at_commas():
    message = parse_message(datagram(headers=(("Via", "SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2"),
                                              ("v", "SIP/2.0/UDP c;branch=3"),) + HEADERS[1:]).decode())
    assert wire.via_values(message) == ["SIP/2.0/UDP a;branch=1", "SIP/2.0/UDP b;branch=2",
                                        "SIP/2.0/UDP c;branch=3"]


# ------------------------------------------------------------------ to_bytes

@pytest.mark.parametrize("data", [
    datagram(body=SDP),
    datagram(),
    datagram("SIP/2.0 200 OK", headers_with("To", "<sip:b@127.0.0.2>;tag=t"), body=SDP),
    datagram("BYE sip:pbx@127.0.0.11 SIP/2.0", headers_with("CSeq", "2 BYE")),
])
def test_to_bytes_round_trips(data):
    message = read(data)
    assert read(to_bytes(message)) == message
    assert to_bytes(message) == data  # the writer and this test's peer agree byte for byte


def test_to_bytes_writes_its_own_content_length():
    message = read(datagram(body=SDP))
    body = "v=0\r\ns=caf\u00e9\r\n"  # two bytes for the é
    out = to_bytes(SipMessage(True, "INVITE", "sip:1@127.0.0.2", None, None,
                              message.headers + (("l", "999"), ("Content-Length", "3")), body))
    text = out.decode()
    assert text.count("Content-Length") == 1 and "\r\nl:" not in text
    assert f"Content-Length: {len(body.encode())}\r\n\r\n" in text and out.endswith(body.encode())


def test_to_bytes_without_a_body():
    out = to_bytes(read(datagram()))
    assert out.endswith(b"Content-Length: 0\r\n\r\n")


def test_to_bytes_fills_in_a_missing_reason_phrase():
    message = SipMessage(False, None, None, 488, "", HEADERS, "")
    assert to_bytes(message).startswith(b"SIP/2.0 488 Not Acceptable Here\r\n")


# ------------------------------------------------------------------ response()

REQUEST_HEADERS = HEADERS + (("Via", "SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bK-2"), ("Content-Type", "x"))


def test_a_response_echoes_via_from_to_call_id_cseq_only():
    answer = response(REQUEST_HEADERS, 100)
    assert answer.headers == (("Via", VIA), ("From", HEADERS[2][1]), ("To", HEADERS[3][1]),
                              ("Call-ID", "call-1@127.0.0.11"), ("CSeq", "1 INVITE"),
                              ("Via", "SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bK-2"))
    assert (answer.status_code, answer.reason, answer.body, answer.is_request) == (100, "Trying", "", False)


def test_compact_names_are_answered_with_long_ones():
    answer = response((("v", VIA), ("f", "<sip:a@h>;tag=1"), ("t", "<sip:b@h>;tag=2"), ("i", "c"),
                       ("cseq", "1 INVITE")), 481)
    assert [n for n, _ in answer.headers] == ["Via", "From", "To", "Call-ID", "CSeq"]


@pytest.mark.parametrize(("status", "tagged"), [(100, False), (180, True), (200, True), (407, True), (503, True)])
def test_a_to_tag_is_added_to_every_response_but_100(status, tagged):
    to = dict(response(HEADERS, status, tag_seed="s").headers)["To"]
    assert to.startswith(HEADERS[3][1]) and (";tag=" in to) is tagged


@pytest.mark.parametrize("to", ["<sip:b@127.0.0.2>;tag=theirs", "<sip:b@127.0.0.2> ; TAG = theirs"])
def test_a_to_tag_already_there_is_kept(to):
    assert dict(response(headers_with("To", to), 486, tag_seed="s").headers)["To"] == to


def test_the_to_tag_is_deterministic():
    first = dict(response(HEADERS, 407, tag_seed="seed-1").headers)["To"]
    assert first == dict(response(HEADERS, 407, tag_seed="seed-1").headers)["To"]  # a retransmission's answer
    assert first != dict(response(HEADERS, 407, tag_seed="seed-2").headers)["To"]
    assert first.split(";tag=")[1] == wire.local_tag("seed-1", HEADERS[3][1])


def test_extra_headers_body_and_reason():
    answer = response(HEADERS, 200, [("Allow", "INVITE"), ("Accept", "application/sdp")], body="x", reason="Fine")
    assert answer.headers[-2:] == (("Allow", "INVITE"), ("Accept", "application/sdp"))
    assert (answer.reason, answer.body) == ("Fine", "x")


def test_a_built_response_reads_back():
    answer = to_bytes(response(HEADERS, 405, [("Allow", "INVITE, ACK")], tag_seed="s"))
    message = read(answer)
    assert isinstance(message, SipMessage) and message.status_code == 405 and message.header("Allow") == "INVITE, ACK"


# ------------------------------------------------------------------ reason phrases

@pytest.mark.parametrize(("status", "reason"), [
    (100, "Trying"), (183, "Session Progress"), (200, "OK"), (302, "Moved Temporarily"), (401, "Unauthorized"),
    (407, "Proxy Authentication Required"), (420, "Bad Extension"), (481, "Call/Transaction Does Not Exist"),
    (483, "Too Many Hops"), (488, "Not Acceptable Here"), (503, "Service Unavailable"),
    (505, "Version Not Supported"), (513, "Message Too Large"), (603, "Decline"),
])
def test_standard_reason_phrases(status, reason):
    assert reason_for(status) == reason


@pytest.mark.parametrize(("status", "reason"), [
    (199, "Provisional"), (299, "Successful"), (399, "Redirection"), (499, "Request Failure"),
    (599, "Server Failure"), (607, "Global Failure"), (699, "Global Failure"),
])
def test_an_unknown_code_gets_the_words_of_its_class(status, reason):
    # RFC 3261 21: an unknown code is treated as x00 of its class; its words must not claim a
    # specific meaning (a 607 is not 'Busy Everywhere', a 199 not 'Trying').
    assert reason_for(status) == reason


# ------------------------------------------------------------------ header helpers

@pytest.mark.parametrize(("value", "expected"), [
    ("<sip:alice@10.0.0.5:5062;transport=udp>", "<sip:alice@127.0.0.2:5060;transport=udp>"),
    ("<sip:127.0.0.1:15060;ob>", "<sip:127.0.0.2:5060;ob>"),
    ("sip:127.0.0.1:15060", "sip:127.0.0.2:5060"),
    ("<sip:bob@host>", "<sip:bob@127.0.0.2:5060>"),  # no port: one is added
    ("<sips:bob@host:5061>", "<sips:bob@127.0.0.2:5060>"),
    ("<SIP:bob@host:1>", "<SIP:bob@127.0.0.2:5060>"),
    ("<sip:bob@[::1]:5060>", "<sip:bob@127.0.0.2:5060>"),
    ("<sip:bob@host:1>;expires=60;+sip.instance=\"<urn:x>\"", "<sip:bob@127.0.0.2:5060>;expires=60;+sip.instance=\"<urn:x>\""),
    ('"Bob" <sip:bob@host:1>', '"Bob" <sip:bob@127.0.0.2:5060>'),
    ('"sip:fake" <sip:bob@host:1>', '"sip:fake" <sip:bob@127.0.0.2:5060>'),  # a display name is not a URI
    ('"a \\" sip:x" <sip:bob@host:1>', '"a \\" sip:x" <sip:bob@127.0.0.2:5060>'),
    ("<sip:bob:secret@host:1>", "<sip:bob:secret@127.0.0.2:5060>"),
    ("tel:+12025550100", "tel:+12025550100"),  # nothing to rewrite
    ("*", "*"),
])
def test_uri_with_host(value, expected):
    assert wire.uri_with_host(value, "127.0.0.2", 5060) == expected


@pytest.mark.parametrize(("value", "tagged"), [
    ("<sip:b@h>;tag=1", True), ("<sip:b@h> ; TAG=1", True), ("<sip:b@h>", False), (None, False), ("", False),
])
def test_has_tag(value, tagged):
    assert wire.has_tag(value) is tagged


def test_replace_header_keeps_the_place_and_drops_the_others():
    headers = [("A", "1"), ("Max-Forwards", "70"), ("B", "2"), ("max-forwards", "69")]
    assert wire.replace_header(headers, "Max-Forwards", "5") == [("A", "1"), ("Max-Forwards", "5"), ("B", "2")]
    assert wire.replace_header([("A", "1")], "Max-Forwards", "5") == [("A", "1"), ("Max-Forwards", "5")]


def test_without_drops_compact_and_long_names():
    assert wire.without([("v", "a"), ("Via", "b"), ("To", "c")], "Via") == [("To", "c")]
