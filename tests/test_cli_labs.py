"""`--lab` on the command line: each lab's own database and block, and the refusals, each one
line on stderr with exit status 2 and nothing changed. Real subprocesses; no agents are
started (labs 60-90 only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store.labs import reserve
from tests.conftest import dump

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run_app(data_home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRUNKLAB_DB"}
    env["XDG_DATA_HOME"] = str(data_home)  # the user data directory: default databases, locks
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args],
                          capture_output=True, text=True, timeout=60, env=env)


def refused(result: subprocess.CompletedProcess) -> str:
    """The one line a refusal prints (and asserts that is all it did)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def parties(result: subprocess.CompletedProcess) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return {p["role"]: p["ip"] for p in json.loads(result.stdout)["parties"]}


def test_each_lab_gets_its_own_database_and_block(data_home: Path):
    assert parties(run_app(data_home, "--lab", "61", "show", "--json"))["pstn"] == "127.0.61.20"
    assert parties(run_app(data_home, "show", "--json", "--lab", "62"))["pbx"] == "127.0.62.10"
    assert parties(run_app(data_home, "show", "--json"))["pstn"] == "127.0.0.20"  # no --lab: lab 0, as always
    assert sorted(p.name for p in (data_home / "trunklab").glob("*.db")) == [
        "trunklab-lab-61.db", "trunklab-lab-62.db", "trunklab.db"]
    # they hold VoIP tokens in clear: owner-only, in folders made owner-only
    assert {f.stat().st_mode & 0o777 for f in (data_home / "trunklab").iterdir()} == {0o600}
    assert [(data_home / d).stat().st_mode & 0o777 for d in ("", "trunklab")] == [0o700, 0o700]


def test_db_wins_over_the_labs_own_file(data_home: Path, tmp_path: Path):
    path = tmp_path / "mine.db"
    assert parties(run_app(data_home, "--lab", "63", "show", "--json", "--db", str(path)))["pstn"] == "127.0.63.20"
    assert path.exists() and not (data_home / "trunklab" / "trunklab-lab-63.db").exists()


@pytest.mark.parametrize("value, words", [
    ("255", "trunklab: --lab 255: a lab number is 0 to 254 (lab N uses 127.0.N.0/24)"),
    ("abc", "trunklab: --lab takes a number from 0 to 254, 'auto', or a range like 60-90; not 'abc'"),
    ("90-60", "trunklab: --lab 90-60: the range is empty"),
])
def test_a_bad_lab_number_is_one_line(data_home: Path, value: str, words: str):
    assert refused(run_app(data_home, "--lab", value, "show")).startswith(words)
    assert refused(run_app(data_home, "check", "--lab", value)).startswith(words)
    assert not data_home.exists()  # refused before any file was made


def test_another_labs_database_is_refused_and_kept(data_home: Path, tmp_path: Path):
    path = tmp_path / "lab64.db"
    assert run_app(data_home, "--lab", "64", "show", "--db", str(path)).returncode == 0
    before = dump(path)
    for command in (["show"], ["reset", "--yes"], ["scenario", "load", "gateway_missing_from_firewall"], ["check"]):
        line = refused(run_app(data_home, "--lab", "65", *command, "--db", str(path)))
        assert line == (f"trunklab: {path} belongs to lab 64 (127.0.64.0/24), not to lab 65 (127.0.65.0/24): "
                        "use --lab 64, or give another --db; nothing was changed\n")
    assert dump(path) == before
    # without --lab, a database keeps its own block
    assert parties(run_app(data_home, "show", "--json", "--db", str(path)))["pstn"] == "127.0.64.20"


def test_a_lab_in_use_is_refused_at_once(data_home: Path):
    held = reserve(66, data_home / "trunklab" / "locks")  # as a running `--lab 66` holds it
    try:
        line = refused(run_app(data_home, "--lab", "66", "check"))
        assert line == (f"trunklab: lab 66 (127.0.66.0/24) is in use by another trunklab (pid {os.getpid()}): "
                        "choose another --lab, or --lab auto\n")
        # reading its account is fine while it runs
        assert parties(run_app(data_home, "--lab", "66", "show", "--json"))["pstn"] == "127.0.66.20"
        # and a range chooses the next free lab
        assert parties(run_app(data_home, "--lab", "66-67", "show", "--json"))["pstn"] == "127.0.67.20"
    finally:
        held.release()


@pytest.mark.parametrize("args, words", [
    # the page may listen on any address of this machine (the labs stay on loopback); a name
    # that cannot be one is refused before anything is made
    (["--host", "a b"], "trunklab: --host 'a b': give an address of this machine"),
    (["--port", "0"], "trunklab: --port 0: a port is 1-65535"),
    (["--max-trainees", "0"], "trunklab: --max-trainees: at least 1"),
    (["--keyfile", "key.pem"], "trunklab: --keyfile needs --certfile"),
    (["--public-url", "class.example.org"], "trunklab: --public-url class.example.org: give the address"),
    (["--resume", "--sessions-dir", "room"], "trunklab: --resume takes the newest room"),
    (["--db", "x.db"], "trunklab: web gives each trainee a database of their own"),
])
def test_web_refuses_what_breaks_the_classroom(data_home: Path, args: list[str], words: str):
    assert refused(run_app(data_home, "web", *args)).startswith(words)
    assert not data_home.exists()  # no sessions folder made
