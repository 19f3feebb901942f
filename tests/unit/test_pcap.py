"""sip.pcap: libpcap records, UDP out of IPv4, SDP media addresses, and one call's packets among
everything a capture holds (synthetic packets, and the SIP of calls recorded from real agents)."""

from __future__ import annotations

import socket
import struct

import pytest

from sip.capture import PACKET_OVERHEAD, PacketRing, capture_program, lab_blocks
from sip.pcap import (
    LINKTYPE_RAW,
    MEDIA_GRACE_S,
    Datagram,
    Packet,
    file_header,
    ip_total_length,
    pcap_bytes,
    record,
    sdp_media_addresses,
    select_call,
    sip_message,
    udp_datagram,
)
from tests.support.replay import replay

# ---------------------------------------------------------------------------- packet builders


def ipv4(src: str, dst: str, payload: bytes, *, protocol: int = 17, flags_fragment: int = 0x4000,
         options: bytes = b"") -> bytes:
    header_length = 20 + len(options)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | header_length // 4, 0, header_length + len(payload), 1,
                         flags_fragment, 64, protocol, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return header + options + payload


def udp(src: tuple[str, int], dst: tuple[str, int], payload: bytes, **ip_options) -> bytes:
    datagram = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    return ipv4(src[0], dst[0], datagram, **ip_options)


def rtp(seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x1234) + b"\xff" * 160


def rtcp() -> bytes:
    return struct.pack("!BBHI", 0x80, 201, 1, 0x1234)


def sdp(ip: str, port: int) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
            f"c=IN IP4 {ip}\r\na=rtcp:{port + 1} IN IP4 {ip}\r\na=sendrecv\r\n")


def sip(first_line: str, call_id: str, cseq: str, body: str = "") -> bytes:
    headers = [first_line, "Via: SIP/2.0/UDP 127.0.9.20:5060;branch=z9hG4bK1", "From: <sip:a@x>;tag=1",
               "To: <sip:b@y>", f"Call-ID: {call_id}", f"CSeq: {cseq}"]
    if body:
        headers.append("Content-Type: application/sdp")
    headers.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


PSTN, GW, PBX = "127.0.9.20", "127.0.9.2", "127.0.9.10"


def b2bua_call(t0: float = 1000.0) -> dict[str, list[Packet]]:
    """A bridged call as it crosses lo: A leg PSTN <-> GW (Call-ID a), B leg GW <-> PBX (Call-ID
    b), RTP on both legs both ways with RTCP, then BYE on both legs."""
    def at(dt: float, src, dst, payload: bytes) -> Packet:
        return Packet(t0 + dt, udp(src, dst, payload))

    pstn, gw, pbx = (PSTN, 5060), (GW, 5060), (PBX, 5060)
    sip_packets = [
        at(0.000, pstn, gw, sip("INVITE sip:1@x SIP/2.0", "a", "1 INVITE", sdp(PSTN, 4000))),
        at(0.001, gw, pstn, sip("SIP/2.0 100 Trying", "a", "1 INVITE")),
        at(0.002, gw, pbx, sip("INVITE sip:1@y SIP/2.0", "b", "1 INVITE", sdp(GW, 4002))),
        at(0.004, pbx, gw, sip("SIP/2.0 200 OK", "b", "1 INVITE", sdp(PBX, 4000))),
        at(0.005, gw, pstn, sip("SIP/2.0 200 OK", "a", "1 INVITE", sdp(GW, 4000))),
        at(0.006, pstn, gw, sip("ACK sip:gw@x SIP/2.0", "a", "1 ACK")),
        at(0.006, gw, pbx, sip("ACK sip:pbx@y SIP/2.0", "b", "1 ACK")),
        at(2.000, pstn, gw, sip("BYE sip:gw@x SIP/2.0", "a", "2 BYE")),
        at(2.001, gw, pstn, sip("SIP/2.0 200 OK", "a", "2 BYE")),
        at(2.002, gw, pbx, sip("BYE sip:pbx@y SIP/2.0", "b", "2 BYE")),
        at(2.003, pbx, gw, sip("SIP/2.0 200 OK", "b", "2 BYE")),
    ]
    media = []
    for i in range(10):
        dt = 0.01 + i * 0.2
        media += [at(dt, (PSTN, 4000), (GW, 4000), rtp(i)), at(dt, (GW, 4000), (PSTN, 4000), rtp(i)),
                  at(dt, (GW, 4002), (PBX, 4000), rtp(i)), at(dt, (PBX, 4000), (GW, 4002), rtp(i))]
    media += [at(1.0, (PSTN, 4001), (GW, 4001), rtcp()), at(1.0, (PBX, 4001), (GW, 4003), rtcp())]
    media.append(at(2.003 + MEDIA_GRACE_S / 2, (PBX, 4000), (GW, 4002), rtp(99)))  # in flight at the BYE
    return {"sip": sip_packets, "media": media}


def noise(t0: float = 1000.0) -> list[Packet]:
    """What else a capture of the block holds while the call runs."""
    return [
        Packet(t0 + 0.5, udp((PSTN, 5060), (GW, 5060), sip("OPTIONS sip:gw@x SIP/2.0", "other", "1 OPTIONS"))),
        Packet(t0 + 0.5, udp((PSTN, 4010), (GW, 4010), rtp(1))),  # another call's media
        Packet(t0 + 0.5, udp((PSTN, 4000), ("127.0.9.99", 4000), rtp(1))),  # one end not announced
        Packet(t0 + 0.5, udp(("127.0.8.20", 4000), ("127.0.8.2", 4000), rtp(1))),  # a foreign block, same ports
        Packet(t0 + 0.5, ipv4(PSTN, GW, b"\x00" * 20, protocol=6)),  # TCP
        Packet(t0 + 0.5, ipv4(PBX, GW, b"\x03\x03" + b"\x00" * 30, protocol=1)),  # ICMP unreachable
        Packet(t0 + 0.5, udp((PSTN, 4000), (GW, 4000), rtp(1))[:24]),  # truncated: no whole UDP header
        Packet(t0 + 0.5, b""),
        Packet(t0 - 5.0, udp((PSTN, 4000), (GW, 4000), rtp(1))),  # the same ports before the call
        Packet(t0 + 9.0, udp((PSTN, 4000), (GW, 4000), rtp(1))),  # ... and after it (a later call)
    ]


# ---------------------------------------------------------------------------- the file format


def read_pcap(data: bytes) -> tuple[tuple, list[tuple[int, int, int, int, bytes]]]:
    """An independent reader: (header fields, [(seconds, micros, kept, original, bytes)])."""
    header = struct.unpack_from("<IHHiIII", data)
    records, offset = [], 24
    while offset < len(data):
        seconds, micros, kept, original = struct.unpack_from("<IIII", data, offset)
        records.append((seconds, micros, kept, original, data[offset + 16: offset + 16 + kept]))
        offset += 16 + kept
    assert offset == len(data)
    return header, records


def test_file_header_is_classic_libpcap_raw_ip():
    header = file_header()
    assert len(header) == 24
    assert struct.unpack("<IHHiIII", header) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW)
    assert LINKTYPE_RAW == 101


def test_no_packets_is_a_valid_empty_file():
    assert pcap_bytes([]) == file_header()
    assert read_pcap(pcap_bytes([])) == (struct.unpack("<IHHiIII", file_header()), [])


def test_records_round_trip_with_microsecond_timestamps():
    packets = [Packet(1795671615.335304, udp((PSTN, 5060), (GW, 5060), b"INVITE")),
               Packet(1795671615.5, udp((GW, 4000), (PBX, 4000), rtp(7)))]
    _, records = read_pcap(pcap_bytes(packets))
    assert [(s, us) for s, us, *_ in records] == [(1795671615, 335304), (1795671615, 500000)]
    assert [r[4] for r in records] == [p.data for p in packets]
    assert all(kept == original == len(data) for _, _, kept, original, data in records)


def test_timestamps_round_to_the_nearest_microsecond_across_a_second():
    seconds, micros, *_ = struct.unpack_from("<IIII", record(Packet(41.9999996, b"")))
    assert (seconds, micros) == (42, 0)


def test_negative_timestamp_is_refused():
    with pytest.raises(ValueError, match="negative"):
        record(Packet(-1.0, b""))


def test_a_packet_cut_short_keeps_its_length_on_the_wire():
    whole = udp((PSTN, 5060), (GW, 5060), b"x" * 100)
    _, _, kept, original, data = read_pcap(pcap_bytes([Packet(1.0, whole[:40])]))[1][0]
    assert (kept, original, data) == (40, len(whole), whole[:40])


def test_a_packet_longer_than_the_snap_length_is_cut():
    seconds, micros, kept, original = struct.unpack_from("<IIII", record(Packet(1.0, b"\x00" * 50), snaplen=20))
    assert (kept, original) == (20, 50)


@pytest.mark.parametrize("data, length", [(b"", 0), (b"\x45\x00", 0), (b"\x60\x00\x00\x00", 0),
                                          (b"\x45\x00\x01\x00", 256)])
def test_ip_total_length(data, length):
    assert ip_total_length(data) == length


# ---------------------------------------------------------------------------- UDP out of IPv4


def test_udp_datagram_nominal():
    assert udp_datagram(udp((PSTN, 5060), (GW, 5062), b"hello")) == Datagram((PSTN, 5060), (GW, 5062), b"hello")


def test_udp_datagram_after_ip_options():
    data = udp((PSTN, 1), (GW, 2), b"hi", options=b"\x01\x01\x01\x00")
    assert udp_datagram(data) == Datagram((PSTN, 1), (GW, 2), b"hi")


@pytest.mark.parametrize("data", [
    b"",
    b"\x45" + b"\x00" * 10,  # shorter than an IPv4 header
    b"\x60" + b"\x00" * 47,  # IPv6
    ipv4(PSTN, GW, b"\x00" * 20, protocol=6),  # TCP
    ipv4(PSTN, GW, b"\x00" * 8, protocol=1),  # ICMP
    udp((PSTN, 1), (GW, 2), b"abc")[:25],  # the UDP header cut short
    udp((PSTN, 1), (GW, 2), b"abc", flags_fragment=0x2000),  # first fragment (more follow)
    udp((PSTN, 1), (GW, 2), b"abc", flags_fragment=0x0010),  # a later fragment
    ipv4(PSTN, GW, struct.pack("!HHHH", 1, 2, 4, 0)),  # UDP length below its own header
    b"\x44" + b"\x00" * 40,  # header length field below 20 bytes
])
def test_udp_datagram_refuses_what_is_not_one_whole_udp_header(data):
    assert udp_datagram(data) is None


def test_udp_payload_cut_short_by_the_capture_is_returned_as_far_as_it_goes():
    assert udp_datagram(udp((PSTN, 1), (GW, 2), b"abcdef")[:31]).payload == b"abc"


def test_udp_payload_stops_at_the_udp_length_not_at_padding():
    assert udp_datagram(udp((PSTN, 1), (GW, 2), b"abc") + b"\x00\x00").payload == b"abc"


# ---------------------------------------------------------------------------- SIP and SDP


def test_sip_message_of_a_datagram():
    message = sip_message(sip("INVITE sip:1@x SIP/2.0", "abc", "1 INVITE", sdp(PSTN, 4000)))
    assert message.call_id == "abc" and message.method == "INVITE" and "m=audio 4000" in message.body


@pytest.mark.parametrize("payload", [rtp(1), rtcp(), b"", b"\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                     b"INVITE sip:1@x SIP/2.0\r\n\r\n", b"\xff\xfe garbage"])
def test_sip_message_refuses_the_rest(payload):
    assert sip_message(payload) is None


def test_sip_message_with_compact_headers_and_stray_bytes():
    text = b"BYE sip:a@x SIP/2.0\r\nv: SIP/2.0/UDP h\r\nf: <sip:\xff@x>\r\nt: <sip:b@y>\r\ni: compact\r\nCSeq: 2 BYE\r\n\r\n"
    assert sip_message(text).call_id == "compact"


PJSUA_SDP = ("v=0\r\no=- 4004653742 4004653742 IN IP4 127.0.0.20\r\ns=pjmedia\r\nb=AS:84\r\nt=0 0\r\n"
             "a=X-nat:0\r\nm=audio 4000 RTP/AVP 0 8 120\r\nc=IN IP4 127.0.0.20\r\nb=TIAS:64000\r\n"
             "a=rtcp:4001 IN IP4 127.0.0.20\r\na=sendrecv\r\na=rtpmap:0 PCMU/8000\r\n")


@pytest.mark.parametrize("body, addresses", [
    (PJSUA_SDP, {("127.0.0.20", 4000), ("127.0.0.20", 4001)}),
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 5000 RTP/AVP 0\n", {("10.0.0.1", 5000), ("10.0.0.1", 5001)}),  # session c=
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.2\n", {("10.0.0.2", 5000), ("10.0.0.2", 5001)}),
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 5000 RTP/AVP 0\nm=video 6000 RTP/AVP 96\n",
     {("10.0.0.1", 5000), ("10.0.0.1", 5001), ("10.0.0.1", 6000), ("10.0.0.1", 6001)}),
    ("v=0\nc=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\nm=video 6000 RTP/AVP 96\n",  # a refused stream
     {("10.0.0.1", 6000), ("10.0.0.1", 6001)}),
    ("v=0\nm=audio 5000 RTP/AVP 0\nc=IN IP4 0.0.0.0\n", set()),  # on hold (RFC 2543 style)
    ("v=0\nm=audio 5000 RTP/AVP 0\nc=IN IP6 ::1\n", set()),  # IPv6: not what the capture sees
    ("v=0\nm=audio 5000 RTP/AVP 0\n", set()),  # no connection address at all
    ("v=0\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.1\na=rtcp:7000 IN IP4 10.0.0.9\n",
     {("10.0.0.1", 5000), ("10.0.0.9", 7000)}),
    ("v=0\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.1\na=rtcp:7000\n", {("10.0.0.1", 5000), ("10.0.0.1", 7000)}),
    ("v=0\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.1\na=rtcp:\n", set()),  # unreadable: the edge refuses it
    ("v=0\nm=audio 5000/2 RTP/AVP 0\nc=IN IP4 224.2.1.1/127\n", {("224.2.1.1", 5000), ("224.2.1.1", 5001)}),
    ("v=0\nm=audio 65535 RTP/AVP 0\nc=IN IP4 10.0.0.1\n", {("10.0.0.1", 65535)}),
    ("v=0\nm=audio 99999 RTP/AVP 0\nc=IN IP4 10.0.0.1\n", set()),
    ("v=0\nm=audio\nc=IN IP4 10.0.0.1\n", set()),
    ("", set()),
    ("hello, not SDP", set()),
])
def test_sdp_media_addresses(body, addresses):
    assert sdp_media_addresses(body) == addresses


# ---------------------------------------------------------------------------- one call's packets


def test_select_call_takes_both_legs_sip_rtp_and_rtcp_and_nothing_else():
    call = b2bua_call()
    everything = sorted(call["sip"] + call["media"] + noise(), key=lambda p: p.t)
    chosen = select_call(everything, {"a", "b"})
    assert set(chosen) == set(call["sip"] + call["media"])
    assert [p.t for p in chosen] == sorted(p.t for p in chosen)


def test_select_call_one_leg_only():
    call = b2bua_call()
    chosen = select_call(call["sip"] + call["media"], {"a"})
    assert all({udp_datagram(p.data).src[0], udp_datagram(p.data).dst[0]} == {PSTN, GW} for p in chosen)
    assert len(chosen) == 6 + 20 + 1  # its SIP, RTP both ways, its RTCP


@pytest.mark.parametrize("packets, call_ids", [([], {"a", "b"}), (None, set()), (None, {"nobody"})])
def test_select_call_with_nothing_to_find(packets, call_ids):
    call = b2bua_call()
    assert select_call(call["sip"] + call["media"] if packets is None else packets, call_ids) == []


def test_media_after_the_dialog_ended_belongs_to_a_later_call():
    call = b2bua_call()
    late = Packet(1000.0 + 2.003 + MEDIA_GRACE_S * 2, udp((PBX, 4000), (GW, 4002), rtp(100)))
    assert late not in select_call(call["sip"] + call["media"] + [late], {"a", "b"})


def test_media_of_a_call_still_up_runs_to_the_end_of_the_capture():
    call = b2bua_call()
    up = [p for p in call["sip"] if b"BYE" not in p.data]
    later = Packet(1000.0 + 60.0, udp((PBX, 4000), (GW, 4002), rtp(3000)))
    assert later in select_call(up + call["media"] + [later], {"a", "b"})


def test_since_and_until_bound_the_window():
    call = b2bua_call()
    packets = call["sip"] + call["media"]
    chosen = select_call(packets, {"a", "b"}, since=1000.0, until=1001.5)
    assert len(chosen) == 7 + 4 * 8 + 2 and all(p.t <= 1001.5 for p in chosen)  # no BYE, no late RTP
    # the SIP is what names the media: a window that leaves out the call's SDP finds nothing
    assert select_call(packets, {"a", "b"}, since=1000.5) == [p for p in call["sip"] if p.t >= 1000.5]
    assert len(select_call(packets, {"a", "b"}, since=1000.0, until=1000.0)) == 1  # the first INVITE


def test_early_media_of_a_failed_call_ends_with_its_final_response():
    def at(dt, src, dst, payload):
        return Packet(2000.0 + dt, udp(src, dst, payload))

    packets = [
        at(0.0, (PSTN, 5060), (GW, 5060), sip("INVITE sip:1@x SIP/2.0", "e", "1 INVITE", sdp(PSTN, 4000))),
        at(0.1, (GW, 5060), (PSTN, 5060), sip("SIP/2.0 183 Session Progress", "e", "1 INVITE", sdp(GW, 4000))),
        at(0.2, (GW, 4000), (PSTN, 4000), rtp(1)),  # the ringback
        at(1.0, (GW, 5060), (PSTN, 5060), sip("SIP/2.0 486 Busy Here", "e", "1 INVITE")),
        at(5.0, (GW, 4000), (PSTN, 4000), rtp(2)),  # a later call on the same ports
    ]
    assert select_call(packets, {"e"}) == packets[:4]


def test_a_failed_reinvite_does_not_end_the_media():
    call = b2bua_call()
    refused = Packet(1000.5, udp((GW, 5060), (PSTN, 5060), sip("SIP/2.0 491 Request Pending", "a", "3 INVITE")))
    up = [p for p in call["sip"] if b"BYE" not in p.data] + [refused]
    later = Packet(1030.0, udp((GW, 4000), (PSTN, 4000), rtp(500)))
    assert later in select_call(up + call["media"] + [later], {"a"})


def test_unsorted_input_comes_out_in_time_order():
    call = b2bua_call()
    chosen = select_call(list(reversed(call["sip"] + call["media"])), {"a", "b"})
    assert [p.t for p in chosen] == sorted(p.t for p in chosen) and len(chosen) == len(call["sip"] + call["media"])


# ---------------------------------------------------------------------------- calls recorded from real agents


def wire(call, t0: float = 0.0) -> list[Packet]:
    """Each datagram of a recorded call once, as the capture sees it: what an agent sent
    (a datagram the firewall dropped was sent too). SIP port 5060 everywhere in the recording."""
    packets = []
    for message in call.messages:
        if message.event != "tx":
            continue
        (src_ip, src_port), (dst_ip, dst_port) = (m.rsplit(":", 1) for m in (message.src, message.dst))
        packets.append(Packet(t0 + message.t, udp((src_ip, int(src_port)), (dst_ip, int(dst_port)),
                                                  message.text.encode())))
    return packets


@pytest.mark.parametrize("name", ["inbound_ok", "outbound_header_ok", "inbound_firewall_drop", "outbound_wrong_token"])
def test_recorded_calls_every_sip_datagram_they_sent_is_chosen(name):
    (call,) = [c for c in replay(name).calls.values() if not c.external]
    sent = wire(call)
    others = [Packet(call.started_at + 0.01, udp(("127.0.0.20", 5060), ("127.0.0.2", 5060),
                                                 sip("OPTIONS sip:x@y SIP/2.0", "not-this-call", "1 OPTIONS")))]
    chosen = select_call(sorted(sent + others, key=lambda p: p.t), call.sip_call_ids)
    assert set(chosen) == set(sent) and len(chosen) == len(sent)
    if name == "inbound_firewall_drop":  # the INVITEs the firewall dropped crossed lo: they are in
        assert any(d.event == "drop" for d in call.messages)


def test_recorded_call_sdp_announces_both_legs_media():
    (call,) = [c for c in replay("inbound_ok").calls.values() if not c.external]
    announced = set()
    for message in call.messages:
        parsed = sip_message(message.text.encode())
        announced |= sdp_media_addresses(parsed.body)
    parties = {ip for ip, _ in announced}
    assert parties == {"127.0.0.20", "127.0.0.2", "127.0.0.10"}  # PSTN, the gateway's two legs, PBX
    assert len(announced) == 8  # four RTP ends, each with its RTCP


# ---------------------------------------------------------------------------- the capture's pure pieces


def test_lab_blocks_are_the_24s_of_the_lab_addresses():
    assert lab_blocks(["127.0.100.2", "127.0.100.20", "127.0.100.10"]) == ["127.0.100.0/24"]
    assert lab_blocks(["127.0.0.2", "127.0.5.9"]) == ["127.0.0.0/24", "127.0.5.0/24"]
    assert lab_blocks([]) == []


def test_capture_program_shape():
    program = capture_program(["127.0.100.0/24"])
    assert len(program) == 6 + 2 * (2 + 4) + 1
    assert program[-1] == (0x06, 0, 0, 0)  # default: drop
    assert all(jt < 256 and jf < 256 for _, jt, jf, _ in program)
    assert capture_program([])[-1] == (0x06, 0, 0, 0)  # no block: nothing is kept


def test_ring_keeps_the_newest_packets_within_its_budget():
    ring = PacketRing(max_bytes=3 * (100 + PACKET_OVERHEAD))
    for i in range(5):
        ring.add(Packet(float(i), b"\x00" * 100))
    assert [p.t for p in ring.packets()] == [2.0, 3.0, 4.0]
    assert (len(ring), ring.evicted, ring.evicted_until) == (3, 2, 1.0)
    assert ring.bytes == 3 * (100 + PACKET_OVERHEAD)


def test_ring_a_packet_larger_than_the_budget_leaves_it_empty():
    ring = PacketRing(max_bytes=10)
    ring.add(Packet(1.0, b"\x00" * 100))
    assert (len(ring), ring.bytes, ring.evicted) == (0, 0, 1)
