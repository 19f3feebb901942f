"""The room as the server runs it: the room's folder and file, a lab held for every trainee,
their console processes, and the trainer's actions on their databases.

The room's folder holds one database per trainee and `classroom.json` (the room code, the
trainer's secret, who joined with which lab and database), all owner-only. A server started
again on the same folder brings the room back: the same links work, each trainee's lab is held
again, and a trainee's console starts again on their database when their browser comes back.

A lab (127.0.N.0/24) is held by this server for each trainee in the room, from their join to
the end of their session, whether or not their console runs: a reload, or a console restarted
after a server restart, finds the same lab. The console itself then holds no lock of its own
(`--web-session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from store import labs
from store.snapshot import EMPTY, read_snapshot

from .console import Console, console_env
from .room import JoinRefused, Presence, RoomState, Row, Trainee, admit, next_trainee_id, trainee_row

APP_PY = Path(__file__).resolve().parent.parent.parent / "app.py"
ROOM_FILE = "classroom.json"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed from a projector
CODE_LENGTH = 10  # 50 bits
ROWS_FRESH_S = 0.5  # several dashboards open at once read the databases once per this


def new_room_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


class RoomFileError(ValueError):
    """The room's folder holds a classroom.json this server cannot read."""


@dataclass(eq=False)
class Seat:
    """A trainee in this server process: their lab held, their console if it runs."""

    trainee: Trainee
    reservation: labs.Reservation | None = None
    lab_error: str = ""  # why the lab could not be held again after a restart
    console: Console | None = None
    last_input_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Classroom:
    def __init__(self, folder: Path, state: RoomState, lab_numbers: range, max_trainees: int, *,
                 lock_dir: Path | None = None, say=print) -> None:
        self.folder = folder
        self.state = state
        self.lab_numbers = lab_numbers
        self.max_trainees = max_trainees
        self.lock_dir = lock_dir
        self.say = say  # one line for the trainer's terminal: never a code, a secret or a token
        self.seats: dict[str, Seat] = {}
        self._join_lock = asyncio.Lock()
        self._rows_cache: tuple[float, list[Row]] | None = None
        from store import scenario as scenarios

        self.scenarios = scenarios.library()
        self.titles = {s.name: s.title for s in self.scenarios}
        self.hints = {s.name: len(s.hints) for s in self.scenarios}

    # ------------------------------------------------------------------ the room's folder

    @classmethod
    def open(cls, folder: Path, lab_numbers: range, max_trainees: int, *, lock_dir: Path | None = None,
             say=print) -> Classroom:
        """The room in `folder`: brought back if it holds one, else a new room with a new code and
        secret. Owner-only: the folder 0700, its files 0600 (the umask of the server)."""
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        path = folder / ROOM_FILE
        if path.exists():
            try:
                state = RoomState.from_json(json.loads(path.read_text()))
            except (ValueError, KeyError, TypeError) as error:
                raise RoomFileError(f"{path} is not a room this trunklab can read ({error}); "
                                    "start the classroom with another --sessions-dir") from None
        else:
            state = RoomState(new_room_code(), secrets.token_urlsafe(24), time.time())
        room = cls(folder, state, lab_numbers, max_trainees, lock_dir=lock_dir, say=say)
        room.save()
        for trainee in state.active():
            room.seats[trainee.id] = room._hold_again(trainee)
        return room

    def _hold_again(self, trainee: Trainee) -> Seat:
        """A trainee of a room brought back: their own lab again (their database belongs to it)."""
        held = labs.try_reserve(trainee.lab, self.lock_dir)
        if held is not None and labs.addresses_in_use(labs.lab_plan(trainee.lab)):
            held.release()
            held = None
        if held is None:
            pid = labs.holder_of(trainee.lab, self.lock_dir)
            why = (f"lab {trainee.lab} ({labs.lab_block(trainee.lab)}) is in use by another program on this machine"
                   f"{f' (pid {pid})' if pid else ''}")
            self.say(f"trunklab web: {trainee.name}'s {why}; they get their console back once it is free")
            return Seat(trainee, lab_error=why)
        return Seat(trainee, held)

    def save(self) -> None:
        """classroom.json, replaced in one rename (a crash leaves the old one or the new one)."""
        path = self.folder / ROOM_FILE
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self.state.to_json(), out, indent=1)
        os.replace(temporary, path)

    def db_path(self, trainee: Trainee) -> Path:
        return self.folder / trainee.db

    # ------------------------------------------------------------------ joining

    def seat_for_token(self, token: str | None) -> Seat | None:
        if not token:
            return None
        trainee = self.state.by_token_hash(token_hash(token))
        return self.seats.get(trainee.id) if trainee is not None else None

    async def join(self, name: str) -> tuple[Seat, str]:
        """A new trainee: a name checked, a place in the room, a free lab; returns the seat and
        the session token for the browser's cookie. JoinRefused says why not."""
        async with self._join_lock:
            cleaned = admit(self.state, name, max_trainees=self.max_trainees)
            try:
                held = labs.reserve_first_free(self.lab_numbers, self.lock_dir)
            except labs.LabError:
                span = f"{self.lab_numbers[0]}-{self.lab_numbers[-1]}"
                raise JoinRefused(f"No free lab on this machine: every lab of the room's range ({span}) is in use. "
                                  "Tell your trainer.", "no_lab") from None
            token = secrets.token_urlsafe(32)
            trainee_id = next_trainee_id(self.state)
            trainee = Trainee(trainee_id, cleaned, token_hash(token), held.number, f"lab-{held.number}-{trainee_id}.db",
                              time.time())
            self.state = self.state.with_trainee(trainee)
            self.save()
            seat = self.seats[trainee.id] = Seat(trainee, held)
        self.say(f"trunklab web: {trainee.name} joined: lab {trainee.lab}")
        return seat, token

    # ------------------------------------------------------------------ consoles

    def console_argv(self, seat: Seat) -> list[str]:
        return [sys.executable, str(APP_PY), "--lab", str(seat.trainee.lab), "--db", str(self.db_path(seat.trainee)),
                "--web-session"]

    async def console_for(self, seat: Seat, width: int, height: int) -> Console:
        """The trainee's console, started if it does not run (a new join, a console that quit,
        a room brought back)."""
        async with seat.lock:
            if seat.console is not None and seat.console.running:
                return seat.console
            if seat.reservation is None:  # brought back while another program held the lab: try again
                again = self._hold_again(seat.trainee)
                seat.reservation, seat.lab_error = again.reservation, again.lab_error
                if seat.reservation is None:
                    raise JoinRefused(f"Your {seat.lab_error}. Tell your trainer.", "lab_taken")

            def exited(console: Console, seat: Seat = seat) -> None:
                if console.process is not None and console.process.returncode not in (0, None):
                    tail = console.stderr_tail.decode(errors="replace").strip().splitlines()[-3:]
                    self.say(f"trunklab web: {seat.trainee.name}'s console stopped ({console.process.returncode})"
                             + (f": {' / '.join(tail)}" if tail else ""))
                if seat.console is console:
                    seat.console = None

            seat.console = Console(self.console_argv(seat), console_env(), on_exit=exited)
            await seat.console.start(width, height)
            return seat.console

    # ------------------------------------------------------------------ the trainer's actions

    def targets(self, who: str) -> list[Seat]:
        """'all' (every trainee in the room) or one trainee's id."""
        if who == "all":
            return [self.seats[t.id] for t in self.state.active() if t.id in self.seats]
        seat = self.seats.get(who)
        if seat is None or not seat.trainee.active:
            raise KeyError(who)
        return [seat]

    async def _on_database(self, seat: Seat, work) -> None:
        from store import Store

        async with await Store.open(self.db_path(seat.trainee), plan=labs.lab_plan(seat.trainee.lab)) as store:
            await work(store)

    async def give(self, who: str, scenario_name: str) -> list[str]:
        """Start an exercise in trainees' labs, as `scenario load` does; their consoles show it
        within a second (they follow their database). Returns the names it reached."""
        from store import scenario as scenarios

        chosen = scenarios.find(scenario_name)

        async def start(store) -> None:
            await scenarios.load(store, chosen)
            await store.start_exercise(chosen.name, now=time.time())

        seats = self.targets(who)
        await asyncio.gather(*(self._on_database(seat, start) for seat in seats))
        names = [seat.trainee.name for seat in seats]
        self.say(f"trunklab web: gave {chosen.name} to {'everyone' if who == 'all' else names[0]}")
        self._rows_cache = None
        return names

    async def reset(self, who: str) -> list[str]:
        """Back to the default account (their calls and progress are kept), as `reset` does."""
        async def reset(store) -> None:
            await store.reset()

        seats = self.targets(who)
        await asyncio.gather(*(self._on_database(seat, reset) for seat in seats))
        names = [seat.trainee.name for seat in seats]
        self.say(f"trunklab web: reset {'everyone' if who == 'all' else names[0]}")
        self._rows_cache = None
        return names

    async def end(self, who: str) -> str:
        """End a trainee's session: the console and its agents stop, the lab is freed, their page
        says so, their browser's session no longer opens anything. Their database stays."""
        if who == "all":  # one at a time: ending a whole room is stopping the server
            raise KeyError(who)
        seat = self.targets(who)[0]
        async with seat.lock:
            if seat.console is not None:
                await seat.console.close_pages(4002, "the trainer ended this session")
                await seat.console.stop()
                seat.console = None
            if seat.reservation is not None:
                seat.reservation.release()
                seat.reservation = None
            seat.trainee = replace(seat.trainee, ended_at=time.time())
            self.state = self.state.with_trainee(seat.trainee)
            self.save()
        self.say(f"trunklab web: ended {seat.trainee.name}'s session (lab {seat.trainee.lab} is free again)")
        self._rows_cache = None
        return seat.trainee.name

    async def close(self) -> None:
        """The server stops: every console stops (their agents with them), every lab is freed."""
        consoles = [seat.console for seat in self.seats.values() if seat.console is not None]
        # 1012 "service restart": the pages wait for the server and come back by themselves
        await asyncio.gather(*(c.close_pages(1012, "the classroom server stopped") for c in consoles),
                             return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in consoles), return_exceptions=True)
        for seat in self.seats.values():
            if seat.reservation is not None:
                seat.reservation.release()
                seat.reservation = None

    # ------------------------------------------------------------------ the dashboard

    def presence(self, seat: Seat | None, trainee: Trainee) -> Presence:
        changed = None
        path = self.db_path(trainee)
        for candidate in (path, path.with_name(path.name + "-wal")):
            with contextlib.suppress(OSError):
                changed = max(changed or 0.0, candidate.stat().st_mtime)
        console = seat.console if seat is not None else None
        running = console is not None and console.running
        return Presence(console=running, online=running and console.controller is not None,
                        last_input_at=seat.last_input_at if seat is not None else None, db_changed_at=changed)

    async def rows(self) -> list[Row]:
        """Every trainee (ended ones too) as the dashboard shows them, read from their databases
        (read-only), at most ROWS_FRESH_S old."""
        now = time.time()
        if self._rows_cache is not None and now - self._rows_cache[0] < ROWS_FRESH_S:
            return self._rows_cache[1]
        trainees = list(self.state.trainees)

        def snapshots():
            found = []
            for trainee in trainees:
                try:
                    found.append(read_snapshot(self.db_path(trainee)))
                except Exception:  # noqa: BLE001 - a database mid-creation or broken: shown empty
                    found.append(EMPTY)
            return found

        labs_now = await asyncio.to_thread(snapshots)
        rows = [trainee_row(t, lab, self.presence(self.seats.get(t.id), t), titles=self.titles, hints=self.hints,
                            now=now) for t, lab in zip(trainees, labs_now)]
        self._rows_cache = (now, rows)
        return rows

