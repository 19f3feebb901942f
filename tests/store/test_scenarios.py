"""The scenario library: every file parses, and its changes and fix run through the real store."""

from __future__ import annotations

import pytest

from store import AddressPlan, Store, ValidationError
from store.scenario import apply_steps, library, load, parse_scenario, resolve

SCENARIOS = library()


def test_the_library_has_the_scenarios():
    assert {s.name for s in SCENARIOS} >= {
        "gateway_missing_from_firewall", "firewall_allows_no_carrier", "number_not_assigned",
        "roaming_outside_restrictions", "rtp_blocked_one_way_audio", "stale_voip_token", "header_auth_sid_only",
        "ip_auth_wrong_source_port", "no_common_codec"}
    for scenario in SCENARIOS:
        assert scenario.title and scenario.symptom and scenario.lesson and 3 <= len(scenario.hints) <= 4


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_changes_then_fix_in_any_address_plan(tmp_path, scenario):
    async with await Store.open(tmp_path / "lab.db", plan=AddressPlan.in_block("127.0.9.0/24")) as store:
        default = await store.account()
        await load(store, scenario)
        broken = await store.account()
        assert broken != default
        assert all(a.ip.startswith("127.0.9.") for a in broken.system_gateway.addresses)
        await apply_steps(store, scenario.fix)
        fixed = await store.account()
        assert fixed != broken


async def test_reset_restores_the_default_account_in_the_same_plan(tmp_path):
    async with await Store.open(tmp_path / "lab.db", plan=AddressPlan.in_block("127.0.9.0/24")) as store:
        await store.add_firewall_rule("10.0.0.0/8")
        await store.create_did("+1 202 555 0142")
        await store.reset()
        account = await store.account()
        assert [r.cidr for r in account.firewall_rules] == ["127.0.9.2/32", "127.0.9.3/32"]
        assert len(account.dids) == 3 and account.party("pstn").ip == "127.0.9.20"


def test_resolve_names_addresses_by_role():
    from tests.support.accounts import default_account

    account = default_account()
    assert [resolve(account, v) for v in ("gateway:1", "gateway:2", "pbx", "pbx_roaming", "pstn", "10.0.0.1")] == [
        "127.0.0.2", "127.0.0.3", "127.0.0.10", "127.0.0.11", "127.0.0.20", "10.0.0.1"]


@pytest.mark.parametrize(("text", "words"), [
    ("title = ", "not valid TOML"),
    ('title = "x"', "missing story"),
    ('title="t"\nstory="s"\nsymptom="s"\nlesson="l"\nhints=["a","b"]\ndifficulty=1\n[[changes]]\naction="explode"\n[[fix]]\naction="add_firewall_rule"',
     "unknown action"),
    ('title="t"\nstory="s"\nsymptom="s"\nlesson="l"\nhints=["a"]\n[[changes]]\naction="regenerate_voip_token"\n[[fix]]\naction="regenerate_voip_token"',
     "missing difficulty"),
    ('title="t"\nstory="s"\nsymptom="s"\nlesson="l"\nhints=["a"]\ndifficulty=7\n[[changes]]\naction="regenerate_voip_token"\n[[fix]]\naction="regenerate_voip_token"',
     r"difficulty is 1 \(easy\), 2 \(medium\) or 3 \(hard\), not 7"),
    ('title="t"\nstory="s"\nsymptom="s"\nlesson="l"\ndifficulty=1\n[[hints]]\ntext="a"\nabout=["dialtone"]\n[[changes]]\naction="regenerate_voip_token"\n[[fix]]\naction="regenerate_voip_token"',
     "a hint is about one of inbound, outbound, authentication, audio, not dialtone"),
    ('title="t"\nstory="s"\nsymptom="s"\nlesson="l"\ndifficulty=1\nhints=[3]\n[[changes]]\naction="regenerate_voip_token"\n[[fix]]\naction="regenerate_voip_token"',
     "a hint is a string or a table"),
])
def test_a_broken_scenario_file_is_a_clear_error(text, words):
    with pytest.raises(ValidationError, match=words):
        parse_scenario("broken", text)


async def test_a_step_naming_what_is_not_there_is_a_clear_error(store):
    with pytest.raises(ValidationError, match="cannot be carried out here"):
        await apply_steps(store, ({"action": "remove_firewall_rule", "source": "gateway:9"},))


def test_fixed_when_defaults_to_the_checklist():
    base = 'title="t"\nstory="s"\nsymptom="s"\nlesson="l"\nhints=["a","b"]\ndifficulty=1\n'
    steps = '[[changes]]\naction="unassign_number"\nphonenumber="12025550100"\n[[fix]]\naction="add_firewall_rule"\nsource="pbx"\n'
    assert parse_scenario("plain", base + steps).fixed_when == "All four items of the Verification Checklist pass."
    custom = parse_scenario("custom", base + 'fixed_when="Calls to +1 202-555-0100 connect."\n' + steps)
    assert custom.fixed_when == "Calls to +1 202-555-0100 connect."
