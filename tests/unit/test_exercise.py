"""Exercises, the pure part: judging a check, the hints, the report; and the checklist's
findings for the scenarios that live in the PBX's own settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sip.calls import LabCall
from sip.checklist import ChecklistItem, diagnose, evaluate
from sip.exercise import call_title, judge, next_hint, report_markdown, running_exercise, status_word
from store.records import ExerciseProgress, PbxTrunk
from store.scenario import find, library
from sip.wire import GatewayDecision
from tests.support.accounts import PBX_SID, PBX_TOKEN, default_account
from tests.support.replay import replay, scenario_account


def only_calls(*names: str) -> list[LabCall]:
    return [c for name in names for c in replay(name).calls.values()]


def failed_call(code: int, reason: str, cause: str = "", **fields) -> LabCall:
    return LabCall("c1", direction=fields.pop("direction", "outbound"), requested_auth=fields.pop("auth", "proxy"),
                   state="failed", final_code=code, final_reason=reason, started_at=1.0,
                   decisions=[GatewayDecision(1.0, "a", cause, status=code)] if cause else [], **fields)


# ------------------------------------------------------------------ judge


def test_a_check_passes_only_when_every_item_passes():
    account = scenario_account("inbound_ok")
    calls = only_calls("inbound_ok", "outbound_header_ok")
    outcome = judge(evaluate(calls, account), calls, account)
    assert outcome.passed and [row[1] for row in outcome.checklist] == ["pass"] * 4
    assert outcome.ladder.count("INVITE") >= 2 and "answered" in outcome.ladder  # every call is kept


def test_a_failing_check_keeps_only_the_calls_that_went_wrong():
    account = scenario_account("inbound_ok")
    calls = only_calls("inbound_ok", "outbound_wrong_token")
    outcome = judge(evaluate(calls, account), calls, account)
    assert not outcome.passed
    assert "401 Unauthorized" in outcome.ladder and "inbound" not in outcome.ladder
    failing = [row for row in outcome.checklist if row[1] == "fail"]
    assert failing and all(row[2] and row[3] for row in failing)  # each with a cause and a fix


def test_no_items_is_not_a_pass():
    assert not judge([], [], default_account()).passed


def test_unknown_items_are_not_a_pass():
    items = [ChecklistItem("t", "pass"), ChecklistItem("u", "unknown")]
    assert not judge(items, [], default_account()).passed


def test_call_titles_say_how_the_call_went():
    assert call_title(failed_call(401, "Unauthorized", to_number="14155550123")) == \
        "outbound proxy auth to 14155550123: 401 Unauthorized"
    answered = LabCall("c2", direction="inbound", gateway="127.0.0.3:5060", to_number="12025550100",
                       answered_at=2.0, heard={"pstn": True, "pbx": False})
    assert call_title(answered) == ("inbound via 127.0.0.3:5060 to 12025550100: answered "
                                    "(pstn heard the far end, pbx did not hear the far end)")


# ------------------------------------------------------------------ hints and status


@pytest.mark.parametrize(("shown", "expected"), [(0, None), (1, 0), (2, 1), (3, 2), (7, 2)])
def test_the_latest_hint_revealed(shown, expected):
    scenario = find("stale_voip_token")
    progress = ExerciseProgress(scenario.name, 1.0, hints_shown=shown)
    assert next_hint(scenario, progress) == (None if expected is None else scenario.hints[expected])


def test_no_hint_before_the_exercise_starts():
    assert next_hint(find("stale_voip_token"), None) is None


@pytest.mark.parametrize(("progress", "word"), [
    (None, "not started"),
    (ExerciseProgress("x", 1.0), "started, 0/3 hints"),
    (ExerciseProgress("x", 1.0, hints_shown=2), "started, 2/3 hints"),
    (ExerciseProgress("x", 1.0, hints_shown=2, solved_at=9.0), "solved"),
])
def test_status_words(progress, word):
    assert status_word(progress, 3) == word


# ------------------------------------------------------------------ the report


def test_the_report_has_the_story_the_hints_and_both_ladders():
    scenario = find("stale_voip_token")
    progress = ExerciseProgress(scenario.name, 1_795_000_000.0, hints_shown=1, checks=2, solved_at=1_795_000_095.0,
                                checklist=(("Authentication succeeds", "pass", "", ""),),
                                failing_ladder="outbound proxy auth: 401 Unauthorized",
                                fixed_ladder="outbound proxy auth: answered")
    text = report_markdown(scenario, progress)
    assert text.startswith(f"# Exercise report: {scenario.title}\n")
    assert "| Hints used | 1 of 3 |" in text and "| Time to fix | 95 s |" in text
    assert f"1. {scenario.hints[0]}" in text and scenario.hints[1] not in text
    assert "**Fixed when.** All four items of the Verification Checklist pass." in text
    failing, fixed = text.index("## Failing ladder"), text.index("## Fixed ladder")
    assert failing < text.index("401 Unauthorized", failing) < fixed < text.index("answered", fixed)
    assert "started 2026-11-18 11:06:40 UTC; solved 2026-11-18 11:08:15 UTC" in text


def test_an_unsolved_report_says_so_and_escapes_table_cells():
    scenario = find("number_not_assigned")
    progress = ExerciseProgress(scenario.name, 1.0, checklist=(("Inbound", "fail", "a | b", "x\ny"),))
    text = report_markdown(scenario, progress)
    assert "not solved yet" in text and "Not fixed yet." in text and "No failing check was recorded." in text
    assert "| Inbound | fail | a \\| b | x y |" in text and "None." in text


# ------------------------------------------------------------------ findings for the PBX's own settings


def test_a_stale_token_points_at_the_pbx_settings():
    account = replace(default_account(), pbx_trunk=PbxTrunk(PBX_SID, "old-token"))
    finding = diagnose(failed_call(401, "Unauthorized", "digest response is wrong: not the VoIP token of 'Acme PBX'"),
                       account)
    assert "PBX settings -> VoIP token" in finding.fix


def test_a_wrong_sid_in_the_pbx_points_at_the_sid():
    account = replace(default_account(), pbx_trunk=PbxTrunk("not-the-sid", PBX_TOKEN))
    finding = diagnose(failed_call(401, "Unauthorized", "digest username not-the-sid is not a third-party endpoint SID"),
                       account)
    assert "endpoint SID" in finding.fix


def test_a_missing_token_header_points_at_the_toggle():
    finding = diagnose(failed_call(401, "Unauthorized", "header auth needs both headers; X-Auth-VoipToken is missing",
                                   auth="header"), default_account())
    assert "send X-Auth-VoipToken" in finding.fix


def test_a_challenge_for_the_wrong_port_offers_both_fixes():
    cause = ("source port 5080 is not the port 5060 of endpoint 'Acme PBX' address 127.0.0.10 and "
             "insecure_address is off: challenged for proxy authentication")
    finding = diagnose(failed_call(407, "Proxy Authentication Required", cause, auth="ip"), default_account())
    assert finding.cause == cause and "insecure_address" in finding.fix and "source port" in finding.fix


def test_no_common_codec_names_both_sides():
    account = replace(default_account(), pbx_trunk=PbxTrunk(PBX_SID, PBX_TOKEN, codecs=("G722",)))
    finding = diagnose(failed_call(488, "Not Acceptable Here", direction="inbound"), account)
    assert "the PBX has G722" in finding.cause and "PCMU, PCMA" in finding.cause and "codecs" in finding.fix


def test_every_scenario_has_three_hints_and_a_fix():
    for scenario in library():
        assert len(scenario.hints) == 3 and scenario.fix and scenario.changes, scenario.name
        assert "\n" not in scenario.story  # one paragraph, wrapped by the screen


def test_the_running_exercise_is_the_latest_started_unless_solved():
    started = ExerciseProgress("a", 1.0)
    assert running_exercise({}) is None
    assert running_exercise({"a": started}) == "a"
    assert running_exercise({"a": started, "b": ExerciseProgress("b", 2.0)}) == "b"
    assert running_exercise({"a": started, "b": ExerciseProgress("b", 2.0, solved_at=3.0)}) is None
