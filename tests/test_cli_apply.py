"""`python app.py apply FILE [--dry-run]`, `reset --blank` and `show --json`'s builtin_pbx, run
as real subprocesses against real database files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import dump
from tests.test_cli_show import run_app


def show(db: Path, *flags: str) -> dict:
    result = run_app("show", "--json", *flags, "--db", str(db))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write(path: Path, document: dict) -> Path:
    # owner-only: a file from `show --json --reveal` holds VoIP tokens
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(document, out)
    return path


def test_show_json_says_whether_the_built_in_pbx_runs(db_path: Path):
    assert show(db_path)["builtin_pbx"] is True


def test_show_apply_round_trip_between_two_databases(tmp_path: Path):
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    document = show(first, "--reveal")
    document["endpoints"][1]["capacity"] = 4
    document["builtin_pbx"] = False
    document["dids"][2]["name"] = "Fax"
    assert run_app("apply", write(tmp_path / "a.json", document).as_posix(), "--db", str(first)).returncode == 0
    exported = show(first, "--reveal")
    result = run_app("apply", write(tmp_path / "b.json", exported).as_posix(), "--db", str(second))
    assert result.returncode == 0, result.stderr
    assert "change(s) made in one transaction" in result.stdout
    imported = show(second, "--reveal")
    imported["endpoints"][0]["endpoint_sid"] = exported["endpoints"][0]["endpoint_sid"]  # each account's own
    assert imported == exported
    again = run_app("apply", (tmp_path / "b.json").as_posix(), "--db", str(second))
    assert "No change" in again.stdout


def test_apply_prints_each_change_and_dry_run_makes_none(tmp_path: Path, db_path: Path):
    document = show(db_path, "--reveal")
    document["firewall_rules"].pop()
    document["builtin_pbx"] = False
    path = write(tmp_path / "account.json", document)
    before = dump(db_path)
    dry = run_app("apply", str(path), "--dry-run", "--db", str(db_path))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "  firewall rule 2 (allow any from 127.0.0.3/32): removed",
        "  built-in PBX: off (your own PBX)",
        "Dry run: 2 change(s) above would be made; nothing was changed.",
    ]
    assert dump(db_path) == before
    done = run_app("apply", str(path), "--db", str(db_path))
    assert done.stdout.splitlines()[:2] == dry.stdout.splitlines()[:2]
    assert show(db_path)["builtin_pbx"] is False


def test_an_invalid_file_is_refused_with_the_store_message_and_nothing_changes(tmp_path: Path, db_path: Path):
    document = show(db_path, "--reveal")
    document["endpoints"][1]["addresses"][0]["port"] = 70000
    document["builtin_pbx"] = False
    before = dump(db_path)
    result = run_app("apply", str(write(tmp_path / "bad.json", document)), "--db", str(db_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"trunklab: {tmp_path / 'bad.json'}: endpoints[1] (Acme PBX): addresses[0]: port: port 70000 is out of "
        "range; use 1-65535 (SIP's default is 5060); nothing was changed")
    assert dump(db_path) == before


def test_a_file_that_is_not_json_gets_one_line(tmp_path: Path, db_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"endpoints": [')
    result = run_app("apply", str(path), "--db", str(db_path))
    assert result.returncode == 2 and "not JSON" in result.stderr and "Traceback" not in result.stderr
    missing = run_app("apply", str(tmp_path / "nope.json"), "--db", str(db_path))
    assert missing.returncode == 2 and "No such file" in missing.stderr


def test_reset_blank_gives_a_new_customers_account(db_path: Path):
    result = run_app("reset", "--blank", "--yes", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert "a blank account (a new customer's); the console's Lesson (y) starts from here" in result.stdout
    data = show(db_path)
    assert [e["type"] for e in data["endpoints"]] == ["system_gateway"]
    assert data["trunk_groups"] == [] and data["firewall_rules"] == []
    assert all(d["trunk_group_sid"] is None for d in data["dids"]) and len(data["dids"]) == 3
    assert data["pbx_trunk"]["endpoint_sid"] == "" and data["builtin_pbx"] is True
    text = run_app("show", "--db", str(db_path)).stdout
    assert "(no rules: every datagram to the PBX is dropped)" in text
