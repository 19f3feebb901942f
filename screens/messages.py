"""Messages the console passes around (dataclasses, as Textual messages)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EngineEvent(Message, bubble=False):
    """Something the lab reported: an agent's event or one of the lab's own (source 'lab').
    The app hands it on to the current screen; it must not bubble back to the app."""

    source: str
    event: dict


@dataclass
class AccountChanged(Message, bubble=False):
    """The store committed a change; screens re-read what they show."""
