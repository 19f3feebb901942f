"""Datagrams in, SIP messages out, and back again: the edge's view of the wire (pure).

`read()` is stricter than `sip.sipmsg.parse_message`, which reads captures and forgives what
capture tools do to messages (LF for CRLF, a body shorter than its Content-Length). The edge
reads what a peer really sent, so a body shorter than its Content-Length is a truncated
datagram, a body needs a Content-Type, and the CSeq method must be the request's method.

Three outcomes:
- a SipMessage: well formed, the edge may act on it;
- Malformed: a request too broken to act on, but with enough (a Via) to answer it: 400, 505
  or 513, built by `malformed_response()` from the headers that could be read;
- None: nothing to answer (empty keep-alives, garbage, broken responses, a request without a
  usable start line or top Via, a broken ACK): dropped.

`to_bytes()` writes a message back, with a Content-Length it computes itself: what reaches
pjsua is always re-serialized by us, never the peer's bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from ..sipmsg import SIP_VERSION, SipMessage, SipParseError, canonical_name, parse_message

# pjsip refuses (and, in some paths, mishandles) messages over PJSIP_MAX_PKT_LEN = 4000 bytes.
MAX_MESSAGE_BYTES = 4000
HEADERS_COPIED = ("via", "from", "to", "call-id", "cseq")  # what a response echoes (RFC 3261 8.2.6.2)
_DIGITS = re.compile(r"[0-9]+")
_LONE_CR = re.compile(r"\r(?!\n)")

REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    420: "Bad Extension", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service",
}
# RFC 3261 21: a code nobody knows is read as x00 of its class; its words name the class only.
CLASS_REASONS = {1: "Provisional", 2: "Successful", 3: "Redirection", 4: "Request Failure", 5: "Server Failure",
                 6: "Global Failure"}


def reason_for(status: int) -> str:
    """The standard reason phrase: what every response the gateway sends carries."""
    return REASONS.get(status) or CLASS_REASONS.get(status // 100, "")


@dataclass(frozen=True)
class Malformed:
    """A request we cannot act on but can answer, with the headers we could read."""

    status: int  # 400, 505 or 513
    cause: str  # plain words, for the Warning header and the ladder
    headers: tuple[tuple[str, str], ...]  # Via, From, To, Call-ID, CSeq as found
    method: str = ""


def read(data: bytes) -> SipMessage | Malformed | None:
    """What one datagram is to the edge (see the module docstring)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _malformed(data.decode("utf-8", "replace"), "the message is not valid UTF-8")
    text = text.lstrip("\r\n")
    if not text.strip():
        return None  # a keep-alive (RFC 5626 CRLFs) or nothing at all
    if "\x00" in text:
        return _malformed(text.replace("\x00", " "), "the message contains NUL bytes")
    head_end = re.search(r"\r?\n\r?\n", text)
    if _LONE_CR.search(text, 0, head_end.start() if head_end else len(text)):
        # pjsip ends a line at a lone CR, sipmsg does not: a header hidden behind one would reach pjsua unseen
        return _malformed(text, "a header line holds a CR without its LF")
    try:
        message = parse_message(text)
    except SipParseError as error:
        return _malformed(text, str(error))
    except ValueError:  # int() refuses a number of over 4300 digits (CSeq, Content-Length, status code)
        return _malformed(text, "a number in the message is thousands of digits long")
    if not message.is_request:
        return message if head_end is not None else None
    if head_end is None:
        return _malformed(text, "the message ends before the blank line after its headers (truncated?)")
    if top_via(message) is None:
        return None  # no usable top Via: nothing to answer along
    if len(data) > MAX_MESSAGE_BYTES:
        status, problem = 513, f"the request is {len(data)} bytes; the gateway takes at most {MAX_MESSAGE_BYTES}"
    else:
        status, problem = 400, _request_problem(message, text[head_end.end():])
    if not problem:
        return message
    if message.method == "ACK":
        return None  # an ACK is never answered
    return Malformed(status, problem, _copied(message.headers), message.method or "")


def _request_problem(message: SipMessage, raw_body: str) -> str:
    """Why a parsed request is still not one the edge may act on ('' when it is)."""
    if message.cseq_method != message.method:
        return f"CSeq method {message.cseq_method} is not the request's method {message.method}"
    declared = message.header("Content-Length")
    if declared is not None:
        if not _DIGITS.fullmatch(declared.strip()):
            return f"Content-Length {declared[:20]!r} is not a whole number"
        if int(declared) > len(raw_body.encode("utf-8")):
            return (f"Content-Length says {int(declared)} bytes but the body has "
                    f"{len(raw_body.encode('utf-8'))}: the datagram was cut short")
    if message.body.strip() and not message.header("Content-Type"):
        return "the request has a body without a Content-Type"
    max_forwards = message.header("Max-Forwards")
    if max_forwards is not None and (not _DIGITS.fullmatch(max_forwards.strip()) or int(max_forwards) > 255):
        return f"Max-Forwards {max_forwards[:20]!r} is not a number from 0 to 255"
    return ""


def _malformed(text: str, cause: str) -> Malformed | None:
    """Salvage what a response needs from a message the parser refused; None when we cannot
    answer (a response, no usable start line, or no usable Via to answer along)."""
    lines = text.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")
    first = lines[0].strip()
    words = first.split()
    if first.upper().startswith("SIP/") or len(words) != 3 or not words[2].upper().startswith("SIP/"):
        return None  # a broken response (nobody to answer), or not a request line at all
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and canonical_name(name) in HEADERS_COPIED and "\r" not in value:
            headers.append((name.strip(), value.strip()))
    top = next((v for n, v in headers if canonical_name(n) == "via"), None)
    if top is None or parse_via(top) is None:
        return None
    method = words[0] if words and re.fullmatch(r"[A-Za-z]+", words[0]) else ""
    if method == "ACK":
        return None  # ACK is never answered
    status = 505 if words[2].upper() != SIP_VERSION else 400
    return Malformed(status, cause[:200], tuple(headers), method)


def _copied(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((n, v) for n, v in headers if canonical_name(n) in HEADERS_COPIED)


# ------------------------------------------------------------------ Via

@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: tuple[tuple[str, str | None], ...]

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k.lower() == name), None)

    @property
    def branch(self) -> str:
        return self.param("branch") or ""


# RFC 3261 25.1: SLASH and COLON are SWS "/" SWS and SWS ":" SWS: 'SIP / 2.0 / UDP h : 5060' is legal.
_SENT_PROTOCOL = re.compile(r"\s*([^\s/]+)\s*/\s*([^\s/]+)\s*/\s*([^\s/;]+)\s+(.*)", re.DOTALL)
_SENT_BY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+)(?:\s*:\s*([0-9]{1,5}))?")


def parse_via(value: str) -> Via | None:
    """The first via-parm of a Via header value: 'SIP/2.0/UDP host:port;branch=z9hG4bK..'."""
    protocol = _SENT_PROTOCOL.fullmatch(_split_commas(value)[0].strip())
    if protocol is None or f"{protocol[1]}/{protocol[2]}".upper() != SIP_VERSION:
        return None
    sent_by_text, *raw_params = protocol[4].split(";")
    sent_by = _SENT_BY.fullmatch(sent_by_text.strip())
    if sent_by is None or (sent_by[2] is not None and not 0 < int(sent_by[2]) < 65536):
        return None
    params = []
    for raw in raw_params:
        key, equals, val = raw.strip().partition("=")
        if key:
            params.append((key.strip(), val.strip() if equals else None))
    return Via(protocol[3].upper(), sent_by[1], int(sent_by[2]) if sent_by[2] else None, tuple(params))


def top_via(message: SipMessage) -> Via | None:
    value = message.header("Via")
    return parse_via(value) if value is not None else None


def _split_commas(value: str) -> list[str]:
    """Split a header value at commas outside quotes and angle brackets."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(value):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth = max(0, depth - 1)
        elif char == "," and not quoted and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


def via_values(message: SipMessage) -> list[str]:
    """Every via-parm in order, one per element (a header may hold several, comma separated)."""
    return [part.strip() for value in message.headers_named("Via") for part in _split_commas(value) if part.strip()]


# ------------------------------------------------------------------ editing and writing

def with_headers(message: SipMessage, headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> SipMessage:
    return replace(message, headers=tuple(headers))


def without(headers, *names: str) -> list[tuple[str, str]]:
    wanted = {canonical_name(n) for n in names}
    return [(n, v) for n, v in headers if canonical_name(n) not in wanted]


def replace_header(headers, name: str, value: str) -> list[tuple[str, str]]:
    """The header's first occurrence replaced (others removed); appended when absent."""
    out, done = [], False
    for n, v in headers:
        if canonical_name(n) == canonical_name(name):
            if not done:
                out.append((name, value))
                done = True
            continue
        out.append((n, v))
    if not done:
        out.append((name, value))
    return out


def to_bytes(message: SipMessage) -> bytes:
    """The message on the wire: start line, headers, our own Content-Length, body."""
    if message.is_request:
        start = f"{message.method} {message.request_uri} {SIP_VERSION}"
    else:
        start = f"{SIP_VERSION} {message.status_code} {message.reason or reason_for(message.status_code)}"
    body = message.body.encode("utf-8")
    lines = [start] + [f"{n}: {v}" for n, v in message.headers if canonical_name(n) != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def local_tag(*parts: str) -> str:
    """A To tag the edge puts on its own responses: the same for a retransmission, so the ACK
    of a refused INVITE matches statelessly."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()[:12]


def response(request_headers, status: int, extra: list[tuple[str, str]] | tuple = (), *,
             tag_seed: str = "", body: str = "", reason: str = "") -> SipMessage:
    """A response built from a request's headers (Via, From, To, Call-ID, CSeq echoed); a To
    tag is added to a response other than 100 whose To has none (an 18x opens an early dialog)."""
    headers: list[tuple[str, str]] = []
    for name, value in request_headers:
        key = canonical_name(name)
        if key not in HEADERS_COPIED:
            continue
        if key == "to" and status > 100 and ";tag=" not in value.replace(" ", "").lower():
            value = f"{value};tag={local_tag(tag_seed, value)}"
        headers.append((_LONG_NAMES[key], value))
    headers.extend(extra)
    return SipMessage(False, None, None, status, reason or reason_for(status), tuple(headers), body)


_LONG_NAMES = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}


def has_tag(value: str | None) -> bool:
    """A From/To header value with a tag parameter (of the header, not of a URI in <...>)."""
    if value is None:
        return False
    params = value.rsplit(">", 1)[1] if "<" in value else value
    return ";tag=" in params.replace(" ", "").lower()


_DISPLAY_NAME = re.compile(r'\s*"(?:[^"\\]|\\.)*"')
_SIP_URI = re.compile(r"(sips?:)([^@;>?\s]*@)?(\[[^\]]*\]|[^;>?\s:]+)(:\d+)?", re.IGNORECASE)


def uri_with_host(uri: str, host: str, port: int) -> str:
    """A sip: URI (or a header value holding one) with its host:port replaced."""
    display = _DISPLAY_NAME.match(uri)  # a quoted display name may itself read like a URI
    match = _SIP_URI.search(uri, display.end() if display else 0)
    if match is None:
        return uri
    return f"{uri[:match.start(3)]}{host}:{port}{uri[match.end(4) if match.group(4) else match.end(3):]}"
