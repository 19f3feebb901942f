"""A --db that cannot be the account's database, as a user meets it: `show`, the console and
`check` (which would start agents) each print one line naming the file and what is wrong, exit
2, start nothing, and leave the file and its folder exactly as they were.

Read-only for real: as a normal user, chmod 0400. Root writes through file modes, so as root
the file is made immutable (chattr +i, which stops root too); where chattr is refused (no
CAP_LINUX_IMMUTABLE) that case is skipped, saying why."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from store import Store

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"show": ["show"], "console": [], "check": ["check"]}


async def _real_database(path: Path) -> None:
    async with await Store.open(path):
        pass


def real_database(path: Path) -> bytes:
    asyncio.run(_real_database(path))
    return path.read_bytes()


def make_folder(path: Path) -> None:
    path.mkdir()


def make_random(path: Path) -> None:
    path.write_bytes(bytes((i * 151 + 7) % 256 for i in range(5000)))  # fixed, and no SQLite header


def make_text(path: Path) -> None:
    path.write_text("my trunk settings\nendpoint_sid = 1234\n")


def make_truncated(path: Path) -> None:
    whole = real_database(path)
    path.write_bytes(whole[: len(whole) // 2])


def make_newer(path: Path) -> None:
    real_database(path)
    with contextlib.closing(sqlite3.connect(path)) as con:  # closed: its WAL checkpointed into the file
        con.execute("PRAGMA user_version = 42")


def make_read_only(path: Path) -> None:
    real_database(path)


KINDS = {
    "folder": (make_folder, "is a folder, not a database file"),
    "random bytes": (make_random, "is not a database file"),
    "text file": (make_text, "is not a database file"),
    "truncated database": (make_truncated, "is a database cut short"),
    "newer schema": (make_newer, "was written by a newer trunklab (schema v42"),
    "read-only file": (make_read_only, "is read-only"),
}


def fingerprint(path: Path) -> tuple:
    """The file's bytes and its folder's names (nothing created beside it)."""
    content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
    return content, sorted(p.name for p in path.parent.iterdir())


@contextlib.contextmanager
def read_only(path: Path):
    """Make `path` really read-only for the command about to run."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("root writes through file modes, and chattr +i was refused here (no CAP_LINUX_IMMUTABLE, "
                    "or a file system without it): no way to make the file read-only for this test")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_database_file_gets_one_line_and_is_left_untouched(tmp_path: Path, kind: str, command: str):
    make, problem = KINDS[kind]
    path = tmp_path / "lab.db"
    make(path)
    with read_only(path) if kind == "read-only file" else contextlib.nullcontext():
        before = fingerprint(path)
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), *COMMANDS[command], "--db", str(path)],
                                capture_output=True, text=True, timeout=60, cwd=ROOT,
                                env={**os.environ, "HOME": str(tmp_path), "TERM": "dumb"})
        after = fingerprint(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # no console drawn, no agent started, nothing printed
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"trunklab: {path} {problem}") and lines[0].endswith("nothing was changed"), lines[0]
    assert after == before
