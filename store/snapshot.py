"""A read-only look at a lab's database from another process: what the classroom's dashboard
shows about a trainee (exercise progress, checklist runs, calls), read while the trainee's
console keeps writing.

The file is opened read-only (`mode=ro`): the dashboard never writes to a trainee's lab, and
SQLite's WAL lets it read a consistent snapshot while the console commits. A file that does not
exist yet (a console still starting) or predates a table reads as empty, not as an error.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .records import ChecklistRun, ExerciseProgress, LabSnapshot, checklist_run_from_row


EMPTY = LabSnapshot()


def read_snapshot(path: Path) -> LabSnapshot:
    """The trainee's lab as its database holds it now; EMPTY if there is no file yet."""
    if not path.exists():
        return EMPTY
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        return LabSnapshot(
            progress=tuple(_progress(connection)),
            last_run=next(iter(_runs(connection, 1)), None),
            runs=_count(connection, "checklist_runs"),
            calls=_count(connection, "calls"),
            last_call_at=_scalar(connection, "SELECT MAX(started_at) FROM calls"),
        )
    finally:
        connection.close()


def _missing_table(error: sqlite3.OperationalError) -> bool:
    return "no such table" in str(error)


def _scalar(connection: sqlite3.Connection, sql: str):
    try:
        row = connection.execute(sql).fetchone()
    except sqlite3.OperationalError as error:
        if _missing_table(error):
            return None
        raise
    return row[0] if row else None


def _count(connection: sqlite3.Connection, table: str) -> int:
    return int(_scalar(connection, f"SELECT COUNT(*) FROM {table}") or 0)  # table names from this module only


def _progress(connection: sqlite3.Connection) -> list[ExerciseProgress]:
    try:
        rows = connection.execute(
            "SELECT scenario, started_at, hints_shown, checks, solved_at, checklist FROM exercise_progress "
            "ORDER BY started_at").fetchall()
    except sqlite3.OperationalError as error:
        if _missing_table(error):
            return []
        raise
    return [ExerciseProgress(r[0], r[1], r[2], r[3], r[4], tuple(tuple(item) for item in json.loads(r[5])))
            for r in rows]


def _runs(connection: sqlite3.Connection, limit: int) -> list[ChecklistRun]:
    try:
        rows = connection.execute(
            "SELECT run_id, started_at, finished_at, scenario, passed, items FROM checklist_runs "
            "ORDER BY run_id DESC LIMIT ?", (limit,)).fetchall()
    except sqlite3.OperationalError as error:
        if _missing_table(error):
            return []
        raise
    return [checklist_run_from_row(row) for row in rows]
