"""The guided lesson (sip/lesson.py): each step judged from the account, real (recorded) calls and
the checklist, from a new customer's blank account to all green, and every way a step is not done."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sip import checklist as verification
from sip.calls import LabCall
from sip.checklist import ChecklistItem
from sip.lesson import ADD_ENDPOINT, STEP_KEYS, TITLES, evaluate
from sip.wire import GatewayDecision
from store.records import (
    Account,
    Did,
    EndpointAddress,
    EndpointAttributes,
    FirewallRule,
    PbxTrunk,
    SipMessageRecord,
)
from tests.support.accounts import GROUP_SID, PBX_SID, PBX_TOKEN, default_account
from tests.support.replay import replay


def blank() -> Account:
    """A new customer's account, as store.reset(blank=True) makes it: the System Gateway,
    numbers nobody assigned, no endpoint of theirs, no trunk group, an empty firewall, a PBX
    whose trunk settings are empty."""
    account = default_account()
    return replace(account, endpoints=(account.system_gateway,), trunk_groups=(),
                   dids=tuple(replace(d, trunk_group_sid=None, name="") for d in account.dids),
                   firewall_rules=(), pbx_trunk=PbxTrunk("", ""))


def firewall_done(account: Account) -> Account:
    return replace(account, firewall_rules=(FirewallRule(1, 1, "127.0.0.2/32"), FirewallRule(2, 2, "127.0.0.3/32")))


def auth_done(account: Account) -> Account:
    """The endpoint (with the PBX's address), and the PBX configured with its SID and token."""
    pbx = default_account().pbx_endpoint()
    return replace(account, endpoints=(account.system_gateway, pbx), pbx_trunk=PbxTrunk(PBX_SID, PBX_TOKEN))


def numbers_done(account: Account) -> Account:
    full = default_account()
    return replace(account, trunk_groups=full.trunk_groups, dids=full.dids)


def complete() -> Account:
    return numbers_done(auth_done(firewall_done(blank())))


def calls(*names: str) -> list[LabCall]:
    return [c for name in names for c in replay(name).calls.values()]


def green(account: Account) -> list[ChecklistItem]:
    return verification.evaluate(calls("inbound_ok", "outbound_header_ok"), account)


def done(lesson) -> list[str]:
    return list(lesson.done_keys)


# ---------------------------------------------------------------------------- the way through


def test_the_steps_follow_the_seed_page_in_order():
    lesson = evaluate(blank(), [], [])
    assert [s.key for s in lesson.steps] == list(STEP_KEYS)
    assert [s.title for s in lesson.steps] == [
        "How calls flow", "Configure your firewall to accept calls", "Set up authentication",
        "Verify phone number assignment", "The verification checklist"]
    assert all(TITLES[s.key] == s.title for s in lesson.steps)
    for step in lesson.steps:  # every step says what it is about, in the portal and on the PBX side
        assert step.about and step.portal and step.pbx


def test_a_blank_account_has_everything_to_do_and_says_what_first():
    account = blank()
    lesson = evaluate(account, [], verification.evaluate([], account))
    assert lesson.done_count == 0 and not lesson.finished
    assert lesson.current.key == "flow"
    assert lesson.current.next_action.startswith("Calls (c) -> i -> Enter: the PSTN calls +1 202-555-0100")
    firewall = lesson.step("firewall")
    assert [c.what for c in firewall.missing] == ["the PBX firewall allows 127.0.0.2 (SIP and RTP)",
                                                  "the PBX firewall allows 127.0.0.3 (SIP and RTP)"]
    assert firewall.next_action == "Firewall (f) -> a -> type 127.0.0.2 -> Enter (protocol any: SIP and RTP)"
    assert lesson.step("authentication").next_action == ADD_ENDPOINT
    assert lesson.step("numbers").next_action == ADD_ENDPOINT
    assert not lesson.step("checklist").done


def test_a_call_refused_at_the_gateway_already_shows_how_calls_flow():
    """On a blank account the first call gets 404 (the number is not assigned): it crossed the
    PSTN into the System Gateway, whose decision the ladder shows. That is step 1."""
    refused = calls("inbound_unassigned")
    assert refused and all(c.final_code == 404 for c in refused)
    lesson = evaluate(blank(), refused, [])
    assert done(lesson) == ["flow"]
    assert lesson.current.key == "firewall"


def test_each_stage_ticks_its_step_and_the_next_becomes_current():
    seen = calls("inbound_unassigned")
    stages = [
        (blank(), []),
        (firewall_done(blank()), ["flow", "firewall"]),
        (auth_done(firewall_done(blank())), ["flow", "firewall", "authentication"]),
        (complete(), ["flow", "firewall", "authentication", "numbers"]),
    ]
    for account, expected in stages:
        lesson = evaluate(account, seen if expected else [], verification.evaluate([], account))
        assert done(lesson) == expected, account
        assert lesson.done_count == len(expected)
        assert lesson.current.key == STEP_KEYS[len(expected)]
    lesson = evaluate(complete(), seen, green(complete()))
    assert done(lesson) == list(STEP_KEYS) and lesson.finished and lesson.current is None
    assert all(step.next_action == "" for step in lesson.steps)


def test_the_default_account_with_green_calls_is_a_finished_lesson():
    account = default_account()
    lesson = evaluate(account, calls("inbound_ok", "outbound_header_ok"), green(account))
    assert lesson.finished and lesson.done_count == 5


def test_steps_are_judged_independently_not_in_order():
    """The lesson's order is the page's, but a step done early shows done (a trainer's prepared
    account, the default one): only 'current' follows the order."""
    account = default_account()
    lesson = evaluate(account, [], verification.evaluate([], account))
    assert done(lesson) == ["firewall", "authentication", "numbers"]
    assert lesson.current.key == "flow"


# ---------------------------------------------------------------------------- 1. how calls flow


def test_a_stored_cdr_of_an_earlier_session_does_not_count_but_the_store_s_record_does():
    stored = [replace(c, stored=True) for c in calls("inbound_ok")]
    assert "flow" not in done(evaluate(blank(), stored, []))
    assert "flow" in done(evaluate(blank(), [], [], done_before={"flow": 1.0}))


def test_done_before_ticks_nothing_else_the_live_state_decides():
    before = {key: 1.0 for key in STEP_KEYS}
    assert done(evaluate(blank(), [], [], done_before=before)) == ["flow"]


def test_a_call_the_gateway_never_saw_does_not_count():
    """The PSTN's own timeout with the gateway down: no decision, no message of the gateway."""
    lonely = LabCall("c1", direction="inbound", gateway="127.0.0.2:5060", state="failed", final_code=408,
                     messages=[SipMessageRecord(1.0, "pstn", "tx", "127.0.0.20:5060", "127.0.0.2:5060", "x",
                                                "INVITE sip:12025550100@127.0.0.2 SIP/2.0", "")])
    assert "flow" not in done(evaluate(blank(), [lonely], []))
    decided = replace(lonely, decisions=[GatewayDecision(t=1.0, sip_call_id="x", cause="no such number",
                                                         status=404)])
    assert "flow" in done(evaluate(blank(), [decided], []))


def test_flow_names_the_account_s_own_addresses():
    about = evaluate(blank(), [], []).step("flow").about
    assert "127.0.0.20" in about and "127.0.0.2, 127.0.0.3" in about


def test_flow_without_numbers_still_says_what_to_do():
    account = replace(blank(), dids=())
    assert "one of your numbers" in evaluate(account, [], []).step("flow").next_action


# ---------------------------------------------------------------------------- 2. firewall


def test_one_gateway_allowed_is_half_a_firewall():
    account = replace(blank(), firewall_rules=(FirewallRule(1, 1, "127.0.0.2/32"),))
    step = evaluate(account, [], []).step("firewall")
    assert not step.done
    assert [c.ok for c in step.checks] == [True, False]
    assert step.next_action == "Firewall (f) -> a -> type 127.0.0.3 -> Enter (protocol any: SIP and RTP)"


def test_a_sip_only_rule_lacks_rtp_and_says_the_pbx_would_hear_nothing():
    account = replace(blank(), firewall_rules=(FirewallRule(1, 1, "127.0.0.2/32", "sip"),
                                               FirewallRule(2, 2, "127.0.0.3/32")))
    step = evaluate(account, [], []).step("firewall")
    assert not step.done
    assert step.next_action.startswith("Firewall (f) -> a -> type 127.0.0.2 rtp -> Enter")
    assert "hear nothing" in step.next_action


def test_an_rtp_only_rule_lacks_sip():
    account = replace(blank(), firewall_rules=(FirewallRule(1, 1, "127.0.0.2/32", "rtp"),
                                               FirewallRule(2, 2, "127.0.0.3/32")))
    assert evaluate(account, [], []).step("firewall").next_action == (
        "Firewall (f) -> a -> type 127.0.0.2 sip -> Enter: its INVITEs are dropped")


def test_sip_and_rtp_rules_apart_or_a_subnet_allow_the_gateway():
    apart = (FirewallRule(1, 1, "127.0.0.2/32", "sip"), FirewallRule(2, 2, "127.0.0.2/32", "rtp"),
             FirewallRule(3, 3, "127.0.0.3/32"))
    assert evaluate(replace(blank(), firewall_rules=apart), [], []).step("firewall").done
    subnet = (FirewallRule(1, 1, "127.0.0.0/29"),)
    assert evaluate(replace(blank(), firewall_rules=subnet), [], []).step("firewall").done


def test_a_rule_for_another_address_does_not_count():
    account = replace(blank(), firewall_rules=(FirewallRule(1, 1, "127.0.0.4/32"), FirewallRule(2, 2, "10.0.0.0/8")))
    assert not evaluate(account, [], []).step("firewall").done


def test_removing_a_rule_unticks_the_step():
    account = complete()
    assert evaluate(account, [], []).step("firewall").done
    fewer = replace(account, firewall_rules=account.firewall_rules[:1])
    assert not evaluate(fewer, [], [], done_before={"firewall": 1.0}).step("firewall").done


def test_with_your_own_pbx_the_firewall_is_yours_and_ticks_from_answered_calls():
    account = replace(complete(), builtin_pbx=False, firewall_rules=())
    step = evaluate(account, [], []).step("firewall")
    assert "yours to configure" in step.pbx and "127.0.0.2, 127.0.0.3" in step.pbx
    assert not step.done and "127.0.0.2" in step.next_action
    through_2 = calls("inbound_ok")  # recorded via 127.0.0.2
    step = evaluate(account, through_2, []).step("firewall")
    assert [c.ok for c in step.checks] == [True, False]
    assert "via 127.0.0.3" in step.next_action
    failed = [replace(c, state="failed", answered_at=None) for c in through_2]
    assert not evaluate(account, failed, []).step("firewall").checks[0].ok


# ---------------------------------------------------------------------------- 3. authentication


def test_authentication_carries_the_security_note_and_all_three_methods():
    step = evaluate(blank(), [], []).step("authentication")
    assert "clear text" in step.note and "proxy authentication" in step.note
    for words in ("IP-based", "Proxy authentication", "endpoint SID as username", "VoIP token as password",
                  "X-Auth-EndpointSid", "X-Auth-VoipToken", "401"):
        assert words in step.about, words


def test_an_endpoint_without_the_pbx_s_address_needs_one():
    account = auth_done(firewall_done(blank()))
    bare = replace(account.pbx_endpoint(), addresses=())
    account = replace(account, endpoints=(account.system_gateway, bare))
    step = evaluate(account, [], []).step("authentication")
    assert not step.done
    assert step.next_action == "Endpoints (e) -> Acme PBX -> a -> type 127.0.0.10 -> Enter"
    elsewhere = replace(account, parties=tuple(replace(p, port=5070) if p.role == "pbx" else p
                                               for p in account.parties), pbx_trunk=None)
    assert evaluate(elsewhere, [], []).step("authentication").missing[0].todo == (
        "Endpoints (e) -> Acme PBX -> a -> type 127.0.0.10, port 5070 -> Enter")


def test_an_inbound_only_address_cannot_authenticate_outbound_calls():
    account = auth_done(blank())
    endpoint = account.pbx_endpoint()
    inbound_only = replace(endpoint, addresses=(EndpointAddress(3, PBX_SID, "127.0.0.10", direction="inbound"),))
    account = replace(account, endpoints=(account.system_gateway, inbound_only))
    step = evaluate(account, [], []).step("authentication")
    assert not step.done and "for inbound calls only" in step.next_action


def test_a_subnet_address_covers_the_pbx():
    account = auth_done(blank())
    subnet = replace(account.pbx_endpoint(), addresses=(EndpointAddress(3, PBX_SID, "127.0.0.8/29", 5060),))
    account = replace(account, endpoints=(account.system_gateway, subnet))
    assert evaluate(account, [], []).step("authentication").done


def test_a_source_port_other_than_the_address_s_needs_insecure_address_or_the_port():
    account = replace(auth_done(blank()), pbx_trunk=PbxTrunk(PBX_SID, PBX_TOKEN, source_port=5070))
    step = evaluate(account, [], []).step("authentication")
    assert not step.done
    assert "sends from port 5070" in step.next_action and "insecure_address" in step.next_action
    insecure = replace(account.pbx_endpoint(), attributes=EndpointAttributes(insecure_address=True))
    account = replace(account, endpoints=(account.system_gateway, insecure))
    assert evaluate(account, [], []).step("authentication").done


@pytest.mark.parametrize(("trunk", "said"), [
    (PbxTrunk("", ""), "are empty"),
    (PbxTrunk("someone-else", PBX_TOKEN), "another endpoint SID"),
    (PbxTrunk(PBX_SID, "an-old-token"), "old VoIP token"),
], ids=["empty", "other sid", "stale token"])
def test_the_pbx_s_credentials_must_be_the_endpoint_s(trunk, said):
    account = replace(auth_done(blank()), pbx_trunk=trunk)
    step = evaluate(account, [], []).step("authentication")
    assert not step.done
    assert step.next_action.startswith("PBX settings (b) -> u (Copy from portal)") and said in step.next_action


def test_no_pbx_settings_at_all_is_not_done():
    account = replace(auth_done(blank()), pbx_trunk=None)
    assert not evaluate(account, [], []).step("authentication").done


def test_header_auth_needs_the_token_header():
    account = replace(auth_done(blank()), pbx_trunk=PbxTrunk(PBX_SID, PBX_TOKEN, send_voip_token_header=False))
    step = evaluate(account, [], []).step("authentication")
    assert not step.done and step.next_action == "PBX settings (b) -> h (Token header on)"


def test_real_refused_calls_untick_an_account_that_looks_right():
    """The account is right, but the checklist's outbound calls were refused (here a recorded
    401 judged against it): the step says so, with the checklist's own fix."""
    account = complete()
    items = verification.evaluate(calls("outbound_wrong_token"), account)
    assert items[2].status == "fail"
    step = evaluate(account, [], items).step("authentication")
    assert not step.done
    assert step.missing[-1].what.startswith("the checklist's outbound calls authenticated")
    assert step.next_action == (items[2].fix or "read the refused call's ladder (Calls, c)")


def test_a_checklist_failure_is_not_repeated_while_the_account_itself_lacks_something():
    account = replace(complete(), pbx_trunk=PbxTrunk("", ""))
    items = verification.evaluate([], account)
    assert items[2].status == "fail"  # the checklist's own blocker: the PBX's settings are empty
    step = evaluate(account, [], items).step("authentication")
    assert len(step.missing) == 1 and "are empty" in step.next_action


def test_with_your_own_pbx_authentication_ticks_from_its_accepted_call():
    account = replace(complete(), builtin_pbx=False)
    step = evaluate(account, [], []).step("authentication")
    assert not step.done and "pbx-config" in step.pbx
    assert step.next_action.startswith("place a call from your PBX to +1 415 555 0123")
    accepted = calls("outbound_header_ok")
    assert evaluate(account, accepted, []).step("authentication").done
    refused = calls("outbound_wrong_token")
    assert not evaluate(account, refused, []).step("authentication").done


def test_your_own_pbx_needs_an_address_on_its_endpoint():
    account = replace(complete(), builtin_pbx=False)
    bare = replace(account.pbx_endpoint(), addresses=())
    account = replace(account, endpoints=(account.system_gateway, bare))
    step = evaluate(account, calls("outbound_header_ok"), []).step("authentication")
    assert not step.done and "your PBX's address" in step.next_action


# ---------------------------------------------------------------------------- 4. numbers


def test_numbers_carry_the_empty_tab_fix():
    note = evaluate(blank(), [], []).step("numbers").note
    assert "empty Assigned Phone Numbers tab" in note and "Phone Numbers (n)" in note and "Save" in note


def test_without_a_trunk_group_the_first_thing_is_the_group():
    account = auth_done(firewall_done(blank()))
    step = evaluate(account, [], []).step("numbers")
    assert [c.ok for c in step.checks] == [False, True, False]
    assert step.next_action == ("Trunk Groups (t) -> + (New trunk group): a name -> Enter; then a (Add trunk) -> "
                                "Acme PBX -> Enter")
    assert step.checks[-1].todo == f"first a trunk group: {step.next_action}"


def test_a_group_without_numbers_is_the_empty_tab_and_names_a_spare_number():
    account = auth_done(firewall_done(blank()))
    account = replace(account, trunk_groups=default_account().trunk_groups)
    step = evaluate(account, [], []).step("numbers")
    assert step.missing[0].what == "a phone number assigned to Acme trunk group (the tab is empty)"
    assert step.next_action == ("Phone Numbers (n) -> select +1 202-555-0100 -> Enter (Edit) -> "
                                "trunk group Acme trunk group -> Save")


def test_numbers_all_assigned_elsewhere_or_none_at_all():
    account = auth_done(blank())
    other_group = replace(default_account().trunk_groups[0], trunk_group_sid="elsewhere", trunks=())
    account = replace(account, trunk_groups=(default_account().trunk_groups[0], other_group),
                      dids=tuple(replace(d, trunk_group_sid="elsewhere") for d in account.dids))
    assert evaluate(account, [], []).step("numbers").next_action == (
        "Phone Numbers (n) -> select a number -> Enter (Edit) -> trunk group Acme trunk group -> Save")
    none = replace(account, dids=())
    assert evaluate(none, [], []).step("numbers").next_action.startswith("Phone Numbers (n) -> a -> type a number")


def test_an_outbound_only_endpoint_cannot_receive_its_numbers():
    account = complete()
    outbound_only = replace(account.pbx_endpoint(),
                            addresses=(EndpointAddress(3, PBX_SID, "127.0.0.10", direction="outbound"),))
    account = replace(account, endpoints=(account.system_gateway, outbound_only))
    step = evaluate(account, [], []).step("numbers")
    assert not step.done
    assert step.next_action == "Endpoints (e) -> Acme PBX -> a -> type 127.0.0.10 -> Enter (direction any)"


def test_assigned_numbers_are_named_and_the_step_is_done():
    step = evaluate(complete(), [], []).step("numbers")
    assert step.done
    assert step.checks[-1].what == "+1 202-555-0100, +1 202-555-0101 in Acme PBX's Assigned Phone Numbers tab"


def test_a_group_of_another_endpoint_does_not_count():
    account = auth_done(blank())
    group = replace(default_account().trunk_groups[0], trunks=())
    account = replace(account, trunk_groups=(group,), dids=default_account().dids)
    assert not evaluate(account, [], []).step("numbers").done


def test_your_own_pbx_routes_its_numbers_itself():
    step = evaluate(replace(complete(), builtin_pbx=False), [], []).step("numbers")
    assert step.pbx == "Route +1 202-555-0100, +1 202-555-0101 to an extension of your PBX."


def test_unassigning_the_last_number_unticks_numbers():
    account = complete()
    account = replace(account, dids=tuple(replace(d, trunk_group_sid=None) for d in account.dids))
    assert not evaluate(account, [], [], done_before={"numbers": 1.0}).step("numbers").done


# ---------------------------------------------------------------------------- 5. the checklist


def test_the_checklist_not_run_yet_says_press_k():
    account = complete()
    step = evaluate(account, [], verification.evaluate([], account)).step("checklist")
    assert not step.done and step.next_action == "k: run the Verification Checklist"
    assert [c.what for c in step.checks] == list(verification.TITLES)
    no_items = evaluate(account, [], []).step("checklist")
    assert not no_items.done and no_items.next_action == "k: run the Verification Checklist"


def test_a_running_checklist_says_wait():
    step = evaluate(complete(), [], verification.running()).step("checklist")
    assert not step.done and step.next_action.startswith("wait")


def test_a_failing_item_gives_its_fix():
    account = replace(complete(), firewall_rules=(FirewallRule(1, 1, "127.0.0.2/32"),))
    items = verification.evaluate(calls("inbound_ok", "inbound_firewall_drop", "outbound_header_ok"), account)
    step = evaluate(account, [], items).step("checklist")
    assert not step.done
    assert step.checks[0].ok is False and "127.0.0.3" in step.next_action
    assert step.next_action == items[0].fix


def test_a_failing_item_without_a_fix_falls_back_to_its_cause_then_to_the_ladder():
    item = ChecklistItem("Inbound calls reach your SIP system", "fail", cause="something odd")
    assert evaluate(complete(), [], [item]).step("checklist").next_action == "something odd"
    bare = ChecklistItem("Inbound calls reach your SIP system", "fail")
    assert evaluate(complete(), [], [bare]).step("checklist").next_action == "read the call's ladder (Calls, c)"


def test_all_four_green_finish_the_lesson():
    step = evaluate(complete(), [], green(complete())).step("checklist")
    assert step.done and all(c.ok for c in step.checks)


def test_with_your_own_pbx_the_outbound_items_say_to_call_from_it():
    account = replace(complete(), builtin_pbx=False)
    items = verification.evaluate([], account)
    step = evaluate(account, [], items).step("checklist")
    assert "Keep your PBX running" in step.pbx
    assert "from your PBX" in step.checks[1].todo and "+1 415 555 0123" in step.checks[1].todo
    unknown = [ChecklistItem(t, "unknown") for t in verification.TITLES]
    assert "+1 415 555 0123" in evaluate(account, [], unknown).step("checklist").checks[2].todo


# ---------------------------------------------------------------------------- plain data in, plain data out


def test_the_lesson_is_plain_frozen_data_and_the_same_for_the_same_input():
    account = complete()
    first = evaluate(account, calls("inbound_ok"), green(account), {"flow": 1.0})
    again = evaluate(account, calls("inbound_ok"), green(account), {"flow": 1.0})
    assert first == again
    with pytest.raises(AttributeError):
        first.steps[0].done = False  # type: ignore[misc]


def test_an_extra_number_of_another_group_changes_nothing():
    account = complete()
    extra = replace(account, dids=(*account.dids, Did("did-x", "12025550177", "x", "elsewhere")))
    assert done(evaluate(extra, [], [])) == done(evaluate(account, [], []))
    assert GROUP_SID in {d.trunk_group_sid for d in account.dids}
