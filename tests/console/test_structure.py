"""The console's structure: every engine event kind has its message, one registry of screens
from which the keys, the menu and the palette are built, keys that mean one thing."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from screens import messages
from screens.help import keys_of
from screens.lab_app import TrunkLabApp
from screens.registry import SCREENS
from sip import events
from tests.console.conftest import console, prepared
from tests.console.test_pilot import shown_text


def test_every_engine_event_kind_has_its_message():
    assert messages.kinds_without_message() == []
    assert len(events.ENGINE_EVENTS) >= 13
    for kind in events.ENGINE_EVENTS:
        assert messages.message_for(kind.__new__(kind)).event_type is kind


def test_the_app_s_keys_and_modes_come_from_the_registry():
    keys = {b.key: b.action for b in TrunkLabApp.BINDINGS}
    for entry in SCREENS:
        assert keys[entry.key] == f"open('{entry.name}')"
        assert TrunkLabApp.MODES[entry.name] is entry.screen
    assert len({e.key for e in SCREENS}) == len(SCREENS)


@pytest.mark.parametrize("entry", SCREENS, ids=lambda e: e.name)
def test_no_screen_gives_a_key_of_the_app_another_meaning(entry):
    """c is Calls everywhere (Exercises once used it for Check my fix): a screen's own keys
    never shadow the app's."""
    app_keys = {b.key for b in TrunkLabApp.BINDINGS}
    screen_keys = {b.key if hasattr(b, "key") else b[0] for b in entry.screen.BINDINGS}
    assert not screen_keys & (app_keys - {"escape"}), screen_keys & app_keys


async def test_home_menu_and_palette_list_the_registry(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        menu = app.screen.query_one("#menu")
        assert [menu.get_option_at_index(i).id for i in range(menu.option_count)] == [
            e.name for e in SCREENS if e.on_menu]
        from screens.commands import LabCommands

        titles = [title for title, *_ in LabCommands(app.screen)._commands()]
        assert all(f"Open {e.title}" in titles for e in SCREENS)


def declared(cls) -> list[Binding]:
    """A class's bindings with a description, its bases' of this project included."""
    found = []
    for klass in reversed([k for k in cls.__mro__ if k.__module__.startswith("screens.")]):
        for b in klass.__dict__.get("BINDINGS", []):
            binding = b if isinstance(b, Binding) else Binding(*b)
            if binding.description:
                found.append(binding)
    return found


@pytest.mark.parametrize("entry", SCREENS, ids=lambda e: e.name)
async def test_help_lists_every_key_of_the_screen(db_path, entry):
    """? shows each key of the screen on top and each key of the app, with what it does:
    nothing depends on the footer's width (80 columns cut it short)."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(entry.key)
        await pilot.pause()
        screen = app.screen
        await pilot.press("question_mark")
        await pilot.pause()
        text = shown_text(app.screen.query_one("#help Static"))
        assert entry.help.split()[0] in text
        for binding in declared(type(screen)) + declared(TrunkLabApp):
            if binding.key == "escape" and entry.name == "dashboard":
                continue  # Home has nowhere to go back to
            key = app.get_key_display(binding)
            assert any(binding.description in row and f" {key} " in f" {row} " for row in text.splitlines()), (
                key, binding.description, text)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_footer_fits_and_never_cuts_help(db_path, size):
    """The footer was cut mid-word at 120 columns ("w Exe") and lost c k b w at 80. It shows
    whole keys only, ? always, and at 120 columns every key it is meant to show."""
    from textual.widgets._footer import FooterKey

    from screens.widgets.footer import LabFooter

    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=size) as pilot:
        for entry in SCREENS:
            await pilot.press(entry.key)
            await pilot.pause(0.1)
            footer = app.screen.query_one(LabFooter)
            keys = [k for k in footer.query(FooterKey) if "-command-palette" not in k.classes]
            assert "question_mark" in [k.key for k in keys], entry.name
            right = max(k.region.right for k in keys)
            palette = footer.query_one(".-command-palette").region
            assert right <= palette.x, (entry.name, right, palette)  # nothing runs under the palette
            if size[0] >= 120:
                meant = [b.key for _, b, _, _ in app.screen.active_bindings.values() if b.show]
                assert sorted(set(k.key for k in keys)) == sorted(set(meant) - {"ctrl+p"}), entry.name
