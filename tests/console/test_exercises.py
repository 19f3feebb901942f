"""Exercises that teach, driven with Pilot: easiest first, Check my fix said on the status line
(no toast over the results), hints asked for and chosen for what the check found, trainee mode,
and a report that says what the trainee changed.

Deterministic consoles (recorded agent events, no agents). The checklist's calls are not under
test here: run_checklist returns the recorded calls, judged by the real checklist.
"""

from __future__ import annotations

from sip.checklist import evaluate
from store import Store
from store.scenario import find, library, load
from tests.console.conftest import FIXED_NOW, console, prepared, settle
from tests.console.test_pilot import shown_text
from tests.support.replay import replay


def started(name: str):
    async def edit(store: Store) -> None:
        await load(store, find(name))
        await store.start_exercise(name, now=FIXED_NOW)

    return edit


def checks_answer(app, *recordings: str) -> None:
    """The lab's checklist, answered from recorded calls (the real checklist judges them)."""
    calls = [c for name in recordings for c in replay(name).calls.values()]

    async def run_checklist(**_):
        return evaluate(calls, app.lab.account), calls

    async def idle(_timeout: float = 0) -> bool:
        return True

    app.lab.run_checklist = run_checklist
    app.lab.wait_until_idle = idle


async def check_once(pilot, app, name: str, *recordings: str) -> None:
    """On Exercises: Check my fix (v), answered by these recorded calls, and wait for it."""
    checks_answer(app, *recordings)
    await pilot.press("v")
    assert await settle(pilot, lambda: app.lab.progress[name].checks == 1)


def detail(app) -> str:
    return shown_text(app.screen.query_one("#exercise"))


def status(app) -> str:
    return str(app.screen.query_one("#exercise-status").render())


async def test_the_list_is_easiest_first_under_a_heading_per_difficulty(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        options = app.screen.query_one("#exercise-list").options
        shown = [str(o.prompt).strip() for o in options]
        assert shown[0] == "EASY" and "MEDIUM" in shown and "HARD" in shown
        names = [o.id for o in options if o.id]
        assert names == [s.name for s in library()]
        difficulties = [find(n).difficulty for n in names]
        assert difficulties == sorted(difficulties)
        assert app.screen.selected.name == names[0]  # the cursor starts on a scenario, not a heading


async def test_check_my_fix_says_its_outcome_on_the_status_line_not_in_toasts(db_path):
    """Toasts stacked over the last check's results. Now the outcome is one status line above
    them, and the results come before the story."""
    await prepared(db_path, started("stale_voip_token"))
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await check_once(pilot, app, "stale_voip_token", "inbound_ok", "outbound_wrong_token")
        await pilot.pause(0.1)
        assert not app._notifications  # nothing over the results
        assert "Not yet: 2 of 4 items fail" in status(app)
        text = detail(app)
        assert text.index("Last check") < text.index("The story")
        assert "cause: digest response is wrong" in text
        assert "fix:   shown once you ask for a hint (h)" in text and "PBX settings -> VoIP token" not in text
        pane = app.screen.query_one("#exercise-box").region
        assert app.screen.query_one("#exercise-status").region.bottom <= pane.y  # above, not over


async def test_the_status_line_counts_untested_items_apart_and_speaks_of_the_selected_exercise(db_path):
    """Only inbound calls, all dropped: one item fails, three could not be tested (no outbound
    call, no answered call); the line said "4 of 4 items fail" while the list showed one ✘ and
    three ·. And what the line said ("Report written: ...", "Fixed! ...") stayed while the
    trainee read another exercise: it is cleared when the selection moves to another one, and
    kept when the list is only redrawn (progress changed)."""
    await prepared(db_path, started("firewall_allows_no_carrier"))
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("w")
        await check_once(pilot, app, "firewall_allows_no_carrier", "inbound_firewall_drop")
        await pilot.pause(0.1)
        assert [row.status for row in app.lab.progress["firewall_allows_no_carrier"].checklist] == [
            "fail", "unknown", "unknown", "unknown"]
        assert "Not yet: 1 of 4 items fail, 3 could not be tested yet." in status(app)
        await pilot.press("h")  # a hint redraws the list: the line now says the hint, still about this one
        assert await settle(pilot, lambda: app.lab.progress["firewall_allows_no_carrier"].hints_shown == 1)
        await pilot.pause(0.1)
        assert "Hint 1 below" in status(app) and app.screen.query_one("#exercise-status").display
        await pilot.press("down")  # another exercise
        await pilot.pause(0.1)
        assert app.screen.selected.name != "firewall_allows_no_carrier"
        assert status(app) == "" and not app.screen.query_one("#exercise-status").display


async def test_a_hint_is_asked_for_after_a_check_and_then_the_fix_shows(db_path):
    await prepared(db_path, started("stale_voip_token"))
    app = console(db_path)
    scenario = find("stale_voip_token")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("w", "h")  # before any check: nothing to choose a hint for
        await pilot.pause(0.1)
        assert "Check your fix first (v)" in status(app)
        assert app.lab.progress["stale_voip_token"].hints_shown == 0
        await check_once(pilot, app, "stale_voip_token", "inbound_ok", "outbound_wrong_token")
        await pilot.press("h")
        assert await settle(pilot, lambda: app.lab.progress["stale_voip_token"].hints_shown == 1)
        await pilot.pause(0.1)
        text = detail(app)
        assert f"Hint 1  {scenario.hints[0].text}" in text.replace("\n", " ")
        assert "fix:   PBX settings -> VoIP token" in text
        # ... and what the calls did stays: hints point at it (it went once a hint was given)
        lines = [line.rstrip() for line in text.splitlines()]
        outbound = lines.index("✘ Outbound calls are successfully initiated")
        assert lines[outbound + 1:outbound + 3] == ["  proxy: 401 Unauthorized",
                                                    "  cause: digest response is wrong: not the VoIP token of 'Acme PBX'"]
        assert "Hint 1 below" in status(app)


async def test_a_hint_is_about_what_still_fails(db_path):
    """The inbound calls of gateway_missing_from_firewall pass (the trainee allowed the address)
    but the trainee broke outbound on the way: the hints about inbound are skipped."""
    await prepared(db_path, started("gateway_missing_from_firewall"))
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("w")
        await check_once(pilot, app, "gateway_missing_from_firewall", "inbound_ok", "outbound_wrong_token")
        await pilot.press("h")
        assert await settle(pilot, lambda: app.lab.progress["gateway_missing_from_firewall"].hints_shown == 1)
        given = app.lab.progress["gateway_missing_from_firewall"].hints[0]
        assert given == find("gateway_missing_from_firewall").hints[2].text  # about outbound too, not 1 or 2


async def test_home_s_checklist_keeps_the_fix_back_during_an_exercise_until_a_hint(db_path):
    await prepared(db_path, started("gateway_missing_from_firewall"))
    app = console(db_path, "inbound_ok", "inbound_firewall_drop")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        checklist = lambda: shown_text(app.screen.query_one("#checklist"))  # noqa: E731
        assert "dropped by the PBX firewall" in checklist()  # the cause
        # the way to the fix, in the order it works: a hint is chosen for what Exercises' own check found
        assert "on Exercises (w): check your fix (v), then ask for a hint (h)" in checklist()
        assert "Firewall -> add" not in checklist()
        async with await Store.open(db_path) as other:  # a hint, asked for by this trainee elsewhere
            await other.record_check("gateway_missing_from_firewall", passed=False, checklist=[], ladder="",
                                     now=FIXED_NOW)
            await other.give_hint("gateway_missing_from_firewall", "look at the ladder")
        assert await settle(pilot, lambda: "Firewall -> add" in checklist(), 40)


async def test_the_report_says_what_the_trainee_changed(db_path):
    await prepared(db_path, started("stale_voip_token"))
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("b", "u")  # PBX settings: copy the portal's token into the PBX
        assert await settle(pilot, lambda: app.account.pbx_trunk.voip_token == app.account.pbx_endpoint().voip_token)
        await pilot.press("w", "r")
        report = db_path.parent / "exports" / db_path.stem / "exercise-stale_voip_token.md"
        assert await settle(pilot, report.exists)
        text = report.read_text()
        changed = text[text.index("## What you changed"):text.index("## The last check")]
        assert "PBX SETTINGS" in changed and "- voip_token" in changed and "+ voip_token" in changed
        assert app.account.pbx_trunk.voip_token not in text  # masked, as show prints it
        assert "Report written" in status(app) and not any("Report" in n.message for n in app._notifications)
