"""Shared fixtures: a real SQLite file per test, opened through the real store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "lab.db"


@pytest.fixture
async def store(db_path: Path):
    s = await Store.open(db_path)
    yield s
    await s.close()


def dump(path: Path) -> list[str]:
    """The whole database as SQL text, read by a separate connection: equal dumps = unchanged."""
    with sqlite3.connect(path) as con:
        return list(con.iterdump())
