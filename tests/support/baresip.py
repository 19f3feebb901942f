"""baresip (Debian's baresip-core 1.0) as a softphone nobody here wrote, run headless by a test.

One `Baresip` is one baresip process with a configuration folder of its own (owner-only: the
accounts file holds the VoIP token), on one loopback address of the test's lab block:

* SIP on ip:sip_port (libre also opens TCP on that port and TLS on the next one), RTP on a
  small port range, the ctrl_tcp control socket on ip:ctrl_port; DNS pointed at a loopback
  address where nothing listens. Nothing is sent off loopback.
* no audio device: the ausine module is the microphone (a sine at `tone_hz`; it only runs at
  48 kHz stereo, baresip resamples to G.711), no player at all, and the sndfile filter writes
  what the far end sent, decoded, to dump-<time>-dec.wav in the folder (`received_audio`).
* one account, `sip:<user>@<gateway>` with auth_user/auth_pass and registration off
  (regint=0): a trunk device that authenticates each call by proxy digest.
* driven over ctrl_tcp (netstring-framed JSON: {"command": "dial", "params": uri}); its events
  (CALL_ESTABLISHED, CALL_CLOSED, ...) are collected. `-s` makes it print every SIP message it
  sends or receives; `sip_trace()` reads them back, so a test counts what baresip itself sent.

`stop()` asks it to quit, then terminates, then kills it; it also dies with the test process
(PR_SET_PDEATHSIG). Use it as `async with Baresip(...) as phone:`.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import re
import shutil
import signal
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from sip.tone import detect_tone, pcm_from_bytes

BARESIP = shutil.which("baresip") or "baresip"
MODULES = Path("/usr/lib/baresip/modules")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


@dataclass(frozen=True)
class TracedMessage:
    """One SIP message from baresip's -s trace."""

    transport: str
    src: str
    dst: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0 ")

    def header(self, name: str) -> str | None:
        head = self.text.replace("\r\n", "\n").split("\n\n", 1)[0]
        for line in head.split("\n")[1:]:
            key, colon, value = line.partition(":")
            if colon and key.strip().lower() == name.lower():
                return value.strip()
        return None


# baresip -s: "\x1b[36;1m#\nUDP 1.2.3.4:5 -> 6.7.8.9:10\n<message>\x1b[;m"
_TRACE = re.compile(r"#\r?\n(UDP|TCP|TLS) (\S+) -> (\S+)\r?\n(.*?)\x1b\[;m", re.DOTALL)


@dataclass(frozen=True)
class AudioVerdict:
    """How much of a recording carries a tone: 20 ms blocks judged by sip.tone.detect_tone."""

    seconds: float
    blocks: int
    blocks_with_tone: int

    @property
    def ratio(self) -> float:
        return self.blocks_with_tone / self.blocks if self.blocks else 0.0


def tone_in_wav(path: Path, freq_hz: float, *, skip_s: float = 0.3) -> AudioVerdict:
    """Judge a mono 16-bit wav block by block (the first `skip_s` left out: the jitter buffer
    and the far end's tone start up there)."""
    with wave.open(str(path)) as recording:
        if recording.getsampwidth() != 2 or recording.getnchannels() != 1:
            raise ValueError(f"{path.name}: expected 16-bit mono, got {recording.getsampwidth() * 8}-bit "
                             f"{recording.getnchannels()}-channel audio")
        rate = recording.getframerate()
        samples = pcm_from_bytes(recording.readframes(recording.getnframes()))
    block = rate // 50
    start = int(skip_s * rate)
    verdicts = [detect_tone(samples[i:i + block], rate, freq_hz)
                for i in range(start, len(samples) - block + 1, block)]
    return AudioVerdict(len(samples) / rate if rate else 0.0, len(verdicts), sum(v.present for v in verdicts))


class Baresip:
    def __init__(self, folder: Path, ip: str, *, account: str, auth_user: str, auth_pass: str,
                 tone_hz: float, sip_port: int = 5062, ctrl_port: int = 5080, rtp_ports: str = "21000-21019",
                 dns_server: str | None = None) -> None:
        self.folder = folder
        self.ip = ip
        self.sip_port = sip_port
        self.ctrl_port = ctrl_port
        self._account = account
        self._auth_user = auth_user
        self._auth_pass = auth_pass
        self._tone_hz = int(round(tone_hz))
        self._rtp_ports = rtp_ports
        self._dns_server = dns_server or f"{ip.rsplit('.', 1)[0]}.1:53"  # loopback; nothing listens
        self.log_path = folder / "baresip.log"
        self.process: asyncio.subprocess.Process | None = None
        self.events: list[dict] = []
        self.responses: list[dict] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task | None = None
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ life cycle

    def _write_config(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        config = "\n".join([
            "poll_method epoll",
            f"sip_listen {self.ip}:{self.sip_port}",
            f"net_interface {self.ip}",  # the local address for SIP Contact, SDP c= and RTP
            f"dns_server {self._dns_server}",
            "call_local_timeout 20",
            "call_max_calls 2",
            f"audio_source ausine,{self._tone_hz}",
            "ausrc_srate 48000",  # ausine produces 48 kHz stereo only
            "ausrc_channels 2",
            "audio_buffer 20-160",
            f"rtp_ports {self._rtp_ports}",
            "rtcp_mux no",
            "jitter_buffer_delay 1-10",
            f"module_path {MODULES}",
            "module g711.so",
            "module ausine.so",
            "module sndfile.so",  # an audio filter: records what is received, decoded
            f"snd_path {self.folder}",
            "module_app account.so",
            "module_app menu.so",  # the dial and hangup commands
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen {self.ip}:{self.ctrl_port}",
            "",
        ])
        self._private_file("config", config)
        self._private_file(
            "accounts",
            f"<{self._account}>;auth_user={self._auth_user};auth_pass={self._auth_pass};regint=0\n",
        )

    def _private_file(self, name: str, text: str) -> None:
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)

    async def start(self, timeout_s: float = 5.0) -> Baresip:
        self._write_config()
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self.process = await asyncio.create_subprocess_exec(
                BARESIP, "-f", str(self.folder), "-s", "-v",
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.folder,
                preexec_fn=_die_with_parent, start_new_session=True,
            )
        finally:
            os.close(log)
        deadline = time.monotonic() + timeout_s
        while True:  # ctrl_tcp listens once baresip is ready
            if self.process.returncode is not None:
                raise RuntimeError(f"baresip exited at start ({self.process.returncode}):\n{self.log_tail()}")
            try:
                self._reader, self._writer = await asyncio.open_connection(self.ip, self.ctrl_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    await self.stop()
                    raise RuntimeError(f"baresip's ctrl_tcp never listened on {self.ip}:{self.ctrl_port}:\n{self.log_tail()}")
                await asyncio.sleep(0.05)
        self._pump = asyncio.get_running_loop().create_task(self._read_messages())
        return self

    async def stop(self) -> None:
        """Quit politely, then SIGTERM, then SIGKILL: baresip never outlives the test."""
        if self.process is not None and self.process.returncode is None and self._writer is not None:
            try:
                await self.command("quit", wait_s=0)
                await asyncio.wait_for(self.process.wait(), 2.0)
            except (OSError, TimeoutError):
                pass
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.process is not None and self.process.returncode is None:
            for sig, wait_s in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                try:
                    self.process.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    await asyncio.wait_for(self.process.wait(), wait_s)
                    break
                except TimeoutError:
                    continue

    async def __aenter__(self) -> Baresip:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ control

    async def _read_messages(self) -> None:
        """Netstrings from ctrl_tcp: '<length>:<json>,' one after the other."""
        assert self._reader is not None
        try:
            while True:
                length = int((await self._reader.readuntil(b":"))[:-1])
                payload = await self._reader.readexactly(length + 1)  # the JSON and its ','
                message = json.loads(payload[:-1])
                (self.events if message.get("event") else self.responses).append(message)
                self._changed.set()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            self._changed.set()

    async def command(self, command: str, params: str | None = None, *, wait_s: float = 3.0) -> dict | None:
        assert self._writer is not None
        before = len(self.responses)
        body = {"command": command, "token": f"t{before}"}
        if params is not None:
            body["params"] = params
        data = json.dumps(body).encode()
        self._writer.write(str(len(data)).encode() + b":" + data + b",")
        await self._writer.drain()
        if wait_s <= 0:
            return None
        await self._wait(lambda: len(self.responses) > before, wait_s)
        return self.responses[before] if len(self.responses) > before else None

    async def dial(self, uri: str) -> None:
        response = await self.command("dial", uri)
        if response is None or not response.get("ok"):
            raise RuntimeError(f"baresip refused to dial {uri}: {response}")

    async def hangup(self) -> None:
        await self.command("hangup")

    async def _wait(self, predicate, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass
        return True

    async def wait_for_event(self, *types: str, timeout_s: float = 8.0) -> dict | None:
        """The first event of one of `types` (e.g. CALL_ESTABLISHED, CALL_CLOSED), or None."""
        found = lambda: next((e for e in self.events if e.get("type") in types), None)  # noqa: E731
        await self._wait(lambda: found() is not None, timeout_s)
        return found()

    # ------------------------------------------------------------------ what happened

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def sip_trace(self) -> list[TracedMessage]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [TracedMessage(t, src, dst, body.strip("\r\n")) for t, src, dst, body in _TRACE.findall(text)]

    def sent_requests(self, method: str) -> list[TracedMessage]:
        mine = f"{self.ip}:{self.sip_port}"
        return [m for m in self.sip_trace()
                if m.src == mine and m.is_request and m.first_line.split(None, 1)[0] == method.upper()]

    def received_audio(self) -> Path | None:
        """The wav of the last call's received audio (complete once the call is closed)."""
        recordings = sorted(self.folder.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
        return recordings[-1] if recordings else None
