"""The seed's Verification Checklist, ticked from what calls actually did."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from sip.checklist import ChecklistItem

MARKS = {"pass": ("✔", "green"), "fail": ("✘", "red"), "unknown": ("·", "grey50"), "running": ("…", "yellow")}


class ChecklistView(Static):
    DEFAULT_CSS = """
    ChecklistView { padding: 0 1; }
    """

    def show(self, items: list[ChecklistItem]) -> None:
        text = Text()
        for item in items:
            mark, style = MARKS[item.status]
            text.append(f" {mark} ", style=f"bold {style}")
            text.append(item.title + "\n", style="bold" if item.status in ("pass", "fail") else "")
            if item.status == "fail":
                text.append(f"     cause: {item.cause}\n", style="red")
                text.append(f"     fix:   {item.fix}\n", style="yellow")
            elif item.detail:
                text.append(f"     {item.detail}\n", style="grey62")
        self.update(text)
