"""Schema v7: every checklist run kept, and the classroom's read-only look at a lab's database
(store/snapshot.py) while its own connection keeps writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import Store
from store.records import ChecklistRun
from store.schema import LATEST, V1, V2, V3
from store.snapshot import EMPTY, read_snapshot

ITEMS = (("Inbound calls reach your SIP system", "fail", "via 127.0.0.3:5060: 408 Request Timeout"),
         ("Outbound calls are successfully initiated", "pass", "ip: ok"),
         ("Authentication succeeds (no 401 or 403 errors)", "pass", "ip: ok"),
         ("Audio is present in both directions", "pass", "ok"))


async def test_runs_are_kept_newest_first(tmp_path: Path):
    async with await Store.open(tmp_path / "lab.db") as store:
        first = await store.record_checklist_run(ChecklistRun(100.0, 103.5, False, ITEMS, "stale_voip_token"))
        second = await store.record_checklist_run(ChecklistRun(200.0, 202.0, True, ITEMS))
        runs = await store.checklist_runs()
    assert [r.run_id for r in runs] == [second, first]
    assert runs[1] == ChecklistRun(100.0, 103.5, False, ITEMS, "stale_voip_token", first)
    assert runs[0].scenario is None and runs[0].passed


async def test_a_v3_file_upgrades_to_v7_with_no_runs(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        for statement in [*V1, *V2, *V3]:
            con.execute(statement)
        con.execute("INSERT INTO endpoints VALUES ('gw-1', 'System Gateway', 'system_gateway', NULL, 0, '{}', NULL, NULL, 1)")
        con.execute("PRAGMA user_version = 3")
    async with await Store.open(path) as store:
        assert await store.schema_version() == LATEST
        assert await store.checklist_runs() == []
    assert read_snapshot(path).runs == 0


def test_a_lab_that_does_not_exist_yet_reads_empty(tmp_path: Path):
    assert read_snapshot(tmp_path / "not-yet.db") == EMPTY
    assert not (tmp_path / "not-yet.db").exists()  # reading never creates the file


def test_a_file_from_before_v7_reads_without_runs(tmp_path: Path):
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as con:
        for statement in [*V1, *V2, *V3]:
            con.execute(statement)
        con.execute("INSERT INTO exercise_progress (scenario, started_at, hints_shown, checks) VALUES ('x', 5, 1, 2)")
    snapshot = read_snapshot(path)
    assert (snapshot.runs, snapshot.last_run, snapshot.calls) == (0, None, 0)
    assert [(p.scenario, p.hints_shown, p.checks) for p in snapshot.progress] == [("x", 1, 2)]


async def test_the_snapshot_sees_the_writers_commits_and_never_writes(tmp_path: Path):
    path = tmp_path / "lab.db"
    async with await Store.open(path) as store:  # the console's connection stays open, in WAL
        await store.start_exercise("stale_voip_token", now=50.0)
        assert read_snapshot(path).progress[0].scenario == "stale_voip_token"
        assert read_snapshot(path).last_run is None
        await store.record_checklist_run(ChecklistRun(60.0, 63.0, False, ITEMS, "stale_voip_token"))
        await store.record_check("stale_voip_token", passed=False, checklist=[], ladder="", now=63.0)
        await store.give_hint("stale_voip_token", "Look at the PBX settings' VoIP token")
        snapshot = read_snapshot(path)
        assert snapshot.runs == 1 and snapshot.last_run.items == ITEMS
        assert snapshot.progress[0].hints_shown == 1 and snapshot.progress[0].checks == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):  # the way it opens the file
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                connection.execute("DELETE FROM checklist_runs")
            finally:
                connection.close()
