"""Pcap export for real: the loopback capture, a live call exported and read back by tshark (as a
trainee's Wireshark would: no heuristics, the SDP in the file names the RTP), the `call --pcap`
command, the console's key, and the clear error where capture is not allowed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sip.capture import CaptureError, LoopbackCapture, open_packet_socket
from sip.lab import Lab, LabError
from sip.pcap import udp_datagram
from sip.supervisor import Supervisor
from store import AddressPlan, Store
from tests.conftest import _alive, next_block, running_lab
from tests.console.conftest import agents_up, console, live_console, prepared, settle

ROOT = Path(__file__).resolve().parent.parent.parent


def _can_capture() -> str:
    try:
        open_packet_socket().close()
    except CaptureError as error:
        return str(error)
    return ""


def _needs(what: str, missing: str):
    """Skip with the reason on a developer's machine; in CI the test must run."""
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must run {what}: {missing}")
    return pytest.mark.skipif(bool(missing), reason=missing)


needs_capture = _needs("the capture tests", _can_capture())
needs_tshark = _needs("the tshark tests", "" if shutil.which("tshark") else "tshark not installed (apt-get install tshark)")


@pytest.fixture
async def capture_lab(tmp_path):
    """The `lab` fixture of tests/conftest.py with packet capture on."""
    async with running_lab(tmp_path, capture=True) as lab:
        yield lab


def tshark(path: Path, *args: str) -> list[str]:
    result = subprocess.run(["tshark", "-r", str(path), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def pcap_packets(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert struct.unpack_from("<IHHiIII", data)[0] == 0xA1B2C3D4 and struct.unpack_from("<I", data, 20)[0] == 101
    packets, offset = [], 24
    while offset < len(data):
        kept = struct.unpack_from("<I", data, offset + 8)[0]
        packets.append(data[offset + 16: offset + 16 + kept])
        offset += 16 + kept
    return packets


# ---------------------------------------------------------------------------- the capture alone


@needs_capture
async def test_capture_keeps_the_blocks_udp_once_and_nothing_else():
    block = next_block()
    base = block.rsplit(".", 1)[0]  # "127.0.N"
    inside = lambda host: f"{base}.{host}"  # noqa: E731
    capture = LoopbackCapture([block])
    capture.start()
    sockets = []
    try:
        def bound(ip: str) -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, 0))
            sockets.append(s)
            return s

        a, b, outsider = bound(inside(2)), bound(inside(3)), bound("127.0.99.7")
        before = time.time()
        a.sendto(b"a to b", b.getsockname())
        a.sendto(b"to nobody", (inside(9), 4000))  # no socket: the ICMP error that follows is not UDP
        outsider.sendto(b"from outside", b.getsockname())
        outsider.sendto(b"not the lab", ("127.0.99.8", 4000))
        await asyncio.sleep(0.2)
        seen = [(udp_datagram(p.data).payload, p.t) for p in capture.packets()]
    finally:
        capture.close()
        for s in sockets:
            s.close()
    assert [payload for payload, _ in seen] == [b"a to b", b"to nobody", b"from outside"]
    assert all(before - 0.1 < t < time.time() for _, t in seen)  # the kernel's clock, the lab's clock
    assert capture.stats()["kernel_drops"] == 0 and not capture.running


# ---------------------------------------------------------------------------- a live call


@needs_capture
@needs_tshark
@pytest.mark.agents
@pytest.mark.timeout(90)
async def test_inbound_call_pcap_opens_in_tshark_with_sip_and_rtp(capture_lab: Lab, tmp_path: Path):
    call = await capture_lab.run_call(await capture_lab.place_inbound("12025550100"), hold_s=1.0)
    assert (call.state, call.final_code) == ("ended", 200)
    path = tmp_path / "call.pcap"
    count = capture_lab.export_pcap(call.ref, path)
    assert count == len(pcap_packets(path)) > 150  # 1 s of RTP on two legs, both ways, at 50 packets/s
    assert path.stat().st_mode & 0o777 == 0o600  # owner-only: a header-auth call's pcap holds the token

    # every SIP message of the call once: each agent's tx is one datagram on the wire
    sent = sum(1 for m in call.messages if m.event == "tx")
    sip = tshark(path, "-Y", "sip")
    assert len(sip) == sent
    assert sum("Request: INVITE" in line for line in sip) == 2  # PSTN -> gateway, gateway -> PBX
    assert sum("Status: 200 OK (INVITE)" in line for line in sip) == 2
    assert any("Request: BYE" in line for line in sip)

    # the SDP in the file is enough for tshark to call it RTP (no -o rtp.heuristic_rtp:TRUE)
    rtp = tshark(path, "-Y", "rtp")
    assert len(rtp) > 150 and all("PCMU" in line for line in rtp)
    streams = [line for line in tshark(path, "-q", "-z", "rtp,streams") if "g711U" in line]
    assert len(streams) == 4, streams  # two legs, each way
    assert tshark(path, "-Y", "rtcp")
    assert not tshark(path, "-Y", "not (sip or rtp or rtcp)")


@needs_capture
@pytest.mark.agents
@pytest.mark.timeout(90)
async def test_a_call_the_firewall_broke_shows_the_dropped_invites(capture_lab: Lab, tmp_path: Path):
    rules = capture_lab.account.firewall_rules
    gateway3 = capture_lab.gateway_addresses[1]
    await capture_lab.store.remove_firewall_rule(next(r.rule_id for r in rules if r.cidr.startswith(gateway3.split(":")[0] + "/")))
    await asyncio.sleep(0.3)  # the lab pushes the rules to the PBX
    call = await capture_lab.run_call(await capture_lab.place_inbound("12025550100", via=gateway3), answer_timeout_s=6)
    assert call.final_code != 200 and call.drops()
    path = tmp_path / "dropped.pcap"
    capture_lab.export_pcap(call.ref, path)
    pbx = capture_lab.account.party("pbx")
    to_pbx = [d for d in map(udp_datagram, pcap_packets(path)) if d.dst == (pbx.ip, pbx.port)]
    # the gateway's INVITE and its retransmissions crossed lo; the PBX's socket filter dropped them
    assert sum(d.payload.startswith(b"INVITE") for d in to_pbx) >= 2


async def test_export_of_an_unknown_call_or_without_capture_says_why(tmp_path: Path):
    async with await Store.open(tmp_path / "lab.db") as store:
        lab = Lab(store)  # not started: export needs no agents to refuse
        with pytest.raises(LabError, match="no call 'c9'"):
            lab.export_pcap("c9", tmp_path / "x.pcap")
        lab.book.open("c1", started_at=time.time())
        with pytest.raises(LabError, match="packet capture is off"):
            lab.export_pcap("c1", tmp_path / "x.pcap")
    assert not (tmp_path / "x.pcap").exists()


# ---------------------------------------------------------------------------- the command line


async def _database_in_a_block_of_its_own(path: Path) -> None:
    """The CLI takes its addresses from the database: a test block keeps it apart from others."""
    async with await Store.open(path, plan=AddressPlan.in_block(next_block())):
        pass


def _app(db: Path, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, str(ROOT / "app.py"), *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=60)


@needs_capture
@needs_tshark
@pytest.mark.agents
@pytest.mark.timeout(90)
async def test_call_command_writes_the_pcap(tmp_path: Path):
    db, path = tmp_path / "lab.db", tmp_path / "out.pcap"
    await _database_in_a_block_of_its_own(db)
    result = await asyncio.to_thread(_app, db, "call", "inbound", "--to", "12025550100", "--hold", "0.5",
                                     "--pcap", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"packets written to {path}" in result.stdout
    assert any("Request: INVITE" in line for line in tshark(path, "-Y", "sip"))
    assert tshark(path, "-Y", "rtp")


@pytest.mark.agents
@pytest.mark.timeout(60)
@pytest.mark.skipif(not shutil.which("setpriv") or os.geteuid() != 0, reason="needs root and setpriv to drop CAP_NET_RAW")
async def test_call_command_without_cap_net_raw_names_what_is_missing(tmp_path: Path):
    db, path = tmp_path / "lab.db", tmp_path / "out.pcap"
    await _database_in_a_block_of_its_own(db)
    without_raw = ("setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw")
    result = await asyncio.to_thread(_app, db, "call", "inbound", "--to", "12025550100", "--pcap", str(path),
                                     prefix=without_raw)
    assert result.returncode == 2
    assert "--pcap: packet capture needs CAP_NET_RAW" in result.stderr and "setcap cap_net_raw+ep" in result.stderr
    assert "final:" not in result.stdout and not path.exists()  # refused before placing the call


# ---------------------------------------------------------------------------- the console


@needs_capture
@pytest.mark.agents
@pytest.mark.timeout(90)
async def test_console_p_saves_the_selected_call_beside_the_database(tmp_path: Path):
    db = tmp_path / "live.db"
    app = await live_console(db, capture=True)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await settle(pilot, lambda: agents_up(app), 200)
        await pilot.press("c", "i")
        await pilot.pause(0.2)
        await pilot.press("enter")
        assert await settle(pilot, lambda: any(c.state == "answered" for c in app.lab.book.calls.values()), 200)
        await pilot.pause(0.5)
        await pilot.press("h")
        assert await settle(pilot, lambda: all(c.finished for c in app.lab.book.calls.values()), 100)
        await pilot.pause(0.3)
        await pilot.press("p")
        await pilot.pause(0.2)
        (saved,) = (tmp_path / "exports" / db.stem).glob("*.pcap")
        assert saved.name.endswith("-inbound-12025550100-c1.pcap")
        packets = [udp_datagram(p) for p in pcap_packets(saved)]
        assert any(d.payload.startswith(b"INVITE") for d in packets) and len(packets) > 40
        messages = [n.message for n in app._notifications]
        assert any(m.startswith(f"Saved {len(packets)} packets of the call to {saved}") for m in messages), messages
        await app.action_quit()
    left = [pid for pid in Supervisor.spawned_pids if _alive(pid)]
    assert not left, f"agent processes left behind: {left}"


async def test_console_p_without_capture_is_one_clear_line(db_path: Path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok")  # recorded events: no agents, no capture
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c", "p")
        await pilot.pause(0.2)
        messages = [n.message for n in app._notifications]
        assert messages[-1] == "No pcap: packet capture is off in this lab", messages
        assert not (db_path.parent / "exports").exists()
