"""The database file itself (store/dbfile.py): what is refused before SQLite touches it, and the
owner-only modes of what the store creates."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from store import Store, StoreError
from store.dbfile import header_problem, make_private_folder, sqlite_problem

# ---------------------------------------------------------------------------- header_problem (pure)


def header(page_size: int = 4096, pages: int = 3, counter: int = 7, valid_for: int = 7) -> bytes:
    """A 100-byte SQLite header with the fields header_problem reads."""
    head = bytearray(100)
    head[0:16] = b"SQLite format 3\x00"
    head[16:18] = (1 if page_size == 65536 else page_size).to_bytes(2, "big")
    head[24:28] = counter.to_bytes(4, "big")
    head[28:32] = pages.to_bytes(4, "big")
    head[92:96] = valid_for.to_bytes(4, "big")
    return bytes(head)


@pytest.mark.parametrize(("head", "size"), [
    (b"", 0),  # a new, empty database
    (header(), 3 * 4096),
    (header(), 5 * 4096),  # longer than the header says: SQLite uses the header's count
    (header(pages=3, counter=8, valid_for=7), 4096),  # the count is stale, so not trusted
    (header(page_size=512, pages=1), 512),
    (header(page_size=65536, pages=2), 2 * 65536),
    (header(pages=0), 4096),  # an old file that never kept the count
])
def test_a_sound_header_is_no_problem(head, size):
    assert header_problem(head, size) is None


@pytest.mark.parametrize(("head", "size", "problem"), [
    (b"hello world\n", 12, "is not a database file"),
    (bytes(range(7, 107)), 5000, "is not a database file"),
    (b"SQLite format 2\x00" + bytes(84), 4096, "is not a database file"),
    (b"SQLite", 6, "is not a database file"),
    (b"SQLite format 3\x00" + bytes(34), 50, "cut short: 50 bytes, less than its 100-byte header"),
    (header(page_size=0), 4096, "page size of 0 bytes"),
    (header(page_size=1000), 4000, "page size of 1000 bytes"),
    (header(page_size=256), 512, "page size of 256 bytes"),
    (header(pages=27), 4096, "its header counts 27 pages of 4096 bytes (110592 bytes), the file holds 4096"),
    (header(pages=2), 100, "its header counts 2 pages"),
    (header(pages=0), 6000, "6000 bytes is not a whole number of 4096-byte pages"),
])
def test_what_is_wrong_with_a_file_is_said_in_words(head, size, problem):
    assert problem in header_problem(head, size)


def test_sqlite_refusals_in_words(tmp_path: Path):
    def refusal(name: str) -> str:
        error = sqlite3.DatabaseError("boom")
        error.sqlite_errorname = name
        return sqlite_problem(error, tmp_path / "lab.db")

    assert refusal("SQLITE_NOTADB") == "is not a database file"
    assert "damaged" in refusal("SQLITE_CORRUPT")
    assert "read-only" in refusal("SQLITE_READONLY_DBMOVED")
    assert "lab.db-wal and lab.db-shm" in refusal("SQLITE_CANTOPEN")
    assert "disk is full" in refusal("SQLITE_FULL")
    assert "locked" in refusal("SQLITE_BUSY")
    assert "boom" in refusal("SQLITE_IOERR")


# ---------------------------------------------------------------------------- refusals, untouched


async def real_database(path: Path) -> bytes:
    async with await Store.open(path):
        pass
    return path.read_bytes()


async def refused(path: Path, match: str) -> None:
    folder = sorted(path.parent.iterdir())
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(StoreError, match=match) as caught:
        await Store.open(path)
    assert str(path) in caught.value.message and caught.value.message.endswith("nothing was changed")
    assert "\n" not in caught.value.message
    assert sorted(path.parent.iterdir()) == folder, "a file was created beside it"
    if before is not None:
        assert path.read_bytes() == before


async def test_a_folder_is_refused(tmp_path: Path):
    (tmp_path / "lab.db").mkdir()
    await refused(tmp_path / "lab.db", "is a folder, not a database file")


@pytest.mark.parametrize("content", [b"hello world\n", b"\x89PNG\r\n" + bytes(200)])
async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, content: bytes):
    (tmp_path / "lab.db").write_bytes(content)
    await refused(tmp_path / "lab.db", "is not a database file")


@pytest.mark.parametrize("keep", [50, 100, 4096, 0.5, -4096])
async def test_a_database_cut_short_is_refused(tmp_path: Path, keep):
    whole = await real_database(tmp_path / "whole.db")
    cut = int(len(whole) * keep) if isinstance(keep, float) else keep if keep > 0 else len(whole) + keep
    (tmp_path / "lab.db").write_bytes(whole[:cut])
    await refused(tmp_path / "lab.db", "is a database cut short")


async def test_a_database_of_a_newer_trunklab_is_refused(tmp_path: Path):
    await real_database(tmp_path / "lab.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "lab.db")) as con:  # closed: WAL checkpointed
        con.execute("PRAGMA user_version = 99")
    await refused(tmp_path / "lab.db", r"written by a newer trunklab \(schema v99")


async def test_another_programs_database_is_refused(tmp_path: Path):
    with sqlite3.connect(tmp_path / "lab.db") as con:
        con.execute("CREATE TABLE photos (name TEXT)")
    await refused(tmp_path / "lab.db", "another program's database")


async def test_a_damaged_schema_found_by_sqlite_is_refused(tmp_path: Path):
    whole = bytearray(await real_database(tmp_path / "lab.db"))
    whole[100:4096] = b"\xff" * 3996  # the schema's page garbled, the header intact
    (tmp_path / "lab.db").write_bytes(bytes(whole))
    await refused(tmp_path / "lab.db", r"is a damaged database \(SQLite: ")


# ---------------------------------------------------------------------------- owner-only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_its_wal_and_its_folders_are_owner_only(tmp_path: Path):
    path = tmp_path / "new" / "deeper" / "lab.db"
    async with await Store.open(path) as store:
        await store.add_firewall_rule("127.0.0.50")  # something in the WAL
        files = {p.name: mode(p) for p in path.parent.iterdir()}
        assert files == {"lab.db": 0o600, "lab.db-wal": 0o600, "lab.db-shm": 0o600}
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "deeper") == 0o700


async def test_an_older_world_readable_database_is_tightened_when_opened(tmp_path: Path):
    path = tmp_path / "lab.db"
    await real_database(path)
    with sqlite3.connect(path) as con:  # an older trunklab's leftovers: 0644 with its -wal/-shm
        con.execute("PRAGMA journal_mode = WAL")
        keep_open = sqlite3.connect(path)
        keep_open.execute("SELECT 1 FROM endpoints").fetchall()
    for file in (path, path.with_name("lab.db-wal"), path.with_name("lab.db-shm")):
        os.chmod(file, 0o644)
    try:
        async with await Store.open(path) as store:
            await store.account()
            assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
                "lab.db": 0o600, "lab.db-wal": 0o600, "lab.db-shm": 0o600}
    finally:
        keep_open.close()


def test_make_private_folder_makes_every_missing_level_0700(tmp_path: Path):
    make_private_folder(tmp_path / "a" / "b" / "c")
    make_private_folder(tmp_path / "a" / "b" / "c")  # again: nothing to do
    assert [mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
