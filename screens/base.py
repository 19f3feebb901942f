"""What every lab screen shares: the header, the agents' status bar, the footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from .messages import AccountChanged, EngineEvent
from .widgets.status_bar import AgentStatusBar


class LabScreen(Screen):
    BINDINGS = [("escape", "app.open('dashboard')", "Back")]

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield from self.compose_body()
        yield AgentStatusBar(self.app.lab.agent_states if self.app.lab else {})
        yield Footer()

    def on_engine_event(self, message: EngineEvent) -> None:
        if message.event.get("ev") in ("agent", "engine") and self.app.lab is not None:
            self.query_one(AgentStatusBar).refresh_states(self.app.lab.agent_states)
        self.engine_event(message.source, message.event)

    def on_account_changed(self, message: AccountChanged) -> None:
        self.refresh_account()

    def on_screen_resume(self) -> None:
        """Back on top (after another screen or a dialog): show what changed meanwhile."""
        if self.is_mounted and self.app.account is not None:
            if self.app.lab is not None:
                self.query_one(AgentStatusBar).refresh_states(self.app.lab.agent_states)
            self.refresh_account()
            self.engine_event("lab", {"ev": "resume"})

    def engine_event(self, source: str, event: dict) -> None:
        """Screens override: react to the lab's events."""

    def refresh_account(self) -> None:
        """Screens override: re-read self.app.account."""
