"""A classroom console and the pages that show it (screens/web/console.py), with a stand-in
console: a small program that speaks textual-serve's packet protocol on its stdin and stdout
(it echoes the keys it gets and names the meta requests), so that what reaches the console and
what reaches each page can be read exactly. The real console in a real browser is
tests/web/test_classroom.py."""

from __future__ import annotations

import asyncio
import sys

import pytest

from screens.web.console import Console, Page
from screens.web.driver import TERMINAL_MODES

pytestmark = pytest.mark.timeout(30)

STAND_IN = r"""
import json, sys
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(b"printed before the prelude\n__GANGLION__\n"); out.flush()
def packet(kind, payload):
    out.write(kind + len(payload).to_bytes(4, "big") + payload); out.flush()
while kind := inp.read(1):
    payload = inp.read(int.from_bytes(inp.read(4), "big"))
    if kind == b"M":
        meta = json.loads(payload)
        if meta["type"] == "quit": sys.exit(0)
        if meta["type"] == "crash": sys.stderr.write("something broke\n"); sys.stderr.flush(); sys.exit(3)
        packet(b"D", ("meta " + meta["type"] + (" %sx%s" % (meta["width"], meta["height"]) if "width" in meta else "")).encode())
    else:
        packet(b"D", b"keys " + payload)
"""


class Seen:
    """A page as the console sees it, with what reached it."""

    def __init__(self, controls: bool) -> None:
        self.data: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self.page = Page(self.send, self.close, controls)

    async def send(self, data: bytes) -> None:
        self.data.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    @property
    def text(self) -> str:
        return b"".join(self.data).decode()


async def until(check, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def console():
    exits = []
    console = Console([sys.executable, "-c", STAND_IN], {}, on_exit=exits.append)
    console.exits = exits
    await console.start(80, 24)
    yield console
    await console.stop()
    assert not console.running


async def test_the_trainees_keys_reach_the_console_and_its_screen_reaches_every_page(console):
    trainee, trainer = Seen(controls=True), Seen(controls=False)
    await console.attach(trainee.page, 100, 30)
    await console.attach(trainer.page)
    assert trainee.data[0] == TERMINAL_MODES.encode() and trainer.data[0] == TERMINAL_MODES.encode()
    await until(lambda: "meta redraw" in trainer.text)
    assert "meta resize 100x30" in trainee.text and console.size == (100, 30)
    assert "printed before" not in trainee.text  # only packets after the prelude are screen data

    assert await console.input(trainee.page, "k")
    assert not await console.input(trainer.page, "q")  # the read-only view sends nothing
    await until(lambda: "keys k" in trainer.text)
    await asyncio.sleep(0.2)
    assert "keys q" not in trainee.text + trainer.text


async def test_a_newer_page_of_the_trainee_takes_over_and_the_older_is_told_why(console):
    first, second, trainer = Seen(True), Seen(True), Seen(False)
    await console.attach(first.page, 80, 24)
    await console.attach(trainer.page)
    await console.attach(second.page, 80, 24)
    assert first.closed == (4001, "opened in another tab")
    assert console.pages == [trainer.page, second.page] and console.controller is second.page
    assert not await console.input(first.page, "x")


async def test_the_console_outlives_its_pages_and_redraws_for_the_next(console):
    page = Seen(True)
    await console.attach(page.page, 80, 24)
    console.detach(page.page)
    await asyncio.sleep(0.3)
    assert console.running and console.pages == []
    again = Seen(True)
    await console.attach(again.page, 80, 24)
    await until(lambda: "meta redraw" in again.text)


async def test_a_console_that_fails_says_so_and_a_quit_is_a_quit(console):
    page = Seen(True)
    await console.attach(page.page, 80, 24)
    await console.send_meta({"type": "crash"})
    await until(lambda: console.exits)
    assert page.closed == (4004, "the console stopped with an error")
    assert console.process.returncode == 3 and b"something broke" in console.stderr_tail

    quits = Console([sys.executable, "-c", STAND_IN], {})
    await quits.start(80, 24)
    page = Seen(True)
    await quits.attach(page.page, 80, 24)
    await quits.stop()  # asks the console to quit: it does, at once
    assert quits.process.returncode == 0 and page.closed == (1000, "the console stopped")
