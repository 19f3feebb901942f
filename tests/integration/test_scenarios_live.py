"""Every scenario, for real: load it, see the symptom with live agents, apply the documented fix
through the same store operations the console uses, and see the Verification Checklist pass."""

from __future__ import annotations

import asyncio

import pytest

from sip.lab import Lab
from store.scenario import apply_steps, find, load

pytestmark = pytest.mark.agents

# scenario -> (the checklist items that must fail, words the first failing item's cause contains)
SYMPTOMS = {
    "gateway_missing_from_firewall": ({0, 1}, "dropped by the PBX firewall"),  # replies too
    "firewall_allows_no_carrier": ({0, 1}, "dropped by the PBX firewall"),
    "number_not_assigned": ({0}, "not assigned to a trunk group"),
    "roaming_outside_restrictions": ({1, 2}, "outside the IP restrictions of 'Acme PBX'"),
    "rtp_blocked_one_way_audio": ({3}, "its firewall drops RTP"),
    "stale_voip_token": ({1, 2}, "not the VoIP token of 'Acme PBX'"),
    "header_auth_sid_only": ({1, 2}, "X-Auth-VoipToken is missing"),
    "ip_auth_wrong_source_port": ({1, 2}, "source port 5080 is not the port 5060"),
    "no_common_codec": ({0, 1}, "no codec in common"),
}


@pytest.mark.parametrize("name", sorted(SYMPTOMS))
@pytest.mark.timeout(150)
async def test_scenario_symptom_then_fix(lab: Lab, name: str):
    scenario = find(name)
    await load(lab.store, scenario)
    await asyncio.sleep(0.3)  # the lab pushes the edited account to its agents
    items, calls = await lab.run_checklist(hold_s=1.0, answer_timeout_s=4.0)
    failing, words = SYMPTOMS[name]
    assert {i for i, item in enumerate(items) if item.status == "fail"} == failing, [(i.title, i.status) for i in items]
    first = next(item for item in items if item.status == "fail")
    assert words in first.cause, first
    await apply_steps(lab.store, scenario.fix)
    assert await lab.wait_until_idle(45.0)  # dialogs the firewall broke hold slots until Timer B
    await asyncio.sleep(0.3)
    items, calls = await lab.run_checklist(hold_s=1.0, answer_timeout_s=4.0)
    assert [item.status for item in items] == ["pass"] * 4, [(i.title, i.status, i.cause) for i in items] + [
        (c.direction, c.gateway, c.final_code, c.final_reason, c.notes, [m.note for m in c.drops()][:1]) for c in calls]
