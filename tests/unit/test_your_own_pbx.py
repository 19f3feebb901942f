"""Your own PBX instead of the lab's, in the pure core: audio both ways judged by RTP energy
(sip/audio.py, through the call book), the checklist's words for a PBX of yours and for an
account that lacks pieces (sip/checklist.py), and the ladder's column for it (sip/ladder.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sip.audio import LEVEL_FLOOR, MIN_PACKETS, LegEnergy, judge, observe
from sip.calls import CallBook, LabCall, apply_wire
from sip.checklist import evaluate, firewall_note, missing
from sip.ladder import columns, rungs
from sip.wire import MediaFigures, parse_report
from store.records import Account, PbxTrunk
from tests.support.accounts import PBX_SID, PBX_TOKEN, default_account

PSTN_IP = "127.0.0.20"


def figures(remote: str, rx: int, tx: int, level_rx: int, level_tx: int) -> dict:
    return {"remote_rtp": remote, "rx": {"pkt": rx}, "tx": {"pkt": tx}, "level_rx": level_rx, "level_tx": level_tx}


def typed(**fields) -> MediaFigures:
    report = parse_report({"ev": "media", "t": 1.0, "sip_call_id": "B", **figures(**fields)})
    assert isinstance(report, MediaFigures)
    return report


def reports(book: CallBook, agent: str, call_id: str, remote: str, count: int, *, heard: int, sent: int,
            rx_per: int = 25, tx_per: int = 25) -> None:
    for n in range(1, count + 1):
        apply_wire(book, agent, "", {"ev": "media", "t": float(n), "sip_call_id": call_id,
                                     **figures(remote, rx_per * n, tx_per * n, heard, sent)})


def book_for_your_pbx() -> CallBook:
    book = CallBook()
    book.outside_pbx, book.pstn_ip = True, PSTN_IP
    apply_wire(book, "gateway", "", {"ev": "bridge", "t": 0.0, "a": "A", "b": "B"})
    return book


# ------------------------------------------------------------------ the judge

def test_a_report_counts_as_loud_from_the_floor_up():
    energy = observe(None, typed(remote="127.0.0.12:6010", rx=1, tx=1, level_rx=LEVEL_FLOOR, level_tx=LEVEL_FLOOR - 1))
    energy = observe(energy, typed(remote="127.0.0.12:6010", rx=1, tx=1, level_rx=0, level_tx=0))
    assert energy == LegEnergy(reports=2, loud_rx=1, loud_tx=0)


def test_an_echoing_pbx_is_heard_both_ways():
    book = book_for_your_pbx()
    reports(book, "pstn", "A", "127.0.0.2:4000", 4, heard=37, sent=37)
    reports(book, "gateway", "A", f"{PSTN_IP}:4000", 4, heard=37, sent=37)
    reports(book, "gateway", "B", "127.0.0.12:6010", 4, heard=37, sent=37)
    (call,) = book.calls.values()
    assert call.heard == {"pstn": True, "pbx": True}
    assert call.audio_evidence["pstn"] == "gateway got from your PBX 100 pkt (4 loud), PSTN got 100 pkt (4 loud)"


def test_a_pbx_that_sends_nothing_is_not_heard():
    book = book_for_your_pbx()
    reports(book, "pstn", "A", "127.0.0.2:4000", 4, heard=0, sent=37)
    reports(book, "gateway", "B", "127.0.0.12:6010", 4, heard=0, sent=37, rx_per=0)
    (call,) = book.calls.values()
    assert call.heard == {"pstn": False, "pbx": True}
    assert "too little from gateway got from your PBX" in call.audio_evidence["pstn"]


def test_silent_packets_are_not_audio():
    """RTP flows (a PBX sending silence, or comfort noise below the floor): packets are not enough."""
    book = book_for_your_pbx()
    reports(book, "pstn", "A", "127.0.0.2:4000", 4, heard=3, sent=37)
    reports(book, "gateway", "B", "127.0.0.12:6010", 4, heard=3, sent=37)
    (call,) = book.calls.values()
    assert call.heard["pstn"] is False and "(0 loud)" in call.audio_evidence["pstn"]


def test_one_loud_report_is_a_click_not_audio():
    legs = {("gateway", "B"): typed(remote="127.0.0.12:6010", rx=100, tx=100, level_rx=37, level_tx=37),
            ("pstn", "A"): typed(remote="127.0.0.2:4000", rx=100, tx=100, level_rx=37, level_tx=37)}
    energy = {("gateway", "B"): LegEnergy(4, 1, 4), ("pstn", "A"): LegEnergy(4, 4, 4)}
    assert judge(legs, energy, PSTN_IP)["pstn"].heard is False
    assert judge(legs, energy, PSTN_IP)["pbx"].heard is True


def test_too_few_packets_is_not_audio():
    legs = {("gateway", "B"): typed(remote="127.0.0.12:6010", rx=MIN_PACKETS - 1, tx=100, level_rx=37, level_tx=37),
            ("pstn", "A"): typed(remote="127.0.0.2:4000", rx=100, tx=100, level_rx=37, level_tx=37)}
    energy = {key: LegEnergy(4, 4, 4) for key in legs}
    assert judge(legs, energy, PSTN_IP)["pstn"].heard is False


def test_no_figures_yet_is_said():
    verdict = judge({("pstn", "A"): typed(remote="127.0.0.2:4000", rx=100, tx=100, level_rx=37, level_tx=37)}, {},
                    PSTN_IP)
    assert verdict["pstn"] == verdict["pbx"] and "no RTP figures yet from the gateway's leg to your PBX" in \
        verdict["pbx"].evidence


def test_with_the_built_in_pbx_the_tone_still_decides():
    book = CallBook()
    apply_wire(book, "pstn", "", {"ev": "media", "t": 1.0, "sip_call_id": "A",
                                  **figures("127.0.0.2:4000", 100, 100, 37, 37), "tone": {"present": False}})
    (call,) = book.calls.values()
    assert call.heard == {"pstn": False} and call.audio_evidence == {}


# ------------------------------------------------------------------ the checklist

def answered(ref: str, direction: str, **fields) -> LabCall:
    call = LabCall(ref, direction=direction, state="ended", final_code=200, answered_at=1.0, ended_at=2.0,
                   started_at=float(len(ref)), **fields)
    return call


def yours() -> Account:
    return replace(default_account(), builtin_pbx=False)


def test_outbound_calls_from_your_pbx_count_and_inbound_probes_too():
    heard = {"pstn": True, "pbx": True}
    calls = [answered("c1", "inbound", gateway="127.0.0.2:5060", heard=heard),
             answered("c2", "inbound", gateway="127.0.0.3:5060", heard=heard),
             answered("x1", "outbound", auth_method="ip", external=True, heard=heard)]
    items = evaluate(calls, yours())
    assert [i.status for i in items] == ["pass"] * 4
    assert [i.status for i in evaluate(calls, default_account())][1] == "unknown"  # the lab's own PBX: not yours


def test_without_a_call_from_your_pbx_the_checklist_says_what_to_dial():
    items = evaluate([answered("c1", "inbound", gateway="127.0.0.2:5060")], yours())
    assert items[1].status == "unknown"
    assert items[1].detail == ("no outbound call from your PBX: dial +1 415 555 0123 from it, to 127.0.0.2 or "
                               "127.0.0.3 yet")


def test_an_unanswered_inbound_call_to_your_pbx_names_its_address_and_the_gateways():
    failed = LabCall("c1", direction="inbound", gateway="127.0.0.2:5060", state="failed", final_code=408,
                     final_reason="Request Timeout", started_at=1.0, ended_at=2.0)
    item = evaluate([failed], yours())[0]
    assert item.status == "fail"
    assert item.fix == ("check that your PBX listens on 127.0.0.10:5060 and that its firewall allows SIP and RTP "
                        "from 127.0.0.2, 127.0.0.3")


def test_no_audio_from_your_pbx_says_what_was_measured():
    call = answered("c1", "inbound", gateway="127.0.0.2:5060", heard={"pstn": False, "pbx": True},
                    audio_evidence={"pstn": "gateway got from your PBX 0 pkt (0 loud): too little"})
    item = evaluate([call], yours())[3]
    assert item.status == "fail" and "no audio your PBX -> PSTN (gateway got from your PBX 0 pkt" in item.cause


def test_the_firewall_is_yours_to_configure():
    assert firewall_note(default_account()) is None
    assert firewall_note(yours()) == ("Your PBX's firewall is yours to configure: allow SIP (UDP, to the port your "
                                      "PBX listens on) and RTP from the System Gateway addresses 127.0.0.2, 127.0.0.3.")


def blank() -> Account:
    account = default_account()
    return replace(account, endpoints=(account.system_gateway,), trunk_groups=(),
                   dids=tuple(replace(d, trunk_group_sid=None) for d in account.dids), firewall_rules=(),
                   pbx_trunk=PbxTrunk("", ""))


def test_a_blank_account_fails_every_item_saying_what_is_missing():
    items = evaluate([], blank())
    assert [i.status for i in items] == ["fail"] * 4
    assert {i.cause for i in items} == {"there is no third-party endpoint for your PBX yet"}
    assert items[0].fix.startswith("Endpoints -> Add New Endpoint")


@pytest.mark.parametrize(("change", "index", "words"), [
    (lambda a: replace(a, trunk_groups=()), 0, "no trunk group has a trunk to 'Acme PBX'"),
    (lambda a: replace(a, dids=tuple(replace(d, trunk_group_sid=None) for d in a.dids)), 0,
     "no phone number is assigned to 'Acme trunk group'"),
    (lambda a: replace(a, pbx_trunk=PbxTrunk("", "")), 2, "the PBX's trunk settings are empty"),
])
def test_one_missing_piece_is_named(change, index, words):
    found = missing(change(default_account()))
    assert list(found) == [index] or index in found
    assert words in found[index].cause


def test_a_complete_account_lacks_nothing():
    assert missing(default_account()) == {}
    assert missing(replace(default_account(), pbx_trunk=PbxTrunk(PBX_SID, PBX_TOKEN))) == {}


# ------------------------------------------------------------------ the ladder

def test_your_pbx_is_a_column_of_its_own_and_no_lab_firewall_stands_before_it():
    cols = columns(yours())
    assert [c.label for c in cols] == ["PSTN", "GW 127.0.0.2", "GW 127.0.0.3", "YOUR PBX"]
    book = CallBook()
    for t, (direction, remote, line) in enumerate([
            ("tx", "127.0.0.10:5060", "INVITE sip:12025550100@127.0.0.10:5060 SIP/2.0"),
            ("rx", "127.0.0.10:5060", "SIP/2.0 180 Ringing"),
            ("rx", "127.0.0.99:5090", "BYE sip:gw@127.0.0.2:5060 SIP/2.0")]):  # it may send from anywhere
        text = (f"{line}\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK{t}\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\n"
                f"To: <sip:12025550100@127.0.0.10>\r\nCall-ID: B\r\n"
                f"CSeq: {t + 1} {'INVITE' if t < 2 else 'BYE'}\r\nContent-Length: 0\r\n\r\n")
        apply_wire(book, "gateway", "127.0.0.2:5060", {"ev": "sip", "t": float(t), "dir": direction, "remote": remote,
                                                       "local": "127.0.0.2:5060", "text": text})
    (call,) = book.calls.values()
    assert [(cols[r.src].label, cols[r.dst].label, r.label) for r in rungs(call, cols)] == [
        ("GW 127.0.0.2", "YOUR PBX", "INVITE 12025550100"),
        ("YOUR PBX", "GW 127.0.0.2", "180 Ringing"),
        ("YOUR PBX", "GW 127.0.0.2", "BYE gw")]
