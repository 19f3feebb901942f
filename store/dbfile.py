"""The database file itself: made owner-only, and refused in one line when it cannot be the
account's file.

The account holds VoIP tokens in clear, so a new database is created 0600 and the folders made
for it 0700. SQLite gives the -wal and -shm files it adds beside a database the mode of the
database file, so they are owner-only too. A file from an older trunklab that others may read
is tightened to owner-only when opened.

A file is checked with plain reads before SQLite opens it: a folder, a file that cannot be
written, a file that is not a database and a database cut short are refused with a sentence
that says which, before anything is written. (SQLite would notice the damage too, but only
after creating -wal and -shm files beside a damaged WAL database.)
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

from .errors import DatabaseFileError

OWNER_ONLY = 0o600
PRIVATE_FOLDER = 0o700
SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
NOTHING_CHANGED = "nothing was changed"


def header_problem(head: bytes, size: int) -> str | None:
    """What is wrong with a file whose first bytes are `head` and whose size is `size`, as a
    database (None when nothing is). An empty file is a new database. The header layout is
    SQLite's file format (sqlite.org/fileformat.html, section 1.3)."""
    if size == 0:
        return None
    if not head.startswith(SQLITE_MAGIC):
        return "is not a database file (it does not start with SQLite's header)"
    if len(head) < HEADER_BYTES:
        return f"is a database cut short: {size} bytes, less than its 100-byte header"
    raw_page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"is a damaged database (its header gives a page size of {raw_page_size} bytes)"
    pages = int.from_bytes(head[28:32], "big")
    size_is_valid = pages > 0 and head[24:28] == head[92:96]  # the size field is kept up to date
    if size_is_valid and pages * page_size > size:
        return (f"is a database cut short: its header counts {pages} pages of {page_size} bytes "
                f"({pages * page_size} bytes), the file holds {size}")
    if size % page_size:
        return f"is a database cut short: {size} bytes is not a whole number of {page_size}-byte pages"
    return None


def sqlite_problem(error: sqlite3.Error, path: Path) -> str:
    """SQLite's refusal to open `path`, in plain words."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_NOTADB"):
        return "is not a database file"
    if name.startswith("SQLITE_CORRUPT"):
        return f"is a damaged database (SQLite: {error})"
    if name.startswith("SQLITE_READONLY"):
        return ("is read-only: trunklab writes the account and every call to it, so make it writable or "
                "give another --db")
    if name.startswith("SQLITE_CANTOPEN"):
        return (f"cannot be opened: SQLite keeps {path.name}-wal and {path.name}-shm beside it, "
                "so its folder must be writable")
    if name.startswith("SQLITE_FULL"):
        return "cannot be written: the disk is full"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "is locked by another program"
    return f"could not be opened (SQLite: {error})"


def refusal(path: Path, problem: str) -> DatabaseFileError:
    return DatabaseFileError(f"{path} {problem}; {NOTHING_CHANGED}")


def prepare(path: Path) -> None:
    """Make `path` ready for SQLite: a missing file is created owner-only (and its missing
    folders private); an existing one must be a writable database file, and is tightened to
    owner-only. Anything else is refused before a byte is written."""
    try:
        info = path.stat()
    except FileNotFoundError:
        make_private_folder(path.parent)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
        except FileExistsError:  # another process made it at the same moment: it is owner-only too
            pass
        return
    if stat.S_ISDIR(info.st_mode):
        raise refusal(path, "is a folder, not a database file (give a file name in it, e.g. "
                            f"{path / 'trunklab.db'})")
    if not stat.S_ISREG(info.st_mode):
        raise refusal(path, "is not a regular file")
    try:
        fd = os.open(path, os.O_RDWR)  # opening for writing writes nothing
    except OSError as error:
        raise refusal(path, _open_problem(error)) from None
    with os.fdopen(fd, "rb") as file:
        head = file.read(HEADER_BYTES)
    problem = header_problem(head, info.st_size)
    if problem:
        raise refusal(path, problem)
    tighten(path)


def _open_problem(error: OSError) -> str:
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"is read-only ({error.strerror}): trunklab writes the account and every call to it, "
                "so make it writable or give another --db")
    return f"cannot be opened ({error.strerror})"


def tighten(path: Path) -> None:
    """Owner-only for a database and its -wal/-shm files that others may read (files made by
    an older trunklab were 0644). Files of another user are theirs to change."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        if info.st_mode & 0o077 and info.st_uid == os.geteuid():
            os.chmod(file, stat.S_IMODE(info.st_mode) & stat.S_IRWXU)


def make_private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents 0700 (`mkdir -p` would give the parents the
    default mode, which others can read)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        try:
            each.mkdir(mode=PRIVATE_FOLDER)
        except FileExistsError:
            pass
