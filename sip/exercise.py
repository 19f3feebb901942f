"""Guided exercises (workshop mode), the pure part: judging a "Check my fix", choosing a hint
for what the check found, what the trainee may see (trainee mode), what the trainee changed,
and the exercise report. The screens and the command line do the I/O around these functions."""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.export import account_to_text
from store.records import CHECKLIST_KEYS, Account, CheckRow, ExerciseProgress, account_from_wire

from .calls import LabCall
from .checklist import TITLES, ChecklistItem
from .ladder import render_text

if TYPE_CHECKING:  # a scenario is read here, never loaded: store.scenario reads files and drives the Store
    from store.scenario import Scenario


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    checklist: list[CheckRow]  # as the store keeps it
    ladder: str  # the calls worth keeping, as plain-text ladders


def judge(items: list[ChecklistItem], calls: list[LabCall], account: Account) -> CheckOutcome:
    """A check passes when every checklist item passes (the scenarios' meaning of "fixed").
    A failing check keeps the ladders of the calls that went wrong; a passing one keeps all."""
    passed = bool(items) and all(item.passed for item in items)
    rows = [CheckRow(item.title, item.status, item.cause, item.fix, item.detail) for item in items]
    kept = calls if passed else [c for c in calls if not _went_well(c)]
    return CheckOutcome(passed, rows, "\n\n".join(ladder_block(call, account) for call in kept))


def _went_well(call: LabCall) -> bool:
    return call.answered and call.heard.get("pbx", False) and call.heard.get("pstn", False)


def call_title(call: LabCall) -> str:
    """'inbound via 127.0.0.3:5060 to 12025550100: 408 Request Timeout'."""
    how = f"via {call.gateway}" if call.direction == "inbound" else f"{call.requested_auth or call.auth_method} auth"
    if call.answered:
        heard = ", ".join(f"{p} {'heard' if call.heard.get(p) else 'did not hear'} the far end" for p in ("pstn", "pbx"))
        result = f"answered ({heard})"
    else:
        result = f"{call.final_code} {call.final_reason}".strip()
    return f"{call.direction} {how} to {call.to_number}: {result}"


def ladder_block(call: LabCall, account: Account) -> str:
    return "\n".join([call_title(call), *render_text(call, account)])


def running_exercise(progress: dict[str, ExerciseProgress]) -> str | None:
    """The exercise started last (progress comes in start order), unless it is solved."""
    latest = list(progress.values())[-1] if progress else None
    return latest.scenario if latest is not None and not latest.solved else None


# ---------------------------------------------------------------------------- hints


@dataclass(frozen=True)
class HintChoice:
    text: str | None  # the hint to give, or None
    why_none: str = ""  # when there is none, why (for the trainee)


def not_passing(progress: ExerciseProgress) -> list[str]:
    """The checklist items (CHECKLIST_KEYS) the last check did not pass, in checklist order."""
    keys = dict(zip(TITLES, CHECKLIST_KEYS))
    return [keys.get(row.title, row.title) for row in progress.checklist if row.status != "pass"]


def hint_for(scenario: Scenario, progress: ExerciseProgress | None) -> HintChoice:
    """The next hint, chosen for what the last check found: the scenario's first hint not given
    yet that is about an item still failing (none about a step that already passes); once those
    are used, the checklist's own fix for a failing item that no hint covered."""
    if progress is None:
        return HintChoice(None, "Start this exercise first (s).")
    if progress.solved:
        return HintChoice(None, "Solved: no hint needed.")
    if not progress.checklist:
        return HintChoice(None, "Check your fix first (v): a hint is chosen for what the check finds.")
    failing = set(not_passing(progress))
    given = set(progress.hints)
    for hint in scenario.hints:
        if hint.text not in given and failing & set(hint.about):
            return HintChoice(hint.text)
    for row in progress.checklist:
        text = f"{row.title}: {row.fix}"
        if row.status == "fail" and row.fix and text not in given:
            return HintChoice(text)
    return HintChoice(None, "No more hints: each failing item below shows its fix.")


def shows_fix(progress: ExerciseProgress | None) -> bool:
    """Trainee mode: a failing item's fix is shown once a hint has been asked for (before that,
    its symptom and cause only: the fix would give the exercise away)."""
    return progress is None or progress.solved or progress.hints_shown > 0


def hints_given(scenario: Scenario, progress: ExerciseProgress) -> tuple[str, ...]:
    """The hints given, in order (an exercise started before hints were kept: the first ones)."""
    if progress.hints or not progress.hints_shown:
        return progress.hints
    return tuple(h.text for h in scenario.hints[:progress.hints_shown])


def status_word(progress: ExerciseProgress | None) -> str:
    if progress is None:
        return "not started"
    if progress.solved:
        return "solved"
    used = progress.hints_shown
    return f"started, {used} hint{'' if used == 1 else 's'} used"


# ---------------------------------------------------------------------------- what the trainee changed


def start_account(progress: ExerciseProgress) -> Account | None:
    """The account as the exercise began (None for an exercise started before it was kept)."""
    return account_from_wire(json.loads(progress.start_account)) if progress.start_account else None


def account_changes(before: Account, after: Account) -> list[str]:
    """What changed between two accounts, as `show` prints them (tokens masked): each section
    that changed, then its removed (-) and added (+) lines."""
    old, new = account_to_text(before).splitlines(), account_to_text(after).splitlines()
    changes: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        section = next((line for line in reversed(old[:i1 + 1]) if line and not line.startswith(" ")), "")
        if section and section not in changes:
            changes.append(section)
        changes += [f"- {line.strip()}" for line in old[i1:i2]] + [f"+ {line.strip()}" for line in new[j1:j2]]
    return changes


def _stamp(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t is not None else "-"


def report_markdown(scenario: Scenario, progress: ExerciseProgress, account: Account | None = None) -> str:
    """The take-away: what was broken, how the trainee got there (the hints, what they changed
    in the account since the start, given the account now), the failing and the fixed ladder."""
    took = (f"{progress.solved_at - progress.started_at:.0f} s" if progress.solved_at is not None
            else "not solved yet")
    hints = hints_given(scenario, progress)
    lines = [
        f"# Exercise report: {scenario.title}",
        "",
        f"Scenario `{scenario.name}` ({scenario.difficulty_word}), started {_stamp(progress.started_at)}; "
        f"{'solved ' + _stamp(progress.solved_at) if progress.solved else 'not solved yet'}.",
        "",
        "| | |",
        "| --- | --- |",
        f"| Checks run | {progress.checks} |",
        f"| Hints used | {progress.hints_shown} |",
        f"| Time to fix | {took} |",
        "",
        "## The story",
        "",
        scenario.story,
        "",
        f"**Symptom.** {scenario.symptom}",
        "",
        f"**Fixed when.** {scenario.fixed_when}",
        "",
        f"**Lesson.** {scenario.lesson}",
        "",
        "## Hints used",
        "",
        *([f"{n}. {hint}" for n, hint in enumerate(hints, 1)] or ["None."]),
        "",
        "## What you changed",
        "",
        *_changes_section(progress, account),
        "",
        "## The last check",
        "",
        "| Item | Result | Symptom | Cause | Fix |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {row.title} | {row.status} | {_cell(row.symptom)} | {_cell(row.cause)} | {_cell(row.fix)} |"
          for row in progress.checklist],
        "",
        "## Failing ladder (the first check that failed)",
        "",
        _fenced(progress.failing_ladder or "No failing check was recorded."),
        "",
        "## Fixed ladder (the check that passed)",
        "",
        _fenced(progress.fixed_ladder or "Not fixed yet."),
        "",
    ]
    return "\n".join(lines)


def _changes_section(progress: ExerciseProgress, account: Account | None) -> list[str]:
    before = start_account(progress)
    if before is None or account is None:
        return ["Not recorded (this exercise was started before trunklab kept the account's starting point)."]
    changes = account_changes(before, account)
    if not changes:
        return ["Nothing: the account is as the scenario left it."]
    return ["The account as `show` prints it (tokens masked), from the scenario's start to now:", "",
            _fenced("\n".join(changes), "diff")]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def _fenced(text: str, kind: str = "text") -> str:
    return f"```{kind}\n{text}\n```"
