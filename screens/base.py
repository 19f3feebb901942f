"""What every lab screen shares: the header, the agents' status bar, the footer, and how a
screen stays true to the lab (sip/lab.py owns the state; screens show it).

A screen shows what `self.lab` holds. It draws everything in `refresh_view()` (on mount, when
it comes back on top, when the account changes) and, where it is worth it, reacts to finer
engine messages with `@on(messages.X)` handlers of its own.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input

from sip.lab import Lab

from . import messages
from .widgets.footer import LabFooter
from .widgets.inputs import FieldErrors
from .widgets.status_bar import AgentStatusBar


class LabScreen(FieldErrors, Screen):
    # esc and ? first in the footer, so ? (which lists every key) is never cut off
    BINDINGS = [("escape", "app.open('dashboard')", "Back"), Binding("question_mark", "app.help", "Help")]

    @property
    def lab(self) -> Lab:
        return self.app.lab

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield from self.compose_body()
        yield AgentStatusBar(self.lab.agent_states)
        yield LabFooter()

    def on_mount(self) -> None:
        self.refresh_view()

    def on_screen_resume(self) -> None:
        """Back on top (another screen or a dialog was): show what changed meanwhile."""
        if self.is_mounted:
            self.query_one(AgentStatusBar).refresh_states(self.lab.agent_states)
            self.refresh_view()

    @on(messages.AgentStateChanged)
    @on(messages.EngineStarted)
    @on(messages.EngineFailed)
    def _agents_changed(self) -> None:
        self.query_one(AgentStatusBar).refresh_states(self.lab.agent_states)

    @on(messages.AccountChanged)
    def _account_changed(self) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        """Screens override: draw what they show from self.lab."""

    def leave_field(self, field: Widget) -> None:
        """esc in a text field: back to the screen's list (the first focusable widget that is
        not a field), or to no focus at all, so the screen's keys work again."""
        selector = self.AUTO_FOCUS if self.AUTO_FOCUS is not None else self.app.AUTO_FOCUS
        if selector:
            for widget in self.query(selector):
                if widget.focusable and not isinstance(widget, Input):
                    widget.focus()
                    return
        self.set_focus(None)
