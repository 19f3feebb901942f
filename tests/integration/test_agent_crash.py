"""An agent that dies in the middle of a call, with real agents: the call fails and says why
(live, in its CDR and in the checklist), and the legs the surviving agents hold are hung up
within 2 s, so no RTP goes on flowing to the dead agent's ports."""

from __future__ import annotations

import pytest

from sip.checklist import evaluate
from sip.lab import Lab
from tests.support.crash import answered_with_audio, kill_during

pytestmark = pytest.mark.agents

HUNG_UP_WITHIN_S = 2.0
PSTN_NUMBER = "14155550123"
HOW = {"crash": "killed by SIGABRT", "SIGKILL": "killed by SIGKILL"}


@pytest.mark.parametrize(("victim", "how"), [
    ("gateway", "crash"), ("gateway", "SIGKILL"), ("pstn", "SIGKILL"), ("pbx", "crash")])
async def test_an_agent_dying_mid_call_fails_the_call_and_ends_the_other_legs(lab: Lab, victim: str, how: str):
    gateway = lab.gateway_addresses[0]
    if victim == "pbx":  # the caller dies: an outbound call
        call = await lab.place_outbound(PSTN_NUMBER, auth="ip", via=gateway)
    else:
        call = await lab.place_inbound("12025550100", via=gateway)
    assert await answered_with_audio(lab, call), (call.state, call.final_code, call.heard)
    name = {"gateway": f"gateway {gateway.partition(':')[0]}", "pstn": "pstn", "pbx": "pbx"}[victim]

    drill = await kill_during(lab, call, name, how)

    assert drill.legs_gone_s is not None and drill.legs_gone_s <= HUNG_UP_WITHIN_S, drill
    late = [t for t in drill.rtp_after_s if t > HUNG_UP_WITHIN_S]
    assert not late, f"RTP still reached the dead {name} {late[0]:.2f} s after it died"
    who = {"gateway": f"the System Gateway {gateway.partition(':')[0]}", "pstn": "the PSTN", "pbx": "the PBX"}[victim]
    reason = f"{who} stopped during the call ({HOW[how]})"
    assert (call.state, call.final_code, call.final_reason) == ("failed", 503, reason)
    assert not call.answered and call.answered_at is not None  # it was answered, then cut short
    # the checklist counts it neither as answered nor as audio both ways, and says why
    items = evaluate([call], lab.account)
    reached = items[0] if victim != "pbx" else items[1]
    assert reached.status == "fail" and reached.cause == reason
    assert items[3].status == "unknown"  # no answered call to judge the audio of
    # the CDR says the same
    assert await lab.wait_until(lambda: False, 0.5) is False
    (record,) = await lab.store.calls()
    assert (record.state, record.final_code, record.final_reason) == ("failed", 503, reason)


async def test_a_call_right_after_a_gateway_died_goes_through(lab: Lab):
    gateway = lab.gateway_addresses[0]
    call = await lab.place_inbound("12025550100", via=gateway)
    assert await answered_with_audio(lab, call)
    name = f"gateway {gateway.partition(':')[0]}"
    await kill_during(lab, call, name, "SIGKILL", watch_s=0.0)
    assert await lab.wait_until(lambda: lab.ready, 5.0)
    again = await lab.run_call(await lab.place_inbound("12025550100", via=gateway), hold_s=0.5)
    assert (again.state, again.final_code, again.heard) == ("ended", 200, {"pstn": True, "pbx": True})
    assert await lab.wait_until_idle(5.0)
