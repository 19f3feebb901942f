"""The console in a real terminal (a pty): SIGTERM and SIGHUP end it as Ctrl+Q does, with the
terminal restored (main screen, mouse reporting off, cursor shown) and every agent stopped."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from store import AddressPlan
from tests.conftest import next_block
from tests.test_cli_live import _agent_pids, _gone

pytestmark = [pytest.mark.agents, pytest.mark.timeout(90)]
ROOT = Path(__file__).resolve().parent.parent


def terminal_modes(output: bytes) -> dict[str, str]:
    """The last 'h' (set) or 'l' (reset) the program wrote for each DEC private mode."""
    return {mode: flag for mode, flag in re.findall(rb"\x1b\[\?(\d+)([hl])", output)
            for mode, flag in [(mode.decode(), flag.decode())]}


def read_until(fd: int, done, seconds: float) -> bytes:
    """Read the pty until done(output) or EOF or the time is up."""
    output = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done(output):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other end closed
                break
            if not chunk:
                break
            output += chunk
    return output


@pytest.fixture
def console_in_a_pty(tmp_path):
    """Start the console on a fresh database in a block of its own, in an 80x24 pty."""
    import asyncio

    from store import Store

    db = tmp_path / "lab.db"

    async def create() -> None:
        async with await Store.open(db, plan=AddressPlan.in_block(next_block())):
            pass

    asyncio.run(create())
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--db", str(db)], stdin=slave, stdout=slave,
                               stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    try:
        yield process, master
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)


def agents_running(process) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        agents = _agent_pids(process.pid)
        if len(agents) == 4:
            return agents
        time.sleep(0.1)
    raise AssertionError(f"agents did not start: {_agent_pids(process.pid)}")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_quits_like_ctrl_q(console_in_a_pty, how):
    process, master = console_in_a_pty
    output = read_until(master, lambda out: b"PBX" in out, 20)  # the console is on screen
    agents = agents_running(process)
    output += read_until(master, lambda out: False, 1.0)  # let it settle
    assert terminal_modes(output).get("1049") == "h", "the console never entered the alternate screen"
    process.send_signal(how)
    output += read_until(master, lambda out: False, 15)
    assert process.wait(10) == 0
    modes = terminal_modes(output)
    assert modes["1049"] == "l", "left in the alternate screen"
    assert all(modes.get(m, "l") == "l" for m in ("1000", "1003", "1006")), f"mouse reporting left on: {modes}"
    assert modes["25"] == "h", "cursor left hidden"
    assert _gone(agents, 5.0), "agents survived the console"


def test_ctrl_q_for_comparison(console_in_a_pty):
    process, master = console_in_a_pty
    output = read_until(master, lambda out: b"PBX" in out, 20)
    agents = agents_running(process)
    output += read_until(master, lambda out: False, 1.0)
    os.write(master, b"\x11")  # Ctrl+Q
    output += read_until(master, lambda out: False, 15)
    assert process.wait(10) == 0
    modes = terminal_modes(output)
    assert (modes["1049"], modes["25"]) == ("l", "h")
    assert _gone(agents, 5.0)
