"""Reading SIP messages out of pjsua's log (pure).

At log level 4 pjsua prints every SIP message it sends or receives, whole:

    TX 891 bytes Request msg INVITE/cseq=18386 (tdta0x55..) to UDP 127.0.0.10:5060:
    INVITE sip:b@127.0.0.10:5060 SIP/2.0
    ...
    --end msg--

That is the only place pjsua2's Python API shows the exact bytes on the wire, so the agents'
capture is built on it. A line may carry a time/sender prefix depending on log decoration.
"""

from __future__ import annotations

from dataclasses import dataclass

END_MARK = "--end msg--"


@dataclass(frozen=True)
class WireMessage:
    direction: str  # 'tx' or 'rx'
    transport: str  # 'UDP'
    remote_ip: str
    remote_port: int
    text: str  # the SIP message, CRLF line endings as on the wire


def _announces(head: str, key: str) -> bool:
    """True when head contains 'TX <digits> bytes' (or RX), wherever the log prefix ends."""
    at = head.find(key)
    while at >= 0:
        words = head[at + len(key):].split(" ", 2)
        if len(words) >= 2 and words[0].isdigit() and words[1] == "bytes":
            return True
        at = head.find(key, at + 1)
    return False


def parse_log_entry(entry: str) -> WireMessage | None:
    """The SIP message in a pjsua log entry, or None when the entry is about something else."""
    head, newline, rest = entry.partition("\n")
    if not newline:
        return None
    for key, direction, preposition in (("TX ", "tx", " to "), ("RX ", "rx", " from ")):
        if _announces(head, key):
            break
    else:
        return None
    _, found, where = head.rpartition(preposition)
    if not found:
        return None
    parts = where.rstrip().rstrip(":").split()
    if len(parts) != 2:
        return None
    transport, hostport = parts
    host, colon, port = hostport.rpartition(":")
    if not colon or not port.isdigit():
        return None
    body, _, _ = rest.partition(END_MARK)
    # The log adds a newline before the end mark and may have lost the CRs: rebuild the wire
    # form, CRLF everywhere, ending with the blank line (no body) or the body's last CRLF.
    text = body.replace("\r\n", "\n").rstrip("\n")
    text += "\n" if "\n\n" in text else "\n\n"
    text = text.replace("\n", "\r\n")
    return WireMessage(direction, transport, host.strip("[]"), int(port), text)
