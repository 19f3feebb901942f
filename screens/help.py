"""`?`: every key of the screen on top, with what it does, whatever the footer has room for."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


@dataclass(frozen=True)
class KeyHelp:
    key: str  # as the footer writes it: "ctrl+q", "?", "delete"
    description: str
    scope: str  # 'screen' | 'app'


def keys_of(app: App, screen: Screen) -> list[KeyHelp]:
    """The keys that act on `screen` now: its own, then the app's (a focused widget's own
    keys, such as a list's arrows, are left out: they do what the widget shows)."""
    found: list[KeyHelp] = []
    for active in screen.active_bindings.values():
        binding = active.binding
        if active.node is screen:
            scope = "screen"
        elif active.node is app:
            scope = "app"
        else:
            continue
        if binding.description:
            found.append(KeyHelp(app.get_key_display(binding), binding.description, scope))
    return found


def help_text(title: str, purpose: str, keys: list[KeyHelp]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold", min_width=8)
    table.add_column()
    table.add_row("", Text(title, style="bold"))
    table.add_row("", Text(purpose, style="grey62"))
    for scope, heading in (("screen", "On this screen"), ("app", "Everywhere")):
        table.add_row("", "")
        table.add_row("", Text(heading, style="bold underline"))
        for key in (k for k in keys if k.scope == scope):
            table.add_row(key.key, key.description)
    return table


class HelpScreen(ModalScreen[None]):
    """The keys of the screen beneath, grouped: this screen's own, then the app's."""

    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("question_mark", "dismiss", "Close", show=False)]

    def __init__(self, title: str, purpose: str, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.content = help_text(title, purpose, keys)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self.content)
            yield Static(Text("esc closes this help", style="grey62"))
