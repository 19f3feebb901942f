"""What a trunk carries besides a plain call, through real agents and the gateway's edge:
delayed offer, early media, RFC 4733 digits, hold and resume, caller ID, stuck B legs."""

from __future__ import annotations

import asyncio

import pytest

from sip.lab import Lab, LabError
from sip.sipmsg import parse_message

pytestmark = pytest.mark.agents

PSTN_NUMBER = "14155550123"
DID = "12025550100"


def sdp_of(call, agent: str, event: str, first_line_start: str) -> str:
    """The body of the last such message (a 407's ACK comes before the 200's)."""
    message = [m for m in call.messages if m.agent == agent and m.event == event
               and m.first_line.startswith(first_line_start)
               and parse_message(m.text).cseq_method in ("INVITE", "ACK")][-1]
    return message.text.split("\r\n\r\n", 1)[1]


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
async def test_delayed_offer_gets_the_gateways_offer_in_the_200_and_audio_both_ways(lab: Lab, direction: str):
    placing = (lab.place_inbound(DID, delayed_offer=True) if direction == "inbound"
               else lab.place_outbound(PSTN_NUMBER, auth="proxy", delayed_offer=True))
    call = await lab.run_call(await placing, hold_s=1.2)
    caller = "pstn" if direction == "inbound" else "pbx"
    invites = [m for m in call.messages if m.agent == caller and m.event == "tx" and m.first_line.startswith("INVITE")]
    assert invites and all("\r\n\r\nv=0" not in m.text for m in invites)  # no offer in any INVITE
    assert "m=audio" in sdp_of(call, caller, "rx", "SIP/2.0 200")  # the gateway's offer
    assert "m=audio" in sdp_of(call, caller, "tx", "ACK")  # the caller's answer
    assert (call.final_code, call.heard) == (200, {"pstn": True, "pbx": True})


async def test_early_media_reaches_the_caller_with_sdp_and_flows_both_ways_before_the_answer(lab: Lab):
    # a B leg that rings (183) may take the ring timeout to answer, not the tests' 1.5 s; 6 s
    # leaves the tone detectors time on a loaded machine (3 s was once too short in CI)
    await lab.set_answering("pbx", early_media_s=6.0)
    call = await lab.place_inbound(DID)
    when_heard: dict[str, object] = {}

    def heard_both_ways() -> bool:  # the call's state at the moment both tones were heard
        if call.heard.get("pstn") and call.heard.get("pbx"):
            when_heard.setdefault("state", call.state)
            when_heard.setdefault("answered_at", call.answered_at)
            return True
        return False

    assert await lab.wait_until(heard_both_ways, 5.9)
    assert when_heard == {"state": "ringing", "answered_at": None}  # heard both ways before any 200
    progress = next(m for m in call.messages if m.agent == "pstn" and m.event == "rx"
                    and m.first_line.startswith("SIP/2.0 183"))
    assert "m=audio" in progress.text
    call = await lab.run_call(call, hold_s=0.3)
    assert call.final_code == 200


@pytest.mark.parametrize(("direction", "digits"), [("inbound", "1234"), ("outbound", "#9*0")])
async def test_dtmf_digits_cross_the_gateway_as_telephone_events(lab: Lab, direction: str, digits: str):
    placing = (lab.place_inbound(DID, dtmf=digits) if direction == "inbound"
               else lab.place_outbound(PSTN_NUMBER, auth="ip", dtmf=digits))
    call = await lab.run_call(await placing, hold_s=2.0)
    caller, callee = ("pstn", "pbx") if direction == "inbound" else ("pbx", "pstn")
    assert call.digits(caller, "tx") == digits
    assert call.digits("gateway", "rx") == digits and call.digits("gateway", "tx") == digits  # regenerated
    assert call.digits(callee, "rx") == digits
    negotiated = sdp_of(call, callee, "rx", "INVITE")
    assert "telephone-event" in negotiated
    callee_leg = next(leg for (agent, _), leg in call.legs.items() if agent == callee)
    assert callee_leg.dtmf_rx == digits  # in the CDR's per-leg figures too


async def test_hold_and_resume_are_relayed_and_the_audio_stops_and_comes_back(lab: Lab):
    call = await lab.place_inbound(DID)
    assert await lab.wait_until(lambda: call.state == "answered", 5.0)

    def received(agent: str) -> int:  # RTP packets this party has received so far
        return sum(leg.rx.pkt for (who, _), leg in call.legs.items() if who == agent)

    await asyncio.sleep(1.1)
    await lab.hold(call.ref)
    assert await lab.wait_until(lambda: ("pbx", "remote_hold") in {(a, s) for _, a, s in call.holds}, 3.0)
    await asyncio.sleep(0.6)  # a media report after the hold took effect (a re-INVITE may restart the counters)
    on_hold = received("pstn")
    await asyncio.sleep(1.1)
    assert received("pstn") - on_hold <= 2  # the PBX, held by the gateway, sends nothing
    await lab.hold(call.ref, on=False)
    assert await lab.wait_until(lambda: [s for _, a, s in call.holds if a == "pbx"][-1] == "active", 3.0)
    await asyncio.sleep(0.6)
    resumed = received("pstn")
    await asyncio.sleep(1.1)
    assert received("pstn") - resumed > 30  # 50 packets a second again
    reinvites = [m for m in call.messages if m.agent == "gateway" and m.event == "tx" and m.first_line.startswith("INVITE")
                 and "a=sendonly" in m.text]
    assert reinvites  # the gateway's own re-INVITE towards the PBX
    await lab.hangup(call.ref)
    await lab.wait_until(lambda: call.finished, 5.0)


async def test_hold_needs_an_answered_call(lab: Lab):
    with pytest.raises(LabError, match="not answered"):
        await lab.hold("no-such-call")


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
async def test_caller_id_reaches_the_far_end_in_e164_with_p_asserted_identity(lab: Lab, direction: str):
    placing = (lab.place_inbound(DID) if direction == "inbound" else lab.place_outbound(PSTN_NUMBER, auth="ip"))
    call = await lab.run_call(await placing, hold_s=0.3)
    callee = "pbx" if direction == "inbound" else "pstn"
    caller_number = call.from_number  # sent without '+' by the lab's caller
    assert not caller_number.startswith("+")
    assert call.caller_ids[callee] == (f"+{caller_number}", f"+{caller_number}")


async def test_a_silent_target_is_ended_at_the_timeout_and_frees_its_slot(lab: Lab):
    """The PBX firewall drops the gateway's INVITE: the caller gets 408 at the B leg timeout,
    the gateway stops retransmitting at once, and the next call through it succeeds."""
    gateway = lab.gateway_addresses[1]
    rule = next(r for r in lab.account.firewall_rules if r.cidr.startswith(gateway.split(":")[0]))
    await lab.store.remove_firewall_rule(rule.rule_id)
    await asyncio.sleep(0.3)
    call = await lab.run_call(await lab.place_inbound(DID, via=gateway), answer_timeout_s=4.0)
    assert call.final_code == 408
    timed_out_at = next(m.t for m in call.messages if m.agent == "gateway" and m.first_line.startswith("SIP/2.0 408"))
    await asyncio.sleep(2.5)  # T1 retransmissions would come at 0.5, 1, 2, 4 s
    invites = [m for m in call.messages if m.agent == "gateway" and m.event == "tx" and m.first_line.startswith("INVITE")]
    assert invites and max(m.t for m in invites) < timed_out_at  # nothing after the 408
    await lab.store.add_firewall_rule(rule.cidr)
    await asyncio.sleep(0.3)
    for _ in range(3):  # the B legs that timed out hold no slot: three calls in a row go through
        again = await lab.run_call(await lab.place_inbound(DID, via=gateway), hold_s=0.2)
        assert again.final_code == 200


async def test_only_the_carriers_gateways_reach_the_pstn(lab: Lab):
    """The PSTN is the carrier's own network: a stranger's OPTIONS gets nothing, the same from
    the gateway's own address (a socket of the test's, bound beside the edge) gets an answer."""
    import socket

    pstn = lab.account.party("pstn")
    gateway_ip = lab.gateway_addresses[0].split(":")[0]
    stranger_ip = gateway_ip.rsplit(".", 1)[0] + ".50"

    def options_from(ip: str) -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ip, 0))
            sock.settimeout(1.0)
            port = sock.getsockname()[1]
            sock.sendto((f"OPTIONS sip:probe@{pstn.ip} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKprobe\r\n"
                         f"From: <sip:probe@{ip}>;tag=1\r\nTo: <sip:probe@{pstn.ip}>\r\nCall-ID: probe-{ip}\r\n"
                         "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(), (pstn.ip, pstn.port))
            try:
                return sock.recv(4096)
            except TimeoutError:
                return None

    assert await asyncio.to_thread(options_from, stranger_ip) is None
    answer = await asyncio.to_thread(options_from, gateway_ip)
    assert answer is not None and answer.startswith(b"SIP/2.0 200")
