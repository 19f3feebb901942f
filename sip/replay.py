"""Replaying a recorded lab session instead of running agents.

A recording is what a lab's listeners heard (tests/fixtures/record_events.py writes them): one
JSON object a line, {"source", "address", "event"}. `RecordedSupervisor` stands in for the
process supervisor: it reports every agent up and configured, then hands the recorded events to
the lab as if the agents had sent them, so the real call book, ladder and checklist run on
them. This is how the console's snapshot tests show calls without a live pjsua2 call, and how a
trainer can show a demo with no agents at all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from .supervisor import AgentSpec


def load_recording(path: str | Path, *, ref_prefix: str = "") -> list[dict]:
    """The records of a recording; ref_prefix renames its call refs so that several
    recordings can be replayed into one lab (each recording numbers its calls from c1)."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if ref_prefix:
        for record in records:
            if record["event"].get("ref"):
                record["event"]["ref"] = ref_prefix + record["event"]["ref"]
    return records


class RecordedSupervisor:
    def __init__(
        self,
        specs: list[AgentSpec],
        on_event: Callable[[str, dict], None],
        on_up: Callable[[str], Awaitable[None]] | None,
        recording: list[dict],
    ) -> None:
        self._names = [spec.name for spec in specs]
        self._on_event = on_event
        self._on_up = on_up
        self._recording = recording
        self.sent: list[tuple[str, dict]] = []  # what the lab asked the (absent) agents to do
        self.states = {name: "down" for name in self._names}

    def pid(self, name: str) -> int | None:
        return None

    async def start(self) -> None:
        for name in self._names:
            self.states[name] = "up"
            self._on_event(name, {"ev": "agent", "state": "up", "t": 0.0})
            self._on_event(name, {"ev": "ready", "t": 0.0})
            if self._on_up is not None:
                await self._on_up(name)
            self._on_event(name, {"ev": "configured", "t": 0.0})
        for record in self._recording:
            if record["event"].get("ev") != "drop":  # drops are recomputed from the account's rules
                self._on_event(record["source"], record["event"])

    async def send(self, name: str, command: dict) -> bool:
        self.sent.append((name, command))
        return True

    async def stop(self) -> None:
        for name in self._names:
            self.states[name] = "down"


def recorded_supervisor_factory(recording: list[dict]):
    """A Lab supervisor_factory that replays `recording`."""
    return lambda specs, on_event, on_up: RecordedSupervisor(specs, on_event, on_up, recording)
