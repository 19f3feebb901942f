"""Kamailio (Debian package kamailio) run from a test, on a configuration file a test wrote.

`kamailio -DD -E`: no daemon, logs to stderr (into a file of the test's folder); its own
process group, so stop() ends the main process and its children together; it also dies with
the test process (PR_SET_PDEATHSIG on the main process, whose children follow it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
from pathlib import Path

from tests.support.baresip import _die_with_parent

KAMAILIO = shutil.which("kamailio") or "kamailio"


async def check_config(path: Path) -> tuple[int, str]:
    """`kamailio -c`: parse the file and load its modules, then exit (0: accepted)."""
    process = await asyncio.create_subprocess_exec(KAMAILIO, "-c", "-f", str(path), stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, out.decode(errors="replace")


class Kamailio:
    def __init__(self, config: Path, listen: tuple[str, int]) -> None:
        self.config = config
        self.listen = listen
        self.folder = config.parent
        self.log_path = self.folder / "kamailio.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 10.0) -> Kamailio:
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self.process = await asyncio.create_subprocess_exec(
                KAMAILIO, "-f", str(self.config), "-DD", "-E", "-Y", str(self.folder),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.folder,
                preexec_fn=_die_with_parent, start_new_session=True)
        finally:
            os.close(log)
        deadline = time.monotonic() + timeout_s
        while not self._bound():  # its UDP socket is there once it has started
            if self.process.returncode is not None or time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError(f"kamailio did not start:\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        return self

    def _bound(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(self.listen)
            except OSError:
                return True
        return False

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                await asyncio.wait_for(self.process.wait(), wait_s)
                break
            except TimeoutError:
                continue

    async def __aenter__(self) -> Kamailio:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""
