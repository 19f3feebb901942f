"""CONFIGURE in the console: each dialog saves with one store transaction, and a refusal stays
under its field with the store's reason while the database is left exactly as it was."""

from __future__ import annotations

import pytest

from screens.dialogs.form import FormDialog
from store import Store
from tests.conftest import dump
from tests.console.conftest import console, prepared, settle


async def blank(store: Store) -> None:
    await store.reset(blank=True)


def error_under(app, field_id: str) -> str:
    return str(app.screen.query_one(f"#{field_id}-error").render())


async def dialog(pilot, app, *keys: str) -> FormDialog:
    await pilot.press(*keys)
    await pilot.pause(0.1)
    assert isinstance(app.screen, FormDialog), app.screen
    return app.screen


async def refused(pilot, app, db_path, field_id: str, reason: str, *keys: str) -> None:
    """Press keys that end in a save; the dialog stays open with `reason` under `field_id` and
    the database is unchanged."""
    screen, before = app.screen, dump(db_path)
    await pilot.press(*keys)
    await pilot.pause(0.2)
    assert app.screen is screen
    assert reason in error_under(app, field_id), error_under(app, field_id)
    assert dump(db_path) == before


def clear(text: str = "") -> list[str]:
    """Empty the focused field, then type text."""
    return ["ctrl+a", "ctrl+k", *text]


# ---------------------------------------------------------------------------- endpoints


async def test_add_new_endpoint_with_provision_trunk_group(db_path):
    await prepared(db_path, blank)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "e", "plus")).id == "add-endpoint-dialog"
        await refused(pilot, app, db_path, "endpoint-name", "a name is required", "enter")
        await refused(pilot, app, db_path, "endpoint-capacity", "must be 0 or more",
                      *"My PBX", "tab", *clear("-1"), "ctrl+s")
        assert error_under(app, "endpoint-name").strip() == ""  # the earlier refusal is gone
        await pilot.press(*clear("2"), "ctrl+s")
        assert await settle(pilot, lambda: len(app.account.endpoints) == 2)
        endpoint = app.account.third_party_endpoints[0]
        assert (endpoint.name, endpoint.capacity, endpoint.type) == ("My PBX", 2, "third_party")
        assert endpoint.voip_token
        [group] = app.account.trunk_groups
        assert group.name == "My PBX trunk group" and [t.endpoint_sid for t in group.trunks] == [endpoint.endpoint_sid]
        assert await settle(pilot, lambda: app.screen.selected == endpoint)  # selected, for its address next


async def test_add_new_endpoint_without_a_trunk_group(db_path):
    await prepared(db_path, blank)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await dialog(pilot, app, "e", "plus")
        await pilot.press(*"Lab PBX", "tab", "tab", "space", "ctrl+s")  # Provision Trunk Group unticked
        assert await settle(pilot, lambda: len(app.account.endpoints) == 2)
        assert app.account.trunk_groups == ()


async def test_edit_an_endpoint_s_name_and_capacity_saves_both_or_neither(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "e", "down", "enter")).id == "edit-endpoint-dialog"
        await refused(pilot, app, db_path, "endpoint-capacity", "is not a whole number",
                      *clear("Main PBX"), "tab", *clear("x"), "enter")
        assert app.account.third_party_endpoints[0].name == "Acme PBX"  # the valid name was not saved alone
        await pilot.press(*clear("4"), "enter")
        assert await settle(pilot, lambda: app.account.third_party_endpoints[0].capacity == 4)
        assert app.account.third_party_endpoints[0].name == "Main PBX"
        assert not isinstance(app.screen, FormDialog)


async def test_delete_an_endpoint_is_refused_while_a_trunk_uses_it(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "e", "down", "delete")).id == "delete-endpoint-dialog"
        before = dump(db_path)
        await pilot.press("enter")  # the Delete button has the focus
        await pilot.pause(0.2)
        assert "still a trunk of Acme trunk group: remove those trunks first" in str(
            app.screen.query_one("#error").render())
        assert dump(db_path) == before
        await pilot.press("escape")
        # a new endpoint with no trunk: deleted
        await dialog(pilot, app, "plus")
        await pilot.press(*"Spare", "tab", "tab", "space", "ctrl+s")
        assert await settle(pilot, lambda: len(app.account.endpoints) == 3)
        assert await settle(pilot, lambda: app.screen.selected.name == "Spare")
        await dialog(pilot, app, "delete")
        await pilot.press("enter")
        assert await settle(pilot, lambda: len(app.account.endpoints) == 2)
        assert [e.name for e in app.account.third_party_endpoints] == ["Acme PBX"]


@pytest.mark.parametrize("key", ["plus", "enter", "delete"])
async def test_add_new_endpoint_is_offered_on_the_system_gateway_and_nothing_else(db_path, key):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e", key)
        await pilot.pause(0.1)
        if key == "plus":
            assert app.screen.id == "add-endpoint-dialog"
            return
        assert not isinstance(app.screen, FormDialog)
        assert "System Gateway is system-generated and read-only" in str(app.screen.query_one("#error").render())


# ---------------------------------------------------------------------------- endpoint addresses


async def test_addresses_add_edit_and_remove(db_path):
    await prepared(db_path)
    app = console(db_path)
    endpoint = lambda: app.account.third_party_endpoints[0]  # noqa: E731
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "e", "down", "a")).id == "add-address-dialog"
        await refused(pilot, app, db_path, "address-ip", "already an address of this endpoint",
                      *"127.0.0.10", "enter")
        await refused(pilot, app, db_path, "address-ip", "public address", *clear("8.8.8.8"), "enter")
        await refused(pilot, app, db_path, "address-port", "out of range",
                      *clear("127.0.0.12"), "tab", *clear("70000"), "enter")
        await pilot.press(*clear("5070"), "tab", "enter", "down", "enter",  # direction: inbound
                          "tab", *clear("1"), "ctrl+s")
        assert await settle(pilot, lambda: len(endpoint().addresses) == 2)
        added = endpoint().addresses[1]
        assert (added.ip, added.port, added.direction, added.priority, added.transport) == (
            "127.0.0.12", 5070, "inbound", 1, "udp")
        # the address table: enter edits the selected address, del removes it
        app.screen.query_one("#endpoint-addresses").focus()
        await pilot.press("down")
        assert (await dialog(pilot, app, "enter")).id == "edit-address-dialog"
        assert app.screen.query_one("#address-ip").value == "127.0.0.12"
        await refused(pilot, app, db_path, "address-priority", "must be 0 or more",
                      "tab", "tab", "tab", *clear("-3"), "enter")
        await pilot.press(*clear("0"), "enter")
        assert await settle(pilot, lambda: {a.priority for a in endpoint().addresses} == {0})
        await pilot.press("delete")
        assert await settle(pilot, lambda: len(endpoint().addresses) == 1)
    async with await Store.open(db_path) as store:
        assert [a.ip for a in (await store.account()).third_party_endpoints[0].addresses] == ["127.0.0.10"]


# ---------------------------------------------------------------------------- trunk groups and trunks


async def test_trunk_groups_create_rename_and_delete_refused_naming_the_numbers(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "t", "plus")).id == "create-trunk-group-dialog"
        await refused(pilot, app, db_path, "trunk-group-name", "a name is required", "enter")
        await pilot.press(*"Backup", "enter")
        assert await settle(pilot, lambda: len(app.account.trunk_groups) == 2)
        # the default group: delete is refused, naming its numbers
        assert (await dialog(pilot, app, "home", "delete")).id == "delete-trunk-group-dialog"
        before = dump(db_path)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert "still has phone numbers +1 202-555-0100, +1 202-555-0101" in str(
            app.screen.query_one("#error").render())
        assert dump(db_path) == before
        await pilot.press("escape", "end")  # the last line: the new group, no trunks, no numbers
        assert (await dialog(pilot, app, "enter")).id == "rename-trunk-group-dialog"
        await pilot.press(*clear("Standby"), "enter")
        assert await settle(pilot, lambda: app.account.trunk_groups[1].name == "Standby")
        await dialog(pilot, app, "delete")
        await pilot.press("enter")
        assert await settle(pilot, lambda: len(app.account.trunk_groups) == 1)


async def test_trunks_add_priority_and_remove(db_path):
    await prepared(db_path)
    app = console(db_path)
    group = lambda: app.account.trunk_groups[0]  # noqa: E731
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "t", "a")).id == "add-trunk-dialog"
        await refused(pilot, app, db_path, "trunk-priority", "is not a whole number", "tab", *clear("x"), "enter")
        await pilot.press(*clear("5"), "enter")
        assert await settle(pilot, lambda: len(group().trunks) == 2)
        assert [t.priority for t in group().trunks] == [0, 5]
        await pilot.press("end")  # the new trunk's line
        assert (await dialog(pilot, app, "enter")).id == "edit-trunk-dialog"
        await refused(pilot, app, db_path, "trunk-name", "a name is required", *clear(), "enter")
        await pilot.press(*"Backup trunk", "tab", *clear("2"), "enter")
        assert await settle(pilot, lambda: group().trunks[1].priority == 2)
        assert group().trunks[1].name == "Backup trunk"
        await pilot.press("delete")  # a trunk's line: removed at once
        assert await settle(pilot, lambda: len(group().trunks) == 1)


async def test_a_trunk_needs_a_group_and_an_endpoint_and_says_so(db_path):
    await prepared(db_path, blank)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t", "a")
        await pilot.pause(0.1)
        assert "first create a trunk group" in str(app.screen.query_one("#error").render())
        await dialog(pilot, app, "plus")
        await pilot.press(*"Main", "enter")
        assert await settle(pilot, lambda: len(app.account.trunk_groups) == 1)
        await pilot.press("a")
        await pilot.pause(0.1)
        assert "Add New Endpoint" in str(app.screen.query_one("#error").render())
        assert not isinstance(app.screen, FormDialog)


# ---------------------------------------------------------------------------- phone numbers


async def test_add_a_number_with_a_name_and_a_trunk_group(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "n", "a")).id == "add-number-dialog"
        await refused(pilot, app, db_path, "number-phonenumber", "is already in the account",
                      *"+1 202 555 0100", "enter")
        await refused(pilot, app, db_path, "number-phonenumber", "not a phone number", *clear("12"), "enter")
        await pilot.press(*clear("+1 202 555 0142"), "tab", *"Sales", "tab", "enter", "down", "enter", "ctrl+s")
        assert await settle(pilot, lambda: len(app.account.dids) == 4)
        did = next(d for d in app.account.dids if d.phonenumber == "12025550142")
        assert did.name == "Sales" and did.trunk_group_sid == app.account.trunk_groups[0].trunk_group_sid


async def test_edit_a_number_s_trunk_group_and_name_then_delete_it(db_path):
    await prepared(db_path)
    app = console(db_path)
    spare = lambda: next((d for d in app.account.dids if d.phonenumber == "12025550199"), None)  # noqa: E731
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "n", "down", "down", "enter")).id == "edit-number-dialog"
        await pilot.press("enter", "down", "enter", "tab", *clear("Night line"), "enter")
        assert await settle(pilot, lambda: spare().trunk_group_sid is not None)
        assert spare().name == "Night line"
        await dialog(pilot, app, "enter")  # unassign again
        await pilot.press("enter", "up", "enter", "ctrl+s")
        assert await settle(pilot, lambda: spare().trunk_group_sid is None)
        await pilot.press("delete")
        assert await settle(pilot, lambda: spare() is None)
        assert len(app.account.dids) == 2


async def test_a_number_s_edit_is_refused_whole_when_its_group_is_gone(db_path):
    """Name and trunk group are one transaction: a refused group keeps the old name too."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await dialog(pilot, app, "n", "down", "down", "enter")
        group = await app.store.create_trunk_group("Gone soon")
        app.screen.query_one("#number-trunk-group").set_options(
            [("(unassigned)", "unassigned"), ("Gone soon", group.trunk_group_sid)])
        app.screen.query_one("#number-trunk-group").value = group.trunk_group_sid
        await app.store.delete_trunk_group(group.trunk_group_sid)
        await refused(pilot, app, db_path, "number-trunk-group", "No trunk group with SID",
                      "tab", *clear("Renamed"), "enter")
        assert next(d for d in app.account.dids if d.phonenumber == "12025550199").name == "Spare number (unassigned)"


# ---------------------------------------------------------------------------- firewall


async def test_edit_a_firewall_rule_s_protocol_and_no_duplicates(db_path):
    await prepared(db_path)
    app = console(db_path)
    rules = lambda: [(r.cidr, r.protocol) for r in app.account.firewall_rules]  # noqa: E731
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await dialog(pilot, app, "f", "enter")).id == "edit-rule-dialog"
        await pilot.press("tab", "enter", "down", "enter", "ctrl+s")  # any -> sip
        assert await settle(pilot, lambda: rules()[0] == ("127.0.0.2/32", "sip"))
        await dialog(pilot, app, "down", "enter")
        await refused(pilot, app, db_path, "rule-cidr", "rule 1 already allows sip from 127.0.0.2/32",
                      *clear("127.0.0.2"), "tab", "enter", "down", "enter", "ctrl+s")  # .3 any -> .2 sip
        await pilot.press("escape")
        await dialog(pilot, app, "up", "enter")
        await refused(pilot, app, db_path, "rule-cidr", "already allows any from 127.0.0.3/32",
                      *clear("127.0.0.3"), "ctrl+s")
        assert rules() == [("127.0.0.2/32", "sip"), ("127.0.0.3/32", "any")]


# ---------------------------------------------------------------------------- a blank account


async def test_start_as_a_new_customer_from_home_after_a_confirmation(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        before = dump(db_path)
        assert (await dialog(pilot, app, "ctrl+n")).id == "blank-account-dialog"
        await pilot.press("escape")  # cancelled: nothing changed
        await pilot.pause(0.1)
        assert dump(db_path) == before and not isinstance(app.screen, FormDialog)
        await dialog(pilot, app, "ctrl+n")
        await pilot.press("enter")
        assert await settle(pilot, lambda: not app.account.third_party_endpoints)
        account = app.account
        assert account.trunk_groups == () and account.firewall_rules == ()
        assert len(account.dids) == 3 and all(d.trunk_group_sid is None for d in account.dids)
        assert account.pbx_trunk is not None and not account.pbx_trunk.configured


async def test_every_dialog_field_has_a_length_limit_and_says_so(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        for keys in (("e", "plus"), ("e", "home", "down", "enter"), ("e", "home", "down", "a"), ("t", "plus"), ("t", "a"),
                     ("n", "a"), ("n", "enter"), ("f", "enter")):
            screen = await dialog(pilot, app, *keys)
            for field in screen.query("LabInput"):
                assert 0 < field.max_length <= 64, field.id
                field.focus()
                await pilot.pause()
                field.value = "1" * field.max_length
                field.cursor_position = len(field.value)
                await pilot.press("2")
                await pilot.pause(0.05)
                assert field.value == "1" * field.max_length
                assert f"{field.max_length} characters at most" in error_under(app, field.id), field.id
            await pilot.press("escape", "escape")


@pytest.mark.parametrize(("title", "dialog_id"), [
    ("Start as a new customer (blank account)", "blank-account-dialog"),
    ("Add New Endpoint", "add-endpoint-dialog"),
    ("New trunk group", "create-trunk-group-dialog"),
    ("Add a phone number", "add-number-dialog"),
])
async def test_the_palette_opens_each_configure_dialog(db_path, title, dialog_id):
    from screens.commands import LabCommands

    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        provider = LabCommands(app.screen)
        [(screen, action)] = [(s, a) for t, _, s, a in provider._commands() if t == title]
        await provider._run(screen, action)
        await pilot.pause(0.1)
        assert app.screen.id == dialog_id
