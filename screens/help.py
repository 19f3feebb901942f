"""`?`: every key of the screen on top, with what it does, whatever the footer has room for."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
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
    """The keys that act on `screen`: its own, then the app's, as declared. (A focused
    widget's own keys, such as a list's arrows, are left out: they do what the widget shows;
    where one takes a screen's key, enter on a table for instance, it does the screen's job.)"""
    found: list[KeyHelp] = []
    taken = {key for key, bindings in app._bindings.key_to_bindings.items() if any(b.priority for b in bindings)}
    for scope, node in (("screen", screen), ("app", app)):
        for key, bindings in node._bindings.key_to_bindings.items():
            if node is screen and key in taken:  # the app's priority key wins (ctrl+c quits)
                continue
            for binding in bindings:
                if binding.description and app._check_action_state(binding.action, node) is not False:
                    found.append(KeyHelp(app.get_key_display(binding), binding.description, scope))
    return found


def help_text(title: str, purpose: str, keys: list[KeyHelp]) -> Group:
    """The screen's title and purpose, then its keys and the app's, two to a row (it fits 80x24)."""
    parts: list = [Text(title, style="bold"), Text(purpose, style="grey62")]
    for scope, heading in (("screen", "On this screen"), ("app", "Everywhere")):
        table = Table.grid(padding=(0, 1))
        for _ in range(2):
            table.add_column(justify="right", style="bold", min_width=9)
            table.add_column(min_width=24)
        found = [k for k in keys if k.scope == scope]
        half = (len(found) + 1) // 2
        for left, right in zip(found[:half], [*found[half:], None]):
            table.add_row(left.key, left.description, *((right.key, right.description) if right else ("", "")))
        parts += [Text(f"\n{heading}", style="bold underline"), table]
    return Group(*parts)


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
