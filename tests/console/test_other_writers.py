"""A change made by another process reaches a running console, its agents and its screens
within a second: `scenario load` on the command line while the console is open (issue 10).

Real agents, a real second process on the same SQLite file, real calls for Check my fix."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.console.conftest import agents_up, live_console, settle
from tests.console.test_pilot import shown_text

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.agents, pytest.mark.timeout(240)]


async def another_process(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, (out + err).decode()


async def seen_within(pilot, predicate, seconds: float) -> float:
    """How long predicate() took to hold, from now (fails past `seconds`)."""
    started = time.monotonic()
    assert await settle(pilot, predicate, int(seconds / 0.05)), f"not seen within {seconds} s"
    return time.monotonic() - started


async def check_my_fix(pilot, app, scenario: str):
    """Exercises, v: the real checklist; returns the progress it recorded."""
    await pilot.press("w")
    assert await settle(pilot, lambda: app.exercise == scenario)
    await pilot.press("v")
    assert await settle(pilot, lambda: app.lab.progress[scenario].checks == 1, 2400), "the check did not finish"
    return app.lab.progress[scenario]


async def test_scenario_load_by_another_process_breaks_the_running_lab_and_its_firewall_screen(tmp_path):
    db = tmp_path / "live.db"
    app = await live_console(db)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await settle(pilot, lambda: agents_up(app), 200)
        await pilot.press("f")
        await pilot.pause()
        table = app.screen.query_one("#rules")
        carrier = {f"{a.ip}/32" for a in app.account.system_gateway.addresses}
        rules_shown = lambda: {table.get_row_at(r)[1] for r in range(table.row_count)}  # noqa: E731
        assert rules_shown() == carrier
        await another_process("scenario", "load", "firewall_allows_no_carrier", "--db", str(db))
        took = await seen_within(pilot, lambda: not rules_shown() & carrier, 1.0)
        print(f"firewall screen up to date {took * 1000:.0f} ms after the other process ended")
        progress = await check_my_fix(pilot, app, "firewall_allows_no_carrier")
        assert not progress.solved and [row.status for row in progress.checklist][:2] == ["fail", "fail"]
        inbound = [c for c in app.lab.book.calls.values() if c.direction == "inbound" and not c.stored]
        assert len(inbound) == 2 and all(c.final_code == 408 and c.drops() for c in inbound), [
            (c.final_code, len(c.drops())) for c in inbound]  # the agents drop the gateways' INVITEs
        await app.action_quit()


async def test_a_stale_token_loaded_by_another_process_gets_401_and_is_not_solved(tmp_path):
    db = tmp_path / "live.db"
    app = await live_console(db)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await settle(pilot, lambda: agents_up(app), 200)
        await pilot.press("b")
        await pilot.pause()
        status = lambda: shown_text(app.screen.query_one("#pbx-status"))  # noqa: E731
        assert "token matches" in status()
        await another_process("scenario", "load", "stale_voip_token", "--db", str(db))
        took = await seen_within(pilot, lambda: "token differs" in status(), 1.0)
        print(f"PBX settings screen up to date {took * 1000:.0f} ms after the other process ended")
        progress = await check_my_fix(pilot, app, "stale_voip_token")
        assert not progress.solved
        refused = {c.requested_auth: c.final_code for c in app.lab.book.calls.values()
                   if c.direction == "outbound" and not c.stored}
        assert refused == {"ip": 200, "proxy": 401, "header": 401}, refused
        await app.action_quit()
