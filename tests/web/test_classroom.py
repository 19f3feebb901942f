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

from store import labs
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


async def wait_for_rows(trainer, check, within: float = 10.0):
    deadline = time.monotonic() + within
    rows = []
    while time.monotonic() < deadline:
        rows = await trainer.evaluate(dashboard_rows_js())
        if check(rows):
            return rows
        await asyncio.sleep(0.2)
    raise AssertionError(f"the dashboard shows {rows}")


def calls_shown(text: str) -> bool:
    """The Calls screen with the checklist's five calls, ended."""
    return "Setup" in text and "Gateway" in text and text.count(" ended ") >= 5


def database_calls(db: Path) -> int:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


async def test_a_room_trainees_join_reload_and_the_trainer_sees_them(tmp_path):
    port, folder = free_port(), tmp_path / "room"
    room = start_room(port, folder, "--max-trainees", "2")
    browser = Browser(shutil.which("chromium"), tmp_path / "chromium")
    seen: set[int] = set()
    try:
        await browser.start()

        # a wrong room code gets a page that says so, and no lab
        stranger = await browser.open_tab(f"{room.base}/join/WRONGCODE1", await browser.new_context())
        assert "not the room's code" in await stranger.wait_for_page(lambda t: "code" in t)
        # and the trainer's link without its secret: refused, and no dashboard
        await stranger.navigate(f"{room.base}/trainer/not-the-secret/")
        refused = await stranger.wait_for_page(lambda t: "Not for you" in t)
        assert "the trainer" in refused and "Give to everyone" not in refused
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

        # Ben, from his own browser: another lab
        ben = await join(browser, room.trainee_url, "Ben")
        ben_lab = lab_of(await ben.wait_for_text(home_shown))
        assert ben_lab != ana_lab and ben_lab in LABS
        ben_db = folder / f"lab-{ben_lab}-t2.db"
        ben_console = await wait_for(lambda: console_on(room.process.pid, ben_db), 10, "Ben's console")
        await ben.wait_for_text(lambda t: t.count("● up") == 4, timeout=60)
        seen |= {ben_console, *children(ben_console)}
        await trainer.wait_for_page(lambda t: "Ana" in t and "Ben" in t)

        # the room takes two: Cleo's browser gets a page that says so (no splash, no lab)
        cleo = await join(browser, room.trainee_url, "Cleo")
        assert "The room is full: it takes 2 trainees" in await cleo.wait_for_page(lambda t: "full" in t)
        await cleo.close()

        # the trainer gives an exercise to everyone: each trainee's Exercises screen shows it running
        await trainer.evaluate(f"window.confirm = () => true; document.getElementById('scenario').value = {EXERCISE!r};"
                               "document.getElementById('give-all').click()")
        await trainer.wait_for_page(lambda t: "given to everyone (2)" in t)
        for tab in (ana, ben):
            await tab.press("w")  # the list marks the exercise started (…)
            await tab.wait_for_text(lambda t: f"… {EXERCISE}" in t)
        rows = await wait_for_rows(trainer, lambda rows: [r["exercise"] for r in rows] == [EXERCISE] * 2)
        assert {r["id"] for r in rows} == {"t1", "t2"}

        # the trainer looks at Ben's console read-only: the same screen, and no key of the view reaches it
        view = await browser.open_tab(f"{room.trainer_url}view/t2", trainer.context)
        await view.wait_for_text(lambda t: f"… {EXERCISE}" in t and "EXERCISES" in t)
        await view.press("f")
        await asyncio.sleep(1.0)
        assert "EXERCISES" in await ben.screen_text()  # Ben still on Exercises
        assert "PBX FIREWALL" not in await view.screen_text()
        await view.close()

        # the trainer ends Ben's session: his page says so, his console and agents stop, his lab is free
        ben_processes = [ben_console, *children(ben_console)]
        await trainer.evaluate("window.confirm = () => true;"
                               "document.querySelector('tr[data-trainee=t2] button:nth-of-type(3)').click()")
        assert "ended this session" in await ben.wait_for_page(lambda t: "ended" in t)
        assert not await wait_gone(ben_processes, 20), "Ben's console is still running"
        assert alive(ana_console)
        await wait_for_rows(trainer, lambda rows: any(r["id"] == "t2" and "ended" in r["text"] for r in rows))

        # the server restarts on the same folder while another program holds Ana's lab: her page
        # comes back by itself and says why her lab cannot start; once the lab is free, "Try
        # again" brings her own lab and database back (a new console on it: her calls are there)
        ana_processes = [ana_console, *children(ana_console)]
        stop_room(room)
        assert not await wait_gone(ana_processes, 20), "Ana's console outlived the server"
        assert "reconnecting" in await ana.wait_for_page(lambda t: "reconnecting" in t)
        first = room
        other_program = labs.reserve(ana_lab)
        try:
            room = start_room(port, folder, "--max-trainees", "2")
            assert (room.trainee_url, room.trainer_url) == (first.trainee_url, first.trainer_url)
            why = await ana.wait_for_page(lambda t: "in use by another program" in t)
            assert f"lab {ana_lab}" in why and "Tell your trainer" in why and "Try again" in why
            assert console_on(room.process.pid, ana_db) is None
        finally:
            other_program.release()
        await ana.evaluate("document.getElementById('closed-action').click()")
        assert lab_of(await ana.wait_for_text(home_shown, timeout=60)) == ana_lab
        ana_console = await wait_for(lambda: console_on(room.process.pid, ana_db), 10, "Ana's console again")
        seen |= {ana_console, *children(ana_console)}
        await ana.press("c")
        await ana.wait_for_text(calls_shown)
        await trainer.reload()
        await wait_for_rows(trainer, lambda rows: [(r["id"], r["items"]) for r in rows if r["id"] == "t1"]
                            == [("t1", ["pass"] * 4)])

        # the room's folder is the trainer's alone: databases, journals and the room file 0600
        modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
        assert folder.stat().st_mode & 0o777 == 0o700
        assert modes and set(modes.values()) == {0o600}, modes
        assert {"classroom.json", ana_db.name, ben_db.name} <= set(modes)
    finally:
        await browser.close()
        stop_room(room)
    assert not await wait_gone(seen, 15), "session processes left behind"
