"""Calls in progress per endpoint, shared by the System Gateway addresses of one lab.

An endpoint's `capacity` is the carrier's limit for that endpoint, whichever gateway address a
call crosses; but each address is an agent process of its own. So the gateways keep a small
JSON file together (owner-only, in a folder the lab makes for its run): each writes its own
counts under its own name, and reads the others'. An exclusive `flock` is held from reading the
others' counts, through the decision, to writing its own: two INVITEs arriving at once at two
addresses are decided one after the other, and the second sees the first.

A restarted gateway writes its counts (none) at once, so a crashed one leaves nothing behind.
Without a file (a gateway run outside a lab), the counts are this address's alone.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TallySession:
    """Inside the lock: the other gateways' counts, and where to put ours."""

    others: dict[str, int]
    mine: dict[str, int] | None = None  # set by publish(), written when the lock is released

    def publish(self, counts: Mapping[str, int]) -> None:
        self.mine = {sid: n for sid, n in counts.items() if n > 0}


@dataclass
class SharedTally:
    path: Path | None
    me: str
    _fd: int = -1
    _written: dict[str, int] | None = field(default=None)

    def open(self) -> SharedTally:
        if self.path is not None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            with self.session() as session:
                session.publish({})  # a (re)started gateway carries no call
        return self

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @contextmanager
    def session(self) -> Iterator[TallySession]:
        if self._fd < 0:
            yield TallySession({})
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            everyone = self._read()
            others: dict[str, int] = {}
            for gateway, counts in everyone.items():
                if gateway != self.me:
                    for sid, n in counts.items():
                        others[sid] = others.get(sid, 0) + n
            session = TallySession(others)
            yield session
            if session.mine is not None and session.mine != self._written:
                everyone[self.me] = session.mine
                data = json.dumps(everyone, sort_keys=True).encode()
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, data, 0)
                self._written = session.mine
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _read(self) -> dict[str, dict[str, int]]:
        size = os.fstat(self._fd).st_size
        raw = os.pread(self._fd, size, 0) if size else b""
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}  # never half-written (one pwrite under the lock); a damaged file restarts the count
        if not isinstance(data, dict):
            return {}
        return {str(g): {str(s): int(n) for s, n in c.items() if isinstance(n, int)}
                for g, c in data.items() if isinstance(c, dict)}
