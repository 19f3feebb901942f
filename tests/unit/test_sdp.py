"""sip.sdp: the few facts of an offer the carrier edge checks (codecs, where RTP goes, hold),
nominal offers first, then each way an offer is unusable here."""

from __future__ import annotations

import pytest

from sip.sdp import MediaLine, OfferProblem, SdpError, SessionDescription, check_offer, is_hold, parse_sdp

CARRIER = ("PCMU", "PCMA")


def sdp(*lines: str, c: str | None = "IN IP4 127.0.0.10", media: str = "m=audio 4000 RTP/AVP 0 8 101") -> str:
    """An offer as a PBX writes it (CRLF), with the session lines first; `lines` go after m=."""
    head = ["v=0", "o=pbx 1 1 IN IP4 127.0.0.10", "s=-"] + ([f"c={c}"] if c else []) + ["t=0 0"]
    return "\r\n".join(head + ([media] if media else []) + list(lines)) + "\r\n"


OFFER = sdp("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=sendrecv")


# ------------------------------------------------------------------ parse_sdp, nominal

def test_a_pbx_offer():
    parsed = parse_sdp(OFFER)
    assert parsed == SessionDescription(
        connection="127.0.0.10",
        media=(MediaLine("audio", 4000, "RTP/AVP", ("0", "8", "101"), ("PCMU", "PCMA", "TELEPHONE-EVENT"),
                         None, "sendrecv"),),
        direction="sendrecv",
    )
    assert parsed.addresses() == ("127.0.0.10",)
    assert parsed.audio == parsed.media


def test_lf_line_ends_and_blank_lines_are_read():
    assert parse_sdp(OFFER.replace("\r\n", "\n\n")) == parse_sdp(OFFER)


@pytest.mark.parametrize(("formats", "rtpmaps", "codecs"), [
    ("0 8", (), ("PCMU", "PCMA")),  # static payload types need no rtpmap (RFC 3551)
    ("3 9 18", (), ("GSM", "G722", "G729")),
    ("96", ("a=rtpmap:96 opus/48000/2",), ("OPUS",)),  # dynamic: only the rtpmap names it
    ("96", (), ("PT96",)),  # dynamic without rtpmap: a number, not a codec
    ("0", ("a=rtpmap:0 pcma/8000",), ("PCMA",)),  # the rtpmap wins, and names are upper-cased
    ("4 34", (), ("PT4", "PT34")),  # static types that are not in the table
])
def test_codecs_named_by_payload_type_or_rtpmap(formats, rtpmaps, codecs):
    parsed = parse_sdp(sdp(*rtpmaps, media=f"m=audio 4000 RTP/AVP {formats}"))
    assert parsed.media[0].formats == tuple(formats.split())
    assert parsed.media[0].codecs == codecs


def test_an_rtpmap_belongs_to_its_own_media_line():
    body = sdp("a=rtpmap:96 opus/48000", "m=audio 4002 RTP/AVP 96", "a=rtpmap:96 iLBC/8000")
    first, second = parse_sdp(body.replace("m=audio 4000 RTP/AVP 0 8 101", "m=audio 4000 RTP/AVP 96")).media
    assert (first.codecs, second.codecs) == (("OPUS",), ("ILBC",))


def test_a_session_level_rtpmap_names_nothing():
    body = "v=0\r\na=rtpmap:96 opus/48000\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 96\r\n"
    assert parse_sdp(body).media[0].codecs == ("PT96",)


@pytest.mark.parametrize(("session", "media_attr", "expected"), [
    (None, None, "sendrecv"),  # the default
    ("sendonly", None, "sendonly"),  # a session attribute is each media's default
    ("inactive", None, "inactive"),
    ("sendonly", "sendrecv", "sendrecv"),  # a media attribute wins over the session's
    (None, "recvonly", "recvonly"),
    ("recvonly", "inactive", "inactive"),
])
def test_direction_session_then_media_level(session, media_attr, expected):
    head = "v=0\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" + (f"a={session}\r\n" if session else "")
    body = head + "m=audio 4000 RTP/AVP 0\r\n" + (f"a={media_attr}\r\n" if media_attr else "")
    parsed = parse_sdp(body)
    assert parsed.media[0].direction == expected
    assert parsed.direction == (session or "sendrecv")


def test_media_connection_wins_over_the_session_one():
    body = sdp("c=IN IP4 127.0.0.77", "m=video 5000 RTP/AVP 31")
    parsed = parse_sdp(body)
    assert parsed.connection == "127.0.0.10"
    assert [m.connection for m in parsed.media] == ["127.0.0.77", None]
    assert parsed.addresses() == ("127.0.0.77", "127.0.0.10")


def test_media_connection_without_a_session_one():
    parsed = parse_sdp(sdp("c=IN IP4 127.0.0.5", c=None))
    assert parsed.connection is None and parsed.addresses() == ("127.0.0.5",)


def test_no_connection_anywhere_is_an_empty_address():
    assert parse_sdp(sdp(c=None)).addresses() == ("",)


def test_a_multicast_ttl_suffix_is_not_part_of_the_address():
    assert parse_sdp(sdp(c="IN IP4 224.2.1.1/127")).connection == "224.2.1.1"


@pytest.mark.parametrize(("m_line", "port"), [
    ("m=audio 0 RTP/AVP 0", 0),
    ("m=audio 65535 RTP/AVP 0", 65535),
    ("m=audio 4000/2 RTP/AVP 0", 4000),  # a port count (RFC 4566 5.14)
])
def test_ports(m_line, port):
    assert parse_sdp(sdp(media=m_line)).media[0].port == port


def test_a_disabled_stream_is_not_audio():
    parsed = parse_sdp(sdp("m=audio 4002 RTP/AVP 8", media="m=audio 0 RTP/AVP 0"))
    assert [m.port for m in parsed.audio] == [4002]


def test_video_is_not_audio():
    parsed = parse_sdp(sdp(media="m=video 5000 RTP/AVP 31"))
    assert parsed.media[0].kind == "video" and parsed.audio == ()


# ------------------------------------------------------------------ parse_sdp, errors

@pytest.mark.parametrize(("body", "words"), [
    ("", "does not start with 'v='"),
    ("\r\n\r\n", "does not start with 'v='"),
    ("hello world", "does not start with 'v='"),
    ("o=x 1 1 IN IP4 127.0.0.1\r\nv=0\r\n", "does not start with 'v='"),
    ("v=0\r\nthis is not sdp\r\n", "is not '<letter>=<value>'"),
    ("v=0\r\nxx=1\r\n", "is not '<letter>=<value>'"),
    ("v=0\r\nc=IN IP4\r\n", "is not 'IN IP4 <address>'"),
    ("v=0\r\nc=XX IP4 127.0.0.1\r\n", "is not 'IN IP4 <address>'"),
    ("v=0\r\nc=IN IP6 ::1\r\n", "IPv4 on loopback only"),
    ("v=0\r\nm=audio\r\n", "is not '<media> <port> <proto> <formats>'"),
    ("v=0\r\nm=audio 4000 RTP/AVP\r\n", "is not '<media> <port> <proto> <formats>'"),  # no formats
    ("v=0\r\nm=audio port RTP/AVP 0\r\n", "is not '<media> <port> <proto> <formats>'"),
    ("v=0\r\nm=audio -1 RTP/AVP 0\r\n", "is not '<media> <port> <proto> <formats>'"),
    ("v=0\r\nm=audio 70000 RTP/AVP 0\r\n", "is not a UDP port"),
    ("v=0\r\nm=audio \u00b2 RTP/AVP 0\r\n", "is not '<media> <port> <proto> <formats>'"),  # superscript two
    ("v=0\r\nm=audio \uff14\uff10\uff10\uff10 RTP/AVP 0\r\n", "is not '<media> <port> <proto> <formats>'"),
])
def test_unreadable_sdp_is_an_sdp_error_with_a_sentence(body, words):
    with pytest.raises(SdpError) as raised:
        parse_sdp(body)
    assert words in str(raised.value)


def test_an_sdp_error_quotes_a_long_line_short():
    with pytest.raises(SdpError) as raised:
        parse_sdp("v=0\r\n" + "z" * 500 + "\r\n")
    assert len(str(raised.value)) < 120


# ------------------------------------------------------------------ check_offer

def test_a_good_offer_passes():
    assert check_offer(OFFER, CARRIER) is None


@pytest.mark.parametrize("formats", ["0", "8", "18 8", "96 0", "101 8"])
def test_one_codec_in_common_is_enough(formats):
    assert check_offer(sdp(media=f"m=audio 4000 RTP/AVP {formats}"), CARRIER) is None


@pytest.mark.parametrize(("formats", "rtpmaps", "named"), [
    ("9", (), "G722"),
    ("3 18", (), "G729, GSM"),
    ("96 101", ("a=rtpmap:96 opus/48000/2", "a=rtpmap:101 telephone-event/8000"), "OPUS"),
    ("96", (), "none"),  # an unnamed dynamic type names no codec
])
def test_no_codec_in_common(formats, rtpmaps, named):
    problem = check_offer(sdp(*rtpmaps, media=f"m=audio 4000 RTP/AVP {formats}"), CARRIER)
    assert problem == OfferProblem(f"no codec in common: the offer has {named}; the carrier offers PCMU, PCMA")


def test_codecs_of_a_disabled_stream_do_not_count():
    body = sdp("m=audio 4002 RTP/AVP 9", media="m=audio 0 RTP/AVP 0")
    assert "no codec in common" in check_offer(body, CARRIER).cause


@pytest.mark.parametrize(("session_c", "media_c"), [
    ("IN IP4 192.168.1.20", None),  # session level
    ("IN IP4 127.0.0.10", "c=IN IP4 10.0.0.5"),  # media level wins, and it is off loopback
    (None, "c=IN IP4 8.8.8.8"),
    ("IN IP4 224.2.1.1/127", None),  # multicast
    ("IN IP4 128.0.0.1", None),  # just outside 127.0.0.0/8
    ("IN IP4 255.255.255.255", None),
])
def test_rtp_off_loopback_is_refused(session_c, media_c):
    body = sdp(*([media_c] if media_c else []), c=session_c)
    problem = check_offer(body, CARRIER)
    assert problem is not None and "off loopback" in problem.cause and "127.0.0.0/8" in problem.cause


@pytest.mark.parametrize(("rtcp", "refused"), [
    ("a=rtcp:4001", False),  # a port only: RTCP goes to the media's own address
    ("a=rtcp:4001 IN IP4 127.0.0.10", False),
    ("a=rtcp:4001 IN IP4 192.168.1.20", True),  # pjmedia would send RTCP there
    ("a=rtcp:4001 IN IP6 ::1", True),
    ("a=rtcp:x", True),
    ("a=rtcp:99999", True),  # not a UDP port
])
def test_an_rtcp_address_off_loopback_is_refused(rtcp, refused):
    problem = check_offer(sdp(rtcp), CARRIER)
    assert (problem is not None) is refused
    if refused:
        assert "loopback" in problem.cause or "cannot be read" in problem.cause


def test_the_rtcp_address_is_parsed():
    parsed = parse_sdp(sdp("a=rtcp:4001 IN IP4 127.0.0.33"))
    assert parsed.media[0].rtcp_connection == "127.0.0.33" and parsed.media[0].rtcp_port == 4001
    assert parsed.addresses() == ("127.0.0.10", "127.0.0.33")
    assert parse_sdp(sdp()).media[0].rtcp_port is None  # then RTCP is on the RTP port + 1 (pcap export)


def test_an_off_loopback_video_stream_is_refused_too():
    problem = check_offer(sdp("m=video 5000 RTP/AVP 31", "c=IN IP4 192.168.1.20"), CARRIER)
    assert "192.168.1.20" in problem.cause


@pytest.mark.parametrize("address", ["127.0.0.1", "127.255.255.254", "127.0.42.10"])
def test_any_loopback_address_is_fine(address):
    assert check_offer(sdp(c=f"IN IP4 {address}"), CARRIER) is None


@pytest.mark.parametrize("hidden", ["a=sendrecv\rc=IN IP4 192.168.1.20", "a=rtpmap:0 PCMU/8000\rc=IN IP4 192.168.1.20"])
def test_a_connection_line_behind_a_lone_cr_is_seen(hidden):
    # pjmedia ends an SDP line at a CR alone: what it would read, the check reads too
    problem = check_offer(sdp(hidden), CARRIER)
    assert problem is not None and "192.168.1.20" in problem.cause


def test_media_level_loopback_fixes_an_off_loopback_session_address():
    assert check_offer(sdp("c=IN IP4 127.0.0.10", c="IN IP4 192.168.1.20"), CARRIER) is None


def test_zero_address_hold_is_accepted():
    assert check_offer(sdp(c="IN IP4 0.0.0.0"), CARRIER) is None


@pytest.mark.parametrize("host", ["pbx.example.com", "localhost"])
def test_a_host_name_is_refused(host):
    problem = check_offer(sdp(c=f"IN IP4 {host}"), CARRIER)
    assert problem is not None and host in problem.cause and "loopback" in problem.cause


def test_no_connection_address_at_all_says_so():
    problem = check_offer(sdp(c=None), CARRIER)
    assert problem is not None and "no connection address" in problem.cause


def test_ipv6_is_refused():
    problem = check_offer(sdp(c="IN IP6 ::1"), CARRIER)
    assert problem is not None and "cannot be read" in problem.cause and "IPv4 on loopback only" in problem.cause


@pytest.mark.parametrize("body", ["", "hello", "v=0\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\nm=audio \u00b2 RTP/AVP 0\r\n",
                                  "<?xml version='1.0'?><isup/>"])
def test_unreadable_sdp_is_a_problem_not_an_exception(body):
    problem = check_offer(body, CARRIER)
    assert problem is not None and problem.cause.startswith("the SDP offer cannot be read: ")


@pytest.mark.parametrize("media", ["", "m=video 5000 RTP/AVP 31", "m=audio 0 RTP/AVP 0"])
def test_no_audio(media):
    assert check_offer(sdp(media=media), CARRIER) == OfferProblem("the SDP offer has no audio stream")


def test_the_address_is_checked_before_the_codecs():
    problem = check_offer(sdp(c="IN IP4 192.168.1.20", media="m=audio 4000 RTP/AVP 9"), CARRIER)
    assert "off loopback" in problem.cause


def test_carrier_codecs_are_a_parameter():
    body = sdp(media="m=audio 4000 RTP/AVP 9")
    assert check_offer(body, ("G722",)) is None and check_offer(body, CARRIER) is not None


def test_no_carrier_codecs_compares_no_codecs():
    assert check_offer(sdp(media="m=audio 4000 RTP/AVP 96"), None) is None
    assert "off loopback" in check_offer(sdp(c="IN IP4 10.0.0.1", media="m=audio 4000 RTP/AVP 96"), None).cause
    assert check_offer(sdp(media="m=video 5000 RTP/AVP 31"), None).cause == "the SDP offer has no audio stream"


# ------------------------------------------------------------------ is_hold

@pytest.mark.parametrize(("lines", "c", "hold"), [
    (("a=sendrecv",), "IN IP4 127.0.0.10", False),
    ((), "IN IP4 127.0.0.10", False),
    (("a=sendonly",), "IN IP4 127.0.0.10", True),
    (("a=inactive",), "IN IP4 127.0.0.10", True),
    (("a=recvonly",), "IN IP4 127.0.0.10", False),  # the offerer wants to hear: not a hold
    ((), "IN IP4 0.0.0.0", True),  # RFC 2543 hold
    (("c=IN IP4 0.0.0.0",), "IN IP4 127.0.0.10", True),  # at media level
    (("c=IN IP4 127.0.0.10",), "IN IP4 0.0.0.0", False),  # media level wins
    (("a=sendonly", "m=audio 4002 RTP/AVP 0"), "IN IP4 127.0.0.10", False),  # one stream still sends
    (("a=sendonly", "m=audio 0 RTP/AVP 0"), "IN IP4 127.0.0.10", True),  # a disabled stream does not count
])
def test_is_hold(lines, c, hold):
    assert is_hold(sdp(*lines, c=c)) is hold


def test_session_level_sendonly_is_hold():
    body = "v=0\r\ns=-\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n"
    assert is_hold(body)


@pytest.mark.parametrize("body", ["", "garbage", sdp(media="m=video 5000 RTP/AVP 31"), "v=0\r\nm=audio \u00b2 RTP/AVP 0\r\n"])
def test_no_audio_or_no_sdp_is_not_hold(body):
    assert is_hold(body) is False
