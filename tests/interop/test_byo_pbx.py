"""Bring your own PBX: the built-in PBX switched off, and SIPp (an implementation nobody here
wrote) as the customer's PBX on the addresses of the third-party endpoint. Also the gateway's
per-endpoint `capacity` and its failover to an endpoint's next address by priority, judged from
SIPp's own message log. baresip and linphone, configured by `pbx-config`: test_pbx_config.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sip.lab import PSTN_TEST_NUMBER, Lab
from sip.ladder import columns, rungs
from store import AddressPlan, Store
from tests.conftest import next_block
from tests.support.labpeers import Watch, add_peer_address, change_account, gateway, host, pbx_endpoint
from tests.support.sipp import Sipp, run_sipp, scenario

pytestmark = [pytest.mark.sipp, pytest.mark.agents]
ROOT = Path(__file__).resolve().parent.parent.parent


async def your_own_pbx(lab: Lab, ip: str, port: int = 5060, *, outbound_port: int | None = None,
                       direction: str = "any") -> None:
    """The built-in PBX off, and ip:port the endpoint's only address (plus ip:outbound_port for
    the calls it places, when given): what a PBX admin does before connecting a real PBX.
    direction 'inbound': its calls from there are not authenticated by IP (proxy or header)."""
    endpoint = pbx_endpoint(lab)

    async def change():
        await lab.store.set_builtin_pbx(False)
        for address in endpoint.addresses:
            await lab.store.remove_endpoint_address(address.address_id)
        await lab.store.add_endpoint_address(endpoint.endpoint_sid, ip, port=port, direction=direction)
        if outbound_port is not None:
            await lab.store.add_endpoint_address(endpoint.endpoint_sid, ip, port=outbound_port, direction="outbound")

    await change_account(lab, change)
    assert await lab.wait_until(lambda: "pbx" not in lab.agent_states, 8.0), lab.agent_states


def can_bind(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def uas(folder: Path, name: str, ip: str, *extra: str, calls: int = 1, timeout_s: float = 15) -> Sipp:
    return Sipp(folder, "-sf", scenario(name), "-i", ip, "-p", "5060", "-mi", ip, "-mp", "6010", "-rtp_echo",
                "-m", str(calls), *extra, timeout_s=timeout_s)


# ---------------------------------------------------------------------- the switch

async def test_switching_the_built_in_pbx_off_stops_its_agent_and_frees_its_addresses(lab: Lab):
    pbx = lab.account.party("pbx")
    assert not can_bind(pbx.ip, pbx.port)  # the built-in PBX holds it
    pid = lab.supervisor.pid("pbx")
    await your_own_pbx(lab, pbx.ip)
    assert can_bind(pbx.ip, pbx.port) and can_bind(lab.account.party("pbx_roaming").ip, pbx.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    await change_account(lab, lambda: lab.store.set_builtin_pbx(True))
    assert await lab.wait_until(lambda: lab.agent_states.get("pbx") == "up" and "pbx" in lab._configured, 10.0)
    call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=1.5)
    assert call.final_code == 200 and call.heard.get("pbx") and call.heard.get("pstn"), (call.final_code, call.heard)


async def test_with_the_built_in_pbx_off_the_lab_places_no_outbound_call_itself(lab: Lab):
    from sip.lab import LabError

    await your_own_pbx(lab, host(lab, 12))
    with pytest.raises(LabError, match=r"outbound calls come from your own PBX.*\+14155550123"):
        await lab.place_outbound(PSTN_TEST_NUMBER, auth="ip")


# ---------------------------------------------------------------------- SIPp as your PBX

async def test_sipp_as_your_pbx_answers_after_ringing_and_audio_is_judged_both_ways(lab: Lab, tmp_path: Path):
    pbx_ip = lab.account.party("pbx").ip  # the address the built-in PBX gave back
    await your_own_pbx(lab, pbx_ip)
    sipp = uas(tmp_path, "uas_delayed_answer.xml", pbx_ip, "-d", "2500")
    await sipp.start()
    try:
        await asyncio.sleep(0.4)  # SIPp binds
        call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=2.0, answer_timeout_s=12)
        run = await sipp.finish()
    finally:
        await sipp.kill()
    assert run.returncode == 0, run.explain()
    assert call.final_code == 200 and call.setup_ms is not None and call.setup_ms >= 2400, (call.final_code,
                                                                                           call.setup_ms)
    assert [m.status for m in run.messages if m.sent and m.status] == [100, 180, 200, 200]  # the last: its BYE
    assert call.heard == {"pstn": True, "pbx": True}, call.audio_evidence
    assert "loud" in call.audio_evidence["pstn"] and "gateway sent your PBX" in call.audio_evidence["pbx"]
    cols = columns(lab.account)
    assert [c.label for c in cols][-1] == "YOUR PBX" and "FIREWALL" not in [c.label for c in cols]
    labels = [(cols[r.src].label if r.src >= 0 else "?", cols[r.dst].label if r.dst >= 0 else "?", r.label)
              for r in rungs(call, cols)]
    assert any(src == "YOUR PBX" and label == "180 Ringing" for src, _, label in labels), labels
    assert any(dst == "YOUR PBX" and label.startswith("INVITE") for _, dst, label in labels), labels
    assert not call.drops()  # no lab firewall stands in front of your PBX


async def test_sipp_as_your_pbx_that_sends_silence_fails_audio_both_ways(lab: Lab, tmp_path: Path):
    """Without -rtp_echo SIPp answers but sends no RTP: the call connects, and the lab says the
    PSTN heard nothing from your PBX (packets counted, not the lab's tone)."""
    pbx_ip = host(lab, 12)
    await your_own_pbx(lab, pbx_ip)
    sipp = Sipp(tmp_path, "-sf", scenario("uas_delayed_answer.xml"), "-i", pbx_ip, "-p", "5060", "-mi", pbx_ip,
                "-mp", "6010", "-d", "200", "-m", "1", timeout_s=10)
    await sipp.start()
    try:
        await asyncio.sleep(0.4)
        call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=2.0)
        await sipp.finish()
    finally:
        await sipp.kill()
    assert call.final_code == 200
    assert call.heard.get("pstn") is False, call.audio_evidence
    assert "too little from gateway got from your PBX" in call.audio_evidence["pstn"]
    assert call.heard.get("pbx") is True  # the PSTN's tone did go out to it


async def _prepare_cli_lab(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "byo.db"
    async with await Store.open(path, plan=AddressPlan.in_block(next_block())) as store:
        account = await store.account()
        endpoint = account.pbx_endpoint()
        pbx_ip = account.party("pbx").ip
        document = {"builtin_pbx": False, "endpoints": [{
            "endpoint_sid": endpoint.endpoint_sid, "name": endpoint.name, "voip_token": endpoint.voip_token,
            "addresses": [{"ip": pbx_ip, "port": 5060}, {"ip": pbx_ip, "port": 5070, "direction": "outbound"}]}]}
        await store.apply(document)
    return path, pbx_ip


async def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    process = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "app.py"), *args, cwd=ROOT,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


async def test_call_command_with_sipp_as_your_pbx_exits_0_on_audio_both_ways(tmp_path: Path):
    db, pbx_ip = await _prepare_cli_lab(tmp_path)
    sipp = uas(tmp_path, "uas_delayed_answer.xml", pbx_ip, "-d", "1000", timeout_s=30)
    await sipp.start()
    try:
        await asyncio.sleep(0.4)
        result = await _cli("call", "inbound", "--to", "+1 202 555 0100", "--hold", "2", "--db", str(db))
        run = await sipp.finish()
    finally:
        await sipp.kill()
    assert result.returncode == 0, result.stdout + result.stderr + run.explain()
    assert "YOUR PBX" in result.stdout and "180 Ringing" in result.stdout
    assert "your PBX -> PSTN   audio (" in result.stdout and "PSTN -> your PBX   audio (" in result.stdout
    assert "far tone" not in result.stdout  # no lab tone at your PBX's end: judged by energy
    refused = await _cli("call", "outbound", "--to", "+14155550123", "--db", str(db))
    assert refused.returncode == 2 and "outbound calls come from your own PBX" in refused.stderr


async def test_check_with_sipp_as_your_pbx_passes_all_four_items(tmp_path: Path):
    """`check --wait`: SIPp answers the two inbound probes (one through each gateway address)
    and, as the PBX, places an outbound call by IP from its outbound endpoint address."""
    db, pbx_ip = await _prepare_cli_lab(tmp_path)
    async with await Store.open(db) as store:
        account = await store.account()
    gw = account.system_gateway.addresses[0]
    answering = uas(tmp_path, "uas_delayed_answer.xml", pbx_ip, "-d", "500", calls=2, timeout_s=40)
    await answering.start()
    check = asyncio.create_task(_cli("check", "--wait", "30", "--db", str(db), timeout=120))
    try:
        for _ in range(300):  # the lab is up once its gateways hold their addresses
            if not can_bind(gw.ip, gw.port) and not can_bind(account.party("pstn").ip, 5060):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # and have taken the account
        calling = await run_sipp(tmp_path, "-sf", scenario("uac_call.xml"), "-i", pbx_ip, "-p", "5070", "-mi", pbx_ip,
                                 "-mp", "6030", "-rtp_echo", "-d", "2000", "-s", PSTN_TEST_NUMBER, "-m", "1",
                                 "-key", "h1", "Subject: trunklab", "-key", "h2", "Subject: trunklab",
                                 f"{gw.ip}:{gw.port}", timeout_s=10)
        result = await check
        await answering.finish()
    finally:
        await answering.kill()
        if not check.done():
            check.cancel()
    assert calling.returncode == 0, calling.explain()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification Checklist (your own PBX)" in result.stdout
    assert result.stdout.count("[x]") == 4
    assert f"from the System Gateway addresses {', '.join(a.ip for a in account.system_gateway.addresses)}" in \
        result.stdout


async def test_check_with_your_pbx_silent_says_where_to_look(tmp_path: Path):
    db, pbx_ip = await _prepare_cli_lab(tmp_path)
    result = await _cli("check", "--json", "--db", str(db))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    inbound, outbound = report["items"][0], report["items"][1]
    assert report["builtin_pbx"] is False and "yours to configure" in report["firewall"]
    assert inbound["status"] == "fail" and "408" in inbound["detail"]
    assert f"check that your PBX listens on {pbx_ip}:5060" in inbound["fix"]
    assert outbound["status"] == "unknown" and "dial +1 415 555 0123 from it" in outbound["detail"]


# ---------------------------------------------------------------------- capacity and failover

async def test_an_endpoint_at_its_capacity_gets_503_through_either_gateway_address(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    await change_account(lab, lambda: lab.store.update_endpoint(endpoint.endpoint_sid, capacity=1))
    await add_peer_address(lab, host(lab, 30), 5070)  # SIPp calls from here, by IP
    first = await lab.place_inbound(lab.test_number(), via=gateway(lab, 0))
    try:
        assert await lab.wait_until(lambda: first.state == "answered", 8.0), (first.state, first.final_code)
        second = await lab.run_call(await lab.place_inbound(lab.test_number(), via=gateway(lab, 1)), hold_s=0)
        gw = lab.account.system_gateway.addresses[0]
        me = host(lab, 30)
        run = await run_sipp(tmp_path, "-sf", scenario("uac_beyond_capacity.xml"), "-i", me, "-p", "5070", "-mi", me,
                             "-mp", "6030", "-s", PSTN_TEST_NUMBER, "-m", "1", f"{gw.ip}:{gw.port}", timeout_s=5)
    finally:
        await lab.hangup(first.ref)
        await lab.wait_until(lambda: first.finished, 5.0)
    assert second.final_code == 503, (second.final_code, second.final_reason)
    assert any("'Acme PBX' is at its capacity (1 call at once" in d.cause for d in second.decisions)
    assert run.returncode == 0, run.explain()  # the scenario only succeeds on a 503
    answer = next(m for m in run.messages if not m.sent and m.status == 503)
    assert answer.header("Retry-After") == "5" and "at its capacity" in (answer.header("Warning") or "")
    assert await lab.wait_until_idle(10.0)  # the gateways have let the first call go too
    after = await lab.run_call(await lab.place_inbound(lab.test_number(), via=gateway(lab, 1)), hold_s=0.5)
    assert after.final_code == 200  # the first call ended: room again


async def test_failover_to_the_next_address_by_priority(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    down = host(lab, 12)
    builtin = endpoint.addresses[0]

    async def priorities():
        await lab.store.update_endpoint_address(builtin.address_id, priority=1)
        await lab.store.add_endpoint_address(endpoint.endpoint_sid, down, priority=0)

    await change_account(lab, priorities)
    sipp = uas(tmp_path, "uas_unavailable.xml", down, timeout_s=10)
    await sipp.start()
    try:
        await asyncio.sleep(0.4)
        call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=1.0)
        run = await sipp.finish()
    finally:
        await sipp.kill()
    assert run.returncode == 0, run.explain()
    assert [m.status for m in run.messages if m.sent] == [503]
    b_legs = [m.dst for m in call.messages if m.agent == "gateway" and m.event == "tx"
              and m.first_line.startswith("INVITE")]
    assert b_legs == [f"{down}:5060", f"{builtin.ip}:{builtin.port}"], b_legs
    assert call.final_code == 200 and call.heard == {"pstn": True, "pbx": True}

    await change_account(lab, lambda: lab.store.update_endpoint_address(builtin.address_id, priority=0))
    down_address = next(a for a in lab.account.endpoint(endpoint.endpoint_sid).addresses if a.ip == down)
    await change_account(lab, lambda: lab.store.update_endpoint_address(down_address.address_id, priority=2))
    again = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=0.5)
    first_try = [m.dst for m in again.messages if m.agent == "gateway" and m.event == "tx"
                 and m.first_line.startswith("INVITE")]
    assert first_try == [f"{builtin.ip}:{builtin.port}"] and again.final_code == 200


# ---------------------------------------------------------------------- a new customer's account

async def test_the_lab_runs_on_a_blank_account_and_the_checklist_says_what_is_missing(lab: Lab):
    await lab.store.reset(blank=True)
    assert await lab.wait_until(lambda: not lab.account.third_party_endpoints, 5.0)
    items, calls = await lab.run_checklist()
    assert [item.status for item in items] == ["fail"] * 4
    assert all(item.cause == "there is no third-party endpoint for your PBX yet" for item in items)
    assert items[0].fix.startswith("Endpoints -> Add New Endpoint")
    inbound = [c for c in calls if c.direction == "inbound"]
    assert inbound and all(c.final_code == 404 for c in inbound)  # the numbers exist, nothing routes them
    outbound = [c for c in calls if c.direction == "outbound"]
    # a new customer's PBX firewall is empty: even the gateway's answers to the PBX's own
    # INVITEs are dropped (the lab's firewall is stateless, as simple packet filters are)
    assert sorted(c.requested_auth for c in outbound) == ["header", "ip", "proxy"]
    assert all(c.final_code == 408 and c.drops() for c in outbound), [(c.final_code, len(c.drops())) for c in outbound]
    assert all(state == "up" for state in lab.agent_states.values()), lab.agent_states
