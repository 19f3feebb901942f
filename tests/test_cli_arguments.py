"""Command-line values refused before anything starts: issue 10 found `call --hold -5`
accepted, and then reported as an audio fault of the call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("hold", "words"), [
    ("-5", "-5 s is out of range: give 0 to 300 seconds"),
    ("301", "301 s is out of range: give 0 to 300 seconds"),
    ("soon", "'soon' is not a number of seconds"),
])
def test_call_refuses_a_hold_out_of_range_and_starts_nothing(tmp_path: Path, hold: str, words: str):
    db = tmp_path / "lab.db"
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "call", "inbound", "--to", "12025550100",
                             "--hold", hold, "--db", str(db)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"argument --hold: {words}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not db.exists()  # refused before the database was opened, so before any agent
