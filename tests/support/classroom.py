"""What the classroom's tests share: the server as a subprocess (its two links read from its
output), the processes it runs, and waiting for them to come and go. Everything on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# The labs of the classroom tests: a range of their own (TRUNKLAB_TEST_BLOCKS moves the live
# tests' blocks; the classroom's labs are whole /24 blocks of 127.0.N.0, so they get theirs).
FIRST_LAB = int(os.environ.get("TRUNKLAB_CLASSROOM_LABS", "185"))
LABS = range(FIRST_LAB, FIRST_LAB + 15)
BLOCK = re.compile(r"PSTN\s+127\.0\.(\d+)\.20\b")


# ---------------------------------------------------------------------------- processes

def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie holds no socket and runs nothing


def processes() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def children(parent: int) -> list[int]:
    return [pid for pid in processes() if (stat := _stat(pid)) and int(stat[1]) == parent and stat[0] != "Z"]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def consoles_of(server: int) -> dict[int, list[int]]:
    """Each console the server runs, with its agents."""
    return {console: [a for a in children(console) if "sip.agent" in cmdline(a)] for console in children(server)}


def console_on(server: int, db: Path) -> int | None:
    """The server's console running on this database, if any."""
    return next((pid for pid in children(server) if f"--db {db}" in cmdline(pid)), None)


async def wait_gone(pids, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return left


async def wait_for(check, within: float, what: str):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---------------------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Room:
    process: subprocess.Popen
    trainee_url: str
    trainer_url: str
    output: list[str]

    @property
    def base(self) -> str:
        return self.trainee_url.split("/join/")[0]

    @property
    def code(self) -> str:
        return self.trainee_url.rsplit("/", 1)[1]

    @property
    def secret(self) -> str:
        return self.trainer_url.rstrip("/").rsplit("/", 1)[1]


def start_room(port: int, sessions: Path, *extra: str, labs: range = LABS) -> Room:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--lab", f"{labs[0]}-{labs[-1]}", "web", "--host", "127.0.0.1",
         "--port", str(port), "--sessions-dir", str(sessions), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, links = [], {}
    while len(links) < 2:
        line = process.stdout.readline()
        if not line:
            process.wait()
            raise AssertionError("the classroom did not start:\n" + "".join(output))
        output.append(line)
        if match := re.match(r"(trainee|trainer): (\S+)$", line.strip()):
            links[match.group(1)] = match.group(2)
    room = Room(process, links["trainee"], links["trainer"], output)
    # the server's later lines, read in the background so that its pipe never fills
    import threading

    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()
    return room


def stop_room(room: Room) -> None:
    if room.process.poll() is None:
        room.process.send_signal(signal.SIGTERM)
        try:
            room.process.wait(30)
        except subprocess.TimeoutExpired:
            room.process.kill()
            room.process.wait()


def home_shown(text: str) -> bool:
    """Home, drawn whole: its menu, its checklist and the diagram's addresses."""
    return "CONFIGURE" in text and "Verification Checklist" in text and BLOCK.search(text) is not None


def lab_of(text: str) -> int:
    return int(BLOCK.search(text).group(1))
