"""A call cut short by an agent that died (pure: sip.calls, sip.checklist, sip.exercise), on
events recorded from real agents: which legs each surviving agent holds, and a call that
failed however well it went before."""

from __future__ import annotations

import pytest

from sip.calls import CallBook, apply_wire
from sip.checklist import evaluate
from sip.exercise import call_title
from tests.support.replay import recorded, replay, scenario_account

GATEWAY, PSTN, PBX = "127.0.0.2:5060", "127.0.0.20:5060", "127.0.0.10:5060"


def halves(name: str) -> tuple[list[dict], list[dict]]:
    """The recording up to the caller's hang-up (the call answered, audio flowing), and the rest."""
    records = recorded(name)
    end = next(i for i, r in enumerate(records)
               if r["event"].get("ev") == "call" and r["event"].get("ref") and r["event"]["state"] == "disconnected")
    return records[:end], records[end:]


def answered_call(name: str = "inbound_ok") -> tuple[CallBook, list[dict]]:
    before, after = halves(name)
    book = replay(name, before)
    (call,) = [c for c in book.calls.values() if not c.external]
    assert call.state == "answered" and call.heard == {"pstn": True, "pbx": True}
    return book, after


def test_each_agent_is_known_with_the_legs_it_holds():
    book, _ = answered_call()
    (call,) = book.calls.values()
    a_leg, b_leg = call.a_leg, next(iter(call.sip_call_ids - {call.a_leg}))
    assert call.seen_by == {PSTN: {a_leg}, GATEWAY: {a_leg, b_leg}, PBX: {b_leg}}
    assert call.legs_elsewhere(GATEWAY) == {PSTN: {a_leg}, PBX: {b_leg}}
    assert call.legs_elsewhere(PSTN) == {GATEWAY: {a_leg, b_leg}, PBX: {b_leg}}


def test_a_call_whose_gateway_died_fails_and_stays_failed_as_its_legs_end():
    book, after = answered_call()
    (cut,) = book.cut_short(GATEWAY, "the System Gateway 127.0.0.2", "killed by SIGKILL", t=2e9)
    reason = "the System Gateway 127.0.0.2 stopped during the call (killed by SIGKILL)"
    assert (cut.state, cut.final_code, cut.final_reason, cut.ended_at, cut.cut_by) == ("failed", 503, reason, 2e9, GATEWAY)
    assert cut.answered_at is not None and not cut.answered
    for record in after:  # the survivors' legs end: the caller's "disconnected" changes nothing
        apply_wire(book, record["source"].split()[0], record["address"], record["event"])
    assert (cut.state, cut.final_code, cut.final_reason) == ("failed", 503, reason)
    assert book.cut_short(GATEWAY, "the System Gateway 127.0.0.2", "killed by SIGKILL", t=2e9 + 1) == []


@pytest.mark.parametrize("dead", ["127.0.0.3:5060", "127.0.0.99:5060"])
def test_an_agent_that_took_no_part_cuts_nothing(dead: str):
    book, _ = answered_call()
    assert book.cut_short(dead, "somebody", "killed by SIGKILL", t=2e9) == []
    assert next(iter(book.calls.values())).state == "answered"


def test_a_call_not_answered_yet_says_so():
    records = recorded("inbound_ok")
    placed = [{**records[0], "event": {**records[0]["event"], "caller_agent": PSTN}}]
    book = replay("inbound_ok", placed)  # the lab asked the PSTN to dial; nothing reported yet
    (cut,) = book.cut_short(PSTN, "the PSTN", "aborted (pjsua assertion)", t=2e9)
    assert cut.final_reason == "the PSTN stopped before the call was answered (aborted (pjsua assertion))"
    assert cut.legs_elsewhere(PSTN) == {}


def test_the_checklist_counts_a_cut_call_neither_answered_nor_with_audio():
    account = scenario_account("inbound_ok")
    whole = [c for c in replay("inbound_ok").calls.values() if not c.external]  # the same call, ended well
    assert [evaluate(whole, account)[i].status for i in (0, 3)] == ["pass", "pass"]
    book, _ = answered_call()
    (cut,) = book.cut_short(GATEWAY, "the System Gateway 127.0.0.2", "killed by SIGKILL", t=2e9)
    inbound, _, _, audio = evaluate([cut], account)
    assert inbound.status == "fail" and inbound.cause == cut.final_reason
    assert "run the check again" in inbound.fix
    assert audio.status == "unknown"
    assert call_title(cut).endswith(f": 503 {cut.final_reason}")


def test_a_stored_cdr_says_what_the_live_call_said():
    from dataclasses import replace

    from sip.calls import call_from_record, call_record

    book, _ = answered_call()
    (cut,) = book.cut_short(GATEWAY, "the System Gateway 127.0.0.2", "killed by SIGKILL", t=2e9)
    again = call_from_record(replace(call_record(cut), call_id=7))
    assert (again.state, again.final_code, again.final_reason, again.answered) == ("failed", 503, cut.final_reason, False)
    assert again.answered_at is not None  # it was answered before it was cut
    book, _ = answered_call()
    running = replace(call_record(next(iter(book.calls.values()))), call_id=8, owner_pid=4242)
    assert running.state == "in_progress"
    shown = call_from_record(running)
    assert not shown.answered and shown.final_reason == "in progress in another trunklab (process 4242)"
    interrupted = call_from_record(replace(running, state="interrupted", final_code=None,
                                           final_reason="trunklab (process 4242) stopped during the call"))
    assert (interrupted.state, interrupted.final_reason) == ("failed", "trunklab (process 4242) stopped during the call")
