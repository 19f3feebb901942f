"""linphonec (Debian package linphone-cli 5.1) run from a test, on a configuration file a test
wrote, driven through its command line on stdin.

* HOME is the test's folder: linphone keeps its database in ~/.local/share/linphone (made
  here: without it the core does not start its SIP transports) and touches nothing else.
* no sound card: `soundcard use files`, then `play FILE` is what it sends (instead of a
  microphone) and `record FILE` what it heard, as 16-bit wav files;
* `-a` answers every incoming call; its stdout is collected line by line (`wait_for`).

stop() says quit, then terminates, then kills it; it also dies with the test (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import struct
import time
import wave
from pathlib import Path

from tests.support.baresip import _die_with_parent

LINPHONEC = shutil.which("linphonec") or "linphonec"


def tone_wav(path: Path, freq_hz: float, seconds: float = 30.0, rate: int = 8000) -> Path:
    """A sine at about -12 dBFS as a mono 16-bit wav (what linphone 'says' into the call)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq_hz * n / rate)))
                                 for n in range(int(seconds * rate))))
    return path


class Linphonec:
    def __init__(self, folder: Path, config: Path, *, speaks: Path, hears: Path) -> None:
        self.folder = folder
        self.config = config
        self.speaks = speaks
        self.hears = hears
        self.log_path = folder / "linphone.log"
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task | None = None
        self._changed = asyncio.Event()

    async def start(self) -> Linphonec:
        (self.folder / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            LINPHONEC, "-c", str(self.config), "-a", "-d", "3", "-l", str(self.log_path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=self.folder, env={**os.environ, "HOME": str(self.folder)}, preexec_fn=_die_with_parent,
            start_new_session=True)
        self._pump = asyncio.get_running_loop().create_task(self._read())
        await self.command("soundcard use files")
        if not await self.wait_for("Using wav files instead of soundcard", 10.0):
            raise RuntimeError(f"linphonec did not start:\n{self.output()}")
        await self.command(f"play {self.speaks}")
        await self.command(f"record {self.hears}")
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self._changed.set()
        self._changed.set()

    async def command(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()

    async def wait_for(self, words: str, timeout_s: float, count: int = 1) -> bool:
        """Wait until `count` lines of its output hold `words`."""
        deadline = time.monotonic() + timeout_s
        while sum(words in line for line in self.lines) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
            except TimeoutError:
                pass
        return True

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            try:
                await self.command("quit")
                await asyncio.wait_for(self.process.wait(), 8.0)
            except (OSError, TimeoutError):
                pass
            for sig, wait_s in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                if self.process.returncode is not None:
                    break
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    await asyncio.wait_for(self.process.wait(), wait_s)
                except TimeoutError:
                    continue
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)

    async def __aenter__(self) -> Linphonec:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
