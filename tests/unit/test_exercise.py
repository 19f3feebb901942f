"""Exercises, the pure part: judging a check, the hints, the report; and the checklist's
findings for the scenarios that live in the PBX's own settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sip.calls import LabCall
from sip.checklist import ChecklistItem, diagnose, evaluate
from sip.exercise import (
    account_changes,
    call_title,
    hint_for,
    judge,
    not_passing,
    report_markdown,
    running_exercise,
    shows_fix,
    status_word,
)
from store.records import CheckRow, ExerciseProgress, FirewallRule, PbxTrunk, account_to_wire
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


def check(**statuses: str) -> tuple[CheckRow, ...]:
    """A last check: each item passes unless named (inbound="fail", audio="unknown")."""
    from sip.checklist import TITLES
    from store.records import CHECKLIST_KEYS

    return tuple(CheckRow(title, statuses.get(key, "pass"), f"cause of {key}" if statuses.get(key) == "fail" else "",
                          f"fix for {key}" if statuses.get(key) == "fail" else "", f"symptom of {key}")
                 for title, key in zip(TITLES, CHECKLIST_KEYS))


def test_no_hint_before_a_check_or_a_start_or_once_solved():
    scenario = find("stale_voip_token")
    assert "Start this exercise" in hint_for(scenario, None).why_none
    assert "Check your fix first (v)" in hint_for(scenario, ExerciseProgress(scenario.name, 1.0)).why_none
    solved = ExerciseProgress(scenario.name, 1.0, solved_at=2.0, checklist=check())
    assert hint_for(scenario, solved).text is None


def test_hints_come_in_order_for_the_items_that_fail():
    scenario = find("stale_voip_token")
    progress = ExerciseProgress(scenario.name, 1.0, checklist=check(outbound="fail", authentication="fail"))
    given = []
    for expected in scenario.hints:
        hint = hint_for(scenario, replace(progress, hints=tuple(given))).text
        assert hint == expected.text
        given.append(hint)
    # the scenario's hints used: the checklist's fix for each failing item, then none
    assert hint_for(scenario, replace(progress, hints=tuple(given))).text == \
        "Outbound calls are successfully initiated: fix for outbound"


def test_no_hint_about_a_step_that_already_passes():
    """firewall_allows_no_carrier: with outbound fixed (one address allowed), its hint about
    outbound calls is skipped; the next one about inbound comes instead."""
    scenario = find("firewall_allows_no_carrier")
    outbound_hint = next(h for h in scenario.hints if set(h.about) == {"outbound", "authentication"})
    inbound_hints = [h.text for h in scenario.hints if "inbound" in h.about]
    progress = ExerciseProgress(scenario.name, 1.0, checklist=check(inbound="fail"), hints=tuple(inbound_hints[:2]))
    assert hint_for(scenario, progress).text == inbound_hints[2]
    every = [hint_for(scenario, replace(progress, hints=tuple(inbound_hints[:n]))).text for n in range(3)]
    assert outbound_hint.text not in every


def test_a_failure_the_scenario_did_not_cause_gets_the_checklist_s_fix():
    """The trainee broke something else on the way (audio): no scenario hint is about it."""
    scenario = find("number_not_assigned")
    progress = ExerciseProgress(scenario.name, 1.0, checklist=check(audio="fail"))
    assert hint_for(scenario, progress).text == "Audio is present in both directions: fix for audio"
    done = replace(progress, hints=("Audio is present in both directions: fix for audio",))
    assert "No more hints" in hint_for(scenario, done).why_none


def test_unknown_items_are_not_passing():
    assert not_passing(ExerciseProgress("x", 1.0, checklist=check(inbound="fail", audio="unknown"))) == [
        "inbound", "audio"]


@pytest.mark.parametrize(("progress", "shown"), [
    (None, True),  # the normal console: the full fix
    (ExerciseProgress("x", 1.0), False),  # trainee mode: symptom and cause only
    (ExerciseProgress("x", 1.0, hints_shown=1, hints=("h",)), True),  # a hint was asked for
    (ExerciseProgress("x", 1.0, solved_at=2.0), True),
])
def test_trainee_mode_shows_the_fix_once_a_hint_was_asked_for(progress, shown):
    assert shows_fix(progress) is shown


@pytest.mark.parametrize(("progress", "word"), [
    (None, "not started"),
    (ExerciseProgress("x", 1.0), "started, 0 hints used"),
    (ExerciseProgress("x", 1.0, hints_shown=1), "started, 1 hint used"),
    (ExerciseProgress("x", 1.0, hints_shown=2, solved_at=9.0), "solved"),
])
def test_status_words(progress, word):
    assert status_word(progress) == word


def test_the_library_is_easiest_first():
    scenarios = library()
    assert [s.difficulty for s in scenarios] == sorted(s.difficulty for s in scenarios)
    assert {s.difficulty_word for s in scenarios} == {"easy", "medium", "hard"}


# ------------------------------------------------------------------ what the trainee changed


def test_account_changes_name_the_section_and_the_lines():
    before = default_account()
    rule = FirewallRule(9, 3, "127.0.0.3/32", "any", "added in the console")
    after = replace(before, firewall_rules=(*before.firewall_rules, rule),
                    pbx_trunk=replace(before.pbx_trunk, voip_token="new-token-1234"))
    changes = account_changes(before, after)
    firewall = changes.index("PBX FIREWALL (allow rules; everything else is dropped)")
    assert changes[firewall + 1] == "+ 3. allow any from 127.0.0.3/32       added in the console"
    assert "PBX SETTINGS (the customer's side of the trunk)" in changes
    token_lines = [c for c in changes if "voip_token" in c]
    assert token_lines[0].startswith("- ") and token_lines[1].startswith("+ ") and "1234" in token_lines[1]
    assert "new-token" not in "\n".join(changes)  # masked, as show prints it
    assert account_changes(before, before) == []


# ------------------------------------------------------------------ the report


def test_the_report_has_the_story_the_hints_the_changes_and_both_ladders():
    import json

    scenario = find("stale_voip_token")
    start = default_account()
    now = replace(start, pbx_trunk=replace(start.pbx_trunk, voip_token="fresh-token-abcd"))
    progress = ExerciseProgress(scenario.name, 1_795_000_000.0, hints_shown=1, checks=2, solved_at=1_795_000_095.0,
                                checklist=(CheckRow("Authentication succeeds", "pass", "", "", "proxy: ok"),),
                                failing_ladder="outbound proxy auth: 401 Unauthorized",
                                fixed_ladder="outbound proxy auth: answered",
                                hints=(scenario.hints[1].text,), start_account=json.dumps(account_to_wire(start)))
    text = report_markdown(scenario, progress, now)
    assert text.startswith(f"# Exercise report: {scenario.title}\n")
    assert "| Hints used | 1 |" in text and "| Time to fix | 95 s |" in text
    assert f"1. {scenario.hints[1].text}" in text and scenario.hints[0].text not in text
    assert "**Fixed when.** All four items of the Verification Checklist pass." in text
    changed = text[text.index("## What you changed"):text.index("## The last check")]
    assert "```diff" in changed and "+ voip_token" in changed and "abcd" in changed and "fresh-token" not in text
    assert "| Authentication succeeds | pass | proxy: ok | - | - |" in text
    failing, fixed = text.index("## Failing ladder"), text.index("## Fixed ladder")
    assert failing < text.index("401 Unauthorized", failing) < fixed < text.index("answered", fixed)
    assert "(medium), started 2026-11-18 11:06:40 UTC; solved 2026-11-18 11:08:15 UTC" in text


def test_an_unsolved_report_says_so_and_escapes_table_cells():
    scenario = find("number_not_assigned")
    progress = ExerciseProgress(scenario.name, 1.0, checklist=(CheckRow("Inbound", "fail", "a | b", "x\ny"),))
    text = report_markdown(scenario, progress)
    assert "not solved yet" in text and "Not fixed yet." in text and "No failing check was recorded." in text
    assert "| Inbound | fail | - | a \\| b | x y |" in text and "None." in text
    assert "Not recorded" in text  # no starting account: said, not guessed


def test_an_exercise_from_before_hints_were_kept_reports_the_first_ones():
    scenario = find("stale_voip_token")
    text = report_markdown(scenario, ExerciseProgress(scenario.name, 1.0, hints_shown=2))
    assert f"2. {scenario.hints[1].text}" in text


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


def test_every_scenario_has_hints_and_a_fix():
    for scenario in library():
        assert 3 <= len(scenario.hints) <= 4 and scenario.fix and scenario.changes, scenario.name
        assert "\n" not in scenario.story  # one paragraph, wrapped by the screen


def test_the_running_exercise_is_the_latest_started_unless_solved():
    started = ExerciseProgress("a", 1.0)
    assert running_exercise({}) is None
    assert running_exercise({"a": started}) == "a"
    assert running_exercise({"a": started, "b": ExerciseProgress("b", 2.0)}) == "b"
    assert running_exercise({"a": started, "b": ExerciseProgress("b", 2.0, solved_at=3.0)}) is None
