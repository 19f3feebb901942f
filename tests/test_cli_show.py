"""`python app.py show` run as a real subprocess against a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_app(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )


def test_show_json_has_the_documented_keys(db_path: Path):
    result = run_app("show", "--json", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"endpoints", "trunk_groups", "dids", "firewall_rules"} <= data.keys()
    for endpoint in data["endpoints"]:
        assert {"endpoint_sid", "name", "type", "voip_token", "addresses", "attributes"} <= endpoint.keys()
        for address in endpoint["addresses"]:
            assert {"ip", "port", "transport", "direction"} <= address.keys()
    for group in data["trunk_groups"]:
        assert {"trunk_group_sid", "name", "trunks"} <= group.keys()
    for did in data["dids"]:
        assert {"did_sid", "phonenumber", "trunk_group_sid"} <= did.keys()
    assert [e["type"] for e in data["endpoints"]] == ["system_gateway", "third_party"]
    assert [d["phonenumber"] for d in data["dids"]] == ["12025550100", "12025550101", "12025550199"]


def test_token_is_masked_unless_revealed(db_path: Path):
    masked = json.loads(run_app("show", "--json", "--db", str(db_path)).stdout)
    revealed = json.loads(run_app("show", "--json", "--reveal", "--db", str(db_path)).stdout)
    token = revealed["endpoints"][1]["voip_token"]
    assert len(token) == 36
    shown = masked["endpoints"][1]["voip_token"]
    assert token[:-4] not in shown and shown.endswith(token[-4:])
    text = run_app("show", "--db", str(db_path)).stdout
    assert token not in text and "--reveal" in text
    assert token in run_app("show", "--reveal", "--db", str(db_path)).stdout


def test_text_output_walks_the_account(db_path: Path):
    text = run_app("show", "--db", str(db_path)).stdout
    for words in ("System Gateway (system-generated, read-only)", "127.0.0.2:5060/udp", "Acme PBX",
                  "Acme trunk group", "+1 202-555-0100", "(unassigned)", "allow any from 127.0.0.3/32"):
        assert words in text


def test_database_path_from_environment(tmp_path: Path):
    path = tmp_path / "from-env.db"
    result = run_app("show", "--json", env={"TRUNKLAB_DB": str(path)})
    assert result.returncode == 0, result.stderr
    assert path.exists()


def test_default_database_lives_in_the_xdg_data_dir(tmp_path: Path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "TRUNKLAB_DB": ""}
    result = run_app("show", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "trunklab" / "trunklab.db").exists()


def test_unreadable_database_gets_a_clear_error(tmp_path: Path):
    path = tmp_path / "newer.db"
    import sqlite3

    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 99")
    result = run_app("show", "--db", str(path))
    assert result.returncode == 2
    assert "newer trunklab" in result.stderr and "Traceback" not in result.stderr
