"""sip.pjlog: SIP messages out of pjsua log entries."""

from __future__ import annotations

import pytest

from sip.pjlog import parse_log_entry
from sip.sipmsg import parse_message

INVITE = (
    "INVITE sip:12025550100@127.0.0.10:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.2:5060;rport;branch=z9hG4bKPj1\r\n"
    "From: <sip:pstn@127.0.0.2>;tag=a\r\nTo: <sip:12025550100@127.0.0.10>\r\n"
    "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length:  0\r\n\r\n"
)


@pytest.mark.parametrize("prefix", ["", "03:30:55.739           pjsua_core.c  ....", "pjsua_core.c  .."])
def test_tx_entry(prefix):
    entry = f"{prefix}TX 891 bytes Request msg INVITE/cseq=1 (tdta0x55bc) to UDP 127.0.0.10:5060:\n{INVITE}--end msg--"
    wire = parse_log_entry(entry)
    assert (wire.direction, wire.transport, wire.remote_ip, wire.remote_port) == ("tx", "UDP", "127.0.0.10", 5060)
    assert parse_message(wire.text).call_id == "c1"
    assert wire.text.endswith("\r\n\r\n")


def test_rx_entry_with_lf_only_lines():
    text = INVITE.replace("\r\n", "\n")
    entry = f"RX 423 bytes Request msg INVITE/cseq=1 (rdata0x55) from UDP 127.0.0.20:5062:\n{text}--end msg--\n"
    wire = parse_log_entry(entry)
    assert (wire.direction, wire.remote_ip, wire.remote_port) == ("rx", "127.0.0.20", 5062)
    assert "\r\nCall-ID: c1\r\n" in wire.text


def test_response_entry():
    entry = ("TX 300 bytes Response msg 407/INVITE/cseq=1 (tdta0x1) to UDP 127.0.0.11:5060:\n"
             "SIP/2.0 407 Proxy Authentication Required\r\nVia: SIP/2.0/UDP 127.0.0.11\r\n"
             "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n--end msg--")
    wire = parse_log_entry(entry)
    assert parse_message(wire.text).status_code == 407


@pytest.mark.parametrize("entry", [
    "", "just a line", "pjsua_core.c  .PJSUA state changed: NULL --> CREATED",
    "Incoming Request msg INVITE/cseq=10127 (rdata0x55bcb49673f8)\nmore",
    "TX 12 bytes Request msg X to nowhere:\nbody--end msg--",
    "TX 12 bytes Request msg X to UDP 127.0.0.1:port:\nbody--end msg--",
])
def test_other_entries_are_ignored(entry):
    assert parse_log_entry(entry) is None
