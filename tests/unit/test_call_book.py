"""sip.calls, sip.ladder and sip.checklist over events recorded from real agents."""

from __future__ import annotations

import pytest

from sip.calls import local_address
from sip.checklist import diagnose, evaluate
from sip.ladder import columns, render_text, rungs, short_label
from tests.support.replay import recorded, replay, scenario_account

SCENARIOS = ["inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok"]


def only_call(book):
    calls = [c for c in book.calls.values() if not c.external]
    assert len(calls) == 1, [c.ref for c in book.calls.values()]
    assert not [c for c in book.calls.values() if c.external], "every Call-ID was tied to the lab call"
    return calls[0]


def test_inbound_call_is_one_call_across_both_legs():
    call = only_call(replay("inbound_ok"))
    assert (call.state, call.final_code, call.direction, call.gateway) == ("ended", 200, "inbound", "127.0.0.2:5060")
    assert len(call.sip_call_ids) == 2  # PSTN->gateway and gateway->PBX
    assert call.heard == {"pstn": True, "pbx": True}
    assert call.setup_ms and call.duration_s and call.duration_s > 1.0
    agents = {m.agent for m in call.messages}
    assert agents == {"pstn", "gateway", "pbx"}


def test_ladder_of_an_inbound_call():
    account = scenario_account("inbound_ok")
    cols = columns(account)
    assert [c.label for c in cols] == ["PSTN", "GW 127.0.0.2", "GW 127.0.0.3", "FIREWALL", "PBX"]
    ladder = rungs(only_call(replay("inbound_ok")), cols)
    assert [(r.src, r.dst, r.label) for r in ladder[:3]] == [
        (0, 1, "INVITE 12025550100"), (1, 0, "100 Trying"), (1, 4, "INVITE 12025550100")]
    assert all(a.at <= b.at for a, b in zip(ladder, ladder[1:]))  # in time order
    assert not any(r.dropped for r in ladder)
    # each datagram once: as many rungs as transmissions
    call = only_call(replay("inbound_ok"))
    assert len(ladder) == len([m for m in call.messages if m.event == "tx"])


def test_wrong_token_call_with_cause_and_fix():
    call = only_call(replay("outbound_wrong_token"))
    assert (call.state, call.final_code, call.requested_auth) == ("failed", 401, "proxy")
    labels = [r.label for r in rungs(call, columns(scenario_account("outbound_wrong_token")))]
    assert "407 Proxy Authentication Required" in labels and "401 Unauthorized" in labels
    finding = diagnose(call, scenario_account("outbound_wrong_token"))
    assert "digest response is wrong" in finding.cause and "VoIP token" in finding.fix


def test_firewall_drop_is_drawn_as_a_drop_with_its_fix():
    call = only_call(replay("inbound_firewall_drop"))
    assert (call.state, call.final_code) == ("failed", 408)
    ladder = rungs(call, columns(scenario_account("inbound_firewall_drop")))
    dropped = [r for r in ladder if r.dropped]
    assert dropped and all(r.src == 2 and r.dst == 3 for r in dropped)  # GW .3 -x FIREWALL
    assert len(dropped) >= 2  # the INVITE and its retransmissions
    finding = diagnose(call, scenario_account("inbound_firewall_drop"))
    assert finding.fix == "allow 127.0.0.3 in the PBX firewall (Firewall -> add 127.0.0.3/32)"
    text = render_text(call, scenario_account("inbound_firewall_drop"))
    assert any("-x FIREWALL" in line and "dropped by the PBX firewall" in line for line in text)


def test_header_auth_call():
    call = only_call(replay("outbound_header_ok"))
    assert (call.final_code, call.auth_method, call.heard) == (200, "header", {"pstn": True, "pbx": True})
    invite = next(m for m in call.messages if m.agent == "pbx" and m.event == "tx")
    assert invite.src == "127.0.0.11:5060"  # the roaming address, seen through the Via
    assert "X-Auth-VoipToken: 70000000-" in invite.text


@pytest.mark.parametrize("name", SCENARIOS)
def test_correlation_does_not_depend_on_arrival_order_across_agents(name):
    records = recorded(name)
    lab_first = [r for r in records if r["source"] == "lab"]
    by_agent = [r for r in records if r["source"] != "lab"]
    # Deliver agent by agent (each agent's own order kept): as far from real time as it gets.
    reordered = lab_first + sorted(by_agent, key=lambda r: r["source"])
    normal, shuffled = only_call(replay(name)), only_call(replay(name, reordered))
    assert (shuffled.state, shuffled.final_code, shuffled.heard) == (normal.state, normal.final_code, normal.heard)
    assert sorted(m.t for m in shuffled.messages) == sorted(m.t for m in normal.messages)


def test_checklist_from_recorded_calls():
    account = scenario_account("inbound_ok")
    calls = [only_call(replay(n)) for n in ("inbound_ok", "outbound_header_ok")]
    items = evaluate(calls, account)
    assert [i.status for i in items] == ["pass", "pass", "pass", "pass"]
    failing = evaluate([only_call(replay("outbound_wrong_token"))], account)
    assert [i.status for i in failing] == ["unknown", "fail", "fail", "unknown"]
    assert "VoIP token" in failing[2].fix
    nothing = evaluate([], account)
    assert all(i.status == "unknown" for i in nothing)


@pytest.mark.parametrize(("text", "direction", "expected"), [
    ("INVITE sip:1@127.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.11:5060;branch=z\r\nFrom: <sip:a@b>;tag=1\r\n"
     "To: <sip:1@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "tx", "127.0.0.11:5060"),
    ("INVITE sip:1@127.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.11:5060;branch=z\r\nFrom: <sip:a@b>;tag=1\r\n"
     "To: <sip:1@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "rx", "127.0.0.2:5060"),
    ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.11:5060;branch=z\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@c>;tag=2\r\n"
     "Call-ID: x\r\nCSeq: 1 INVITE\r\nContact: <sip:gw@127.0.0.2:5060>\r\n\r\n", "tx", "127.0.0.2:5060"),
    ("SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 127.0.0.11;branch=z\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@c>\r\n"
     "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "rx", "127.0.0.11:5060"),
    ("SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 127.0.0.11;branch=z\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@c>\r\n"
     "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "tx", "fallback"),  # no Contact in a 100: the book looks further
    ("garbage", "tx", "fallback"),
])
def test_local_address(text, direction, expected):
    assert local_address(text, direction, "fallback") == expected


@pytest.mark.parametrize(("line", "label"), [
    ("INVITE sip:12025550100@127.0.0.2:5060 SIP/2.0", "INVITE 12025550100"),
    ("SIP/2.0 407 Proxy Authentication Required", "407 Proxy Authentication Required"),
    ("ACK sip:127.0.0.2 SIP/2.0", "ACK 127.0.0.2"),
    ("weird", "weird"),
])
def test_short_label(line, label):
    assert short_label(line) == label


def test_a_response_without_contact_leaves_from_where_its_request_arrived():
    call = only_call(replay("outbound_header_ok"))
    trying = next(m for m in call.messages if m.agent == "gateway" and m.event == "tx" and m.first_line.endswith("100 Trying"))
    invite = next(m for m in call.messages if m.agent == "gateway" and m.event == "rx" and m.first_line.startswith("INVITE"))
    assert trying.src == invite.dst == "127.0.0.3:5060"


def test_firewall_rules_count_what_they_let_through():
    book = replay("inbound_ok")
    call = only_call(book)
    sip_to_pbx = len([m for m in call.messages if m.agent == "pbx" and m.event == "rx"])
    rtp_to_pbx = next(leg.rx.pkt for (agent, _), leg in call.legs.items() if agent == "pbx")
    # the call came through 127.0.0.2: rule 1 let the SIP and the RTP in, rule 2 nothing
    first, second = scenario_account("inbound_ok").firewall_rules
    assert (book.hits(first), book.hits(second)) == (sip_to_pbx + rtp_to_pbx, 0)
    assert sip_to_pbx == 3 and rtp_to_pbx > 40  # INVITE, ACK, BYE


def test_a_final_407_is_an_authentication_failure_with_a_fix():
    from sip.calls import LabCall
    from sip.wire import GatewayDecision

    call = LabCall("c1", direction="outbound", requested_auth="ip", state="failed", final_code=407,
                   final_reason="Proxy Authentication Required", started_at=1.0,
                   decisions=[GatewayDecision(1.0, "a", "source 127.0.0.10:5070 is no endpoint address", status=407)])
    items = evaluate([call], scenario_account("inbound_ok"))
    assert [i.status for i in items] == ["unknown", "fail", "fail", "unknown"]
    assert "endpoint address" in items[2].fix


def test_the_pbx_column_holds_the_port_its_invites_leave_from():
    from dataclasses import replace

    from sip.ladder import columns
    from store.records import PbxTrunk
    from tests.support.accounts import PBX_SID, PBX_TOKEN, default_account

    account = replace(default_account(), pbx_trunk=PbxTrunk(PBX_SID, PBX_TOKEN, source_port=5080))
    pbx_column = next(c for c in columns(account) if c.label == "PBX")
    assert pbx_column.addresses == {"127.0.0.10:5060", "127.0.0.11:5060", "127.0.0.10:5080"}


def test_calls_from_outside_peers_are_kept_to_the_newest_thousand():
    """A flood opens one call per Call-ID: the book keeps the newest MAX_EXTERNAL of them."""
    from sip.calls import MAX_EXTERNAL, CallBook, apply_wire

    book = CallBook()
    for n in range(MAX_EXTERNAL + 250):
        apply_wire(book, "gateway", "127.0.0.2:5060", {"ev": "decision", "t": float(n), "sip_call_id": f"flood-{n}",
                                                       "status": 407, "direction": "outbound", "cause": "challenged"})
    assert len(book.calls) == MAX_EXTERNAL
    kept = {c.a_leg for c in book.calls.values()}
    assert "flood-0" not in kept and f"flood-{MAX_EXTERNAL + 249}" in kept
    apply_wire(book, "gateway", "127.0.0.2:5060", {"ev": "decision", "t": 9e9, "sip_call_id": "flood-0", "status": 407})
    assert len(book.calls) == MAX_EXTERNAL  # a forgotten Call-ID seen again is a new call, the oldest goes


def test_rtp_to_the_pbx_from_a_source_no_rtp_rule_allows_is_a_drop():
    """The gateway relays RTP to the PBX from 127.0.0.2, which is allowed for SIP only."""
    from dataclasses import replace

    from sip.calls import RtpDrop

    account = scenario_account("inbound_ok")
    rules = tuple(replace(r, protocol="sip") if r.cidr == "127.0.0.2/32" else r for r in account.firewall_rules)
    book = replay("inbound_ok", firewall=rules)
    rtp = [d for d in book.recent_drops if isinstance(d, RtpDrop)]
    assert len(rtp) == 1, rtp  # one line per stream, its count growing
    (drop,) = rtp
    assert drop.src.startswith("127.0.0.2:") and drop.dst.startswith("127.0.0.10:")
    gateway_to_pbx = next(f for (agent, _), f in only_call(book).legs.items()
                          if agent == "gateway" and f.remote_rtp.startswith("127.0.0.10:"))
    assert drop.packets == gateway_to_pbx.tx.pkt > 40
    assert "no rule allows 127.0.0.2" in drop.note
    assert not [d for d in book.recent_drops if not isinstance(d, RtpDrop)]  # the SIP went through


def test_a_rule_that_is_gone_takes_its_count_with_it():
    """SQLite gives a new rule the id of a deleted last one: the count must not move over."""
    from dataclasses import replace

    book = replay("inbound_ok")
    first, second = scenario_account("inbound_ok").firewall_rules
    assert book.hits(first) > 0
    book.set_firewall((second,))
    newcomer = replace(first, cidr="127.0.0.11/32", note="same id, another rule")
    book.set_firewall((second, newcomer))
    assert book.hits(newcomer) == 0
    book.set_firewall((second, first))  # the deleted rule itself, back: it starts from zero too
    assert book.hits(first) == 0


def test_a_practice_call_or_a_stored_one_never_counts_in_the_checklist():
    account = scenario_account("inbound_ok")
    practice = only_call(replay("outbound_wrong_token"))
    practice.practice = True  # placed with a token typed for this one call
    assert all(i.status == "unknown" for i in evaluate([practice], account))
    stored = only_call(replay("outbound_wrong_token"))
    stored.stored = True
    assert all(i.status == "unknown" for i in evaluate([stored], account))


def test_a_cdr_read_back_is_the_call_again():
    from sip.calls import call_from_record, call_record

    call = only_call(replay("inbound_firewall_drop"))
    again = call_from_record(call_record(call))
    assert again.stored and again.finished and not again.external
    assert (again.direction, again.final_code, again.to_number, again.gateway) == (
        call.direction, call.final_code, call.to_number, call.gateway)
    assert again.messages == call.messages and again.drops()[0].note == call.drops()[0].note
    account = scenario_account("inbound_firewall_drop")
    assert render_text(again, account) == render_text(call, account)
    answered = call_from_record(call_record(only_call(replay("inbound_ok"))))
    assert answered.state == "ended" and answered.heard == {"pstn": True, "pbx": True}
    assert {k: (f.codec, f.rx.pkt) for k, f in answered.legs.items()} == {
        k: (f.codec, f.rx.pkt) for k, f in only_call(replay("inbound_ok")).legs.items()}
