"""Calls through real pjsua2 agents on loopback: the seed's flows, its failures, and faults."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from dataclasses import replace

import pytest

from sip.events import AgentStateChanged
from sip.lab import Lab, LabError
from store import EndpointAttributes

pytestmark = pytest.mark.agents

PSTN_NUMBER = "14155550123"


def first_lines(call, agent: str) -> list[str]:
    return [f"{m.event} {m.first_line.split(' SIP/2.0')[0]}" for m in call.messages if m.agent == agent]


def codes_received(call, agent: str) -> list[int]:
    return [int(m.first_line.split()[1]) for m in call.messages
            if m.agent == agent and m.event == "rx" and m.first_line.startswith("SIP/2.0")]


async def test_inbound_call_reaches_the_pbx_with_audio_both_ways(lab: Lab):
    call = await lab.run_call(await lab.place_inbound("12025550100"), hold_s=1.5)
    assert (call.state, call.final_code) == ("ended", 200)
    assert call.heard == {"pstn": True, "pbx": True}  # each side detected the other's tone
    assert call.direction == "inbound" and call.gateway in lab.gateway_addresses
    # the gateway sent its own INVITE from its own address to the endpoint address
    pbx = lab.account.party("pbx")
    gw_invite = next(m for m in call.messages if m.agent == "gateway" and m.event == "tx" and m.first_line.startswith("INVITE"))
    assert gw_invite.src == call.gateway and gw_invite.dst == f"{pbx.ip}:{pbx.port}"
    legs = {agent: leg for (agent, _), leg in call.legs.items() if agent != "gateway"}
    for party in ("pstn", "pbx"):
        assert legs[party].codec == "PCMU/8000"
        assert legs[party].rx.pkt > 40 and legs[party].tx.pkt > 40
    await lab.wait_until(lambda: False, 0.6)  # the CDR is written a moment after the end
    (record,) = await lab.store.calls()
    assert record.final_code == 200 and record.audio_verdict == {"pstn": True, "pbx": True}
    assert any(m.first_line.startswith("INVITE") for m in record.messages)


async def test_inbound_calls_spread_over_the_gateway_addresses(lab: Lab):
    first = await lab.run_call(await lab.place_inbound("12025550100"), hold_s=0.2)
    second = await lab.run_call(await lab.place_inbound("12025550101"), hold_s=0.2)
    assert {first.gateway, second.gateway} == set(lab.gateway_addresses)
    assert first.final_code == second.final_code == 200


@pytest.mark.parametrize("auth", ["ip", "proxy", "header"])
async def test_outbound_call_for_each_auth_method(lab: Lab, auth: str):
    call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth=auth), hold_s=1.5)
    assert (call.state, call.final_code, call.auth_method) == ("ended", 200, auth)
    assert call.heard == {"pstn": True, "pbx": True}
    assert 401 not in codes_received(call, "pbx") and 403 not in codes_received(call, "pbx")
    invite = next(m for m in call.messages if m.agent == "pbx" and m.event == "tx")
    pbx, roaming = lab.account.party("pbx"), lab.account.party("pbx_roaming")
    assert invite.src.startswith((pbx if auth == "ip" else roaming).ip + ":")
    if auth == "proxy":
        assert 407 in codes_received(call, "pbx")
        second_invite = [m for m in call.messages if m.agent == "gateway" and m.event == "rx" and m.first_line.startswith("INVITE")][1]
        assert "Proxy-Authorization: Digest" in second_invite.text
    if auth == "header":
        assert "X-Auth-VoipToken:" in invite.text  # the token travels in clear text, as the seed warns


@pytest.mark.parametrize("auth", ["proxy", "header"])
async def test_wrong_token_is_401(lab: Lab, auth: str):
    call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth=auth, voip_token="not-the-token"))
    assert (call.state, call.final_code) == ("failed", 401)
    assert "PSTN" not in str([m.dst for m in call.messages])  # nothing was routed
    assert not any(m.agent == "pstn" for m in call.messages)


@pytest.mark.parametrize("missing", ["X-Auth-VoipToken", "X-Auth-EndpointSid"])
async def test_one_header_missing_is_401(lab: Lab, missing: str):
    call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth="header", omit_header=missing))
    assert call.final_code == 401
    assert any(f"{missing} is missing" in d.cause for d in call.decisions)


async def test_restricted_source_is_403(lab: Lab):
    pbx_endpoint = lab.account.third_party_endpoints[0]
    static_ip = lab.account.party("pbx").ip
    await lab.store.update_endpoint(pbx_endpoint.endpoint_sid, attributes=EndpointAttributes(ip_restrictions=(static_ip,)))
    await lab.wait_until(lambda: lab.account.third_party_endpoints[0].attributes.ip_restrictions, 3)
    await asyncio.sleep(0.2)  # let the gateways apply the pushed account
    call = await lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth="proxy"))
    assert call.final_code == 403
    assert not any(m.agent == "pstn" for m in call.messages)


async def test_unassigned_number_is_404_until_assigned(lab: Lab):
    call = await lab.run_call(await lab.place_inbound("12025550199"))
    assert call.final_code == 404
    assert any("not assigned to a trunk group" in d.cause for d in call.decisions)
    # the fix, applied live: no restart
    account = await lab.store.account()
    spare = next(d for d in account.dids if d.trunk_group_sid is None)
    await lab.store.assign_did(spare.did_sid, account.trunk_groups[0].trunk_group_sid)
    await asyncio.sleep(0.3)
    call = await lab.run_call(await lab.place_inbound("12025550199"), hold_s=0.2)
    assert call.final_code == 200


async def test_firewall_drop_times_out_at_the_gateway(lab: Lab):
    second_gateway = lab.account.system_gateway.addresses[1]
    rule = next(r for r in lab.account.firewall_rules if r.cidr == f"{second_gateway.ip}/32")
    await lab.store.remove_firewall_rule(rule.rule_id)
    await asyncio.sleep(0.3)
    blocked = await lab.run_call(await lab.place_inbound("12025550100", via=second_gateway.ip))
    assert (blocked.state, blocked.final_code) == ("failed", 408)
    assert not any(m.agent == "pbx" for m in blocked.messages)  # the PBX never saw a datagram
    drops = blocked.drops()
    assert drops and all(f"no rule allows {second_gateway.ip}" in d.note for d in drops)
    assert len([m for m in blocked.messages if m.agent == "gateway" and m.event == "tx" and m.first_line.startswith("INVITE")]) >= 2  # retransmitted
    # the other gateway address still gets through: the intermittent failure of real life
    allowed = await lab.run_call(await lab.place_inbound("12025550100", via=lab.account.system_gateway.addresses[0].ip), hold_s=0.2)
    assert allowed.final_code == 200


async def test_killed_agent_is_restarted_and_the_next_call_succeeds(lab: Lab):
    name = f"gateway {lab.account.system_gateway.addresses[0].ip}"
    old_pid = lab.supervisor.pid(name)
    os.kill(old_pid, signal.SIGKILL)
    assert await lab.wait_until(lambda: lab.supervisor.pid(name) not in (None, old_pid) and lab.agent_states[name] == "up", 2.0)
    await asyncio.sleep(0.2)  # the account is pushed right after 'up'
    call = await lab.run_call(await lab.place_inbound("12025550100", via=name.split()[1]), hold_s=0.2)
    assert call.final_code == 200


async def test_agent_killed_mid_call_fails_the_call_with_the_reason(lab: Lab):
    call = await lab.place_inbound("12025550100", via=lab.account.system_gateway.addresses[0].ip)
    await lab.wait_until(lambda: call.state == "answered", 5)
    name = f"gateway {lab.account.system_gateway.addresses[0].ip}"
    os.kill(lab.supervisor.pid(name), signal.SIGKILL)
    await lab.wait_until(lambda: call.finished, 5)
    assert call.finished and any("killed by SIGKILL" in n for n in call.notes)
    await lab.hangup(call.ref)


async def test_gateway_beyond_capacity_refuses_cleanly(lab: Lab):
    via = lab.account.system_gateway.addresses[0].ip
    calls = [await lab.place_inbound("12025550100", via=via) for _ in range(3)]
    await lab.wait_until(lambda: all(c.state in ("answered", "failed") for c in calls), 8)
    states = sorted((c.state, c.final_code) for c in calls)
    assert states == [("answered", 200), ("answered", 200), ("failed", 503)]
    for c in calls:
        await lab.hangup(c.ref)
    await lab.wait_until(lambda: all(c.finished for c in calls), 5)


async def test_nonsense_sip_never_crashes_the_gateway(lab: Lab):
    gateway = lab.account.system_gateway.addresses[0]
    junk = [
        b"\x00\xff garbage",
        b"HELLO WORLD\r\n\r\n",
        b"INVITE sip:12025550100@x SIP/2.0\r\n\r\n",  # no mandatory headers
        (b"INVITE sip:not-a-number@" + gateway.ip.encode() + b" SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.99:5099;branch=z9hG4bK1\r\n"
         b"From: <sip:x@127.0.0.99>;tag=1\r\nTo: <sip:y@127.0.0.2>\r\nCall-ID: junk-1\r\nCSeq: 1 INVITE\r\n"
         b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.99", 0))
        for datagram in junk:
            sock.sendto(datagram, (gateway.ip, gateway.port))
    await asyncio.sleep(0.5)
    assert lab.agent_states[f"gateway {gateway.ip}"] == "up"
    call = await lab.run_call(await lab.place_inbound("12025550100", via=gateway.ip), hold_s=0.2)
    assert call.final_code == 200


async def test_unknown_gateway_address_is_a_clear_error(lab: Lab):
    with pytest.raises(LabError, match="not a System Gateway address"):
        await lab.place_inbound("12025550100", via="127.0.0.250")


async def test_an_aborting_agent_is_reported_and_restarted(lab: Lab):
    heard: list[AgentStateChanged] = []
    lab.subscribe(lambda event: heard.append(event)
                  if isinstance(event, AgentStateChanged) and event.agent == "pstn" else None)
    old_pid = lab.supervisor.pid("pstn")
    await lab.supervisor.send("pstn", {"cmd": "crash"})  # os.abort(), as a pjsua assertion does
    assert await lab.wait_until(lambda: lab.supervisor.pid("pstn") not in (None, old_pid)
                                and lab.agent_states["pstn"] == "up", 3.0)
    crashed = next(e for e in heard if e.state == "crashed")
    assert crashed.detail in ("killed by SIGABRT; restarting in 0.1 s", "killed by SIGABRT; restarting in 0.25 s")
    call = await lab.run_call(await lab.place_inbound("12025550100"), hold_s=0.2)
    assert call.final_code == 200


async def test_no_agent_command_line_holds_a_secret(lab: Lab):
    """`ps` shows every process's arguments to every user: neither a VoIP token nor the
    gateway's nonce key may be among them (the key is made inside the agent; the account
    reaches the agents over their pipe)."""
    tokens = {e.voip_token for e in lab.account.endpoints if e.voip_token}
    if lab.account.pbx_trunk:
        tokens.add(lab.account.pbx_trunk.voip_token)
    assert tokens
    for name in lab.supervisor.states:
        pid = lab.supervisor.pid(name)
        assert pid is not None, name
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().decode(errors="replace").lower()
        assert not any(token.lower() in words for token in tokens), name
        assert "secret" not in words and "nonce" not in words, (name, words)
