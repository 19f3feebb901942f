"""Shared fixtures: a real SQLite file per test, opened through the real store, and a real lab
(live pjsua2 agents) in a loopback block of its own."""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from pathlib import Path

import pytest

from sip.lab import Lab
from sip.supervisor import Supervisor
from store import AddressPlan, Store


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


# 127.0.100.0/24 and up: each lab its own block, so tests never share an address. Two test runs
# at once (a developer's and a helper's) keep apart with TRUNKLAB_TEST_BLOCKS=<first block>.
_blocks = itertools.count(int(os.environ.get("TRUNKLAB_TEST_BLOCKS", 0)) or 100 + (os.getpid() % 20) * 7)


def next_block() -> str:
    return f"127.0.{100 + (next(_blocks) - 100) % 150}.0/24"


@contextlib.asynccontextmanager
async def running_lab(folder: Path, **options):
    """A started lab in a fresh block with its own database; stopped afterwards, and no agent
    process may outlive it. `options` go to Lab (e.g. capture=True)."""
    store = await Store.open(folder / "lab.db", plan=AddressPlan.in_block(next_block()))
    lab = Lab(store, b_leg_timeout_s=1.5, **options)
    await lab.start()
    try:
        yield lab
    finally:
        await lab.stop()
        await store.close()
    left = [pid for pid in Supervisor.spawned_pids if _alive(pid)]
    assert not left, f"agent processes left behind: {left}"


@pytest.fixture
async def lab(tmp_path):
    async with running_lab(tmp_path) as lab:
        yield lab


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes: it holds no socket
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
