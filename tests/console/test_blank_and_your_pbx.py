"""The console runs on a blank account (a new customer's) and with the built-in PBX off: every
screen opens, nothing crashes (the screens for building a trunk come with issue 11's console
work; this guards the engine and store side they will stand on)."""

from __future__ import annotations

import pytest

from store import Store
from tests.console.conftest import console, prepared

SCREENS = ("d", "e", "n", "t", "f", "c", "b", "w", "d")


async def blank(store: Store) -> None:
    await store.reset(blank=True)


async def your_own(store: Store) -> None:
    await store.set_builtin_pbx(False)


@pytest.mark.parametrize("edit", [blank, your_own], ids=["blank account", "built-in PBX off"])
async def test_every_screen_opens(db_path, edit):
    await prepared(db_path, edit)
    app = console(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        for key in SCREENS:
            await pilot.press(key)
            await pilot.pause(0.05)
        await pilot.press("e", "enter", "escape", "n", "enter", "escape")
        await pilot.pause(0.1)
        assert app.is_running
        assert app.account.builtin_pbx is (edit is blank)
