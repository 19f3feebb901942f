"""The workshop commands as a trainer types them: scenario list, load, report (real processes,
a real database file; no agents)."""

from __future__ import annotations

from pathlib import Path

from store.scenario import library
from tests.test_cli_show import run_app


def test_scenario_list_is_one_a_line_name_first(db_path: Path):
    result = run_app("scenario", "list", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == [s.name for s in library()] and len(names) >= 9


def test_load_starts_the_exercise_and_report_writes_it(db_path: Path, tmp_path: Path):
    loaded = run_app("scenario", "load", "no_common_codec", "--db", str(db_path))
    assert loaded.returncode == 0, loaded.stderr
    assert "No codec in common" in loaded.stdout
    shown = run_app("show", "--json", "--db", str(db_path))
    assert '"G722"' in shown.stdout  # the PBX's settings were changed, in the file
    out = tmp_path / "report.md"
    report = run_app("scenario", "report", "no_common_codec", "--out", str(out), "--db", str(db_path))
    assert report.returncode == 0, report.stderr
    text = out.read_text()
    assert text.startswith("# Exercise report: No codec in common") and "not solved yet" in text


def test_report_of_an_exercise_never_started_is_a_clear_error(db_path: Path):
    result = run_app("scenario", "report", "stale_voip_token", "--db", str(db_path))
    assert result.returncode == 2 and "has not been started" in result.stderr and not result.stdout


def test_unknown_scenario_names_the_known_ones(db_path: Path):
    result = run_app("scenario", "load", "no_such_thing", "--db", str(db_path))
    assert result.returncode == 2 and "stale_voip_token" in result.stderr


def test_a_report_that_cannot_be_written_is_one_line(db_path: Path, tmp_path: Path):
    run_app("scenario", "load", "no_common_codec", "--db", str(db_path))
    result = run_app("scenario", "report", "no_common_codec", "--out", str(tmp_path / "no" / "such" / "dir.md"),
                     "--db", str(db_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"trunklab: {tmp_path / 'no' / 'such' / 'dir.md'}: No such file or directory"
