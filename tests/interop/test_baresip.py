"""Interop: baresip, a real softphone nobody here wrote, places calls through the System Gateway.

baresip runs headless on host .60 of the lab's block: not an endpoint address, so the gateway
challenges it and it authenticates by proxy digest with the endpoint SID and VoIP token, as a
PBX admin would configure a softphone on the trunk. Its microphone is a 1400 Hz sine (the lab's
PBX tone, which the PSTN agent listens for); what it hears is recorded to a wav and judged with
the lab's own Goertzel detector for the PSTN's 1004 Hz tone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sip.lab import PSTN_TEST_NUMBER, Lab
from sip.tone import PBX_TONE_HZ, PSTN_TONE_HZ
from tests.support.baresip import Baresip, tone_in_wav
from tests.support.labpeers import PstnLegs, gateway, host, pbx_endpoint

pytestmark = [pytest.mark.baresip, pytest.mark.agents]


def softphone(lab: Lab, folder: Path, *, token: str | None = None) -> Baresip:
    endpoint = pbx_endpoint(lab)
    return Baresip(
        folder, host(lab, 60), account=f"sip:{endpoint.endpoint_sid}@{gateway(lab)}",
        auth_user=endpoint.endpoint_sid, auth_pass=token if token is not None else endpoint.voip_token,
        tone_hz=PBX_TONE_HZ,
    )


async def test_baresip_places_a_proxy_digest_call_and_hears_the_pstn_tone(lab: Lab, tmp_path: Path):
    async with softphone(lab, tmp_path / "baresip") as phone:
        await phone.dial(f"sip:{PSTN_TEST_NUMBER}@{gateway(lab)}")
        established = await phone.wait_for_event("CALL_ESTABLISHED", "CALL_CLOSED")
        assert established is not None and established["type"] == "CALL_ESTABLISHED", (established, phone.log_tail())
        await asyncio.sleep(2.0)
        await phone.hangup()
        assert await phone.wait_for_event("CALL_CLOSED", timeout_s=5) is not None, phone.log_tail()
        await asyncio.sleep(0.3)  # the answer to its BYE
        trace = phone.sip_trace()
        recording = phone.received_audio()
    # libre re-sends its Proxy-Authorization (same nonce, nc 2 and 3) in the ACK and the BYE:
    # in-dialog requests, which must not be taken for a replay of the INVITE's credentials.
    bye_answers = [m.first_line for m in trace if not m.is_request and (m.header("CSeq") or "").endswith("BYE")]
    assert bye_answers and bye_answers[-1].startswith("SIP/2.0 200"), f"baresip's BYE got {bye_answers}"
    assert recording is not None, "baresip recorded nothing (sndfile wrote no dump-*-dec.wav)"
    heard = tone_in_wav(recording, PSTN_TONE_HZ)
    assert heard.seconds >= 1.5 and heard.ratio >= 0.8, f"PSTN tone in {heard.blocks_with_tone} of {heard.blocks} blocks"
    await asyncio.sleep(0.3)
    (call,) = [c for c in lab.book.calls.values() if c.external]
    assert call.auth_method == "proxy" and call.final_code == 200
    assert call.heard.get("pstn"), "the PSTN did not hear baresip's 1400 Hz tone"


async def test_baresip_with_a_wrong_token_gets_401_and_sends_at_most_2_invites(lab: Lab, tmp_path: Path):
    before = PstnLegs.now(lab)
    async with softphone(lab, tmp_path / "baresip", token="00000000-0000-4000-8000-000000000000") as phone:
        await phone.dial(f"sip:{PSTN_TEST_NUMBER}@{gateway(lab)}")
        closed = await phone.wait_for_event("CALL_CLOSED", timeout_s=6)
        await asyncio.sleep(1.0)  # an INVITE sent after the close would still be counted
        invites = phone.sent_requests("INVITE")
        received = [m for m in phone.sip_trace() if not m.is_request]
    assert closed is not None, "baresip was still trying after 6 s"
    transactions = {(m.header("CSeq"), m.header("Via")) for m in invites}  # retransmissions count once
    finals = [m for m in received if int(m.first_line.split()[1]) >= 200]
    assert len(transactions) <= 2, f"baresip sent {len(transactions)} INVITEs; it got: " + ", ".join(
        m.first_line for m in finals)
    assert finals and finals[-1].first_line.startswith("SIP/2.0 401"), [m.first_line for m in received]
    assert (finals[-1].header("WWW-Authenticate") or "").startswith("Digest "), finals[-1].text
    assert not PstnLegs.now(lab).new_since(before), "a call reached the PSTN with a wrong token"
