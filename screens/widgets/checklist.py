"""The seed's Verification Checklist, ticked from what calls actually did."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from sip.checklist import ChecklistItem

MARKS = {"pass": ("✔", "green"), "fail": ("✘", "red"), "unknown": ("·", "grey50"), "running": ("…", "yellow")}
# Exercises chooses a hint for what its own check found: that check first, then the hint.
NO_FIX_YET = "on Exercises (w): check your fix (v), then ask for a hint (h)"


def checklist_table(items: list[ChecklistItem], *, show_fix: bool = True, no_fix: str = NO_FIX_YET) -> Table:
    """One row per item: its mark, then its title and what explains it, wrapped under the title.

    Every item says what its calls did (the symptom: "via 127.0.0.2:5060: 408 Request
    Timeout, via 127.0.0.3:5060: ok"); a failing one then its cause and its fix. show_fix=False
    is trainee mode (an exercise under way, no hint asked for yet): `no_fix` in place of the fix,
    which would give the exercise away. (The symptom of a failing item used to go once a hint
    was asked for, though hints point at it: "through both gateway addresses, or only one?")"""
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1)
    table.add_column(ratio=1)
    for item in items:
        mark, style = MARKS[item.status]
        text = Text(item.title, style="bold" if item.status in ("pass", "fail") else "")
        if item.detail:
            text.append(f"\n{item.detail}", style="grey62")
        if item.status == "fail":
            text.append(f"\ncause: {item.cause}", style="red")
            text.append(f"\nfix:   {item.fix if show_fix else no_fix}", style="yellow" if show_fix else "grey50")
        table.add_row(Text(mark, style=f"bold {style}"), text)
    return table


class ChecklistView(Static):
    DEFAULT_CSS = """
    ChecklistView { padding: 0 1; }
    """

    def show(self, items: list[ChecklistItem], *, show_fix: bool = True) -> None:
        self.update(checklist_table(items, show_fix=show_fix))
