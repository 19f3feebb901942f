"""The browser classroom for real: `python app.py web` as a subprocess, headless Chromium as the
trainees' browser (driven over the DevTools protocol), every session's console and agents as
real processes. Nothing leaves loopback; nothing is left running."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.chromium import Browser

pytestmark = [pytest.mark.agents, pytest.mark.timeout(150)]
ROOT = Path(__file__).resolve().parent.parent.parent
LABS = range(60, 91)  # the labs this test's sessions may take
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


def sessions_of(server: int) -> dict[int, list[int]]:
    """Each console the server runs, with its agents (those of the console itself)."""
    return {console: [a for a in children(console) if "sip.agent" in cmdline(a)] for console in children(server)}


def chromium_processes(browser: Browser) -> list[int]:
    """Chromium's group, plus its crash handler, which leaves the group but names the profile."""
    group = browser.process.pid
    return [pid for pid in processes() if alive(pid)
            and ((_stat(pid) or [0] * 5)[3] == str(group) or str(browser.profile) in cmdline(pid))]


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


def start_server(port: int, sessions: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--lab", f"{LABS[0]}-{LABS[-1]}", "web",
         "--port", str(port), "--sessions-dir", str(sessions)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(5):
        line = server.stdout.readline()
        if "serving the console" in line:
            return server
    server.kill()
    raise AssertionError(f"the web server did not start: {line}{server.stdout.read()}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def home_shown(text: str) -> bool:
    return "CONFIGURE" in text and "Quit" in text and BLOCK.search(text) is not None


def lab_of(text: str) -> int:
    return int(BLOCK.search(text).group(1))


# ---------------------------------------------------------------------------- the test

async def test_two_browser_sessions_get_two_labs_and_leave_nothing_behind(tmp_path):
    port, sessions_dir = free_port(), tmp_path / "sessions"
    url = f"http://127.0.0.1:{port}/"
    server = start_server(port, sessions_dir)
    browser = Browser(shutil.which("chromium"), tmp_path / "chromium")
    seen: set[int] = set()  # every console and agent pid the server ever had
    chromium: list[int] = []
    try:
        await browser.start()

        # the page loads the console, and a key press reaches the app
        first = await browser.open_tab(url)
        home = await first.wait_for_text(home_shown)
        assert "trunklab" in home and "Phone Numbers" in home
        first_lab = lab_of(home)
        await first.press("n")
        numbers = await first.wait_for_text(lambda t: "PHONE NUMBERS" in t and "+1 202-555-0100" in t)
        assert "CONFIGURE" not in numbers  # the whole screen changed (its lines reach the page one by one)

        # a second session: a lab of its own
        second = await browser.open_tab(url)
        second_lab = lab_of(await second.wait_for_text(home_shown))
        assert first_lab != second_lab and {first_lab, second_lab} <= set(LABS)
        await second.wait_for_text(lambda t: t.count("● up") == 4)  # its agents run
        await first.wait_for_text(lambda t: t.count("● up") == 4)

        consoles = await wait_for(lambda: (s := sessions_of(server.pid)) and len(s) == 2
                                  and all(len(a) == 4 for a in s.values()) and s, 20, "two sessions with 4 agents each")
        seen |= set(consoles) | {a for agents in consoles.values() for a in agents}
        by_lab = {int(re.search(r"127\.0\.(\d+)\.", cmdline(agents[0])).group(1)): [console, *agents]
                  for console, agents in consoles.items()}
        assert set(by_lab) == {first_lab, second_lab}
        chromium = chromium_processes(browser)

        # closing a tab ends that session's console and agents, and only those
        await first.close()
        assert not await wait_gone(by_lab[first_lab], 20), "the closed tab's session is still running"
        assert all(alive(pid) for pid in by_lab[second_lab])
        await second.press("f")
        await second.wait_for_text(lambda t: "PBX FIREWALL" in t)

        # each session made a fresh database, named after its lab, owner-only (its VoIP tokens)
        databases = [p.name for p in sessions_dir.glob("*.db")]
        assert sorted(int(name.split("-")[1]) for name in databases) == sorted([first_lab, second_lab])
        assert sessions_dir.stat().st_mode & 0o777 == 0o700
        files = list(sessions_dir.glob("*.db*"))
        assert len(files) >= 4 and {f.stat().st_mode & 0o777 for f in files} == {0o600}  # with -wal, -shm
    finally:
        chromium = sorted(set(chromium) | set(chromium_processes(browser))) if browser.process else chromium
        await browser.close()
        stop_server(server)
    assert not await wait_gone(chromium, 10), "Chromium processes left behind"
    assert not alive(server.pid)
    assert not await wait_gone(seen, 10), "session processes left behind"
