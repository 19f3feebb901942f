"""Schema v8: when each step of the guided lesson was first seen done."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import Store, StoreError
from store.records import LESSON_STEPS
from store.schema import LATEST, MIGRATIONS


async def test_a_step_keeps_the_time_it_was_first_done(tmp_path: Path):
    async with await Store.open(tmp_path / "lab.db") as store:
        assert await store.lesson_progress() == {}
        assert await store.record_lesson_steps(["firewall"], now=100.0) == {"firewall": 100.0}
        progress = await store.record_lesson_steps(["numbers", "firewall", "flow"], now=200.0)
    assert progress == {"flow": 200.0, "firewall": 100.0, "numbers": 200.0}
    assert list(progress) == ["flow", "firewall", "numbers"]  # in the lesson's order


async def test_progress_outlives_the_connection(tmp_path: Path):
    async with await Store.open(tmp_path / "lab.db") as store:
        await store.record_lesson_steps(["flow"], now=5.0)
    async with await Store.open(tmp_path / "lab.db") as store:
        assert await store.lesson_progress() == {"flow": 5.0}


async def test_an_unknown_step_is_refused_and_nothing_is_recorded(tmp_path: Path):
    async with await Store.open(tmp_path / "lab.db") as store:
        with pytest.raises(StoreError, match="step: 'dance' is not one of flow, firewall"):
            await store.record_lesson_steps(["flow", "dance"], now=1.0)
        assert await store.lesson_progress() == {}


async def test_the_database_refuses_an_unknown_step_too(tmp_path: Path):
    async with await Store.open(tmp_path / "lab.db"):
        pass
    with sqlite3.connect(tmp_path / "lab.db") as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO lesson_progress (step, done_at) VALUES ('dance', 1.0)")


@pytest.mark.parametrize("blank", [True, False], ids=["reset --blank", "reset"])
async def test_a_reset_starts_the_lesson_over(tmp_path: Path, blank: bool):
    async with await Store.open(tmp_path / "lab.db") as store:
        await store.record_lesson_steps(LESSON_STEPS, now=1.0)
        await store.reset(blank=blank)
        assert await store.lesson_progress() == {}


async def test_a_v7_file_upgrades_to_v8_with_no_progress(tmp_path: Path):
    path = tmp_path / "v7.db"
    with sqlite3.connect(path) as con:
        for migration in MIGRATIONS[:7]:
            for statement in migration:
                con.execute(statement)
        con.execute("PRAGMA user_version = 7")
    async with await Store.open(path) as store:
        assert await store.schema_version() == LATEST == 8
        assert await store.lesson_progress() == {}
        assert await store.record_lesson_steps(["flow"], now=3.0) == {"flow": 3.0}
