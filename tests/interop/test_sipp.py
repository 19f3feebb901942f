"""Interop: SIPp, an independent SIP implementation, against the lab's System Gateway.

SIPp plays a customer device (header auth, digest auth) and a third-party PBX (answering an
inbound call and echoing its RTP). Only loopback addresses: -i and -mi are always given.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from sip.lab import Lab
from store import EndpointAttributes

SIPP = shutil.which("sipp") or "sipp"

pytestmark = [pytest.mark.sipp, pytest.mark.agents]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
FILLER = "Subject: trunklab interop"  # a harmless header for an unused [h1]/[h2] slot


def host(lab: Lab, n: int) -> str:
    """Host .n of the lab's own loopback block (SIPp gets an address no agent uses)."""
    pbx_ip = lab.account.party("pbx").ip
    return pbx_ip.rsplit(".", 1)[0] + f".{n}"


async def sipp(cwd: Path, *args: str, timeout: float = 25) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        SIPP, *args, "-nostdin", "-m", "1", "-timeout", "20s", "-timeout_error", "-trace_err",
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    errors = "".join(p.read_text(errors="replace") for p in cwd.glob("*_errors.log"))
    return process.returncode, out.decode(errors="replace")[-2000:] + errors[-2000:]


def uac(lab: Lab, scenario: str, *extra: str, h1: str = FILLER, h2: str = FILLER) -> list[str]:
    gateway = lab.account.system_gateway.addresses[0]
    me = host(lab, 30)
    return ["-sf", str(SCENARIOS / scenario), "-i", me, "-p", "5070", "-mi", me, "-mp", "6030", "-d", "500",
            "-s", "14155550123", "-key", "h1", h1, "-key", "h2", h2, *extra, f"{gateway.ip}:{gateway.port}"]


def pbx_endpoint(lab: Lab):
    return lab.account.third_party_endpoints[0]


async def test_header_auth_from_sipp_is_routed_to_the_pstn(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    code, output = await sipp(tmp_path, *uac(lab, "uac_call.xml", h1=f"X-Auth-EndpointSid: {endpoint.endpoint_sid}",
                                              h2=f"X-Auth-VoipToken: {endpoint.voip_token}"))
    assert code == 0, output
    await asyncio.sleep(0.3)
    (call,) = [c for c in lab.book.calls.values() if c.external]
    assert call.auth_method == "header" and call.final_code == 200
    assert any(m.agent == "pstn" and m.first_line.startswith("INVITE") for m in call.messages)


async def test_header_auth_with_a_wrong_token_gets_401_from_sipp_view(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    code, output = await sipp(tmp_path, *uac(lab, "uac_refused.xml", h1=f"X-Auth-EndpointSid: {endpoint.endpoint_sid}",
                                              h2="X-Auth-VoipToken: 00000000-0000-0000-0000-000000000000"))
    assert code == 0, output  # the scenario only succeeds on a 401
    assert not any(m.agent == "pstn" for c in lab.book.calls.values() for m in c.messages)


async def test_digest_auth_through_a_407_challenge(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    code, output = await sipp(tmp_path, *uac(lab, "uac_call.xml", "-au", endpoint.endpoint_sid, "-ap", endpoint.voip_token))
    assert code == 0, output
    await asyncio.sleep(0.3)
    (call,) = [c for c in lab.book.calls.values() if c.external]
    assert call.auth_method == "proxy" and call.final_code == 200
    invites = [m for m in call.messages if m.agent == "gateway" and m.event == "rx" and m.first_line.startswith("INVITE")]
    assert len(invites) == 2 and "Proxy-Authorization:" in invites[1].text


async def test_digest_with_a_wrong_password_is_not_routed(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    code, _ = await sipp(tmp_path, *uac(lab, "uac_call.xml", "-au", endpoint.endpoint_sid, "-ap", "wrong"))
    assert code != 0  # SIPp expected a 200 and got 401
    await asyncio.sleep(0.3)
    (call,) = [c for c in lab.book.calls.values() if c.external]
    assert any(d.status == 401 for d in call.decisions)
    assert not any(m.agent == "pstn" for m in call.messages)


async def test_sipp_as_the_pbx_answers_an_inbound_call_and_echoes_rtp(lab: Lab, tmp_path: Path):
    # Point the endpoint at SIPp instead of the lab's PBX agent (SIPp has no firewall of ours).
    endpoint = pbx_endpoint(lab)
    sipp_ip = host(lab, 12)
    await lab.store.remove_endpoint_address(endpoint.addresses[0].address_id)
    await lab.store.add_endpoint_address(endpoint.endpoint_sid, sipp_ip, port=5060)
    await asyncio.sleep(0.3)
    uas = asyncio.create_task(sipp(tmp_path, "-sn", "uas", "-i", sipp_ip, "-p", "5060", "-mi", sipp_ip,
                                   "-mp", "6012", "-rtp_echo"))
    await asyncio.sleep(0.5)  # let SIPp bind
    call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=2.0)
    code, output = await uas
    assert code == 0, output
    assert call.final_code == 200
    pstn_leg = next(leg for (agent, _), leg in call.legs.items() if agent == "pstn")
    assert pstn_leg.rx.pkt > 30  # the PSTN's own audio came back through the gateway from SIPp
    assert not call.heard.get("pstn")  # an echo carries the PSTN's own tone, not a PBX tone
