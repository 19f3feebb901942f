"""The torture corpus (tests/torture/): loading it, filling in its placeholders, and judging an
answer against EDGE-SPEC.md. Pure: no sockets, no clock; tests/support/sipwire.py does the I/O.

A corpus message is a raw datagram with placeholders that only the moment of sending knows:

    {gateway_ip} {gateway_port}   the System Gateway address it is sent to
    {source_ip} {source_port}     the test socket it leaves from
    {call_id} {branch} {tag} {to_tag}   fresh per datagram, so no two sends share a transaction
    {number}                      the number dialled (a PSTN number: the caller is no endpoint,
                                  so it meets the challenge long before routing)
    {content_length}              the byte length of the body, once the rest is filled in
    {padding}                     filler that makes the datagram exactly `size` bytes

Only these names are replaced; any other brace is left as it is (an SDP could hold one).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sip.sipmsg import SipParseError, canonical_name, parse_message

CORPUS = Path(__file__).resolve().parent.parent / "torture"
MAX_DATAGRAM = 65_000
PLACEHOLDERS = ("gateway_ip", "gateway_port", "source_ip", "source_port", "call_id", "branch", "tag",
                "to_tag", "number")
# The methods EDGE-SPEC.md says the gateway carries: what OPTIONS and 405/501 list in Allow.
CARRIED_METHODS = frozenset({"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"})
AUTH_FAILURES = frozenset({401, 407})

Expectation = int | str  # a status code, or "none" (dropped: no answer at all)


@dataclass(frozen=True)
class CorpusMessage:
    name: str  # the file name without .sip
    category: str
    why: str
    expect: tuple[Expectation, ...]  # the acceptable answers (one, unless the spec leaves a choice)
    template: bytes
    size: int | None = None  # pad {padding} so the datagram is exactly this many bytes
    cut: int = 0  # drop this many bytes from the end once rendered
    note: str = ""  # why more than one answer is acceptable

    @property
    def expects_answer(self) -> bool:
        return any(e != "none" for e in self.expect)


def load_corpus(folder: Path = CORPUS) -> list[CorpusMessage]:
    """The manifest's messages in its order, each with its file's raw bytes."""
    manifest = tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8"))
    messages = []
    for entry in manifest["message"]:
        expect = entry["expect"]
        messages.append(CorpusMessage(
            name=entry["file"].removesuffix(".sip"),
            category=entry["category"],
            why=entry["why"],
            expect=tuple(expect) if isinstance(expect, list) else (expect,),
            template=(folder / entry["file"]).read_bytes(),
            size=entry.get("size"),
            cut=entry.get("cut", 0),
            note=entry.get("note", ""),
        ))
    return messages


def render(message: CorpusMessage, values: dict[str, str]) -> bytes:
    """The datagram to send: placeholders filled in, then Content-Length, padding and cut."""
    missing = [name for name in PLACEHOLDERS if name not in values]
    if missing:
        raise ValueError(f"no value for placeholder(s) {', '.join(missing)}")
    data = message.template
    for name in PLACEHOLDERS:
        data = data.replace(b"{" + name.encode() + b"}", str(values[name]).encode())
    if b"{content_length}" in data:
        data = data.replace(b"{content_length}", str(len(body_of(data))).encode())
    if message.size is not None:
        if b"{padding}" not in data:
            raise ValueError(f"{message.name}: size is set but the message has no {{padding}}")
        room = message.size - (len(data) - len(b"{padding}"))
        if room < 0:
            raise ValueError(f"{message.name}: already longer than {message.size} bytes without padding")
        data = data.replace(b"{padding}", b"p" * room)
    if message.cut:
        data = data[: -message.cut]
    return data


def body_of(data: bytes) -> bytes:
    """What follows the first empty line (CRLF CRLF, or LF LF for bare-LF messages); blank
    lines before the start line are no part of the message (RFC 3261 7.5)."""
    data = data.lstrip(b"\r\n")
    match = re.search(rb"\r?\n\r?\n", data)
    return data[match.end():] if match else b""


def is_new_invite_like(data: bytes) -> bool:
    """Could a gateway count this datagram against its CPS limit? Any INVITE start line, in
    any letter case (a lenient counter might): the sender paces these under the limit."""
    return data.lstrip(b"\r\n")[:7].upper() == b"INVITE "


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One datagram the gateway sent back."""

    raw: bytes
    status: int | None  # None: not a parseable SIP response
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: bytes) -> Answer:
        """A response, read leniently: a 400 to a request without Call-ID rightly has none, so
        no header is required; only the status line and 'name: value' lines (folded or not)."""
        text = raw.decode("utf-8", "surrogateescape")
        lines = [line.rstrip("\r") for line in re.split(r"\r?\n\r?\n", text, maxsplit=1)[0].split("\n")]
        status = re.fullmatch(r"SIP/2\.0 ([1-6][0-9][0-9])(?: .*)?", lines[0])
        if status is None:
            return cls(raw, None)
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:
                headers[-1] = (headers[-1][0], f"{headers[-1][1]} {line.strip()}")
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                return cls(raw, None)
            headers.append((name.strip(), value.strip()))
        return cls(raw, int(status.group(1)), tuple(headers))

    def header(self, name: str) -> str | None:
        values = self.headers_named(name)
        return values[0] if values else None

    def headers_named(self, name: str) -> list[str]:
        wanted = canonical_name(name)
        return [value for key, value in self.headers if canonical_name(key) == wanted]

    @property
    def first_line(self) -> str:
        return self.raw.split(b"\r\n", 1)[0].decode("utf-8", "replace")


def final_answer(answers: list[Answer]) -> Answer | None:
    """The first final (non-1xx) response, the one the manifest's expectation is about."""
    return next((a for a in answers if a.status is not None and a.status >= 200), None)


def judge(message: CorpusMessage, sent: bytes, answers: list[Answer], gateway_ip: str) -> list[str]:
    """What is wrong with the gateway's answers to `sent`, per EDGE-SPEC.md; [] when all is right.

    Checks the status (or silence), then what the spec says goes with it: a challenge with
    401/407, Allow with 405/501 and OPTIONS, Unsupported with 420, Retry-After with 503, and a
    Warning on every other refusal."""
    unparseable = [a for a in answers if a.status is None]
    if unparseable:
        return [f"answered with something that is no SIP response: {unparseable[0].first_line!r}"]
    final = final_answer(answers)
    if final is None:
        if answers and "none" in message.expect:
            return [f"expected no answer, got {', '.join(a.first_line for a in answers)}"]
        if "none" in message.expect:
            return []
        return [f"expected {_expected_text(message)}, got "
                + (f"only {', '.join(a.first_line for a in answers)}" if answers else "no answer")]
    if final.status not in message.expect:
        return [f"expected {_expected_text(message)}, got {final.first_line!r}"]
    return spec_problems(final, sent, gateway_ip)


def _expected_text(message: CorpusMessage) -> str:
    return " or ".join("no answer" if e == "none" else str(e) for e in message.expect)


def spec_problems(answer: Answer, sent: bytes, gateway_ip: str) -> list[str]:
    """The headers EDGE-SPEC.md requires alongside a given final status."""
    problems: list[str] = []
    status = answer.status
    request = _request_facts(sent)
    if request.call_id is not None and answer.header("Call-ID") != request.call_id:
        problems.append(f"Call-ID not echoed: sent {request.call_id!r}, got {answer.header('Call-ID')!r}")
    if status == 407 and not _is_digest(answer.header("Proxy-Authenticate")):
        problems.append("407 without a Proxy-Authenticate digest challenge")
    if status == 401 and not _is_digest(answer.header("WWW-Authenticate")):
        problems.append("401 without a WWW-Authenticate digest challenge (RFC 3261 21.4.2)")
    if status in (405, 501) or (status == 200 and request.method == "OPTIONS"):
        allow = _tokens(answer.header("Allow"))
        if allow != CARRIED_METHODS:
            problems.append(f"{status}: Allow should list exactly {', '.join(sorted(CARRIED_METHODS))}, "
                            f"got {answer.header('Allow')!r}")
    if status == 200 and request.method == "OPTIONS" and "application/sdp" not in (answer.header("Accept") or ""):
        problems.append(f"OPTIONS 200 without Accept: application/sdp (got {answer.header('Accept')!r})")
    if status == 420 and not answer.header("Unsupported"):
        problems.append("420 without an Unsupported header")
    if status == 503 and not answer.header("Retry-After"):
        problems.append("503 without Retry-After")
    if status >= 300 and status not in AUTH_FAILURES:
        warning = answer.header("Warning") or ""
        if not re.fullmatch(rf'399 {re.escape(gateway_ip)}(:\d+)? "[^"]+"', warning.strip()):
            problems.append(f'{status}: Warning should be 399 {gateway_ip} "<why>", got {warning!r}')
    return problems


@dataclass(frozen=True)
class _RequestFacts:
    method: str | None
    call_id: str | None


def _request_facts(sent: bytes) -> _RequestFacts:
    """The method and Call-ID of what we sent, when our own parser can read it."""
    try:
        message = parse_message(sent.decode("utf-8", "surrogateescape"))
    except SipParseError:
        return _RequestFacts(None, None)
    return _RequestFacts(message.method, message.call_id)


def _is_digest(value: str | None) -> bool:
    return value is not None and value.strip().lower().startswith("digest ") and "nonce=" in value


def _tokens(value: str | None) -> frozenset[str]:
    return frozenset(t.strip() for t in (value or "").split(",") if t.strip())


def ack_for(answer: Answer, request_uri: str) -> bytes | None:
    """The ACK a UAC sends for a non-2xx final answer to its INVITE (RFC 3261 17.1.1.3): same
    Via, From, Call-ID and CSeq number as the INVITE, the To of the answer. Taken from the
    answer, which echoes them; None when it is not such an answer."""
    if answer.status is None or answer.status < 300:
        return None
    cseq = (answer.header("CSeq") or "").split()
    if len(cseq) != 2 or cseq[1] != "INVITE":
        return None
    vias, sender = answer.headers_named("Via"), answer.header("From")
    to, call_id = answer.header("To"), answer.header("Call-ID")
    if not vias or sender is None or to is None or call_id is None:
        return None
    lines = [f"ACK {request_uri} SIP/2.0", f"Via: {vias[0]}", "Max-Forwards: 70", f"From: {sender}",
             f"To: {to}", f"Call-ID: {call_id}", f"CSeq: {cseq[0]} ACK", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
