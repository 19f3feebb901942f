"""`pbx-config` judged by the software it configures: baresip 1.0 (and Kamailio 5.6 in front of
it for header auth) as your own PBX, with the files `python app.py pbx-config` wrote and nothing
else, receives an inbound call and places an outbound call with each authentication method;
audio is judged both ways (the lab by RTP energy, baresip by the PSTN's tone in its recording).
`kamailio -c` accepts every Kamailio file. (linphone: test_linphone.py; the Asterisk and
FreeSWITCH files, whose software is not packaged here: tests/unit/test_pbx_config_files.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from sip.lab import PSTN_TEST_NUMBER, Lab
from sip.tone import PSTN_TONE_HZ
from tests.interop.test_byo_pbx import your_own_pbx
from tests.support.baresip import Baresip, tone_in_wav
from tests.support.kamailio import Kamailio, check_config

pytestmark = [pytest.mark.agents]
ROOT = Path(__file__).resolve().parent.parent.parent


async def pbx_config(lab: Lab, kind: str, auth: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """The real command, on the lab's own database, with the token written to owner-only files."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), "pbx-config", kind, "--auth", auth, "--reveal", "--out", str(out),
        "--db", str(lab.store.path), *extra, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out_text, err = await asyncio.wait_for(process.communicate(), 60)
    result = subprocess.CompletedProcess(kind, process.returncode, out_text.decode(), err.decode())
    assert result.returncode == 0, result.stderr
    return result


class ConfiguredBaresip(Baresip):
    """baresip on a folder `pbx-config baresip` wrote: its own config and accounts, untouched."""

    def __init__(self, folder: Path, ip: str, sip_port: int) -> None:
        super().__init__(folder, ip, account="", auth_user="", auth_pass="", tone_hz=440, sip_port=sip_port,
                         ctrl_port=4444)

    def _write_config(self) -> None:
        assert (self.folder / "config").stat().st_mode & 0o777 == 0o600
        assert (self.folder / "accounts").stat().st_mode & 0o777 == 0o600


def heard_the_pstn(phone: Baresip) -> None:
    recording = phone.received_audio()
    assert recording is not None, "baresip recorded nothing"
    verdict = tone_in_wav(recording, PSTN_TONE_HZ)
    assert verdict.seconds >= 1.0 and verdict.ratio >= 0.7, \
        f"the PSTN's tone in {verdict.blocks_with_tone} of {verdict.blocks} blocks of baresip's recording"


async def inbound_and_outbound(lab: Lab, phone: Baresip, auth: str) -> None:
    # inbound: the PSTN calls the first number; baresip answers it by itself (answermode=auto)
    call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=2.0)
    assert call.final_code == 200, (call.final_code, call.final_reason, phone.log_tail())
    assert call.heard == {"pstn": True, "pbx": True}, call.audio_evidence
    await asyncio.sleep(0.5)  # baresip closes its recording
    heard_the_pstn(phone)

    # outbound: baresip dials the PSTN through the gateway, authenticated by `auth`
    before = {ref for ref in lab.book.calls}
    await phone.dial(PSTN_TEST_NUMBER)
    established = await phone.wait_for_event("CALL_ESTABLISHED", "CALL_CLOSED", timeout_s=10)
    assert established is not None and established["type"] == "CALL_ESTABLISHED", (established, phone.log_tail())
    await asyncio.sleep(2.0)
    await phone.hangup()
    assert await lab.wait_until(lambda: any(c.finished for ref, c in lab.book.calls.items()
                                            if ref not in before and c.direction == "outbound"), 6.0)
    await asyncio.sleep(0.5)
    (out,) = [c for ref, c in lab.book.calls.items() if ref not in before and c.direction == "outbound"]
    assert (out.auth_method, out.final_code) == (auth, 200), (out.auth_method, out.final_code, out.decisions)
    assert out.heard == {"pstn": True, "pbx": True}, out.audio_evidence
    heard_the_pstn(phone)


@pytest.mark.baresip
@pytest.mark.parametrize("auth", ["ip", "proxy"])
async def test_baresip_configured_by_pbx_config_is_your_pbx_both_ways(lab: Lab, tmp_path: Path, auth: str):
    pbx = lab.account.party("pbx")  # the built-in PBX's address, given back when it is off
    # with proxy auth the address takes inbound calls only: from an address with direction any
    # the carrier would authenticate the PBX by IP before it looked at any credentials
    await your_own_pbx(lab, pbx.ip, pbx.port, direction="any" if auth == "ip" else "inbound")
    folder = tmp_path / "baresip"
    await pbx_config(lab, "baresip", auth, folder)
    async with ConfiguredBaresip(folder, pbx.ip, pbx.port) as phone:
        await inbound_and_outbound(lab, phone, auth)
        invites = phone.sent_requests("INVITE")
        with_credentials = [m for m in invites if m.header("Proxy-Authorization")]
        assert bool(with_credentials) == (auth == "proxy"), [m.first_line for m in invites]


@pytest.mark.baresip
@pytest.mark.kamailio
async def test_baresip_behind_kamailio_authenticates_by_header(lab: Lab, tmp_path: Path):
    """baresip 1.0 cannot add SIP headers: the Kamailio of `pbx-config kamailio --auth header`
    in front of it adds X-Auth-EndpointSid and X-Auth-VoipToken to its INVITEs."""
    pbx = lab.account.party("pbx")
    await your_own_pbx(lab, pbx.ip, pbx.port, direction="inbound")
    await pbx_config(lab, "kamailio", "header", tmp_path / "kamailio")
    await pbx_config(lab, "baresip", "header", tmp_path / "baresip")
    config = tmp_path / "kamailio" / "kamailio.cfg"
    assert config.stat().st_mode & 0o777 == 0o600
    async with Kamailio(config, (pbx.ip, pbx.port)) as edge, \
            ConfiguredBaresip(tmp_path / "baresip", pbx.ip, pbx.port + 20) as phone:
        await inbound_and_outbound(lab, phone, "header")
        invites = phone.sent_requests("INVITE")
        assert invites and not any(m.header("X-Auth-VoipToken") for m in invites), "baresip added the header itself?"
    received = [m for c in lab.book.calls.values() if c.direction == "outbound" for m in c.messages
                if m.agent == "gateway" and m.event == "rx" and m.first_line.startswith("INVITE")]
    assert received and all("X-Auth-VoipToken:" in m.text for m in received), edge.log_tail()


@pytest.mark.kamailio
@pytest.mark.parametrize("auth", ["ip", "proxy", "header"])
async def test_kamailio_accepts_its_file(lab: Lab, tmp_path: Path, auth: str):
    await pbx_config(lab, "kamailio", auth, tmp_path)
    code, output = await check_config(tmp_path / "kamailio.cfg")
    assert code == 0 and "config file ok" in output, output
