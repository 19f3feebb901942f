"""What every lab screen shares: the header, the agents' status bar, the footer, and how a
screen stays true to the lab (sip/lab.py owns the state; screens show it).

A screen shows what `self.lab` holds. It draws everything in `refresh_view()` (on mount, when
it comes back on top, when the account changes) and, where it is worth it, reacts to finer
engine messages with `@on(messages.X)` handlers of its own.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from sip.lab import Lab

from . import messages
from .widgets.status_bar import AgentStatusBar


class LabScreen(Screen):
    BINDINGS = [("escape", "app.open('dashboard')", "Back")]

    @property
    def lab(self) -> Lab:
        return self.app.lab

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield from self.compose_body()
        yield AgentStatusBar(self.lab.agent_states)
        yield Footer()

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
