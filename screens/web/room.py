"""The classroom's room, the pure part: who joined, what the room keeps about them, and what the
trainer's dashboard shows (one row per trainee, the stuck ones first), as JSON, CSV and a
markdown report.

Nothing here reads a file, a socket or a clock: the server (screens/web/server.py) passes in
each trainee's lab snapshot (store/snapshot.py), what it knows of their browser, and the time.
"""

from __future__ import annotations

import csv
import io
import time
import unicodedata
from dataclasses import asdict, dataclass, field, replace

from store.records import ChecklistRun, ExerciseProgress, LabSnapshot

NAME_MAX = 40
STUCK_AFTER_S = 15 * 60  # this long on one exercise without solving it
IDLE_AFTER_S = 5 * 60  # no key press and no change in the lab for this long, mid-exercise
STATES = ("stuck", "working", "practice", "solved", "ended")  # the dashboard's order


class JoinRefused(ValueError):
    """A join the room cannot take, with the sentence the trainee's page shows. kind: 'name' (the
    name typed: the form again), 'full' (the room's size reached), 'no_lab' (no free lab on the
    machine), 'lab_taken' (a trainee's own lab is held by another program)."""

    def __init__(self, message: str, kind: str = "name") -> None:
        super().__init__(message)
        self.kind = kind


def clean_name(text: str) -> str:
    """The name a trainee typed, as the room shows it: spaces squeezed, at most 40 characters,
    no control or formatting characters (they would garble the dashboard and the reports)."""
    spaced = "".join(" " if c.isspace() else c for c in text)
    kept = "".join(c for c in spaced if not unicodedata.category(c).startswith("C"))
    name = " ".join(kept.split())
    if not name:
        raise JoinRefused("Type your name: the trainer sees it beside your lab.")
    if len(name) > NAME_MAX:
        raise JoinRefused(f"A name of at most {NAME_MAX} characters, please.")
    return name


# ---------------------------------------------------------------------------- what the room keeps

@dataclass(frozen=True)
class Trainee:
    id: str  # short and public: it names the trainee in the trainer's URLs
    name: str
    token_hash: str  # sha256 of the browser's session cookie; the cookie itself is never stored
    lab: int
    db: str  # the database's file name, in the room's folder
    joined_at: float
    ended_at: float | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True)
class RoomState:
    """Everything a restarted server needs to bring the room back (the room's folder holds it,
    owner-only: the code and the secret are in it)."""

    code: str
    secret: str
    created_at: float
    trainees: tuple[Trainee, ...] = ()

    def to_json(self) -> dict:
        return {"version": 1, "code": self.code, "secret": self.secret, "created_at": self.created_at,
                "trainees": [asdict(t) for t in self.trainees]}

    @classmethod
    def from_json(cls, data: dict) -> RoomState:
        if data.get("version") != 1:
            raise ValueError(f"unknown room file version {data.get('version')!r}")
        return cls(str(data["code"]), str(data["secret"]), float(data["created_at"]),
                   tuple(Trainee(**t) for t in data["trainees"]))

    def active(self) -> list[Trainee]:
        return [t for t in self.trainees if t.active]

    def by_id(self, trainee_id: str) -> Trainee | None:
        return next((t for t in self.trainees if t.id == trainee_id), None)

    def by_token_hash(self, token_hash: str) -> Trainee | None:
        return next((t for t in self.trainees if t.token_hash == token_hash and t.active), None)

    def with_trainee(self, trainee: Trainee) -> RoomState:
        others = tuple(t for t in self.trainees if t.id != trainee.id)
        return replace(self, trainees=(*others, trainee) if trainee.id not in {t.id for t in self.trainees}
                       else tuple(trainee if t.id == trainee.id else t for t in self.trainees))


def admit(state: RoomState, name: str, *, max_trainees: int) -> str:
    """The cleaned name of a trainee the room can take, or JoinRefused with the reason."""
    cleaned = clean_name(name)
    if len(state.active()) >= max_trainees:
        raise JoinRefused(f"The room is full: it takes {max_trainees} trainees and all {max_trainees} "
                          "places are taken. Tell your trainer.", "full")
    return cleaned


def next_trainee_id(state: RoomState) -> str:
    return f"t{len(state.trainees) + 1}"


# ---------------------------------------------------------------------------- the dashboard

@dataclass(frozen=True)
class Presence:
    """What the server knows of a trainee beyond their database."""

    console: bool = False  # the console process runs
    online: bool = False  # a browser shows it now
    last_input_at: float | None = None  # the last key press or click that reached the console
    db_changed_at: float | None = None  # the last write to the lab's database (file times)


@dataclass(frozen=True)
class Item:
    title: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class LastCheck:
    started_at: float
    finished_at: float
    passed: bool
    scenario: str | None
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    lab: int
    state: str  # one of STATES
    why: str  # what makes a stuck trainee stuck, in words ('' otherwise)
    exercise: str | None  # the latest exercise's name
    exercise_title: str
    hints_used: int
    hints_total: int
    exercise_checks: int  # Check my fix on the latest exercise
    checks: int  # checklist runs of any kind (k, Check my fix), ever
    last_check: LastCheck | None
    time_on_task_s: float | None
    last_activity_at: float | None
    joined_at: float
    online: bool
    console: bool
    solved: tuple[str, ...] = field(default_factory=tuple)  # exercises solved, in order

    def to_json(self) -> dict:
        data = asdict(self)
        data["solved"] = list(self.solved)
        return data


def last_check(run: ChecklistRun | None) -> LastCheck | None:
    if run is None:
        return None
    return LastCheck(run.started_at, run.finished_at, run.passed, run.scenario,
                     tuple(Item(*item[:3]) for item in run.items))


def _latest(progress: tuple[ExerciseProgress, ...]) -> ExerciseProgress | None:
    return progress[-1] if progress else None


def trainee_row(trainee: Trainee, lab: LabSnapshot, presence: Presence, *, titles: dict[str, str],
                hints: dict[str, int], now: float) -> Row:
    """One trainee as the dashboard shows them. titles/hints: each scenario's title and number of
    hints (from the scenario library)."""
    latest = _latest(lab.progress)
    activity = [t for t in (presence.last_input_at, presence.db_changed_at,
                            lab.last_run.finished_at if lab.last_run else None, lab.last_call_at) if t is not None]
    last_activity = max(activity) if activity else None
    time_on_task = None
    if latest is not None:
        time_on_task = (latest.solved_at if latest.solved else now) - latest.started_at
    state, why = judge_state(trainee, latest, hints.get(latest.scenario, 3) if latest else 3, time_on_task,
                             last_activity, now)
    return Row(
        id=trainee.id, name=trainee.name, lab=trainee.lab, state=state, why=why,
        exercise=latest.scenario if latest else None,
        exercise_title=titles.get(latest.scenario, latest.scenario) if latest else "",
        hints_used=latest.hints_shown if latest else 0,
        hints_total=hints.get(latest.scenario, 0) if latest else 0,
        exercise_checks=latest.checks if latest else 0,
        checks=lab.runs, last_check=last_check(lab.last_run), time_on_task_s=time_on_task,
        last_activity_at=last_activity, joined_at=trainee.joined_at,
        online=presence.online, console=presence.console,
        solved=tuple(p.scenario for p in lab.progress if p.solved),
    )


def judge_state(trainee: Trainee, latest: ExerciseProgress | None, hints_total: int, time_on_task: float | None,
                last_activity: float | None, now: float) -> tuple[str, str]:
    """stuck / working / practice / solved / ended, and for 'stuck' the reason in words."""
    if not trainee.active:
        return "ended", ""
    if latest is None:
        return "practice", ""
    if latest.solved:
        return "solved", ""
    reasons = []
    if hints_total and latest.hints_shown >= hints_total:
        reasons.append(f"all {hints_total} hints used")
    if time_on_task is not None and time_on_task >= STUCK_AFTER_S:
        reasons.append(f"{int(time_on_task // 60)} min on this exercise")
    idle = now - (last_activity if last_activity is not None else latest.started_at)
    if idle >= IDLE_AFTER_S:
        reasons.append(f"nothing done for {int(idle // 60)} min")
    return ("stuck", "; ".join(reasons)) if reasons else ("working", "")


def sort_rows(rows: list[Row]) -> list[Row]:
    """The stuck first, then those working, in practice, solved, and ended; within each, the
    longest on their task first, then by name."""
    return sorted(rows, key=lambda r: (STATES.index(r.state), -(r.time_on_task_s or 0.0), r.name.casefold(), r.id))


def room_document(rows: list[Row], *, now: float, max_trainees: int, scenarios: list[tuple[str, str]],
                  started_at: float) -> dict:
    """room.json: the room and every trainee, stuck first."""
    ordered = sort_rows(rows)
    return {
        "generated_at": now,
        "room": {"started_at": started_at, "max_trainees": max_trainees,
                 "trainees": sum(1 for r in rows if r.state != "ended"),
                 "online": sum(1 for r in rows if r.online),
                 "by_state": {state: sum(1 for r in rows if r.state == state) for state in STATES}},
        "scenarios": [{"name": name, "title": title} for name, title in scenarios],
        "trainees": [row.to_json() for row in ordered],
    }


# ---------------------------------------------------------------------------- results

CSV_COLUMNS = ("name", "lab", "state", "why", "exercise", "hints_used", "hints_total", "exercise_checks", "checks",
               "last_check_passed", "inbound", "outbound", "authentication", "audio", "time_on_task_min",
               "solved", "joined_at", "last_activity_at")


def _stamp(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t is not None else ""


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a name typed as '=...' must not run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _item_statuses(check: LastCheck | None) -> list[str]:
    statuses = [item.status for item in check.items] if check else []
    return (statuses + [""] * 4)[:4]


def rows_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in sort_rows(rows):
        passed = "" if r.last_check is None else ("yes" if r.last_check.passed else "no")
        minutes = "" if r.time_on_task_s is None else f"{r.time_on_task_s / 60:.1f}"
        writer.writerow([_cell(v) for v in (
            r.name, r.lab, r.state, r.why, r.exercise or "", r.hints_used, r.hints_total, r.exercise_checks,
            r.checks, passed, *_item_statuses(r.last_check), minutes, " ".join(r.solved), _stamp(r.joined_at),
            _stamp(r.last_activity_at))])
    return out.getvalue()


# What could start formatting, a link, an HTML tag or an entity inside a table cell, a list item
# or a heading: the only places the report puts text. (A '.', '(' or '#' there is just text, and
# escaping it would make the report ugly to read as plain text.)
_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|~&"})


def md(text: str) -> str:
    """Text as markdown shows it literally (a name is data, not formatting)."""
    return text.translate(_MARKDOWN_SPECIAL)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f} min"


def _trainees(count: int) -> str:
    return f"{count} trainee" + ("" if count == 1 else "s")


def room_markdown(rows: list[Row], *, now: float, titles: dict[str, str]) -> str:
    ordered = sort_rows(rows)
    counts = {state: sum(1 for r in rows if r.state == state) for state in STATES}
    lines = [f"# Classroom results, {_stamp(now)}", "",
             f"{_trainees(len([r for r in rows if r.state != 'ended']))} in the room; "
             + ", ".join(f"{n} {state}" for state, n in counts.items() if n) + ".", "",
             "| trainee | lab | state | exercise | hints | checks | last check | time on task |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in ordered:
        check = "-" if r.last_check is None else ("all four pass" if r.last_check.passed else
                                                  f"{sum(i.status == 'pass' for i in r.last_check.items)}/4 pass")
        hints = f"{r.hints_used}/{r.hints_total}" if r.exercise else "-"
        state = r.state + (f" ({md(r.why)})" if r.why else "")
        lines.append(f"| {md(r.name)} | {r.lab} | {state} | {md(r.exercise_title) or '-'} | {hints} | {r.checks} "
                     f"| {check} | {_minutes(r.time_on_task_s)} |")
    for r in ordered:
        lines += ["", f"## {md(r.name)} (lab {r.lab})", ""]
        solved = ", ".join(md(titles.get(s, s)) for s in r.solved) or "none"
        lines.append(f"- exercises solved: {solved}")
        if r.exercise:
            status = "solved" if r.state == "solved" else "not solved yet"
            lines.append(f"- latest exercise: {md(r.exercise_title)}: {status}, {r.hints_used} of {r.hints_total} "
                         f"hints, {r.exercise_checks} checks, {_minutes(r.time_on_task_s)}")
        lines.append(f"- checklist runs: {r.checks}")
        if r.last_check is not None:
            lines.append(f"- last checklist ({_stamp(r.last_check.finished_at)}):")
            for item in r.last_check.items:
                mark = "x" if item.status == "pass" else " "
                detail = f" ({md(item.detail)})" if item.detail else ""
                lines.append(f"  - [{mark}] {md(item.title)}{detail}")
    return "\n".join(lines) + "\n"
