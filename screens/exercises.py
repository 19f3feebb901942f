"""Workshop mode: the scenario library as exercises, easiest first, with this lab's trainee's
progress.

Start an exercise (the scenario's broken trunk replaces the account), investigate with the
normal screens, come back and "Check my fix" (v): the Verification Checklist runs for real.
Either the exercise is solved, or each failing item shows its symptom and cause (trainee mode:
the fix only once a hint was asked for). `h` asks for a hint, chosen for what the last check
found. Progress lives in the store; the lab reads it (whoever wrote it: this console, or
`scenario load` on the command line) and this screen shows what the lab has.

What happens is said on the status line at the top of the pane, not in toasts: toasts stacked
over the results they announced.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sip.checklist import ChecklistItem
from sip.exercise import hint_for, hints_given, judge, report_markdown, shows_fix, status_word
from sip.lab import LabError
from store import StoreError
from store.records import ExerciseProgress
from store.scenario import DIFFICULTIES, Scenario, library, load

from . import messages
from .base import LabScreen
from .widgets.checklist import checklist_table
from .widgets.footer import LabFooter

MARKS = {"not started": "  ", "solved": "✓ "}


def last_check(progress: ExerciseProgress) -> Table:
    """The last check's items, in trainee mode: a failing one with its symptom and cause, and its
    fix only once a hint was asked for."""
    items = [ChecklistItem(row.title, row.status, row.symptom, row.cause, row.fix) for row in progress.checklist]
    return checklist_table(items, show_fix=shows_fix(progress), no_fix="shown once you ask for a hint (h)")


def not_yet(checklist) -> str:
    """What a check that did not pass says: how many items fail, and apart from them how many
    no call could test (no answered call: no audio to judge), which are not failures."""
    failing = sum(row.status == "fail" for row in checklist)
    untested = sum(row.status not in ("pass", "fail") for row in checklist)
    said = f"Not yet: {failing} of {len(checklist)} item{'s' if len(checklist) != 1 else ''} fail"
    if untested:
        said += f", {untested} could not be tested yet"
    return said + ". Read their symptom and cause below; h gives a hint."


def detail_text(scenario: Scenario, progress: ExerciseProgress | None, running: bool) -> Group:
    """What the trainee needs, in that order: where they stand, the hints, the last check, then
    the story (the first thing to read before starting, the last once under way)."""
    head = Text()
    head.append(scenario.title + "\n", style="bold")
    head.append(f"{scenario.difficulty_word}   {status_word(progress)}"
                + ("   (the lab runs this one)" if running else ""), style="grey62")
    story = Text()
    story.append(scenario.story + "\n\n")
    story.append("Symptom  ", style="bold")
    story.append(scenario.symptom + "\n")
    story.append("Fixed when  ", style="bold")
    story.append(scenario.fixed_when)
    if progress is None:
        return Group(head, Text(), story, Text("\n[s] start: the account is reset, then broken this way",
                                               style="grey62"))
    parts: list = [head]
    if progress.solved:
        solved = Text("\n\nFixed: all four checklist items pass. Well done.\n", style="bold green")
        solved.append("Lesson  ", style="bold")
        solved.append(scenario.lesson, style="")
        parts.append(solved)
    hints = Text()
    for number, hint in enumerate(hints_given(scenario, progress), 1):
        hints.append(f"\nHint {number}  ", style="bold yellow")
        hints.append(hint)
    if hints:
        parts.append(hints)
    if progress.checklist:
        parts += [Text(f"\nLast check ({progress.checks} so far)", style="bold"), last_check(progress)]
    if not progress.solved:
        parts.append(Text("\n[v] check my fix   [h] a hint   [s] start over", style="grey62"))
    parts += [Text("\nThe story", style="bold underline"), story]
    return Group(*parts)


class ConfirmStart(ModalScreen[bool]):
    """Starting replaces the account: say so, and let the trainee back out."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("enter", "dismiss(True)", "Start")]

    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"Start “{self.scenario.title}”?", style="bold"))
            yield Static(Text("The account goes back to the default, then breaks the way the scenario says. "
                              "The call history is kept.\n\n[enter] start   [esc] cancel"))
        yield LabFooter()  # the dialog's keys (the screen's beneath do not reach a dialog)


class ExercisesScreen(LabScreen):
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("v", "check", "Check my fix"),  # not c: c is Calls on every screen
        Binding("h", "hint", "Hint"),
        Binding("r", "report", "Report"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scenarios = {s.name: s for s in library()}  # easiest first
        self._said_of: str | None = None  # the exercise the status line speaks of

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="exercise-list-box"):
                yield Static("EXERCISES   easiest first", classes="title")
                yield OptionList(id="exercise-list")
            with Vertical(id="exercise-pane"):
                yield Static(id="exercise-status")
                with VerticalScroll(id="exercise-box"):
                    yield Static(id="exercise")

    @property
    def progress(self) -> dict[str, ExerciseProgress]:
        return self.lab.progress

    def on_mount(self) -> None:
        latest = list(self.progress)[-1] if self.progress else None  # progress comes in start order
        self.say()  # nothing said yet: the line takes no room
        self.refresh_view()
        self.select(self.app.exercise or latest)
        self.query_one(OptionList).focus()

    def say(self, message: str = "", style: str = "", *, about: str | None = None) -> None:
        """The status line: what was just done to an exercise (`about`, else the selected one),
        or why not, in place of a toast. It is cleared when another exercise is selected."""
        if not message:
            self._said_of = None
        else:
            self._said_of = about or (self.selected.name if self.query_one(OptionList).option_count else None)
        status = self.query_one("#exercise-status", Static)
        status.update(Text(message, style=style))
        status.display = bool(message)

    def refresh_view(self) -> None:
        option_list = self.query_one(OptionList)
        keep = self.selected.name if option_list.option_count else None
        option_list.clear_options()
        difficulty = None
        for scenario in self.scenarios.values():
            if scenario.difficulty != difficulty:  # a heading per difficulty
                difficulty = scenario.difficulty
                option_list.add_option(Option(Text(DIFFICULTIES[difficulty].upper(), style="bold grey62"),
                                              disabled=True))
            word = status_word(self.progress.get(scenario.name))
            option_list.add_option(Option(Text(f"{MARKS.get(word, '… ')}{scenario.name}"), id=scenario.name))
        self.select(keep)

    def select(self, name: str | None) -> None:
        option_list = self.query_one(OptionList)
        names = [o.id for o in option_list.options]
        option_list.highlighted = names.index(name) if name in names else 1  # 0 is a heading
        self.show_selected()

    @on(messages.ProgressChanged)
    def _progress_changed(self) -> None:
        self.refresh_view()

    @property
    def selected(self) -> Scenario:
        option_list = self.query_one(OptionList)
        index = option_list.highlighted if option_list.highlighted is not None else 1
        option = option_list.get_option_at_index(index)
        return self.scenarios[option.id] if option.id else next(iter(self.scenarios.values()))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id != self._said_of:  # the status line spoke of another exercise
            self.say()
        self.show_selected()

    def show_selected(self) -> None:
        scenario = self.selected
        self.query_one("#exercise", Static).update(
            detail_text(scenario, self.progress.get(scenario.name), scenario.name == self.app.exercise))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_start()

    # ------------------------------------------------------------------ actions

    def action_start(self) -> None:
        if self.app.checklist_running():  # starting resets the account under the check's calls
            self.say("A check is running: start the next exercise when it is done.", "yellow")
            return
        scenario = self.selected

        async def confirmed(start: bool | None) -> None:
            if start:
                await self._start(scenario)

        self.app.push_screen(ConfirmStart(scenario), confirmed)

    async def _start(self, scenario: Scenario) -> None:
        try:
            await load(self.app.store, scenario)
            await self.app.store.start_exercise(scenario.name, now=self.app.now())
        except StoreError as error:
            self.say(error.message, "red")
            return
        self.say(f"Started: {scenario.title}. Investigate with the other screens, then come back and press v.")

    def action_check(self) -> None:
        name = self.app.exercise
        if name is None:
            self.say("Start an exercise first (s).", "yellow")
            return
        if not self.app.agents_ready():
            return
        self.say("Checking your fix: 2 inbound and 3 outbound calls, for real ...", "yellow", about=name)
        self.app.run_worker(self._check(name), name="exercise check", group="checklist", exit_on_error=False)

    async def _check(self, name: str) -> None:
        scenario = self.scenarios[name]
        lab = self.lab
        try:
            if not await lab.wait_until_idle(2.0):
                self.say("Waiting for calls the firewall broke to time out (up to 32 s) ...", "yellow", about=name)
                await lab.wait_until_idle(40.0)
            items, calls = await lab.run_checklist()
        except LabError as error:
            self.say(f"The check could not run: {error}", "red", about=name)
            return
        outcome = judge(items, calls, lab.account)
        await self.app.store.record_check(name, passed=outcome.passed, checklist=outcome.checklist,
                                          ladder=outcome.ladder, now=self.app.now())
        if outcome.passed:
            self.say(f"Fixed! {scenario.lesson}", "bold green", about=name)
        else:
            self.say(not_yet(outcome.checklist), "yellow", about=name)

    async def action_hint(self) -> None:
        scenario = self.selected
        progress = self.progress.get(scenario.name)
        choice = hint_for(scenario, progress)
        if choice.text is None:
            self.say(choice.why_none, "yellow")
            return
        try:
            progress = await self.app.store.give_hint(scenario.name, choice.text)
        except StoreError as error:
            self.say(error.message, "red")
            return
        self.say(f"Hint {progress.hints_shown} below; the failing items now show their fix.")

    async def action_report(self) -> None:
        scenario = self.selected
        progress = self.progress.get(scenario.name)
        if progress is None:
            self.say("Nothing to report yet: start this exercise first (s).", "yellow")
            return
        folder = self.app.exports_folder()
        path = folder / f"exercise-{scenario.name}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(report_markdown(scenario, progress, self.lab.account))
        except OSError as error:
            self.say(f"Could not write the report: {error}", "red")
            return
        self.say(f"Report written: {path}")
