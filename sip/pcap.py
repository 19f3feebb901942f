"""A call's packets as a pcap file (pure: captured packets in, bytes out).

The capture (sip/capture.py) keeps every UDP datagram of the lab's block as an IPv4 packet with
the kernel's timestamp. Exporting one call means choosing its packets among all of them:

- SIP: the datagrams whose Call-ID is one of the call's Call-IDs (the caller's leg and each leg
  the gateway placed onward: a B2BUA call has two or more);
- RTP and RTCP: the datagrams between two media addresses that the SDP bodies of one of those
  Call-IDs announced, while that dialog lasted (media ports are reused by later calls, so an
  address pair alone is not enough).

The file is classic libpcap with link type RAW (101): the capture reads IP packets without a
link-layer header, so that is what each record holds. Wireshark and tshark dissect SIP on port
5060 and, having seen the SDP, the RTP and RTCP on the ports it announced.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .sdp import HOLD_ADDRESS, SdpError, parse_sdp
from .sipmsg import SipMessage, SipParseError, parse_message

PCAP_MAGIC = 0xA1B2_C3D4  # microsecond timestamps; readers detect the byte order from it
PCAP_VERSION = (2, 4)
LINKTYPE_RAW = 101  # each record starts at the IPv4 header
SNAPLEN = 65535  # the largest IPv4 packet: records are never cut short
IPPROTO_UDP = 17
MEDIA_GRACE_S = 0.25  # RTP still in flight when a dialog's last SIP message crossed

Address = tuple[str, int]  # (IPv4 address, UDP port)


class Packet(NamedTuple):
    """One captured IPv4 packet. A tuple underneath: the capture ring holds many of them."""

    t: float  # seconds since the epoch, as the kernel stamped it
    data: bytes  # from the IPv4 header on


class Datagram(NamedTuple):
    src: Address
    dst: Address
    payload: bytes


# ---------------------------------------------------------------------------- writing

def file_header(linktype: int = LINKTYPE_RAW, snaplen: int = SNAPLEN) -> bytes:
    """The 24-byte libpcap global header (little-endian, time zone 0 = UTC timestamps)."""
    return struct.pack("<IHHiIII", PCAP_MAGIC, *PCAP_VERSION, 0, 0, snaplen, linktype)


def record(packet: Packet, snaplen: int = SNAPLEN) -> bytes:
    """One packet record: its timestamp, what was kept of it and how long it really was."""
    if packet.t < 0:
        raise ValueError(f"a packet timestamp cannot be negative ({packet.t})")
    micros = round(packet.t * 1_000_000)
    seconds, fraction = divmod(micros, 1_000_000)
    kept = packet.data[:snaplen]
    original = max(len(packet.data), ip_total_length(packet.data))
    return struct.pack("<IIII", seconds, fraction, len(kept), original) + kept


def pcap_bytes(packets: Iterable[Packet]) -> bytes:
    """A whole pcap file: the header, then one record per packet in the order given."""
    return file_header() + b"".join(record(p) for p in packets)


def ip_total_length(data: bytes) -> int:
    """The length an IPv4 header says its packet has (0 when it is not one): a capture cut
    short still records how long the packet was on the wire."""
    if len(data) < 4 or data[0] >> 4 != 4:
        return 0
    return struct.unpack_from("!H", data, 2)[0]


# ---------------------------------------------------------------------------- reading packets

def udp_datagram(data: bytes) -> Datagram | None:
    """The UDP datagram inside an IPv4 packet, or None: not IPv4, not UDP, a fragment (lo's
    MTU is 64 KiB, so the lab never fragments; a fragment could not be read whole anyway) or
    too short to hold the headers. A payload cut short by the capture is returned as far as
    it goes."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    header_length = (data[0] & 0x0F) * 4
    if header_length < 20 or len(data) < header_length + 8 or data[9] != IPPROTO_UDP:
        return None
    if struct.unpack_from("!H", data, 6)[0] & 0x3FFF:  # more-fragments flag or an offset
        return None
    src_port, dst_port, udp_length = struct.unpack_from("!HHH", data, header_length)
    if udp_length < 8:
        return None
    payload = data[header_length + 8: header_length + udp_length]
    return Datagram((socket.inet_ntoa(data[12:16]), src_port), (socket.inet_ntoa(data[16:20]), dst_port), payload)


def sip_message(payload: bytes) -> SipMessage | None:
    """The SIP message a UDP payload carries, or None. RTP starts with a binary byte (version
    2: 0x80-0xBF) and SIP with a letter, so most datagrams are set aside without parsing."""
    if not payload[:1].isalpha():
        return None
    try:
        return parse_message(payload.decode("utf-8", "replace"))
    except SipParseError:
        return None


def sdp_media_addresses(body: str) -> set[Address]:
    """The RTP and RTCP addresses an SDP body announces, read by the gateway's own SDP parser
    (sip/sdp.py: an SDP the edge cannot read announces nothing, and no media flows for it).

    Each m= line is one stream: its port with the media-level c= address (else the session's),
    and its RTCP at a=rtcp (RFC 3605, else the next port up). A stream on port 0 is refused and
    one on 0.0.0.0 is on hold: neither sends to an address."""
    try:
        session = parse_sdp(body)
    except SdpError:
        return set()
    found: set[Address] = set()
    for media in session.media:
        ip = media.connection or session.connection
        if not media.port or not ip or ip == HOLD_ADDRESS:
            continue
        found.add((ip, media.port))
        if media.rtcp_port is not None:
            found.add((media.rtcp_connection or ip, media.rtcp_port))
        elif media.port < 65535:
            found.add((ip, media.port + 1))
    return found


# ---------------------------------------------------------------------------- one call

@dataclass
class _Dialog:
    """What the SIP of one Call-ID says about its media: who, and from when to when."""

    first_t: float
    last_t: float
    answered: bool = False  # a 2xx to an INVITE: a failed re-INVITE later ends nothing
    over: bool = False  # a BYE, or the INVITE failed: no media after its last message
    media: set[Address] = field(default_factory=set)

    def carries(self, datagram: Datagram, t: float, until: float) -> bool:
        end = min(until, self.last_t + MEDIA_GRACE_S) if self.over else until
        return self.first_t <= t <= end and datagram.src in self.media and datagram.dst in self.media


def select_call(packets: Iterable[Packet], sip_call_ids: Iterable[str], *,
                since: float = 0.0, until: float = float("inf")) -> list[Packet]:
    """The packets of one call, in time order: its SIP by Call-ID, and the RTP and RTCP its SDP
    announced. `since` and `until` bound the call's time window (the lab's own record of the
    call); packets outside it are not looked at."""
    wanted = set(sip_call_ids)
    datagrams = [(p, d) for p in packets if since <= p.t <= until and (d := udp_datagram(p.data)) is not None
                 and not internal_hop(d)]
    dialogs: dict[str, _Dialog] = {}
    chosen: list[Packet] = []
    rest: list[tuple[Packet, Datagram]] = []
    for packet, datagram in datagrams:
        message = sip_message(datagram.payload)
        if message is not None and message.call_id in wanted:
            _note(dialogs, message, packet.t)
            chosen.append(packet)
        else:
            rest.append((packet, datagram))
    chosen += [p for p, d in rest if any(dialog.carries(d, p.t, until) for dialog in dialogs.values())]
    return sorted(chosen, key=lambda p: p.t)


def internal_hop(datagram: Datagram) -> bool:
    """A datagram between two sockets of one address: a gateway's edge and the pjsua behind it.
    Not on the trunk's wire (every message also crossed it as the edge received or sent it)."""
    return datagram.src[0] == datagram.dst[0]


def _note(dialogs: dict[str, _Dialog], message: SipMessage, t: float) -> None:
    dialog = dialogs.setdefault(message.call_id, _Dialog(t, t))
    dialog.first_t, dialog.last_t = min(dialog.first_t, t), max(dialog.last_t, t)
    if message.is_request and message.method == "BYE":
        dialog.over = True
    elif not message.is_request and message.method == "INVITE" and message.status_code >= 200:
        dialog.answered = dialog.answered or message.status_code < 300
        dialog.over = dialog.over or not dialog.answered
    if message.body:
        dialog.media |= sdp_media_addresses(message.body)
