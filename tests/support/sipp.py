"""SIPp (Debian package sip-tester) as an outside SIP peer, run from a test.

A run is one SIPp process on a loopback address of the test's lab block. It always logs every
SIP message it sent and received (-trace_msg, to a file of its own in the test's folder), so a
test can judge what the gateway really answered with a reader that is not ours (`Logged`), and
it is always killed when the test leaves, whatever happens.

Secrets stay off the command line: credentials reach SIPp in an injection file (-inf) written
owner-only (`injection_file`), used as [field0], [field1], ... in a scenario.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

SIPP = shutil.which("sipp") or "sipp"
SCENARIOS = Path(__file__).resolve().parent.parent / "interop" / "scenarios"

_runs = itertools.count(1)

# RFC 3261 7.3.3: the one-letter forms a peer may use for a header name.
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "k": "supported", "e": "content-encoding", "s": "subject", "o": "event",
            "r": "refer-to", "b": "referred-by", "u": "allow-events", "x": "session-expires"}


@dataclass(frozen=True)
class Logged:
    """One SIP message as SIPp logged it: what crossed the wire, read without our own parser."""

    sent: bool  # True: SIPp sent it; False: SIPp received it
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def status(self) -> int | None:
        """The status code of a response; None for a request."""
        parts = self.first_line.split(None, 2)
        if len(parts) >= 2 and parts[0].upper().startswith("SIP/") and parts[1].isdigit():
            return int(parts[1])
        return None

    @property
    def method(self) -> str:
        """A request's method; for a response, the method in its CSeq."""
        if self.status is None:
            return self.first_line.split(None, 1)[0].upper()
        cseq = self.header("CSeq") or ""
        return cseq.split()[-1].upper() if cseq.split() else ""

    @property
    def _head_and_body(self) -> tuple[list[str], str]:
        normalised = self.text.replace("\r\n", "\n")
        head, _, body = normalised.partition("\n\n")
        return head.split("\n")[1:], body

    def headers(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive, compact forms understood), in order.
        Comma-separated values on one line stay one value."""
        wanted = _COMPACT.get(name.lower(), name.lower())
        values: list[str] = []
        for line in self._head_and_body[0]:
            if line[:1] in (" ", "\t"):
                continue  # a folded continuation line: none of the peers we judge folds
            key, colon, value = line.partition(":")
            if not colon:
                continue
            key = key.strip().lower()
            if _COMPACT.get(key, key) == wanted:
                values.append(value.strip())
        return values

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return values[0] if values else None

    @property
    def body(self) -> str:
        return self._head_and_body[1]

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or ""


def parse_message_log(text: str) -> list[Logged]:
    """SIPp's -trace_msg file: entries separated by a line of dashes and a timestamp, each saying
    'UDP message sent (N bytes):' or 'UDP message received [N] bytes :', a blank line, the message."""
    messages = []
    for entry in re.split(r"^-{20,} .*$", text, flags=re.MULTILINE):
        entry = entry.strip("\r\n")
        if not entry:
            continue
        label, _, message = entry.partition("\n")
        sent = " message sent" in label
        if not sent and " message received" not in label:
            continue
        message = message.lstrip("\r\n")
        if message.strip():
            messages.append(Logged(sent, message))
    return messages


@dataclass
class SippRun:
    """What one SIPp run did: its exit code, the tail of its output, every message it logged."""

    returncode: int
    output: str
    messages: list[Logged] = field(default_factory=list)

    def received(self, *, status: int | None = None, method: str | None = None) -> list[Logged]:
        return [m for m in self.messages if not m.sent and (status is None or m.status == status)
                and (method is None or m.method == method.upper())]

    def sent(self, method: str | None = None) -> list[Logged]:
        return [m for m in self.messages if m.sent and m.status is None
                and (method is None or m.method == method.upper())]

    def final_responses(self, method: str = "INVITE") -> dict[str, Logged]:
        """Call-ID -> the first final (>= 200) response SIPp received to `method` in that call."""
        finals: dict[str, Logged] = {}
        for m in self.messages:
            if not m.sent and m.status is not None and m.status >= 200 and m.method == method.upper():
                finals.setdefault(m.call_id, m)
        return finals

    def explain(self) -> str:
        """For an assertion message: the first lines SIPp saw, then its own words."""
        ladder = "\n".join(f"  {'->' if m.sent else '<-'} {m.first_line}" for m in self.messages[:40])
        return f"SIPp exit {self.returncode}; messages:\n{ladder}\n{self.output}"


def scenario(name: str) -> str:
    path = SCENARIOS / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return str(path)


def injection_file(folder: Path, rows: list[list[str]], *, name: str = "fields.csv") -> Path:
    """An -inf file, owner-only (it may hold a VoIP token): one row per call, fields joined by ';'."""
    path = folder / name
    lines = ["SEQUENTIAL"] + [";".join(row) + ";" for row in rows]
    for row in rows:
        for value in row:
            if ";" in value or "\n" in value:
                raise ValueError(f"an injection field cannot hold ';' or a line break: {value[:40]!r}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    return path


class Sipp:
    """One SIPp process. `start()` it, `finish()` it (waits, then kills if it overstays); `kill()`
    is safe at any time. Every run gets -nostdin, -trace_msg, -trace_err, log files of its own
    and a receive timeout of `timeout_s`."""

    def __init__(self, cwd: Path, *args: str, timeout_s: float = 5.0) -> None:
        self.cwd = cwd
        self.tag = f"sipp{next(_runs)}"
        self.message_log = cwd / f"{self.tag}_messages.log"
        self.error_log = cwd / f"{self.tag}_errors.log"
        # -recv_timeout: a call waiting longer than this for a message fails (SIPp 3.6's global
        # -timeout was measured not to end a run whose INVITE gets no answer at all).
        self.args = [*args, "-nostdin", "-trace_msg", "-message_file", str(self.message_log),
                     "-trace_err", "-error_file", str(self.error_log), "-recv_timeout", str(int(timeout_s * 1000))]
        self.timeout_s = timeout_s
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Sipp:
        self.process = await asyncio.create_subprocess_exec(
            SIPP, *self.args, cwd=self.cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C in the terminal is pytest's, not SIPp's
        )
        return self

    async def finish(self, grace_s: float = 4.0) -> SippRun:
        """Wait for SIPp to end, kill it if it overstays (twice its receive timeout plus `grace_s`:
        a scenario may wait twice, e.g. for a 407 and for the final answer)."""
        assert self.process is not None
        try:
            out, _ = await asyncio.wait_for(self.process.communicate(), 2 * self.timeout_s + grace_s)
        except TimeoutError:
            await self.kill()
            out = b"(killed: SIPp overstayed its receive timeouts)"
        finally:
            if self.process.returncode is None:
                await self.kill()
        errors = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
        messages = parse_message_log(self.message_log.read_text(errors="replace")) if self.message_log.exists() else []
        # SIPp's error log says what went wrong; its screen (statistics) is noise, but when it
        # failed without an error log (e.g. it refused its arguments) its last words are all there is
        if errors.strip():
            output = f"errors:\n{errors[-2000:]}"
        else:
            output = out.decode(errors="replace")[-800:] if self.process.returncode else ""
        return SippRun(self.process.returncode, output, messages)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
            await self.process.wait()


async def run_sipp(cwd: Path, *args: str, timeout_s: float = 5.0) -> SippRun:
    """Run SIPp to its end; killed if the test is cancelled or SIPp overstays."""
    sipp = Sipp(cwd, *args, timeout_s=timeout_s)
    await sipp.start()
    try:
        return await sipp.finish()
    finally:
        await sipp.kill()
