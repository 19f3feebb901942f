"""Guided exercises (workshop mode), the pure part: judging a "Check my fix" and writing the
exercise report. The screens and the command line do the I/O around these functions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.records import Account, ExerciseProgress

from .calls import LabCall
from .checklist import ChecklistItem
from .ladder import render_text

if TYPE_CHECKING:  # a scenario is read here, never loaded: store.scenario reads files and drives the Store
    from store.scenario import Scenario


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    checklist: list[tuple[str, str, str, str]]  # (title, status, cause, fix), as the store keeps it
    ladder: str  # the calls worth keeping, as plain-text ladders


def judge(items: list[ChecklistItem], calls: list[LabCall], account: Account) -> CheckOutcome:
    """A check passes when every checklist item passes (the scenarios' meaning of "fixed").
    A failing check keeps the ladders of the calls that went wrong; a passing one keeps all."""
    passed = bool(items) and all(item.passed for item in items)
    rows = [(item.title, item.status, item.cause, item.fix) for item in items]
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


def next_hint(scenario: Scenario, progress: ExerciseProgress | None) -> str | None:
    """The latest hint revealed so far (None before the first failed check)."""
    if progress is None or progress.hints_shown == 0:
        return None
    return scenario.hints[min(progress.hints_shown, len(scenario.hints)) - 1]


def status_word(progress: ExerciseProgress | None, hints: int) -> str:
    if progress is None:
        return "not started"
    if progress.solved:
        return "solved"
    return f"started, {progress.hints_shown}/{hints} hints"


def _stamp(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t is not None else "-"


def report_markdown(scenario: Scenario, progress: ExerciseProgress) -> str:
    """The take-away: what was broken, how the trainee got there, the failing and the fixed ladder."""
    took = (f"{progress.solved_at - progress.started_at:.0f} s" if progress.solved_at is not None
            else "not solved yet")
    lines = [
        f"# Exercise report: {scenario.title}",
        "",
        f"Scenario `{scenario.name}`, started {_stamp(progress.started_at)}; "
        f"{'solved ' + _stamp(progress.solved_at) if progress.solved else 'not solved yet'}.",
        "",
        "| | |",
        "| --- | --- |",
        f"| Checks run | {progress.checks} |",
        f"| Hints used | {progress.hints_shown} of {len(scenario.hints)} |",
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
        *([f"{n}. {hint}" for n, hint in enumerate(scenario.hints[:progress.hints_shown], 1)] or ["None."]),
        "",
        "## The last check",
        "",
        "| Item | Result | Cause | Fix |",
        "| --- | --- | --- | --- |",
        *[f"| {title} | {status} | {_cell(cause)} | {_cell(fix)} |" for title, status, cause, fix in progress.checklist],
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


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def _fenced(text: str) -> str:
    return f"```text\n{text}\n```"
