"""`call` as a user runs it, when something dies under it: real subprocesses, real agents, a lab
block of its own (--lab N) and a fresh database.

- an agent killed mid-call: `call` reports the call failed, says why, exits non-zero, and its
  CDR says the same;
- the trunklab process itself killed mid-call: its CDR was written when the call started and
  answered, and the next open marks it interrupted, while a process that still runs keeps its
  call in progress."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import Store
from tests.conftest import next_block

pytestmark = pytest.mark.agents
ROOT = Path(__file__).resolve().parent.parent


def start_call(db: Path, lab: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--lab", str(lab), "--db", str(db), "call", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cdr_rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        try:
            return con.execute("SELECT state, final_code, final_reason, owner_pid FROM calls ORDER BY call_id").fetchall()
        except sqlite3.OperationalError:  # the file is being created
            return []


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"{what}: the process ended first: {process.stdout.read()} {process.stderr.read()}")
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout} s")


def agent_pid(parent: int, role: str, ip: str = "") -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"sip.agent" in argv and role.encode() in argv
                and ip.encode() in b" ".join(argv)):
            return int(entry.name)
    raise AssertionError(f"no {role} agent {ip} under process {parent}")


def answered_in_progress(db: Path):
    return [row for row in cdr_rows(db) if row[:2] == ("in_progress", 200)]


@pytest.mark.parametrize(("sig", "how"), [(signal.SIGKILL, "killed by SIGKILL"), (signal.SIGABRT, "killed by SIGABRT")])
def test_call_cut_by_a_dying_gateway_is_a_failed_call(db_path: Path, sig, how):
    lab = int(next_block().split(".")[2])
    gateway = f"127.0.{lab}.2"
    process = start_call(db_path, lab, "inbound", "--to", "+1 202 555 0100", "--via", gateway, "--hold", "20")
    try:
        wait_for(lambda: answered_in_progress(db_path), 30, "the call answered", process)
        time.sleep(0.5)  # some audio
        os.kill(agent_pid(process.pid, "gateway", f'"ip": "{gateway}"'), sig)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reason = f"the System Gateway {gateway} stopped during the call ({how})"
    assert process.returncode == 1, out + err
    assert f"final: 503 {reason} (failed" in out
    assert "far tone" in out  # the legs' figures until the cut are still shown
    assert cdr_rows(db_path) == [("failed", 503, reason, process.pid)]


def test_a_call_in_progress_when_trunklab_dies_is_recorded_interrupted(db_path: Path):
    lab = int(next_block().split(".")[2])
    process = start_call(db_path, lab, "inbound", "--to", "12025550100", "--hold", "30")
    try:
        wait_for(lambda: answered_in_progress(db_path), 30, "the call answered", process)
        agents = [agent_pid(process.pid, role) for role in ("pstn", "pbx")]

        async def open_and_read():
            async with await Store.open(db_path) as store:
                return await store.calls()

        # another process opening the file while the call runs leaves that call alone
        (running,) = asyncio.run(open_and_read())
        assert (running.state, running.final_code, running.owner_pid) == ("in_progress", 200, process.pid)
        process.kill()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in agents) and time.monotonic() < deadline:
        time.sleep(0.05)  # the agents follow their parent (PR_SET_PDEATHSIG)
    (record,) = asyncio.run(open_and_read())
    assert (record.state, record.final_code) == ("interrupted", None)
    assert record.final_reason == (f"trunklab (process {process.pid}) stopped during the call "
                                   "(its end was never recorded)")
    assert record.setup_ms is not None and any(m.first_line.startswith("INVITE") for m in record.messages)
