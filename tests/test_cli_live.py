"""The headless commands as a user runs them: real subprocesses, real agents, a fresh database.

Each database is made in a loopback block of its own (a file keeps the block it was made in, as
a user's `--db` does), so these never meet a lab someone runs on 127.0.0.x meanwhile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.agents
ROOT = Path(__file__).resolve().parent.parent


def app(db: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database in a block of its own, made the way the store makes any new file."""
    import asyncio

    from store import AddressPlan, Store
    from tests.conftest import next_block

    path = tmp_path / "lab.db"

    async def create() -> None:
        await (await Store.open(path, plan=AddressPlan.in_block(next_block()))).close()

    asyncio.run(create())
    return path


@pytest.fixture
def net(db_path: Path) -> str:
    """The first three octets of the database's block, e.g. '127.0.104'."""
    import sqlite3

    with sqlite3.connect(db_path) as con:
        (ip,) = con.execute("SELECT ip FROM lab_parties WHERE role = 'pstn'").fetchone()
    return ip.rsplit(".", 1)[0]


def test_check_passes_on_the_default_account(db_path: Path):
    result = app(db_path, "check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and [i["status"] for i in report["items"]] == ["pass"] * 4
    assert [i["title"] for i in report["items"]][0] == "Inbound calls reach your SIP system"
    from store.snapshot import read_snapshot

    kept = read_snapshot(db_path)  # the run is kept for the classroom's trainer
    assert kept.runs == 1 and kept.last_run.passed and kept.last_run.scenario is None
    assert [item[:2] for item in kept.last_run.items] == [(i["title"], "pass") for i in report["items"]]


def test_check_names_the_cause_and_the_fix(db_path: Path, net: str):
    import asyncio

    from store import Store

    async def open_one_hole() -> None:
        async with await Store.open(db_path) as store:
            account = await store.account()
            rule = next(r for r in account.firewall_rules if r.cidr == f"{net}.3/32")
            await store.remove_firewall_rule(rule.rule_id)

    asyncio.run(open_one_hole())
    result = app(db_path, "check")
    assert result.returncode == 1
    assert "[ ] Inbound calls reach your SIP system" in result.stdout
    assert f"INVITE 12025550100 from {net}.3 dropped by the PBX firewall" in result.stdout
    assert f"fix:   allow {net}.3 in the PBX firewall" in result.stdout
    from store.snapshot import read_snapshot

    run = read_snapshot(db_path).last_run
    assert not run.passed and run.items[0][1] == "fail" and f"{net}.3" in run.items[0][2]
    assert run.started_at <= run.finished_at


def test_call_inbound_prints_the_ladder_and_audio(db_path: Path, net: str):
    result = app(db_path, "call", "inbound", "--to", "+1 202 555 0100", "--hold", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"PSTN            -> GW {net}." in result.stdout
    assert "final: 200 OK (answered" in result.stdout
    assert result.stdout.count("far tone HEARD") == 2


def test_call_outbound_with_a_wrong_token_fails_with_401(db_path: Path):
    result = app(db_path, "call", "outbound", "--to", "14155550123", "--auth", "header", "--token", "wrong")
    assert result.returncode == 1
    assert "final: 401 Unauthorized (failed)" in result.stdout
    assert "X-Auth-VoipToken does not match" in result.stdout


def test_call_to_an_unknown_gateway_is_a_clear_error(db_path: Path, net: str):
    result = app(db_path, "call", "inbound", "--to", "12025550100", "--via", f"{net}.9")
    assert result.returncode == 2 and "not a System Gateway address" in result.stderr


def _agent_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"sip.agent" in cmdline:
                pids.append(int(entry.name))
    return pids


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists()
                 and (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")]
        if not alive:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_serve_prints_sip_and_leaves_no_agent_behind(db_path: Path, how):
    serve = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", "--db", str(db_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = serve.stdout.readline()
        assert "trunklab serving" in line, line + serve.stderr.read()
        agents = _agent_pids(serve.pid)
        assert len(agents) == 4
        if how != signal.SIGKILL:
            call = app(db_path, "call", "inbound", "--to", "12025550100", "--hold", "0.2")
            # a second lab on the same addresses cannot bind: it says so at once
            assert call.returncode == 2 and "Address already in use" in call.stderr, call.stderr
        serve.send_signal(how)
        serve.wait(10)
        assert _gone(agents, 3.0), "agents survived the app"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
