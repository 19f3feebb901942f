"""Driving the console with Pilot against a real store (and, once, real agents)."""

from __future__ import annotations

import os

import pytest

from screens import messages
from screens.endpoints import EndpointsScreen
from store import Store
from tests.console.conftest import agents_up, console, live_console, prepared, settle


def shown_text(static) -> str:
    """What a Static shows, as plain text, whatever renderable it holds."""
    from rich.console import Console

    console = Console(width=100, record=True, file=open(os.devnull, "w"))
    console.print(static.content)
    return console.export_text()


async def test_assign_a_number_to_the_trunk_group(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        spare = next(d for d in app.account.dids if d.trunk_group_sid is None)
        await pilot.press("n", "down", "down", "enter")  # the third number is the spare one
        await pilot.pause()
        select = app.screen.query_one("#number-trunk-group")
        select.value = app.account.trunk_groups[0].trunk_group_sid
        await pilot.press("ctrl+s")
        assert await settle(pilot, lambda: next(d for d in app.account.dids if d.did_sid == spare.did_sid).trunk_group_sid)
    async with await Store.open(db_path) as store:  # really saved
        account = await store.account()
        assert len(account.assigned_phonenumbers(account.third_party_endpoints[0].endpoint_sid)) == 3


async def test_add_and_remove_a_firewall_rule(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", "a", *"127.0.0.11 sip", "enter")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 3)
        assert app.account.firewall_rules[-1].cidr == "127.0.0.11/32" and app.account.firewall_rules[-1].protocol == "sip"
        await pilot.press(*"8.8.8.8", "enter")  # the field kept the focus: refused inline, the text stays
        await pilot.pause(0.2)
        assert "public address" in str(app.screen.query_one("#error").render())
        assert app.screen.query_one("#add-rule").value == "8.8.8.8"
        await pilot.press("escape")  # esc leaves the field for the table, on the same screen
        assert app.screen.focused is app.screen.query_one("#rules")
        await pilot.press("escape", "f")  # away and back: the screen kept its place, the field its text
        assert app.screen.query_one("#add-rule").value == "8.8.8.8"
        await pilot.press("home", "delete")  # the table: remove the first rule
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 2)
        assert [r.cidr for r in app.account.firewall_rules] == ["127.0.0.3/32", "127.0.0.11/32"]
    async with await Store.open(db_path) as store:
        assert [r.cidr for r in (await store.account()).firewall_rules] == ["127.0.0.3/32", "127.0.0.11/32"]


async def test_after_adding_a_rule_the_next_one_is_typed_not_taken_for_keys(db_path):
    """Focus once went back to the table after a rule was added: the next rule typed fired the
    screen's keys ("any": a, then n opened Phone Numbers). The field keeps the focus, empty."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", "a", *"127.0.0.11 sip", "enter")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 3)
        field = app.screen.query_one("#add-rule")
        assert app.screen.focused is field and field.value == ""
        await pilot.pause(0.1)
        footer = [k.key for k in app.screen.query("LabFooter FooterKey")]
        assert "escape" in footer and "enter" in footer  # the way out is shown while the field types
        await pilot.press(*"127.0.0.12 any", "enter")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 4)
        assert app.screen.__class__.__name__ == "FirewallScreen"
        assert [(r.cidr, r.protocol) for r in app.account.firewall_rules[2:]] == [
            ("127.0.0.11/32", "sip"), ("127.0.0.12/32", "any")]


@pytest.mark.parametrize(("typed", "reason"), [
    ("127.0.0.5 sip extra", "'extra' is one word too many"),  # was saved, "extra" dropped
    ("[/]", "'[/]' is not an IPv4 address"),  # text, not markup
])
async def test_a_typed_rule_is_refused_whole_and_kept_to_correct(db_path, typed, reason):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", "a", *typed, "enter")
        await pilot.pause(0.2)
        assert reason in str(app.screen.query_one("#error").render())
        assert len(app.account.firewall_rules) == 2 and app.is_running
        assert app.screen.query_one("#add-rule").value == typed


async def test_reveal_and_regenerate_the_token(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e", "down")
        token = app.account.third_party_endpoints[0].voip_token
        details = lambda: str(app.screen.query_one("#details").render())  # noqa: E731
        assert token not in details() and token[-4:] in details()  # masked
        await pilot.press("r")
        assert token in details()  # revealed
        await pilot.press("r")
        assert token not in details()  # hidden again
        await pilot.press("g")
        assert await settle(pilot, lambda: app.account.third_party_endpoints[0].voip_token != token)
        new = app.account.third_party_endpoints[0].voip_token
        await pilot.press("r")
        assert await settle(pilot, lambda: new in details())
        assert isinstance(app.screen, EndpointsScreen)


@pytest.mark.parametrize("key", ["r", "g", "i", "a", "x"])
async def test_the_system_gateway_s_keys_say_why_they_do_nothing(db_path, key):
    """With the System Gateway selected, r, g and i did nothing and a, x focused a hidden field."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        before = app.account
        await pilot.press(key)
        await pilot.pause(0.2)
        error = str(app.screen.query_one("#error").render())
        assert "System Gateway is system-generated and read-only" in error
        assert app.screen.focused is app.screen.query_one("#endpoint-list")  # no hidden field took the focus
        assert app.account == before
        await pilot.press("down")  # your own endpoint: the error was about the other one
        await pilot.pause(0.1)
        assert str(app.screen.query_one("#error").render()).strip() == ""


@pytest.mark.agents
async def test_inbound_call_from_the_console_ticks_inbound_and_audio(tmp_path):
    db = tmp_path / "live.db"
    app = await live_console(db)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await settle(pilot, lambda: agents_up(app), 200)
        await pilot.press("c", "i")
        await pilot.pause(0.2)
        await pilot.press("enter")  # the dialog's first number: an assigned one
        assert await settle(pilot, lambda: any(
            c.heard.get("pstn") and c.heard.get("pbx") for c in app.lab.book.calls.values()), 200)
        await pilot.press("h")
        assert await settle(pilot, lambda: all(c.finished for c in app.lab.book.calls.values()), 100)
        await pilot.press("d")
        items = {i.title: i.status for i in app.checklist}
        assert items["Inbound calls reach your SIP system"] == "pass"
        assert items["Audio is present in both directions"] == "pass"
        assert items["Outbound calls are successfully initiated"] == "unknown"
        await app.action_quit()


async def test_ip_restrictions_are_edited_inline_and_bad_ones_refused(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e", "down", "x", *"127.0.0.10, 10.0.0.0/8", "enter")
        assert await settle(pilot, lambda: app.account.third_party_endpoints[0].attributes.ip_restrictions)
        assert app.account.third_party_endpoints[0].attributes.ip_restrictions == ("127.0.0.10/32", "10.0.0.0/8")
        await pilot.press("x", "ctrl+a", "ctrl+k", *"10.0.0.5/8", "enter")
        await pilot.pause(0.2)
        assert "did you mean 10.0.0.0/8" in str(app.screen.query_one("#error").render())
        assert app.account.third_party_endpoints[0].attributes.ip_restrictions == ("127.0.0.10/32", "10.0.0.0/8")


async def test_home_shows_edits_made_on_another_screen(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        parties = lambda: str(app.screen.query_one("#parties").render())  # noqa: E731
        assert "2 allow rules" in parties()
        await pilot.press("f", "delete")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == 1)
        await pilot.press("d")
        await pilot.pause(0.2)
        assert "1 allow rule" in parties()


async def test_palette_actions_land_on_a_ready_screen(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.action_open("endpoints")  # what the palette does before "reveal"
        await app.screen.run_action("reveal_token")  # the System Gateway: nothing to reveal, no error
        await pilot.press("down")
        await app.screen.run_action("reveal_token")
        token = app.account.third_party_endpoints[0].voip_token
        assert await settle(pilot, lambda: token in str(app.screen.query_one("#details").render()))


async def test_checklist_key_while_agents_are_not_up_is_refused_politely(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.lab.supervisor.states["pstn"] = "starting"
        await pilot.press("k")
        await pilot.pause(0.2)
        assert app.is_running and not [w for w in app.workers if w.group == "checklist"]


@pytest.mark.agents
@pytest.mark.timeout(120)
async def test_an_exercise_from_start_to_fixed_with_real_calls(tmp_path):
    """Start the stale-token exercise, check (fails: hint 1), fix it in PBX settings, check
    again (solved), write the report: every check places real calls through real agents."""
    db = tmp_path / "live.db"
    app = await live_console(db)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await settle(pilot, lambda: agents_up(app), 200)
        await pilot.press("w")
        await pilot.pause(0.2)
        app.screen.select("stale_voip_token")
        await pilot.press("s")
        await pilot.pause(0.2)
        await pilot.press("enter")  # confirm: the account is reset, then broken
        assert await settle(pilot, lambda: app.exercise == "stale_voip_token", 100)
        assert await settle(pilot, lambda: app.account.pbx_trunk.voip_token != app.account.pbx_endpoint().voip_token)
        screen = app.screen
        await pilot.press("v")  # Check my fix
        assert await settle(pilot, lambda: screen.progress.get("stale_voip_token") is not None
                            and screen.progress["stale_voip_token"].checks == 1, 400)
        progress = screen.progress["stale_voip_token"]
        assert progress.hints_shown == 0 and not progress.solved
        assert "401 Unauthorized" in progress.failing_ladder
        assert "fix:   shown once you ask for a hint (h)" in shown_text(screen.query_one("#exercise"))
        await pilot.press("h")
        assert await settle(pilot, lambda: "Hint 1" in shown_text(screen.query_one("#exercise")))
        assert "fix:   PBX settings -> VoIP token" in shown_text(screen.query_one("#exercise"))
        await pilot.press("b", "u")  # PBX settings: copy the portal's current token
        assert await settle(pilot, lambda: app.account.pbx_trunk.voip_token == app.account.pbx_endpoint().voip_token)
        await pilot.press("w")
        screen = app.screen
        await pilot.press("v")
        assert await settle(pilot, lambda: screen.progress["stale_voip_token"].solved, 400), \
            screen.progress["stale_voip_token"].checklist
        await pilot.press("r")
        report = tmp_path / "exports" / db.stem / "exercise-stale_voip_token.md"
        assert await settle(pilot, report.exists)
        text = report.read_text()
        assert "401 Unauthorized" in text[text.index("## Failing ladder"):text.index("## Fixed ladder")]
        assert "answered" in text[text.index("## Fixed ladder"):]
        await app.action_quit()
    async with await Store.open(db) as store:  # progress outlives the app
        assert (await store.exercise_progress())["stale_voip_token"].checks == 2



async def test_a_pbx_field_left_without_enter_is_saved(db_path):
    """Leaving a PBX settings field with tab used to drop the edit without a word."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        app.screen.query_one("#source_port").focus()
        await pilot.press("ctrl+a", "ctrl+k", *"5070", "tab")  # tab: on to the codecs, no enter
        assert await settle(pilot, lambda: app.account.pbx_trunk.source_port == 5070)
        assert str(app.screen.query_one("#error").render()).strip() == ""
    async with await Store.open(db_path) as store:
        assert (await store.account()).pbx_trunk.source_port == 5070


async def test_a_refused_pbx_field_keeps_its_text_and_the_reason_and_esc_puts_back_the_saved_value(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        field = app.screen.query_one("#source_port")
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"99999", "tab")
        await pilot.pause(0.2)
        error = str(app.screen.query_one("#error").render())
        assert "out of range" in error and "Not saved" in error
        assert field.value == "99999" and app.account.pbx_trunk.source_port == 5060
        app.post_message(messages.AccountChanged(None))  # another writer's change: the typed text stays
        await pilot.pause(0.1)
        assert field.value == "99999"
        field.focus()
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert field.value == "5060" and app.screen.focused is None
        assert str(app.screen.query_one("#error").render()).strip() == ""
        assert any("not changed" in n.message for n in app._notifications)


async def test_every_typed_field_has_a_length_limit_and_says_so(db_path):
    """A 200-digit number once reached the PSTN agent (and a pcap file name). Every field of
    the console stops at its limit and says why under it."""
    from screens.widgets.inputs import LabInput

    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        for key, ids in (("f", ["add-rule"]), ("b", ["endpoint_sid", "voip_token", "source_port", "codecs"]),
                         ("e", ["restrictions"])):
            await pilot.press("escape", key)
            if key == "e":
                await pilot.press("down")  # Acme PBX: its fields are shown
            for field_id in ids:
                field = app.screen.query_one(f"#{field_id}", LabInput)
                assert 0 < field.max_length <= 400, field_id
                field.focus()
                await pilot.pause()  # focusing selects the whole text: then fill it
                field.value = "1" * (field.max_length - 1)
                field.cursor_position = len(field.value)
                await pilot.press("1")  # the last character it takes
                assert str(app.screen.query_one("#error").render()).strip() == ""
                await pilot.press("2")  # one too many
                await pilot.pause(0.05)
                assert field.value == "1" * field.max_length
                assert f"{field.max_length} characters at most" in str(app.screen.query_one("#error").render()), field_id
                await pilot.press("escape")  # out of the field (PBX settings: back to the saved value)
                app.screen.show_error()


async def call_dialog(pilot, app, key: str):
    """Calls, then i (inbound) or o (outbound): the dialog on top."""
    from screens.calls import PlaceCallScreen

    await pilot.press("c", key)
    await pilot.pause(0.1)
    assert isinstance(app.screen, PlaceCallScreen)
    return app.screen


@pytest.mark.parametrize(("typed", "reason"), [
    ("", "neither a phone number"),
    ("[/]", "'[/]' is neither a phone number"),
    ("[b]x", "'[b]x' is neither a phone number"),
])
async def test_the_call_dialog_keeps_a_refusal_under_its_field_and_stays_open(db_path, typed, reason):
    """Empty or markup input used to close the dialog with a toast."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await call_dialog(pilot, app, "i")
        calls = len(app.lab.book.calls)
        await pilot.press("ctrl+a", "ctrl+k", *typed, "enter")
        await pilot.pause(0.1)
        assert app.screen is dialog
        assert reason in str(dialog.query_one("#to-error").render())
        assert len(app.lab.book.calls) == calls and not app._notifications
        await pilot.press("ctrl+a", "ctrl+k", *"1" * 33)  # 32 characters at most, and it says so
        assert dialog.query_one("#to").value == "1" * 32
        assert "32 characters at most" in str(dialog.query_one("#to-error").render())


async def test_the_outbound_dialog_refuses_a_token_no_sip_header_can_carry(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await call_dialog(pilot, app, "o")
        dialog.query_one("#token").focus()
        await pilot.press(*"two words", "enter")
        await pilot.pause(0.1)
        assert app.screen is dialog
        assert "has spaces, quotes or separators" in str(dialog.query_one("#token-error").render())
        assert str(dialog.query_one("#to-error").render()).strip() == ""
