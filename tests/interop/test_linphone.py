"""linphonec (linphone-cli 5.1), configured by `pbx-config linphone` alone, as your own PBX: it
answers an inbound call (-a) and places an outbound call, by IP and by proxy digest, and audio
is judged both ways: by the lab from RTP energy, and by linphone's own recording, which must
hold the PSTN's tone."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from sip.lab import PSTN_TEST_NUMBER, Lab
from sip.tone import PSTN_TONE_HZ
from tests.interop.test_byo_pbx import your_own_pbx
from tests.interop.test_pbx_config import pbx_config
from tests.support.baresip import tone_in_wav
from tests.support.kamailio import Kamailio
from tests.support.linphone import Linphonec, tone_wav

pytestmark = [pytest.mark.linphone, pytest.mark.agents]


def heard_the_pstn(recording: Path) -> None:
    assert recording.exists(), "linphone recorded nothing"
    verdict = tone_in_wav(recording, PSTN_TONE_HZ)
    assert verdict.seconds >= 1.0 and verdict.ratio >= 0.7, \
        f"the PSTN's tone in {verdict.blocks_with_tone} of {verdict.blocks} blocks of linphone's recording"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("auth", ["ip", "proxy", pytest.param("header", marks=pytest.mark.kamailio)])
async def test_linphone_configured_by_pbx_config_is_your_pbx_both_ways(lab: Lab, tmp_path: Path, auth: str):
    """With --auth header, linphonec (which cannot add SIP headers) sits behind the Kamailio of
    `pbx-config kamailio --auth header`."""
    pbx = lab.account.party("pbx")
    await your_own_pbx(lab, pbx.ip, pbx.port, direction="any" if auth == "ip" else "inbound")
    await pbx_config(lab, "linphone", auth, tmp_path)
    assert (tmp_path / "linphonerc").stat().st_mode & 0o777 == 0o600
    speaks = tone_wav(tmp_path / "speaks.wav", 440)
    async with contextlib.AsyncExitStack() as stack:
        if auth == "header":
            await pbx_config(lab, "kamailio", "header", tmp_path / "kamailio")
            await stack.enter_async_context(Kamailio(tmp_path / "kamailio" / "kamailio.cfg", (pbx.ip, pbx.port)))
        phone = await stack.enter_async_context(
            Linphonec(tmp_path, tmp_path / "linphonerc", speaks=speaks, hears=tmp_path / "in.wav"))
        call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=2.0)
        assert call.final_code == 200, (call.final_code, call.final_reason, phone.output())
        assert call.heard == {"pstn": True, "pbx": True}, call.audio_evidence
        assert await phone.wait_for("ended (", 5.0), phone.output()
        heard_the_pstn(tmp_path / "in.wav")

        await phone.command(f"record {tmp_path / 'out.wav'}")
        before = set(lab.book.calls)
        await phone.command(f"call sip:{PSTN_TEST_NUMBER}@{lab.account.system_gateway.addresses[0].ip}")
        assert await phone.wait_for("connected.", 10.0, count=2), phone.output()
        await asyncio.sleep(2.0)
        await phone.command("terminate")
        assert await lab.wait_until(lambda: any(c.finished for ref, c in lab.book.calls.items()
                                                if ref not in before and c.direction == "outbound"), 6.0)
        await asyncio.sleep(0.5)
    (out,) = [c for ref, c in lab.book.calls.items() if ref not in before and c.direction == "outbound"]
    assert (out.auth_method, out.final_code) == (auth, 200), (out.auth_method, out.final_code, out.decisions)
    assert out.heard == {"pstn": True, "pbx": True}, out.audio_evidence
    heard_the_pstn(tmp_path / "out.wav")
