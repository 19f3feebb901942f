"""A seeded, bounded mutation fuzzer for the System Gateway: a seed in, a list of datagrams out.

Pure: no sockets, no clock, no global randomness. The same seed, count and target always give
the same datagrams, so a crash found by a run can be replayed exactly (tests/support/sipwire.py
sends them; bench/fuzz.py runs the big count).

Each datagram starts from a well-formed template (INVITE with and without SDP, with real X-Auth
headers, with a real Proxy-Authorization computed from a real challenge; ACK, BYE, CANCEL,
OPTIONS, REGISTER, REFER, a stray response, or a repeat of an earlier datagram) and goes
through one to three mutation operators. Every datagram is at most MAX_DATAGRAM bytes.

No datagram may place a call that succeeds: INVITEs without credentials dial a PSTN number
from an address that is no endpoint (they meet 407 before routing); INVITEs with real
credentials dial `refused_number`, which is no E.164 number, so routing refuses them (484).
Mutations do not touch the start line's user part in a way that could make it a number
(flipping bits of 'fuzz' cannot give digits only). Every address in a template is the
target's own loopback addresses.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sip.digest import DigestCredentials, DigestError, digest_response, parse_challenge

MAX_DATAGRAM = 65_000  # below UDP's 65,507 over IPv4, as the brief asks
MAX_OPERATORS = 3


@dataclass(frozen=True)
class FuzzTarget:
    """Where the datagrams go and what the templates may say."""

    gateways: tuple[tuple[str, int], ...]  # the System Gateway addresses
    source_ip: str  # the test sockets' address: no endpoint address
    source_ports: tuple[int, ...]  # the test sockets' ports
    endpoint_sid: str = "00000000-0000-4000-8000-000000000000"  # real ones make X-Auth and digest
    voip_token: str = "00000000-0000-4000-8000-000000000000"  # templates pass authentication
    # Proxy-Authenticate values of a real 407 from each gateway (same order as `gateways`);
    # None where none was obtained (the digest template then forges a nonce).
    challenges: tuple[str | None, ...] = ()
    pstn_number: str = "14155550123"  # dialled without credentials (a 407 comes first)
    refused_number: str = "fuzz"  # dialled with credentials: not E.164, routing refuses it

    def __post_init__(self) -> None:
        if not self.gateways or not self.source_ports:
            raise ValueError("a fuzz target needs at least one gateway and one source port")
        if any(ch.isdigit() for ch in self.refused_number):
            raise ValueError("refused_number must contain no digit, so no mutation makes it a phone number")


@dataclass(frozen=True)
class Datagram:
    index: int
    gateway: int  # index into target.gateways
    source: int  # index into target.source_ports
    template: str
    operators: tuple[str, ...]
    payload: bytes

    @property
    def summary(self) -> str:
        applied = " + ".join(self.operators) or "verbatim"
        return f"#{self.index} {self.template} <- {applied} ({len(self.payload)} B)"


@dataclass(frozen=True)
class _Context:
    """One datagram's identity: where it goes, and fresh transaction identifiers."""

    target: FuzzTarget
    gateway: int
    source: int
    seed: int
    index: int

    @property
    def gw_ip(self) -> str:
        return self.target.gateways[self.gateway][0]

    @property
    def gw_port(self) -> int:
        return self.target.gateways[self.gateway][1]

    @property
    def src(self) -> str:
        return f"{self.target.source_ip}:{self.target.source_ports[self.source]}"

    @property
    def call_id(self) -> str:
        return f"fz{self.seed}-{self.index}@{self.target.source_ip}"

    @property
    def branch(self) -> str:
        return f"z9hG4bK-fz{self.seed}-{self.index}"

    @property
    def tag(self) -> str:
        return f"fz{self.index:x}"


@dataclass(frozen=True)
class _Invite:
    """An INVITE already generated: later CANCELs, ACKs and BYEs may refer to it."""

    gateway: int
    source: int
    request_uri: str
    call_id: str
    branch: str
    tag: str


@dataclass
class _History:
    invites: list[_Invite] = field(default_factory=list)
    datagrams: list[Datagram] = field(default_factory=list)


# --------------------------------------------------------------------------
# Templates: well-formed messages before mutation
# --------------------------------------------------------------------------


def _message(start: str, headers: list[str], body: str = "") -> bytes:
    if body:
        headers = [*headers, f"Content-Length: {len(body.encode())}"]
    else:
        headers = [*headers, "Content-Length: 0"]
    return (start + "\r\n" + "\r\n".join(headers) + "\r\n\r\n" + body).encode()


def _sdp(ctx: _Context, rng: random.Random) -> str:
    port = 40000 + 2 * rng.randrange(1000)
    return ("v=0\r\n"
            f"o=fuzz {ctx.index} {ctx.index} IN IP4 {ctx.target.source_ip}\r\n"
            "s=fuzz\r\n"
            f"c=IN IP4 {ctx.target.source_ip}\r\n"
            "t=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 8 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-16\r\na=sendrecv\r\n")


def _invite(rng: random.Random, ctx: _Context, history: _History, *, number: str, with_sdp: bool,
            extra: list[str]) -> bytes:
    uri = f"sip:{number}@{ctx.gw_ip}:{ctx.gw_port}"
    history.invites.append(_Invite(ctx.gateway, ctx.source, uri, ctx.call_id, ctx.branch, ctx.tag))
    headers = [
        f"Via: SIP/2.0/UDP {ctx.src};rport;branch={ctx.branch}",
        "Max-Forwards: 70",
        f'From: "Fuzz" <sip:fuzz@{ctx.src}>;tag={ctx.tag}',
        f"To: <{uri}>",
        f"Call-ID: {ctx.call_id}",
        "CSeq: 1 INVITE",
        f"Contact: <sip:fuzz@{ctx.src}>",
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS",
        *extra,
    ]
    if with_sdp:
        return _message(f"INVITE {uri} SIP/2.0", [*headers, "Content-Type: application/sdp"], _sdp(ctx, rng))
    return _message(f"INVITE {uri} SIP/2.0", headers)


def t_invite_sdp(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    return _invite(rng, ctx, history, number=ctx.target.pstn_number, with_sdp=True, extra=[]), ctx


def t_invite_no_sdp(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    return _invite(rng, ctx, history, number=ctx.target.pstn_number, with_sdp=False, extra=[]), ctx


def t_invite_x_auth(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    extra = [f"X-Auth-EndpointSid: {ctx.target.endpoint_sid}", f"X-Auth-VoipToken: {ctx.target.voip_token}"]
    return _invite(rng, ctx, history, number=ctx.target.refused_number, with_sdp=rng.random() < 0.7, extra=extra), ctx


def t_invite_digest(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    uri = f"sip:{ctx.target.refused_number}@{ctx.gw_ip}:{ctx.gw_port}"
    header = _proxy_authorization(ctx, uri)
    extra = [f"Proxy-Authorization: {header}"]
    return _invite(rng, ctx, history, number=ctx.target.refused_number, with_sdp=rng.random() < 0.7, extra=extra), ctx


def _proxy_authorization(ctx: _Context, uri: str) -> str:
    """Credentials as a real UA computes them from the gateway's real challenge (right user,
    right token); with no challenge known, the same shape around a nonce nobody issued."""
    challenge_text = ctx.target.challenges[ctx.gateway] if ctx.gateway < len(ctx.target.challenges) else None
    realm, nonce, algorithm, qop = "trunklab.carrier", f"{ctx.index}.0000", "MD5", "auth"
    if challenge_text:
        try:
            challenge = parse_challenge(challenge_text)
            realm, nonce, algorithm, qop = challenge.realm, challenge.nonce, challenge.algorithm, challenge.qop
        except DigestError:
            pass
    nc, cnonce = ("00000001", f"fz{ctx.seed}x{ctx.index}") if qop else (None, None)
    response = digest_response(method="INVITE", uri=uri, username=ctx.target.endpoint_sid, realm=realm,
                               password=ctx.target.voip_token, nonce=nonce, algorithm=algorithm, qop=qop,
                               nc=nc, cnonce=cnonce)
    return DigestCredentials(username=ctx.target.endpoint_sid, realm=realm, nonce=nonce, uri=uri,
                             response=response, algorithm=algorithm, qop=qop, nc=nc, cnonce=cnonce).to_header()


def _earlier_invite(rng: random.Random, ctx: _Context, history: _History) -> tuple[_Invite | None, _Context]:
    """Half the time, an INVITE sent before (same gateway and source, so it can match a live
    transaction); else None and the message names a transaction that never was."""
    if history.invites and rng.random() < 0.5:
        invite = rng.choice(history.invites[-50:])
        return invite, _Context(ctx.target, invite.gateway, invite.source, ctx.seed, ctx.index)
    return None, ctx


def _dialog_headers(ctx: _Context, method: str, cseq: int, invite: _Invite | None, *, to_tag: bool,
                    same_branch: bool = False) -> tuple[str, list[str]]:
    uri = invite.request_uri if invite else f"sip:{ctx.target.pstn_number}@{ctx.gw_ip}:{ctx.gw_port}"
    branch = invite.branch if invite and same_branch else ctx.branch
    tag = invite.tag if invite else ctx.tag
    call_id = invite.call_id if invite else ctx.call_id
    to = f"<{uri}>" + (f";tag=gw{ctx.index:x}" if to_tag else "")
    return uri, [
        f"Via: SIP/2.0/UDP {ctx.src};rport;branch={branch}",
        "Max-Forwards: 70",
        f'From: "Fuzz" <sip:fuzz@{ctx.src}>;tag={tag}',
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
    ]


def t_ack(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    invite, ctx = _earlier_invite(rng, ctx, history)
    # for an earlier INVITE: the ACK of its (non-2xx) answer, same branch; else a 2xx-style ACK
    uri, headers = _dialog_headers(ctx, "ACK", 1, invite, to_tag=True, same_branch=invite is not None)
    return _message(f"ACK {uri} SIP/2.0", headers), ctx


def t_bye(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    invite, ctx = _earlier_invite(rng, ctx, history)
    uri, headers = _dialog_headers(ctx, "BYE", 2, invite, to_tag=True)
    return _message(f"BYE {uri} SIP/2.0", headers), ctx


def t_cancel(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    invite, ctx = _earlier_invite(rng, ctx, history)
    uri, headers = _dialog_headers(ctx, "CANCEL", 1, invite, to_tag=False, same_branch=True)
    return _message(f"CANCEL {uri} SIP/2.0", headers), ctx


def t_options(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    uri, headers = _dialog_headers(ctx, "OPTIONS", 1 + rng.randrange(100), None, to_tag=rng.random() < 0.3)
    return _message(f"OPTIONS {uri} SIP/2.0", [*headers, "Accept: application/sdp"]), ctx


def t_register(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    uri = f"sip:{ctx.gw_ip}:{ctx.gw_port}"
    headers = [
        f"Via: SIP/2.0/UDP {ctx.src};rport;branch={ctx.branch}",
        "Max-Forwards: 70",
        f"From: <sip:{ctx.target.endpoint_sid}@{ctx.gw_ip}>;tag={ctx.tag}",
        f"To: <sip:{ctx.target.endpoint_sid}@{ctx.gw_ip}>",
        f"Call-ID: {ctx.call_id}",
        f"CSeq: {1 + rng.randrange(10)} REGISTER",
        f"Contact: <sip:fuzz@{ctx.src}>;expires=3600",
        "Expires: 3600",
    ]
    return _message(f"REGISTER {uri} SIP/2.0", headers), ctx


def t_refer(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    in_dialog = rng.random() < 0.5
    invite, ctx = _earlier_invite(rng, ctx, history) if in_dialog else (None, ctx)
    uri, headers = _dialog_headers(ctx, "REFER", 2, invite, to_tag=in_dialog)
    # Refer-To names the test's own address, discard port: were it ever acted on, nothing leaves loopback
    headers += [f"Contact: <sip:fuzz@{ctx.src}>", f"Refer-To: <sip:nobody@{ctx.target.source_ip}:9>",
                f"Referred-By: <sip:fuzz@{ctx.src}>"]
    return _message(f"REFER {uri} SIP/2.0", headers), ctx


_STRAY_STATUSES = ("100 Trying", "180 Ringing", "183 Session Progress", "200 OK", "401 Unauthorized",
                   "407 Proxy Authentication Required", "481 Call/Transaction Does Not Exist",
                   "487 Request Terminated", "503 Service Unavailable", "603 Decline")


def t_response(rng: random.Random, ctx: _Context, history: _History) -> tuple[bytes, _Context]:
    invite, ctx = _earlier_invite(rng, ctx, history)
    _, headers = _dialog_headers(ctx, "INVITE", 1, invite, to_tag=True, same_branch=invite is not None)
    headers = [h for h in headers if not h.startswith("Max-Forwards")] + [f"Contact: <sip:fuzz@{ctx.src}>"]
    status = rng.choice(_STRAY_STATUSES)
    if status.startswith(("183", "200")):
        return _message(f"SIP/2.0 {status}", [*headers, "Content-Type: application/sdp"], _sdp(ctx, rng)), ctx
    return _message(f"SIP/2.0 {status}", headers), ctx


Template = Callable[[random.Random, _Context, _History], tuple[bytes, _Context]]
TEMPLATES: dict[str, Template] = {
    "invite-sdp": t_invite_sdp,
    "invite-no-sdp": t_invite_no_sdp,
    "invite-x-auth": t_invite_x_auth,
    "invite-digest": t_invite_digest,
    "ack": t_ack,
    "bye": t_bye,
    "cancel": t_cancel,
    "options": t_options,
    "register": t_register,
    "refer": t_refer,
    "response": t_response,
}
REPEAT = "repeat"  # an earlier datagram again, byte for byte: a retransmission


# --------------------------------------------------------------------------
# Mutation operators: bytes in, bytes out (the caller clamps to MAX_DATAGRAM)
# --------------------------------------------------------------------------

# Values at the edges of what parsers expect, for a whole header value.
BOUNDARY_VALUES: tuple[bytes, ...] = (
    b"", b" ", b"\t", b"0", b"-1", b"1", b"2147483647", b"2147483648", b"4294967295", b"4294967296",
    b"18446744073709551616", b"9" * 40, b"-0", b"+1", b"0x7fffffff", b"1e9", b"NaN",
    b"<>", b"<", b">", b'"', b'"unterminated', b"\\", b";", b";;;;", b"=", b",", b",,,", b"@", b"*",
    b"sip:", b"sip:@", b"tel:", b"sip:a@b@c", b"<sip:[::1]>", b"[", b"[:::::]", b"%", b"%zz", b"%00",
    b"SIP/2.0/UDP", b"SIP/2.0/UDP :", b"SIP/2.0/UDP 127.0.0.1:99999", b"SIP/2.0/", b"SIP/2.0/UDP ;branch=",
    b"Digest", b"Digest ,", b"Digest a=", b'Digest nonce="', b'Digest username="", nonce=""',
    b"1 INVITE INVITE", b"1", b"INVITE", b"application/", b"/", b"multipart/mixed;boundary=",
    b"a" * 300, b"\xff\xfe", b"\x00", b"\r", b"\xc0\xaf",
)
# Values for the numbers in Content-Length, CSeq, Max-Forwards, ports and Expires.
NUMBER_LIMITS: tuple[bytes, ...] = (
    b"0", b"-1", b"1", b"255", b"256", b"65535", b"65536", b"2147483647", b"2147483648", b"4294967295",
    b"4294967296", b"9223372036854775807", b"9223372036854775808", b"18446744073709551616",
    b"1" + b"0" * 40, b"00000000000000000001", b"-2147483648", b" 5", b"5 5", b"0x10", b"1.5", b"",
)
NUMBERED_FIELDS: tuple[bytes, ...] = (b"Content-Length: ", b"CSeq: ", b"Max-Forwards: ", b"Expires: ",
                                      b"m=audio ", b":")  # b":" = a port after a host
INVALID_UTF8: tuple[bytes, ...] = (b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1",
                                   b"\xf0\x28\x8c\xbc", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\xa1\xa1\xa1\xa1")
EXTRA_HEADERS: tuple[bytes, ...] = (
    b"Require: 100rel", b"Require: timer, replaces", b"Proxy-Require: x-fuzz", b"Max-Forwards: 0",
    b"Content-Length: 0", b"Content-Length: 100000", b"Content-Type: application/sdp",
    b"Content-Type: multipart/mixed;boundary=x", b"Content-Encoding: gzip", b"Expires: 0",
    b"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-fuzz-extra", b"Record-Route: <sip:127.0.0.1:5099;lr>",
    b"Route: <sip:127.0.0.1:5099;lr>", b"Session-Expires: 1", b"Min-SE: 0", b"Supported: 100rel, timer",
    b"Proxy-Authorization: Digest username=\"x\"", b"Authorization: Digest", b"X-Auth-EndpointSid: x",
    b"X-Auth-VoipToken: ", b"P-Asserted-Identity: <sip:+1@127.0.0.1>", b"Replaces: x;to-tag=a;from-tag=b",
    b"RSeq: 4294967296", b"RAck: 1 1 INVITE", b"Event: refer", b"Refer-To: <sip:nobody@127.0.0.1:9>",
    b"Call-ID: second-call-id", b"CSeq: 2 INVITE", b"To: <sip:other@127.0.0.1>;tag=other",
)
COMPACT: dict[bytes, bytes] = {b"Via": b"v", b"From": b"f", b"To": b"t", b"Call-ID": b"i",
                               b"Contact": b"m", b"Content-Length": b"l", b"Content-Type": b"c"}


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _header_indexes(lines: list[bytes]) -> list[int]:
    """Indexes of the header lines (between the start line and the first empty line)."""
    indexes = []
    for i, line in enumerate(lines[1:], start=1):
        if line in (b"", b"\r"):
            break
        indexes.append(i)
    return indexes


def m_byte_flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def m_truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def m_delete_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def m_duplicate_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines[i:i] = [lines[i]] * rng.randint(1, 5)
    return b"\n".join(lines)


def m_swap_lines(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def m_boundary_value(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    headers = _header_indexes(lines)
    if not headers:
        return data
    i = rng.choice(headers)
    name, colon, _ = lines[i].partition(b":")
    if not colon:
        return data
    lines[i] = name + b": " + rng.choice(BOUNDARY_VALUES) + b"\r"
    return b"\n".join(lines)


def m_huge_repetition(rng: random.Random, data: bytes) -> bytes:
    """Repeat a line (many headers) or a few bytes in place (one huge value), up to the bound."""
    if not data:
        return data
    if rng.random() < 0.5:
        lines = _lines(data)
        i = rng.randrange(len(lines))
        piece, at = lines[i] + b"\n", sum(len(line) + 1 for line in lines[:i])
    else:
        at = rng.randrange(len(data))
        piece = data[at: at + rng.randint(1, 16)]
    room = MAX_DATAGRAM - len(data)
    if not piece or room < len(piece):
        return data
    # log-uniform: as many modest repeats (around the 4000-byte limit) as near-65,000-byte ones
    times = max(1, int(math.exp(rng.uniform(0, math.log(room // len(piece))))))
    return data[:at] + piece * times + data[at:]


def m_line_endings(rng: random.Random, data: bytes) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return data.replace(b"\r\n", b"\n")
    if choice == 1:
        return data.replace(b"\r\n", b"\r")
    if choice == 2:
        return data.replace(b"\r\n\r\n", b"\r\n", 1)  # lose the empty line
    if choice == 3:
        return b"\r\n" * rng.randint(1, 8) + data
    if choice == 4:
        return data.replace(b"\r\n", b"\r\n\r\n", 1)  # the body starts after the start line
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines[i] = lines[i].rstrip(b"\r")  # one bare LF among CRLFs
    return b"\n".join(lines)


def m_numeric_limits(rng: random.Random, data: bytes) -> bytes:
    field_name = rng.choice(NUMBERED_FIELDS)
    numbers = list(re.finditer(re.escape(field_name) + rb"([0-9]+)", data))
    if not numbers:
        return data
    number = rng.choice(numbers)
    return data[: number.start(1)] + rng.choice(NUMBER_LIMITS) + data[number.end(1):]


def m_random_bytes(rng: random.Random, data: bytes) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    at = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        return data[:at] + junk + data[at:]
    return data[:at] + junk + data[at + len(junk):]  # overwrite


def m_non_utf8(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(INVALID_UTF8) + data[at:]


def m_missing_colon(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    headers = [i for i in _header_indexes(lines) if b":" in lines[i]]
    if not headers:
        return data
    i = rng.choice(headers)
    lines[i] = lines[i].replace(b":", b"", 1)
    return b"\n".join(lines)


def m_nul_bytes(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + b"\x00" * rng.randint(1, 4) + data[at:]


def m_whitespace(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    headers = _header_indexes(lines)
    if not headers:
        return data
    i = rng.choice(headers)
    line = lines[i]
    choice = rng.randrange(4)
    if choice == 0:
        lines[i] = line.replace(b":", b" \t : ", 1)
    elif choice == 1:  # fold the value over a continuation line
        cut = rng.randrange(len(line) + 1)
        lines[i] = line[:cut] + b"\r\n" + rng.choice((b" ", b"\t", b"  ")) + line[cut:]
    elif choice == 2:  # a header line that starts with blanks: a continuation of the previous one
        lines[i] = b" " + line
    else:
        lines[i] = line.rstrip(b"\r") + b" \t \r"
    return b"\n".join(lines)


def m_header_case(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    choice = rng.randrange(3)
    if choice == 0:  # the method (or status line) in another case
        lines[0] = lines[0].lower() if rng.random() < 0.5 else lines[0].swapcase()
        return b"\n".join(lines)
    headers = _header_indexes(lines)
    if not headers:
        return data
    i = rng.choice(headers)
    name, colon, value = lines[i].partition(b":")
    if not colon:
        return data
    if choice == 1 and name.strip() in COMPACT:
        name = COMPACT[name.strip()]
    else:
        name = bytes(c ^ 0x20 if rng.random() < 0.5 and chr(c).isalpha() else c for c in name)
    lines[i] = name + colon + value
    return b"\n".join(lines)


def m_insert_header(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    at = rng.randint(1, len(_header_indexes(lines)) + 1) if len(lines) > 1 else len(lines)
    lines.insert(at, rng.choice(EXTRA_HEADERS) + b"\r")
    return b"\n".join(lines)


def m_splice(rng: random.Random, data: bytes) -> bytes:
    """Two messages, or a message and a piece of itself, in one datagram."""
    if not data:
        return data
    start = rng.randrange(len(data))
    piece = data[start: start + rng.randint(1, len(data))]
    return data + piece if rng.random() < 0.5 else piece + data


Operator = Callable[[random.Random, bytes], bytes]
OPERATORS: dict[str, Operator] = {
    "byte-flip": m_byte_flip,
    "truncate": m_truncate,
    "delete-line": m_delete_line,
    "duplicate-line": m_duplicate_line,
    "swap-lines": m_swap_lines,
    "boundary-value": m_boundary_value,
    "huge-repetition": m_huge_repetition,
    "line-endings": m_line_endings,
    "numeric-limits": m_numeric_limits,
    "random-bytes": m_random_bytes,
    "non-utf8": m_non_utf8,
    "missing-colon": m_missing_colon,
    "nul-bytes": m_nul_bytes,
    "whitespace": m_whitespace,
    "header-case": m_header_case,
    "insert-header": m_insert_header,
    "splice": m_splice,
}


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------


def generate(seed: int, count: int, target: FuzzTarget, *, first_index: int = 0) -> list[Datagram]:
    """`count` datagrams for `seed`: the same arguments always give the same list.

    first_index numbers the datagrams (and their Call-IDs) from there, so that a long run cut
    into chunks (each with its own seed) never reuses a Call-ID."""
    rng = random.Random(seed)
    history = _History()
    template_names = (*TEMPLATES, REPEAT)
    operator_names = tuple(OPERATORS)
    out: list[Datagram] = []
    for index in range(first_index, first_index + count):
        ctx = _Context(target, rng.randrange(len(target.gateways)), rng.randrange(len(target.source_ports)),
                       seed, index)
        name = rng.choice(template_names)
        if name == REPEAT:
            if history.datagrams:
                earlier = rng.choice(history.datagrams[-200:])
                datagram = Datagram(index, earlier.gateway, earlier.source, REPEAT, (), earlier.payload)
                history.datagrams.append(datagram)
                out.append(datagram)
                continue
            name = "invite-sdp"  # nothing to repeat yet
        payload, ctx = TEMPLATES[name](rng, ctx, history)
        operators = tuple(rng.choice(operator_names) for _ in range(rng.randint(1, MAX_OPERATORS)))
        for operator in operators:
            payload = OPERATORS[operator](rng, payload)[:MAX_DATAGRAM]
        datagram = Datagram(index, ctx.gateway, ctx.source, name, operators, payload)
        history.datagrams.append(datagram)
        out.append(datagram)
    return out


def template(name: str, target: FuzzTarget, *, seed: int = 0, index: int = 0, gateway: int = 0,
             source: int = 0) -> bytes:
    """One template's message before any mutation (for tests and for reading what is sent)."""
    rng = random.Random(seed)
    payload, _ = TEMPLATES[name](rng, _Context(target, gateway, source, seed, index), _History())
    return payload
