"""Messages the console passes around (dataclasses, as Textual messages)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EngineEvent(Message):
    """Something the lab reported: an agent's event or one of the lab's own (source 'lab')."""

    source: str
    event: dict


@dataclass
class AccountChanged(Message):
    """The store committed a change; screens re-read what they show."""
