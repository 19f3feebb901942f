"""The browser classroom for real: `python app.py web` as a subprocess, headless Chromium as the
trainees' and the trainer's browsers (driven over the DevTools protocol; each trainee a browser
context of their own, as their own laptop would be), every console and agent a real process.
Nothing leaves loopback; nothing is left running."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.chromium import Browser
from tests.support.classroom import (
    LABS,
    alive,
    children,
    cmdline,
    console_on,
    consoles_of,
    free_port,
    home_shown,
    lab_of,
    start_room,
    stop_room,
    wait_for,
    wait_gone,
)

pytestmark = [pytest.mark.agents, pytest.mark.timeout(300)]
EXERCISE, EXERCISE_TITLE = "stale_voip_token", "The PBX sends a stale VoIP token"
CHECK_DONE = "Audio is present in both directions"


def checklist_passed(text: str) -> bool:
    """Home's Verification Checklist with its four items passing (not running, not unknown)."""
    return "VERIFICATION CHECKLIST" in text.upper() and text.count("✔") == 4 and "running" not in text


async def join(browser: Browser, url: str, name: str):
    """A trainee's own browser: the link, their name, their console."""
    tab = await browser.open_tab(url, await browser.new_context())
    await tab.wait_for_page(lambda t: "Your name" in t)
    await tab.evaluate(f"document.getElementById('name').value = {name!r}; document.querySelector('form').submit()")
    return tab


def dashboard_rows_js() -> str:
    return """Array.from(document.querySelectorAll('#trainees tr')).map(r => ({
        id: r.dataset.trainee, text: r.innerText,
        exercise: r.querySelector('[data-exercise]') ? r.querySelector('[data-exercise]').dataset.exercise : '',
        items: Array.from(r.querySelectorAll('.item')).map(i => i.className.replace('item ', ''))}))"""


def calls_shown(text: str) -> bool:
    """The Calls screen with the checklist's five calls, ended."""
    return "Setup" in text and "Gateway" in text and text.count(" ended ") >= 5


def database_calls(db: Path) -> int:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


async def test_a_room_trainees_join_reload_and_the_trainer_sees_them(tmp_path):
    port, folder = free_port(), tmp_path / "room"
    room = start_room(port, folder)
    browser = Browser(shutil.which("chromium"), tmp_path / "chromium")
    seen: set[int] = set()
    try:
        await browser.start()

        # a wrong room code gets a page that says so, and no lab
        stranger = await browser.open_tab(f"{room.base}/join/WRONGCODE1", await browser.new_context())
        assert "not the room's code" in await stranger.wait_for_page(lambda t: "code" in t)
        await stranger.close()

        # Ana joins with her name and gets a lab; she runs the checklist (five calls, kept as CDRs)
        ana = await join(browser, room.trainee_url, "Ana")
        ana_lab = lab_of(await ana.wait_for_text(home_shown))
        assert ana_lab in LABS
        await ana.wait_for_text(lambda t: t.count("● up") == 4, timeout=60)
        ana_db = folder / f"lab-{ana_lab}-t1.db"
        ana_console = await wait_for(lambda: console_on(room.process.pid, ana_db), 10, "Ana's console")
        seen |= {ana_console, *children(ana_console)}

        trainer = await browser.open_tab(room.trainer_url, await browser.new_context())
        await trainer.wait_for_page(lambda t: "Ana" in t)

        await ana.press("k")
        await ana.wait_for_text(checklist_passed, timeout=60)
        finished = time.monotonic()
        row = None
        while time.monotonic() - finished < 2.0:  # the dashboard shows that check within 2 s
            rows = await trainer.evaluate(dashboard_rows_js())
            row = next((r for r in rows if r["id"] == "t1"), None)
            if row and row["items"] == ["pass"] * 4:
                break
            await asyncio.sleep(0.1)
        assert row is not None and row["items"] == ["pass"] * 4, f"the dashboard shows {row}"
        assert "Ana" in row["text"] and str(ana_lab) in row["text"]
        calls_before = database_calls(ana_db)
        assert calls_before >= 5

        # Calls screen, then a reload: the same console, on the same screen, with the same calls
        await ana.press("c")
        await ana.wait_for_text(calls_shown)
        await ana.reload()
        after_reload = await ana.wait_for_text(calls_shown)
        assert "CONFIGURE" not in after_reload  # still Calls: the console was kept and redrawn, not restarted
        assert console_on(room.process.pid, ana_db) == ana_console
        await ana.press("d")
        assert lab_of(await ana.wait_for_text(home_shown)) == ana_lab

        # the tab closed and opened again: still hers
        await ana.close()
        ana = await browser.open_tab(room.trainee_url, ana.context)
        assert lab_of(await ana.wait_for_text(home_shown)) == ana_lab
        assert console_on(room.process.pid, ana_db) == ana_console
    finally:
        await browser.close()
        stop_room(room)
    assert not await wait_gone(seen, 15), "session processes left behind"
