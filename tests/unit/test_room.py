"""The classroom's room, the pure part: names, places, each trainee's state on the dashboard, the
order that puts the stuck first, and the exports (room.json's shape, CSV, markdown)."""

from __future__ import annotations

import csv
import io

import pytest

from screens.web.room import (
    IDLE_AFTER_S,
    NAME_MAX,
    STUCK_AFTER_S,
    JoinRefused,
    Presence,
    RoomState,
    Trainee,
    admit,
    clean_name,
    md,
    next_trainee_id,
    room_document,
    room_markdown,
    rows_csv,
    sort_rows,
    trainee_row,
)
from store.records import ChecklistRun, ExerciseProgress
from store.snapshot import EMPTY, LabSnapshot

NOW = 1_800_000_000.0
TITLES = {"stale_voip_token": "The PBX sends a stale VoIP token", "number_not_assigned": "A number not assigned"}
HINTS = {"stale_voip_token": 3, "number_not_assigned": 3}
ITEMS = (("Inbound calls reach your SIP system", "pass", "via a: ok"),
         ("Outbound calls are successfully initiated", "pass", "ip: ok"),
         ("Authentication succeeds (no 401 or 403 errors)", "fail", "proxy: 401 Unauthorized"),
         ("Audio is present in both directions", "pass", "ok"))


def trainee(name="Ana", number=1, lab=61, ended_at=None) -> Trainee:
    return Trainee(f"t{number}", name, "h" * 64, lab, f"lab-{lab}-t{number}.db", NOW - 3600, ended_at)


def progress(scenario="stale_voip_token", started=NOW - 120, hints=0, checks=0, solved_at=None) -> ExerciseProgress:
    return ExerciseProgress(scenario, started, hints, checks, solved_at)


def row(who=None, lab=EMPTY, presence=Presence(), now=NOW):
    return trainee_row(who or trainee(), lab, presence, titles=TITLES, hints=HINTS, now=now)


# ---------------------------------------------------------------------------- joining

@pytest.mark.parametrize("typed, shown", [
    ("Ana", "Ana"), ("  Ana   Lima ", "Ana Lima"), ("José Ñúñez", "José Ñúñez"), ("Ana\tLima\n", "Ana Lima"),
    ("A\x1b[31mna", "A[31mna"), ("Ana\u202eevil", "Anaevil"), ("李雷", "李雷"), ("x" * NAME_MAX, "x" * NAME_MAX),
])
def test_a_name_as_the_room_shows_it(typed, shown):
    assert clean_name(typed) == shown


@pytest.mark.parametrize("typed, says", [("", "Type your name"), ("   \t", "Type your name"), ("\x00\x07", "Type your name"),
                                         ("x" * (NAME_MAX + 1), f"at most {NAME_MAX} characters")])
def test_a_name_refused_says_why(typed, says):
    with pytest.raises(JoinRefused, match=says) as refused:
        clean_name(typed)
    assert refused.value.kind == "name"


def test_a_full_room_refuses_with_its_size_and_ended_sessions_free_their_place():
    state = RoomState("CODE", "secret", NOW, (trainee("Ana", 1), trainee("Ben", 2, 62)))
    with pytest.raises(JoinRefused, match="The room is full: it takes 2 trainees") as refused:
        admit(state, "Cleo", max_trainees=2)
    assert refused.value.kind == "full"
    state = RoomState("CODE", "secret", NOW, (trainee("Ana", 1), trainee("Ben", 2, 62, ended_at=NOW)))
    assert admit(state, " Cleo ", max_trainees=2) == "Cleo"
    assert next_trainee_id(state) == "t3"  # ids are never reused, ended trainees keep theirs


def test_the_room_file_round_trips_and_refuses_what_it_does_not_know():
    state = RoomState("CODE", "secret", NOW, (trainee("Ana", 1), trainee("Ben", 2, 62, ended_at=NOW)))
    assert RoomState.from_json(state.to_json()) == state
    with pytest.raises(ValueError, match="version"):
        RoomState.from_json({**state.to_json(), "version": 2})
    assert state.by_token_hash("h" * 64).name == "Ana"  # an ended trainee's cookie opens nothing
    assert state.with_trainee(trainee("Ana B", 1)).by_id("t1").name == "Ana B"
    assert len(state.with_trainee(trainee("Cleo", 3, 63)).trainees) == 3


# ---------------------------------------------------------------------------- a trainee's state

def test_in_practice_before_any_exercise():
    r = row()
    assert (r.state, r.exercise, r.time_on_task_s, r.last_check, r.checks) == ("practice", None, None, None, 0)


def test_working_on_an_exercise_with_the_time_on_task_and_the_last_check():
    run = ChecklistRun(NOW - 30, NOW - 25, False, ITEMS, "stale_voip_token", 7)
    lab = LabSnapshot(progress=(progress(hints=1, checks=1),), last_run=run, runs=4, calls=20, last_call_at=NOW - 30)
    r = row(lab=lab, presence=Presence(console=True, online=True, last_input_at=NOW - 10))
    assert (r.state, r.exercise, r.exercise_title, r.hints_used, r.hints_total, r.exercise_checks, r.checks) == (
        "working", "stale_voip_token", "The PBX sends a stale VoIP token", 1, 3, 1, 4)
    assert r.time_on_task_s == 120 and r.last_activity_at == NOW - 10 and r.online and r.console
    assert [i.status for i in r.last_check.items] == ["pass", "pass", "fail", "pass"]
    assert r.last_check.items[2].detail == "proxy: 401 Unauthorized" and not r.last_check.passed


@pytest.mark.parametrize("hints, started, last_input, reason", [
    (3, NOW - 60, NOW - 5, "all 3 hints used"),
    (0, NOW - STUCK_AFTER_S, NOW - 5, f"{STUCK_AFTER_S // 60} min on this exercise"),
    (0, NOW - 400, NOW - IDLE_AFTER_S, f"nothing done for {IDLE_AFTER_S // 60} min"),
])
def test_stuck_says_why(hints, started, last_input, reason):
    lab = LabSnapshot(progress=(progress(started=started, hints=hints),))
    r = row(lab=lab, presence=Presence(last_input_at=last_input))
    assert r.state == "stuck" and reason in r.why


def test_a_db_write_or_a_check_counts_as_activity_so_a_busy_trainee_is_not_idle():
    lab = LabSnapshot(progress=(progress(started=NOW - 600),))
    assert row(lab=lab).state == "stuck"  # no sign of life since the start, 10 min ago
    assert row(lab=lab, presence=Presence(db_changed_at=NOW - 20)).state == "working"
    run = ChecklistRun(NOW - 40, NOW - 35, False, ITEMS, "stale_voip_token")
    assert row(lab=LabSnapshot(progress=lab.progress, last_run=run)).state == "working"


def test_solved_keeps_its_time_and_lists_every_exercise_solved():
    lab = LabSnapshot(progress=(progress("number_not_assigned", NOW - 900, solved_at=NOW - 800),
                                progress("stale_voip_token", NOW - 500, hints=2, checks=3, solved_at=NOW - 200)))
    r = row(lab=lab)
    assert r.state == "solved" and r.time_on_task_s == 300
    assert r.solved == ("number_not_assigned", "stale_voip_token")


def test_an_ended_session_is_ended_whatever_its_lab_says():
    lab = LabSnapshot(progress=(progress(hints=3),))
    assert row(trainee(ended_at=NOW), lab=lab).state == "ended"


def test_the_stuck_come_first_then_the_longest_on_task():
    def with_state(name, number, lab):
        return row(trainee(name, number), lab=lab, presence=Presence(last_input_at=NOW))

    rows = [
        with_state("Solved", 1, LabSnapshot(progress=(progress(solved_at=NOW - 5),))),
        with_state("Practice", 2, EMPTY),
        with_state("Working short", 3, LabSnapshot(progress=(progress(started=NOW - 60),))),
        with_state("Working long", 4, LabSnapshot(progress=(progress(started=NOW - 300),))),
        with_state("Stuck", 5, LabSnapshot(progress=(progress(hints=3),))),
        row(trainee("Ended", 6, ended_at=NOW)),
    ]
    assert [r.name for r in sort_rows(rows)] == ["Stuck", "Working long", "Working short", "Practice", "Solved",
                                                 "Ended"]


# ---------------------------------------------------------------------------- exports

def sample_rows():
    run = ChecklistRun(NOW - 30, NOW - 25, False, ITEMS, "stale_voip_token")
    return [
        row(trainee("Ana", 1), LabSnapshot(progress=(progress(hints=3, checks=3),), last_run=run, runs=3)),
        row(trainee('=cmd|" /C calc"!A0', 2, 62), EMPTY),
        row(trainee("Bo | *b* [x](y)", 3, 63), LabSnapshot(progress=(progress(solved_at=NOW - 10),))),
    ]


def test_room_document_is_the_room_and_its_trainees_stuck_first():
    document = room_document(sample_rows(), now=NOW, max_trainees=20, scenarios=list(TITLES.items()), started_at=NOW - 7200)
    assert document["room"] == {"started_at": NOW - 7200, "max_trainees": 20, "trainees": 3, "online": 0,
                                "by_state": {"stuck": 1, "working": 0, "practice": 1, "solved": 1, "ended": 0}}
    assert [t["name"] for t in document["trainees"]][0] == "Ana"
    ana = document["trainees"][0]
    assert ana["last_check"]["items"][2] == {"title": ITEMS[2][0], "status": "fail", "detail": ITEMS[2][2]}
    assert document["scenarios"][0] == {"name": "stale_voip_token", "title": TITLES["stale_voip_token"]}


def test_csv_has_one_row_per_trainee_and_no_cell_a_spreadsheet_would_run():
    table = list(csv.reader(io.StringIO(rows_csv(sample_rows()))))
    header, *rows = table
    assert header[:3] == ["name", "lab", "state"] and len(rows) == 3
    ana = dict(zip(header, rows[0]))
    assert (ana["name"], ana["exercise"], ana["hints_used"], ana["last_check_passed"], ana["authentication"],
            ana["time_on_task_min"]) == ("Ana", "stale_voip_token", "3", "no", "fail", "2.0")
    assert [r[0] for r in rows if "calc" in r[0]] == ["'=cmd|\" /C calc\"!A0"]


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1"])
def test_csv_cells_that_would_be_formulas_are_text(text):
    rows = [row(trainee(text), EMPTY)]
    assert list(csv.reader(io.StringIO(rows_csv(rows))))[1][0] == "'" + text


def test_markdown_report_shows_names_literally():
    report = room_markdown(sample_rows(), now=NOW, titles=TITLES)
    assert report.startswith("# Classroom results, ")
    assert "3 trainees in the room; 1 stuck, 1 practice, 1 solved." in report
    assert "| Ana | 61 | stuck (all 3 hints used) | The PBX sends a stale VoIP token | 3/3 | 3 | 3/4 pass |" in report
    assert "## Bo \\| \\*b\\* \\[x\\](y) (lab 63)" in report
    assert "- [ ] Authentication succeeds (no 401 or 403 errors) (proxy: 401 Unauthorized)" in report
    assert md("a|b") == "a\\|b" and md("plain") == "plain" and md("127.0.5.2 (ok)") == "127.0.5.2 (ok)"
    assert md("<img src=x>") == "\\<img src=x\\>" and md("&lt;") == "\\&lt;"


def test_markdown_report_counts_one_trainee_as_one():
    report = room_markdown(sample_rows()[:1], now=NOW, titles=TITLES)
    assert "1 trainee in the room; 1 stuck." in report
