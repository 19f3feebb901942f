"""One trainee's console process, kept alive across the browser pages that show it.

textual-serve ties a console to one websocket: the page goes, the console goes. A classroom
console belongs to the trainee instead: it runs until the trainer ends the session, the trainee
quits it (Ctrl+Q) or the server stops, and any number of pages may look at it:

- the trainee's page (at most one: a newer page takes over and the older one is told why),
  whose keys, clicks and size reach the console;
- the trainer's read-only views, which see everything and send nothing.

The console speaks textual-serve's protocol on its stdin and stdout (packets of a type byte,
a 4-byte big-endian length and a payload: D for terminal data, M for JSON meta); its screen
output goes to every page attached, and nowhere when none is (the console keeps running).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .driver import TERMINAL_MODES

QUIT_GRACE_S = 8.0  # a console stops its agents in about a second; past this it is stuck
DRIVER = "screens.web.driver:ClassroomDriver"
PRELUDE = b"__GANGLION__\n"  # what a Textual web app writes first


@dataclass(eq=False)
class Page:
    """A browser page attached to the console: how to send it bytes, and how to close it."""

    send_bytes: Callable[[bytes], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    controls: bool  # the trainee's own page (input reaches the console), or a read-only view


def packet(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "big") + payload


class Console:
    def __init__(self, argv: list[str], env: dict[str, str], *, on_exit: Callable[[Console], None] | None = None):
        self.argv = argv
        self.env = env
        self.on_exit = on_exit
        self.process: asyncio.subprocess.Process | None = None
        self.pages: list[Page] = []
        self.size = (80, 24)
        self.stderr_tail = b""
        self._reader: asyncio.Task | None = None
        self._stderr: asyncio.Task | None = None
        self._stdin_lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def controller(self) -> Page | None:
        return next((p for p in self.pages if p.controls), None)

    async def start(self, width: int, height: int) -> None:
        self.size = (width, height)
        env = {**self.env, "TEXTUAL_DRIVER": DRIVER, "TEXTUAL_COLOR_SYSTEM": "truecolor",
               "TERM_PROGRAM": "textual", "COLUMNS": str(width), "ROWS": str(height)}
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._stderr = asyncio.get_running_loop().create_task(self._read_stderr())

    # ------------------------------------------------------------------ pages

    async def attach(self, page: Page, width: int | None = None, height: int | None = None) -> None:
        """Show the console on a page. A trainee's page takes over from an older one (told why,
        with close code 4001); the page gets the terminal modes and a full redraw."""
        if page.controls:
            for old in [p for p in self.pages if p.controls]:
                self.pages.remove(old)
                with contextlib.suppress(Exception):
                    await old.close(4001, "opened in another tab")
        self.pages.append(page)
        with contextlib.suppress(Exception):
            await page.send_bytes(TERMINAL_MODES.encode())
        if page.controls and width and height:
            await self.resize(width, height)
        await self.redraw()

    def detach(self, page: Page) -> None:
        if page in self.pages:
            self.pages.remove(page)

    async def close_pages(self, code: int, reason: str) -> None:
        pages, self.pages = self.pages, []
        for page in pages:
            with contextlib.suppress(Exception):
                await page.close(code, reason)

    # ------------------------------------------------------------------ to the console

    async def _write(self, data: bytes) -> None:
        if not self.running or self.process.stdin is None:
            return
        async with self._stdin_lock:
            try:
                self.process.stdin.write(data)
                await self.process.stdin.drain()
            except (ConnectionError, RuntimeError):
                pass  # the console is leaving; its reader notices

    async def send_meta(self, meta: dict) -> None:
        await self._write(packet(b"M", json.dumps(meta).encode()))

    async def input(self, page: Page, text: str) -> bool:
        """Keys and clicks from a page: only the trainee's own page reaches the console."""
        if not page.controls or page not in self.pages:
            return False
        await self._write(packet(b"D", text.encode()))
        return True

    async def resize(self, width: int, height: int) -> None:
        width, height = max(20, min(width, 500)), max(8, min(height, 200))
        self.size = (width, height)
        await self.send_meta({"type": "resize", "width": width, "height": height})

    async def redraw(self) -> None:
        await self.send_meta({"type": "redraw"})

    async def focus(self, page: Page, focused: bool) -> None:
        if page.controls and page in self.pages:
            await self.send_meta({"type": "focus" if focused else "blur"})

    # ------------------------------------------------------------------ from the console

    async def _read(self) -> None:
        stdout = self.process.stdout
        try:
            for _ in range(20):  # the prelude comes first; anything printed before it is not screen data
                line = await stdout.readline()
                if not line or line == PRELUDE:
                    break
            while True:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                if kind == b"D":
                    await self._to_pages(payload)
                # M (meta: exit, open_url, file deliveries) and P (file chunks): the classroom
                # console offers no downloads; its exit shows as the end of stdout.
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            await self._exited()

    async def _read_stderr(self) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while chunk := await self.process.stderr.read(4096):
                self.stderr_tail = (self.stderr_tail + chunk)[-4096:]

    async def _to_pages(self, data: bytes) -> None:
        for page in list(self.pages):
            try:
                await page.send_bytes(data)
            except Exception:  # noqa: BLE001 - a page that went away is dropped, the console goes on
                self.detach(page)

    async def _exited(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()
        if self.process is not None and self.process.returncode not in (0, None):
            await self.close_pages(4004, "the console stopped with an error")  # the trainer's terminal says which
        else:
            await self.close_pages(1000, "the console stopped")
        if self.on_exit is not None:
            self.on_exit(self)

    # ------------------------------------------------------------------ ending

    async def stop(self) -> None:
        """Ask the console to quit (it stops its agents); terminate, then kill it if it does not."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        await self.send_meta({"type": "quit"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), QUIT_GRACE_S)
        for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if process.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), wait_s)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


def console_env() -> dict[str, str]:
    return dict(os.environ)
