"""Parse one SIP message, as captured from the wire, into a SipMessage.

The parser is tolerant where real captures are sloppy (LF instead of CRLF,
compact header names, folded header lines, extra blank lines before the
message) and strict where a message would be useless (no start line, no
Call-ID, a status code that does not exist). Every rejection raises
SipParseError with a sentence a trainee can act on.

Only the framing is parsed: header values stay plain strings. The helpers
uri_user() and uri_host_port() pick apart the URIs that trunk labs care about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "canonical_name",
    "SipMessage",
    "SipParseError",
    "parse_message",
    "uri_host_port",
    "uri_user",
]


class SipParseError(ValueError):
    """The text is not a SIP message we can work with."""


# RFC 3261 section 7.3.3: one-letter header names used to keep UDP packets small.
# The first group comes from RFC 3261 itself; the rest from later RFCs.
COMPACT_FORMS: dict[str, str] = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "o": "event",  # RFC 6665
    "r": "refer-to",  # RFC 3515
    "b": "referred-by",  # RFC 3892
    "u": "allow-events",  # RFC 6665
    "x": "session-expires",  # RFC 4028
}

# Without these five no SIP element can match the message to a dialog or
# transaction, so we refuse it (RFC 3261 section 8.1.1 lists them).
MANDATORY_HEADERS: tuple[str, ...] = ("Call-ID", "CSeq", "From", "To", "Via")

SIP_VERSION = "SIP/2.0"
URI_SCHEMES: tuple[str, ...] = ("sip:", "sips:", "tel:")

# RFC 3261 'token': the characters allowed in a method or a header name.
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# ASCII digits only: str.isdigit() would also accept '２' or '²'.
_DIGITS = re.compile(r"[0-9]+")
# Header section and body are separated by the first empty line (CRLF or LF).
_BLANK_LINE = re.compile(r"\r?\n\r?\n")


def canonical_name(name: str) -> str:
    """Lower-case a header name and expand a compact form, for comparisons."""
    lowered = name.strip().lower()
    return COMPACT_FORMS.get(lowered, lowered)


_canonical = canonical_name


def _show(text: str, limit: int = 60) -> str:
    """Quote a piece of input for an error message, cut short if it is long."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


@dataclass(frozen=True)
class SipMessage:
    """One parsed SIP request or response.

    For requests, method and request_uri are set; for responses, status_code
    and reason are set and method is copied from the CSeq header, so callers
    can always ask "which method is this about?".
    """

    is_request: bool
    method: str | None
    request_uri: str | None
    status_code: int | None
    reason: str | None
    # (name as written, value) in wire order; folded lines already joined.
    headers: tuple[tuple[str, str], ...]
    body: str

    def headers_named(self, name: str) -> list[str]:
        """All values of a header, in order; compact and long names both count.

        Values are not split on commas: 'Via: a, b' stays one value, because
        commas also appear inside quoted strings (e.g. WWW-Authenticate).
        """
        wanted = _canonical(name)
        return [value for key, value in self.headers if _canonical(key) == wanted]

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None if absent."""
        values = self.headers_named(name)
        return values[0] if values else None

    @property
    def call_id(self) -> str | None:
        return self.header("Call-ID")

    @property
    def cseq_number(self) -> int | None:
        parsed = _split_cseq(self.header("CSeq"))
        return parsed[0] if parsed else None

    @property
    def cseq_method(self) -> str | None:
        parsed = _split_cseq(self.header("CSeq"))
        return parsed[1] if parsed else None

    @property
    def first_line(self) -> str:
        """The start line, e.g. 'INVITE sip:1202@127.0.0.2 SIP/2.0'."""
        if self.is_request:
            return f"{self.method} {self.request_uri} {SIP_VERSION}"
        # An empty reason phrase would leave a trailing space; drop it for display.
        return f"{SIP_VERSION} {self.status_code} {self.reason or ''}".rstrip()


# --------------------------------------------------------------------------
# parse_message and its steps, in the order they run
# --------------------------------------------------------------------------


def parse_message(text: str) -> SipMessage:
    """Parse the text of one SIP message; raise SipParseError if it is not one."""
    if not isinstance(text, str):
        raise SipParseError(
            f"expected the message as text (str), got {type(text).__name__}; "
            "decode captured bytes first, e.g. data.decode('utf-8', 'replace')"
        )
    # RFC 3261 section 7.5: ignore CRLFs before the start line (keep-alives).
    text = text.lstrip("\r\n")
    if not text.strip():
        raise SipParseError("not a SIP message: the text is empty")

    head, body = _split_head_and_body(text)
    lines = [line.rstrip("\r") for line in head.split("\n")]
    first_line, header_lines = lines[0], lines[1:]

    # The start line first: for garbage input it gives the most useful error.
    start = _parse_start_line(first_line)
    headers = _parse_headers(header_lines)
    _require_mandatory_headers(headers)
    cseq_value = _first_value(headers, "CSeq") or ""
    cseq = _split_cseq(cseq_value)
    if cseq is None:
        raise SipParseError(
            f"malformed CSeq {_show(cseq_value)}: expected '<number> <METHOD>', "
            "e.g. 'CSeq: 1 INVITE'"
        )
    return SipMessage(
        is_request=start.is_request,
        # Responses name their method only in CSeq.
        method=start.method if start.is_request else cseq[1],
        request_uri=start.request_uri,
        status_code=start.status_code,
        reason=start.reason,
        headers=headers,
        body=_apply_content_length(headers, body),
    )


def _split_head_and_body(text: str) -> tuple[str, str]:
    """Cut at the first empty line; a message without one has an empty body."""
    match = _BLANK_LINE.search(text)
    if match is None:
        return text.rstrip("\r\n"), ""
    return text[: match.start()], text[match.end() :]


@dataclass(frozen=True)
class _StartLine:
    """What the first line says; the unused half stays None."""

    is_request: bool
    method: str | None = None
    request_uri: str | None = None
    status_code: int | None = None
    reason: str | None = None


def _parse_start_line(line: str) -> _StartLine:
    if line.upper().startswith("SIP/"):
        code, reason = _parse_status_line(line)
        return _StartLine(is_request=False, status_code=code, reason=reason)
    method, uri = _parse_request_line(line)
    return _StartLine(is_request=True, method=method, request_uri=uri)


def _parse_status_line(line: str) -> tuple[int, str]:
    """'SIP/2.0 180 Ringing' -> (180, 'Ringing'). The reason may be empty."""
    parts = line.split(maxsplit=2)
    _check_version(parts[0], line)
    if len(parts) < 2:
        raise SipParseError(f"status line {_show(line)} has no status code")
    code_text = parts[1]
    if not _DIGITS.fullmatch(code_text):
        raise SipParseError(
            f"status code {_show(code_text)} is not a number (line {_show(line)})"
        )
    if len(code_text) != 3 or not 100 <= int(code_text) <= 699:  # length first: int() of 5000 digits raises
        raise SipParseError(
            f"status code {code_text if len(code_text) <= 10 else code_text[:10] + '...'} out of range: SIP status codes are "
            "three digits from 100 to 699"
        )
    code = int(code_text)
    reason = parts[2] if len(parts) == 3 else ""
    return code, reason


def _parse_request_line(line: str) -> tuple[str, str]:
    """'INVITE sip:1202@127.0.0.2 SIP/2.0' -> ('INVITE', 'sip:1202@127.0.0.2')."""
    parts = line.split()
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/"):
        hint = ""
        if "HTTP/" in line.upper():
            hint = " (it looks like HTTP)"
        raise SipParseError(
            f"not a SIP message: first line {_show(line)} is neither a request "
            f"nor a status line{hint}; expected 'METHOD URI SIP/2.0' or "
            "'SIP/2.0 CODE REASON'"
        )
    method, uri, version = parts
    _check_version(version, line)
    if not _TOKEN.fullmatch(method):
        raise SipParseError(f"request method {_show(method)} is not a valid token")
    if not uri.lower().startswith(URI_SCHEMES):
        raise SipParseError(
            f"Request-URI {_show(uri)} must start with sip:, sips: or tel:"
        )
    return method, uri


def _check_version(version: str, line: str) -> None:
    # The version string is case-insensitive (RFC 3261 section 7.1).
    if version.upper() != SIP_VERSION:
        raise SipParseError(
            f"unsupported SIP version {_show(version)} in {_show(line)}; "
            f"only {SIP_VERSION} exists"
        )


def _parse_headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """Turn header lines into (name, value) pairs, joining folded lines."""
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            # RFC 3261 section 7.3.1: a line starting with whitespace continues
            # the previous header; the line break counts as a single space.
            if not headers:
                raise SipParseError(
                    f"continuation line {_show(line)} comes before any header "
                    "(a header line must not start with a space or tab)"
                )
            name, value = headers[-1]
            extra = line.strip()
            headers[-1] = (name, f"{value} {extra}" if value and extra else value + extra)
            continue
        headers.append(_parse_header_line(line))
    return tuple(headers)


def _parse_header_line(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        raise SipParseError(f"header line without a colon: {_show(line)}")
    name = name.rstrip(" \t")  # 'Via : ...' is legal: whitespace before the colon
    if not name:
        raise SipParseError(f"header line without a name before the colon: {_show(line)}")
    if not _TOKEN.fullmatch(name):
        raise SipParseError(
            f"header name {_show(name)} contains characters not allowed in a "
            f"header name (line {_show(line)})"
        )
    return name, value.strip()


def _first_value(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    wanted = _canonical(name)
    for key, value in headers:
        if _canonical(key) == wanted:
            return value
    return None


def _require_mandatory_headers(headers: tuple[tuple[str, str], ...]) -> None:
    present = {_canonical(key) for key, _ in headers}
    missing = [name for name in MANDATORY_HEADERS if _canonical(name) not in present]
    if missing:
        noun = "header" if len(missing) == 1 else "headers"
        raise SipParseError(
            f"missing {', '.join(missing)} {noun}: every SIP request and "
            f"response needs {', '.join(MANDATORY_HEADERS)}"
        )


def _split_cseq(value: str | None) -> tuple[int, str] | None:
    """'1 INVITE' -> (1, 'INVITE'); None when the value is not a valid CSeq."""
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 2 or not _DIGITS.fullmatch(parts[0]) or len(parts[0]) > 10 or not _TOKEN.fullmatch(parts[1]):
        return None
    number = int(parts[0])
    if number >= 2**31:  # RFC 3261 section 8.1.1.5: must fit in 32 bits, < 2**31
        return None
    return number, parts[1]


def _apply_content_length(headers: tuple[tuple[str, str], ...], body: str) -> str:
    """Drop bytes past Content-Length, as RFC 3261 section 18.3 asks.

    A body shorter than Content-Length is kept as is: captures often turn
    CRLF into LF, which shrinks the body without the sender being at fault.
    """
    declared = _first_value(headers, "Content-Length")
    if declared is None:
        return body
    if not _DIGITS.fullmatch(declared) or len(declared) > 10:
        raise SipParseError(f"Content-Length {_show(declared)} is not a whole number of bytes")
    length = int(declared)
    try:
        # surrogateescape round-trips bytes that were decoded the same way.
        raw = body.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return body  # stray surrogates we cannot count in bytes: keep it all
    if len(raw) <= length:
        return body
    return raw[:length].decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------
# URI helpers
# --------------------------------------------------------------------------


def _extract_uri(value: str) -> str:
    """Get the bare URI out of a header value or a URI.

    Handles name-addr ('"Bob" <sip:bob@host>;tag=x') and plain addr-spec
    ('sip:bob@host;tag=x'). The display name may be quoted and contain '<'.
    """
    rest = value.strip()
    if rest.startswith('"'):
        rest = _skip_quoted_string(rest)
    if "<" in rest:
        inside = rest.split("<", 1)[1]
        return inside.split(">", 1)[0].strip()
    return rest


def _skip_quoted_string(text: str) -> str:
    """Return what follows the quoted string at the start of text."""
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2  # backslash escapes the next character
            continue
        if char == '"':
            return text[index + 1 :]
        index += 1
    return ""  # unterminated quote: nothing usable follows


def _split_scheme(uri: str) -> tuple[str, str] | None:
    """'sip:bob@host' -> ('sip', 'bob@host'); None for other schemes."""
    scheme, colon, rest = uri.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips", "tel"):
        return None
    return scheme, rest


def uri_user(uri_or_header_value: str) -> str | None:
    """The user part of a sip/sips URI, or the number of a tel URI.

    Accepts a URI or a whole header value such as
    '"Bob" <sip:+12025550100@127.0.0.2:5060;user=phone>;tag=x' (-> '+12025550100').
    Percent-escapes are decoded. Returns None when there is no user part.
    """
    split = _split_scheme(_extract_uri(uri_or_header_value))
    if split is None:
        return None
    scheme, rest = split
    if scheme == "tel":
        # tel:+12025550100;phone-context=... : the number ends at the first ';'.
        number = re.split(r"[;?>\s]", rest, maxsplit=1)[0]
        return unquote(number) or None
    if "@" not in rest:
        return None  # e.g. sip:127.0.0.2:5060 addresses a host, not a user
    userinfo = rest.split("@", 1)[0]
    user = userinfo.split(":", 1)[0]  # drop a 'user:password' password
    return unquote(user) or None


def uri_host_port(value: str) -> tuple[str, int | None] | None:
    """(host, port) of a sip/sips URI or header value; port None if absent.

    IPv6 hosts come back without brackets ('[::1]:5060' -> ('::1', 5060)).
    Returns None for tel: URIs (no host), other schemes, or a broken port.
    """
    split = _split_scheme(_extract_uri(value))
    if split is None or split[0] == "tel":
        return None
    rest = split[1]
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    hostport = re.split(r"[;?>\s]", rest, maxsplit=1)[0]
    if hostport.startswith("["):
        host, bracket, after = hostport[1:].partition("]")
        if not bracket or not host:
            return None
        port_text = after[1:] if after.startswith(":") else None
        if after and port_text is None:
            return None  # junk after ']' that is not ':port'
    else:
        host, colon, port_text_raw = hostport.partition(":")
        port_text = port_text_raw if colon else None
    if not host:
        return None
    if port_text is None:
        return host, None
    if not _DIGITS.fullmatch(port_text) or len(port_text) > 5 or not 0 < int(port_text) <= 65535:
        return None
    return host, int(port_text)
