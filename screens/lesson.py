"""The guided lesson: the seed page's five sections as steps that tick from the live account,
real calls and the checklist (sip/lesson.py judges them; the lab publishes LessonChanged).

The list shows every step with its tick; below it, the step under the cursor, expanded: what to
do next, what the section teaches, what the step still needs, what to do in the portal and on
the PBX side. The cursor follows the current step (the first not done) until the trainee moves
it to another one to read.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sip.lesson import Lesson, Step

from . import messages
from .base import LabScreen

MARK_DONE, MARK_CURRENT, MARK_TODO = ("✔", "green"), ("▶", "yellow"), ("·", "grey50")


def progress_text(lesson: Lesson) -> Text:
    total = len(lesson.steps)
    text = Text("LESSON  Receive and Place Calls   ", style="bold")
    if lesson.finished:
        text.append(f"{total} of {total} steps done: the trunk works", style="bold green")
    else:
        text.append(f"{lesson.done_count} of {total} steps done", style="bold")
    return text


def step_line(lesson: Lesson, index: int) -> Text:
    step = lesson.steps[index]
    mark, style = MARK_DONE if step.done else MARK_CURRENT if step is lesson.current else MARK_TODO
    text = Text()
    text.append(f"{mark} ", style=f"bold {style}")
    text.append(f"{index + 1}  {step.title}", style="bold" if step is lesson.current else "")
    return text


def step_text(lesson: Lesson, index: int) -> Text:
    """One step, expanded: next action first (it must show at 80x24), then the lesson itself."""
    step = lesson.steps[index]
    text = Text()
    text.append(f"Step {index + 1} of {len(lesson.steps)}: {step.title}", style="bold")
    text.append("   done\n" if step.done else "\n", style="bold green")
    if not step.done:
        text.append("Next: ", style="bold yellow")
        text.append(f"{step.next_action}\n", style="yellow")
    text.append(f"\n{step.about}\n\n")
    _checks(text, step)
    text.append("\nIn the portal  ", style="bold")
    text.append(f"{step.portal}\n")
    text.append("On the PBX     ", style="bold")
    text.append(f"{step.pbx}\n")
    if step.note:
        text.append(f"\n{step.note}\n", style="italic yellow")
    return text


def _checks(text: Text, step: Step) -> None:
    for check in step.checks:
        mark, style = ("✔", "green") if check.ok else ("✘", "red")
        text.append(f"  {mark} ", style=f"bold {style}")
        text.append(f"{check.what}\n")
        if not check.ok and check.todo and check.todo != step.next_action:
            text.append(f"      {check.todo}\n", style="grey62")


class LessonScreen(LabScreen):
    AUTO_FOCUS = "#lesson-steps"

    def compose_body(self) -> ComposeResult:
        yield Static(id="lesson-progress", classes="title")
        yield OptionList(id="lesson-steps")
        with VerticalScroll(id="lesson-step-box"):
            yield Static(id="lesson-step")

    def on_mount(self) -> None:
        self.follow = True  # the cursor follows the current step until the trainee moves it
        super().on_mount()

    @property
    def lesson(self) -> Lesson | None:
        return self.lab.lesson

    def refresh_view(self) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        self.query_one("#lesson-progress", Static).update(progress_text(lesson))
        steps = self.query_one("#lesson-steps", OptionList)
        shown = steps.highlighted
        steps.clear_options()
        steps.add_options([Option(step_line(lesson, i), id=step.key) for i, step in enumerate(lesson.steps)])
        current = lesson.steps.index(lesson.current) if lesson.current is not None else len(lesson.steps) - 1
        index = current if self.follow or shown is None else shown
        steps.highlighted = index
        self.show_step(index)

    def show_step(self, index: int) -> None:
        if self.lesson is not None:
            self.query_one("#lesson-step", Static).update(step_text(self.lesson, index))

    @on(OptionList.OptionHighlighted, "#lesson-steps")
    def _step_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        lesson = self.lesson
        if lesson is None:
            return
        current = lesson.steps.index(lesson.current) if lesson.current is not None else len(lesson.steps) - 1
        self.follow = event.option_index == current
        self.show_step(event.option_index)

    @on(messages.LessonChanged)
    def _lesson_changed(self) -> None:
        self.refresh_view()
