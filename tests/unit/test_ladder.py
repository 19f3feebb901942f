"""sip.ladder: a call's ladder built as its messages arrive, its legs, its labels (pure)."""

from __future__ import annotations

import pytest

import sip.ladder
from sip.calls import CallBook, LabCall, apply_wire
from sip.ladder import Ladder, columns, labels, leg_state, render_text, rungs
from sip.replay import PLACED_FIELDS
from store.records import SipMessageRecord
from tests.support.replay import recorded, replay, scenario_account

ALL = ["inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok", "inbound_dtmf_hold",
       "inbound_unassigned", "inbound_failover"]


def only_call(book: CallBook) -> LabCall:
    (call,) = [c for c in book.calls.values() if not c.external]
    return call


def shape(ladder_rungs) -> list[tuple]:
    return [(r.at, r.src, r.dst, r.label, r.dropped, r.leg) for r in ladder_rungs]


@pytest.mark.parametrize("name", ALL)
def test_a_ladder_followed_event_by_event_is_the_ladder_built_at_once(name):
    """The screen syncs the shown call's ladder after every event; whatever the order the
    events came in, it ends up exactly as a ladder built from the finished call."""
    account = scenario_account(name)
    pbx, roaming = account.party("pbx"), account.party("pbx_roaming")
    book = CallBook(pbx_addresses=(f"{pbx.ip}:{pbx.port}", f"{roaming.ip}:{roaming.port}"))
    book.set_firewall(account.firewall_rules)
    followed: Ladder | None = None
    for record in recorded(name):
        event = record["event"]
        if record["source"] == "lab":
            if event.get("ev") == "placed":
                book.open(event["ref"], started_at=event["t"], **{k: event[k] for k in PLACED_FIELDS if k in event})
                followed = Ladder(book.calls[event["ref"]], columns(account))
            continue
        apply_wire(book, record["source"].split()[0], record["address"], event)
        if followed is None:  # the agents' words before the call (configured, ...)
            continue
        before = len(followed.rungs)
        first = followed.sync()
        assert first is None or first <= before  # what changed starts at a new or a moved rung
    call = only_call(book)
    assert followed.call is call
    assert shape(followed.rungs) == shape(rungs(call, columns(account)))
    assert len(followed.rungs) > 2


def test_sync_reads_only_what_is_new(monkeypatch):
    """A call of 10,000 messages gains one more: one message is labelled, not 10,001 (the
    cost of an event does not grow with the call)."""
    call = only_call(replay("inbound_ok"))
    for i in range(10_000):
        call.messages.append(SipMessageRecord(call.messages[-1].t + 0.001, "gateway", "tx", "127.0.0.2:5060",
                                              "127.0.0.10:5060", call.a_leg, "OPTIONS sip:pbx@127.0.0.10 SIP/2.0",
                                              "OPTIONS sip:pbx@127.0.0.10 SIP/2.0\r\n\r\n"))
    ladder = Ladder(call, columns(scenario_account("inbound_ok")))
    ladder.sync()
    count = len(ladder.rungs)
    labelled = []
    monkeypatch.setattr(sip.ladder, "labels", lambda message: labelled.append(message) or ("X", "X"))
    call.messages.append(SipMessageRecord(call.messages[-1].t + 0.001, "pbx", "tx", "127.0.0.10:5060",
                                          "127.0.0.2:5060", call.a_leg, "SIP/2.0 200 OK", "SIP/2.0 200 OK\r\n\r\n"))
    assert ladder.sync() == count  # appended at the end
    assert len(labelled) == 1 and len(ladder.rungs) == count + 1
    assert ladder.sync() is None  # nothing new: nothing read


def test_a_message_that_arrives_late_goes_where_it_happened():
    call = only_call(replay("inbound_ok"))
    late = call.messages[3]
    call.messages.remove(late)
    ladder = Ladder(call, columns(scenario_account("inbound_ok")))
    ladder.sync()
    call.messages.append(late)  # another agent's report, delivered after the rest
    first = ladder.sync()
    assert first is not None and first < len(ladder.rungs) - 1
    assert ladder.rungs[first].message is late
    assert [r.at for r in ladder.rungs] == sorted(r.at for r in ladder.rungs)


def test_a_merged_call_is_read_again():
    """The call book replaces a call's lists when it merges a provisional call into it."""
    call = only_call(replay("inbound_ok"))
    ladder = Ladder(call, columns(scenario_account("inbound_ok")))
    ladder.sync()
    whole = shape(ladder.rungs)
    call.messages = list(call.messages)  # what CallBook._merge does
    assert ladder.sync() == 0
    assert shape(ladder.rungs) == whole
    assert ladder.take_changes() == 0 and ladder.take_changes() is None


def test_legs_are_named_a_then_b_in_the_order_they_started():
    call = only_call(replay("inbound_failover"))
    ladder = Ladder(call, columns(scenario_account("inbound_failover")))
    ladder.sync()
    legs = ladder.ordered_legs()
    assert [name for name, _ in legs] == ["A", "B1", "B2"]
    a, b1, b2 = (leg for _, leg in legs)
    assert a.sip_call_id == call.a_leg and (a.code, leg_state(a, True)) == (200, "ended")
    assert b1.dst == "127.0.0.12:5060" and b1.code is None and leg_state(b1, True) == "no answer"
    assert b2.dst == "127.0.0.10:5060" and (b2.code, leg_state(b2, True)) == (200, "ended")
    assert ladder.columns[b1.dst_column].label == "127.0.0.12:5060"  # an address of no party: its own column
    assert ladder.rungs[ladder.first_rung_of(b2.sip_call_id)].label == "INVITE 12025550100"
    assert ladder.rungs[ladder.first_rung_of(b2.sip_call_id)].leg == b2.sip_call_id


def test_a_leg_the_firewall_dropped_says_so_and_each_dropped_datagram_is_one_rung():
    call = only_call(replay("inbound_firewall_drop"))
    ladder = Ladder(call, columns(scenario_account("inbound_firewall_drop")))
    ladder.sync()
    (_, a), (_, b) = ladder.ordered_legs()
    assert (a.code, leg_state(a, True)) == (408, "failed")
    assert b.dropped == 3 and leg_state(b, True) == "dropped"
    firewall = [c.label for c in ladder.columns].index("FIREWALL")
    invites = [r for r in ladder.rungs if r.leg == b.sip_call_id]
    assert invites and all(r.dropped and r.dst == firewall for r in invites)  # no arrow on to the PBX


def test_a_refusal_keeps_its_warning_header():
    call = only_call(replay("inbound_unassigned"))
    ladder = Ladder(call, columns(scenario_account("inbound_unassigned")))
    ladder.sync()
    ((sip_call_id, code, warning),) = ladder.warnings
    assert (sip_call_id, code) == (call.a_leg, 404)
    assert warning.startswith('399 127.0.0.2 "+12025550199 is not assigned to a trunk group')


def test_early_media_dtmf_and_hold_are_on_the_ladder():
    call = only_call(replay("inbound_dtmf_hold"))
    ladder = Ladder(call, columns(scenario_account("inbound_dtmf_hold")))
    ladder.sync()
    named = [(ladder.leg_name(r.leg), r.label) for r in ladder.rungs]
    assert ("B1", "183 Session Progress (SDP)") in named and ("A", "183 Session Progress (SDP)") in named
    assert ("A", "DTMF 12#") in named  # the PSTN sent three digits at once
    assert [label for leg, label in named if leg == "B1" and label.startswith("DTMF")] == ["DTMF 1", "DTMF 2", "DTMF #"]
    assert [label for leg, label in named if "INVITE" in label and leg == "A"] == [
        "INVITE 12025550100", "re-INVITE (hold)", "re-INVITE"]
    assert all(r.dtmf for r in ladder.rungs if r.label.startswith("DTMF"))
    assert ladder.legs[call.a_leg].early_media


@pytest.mark.parametrize(("first_line", "extra", "body", "expected"), [
    ("SIP/2.0 183 Session Progress", "Content-Type: application/sdp", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
     ("183 Session Progress (SDP)", "183 SDP")),
    ("SIP/2.0 180 Ringing", "", "", ("180 Ringing", "180")),
    ("INVITE sip:12025550100@127.0.0.2 SIP/2.0", "Content-Type: application/sdp", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n",
     ("INVITE 12025550100", "INVITE")),  # no To tag: a new call
    ("INVITE sip:pbx@127.0.0.10 SIP/2.0", "To: <sip:pbx@127.0.0.10>;tag=abc\r\nContent-Type: application/sdp",
     "v=0\r\nc=IN IP4 127.0.0.2\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", ("re-INVITE (hold)", "reINV hold")),
    ("INVITE sip:pbx@127.0.0.10 SIP/2.0", "t: <sip:pbx@127.0.0.10> ; tag=abc\r\nc: application/sdp",
     "v=0\r\nc=IN IP4 127.0.0.2\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n", ("re-INVITE", "reINVITE")),
    ("BYE sip:pbx@127.0.0.10 SIP/2.0", "", "", ("BYE pbx", "BYE")),
    ("DTMF 12#", "", "", ("DTMF 12#", "DTMF 12#")),
    ("garbage", "", "", ("garbage", "garbage")),
])
def test_labels(first_line, extra, body, expected):
    text = first_line + "\r\n" + (extra + "\r\n" if extra else "") + "\r\n" + body
    message = SipMessageRecord(0.0, "pbx", "tx", "a", "b", "x", first_line, text)
    assert labels(message) == expected


def test_the_command_line_ladder_names_the_new_marks():
    lines = render_text(only_call(replay("inbound_dtmf_hold")), scenario_account("inbound_dtmf_hold"))
    assert any("~> GW 127.0.0.2" in line and "DTMF 12#" in line for line in lines)
    assert any("re-INVITE (hold)" in line for line in lines)
