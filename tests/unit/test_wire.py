"""sip.wire: an agent's JSON events parsed once into typed reports; nonsense is said, never raised."""

from __future__ import annotations

import pytest

from sip.wire import (
    AnsweringSet,
    AgentProblem,
    CallerSeen,
    CallState,
    Configured,
    DtmfDigits,
    GatewayDecision,
    HoldChanged,
    MediaFigures,
    ProcessState,
    SipSeen,
    parse_report,
)
from tests.support.replay import recorded


@pytest.mark.parametrize("name", ["inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok"])
def test_every_recorded_agent_event_parses(name):
    reports = [parse_report(r["event"]) for r in recorded(name) if r["source"] != "lab"]
    assert not [r for r in reports if isinstance(r, AgentProblem)]
    assert any(isinstance(r, SipSeen) for r in reports) and any(isinstance(r, CallState) for r in reports)


def test_a_media_event_becomes_typed_figures():
    report = parse_report({"ev": "media", "t": 5.0, "sip_call_id": "a", "codec": "PCMU/8000",
                           "local_rtp": "127.0.0.2:4002", "remote_rtp": "127.0.0.10:4000",
                           "rx": {"pkt": 9, "bytes": 1440, "loss": 1, "jitter_ms": 0.5}, "tx": {"pkt": 8},
                           "level_rx": 37, "tone": {"hz": 1004.0, "present": True, "level_dbfs": -13.2}})
    assert isinstance(report, MediaFigures)
    assert (report.rx.pkt, report.rx.loss, report.rx.jitter_ms, report.tx.pkt, report.tx.bytes) == (9, 1, 0.5, 8, 0)
    assert report.tone.present and report.tone.hz == 1004.0 and report.tone.ratio is None


def test_a_refused_decision_and_an_accepted_one():
    refused = parse_report({"ev": "decision", "t": 1, "sip_call_id": "x", "status": 401, "reason": "Unauthorized",
                            "cause": "digest response is wrong", "auth": "proxy", "header": ["a", "b"]})
    accepted = parse_report({"ev": "decision", "t": 1, "sip_call_id": "x", "cause": "ok", "targets": [["127.0.0.10", 5060]]})
    assert isinstance(refused, GatewayDecision) and refused.refused and refused.status == 401
    assert isinstance(accepted, GatewayDecision) and not accepted.refused


def test_the_supervisor_s_word_and_the_pbx_firewall_answer():
    crashed = parse_report({"ev": "agent", "t": 1, "state": "crashed", "reason": "killed by SIGABRT",
                            "restart_in_s": 0.1, "restarts": 1, "exit": -6, "last_words": "assert"})
    assert crashed == ProcessState(1.0, "crashed", 1, "killed by SIGABRT", "assert", 0.1)
    assert parse_report({"ev": "firewall", "t": 2, "sip": [], "rtp": []}) == Configured(2.0)


@pytest.mark.parametrize("event", [
    {"ev": "sip", "t": 1, "dir": "tx", "remote": "127.0.0.2:5060"},  # no text
    {"ev": "sip", "t": 1, "dir": "up", "remote": "127.0.0.2:5060", "text": "x"},  # no such direction
    {"ev": "sip", "t": 1, "dir": "tx", "remote": 5060, "text": "x"},  # a number where text belongs
    {"ev": "call", "t": 1, "sip_call_id": "x"},  # no state
    {"ev": "bridge", "t": 1, "a": "x"},  # no B leg
    {"ev": "teleport", "t": 1},  # a kind nobody knows
    {"t": 1},  # no kind at all
    {"ev": ["sip"], "t": "yesterday"},  # nonsense everywhere
    ["sip", "tx"],  # not an object
])
def test_nonsense_is_an_agent_problem_not_an_exception(event):
    report = parse_report(event)
    assert isinstance(report, AgentProblem) and report.message


def test_kinds_said_only_for_the_log_are_ignored():
    assert parse_report({"ev": "bye", "t": 1}) is None
    assert parse_report({"ev": "bridged", "t": 1, "a": "x", "b": "y"}) is None



def test_an_end_party_confirms_how_it_answers():
    """Lab.set_answering waits for it: a call placed at once must not reach the agent first."""
    assert parse_report({"ev": "answering", "t": 1, "ring_s": 0.0, "early_media_s": 1.5}) == AnsweringSet(1.0, 0.0, 1.5)


def test_digits_holds_and_caller_ids_of_issue_9():
    assert parse_report({"ev": "dtmf", "t": 1, "ref": None, "sip_call_id": "x", "dir": "rx", "digits": "5"}) == \
        DtmfDigits(1.0, "x", "rx", "5")
    assert parse_report({"ev": "hold", "t": 1, "ref": "c1", "sip_call_id": "x", "status": "remote_hold",
                         "previous": "active"}) == HoldChanged(1.0, "x", "remote_hold", "active", "c1")
    seen = parse_report({"ev": "incoming", "t": 1, "sip_call_id": "x", "src": "127.0.0.2:5060", "line": "127.0.0.10",
                         "caller": "+14155550123", "asserted": "+14155550123", "max_forwards": "69"})
    assert seen == CallerSeen(1.0, "x", "+14155550123", "+14155550123", "127.0.0.2:5060")
    figures = parse_report({"ev": "media", "t": 1, "sip_call_id": "x", "dtmf_rx": "123", "media_status": "remote_hold"})
    assert (figures.dtmf_rx, figures.dtmf_tx, figures.media_status) == ("123", "", "remote_hold")
