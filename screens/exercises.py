"""Workshop mode: the scenario library as exercises, with this lab's trainee's progress.

Start an exercise (the scenario's broken trunk replaces the account), investigate with the
normal screens, come back and "Check my fix" (v): the Verification Checklist runs for real, and
either the exercise is solved or the next hint appears. Progress lives in the store; the lab
reads it (whoever wrote it: this console, or `scenario load` on the command line) and this
screen shows what the lab has.
"""

from __future__ import annotations

import time

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

from sip.exercise import judge, next_hint, report_markdown, status_word
from sip.lab import LabError
from store import StoreError
from store.records import ExerciseProgress
from store.scenario import Scenario, library, load

from . import messages
from .base import LabScreen

MARKS = {"not started": "  ", "solved": "✓ "}


def detail_text(scenario: Scenario, progress: ExerciseProgress | None, running: bool) -> Text | Group:
    text = Text()
    text.append(scenario.title + "\n", style="bold")
    text.append(status_word(progress, len(scenario.hints)) + ("   (the lab runs this one)" if running else "") + "\n\n",
                style="grey62")
    text.append(scenario.story + "\n\n")
    text.append("Symptom  ", style="bold")
    text.append(scenario.symptom + "\n")
    text.append("Fixed when  ", style="bold")
    text.append(scenario.fixed_when + "\n")
    if progress is None:
        text.append("\n[s] start: the account is reset, then broken this way", style="grey62")
        return text
    if progress.solved:
        text.append("\nFixed: all four checklist items pass. Well done.\n", style="bold green")
        text.append("Lesson  ", style="bold")
        text.append(scenario.lesson + "\n")
    for number, hint in enumerate(scenario.hints[:progress.hints_shown], 1):
        text.append(f"\nHint {number}  ", style="bold yellow")
        text.append(hint)
    if not progress.checklist:
        text.append("\n\n[v] check my fix   [s] start over", style="grey62")
        return text
    text.append(f"\n\nLast check ({progress.checks} so far)", style="bold")
    items = Table.grid(padding=(0, 1))
    items.add_column(width=3, justify="right")
    items.add_column(ratio=1)
    for title, status, cause, _fix in progress.checklist:
        mark, style = {"pass": ("✓", "green"), "fail": ("✗", "red")}.get(status, ("?", "grey62"))
        line = Text(title)
        if cause and status == "fail":
            line.append(f"\n{cause}", style="grey62")  # wrapped under the title, not under the mark
        items.add_row(Text(mark, style=style), line)
    footer = Text("" if progress.solved else "\n[v] check my fix   [s] start over", style="grey62")
    return Group(text, items, footer)


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


class ExercisesScreen(LabScreen):
    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("v", "check", "Check my fix"),  # not c: c is Calls on every screen
        Binding("r", "report", "Report"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scenarios = library()

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="exercise-list-box"):
                yield Static("EXERCISES", classes="title")
                yield OptionList(id="exercise-list")
            with VerticalScroll(id="exercise-box"):
                yield Static(id="exercise")

    @property
    def progress(self) -> dict[str, ExerciseProgress]:
        return self.lab.progress

    def on_mount(self) -> None:
        latest = list(self.progress)[-1] if self.progress else None  # progress comes in start order
        current = self.app.exercise or latest
        names = [s.name for s in self.scenarios]
        option_list = self.query_one(OptionList)
        self.refresh_view()
        option_list.highlighted = names.index(current) if current in names else 0
        option_list.focus()

    def refresh_view(self) -> None:
        option_list = self.query_one(OptionList)
        keep = option_list.highlighted
        option_list.clear_options()
        for scenario in self.scenarios:
            word = status_word(self.progress.get(scenario.name), len(scenario.hints))
            mark = MARKS.get(word, "… ")
            option_list.add_option(Option(Text(f"{mark}{scenario.name}"), id=scenario.name))
        option_list.highlighted = keep if keep is not None else 0
        self.show_selected()

    @on(messages.ProgressChanged)
    def _progress_changed(self) -> None:
        self.refresh_view()

    @property
    def selected(self) -> Scenario:
        index = self.query_one(OptionList).highlighted or 0
        return self.scenarios[index]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
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
            self.notify("A check is running: start the next exercise when it is done", severity="warning")
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
            self.notify(error.message, severity="error", markup=False)
            return
        self.notify(f"Loaded: {scenario.title}. Investigate with the other screens, then come back and press v.")

    def action_check(self) -> None:
        name = self.app.exercise
        if name is None:
            self.notify("Start an exercise first (s)", severity="warning")
            return
        if self.progress.get(name) is not None and self.progress[name].solved:
            self.notify("This exercise is solved: start another one (s)")
            return
        if not self.app.agents_ready():
            return
        self.notify("Checking your fix: 2 inbound and 3 outbound calls, for real ...")
        self.app.run_worker(self._check(name), name="exercise check", group="checklist", exit_on_error=False)

    async def _check(self, name: str) -> None:
        scenario = next(s for s in self.scenarios if s.name == name)
        lab = self.lab
        try:
            if not await lab.wait_until_idle(2.0):
                self.notify("Waiting for calls the firewall broke to time out (up to 32 s) ...")
                await lab.wait_until_idle(40.0)
            items, calls = await lab.run_checklist()
        except LabError as error:
            self.notify(f"The check could not run: {error}", severity="error", markup=False)
            return
        outcome = judge(items, calls, lab.account)
        progress = await self.app.store.record_check(
            name, passed=outcome.passed, checklist=outcome.checklist, ladder=outcome.ladder,
            now=self.app.now(), max_hints=len(scenario.hints))
        if outcome.passed:
            self.notify(f"Fixed! {scenario.lesson}", timeout=15)
        else:
            self.notify(f"Not yet. Hint {progress.hints_shown}: {next_hint(scenario, progress)}",
                        severity="warning", timeout=15, markup=False)

    async def action_report(self) -> None:
        scenario = self.selected
        progress = self.progress.get(scenario.name)
        if progress is None:
            self.notify("Nothing to report yet: start this exercise first (s)", severity="warning")
            return
        folder = self.app.exports_folder()
        path = folder / f"exercise-{scenario.name}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(report_markdown(scenario, progress))
        except OSError as error:
            self.notify(f"Could not write the report: {error}", severity="error", markup=False)
            return
        self.notify(f"Report written: {path}", markup=False, timeout=10)
