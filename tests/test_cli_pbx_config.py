"""`python app.py pbx-config` as a real subprocess against a real database file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli_show import run_app


def test_printed_with_the_token_masked(db_path: Path):
    token = json.loads(run_app("show", "--json", "--reveal", "--db", str(db_path)).stdout)["endpoints"][1]["voip_token"]
    result = run_app("pbx-config", "asterisk", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    assert "==> pjsip.conf <==" in result.stdout and "==> extensions.conf <==" in result.stdout
    assert token not in result.stdout and token[-4:] in result.stdout and "--reveal" in result.stdout
    assert token in run_app("pbx-config", "asterisk", "--reveal", "--db", str(db_path)).stdout


def test_written_owner_only_into_a_folder(db_path: Path, tmp_path: Path):
    out = tmp_path / "fs"
    result = run_app("pbx-config", "freeswitch", "--auth", "header", "--reveal", "--out", str(out), "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["autoload_configs/carrierx-acl.xml", "dialplan/default/carrierx.xml",
                       "dialplan/public/carrierx.xml", "sip_profiles/carrierx.xml"]
    assert all((out / name).stat().st_mode & 0o777 == 0o600 for name in written)
    assert out.stat().st_mode & 0o777 == 0o700
    assert "sip_profiles/carrierx.xml  (holds the VoIP token: keep it private)" in result.stdout


def test_a_blank_account_says_what_is_missing(db_path: Path):
    assert run_app("reset", "--blank", "--yes", "--db", str(db_path)).returncode == 0
    result = run_app("pbx-config", "baresip", "--db", str(db_path))
    assert result.returncode == 2
    assert result.stderr.strip() == ("trunklab: pbx-config baresip: the account has no third-party endpoint yet: add "
                                     "one (Endpoints -> Add New Endpoint) with the address your PBX listens on")
