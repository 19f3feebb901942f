"""The PBX's own trunk settings, applied to a running PBX agent (real agents, real SIP)."""

from __future__ import annotations

import socket

import pytest

from sip.events import AgentConfigured, AgentError
from sip.lab import Lab

pytestmark = pytest.mark.agents

PSTN_NUMBER = "14155550123"


def invite_source(call) -> str:
    return next(m.src for m in call.messages if m.agent == "pbx" and m.event == "tx" and m.first_line.startswith("INVITE"))


async def test_source_port_and_codecs_reach_the_running_pbx(lab: Lab):
    pbx = lab.account.party("pbx")
    configured: list[str] = []  # agents that applied a configuration, in order
    lab.subscribe(lambda event: configured.append(event.agent) if isinstance(event, AgentConfigured) else None)
    await lab.store.update_pbx_trunk(source_port=5082, codecs=["PCMA", "G722"])
    await lab.wait_until(lambda: lab.account.pbx_trunk.source_port == 5082, 2.0)
    assert await lab.wait_until(lambda: lab.pbx_source_port == 5082, 5.0)  # the PBX applied its settings
    pbx_endpoint = lab.account.pbx_endpoint()
    configured.clear()
    await lab.store.update_endpoint(pbx_endpoint.endpoint_sid, attributes=type(pbx_endpoint.attributes)(True, ()))
    await lab.wait_until(lambda: lab.account.pbx_endpoint().attributes.insecure_address, 2.0)
    gateways = {name for name in lab.supervisor.states if name.startswith("gateway")}
    assert await lab.wait_until(lambda: gateways <= set(configured), 5.0)  # every gateway has the account
    call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth="ip"), hold_s=1.0)
    assert (call.final_code, call.auth_method) == (200, "ip")
    assert invite_source(call) == f"{pbx.ip}:5082"
    codecs = {leg.codec for (agent, _), leg in call.legs.items() if agent == "pbx"}
    assert codecs == {"PCMA/8000"}  # G722 first in nothing the carrier offers; PCMA is common
    assert call.heard == {"pstn": True, "pbx": True}


async def test_a_taken_source_port_is_refused_and_the_old_one_kept(lab: Lab):
    pbx = lab.account.party("pbx")
    errors: list[str] = []
    lab.subscribe(lambda event: errors.append(event.message)
                  if isinstance(event, AgentError) and event.agent == "pbx" else None)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind((pbx.ip, 5083))
        await lab.store.update_pbx_trunk(source_port=5083)
        assert await lab.wait_until(lambda: bool(errors), 3.0)
        assert f"cannot send from {pbx.ip}:5083" in errors[0] and "keeps port 5060" in errors[0]
        assert lab.pbx_source_port == 5060  # what the PBX really uses, for the PBX settings screen
        await lab.store.add_firewall_rule("127.0.0.99")  # an unrelated edit does not retry the port
        await lab.wait_until(lambda: False, 0.5)
        assert len(errors) == 1
        call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth="ip"), hold_s=0.5)
    assert call.final_code == 200 and invite_source(call) == f"{pbx.ip}:5060"


async def test_an_old_source_port_is_given_back(lab: Lab):
    pbx = lab.account.party("pbx")
    for port in (5084, 5085, 5086):
        await lab.store.update_pbx_trunk(source_port=port)
        await lab.wait_until(lambda: False, 0.4)  # the PBX applies it
    for freed in (5084, 5085):  # nothing holds them now: a test can bind them
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((pbx.ip, freed))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, pytest.raises(OSError):
        probe.bind((pbx.ip, 5086))  # the current one is the PBX's
    call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth="proxy"), hold_s=0.3)
    assert call.final_code == 200
