"""The agents' states at a glance: every System Gateway address, the PSTN and the PBX."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

STYLES = {"up": "green", "starting": "yellow", "restarting": "yellow", "crashed": "red", "down": "red"}


def label(name: str) -> str:
    """'gateway 127.0.0.2' -> 'GW 127.0.0.2', 'pstn' -> 'PSTN'."""
    return name.replace("gateway ", "GW ") if name.startswith("gateway") else name.upper()


class AgentStatusBar(Static):
    DEFAULT_CSS = """
    AgentStatusBar { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, states: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.states: dict[str, str] = dict(states or {})

    def on_mount(self) -> None:
        self.refresh_states(self.states)

    def refresh_states(self, states: dict[str, str]) -> None:
        self.states = dict(states)
        text = Text("agents ")
        for name, state in self.states.items():
            text.append(f" {label(name)} ", style="bold")
            text.append(f"● {state}", style=STYLES.get(state, "white"))
            text.append(" ")
        self.update(text)
