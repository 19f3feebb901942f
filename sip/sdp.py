"""The few facts of an SDP offer a carrier edge checks before it places a call (pure).

The gateway does not negotiate media itself (pjsua does, behind the edge); it only refuses an
offer that can never work here, before any leg is placed:

- no audio codec in common with the carrier (PCMU, PCMA): 488 Not Acceptable Here;
- a connection address (`c=`) off loopback: the lab never sends RTP to another address (a
  softphone's SDP once sent the lab's RTP to this machine's Ethernet address); nor RTCP, which
  pjmedia sends to the address of an `a=rtcp:` line (RFC 3605) when it names one;
- an SDP it cannot read at all.

RFC 4566 is the grammar; only what these checks need is parsed. `0.0.0.0` is the old way of
putting a call on hold (RFC 2543) and counts as "nowhere", not as off loopback.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

# Static RTP payload types (RFC 3551) that name audio codecs without an rtpmap line.
STATIC_AUDIO = {"0": "PCMU", "3": "GSM", "8": "PCMA", "9": "G722", "18": "G729"}
HOLD_ADDRESS = "0.0.0.0"
_PORT = re.compile(r"[0-9]+(/[0-9]+)?")  # ASCII digits: str.isdigit() also takes '²', which int() refuses


class SdpError(ValueError):
    """The body is not an SDP session description we can read."""


@dataclass(frozen=True)
class MediaLine:
    kind: str  # 'audio', 'video', ...
    port: int
    protocol: str  # 'RTP/AVP'
    formats: tuple[str, ...]  # payload type numbers, as written
    codecs: tuple[str, ...]  # the encoding names those formats stand for, upper case
    connection: str | None  # this media's own c= address, if it has one
    direction: str  # 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
    rtcp_connection: str | None = None  # the address of an a=rtcp: line (RFC 3605), if it names one
    rtcp_port: int | None = None  # the port of an a=rtcp: line; without one, RTCP is on port + 1


@dataclass(frozen=True)
class SessionDescription:
    connection: str | None  # the session-level c= address
    media: tuple[MediaLine, ...] = field(default_factory=tuple)
    direction: str = "sendrecv"  # the session-level attribute, the default for each media

    def addresses(self) -> tuple[str, ...]:
        """Every address RTP would be sent to, one per media line (media c= wins), then each
        RTCP address an a=rtcp: line names."""
        rtp = tuple(m.connection or self.connection or "" for m in self.media)
        return rtp + tuple(m.rtcp_connection for m in self.media if m.rtcp_connection)

    @property
    def audio(self) -> tuple[MediaLine, ...]:
        return tuple(m for m in self.media if m.kind == "audio" and m.port != 0)


DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def parse_sdp(body: str) -> SessionDescription:
    """Parse an SDP body; raise SdpError with a sentence when it is not one."""
    # A lone CR ends a line too, as in pjmedia's parser: a c= hidden behind one must be seen here.
    lines = [line.strip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    if not lines or not lines[0].startswith("v="):
        raise SdpError("the body is not SDP: it does not start with 'v='")
    session_c: str | None = None
    session_direction = "sendrecv"
    media: list[dict] = []
    for line in lines:
        kind, equals, value = line.partition("=")
        if not equals or len(kind) != 1:
            raise SdpError(f"SDP line {line[:40]!r} is not '<letter>=<value>'")
        target = media[-1] if media else None
        if kind == "c":
            address = _connection_address(value)
            if target is None:
                session_c = address
            else:
                target["connection"] = address
        elif kind == "m":
            media.append(_media_line(value))
        elif kind == "a":
            name, _, rest = value.partition(":")
            if name in DIRECTIONS:
                if target is None:
                    session_direction = name
                else:
                    target["direction"] = name
            elif name == "rtcp" and target is not None:
                target["rtcp_port"], target["rtcp"] = _rtcp(rest)
            elif name == "rtpmap" and target is not None:
                payload, _, encoding = rest.partition(" ")
                target["rtpmap"][payload.strip()] = encoding.split("/", 1)[0].strip().upper()
    return SessionDescription(
        connection=session_c,
        media=tuple(
            MediaLine(
                kind=m["kind"], port=m["port"], protocol=m["protocol"], formats=m["formats"],
                codecs=tuple(m["rtpmap"].get(f) or STATIC_AUDIO.get(f, f"PT{f}") for f in m["formats"]),
                connection=m["connection"], direction=m.get("direction", session_direction),
                rtcp_connection=m.get("rtcp"), rtcp_port=m.get("rtcp_port"),
            )
            for m in media
        ),
        direction=session_direction,
    )


def _connection_address(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN":
        raise SdpError(f"c= line {value[:40]!r} is not 'IN IP4 <address>'")
    if parts[1] != "IP4":
        raise SdpError(f"c= line asks for {parts[1]}: the lab carries IPv4 on loopback only")
    return parts[2].split("/", 1)[0]  # a multicast TTL suffix is not an address


def _rtcp(value: str) -> tuple[int, str | None]:
    """'4001' -> (4001, None: the media's own address); '4001 IN IP4 <address>' -> (4001, the address)."""
    port, _, address = value.strip().partition(" ")
    if not _PORT.fullmatch(port) or "/" in port or int(port) > 65535:
        raise SdpError(f"a=rtcp:{value[:40]} is not 'a=rtcp:<port> [IN IP4 <address>]'")
    return int(port), _connection_address(address) if address.strip() else None


def _media_line(value: str) -> dict:
    parts = value.split()
    if len(parts) < 4 or not _PORT.fullmatch(parts[1]):
        raise SdpError(f"m= line {value[:40]!r} is not '<media> <port> <proto> <formats>'")
    port = int(parts[1].split("/", 1)[0])
    if port > 65535:
        raise SdpError(f"m= line port {port} is not a UDP port")
    return {"kind": parts[0], "port": port, "protocol": parts[2], "formats": tuple(parts[3:]),
            "rtpmap": {}, "connection": None}


@dataclass(frozen=True)
class OfferProblem:
    cause: str  # plain words, for the ladder and the Warning header


def check_offer(body: str, carrier_codecs: tuple[str, ...] | None) -> OfferProblem | None:
    """What makes an offer unusable on this trunk, or None when it is fine; codecs are not
    compared when carrier_codecs is None (a re-offer: pjsua negotiates those)."""
    try:
        sdp = parse_sdp(body)
    except SdpError as error:
        return OfferProblem(f"the SDP offer cannot be read: {error}")
    for address in sdp.addresses():
        problem = _off_loopback(address)
        if problem:
            return OfferProblem(problem)
    if not sdp.audio:
        return OfferProblem("the SDP offer has no audio stream")
    offered = {codec for line in sdp.audio for codec in line.codecs}
    if carrier_codecs is not None and not offered & set(carrier_codecs):
        names = ", ".join(sorted(c for c in offered if not c.startswith("PT") and c != "TELEPHONE-EVENT")) or "none"
        return OfferProblem(f"no codec in common: the offer has {names}; the carrier offers "
                            f"{', '.join(carrier_codecs)}")
    return None


def _off_loopback(address: str) -> str:
    if address == HOLD_ADDRESS:
        return ""
    if not address:
        return "the SDP offer has no connection address (c=) for its media"
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return f"the SDP names {address[:40]!r} as its media address; the lab sends RTP only to a loopback address"
    if not ip.is_loopback:
        return f"the SDP asks for RTP at {address}, off loopback; the lab sends RTP only to 127.0.0.0/8"
    return ""


def is_hold(body: str) -> bool:
    """True when an offer puts the call on hold: audio sendonly/inactive, or c=0.0.0.0."""
    try:
        sdp = parse_sdp(body)
    except SdpError:
        return False
    audio = sdp.audio
    return bool(audio) and all(
        m.direction in ("sendonly", "inactive") or (m.connection or sdp.connection) == HOLD_ADDRESS for m in audio
    )


def address_problem(body: str) -> str | None:
    """Why an SDP (an answer as much as an offer) would send RTP or RTCP off loopback, or None.
    Only the addresses: an answer's codecs and streams are pjsua's to negotiate."""
    if not body.strip():
        return None
    try:
        sdp = parse_sdp(body)
    except SdpError as error:
        return f"the SDP cannot be read: {error}"
    return next((problem for address in sdp.addresses() if (problem := _off_loopback(address))), None)
