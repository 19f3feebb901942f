"""What a screen shows is true now: no stale checklist, no practice call counted, the newest
call in view, the stored calls after a restart, every drop, counts that belong to their rule,
hints in this lab's addresses, and changes made by another writer seen within a second.

Deterministic consoles (recorded agent events, no agents); "another writer" is a second
connection to the same SQLite file, as the command line or a second console would be."""

from __future__ import annotations

from pathlib import Path

from sip.calls import call_record
from sip.replay import load_recording
from store import AddressPlan, Store
from store.scenario import find, load
from tests.console.conftest import FIXED_NOW, console, prepared, settle
from tests.console.test_pilot import shown_text
from tests.support.replay import EVENTS, replay

WITHIN_1_S = 20  # settle() tries, 50 ms each


def checklist_text(app) -> str:
    return shown_text(app.screen.query_one("#checklist"))


async def start_exercise_elsewhere(db: Path, name: str) -> None:
    """What `app.py scenario load NAME` does, on a connection of its own."""
    async with await Store.open(db) as other:
        scenario = find(name)
        await load(other, scenario)
        await other.start_exercise(scenario.name, now=FIXED_NOW)


async def test_home_checklist_starts_over_when_an_exercise_starts(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok", "outbound_header_ok")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert checklist_text(app).count("✔") == 4
        await start_exercise_elsewhere(db_path, "stale_voip_token")
        assert await settle(pilot, lambda: "✔" not in checklist_text(app), WITHIN_1_S), checklist_text(app)
        assert [i.status for i in app.checklist] == ["unknown"] * 4
        assert app.exercise == "stale_voip_token"


async def test_while_the_checklist_runs_it_says_so_and_old_results_are_gone(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok", "outbound_header_ok")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert checklist_text(app).count("✔") == 4
        await pilot.press("k")  # the (recorded) agents never answer: the run stays under way
        assert await settle(pilot, lambda: "placing the test calls" in checklist_text(app))
        text = checklist_text(app)
        assert "✔" not in text and "ok" not in text and text.count("…") == 4
        assert app.checklist_running()


async def test_a_deliberate_wrong_token_call_is_practice_not_a_broken_trunk(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c", "o")
        await pilot.pause()
        app.screen.query_one("#token").value = "stale-token"
        await pilot.press("enter")
        assert await settle(pilot, lambda: "c1" in app.lab.book.calls)
        for record in load_recording(EVENTS / "outbound_wrong_token.jsonl"):  # what the agents then say
            if record["source"] != "lab":
                app.lab.on_agent_event(record["source"], record["event"])
        call = app.lab.book.calls["c1"]
        assert (call.final_code, call.practice) == (401, True)
        await pilot.press("d")
        await pilot.pause()
        assert "✘" not in checklist_text(app), checklist_text(app)
        assert [i.status for i in app.checklist] == ["unknown"] * 4


async def test_calls_open_on_the_newest_call(db_path):
    async def no_rule_for_gateway_3(store):
        account = await store.account()
        await store.remove_firewall_rule(next(r.rule_id for r in account.firewall_rules if r.cidr == "127.0.0.3/32"))

    await prepared(db_path, no_rule_for_gateway_3)
    app = console(db_path, "inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        table = app.screen.query_one("#call-list")
        newest = max(app.lab.book.calls.values(), key=lambda c: c.started_at)
        keys = [row.key.value for row in table.ordered_rows]
        assert [k for k in keys if "\t" not in k] == [c.ref for c in app.screen.calls()]  # a row per call (and its B legs)
        assert table.cursor_row == keys.index(newest.ref)
        assert app.screen.selected is newest
        assert table.scroll_offset.y + table.scrollable_content_region.height > table.cursor_row  # in view


async def store_cdrs(store: Store, *recordings: str) -> None:
    for name in recordings:
        for call in replay(name).calls.values():
            await store.record_call(call_record(call))


async def test_after_a_restart_the_calls_screen_shows_the_stored_calls(db_path):
    await prepared(db_path, lambda store: store_cdrs(store, "inbound_ok", "outbound_wrong_token"))
    app = console(db_path)  # no call in this session
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert len([r for r in app.screen.query_one("#call-list").ordered_rows if "\t" not in r.key.value]) == 2
        assert "no calls yet" not in shown_text(app.screen.query_one("#audio"))
        assert len(app.screen.query_one("#ladder").rungs) > 5  # the stored ladder
        assert [i.status for i in app.checklist] == ["unknown"] * 4  # history, not a check


async def sip_only_for_gateway_2(store: Store) -> None:
    account = await store.account()
    await store.remove_firewall_rule(next(r.rule_id for r in account.firewall_rules if r.cidr == "127.0.0.2/32"))
    await store.add_firewall_rule("127.0.0.2", protocol="sip", note="SIP only")


async def test_firewall_recent_drops_show_rtp(db_path):
    await prepared(db_path, sip_only_for_gateway_2)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        drops = shown_text(app.screen.query_one("#drops"))
        assert "127.0.0.2:4002 -x 127.0.0.10:4000" in drops and "RTP," in drops, drops


async def test_firewall_drops_start_over_when_an_exercise_starts(db_path):
    async def no_rule_for_gateway_3(store):
        account = await store.account()
        await store.remove_firewall_rule(next(r.rule_id for r in account.firewall_rules if r.cidr == "127.0.0.3/32"))

    await prepared(db_path, no_rule_for_gateway_3)
    app = console(db_path, "inbound_firewall_drop")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        drops = lambda: shown_text(app.screen.query_one("#drops"))  # noqa: E731
        assert "INVITE" in drops()
        await start_exercise_elsewhere(db_path, "number_not_assigned")
        assert await settle(pilot, lambda: "no drops" in drops(), WITHIN_1_S), drops()


async def test_a_new_rule_does_not_show_the_count_of_a_deleted_one(db_path):
    await prepared(db_path, sip_only_for_gateway_2)  # 127.0.0.2 is now the last rule (id 3)
    async with await Store.open(db_path) as store:
        account = await store.account()
        await store.remove_firewall_rule(next(r.rule_id for r in account.firewall_rules if r.cidr == "127.0.0.2/32"))
        await store.add_firewall_rule("127.0.0.2", note="any again")
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        table = app.screen.query_one("#rules")
        let_through = lambda row: table.get_row_at(row)[4]  # noqa: E731
        assert [table.get_row_at(r)[1] for r in range(2)] == ["127.0.0.3/32", "127.0.0.2/32"]
        deleted_id = app.account.firewall_rules[1].rule_id
        assert int(let_through(1)) > 0
        await pilot.press("down", "delete")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 1)
        await pilot.press("a", *"127.0.0.11", "enter")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 2)
        assert app.account.firewall_rules[1].rule_id == deleted_id  # SQLite gave the id again
        assert let_through(1) == "0"


async def test_input_hints_are_in_this_lab_s_addresses(tmp_path):
    db = tmp_path / "lab21.db"
    async with await Store.open(db, plan=AddressPlan.in_block("127.0.21.0/24")):
        pass
    app = console(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert "127.0.21.3" in app.screen.query_one("#add-rule").placeholder
        await pilot.press("e")
        await pilot.pause()
        assert "127.0.21.10" in app.screen.query_one("#restrictions").placeholder
        await pilot.press("down", "a")  # the Add address dialog
        await pilot.pause()
        assert "127.0.21.12" in app.screen.query_one("#address-ip").placeholder
        await pilot.press("escape", "c", "o")
        await pilot.pause()
        assert "IP-based (from 127.0.21.10)" in shown_text(app.screen.query_one("#auth SelectCurrent Static#label"))
        texts = [app.screen.query_one(w).placeholder for w in ("#to", "#token")]
        assert not any("127.0.0." in t for t in texts)
