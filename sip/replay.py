"""Replaying a recorded lab session instead of running agents.

A recording (tests/fixtures/record_events.py writes them) is one JSON object a line,
{"source", "address", "event"}: what the agents said, as it came off their wire ("source" is
the agent's name), and where the lab opened its calls ("source": "lab", "event": {"ev":
"placed", "ref", "t", and the call's details}). `RecordedSupervisor` stands in for the
process supervisor: it reports every agent up and configured, then opens the recorded calls in
the lab and hands it the agents' events as if the agents had sent them, so the real call book,
ladder and checklist run on them. This is how the console's snapshot tests show calls without
a live pjsua2 call, and how a trainer can show a demo with no agents at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .supervisor import AgentSpec

if TYPE_CHECKING:
    from .lab import Lab

PLACED_FIELDS = ("direction", "to_number", "from_number", "gateway", "requested_auth", "practice", "caller_agent")


def load_recording(path: str | Path, *, ref_prefix: str = "") -> list[dict]:
    """The records of a recording; ref_prefix renames its call refs so that several
    recordings can be replayed into one lab (each recording numbers its calls from c1)."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if ref_prefix:
        for record in records:
            if record["event"].get("ref"):
                record["event"]["ref"] = ref_prefix + record["event"]["ref"]
    return records


def placed_record(call) -> dict:
    """The recording's line for a call the lab opened (the inverse of what replay does with it)."""
    details = {name: getattr(call, name) for name in PLACED_FIELDS if getattr(call, name)}
    return {"source": "lab", "address": "", "event": {"ev": "placed", "t": call.started_at, "ref": call.ref, **details}}


class RecordedSupervisor:
    def __init__(self, lab: Lab, specs: list[AgentSpec], recording: list[dict]) -> None:
        self._lab = lab
        self._names = [spec.name for spec in specs]
        self._recording = recording
        self.sent: list[tuple[str, dict]] = []  # what the lab asked the (absent) agents to do
        self.states = {name: "down" for name in self._names}

    def pid(self, name: str) -> int | None:
        return None

    async def start(self) -> None:
        lab = self._lab
        for name in self._names:
            self.states[name] = "up"
            lab.on_agent_event(name, {"ev": "agent", "state": "up", "t": 0.0})
            lab.on_agent_event(name, {"ev": "ready", "t": 0.0})
            await lab.configure_agent(name)
            lab.on_agent_event(name, {"ev": "configured", "t": 0.0})
        for record in self._recording:
            source, event = record["source"], record["event"]
            if source == "lab" and event.get("ev") == "placed":
                details = {k: event[k] for k in PLACED_FIELDS if k in event}
                lab.open_call(event["ref"], started_at=float(event["t"]), **details)
            elif source in self.states:  # the lab's own announcements are recomputed, not replayed
                lab.on_agent_event(source, event)

    async def send(self, name: str, command: dict) -> bool:
        self.sent.append((name, command))
        return True

    async def stop(self) -> None:
        for name in self._names:
            self.states[name] = "down"


def recorded_supervisor_factory(recording: list[dict]):
    """A Lab supervisor_factory that replays `recording`."""
    return lambda lab, specs: RecordedSupervisor(lab, specs, recording)
