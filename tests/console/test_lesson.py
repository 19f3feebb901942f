"""The Lesson screen (y): snapshots at each step from a new customer's blank account to all
green, and a lesson that ticks when the account changes underneath it (another writer).

Deterministic: fixed SIDs, UTC, recorded engine events, no live pjsua2 call. Step 1 ("a call
has reached the System Gateway") is given as recorded progress (an earlier session's), or by
recorded calls for the last snapshot."""

from __future__ import annotations

import pytest

from screens.lab_app import TrunkLabApp
from sip.lab import Lab
from store import AddressPlan, Store
from tests.conftest import next_block
from tests.console.conftest import FIXED_NOW, agents_up, console, prepare, prepared, settle
from tests.console.test_pilot import shown_text


async def blank(store: Store) -> None:
    await store.reset(blank=True)


async def flow_seen(store: Store) -> None:
    await blank(store)
    await store.record_lesson_steps(["flow"], now=FIXED_NOW - 600)


async def allow_the_gateways(store: Store) -> None:
    for address in (await store.account()).system_gateway.addresses:
        await store.add_firewall_rule(f"{address.ip}/32", note="CarrierX System Gateway")


async def firewall_done(store: Store) -> None:
    await flow_seen(store)
    await allow_the_gateways(store)


async def auth_done(store: Store) -> None:
    await firewall_done(store)
    endpoint = await store.create_endpoint("Acme PBX")
    pbx = (await store.account()).party("pbx")
    await store.add_endpoint_address(endpoint.endpoint_sid, pbx.ip, port=pbx.port)
    await store.update_pbx_trunk(endpoint_sid=endpoint.endpoint_sid, voip_token=endpoint.voip_token)


async def numbers_done(store: Store) -> None:
    await auth_done(store)
    account = await store.account()
    group = await store.create_trunk_group("Acme trunk group")
    await store.add_trunk(group.trunk_group_sid, account.pbx_endpoint().endpoint_sid)
    for did in account.dids[:2]:
        await store.assign_did(did.did_sid, group.trunk_group_sid)


# ---------------------------------------------------------------------------- snapshots, step by step


def test_lesson_on_a_blank_account(snap_compare, db_path):
    prepare(db_path, blank)
    assert snap_compare(console(db_path), press=["y"])


def test_lesson_with_the_firewall_done(snap_compare, db_path):
    prepare(db_path, firewall_done)
    assert snap_compare(console(db_path), press=["y"])


def test_lesson_with_authentication_done(snap_compare, db_path):
    prepare(db_path, auth_done)
    assert snap_compare(console(db_path), press=["y"])


def test_lesson_with_the_numbers_done(snap_compare, db_path):
    prepare(db_path, numbers_done)
    assert snap_compare(console(db_path), press=["y"])


def test_lesson_all_green(snap_compare, db_path):
    prepare(db_path, numbers_done)
    assert snap_compare(console(db_path, "inbound_ok", "outbound_header_ok"), press=["y"])


def test_lesson_the_security_note_on_a_wider_terminal(snap_compare, db_path):
    """Authentication, expanded whole: the three methods and the note on the token in clear."""
    prepare(db_path, firewall_done)
    assert snap_compare(console(db_path), press=["y"], terminal_size=(120, 40))


# ---------------------------------------------------------------------------- behaviour


def screen_text(app) -> tuple[str, str, str]:
    """The progress line, the list of steps, the expanded step, as plain text."""
    screen = app.screen
    steps = screen.query_one("#lesson-steps")
    lines = "\n".join(str(steps.get_option_at_index(i).prompt) for i in range(steps.option_count))
    return shown_text(screen.query_one("#lesson-progress")), lines, shown_text(screen.query_one("#lesson-step"))


async def test_the_lesson_ticks_when_another_writer_changes_the_account(db_path):
    """The firewall rules added by another connection to the file (the command line, another
    console): the lab sees the commit, the screen ticks step 2 and moves on to step 3, and the
    store records when step 2 was first done. Removing a rule unticks it; its record stays."""
    await prepared(db_path, flow_seen)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        progress, steps, step = screen_text(app)
        assert "1 of 5 steps done" in progress
        assert "✔ 1  How calls flow" in steps and "▶ 2  Configure your firewall" in steps
        assert step.startswith("Step 2 of 5: Configure your firewall to accept calls")
        assert "Next: Firewall (f) -> a -> type 127.0.0.2 -> Enter" in step

        async with await Store.open(db_path) as other:
            await allow_the_gateways(other)
            assert await settle(pilot, lambda: "2 of 5 steps done" in screen_text(app)[0], tries=80)
            progress, steps, step = screen_text(app)
            assert "✔ 2  Configure your firewall" in steps and "▶ 3  Set up authentication" in steps
            assert step.startswith("Step 3 of 5: Set up authentication")
            assert await settle(pilot, lambda: "firewall" in app.lab.lesson_done)
            assert set(await other.lesson_progress()) == {"flow", "firewall"}
            first = (await other.lesson_progress())["firewall"]

            rule = (await other.account()).firewall_rules[-1]
            await other.remove_firewall_rule(rule.rule_id)
            assert await settle(pilot, lambda: "1 of 5 steps done" in screen_text(app)[0], tries=80)
            assert "▶ 2  Configure your firewall" in screen_text(app)[1]
            assert (await other.lesson_progress())["firewall"] == first  # first done, kept


async def test_the_cursor_follows_the_current_step_until_the_trainee_reads_another(db_path):
    await prepared(db_path, flow_seen)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("down", "down")  # to step 4, to read ahead
        await pilot.pause()
        assert screen_text(app)[2].startswith("Step 4 of 5: Verify phone number assignment")
        assert "empty Assigned Phone Numbers tab" in screen_text(app)[2]
        await app.store.add_firewall_rule("127.0.0.0/24")  # step 2 done: step 3 is current now
        assert await settle(pilot, lambda: "2 of 5 steps done" in screen_text(app)[0], tries=80)
        assert screen_text(app)[2].startswith("Step 4 of 5")  # still what the trainee is reading
        await pilot.press("up")  # back to the current step: the cursor follows it again
        await pilot.pause()
        assert screen_text(app)[2].startswith("Step 3 of 5: Set up authentication")
        endpoint = await app.store.create_endpoint("Acme PBX")
        await app.store.add_endpoint_address(endpoint.endpoint_sid, "127.0.0.10")
        await app.store.update_pbx_trunk(endpoint_sid=endpoint.endpoint_sid, voip_token=endpoint.voip_token)
        assert await settle(pilot, lambda: "3 of 5 steps done" in screen_text(app)[0], tries=80)
        assert screen_text(app)[2].startswith("Step 4 of 5: Verify phone number assignment")


async def test_a_lesson_on_a_blank_account_starts_with_a_call(db_path):
    await prepared(db_path, blank)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        progress, steps, step = screen_text(app)
        assert "0 of 5 steps done" in progress and "▶ 1  How calls flow" in steps
        assert "Next: Calls (c) -> i -> Enter: the PSTN calls +1 202-555-0100" in step
        assert app.lab.lesson_done == {}


async def unassigned_group(store: Store) -> None:
    """Authentication done and a trunk group to the endpoint, its numbers not assigned yet."""
    await auth_done(store)
    group = await store.create_trunk_group("Acme trunk group")
    await store.add_trunk(group.trunk_group_sid, (await store.account()).pbx_endpoint().endpoint_sid)


async def test_calls_from_before_the_account_changed_do_not_judge_the_lesson_s_checklist(db_path):
    """A call refused 404 (number not assigned), then the numbers assigned by another writer:
    Home's checklist still shows that call's failure, but the lesson's last step asks for a new
    check (k), not for the fix that was just made."""
    await prepared(db_path, unassigned_group)
    app = console(db_path, "inbound_unassigned")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        assert app.lab.lesson.current.key == "numbers"
        async with await Store.open(db_path) as other:
            account = await other.account()
            for did in account.dids:
                await other.assign_did(did.did_sid, account.trunk_groups[0].trunk_group_sid)
        assert await settle(pilot, lambda: "4 of 5 steps done" in screen_text(app)[0], tries=80)
        assert app.lab.checklist[0].status == "fail"  # Home: the 404 call's verdict stands
        step = screen_text(app)[2]
        assert step.startswith("Step 5 of 5: The verification checklist")
        assert "Next: k: run the Verification Checklist" in step


async def test_a_database_that_cannot_record_the_lesson_is_said_and_the_lesson_stands(db_path, monkeypatch):
    from store.errors import StoreError

    async def refuse(self, steps, now):
        raise StoreError("disk I/O error")

    monkeypatch.setattr(Store, "record_lesson_steps", refuse)
    await prepared(db_path, blank)
    app = console(db_path, "inbound_unassigned")  # a call reached the gateway: step 1 is done
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("y")
        await pilot.pause()
        assert "1 of 5 steps done" in screen_text(app)[0]
        assert app.lab.lesson_done == {}
        shown = [n.message for n in app._notifications]
        said = [m for m in shown if "cannot record the lesson's progress in the database: disk I/O error" in m]
        assert len(said) == 1, shown
        await app.store.add_firewall_rule("127.0.0.0/24")  # another step done, another failed write
        assert await settle(pilot, lambda: "2 of 5 steps done" in screen_text(app)[0], tries=80)
        await pilot.pause(0.2)
        assert len([n for n in app._notifications if "cannot record the lesson" in n.message]) == 1  # said once


@pytest.mark.agents
@pytest.mark.timeout(120)
async def test_a_real_call_refused_at_the_gateway_ticks_how_calls_flow(tmp_path):
    """Live agents, a blank account: the first call a trainee places (c, i, Enter) is refused
    404 by the real System Gateway (no number is assigned yet), and that ticks step 1."""
    db = tmp_path / "live.db"
    async with await Store.open(db, plan=AddressPlan.in_block(next_block())) as store:
        await store.reset(blank=True)
    app = TrunkLabApp(db, engine_factory=lambda store: Lab(store, b_leg_timeout_s=1.5))
    async with app.run_test(size=(80, 24)) as pilot:
        assert await settle(pilot, lambda: agents_up(app) and app.lab.ready, 200)
        await pilot.press("y")
        await pilot.pause()
        assert app.lab.lesson.current.key == "flow"
        await pilot.press("c", "i", "enter")
        assert await settle(pilot, lambda: app.lab.lesson.step("flow").done, 200)
        [call] = [c for c in app.lab.book.calls.values() if not c.stored]
        assert call.final_code == 404 and call.decisions
        assert await settle(pilot, lambda: "flow" in app.lab.lesson_done)
        await pilot.press("y")
        await pilot.pause()
        assert "1 of 5 steps done" in screen_text(app)[0]
        await app.action_quit()
