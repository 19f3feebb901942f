"""CDRs written while a call runs (schema v4): rewritten as the call goes on, stamped with the
process that writes them, and marked interrupted by the next open once that process is gone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

from store import Store
from store.owners import identity, still_running
from store.records import CallRecord, SipMessageRecord, stopped_reason
from store.schema import LATEST, V1, V2, V3

STARTED = CallRecord(started_at=100.0, direction="inbound", from_number="14155550123", to_number="12025550100",
                     gateway_address="127.0.0.2:5060", endpoint_sid=None, auth_method="", final_code=None,
                     final_reason="", setup_ms=None, duration_s=None, rtp={}, audio_verdict={},
                     state="in_progress")
INVITE = SipMessageRecord(100.0, "pstn", "tx", "127.0.0.20:5060", "127.0.0.2:5060", "a1", "INVITE sip:x SIP/2.0", "…")
OK = SipMessageRecord(100.1, "pstn", "rx", "127.0.0.2:5060", "127.0.0.20:5060", "a1", "SIP/2.0 200 OK", "…")
ANSWERED = replace(STARTED, final_code=200, final_reason="OK", setup_ms=4.2, messages=(INVITE, OK))


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def test_a_cdr_is_rewritten_as_its_call_goes_on(store: Store):
    call_id = await store.record_call(STARTED)
    (row,) = await store.calls()
    assert (row.call_id, row.state, row.final_code, row.owner_pid, row.messages) == (
        call_id, "in_progress", None, os.getpid(), ())
    assert await store.record_call(ANSWERED, call_id) == call_id
    (row,) = await store.calls()
    assert (row.state, row.final_code, row.setup_ms, len(row.messages)) == ("in_progress", 200, 4.2, 2)
    ended = replace(ANSWERED, state="ended", duration_s=3.0, messages=(INVITE, OK, replace(OK, t=103.0)))
    await store.record_call(ended, call_id)
    (row,) = await store.calls()
    assert (row.state, row.duration_s, len(row.messages)) == ("ended", 3.0, 3)  # the ladder replaced, not doubled


async def test_calls_left_in_progress_by_a_process_that_is_gone_are_interrupted(db_path: Path):
    async with await Store.open(db_path) as store:
        mine = await store.record_call(ANSWERED)
        orphan_answered = await store.record_call(ANSWERED)
        orphan_ringing = await store.record_call(STARTED)
        reused_pid = await store.record_call(STARTED)
        finished = await store.record_call(replace(ANSWERED, state="ended", duration_s=2.0))
    gone = dead_pid()
    with sqlite3.connect(db_path) as con:  # as if another process had written them, then died
        con.execute("UPDATE calls SET owner_pid = ?, owner = ? WHERE call_id IN (?, ?)",
                    (gone, "boot/123", orphan_answered, orphan_ringing))
        con.execute("UPDATE calls SET owner = 'another boot/1' WHERE call_id = ?", (reused_pid,))
        con.execute("UPDATE calls SET owner_pid = ?, owner = 'boot/9' WHERE call_id = ?", (gone, finished))
    async with await Store.open(db_path) as store:
        rows = {row.call_id: row for row in await store.calls()}
    assert (rows[mine].state, rows[mine].final_code) == ("in_progress", 200)  # its process still runs: ours
    assert (rows[finished].state, rows[finished].final_code) == ("ended", 200)
    for call_id, answered in ((orphan_answered, True), (orphan_ringing, False)):
        assert (rows[call_id].state, rows[call_id].final_code) == ("interrupted", None)
        assert rows[call_id].final_reason == stopped_reason(f"trunklab (process {gone})", answered,
                                                            "its end was never recorded")
    # our pid, but another process's identity: the pid was reused, the owner is gone
    assert rows[reused_pid].state == "interrupted"
    assert rows[reused_pid].final_reason.startswith(f"trunklab (process {os.getpid()}) stopped before the call was answered")


def test_a_process_is_known_by_its_pid_and_its_start():
    me = identity(os.getpid())
    assert me and still_running(os.getpid(), me)
    assert not still_running(os.getpid(), me + "0") and not still_running(os.getpid(), "")
    assert identity(dead_pid()) == "" and not still_running(None, me)


def test_stopped_reason_says_what_stopped_and_when():
    assert stopped_reason("the System Gateway 127.0.0.2", True, "killed by SIGKILL") == (
        "the System Gateway 127.0.0.2 stopped during the call (killed by SIGKILL)")
    assert stopped_reason("the lab", False) == "the lab stopped before the call was answered"


async def test_a_v3_file_keeps_its_cdrs_as_ended_or_failed(db_path: Path):
    with sqlite3.connect(db_path) as con:
        for statement in [*V1, *V2, *V3]:
            con.execute(statement)
        con.execute("INSERT INTO calls (started_at, direction, final_code, final_reason, duration_s) "
                    "VALUES (1.0, 'inbound', 200, 'OK', 3.5), (2.0, 'inbound', 408, 'Request Timeout', NULL)")
        con.execute("PRAGMA user_version = 3")
    async with await Store.open(db_path) as store:
        assert await store.schema_version() == LATEST
        rows = await store.calls()
    assert [(r.final_code, r.state, r.owner_pid) for r in rows] == [(408, "failed", None), (200, "ended", None)]
