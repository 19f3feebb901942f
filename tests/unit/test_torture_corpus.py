"""The torture corpus (tests/torture/) and its judge (tests/support/torture.py), without a lab:
the manifest is complete and consistent, every message renders to what it claims, and the
judge reads answers as EDGE-SPEC.md says."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

import pytest

from tests.support.torture import (
    CORPUS,
    MAX_DATAGRAM,
    PLACEHOLDERS,
    Answer,
    CorpusMessage,
    ack_for,
    body_of,
    is_new_invite_like,
    judge,
    load_corpus,
    render,
)

# Every answer EDGE-SPEC.md's table gives, "none" (dropped), and 505, which RFC 3261 gives where
# the spec is silent (a manifest choice with a note).
SPEC_ANSWERS = {200, 400, 401, 403, 404, 405, 407, 420, 480, 481, 483, 484, 488, 501, 503, 505, 513, "none"}
GATEWAY = ("127.0.130.2", 5060)


def values(name: str = "m") -> dict[str, str]:
    return {"gateway_ip": GATEWAY[0], "gateway_port": str(GATEWAY[1]), "source_ip": "127.0.130.50",
            "source_port": "40123", "call_id": f"call-{name}", "branch": "z9hG4bK-unit", "tag": "t1",
            "to_tag": "t2", "number": "14155550123"}


@pytest.fixture(scope="module")
def corpus() -> list[CorpusMessage]:
    return load_corpus()


def test_the_corpus_has_at_least_sixty_messages_valid_and_invalid(corpus):
    assert len(corpus) >= 60
    categories = Counter(m.category for m in corpus)
    assert categories["valid-odd"] >= 20
    for needed in ("truncated", "oversize", "bad-length", "body", "missing-header", "bad-header", "bad-start-line",
                   "unknown-method", "stray-response", "no-dialog", "not-carried", "options", "extension",
                   "bytes", "auth"):
        assert categories[needed] >= 2, needed


def test_every_file_is_in_the_manifest_once_and_every_entry_has_a_file(corpus):
    names = [m.name for m in corpus]
    assert len(names) == len(set(names))
    assert {p.stem for p in CORPUS.glob("*.sip")} == set(names)


def test_every_expectation_is_an_answer_of_the_spec(corpus):
    for message in corpus:
        assert message.expect and set(message.expect) <= SPEC_ANSWERS, message.name
        assert message.why.strip(), message.name
        assert (len(message.expect) > 1) == bool(message.note), f"{message.name}: a choice needs a note, and only a choice"


def test_every_message_renders_within_the_bound_with_no_placeholder_left(corpus):
    for message in corpus:
        data = render(message, values(message.name))
        assert len(data) <= MAX_DATAGRAM, message.name
        for name in (*PLACEHOLDERS, "content_length", "padding"):
            assert b"{" + name.encode() + b"}" not in data, (message.name, name)
        if message.size is not None:
            assert len(data) == message.size, message.name


def test_content_length_is_the_body_length_where_the_file_asks_for_it(corpus):
    for message in corpus:
        if b"{content_length}" not in message.template or message.cut:
            continue
        data = render(message, values())
        declared = re.search(rb"(?:Content-Length|l)\s*:\s*(\d+)", data, re.IGNORECASE)
        assert int(declared.group(1)) == len(body_of(data)), message.name


def test_the_oversize_messages_are_over_4000_bytes_and_the_limit_one_is_not(corpus):
    by_name = {m.name: m for m in corpus}
    for message in corpus:
        if message.category == "oversize":
            assert len(render(message, values())) > 4000, message.name
    assert len(render(by_name["valid-size-4000"], values())) == 4000


def test_messages_name_loopback_ipv4_addresses_only_and_never_steer_answers(corpus):
    for message in corpus:
        text = render(message, values()).decode("latin-1")
        assert "maddr" not in text.lower(), message.name
        for address in re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", text):
            assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8"), (message.name, address)


def test_no_message_carries_real_credentials(corpus):
    for message in corpus:
        text = message.template.decode("latin-1")
        # the only SIDs in the corpus are made-up ones (all zeros, all ones)
        for sid in re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text):
            assert len(set(sid.replace("-", ""))) <= 3, (message.name, sid)


def test_render_fills_sizes_and_cuts():
    message = CorpusMessage("m", "valid-odd", "why", (407,), b"INVITE x\r\nX-P: {padding}\r\n\r\n", size=100)
    assert len(render(message, values())) == 100
    cut = CorpusMessage("m", "truncated", "why", (400,), b"0123456789", cut=3)
    assert render(cut, values()) == b"0123456"
    with pytest.raises(ValueError):
        render(message, {})
    too_small = CorpusMessage("m", "valid-odd", "why", (407,), b"X-P: {padding}" + b"a" * 200, size=10)
    with pytest.raises(ValueError):
        render(too_small, values())


def test_only_known_placeholders_are_filled():
    message = CorpusMessage("m", "valid-odd", "why", (407,), b"{number} {unknown} {tag}")
    assert render(message, values()) == b"14155550123 {unknown} t1"


def test_invite_like_datagrams_are_what_the_sender_paces():
    assert is_new_invite_like(b"INVITE sip:x SIP/2.0\r\n")
    assert is_new_invite_like(b"\r\n\r\ninvite sip:x SIP/2.0\r\n")
    assert not is_new_invite_like(b"OPTIONS sip:x SIP/2.0\r\n")
    assert not is_new_invite_like(b"SIP/2.0 200 OK\r\n")


# --------------------------------------------------------------------------
# judging answers
# --------------------------------------------------------------------------

SENT = (b"INVITE sip:1@127.0.130.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.130.50:40123;rport;branch=z9hG4bK-1\r\n"
        b"From: <sip:a@127.0.130.50>;tag=t1\r\nTo: <sip:1@127.0.130.2>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n")
OPTIONS = SENT.replace(b"INVITE", b"OPTIONS")


def answer(status: str, *headers: str, call_id: str = "c1", cseq: str = "1 INVITE") -> Answer:
    lines = [f"SIP/2.0 {status}", "Via: SIP/2.0/UDP 127.0.130.50:40123;rport=40123;branch=z9hG4bK-1",
             "From: <sip:a@127.0.130.50>;tag=t1", "To: <sip:1@127.0.130.2>;tag=gw1", f"Call-ID: {call_id}",
             f"CSeq: {cseq}", *headers, "Content-Length: 0"]
    return Answer.parse(("\r\n".join(lines) + "\r\n\r\n").encode())


def expecting(*expect) -> CorpusMessage:
    return CorpusMessage("m", "c", "why", tuple(expect), b"")


def test_the_right_status_with_its_header_is_right():
    challenge = 'Proxy-Authenticate: Digest realm="r", nonce="n", qop="auth"'
    assert judge(expecting(407), SENT, [answer("100 Trying"), answer("407 Proxy Authentication Required", challenge)],
                 GATEWAY[0]) == []


def test_a_challenge_without_its_header_is_wrong():
    assert "407 without" in judge(expecting(407), SENT, [answer("407 Proxy Authentication Required")], GATEWAY[0])[0]
    assert "401 without" in judge(expecting(401), SENT, [answer("401 Unauthorized")], GATEWAY[0])[0]


def test_another_status_or_silence_is_wrong():
    assert "expected 400" in judge(expecting(400), SENT, [answer("500 Server Internal Error")], GATEWAY[0])[0]
    assert "no answer" in judge(expecting(400), SENT, [], GATEWAY[0])[0]
    assert "only SIP/2.0 100 Trying" in judge(expecting(400), SENT, [answer("100 Trying")], GATEWAY[0])[0]


def test_an_expected_silence():
    assert judge(expecting("none"), SENT, [], GATEWAY[0]) == []
    assert "expected no answer" in judge(expecting("none"), SENT, [answer("100 Trying")], GATEWAY[0])[0]
    assert "expected no answer" in judge(expecting("none"), SENT, [answer("400 Bad Request")], GATEWAY[0])[0]


def test_a_choice_accepts_either():
    warning = f'Warning: 399 {GATEWAY[0]} "no branch"'
    assert judge(expecting(407, "none"), SENT, [], GATEWAY[0]) == []
    assert judge(expecting(407, "none"), SENT, [answer("407 X", 'Proxy-Authenticate: Digest nonce="n"')], GATEWAY[0]) == []
    assert judge(expecting(400, 407), SENT, [answer("400 Bad Request", warning)], GATEWAY[0]) == []


def test_refusals_need_a_warning_naming_the_gateway():
    good = f'Warning: 399 {GATEWAY[0]} "Content-Length is larger than the body"'
    assert judge(expecting(400), SENT, [answer("400 Bad Request", good)], GATEWAY[0]) == []
    assert "Warning" in judge(expecting(400), SENT, [answer("400 Bad Request")], GATEWAY[0])[0]
    assert "Warning" in judge(expecting(400), SENT, [answer("400 Bad Request", 'Warning: 399 vm "x"')], GATEWAY[0])[0]


def test_allow_lists_exactly_what_the_gateway_carries():
    allow_ok = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"
    accept = "Accept: application/sdp"
    assert judge(expecting(200), OPTIONS, [answer("200 OK", allow_ok, accept, cseq="1 OPTIONS")], GATEWAY[0]) == []
    too_much = judge(expecting(200), OPTIONS, [answer("200 OK", allow_ok + ", REFER", accept, cseq="1 OPTIONS")], GATEWAY[0])
    assert "Allow" in too_much[0]
    assert "Accept" in judge(expecting(200), OPTIONS, [answer("200 OK", allow_ok, cseq="1 OPTIONS")], GATEWAY[0])[0]
    warning = f'Warning: 399 {GATEWAY[0]} "REGISTER is not used on a trunk"'
    assert judge(expecting(405), SENT, [answer("405 Method Not Allowed", allow_ok, warning)], GATEWAY[0]) == []
    assert "Allow" in judge(expecting(405), SENT, [answer("405 Method Not Allowed", warning)], GATEWAY[0])[0]


def test_420_and_503_carry_their_headers():
    warning = f'Warning: 399 {GATEWAY[0]} "x"'
    assert "Unsupported" in judge(expecting(420), SENT, [answer("420 Bad Extension", warning)], GATEWAY[0])[0]
    assert judge(expecting(420), SENT, [answer("420 Bad Extension", "Unsupported: 100rel", warning)], GATEWAY[0]) == []
    assert "Retry-After" in judge(expecting(503), SENT, [answer("503 Service Unavailable", warning)], GATEWAY[0])[0]


def test_the_call_id_must_be_echoed_and_garbage_is_no_answer():
    challenge = 'Proxy-Authenticate: Digest nonce="n"'
    assert "Call-ID" in judge(expecting(407), SENT, [answer("407 X", challenge, call_id="other")], GATEWAY[0])[0]
    assert "no SIP response" in judge(expecting(407), SENT, [Answer.parse(b"\x00garbage")], GATEWAY[0])[0]


def test_an_answer_may_lack_the_headers_the_request_lacked():
    bare = Answer.parse(b"SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP 127.0.130.50:1;branch=z9hG4bK-1\r\n"
                        b'Warning: 399 127.0.130.2 "no Call-ID"\r\nContent-Length: 0\r\n\r\n')
    no_call_id = SENT.replace(b"Call-ID: c1\r\n", b"")
    assert bare.status == 400 and judge(expecting(400), no_call_id, [bare], GATEWAY[0]) == []
    compact = Answer.parse(b"SIP/2.0 200 OK\r\ni: c1\r\nv: SIP/2.0/UDP x\r\n\r\n")
    assert compact.header("Call-ID") == "c1" and compact.header("via") == "SIP/2.0/UDP x"


def test_the_ack_of_a_refusal_reuses_the_invites_transaction():
    ack = ack_for(answer("407 Proxy Authentication Required"), "sip:1@127.0.130.2:5060").decode()
    assert ack.startswith("ACK sip:1@127.0.130.2:5060 SIP/2.0\r\n")
    assert "branch=z9hG4bK-1" in ack and "To: <sip:1@127.0.130.2>;tag=gw1" in ack
    assert "CSeq: 1 ACK" in ack and "Call-ID: c1" in ack and ack.endswith("\r\n\r\n")
    assert ack_for(answer("200 OK"), "sip:x") is None  # a 2xx is ACKed by the dialog, not here
    assert ack_for(answer("100 Trying"), "sip:x") is None
    assert ack_for(answer("481 Gone", cseq="2 BYE"), "sip:x") is None
