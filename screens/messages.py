"""The lab's events as Textual messages: one message class per kind of sip/events.py.

The console subscribes to the lab once (TrunkLabApp); each event is wrapped in the message of
its kind and posted to the screen on top, from which it bubbles to the app. Screens and the app
react with `@on(messages.CallChanged)` and the like; `message.event` is the typed event.

A new kind of event is its dataclass in sip/events.py, one class here, and its handlers
(tests/console/test_structure.py fails until every kind has its class).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.message import Message

from sip import events

_BY_EVENT: dict[type[events.EngineEvent], type[EngineMessage]] = {}


class EngineMessage(Message):
    """An engine event, as a Textual message. Subclasses name their kind: `event=...`."""

    event_type: ClassVar[type[events.EngineEvent]]

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event

    def __init_subclass__(cls, event: type[events.EngineEvent] | None = None, **options: Any) -> None:
        super().__init_subclass__(**options)
        if event is not None:
            cls.event_type = event
            _BY_EVENT[event] = cls


class EngineStarted(EngineMessage, event=events.EngineStarted):
    """Every agent is up and configured."""


class EngineFailed(EngineMessage, event=events.EngineFailed):
    """The agents could not start."""


class AgentStateChanged(EngineMessage, event=events.AgentStateChanged):
    """An agent is starting, up, crashed, restarting or down."""


class AgentConfigured(EngineMessage, event=events.AgentConfigured):
    """An agent applied its configuration."""


class AgentError(EngineMessage, event=events.AgentError):
    """An agent refused a command, or the lab could not read the database."""


class CallChanged(EngineMessage, event=events.CallChanged):
    """A call opened, rang, was answered, ended or failed."""


class SipCaptured(EngineMessage, event=events.SipCaptured):
    """A SIP message of a call crossed the lab (or the PBX firewall dropped it)."""


class MediaChanged(EngineMessage, event=events.MediaChanged):
    """New RTP figures of one leg."""


class GatewayDecided(EngineMessage, event=events.GatewayDecided):
    """A System Gateway accepted, challenged or refused an INVITE."""


class FirewallDropped(EngineMessage, event=events.FirewallDropped):
    """The PBX firewall dropped a SIP message or RTP."""


class ChecklistChanged(EngineMessage, event=events.ChecklistChanged):
    """The Verification Checklist started running or has new results."""


class AccountChanged(EngineMessage, event=events.AccountChanged):
    """The account changed (this console, the command line or another console wrote it)."""


class ProgressChanged(EngineMessage, event=events.ProgressChanged):
    """Exercise progress changed (started, checked, solved), by any process."""


class LessonChanged(EngineMessage, event=events.LessonChanged):
    """The guided lesson changed (a step ticked, unticked, or needs something else now)."""


class PbxTrunkApplied(EngineMessage, event=events.PbxTrunkApplied):
    """The PBX applied its trunk settings (the port it really sends from)."""


def message_for(event: events.EngineEvent) -> EngineMessage:
    """The Textual message of an engine event's kind."""
    return _BY_EVENT[type(event)](event)


def kinds_without_message() -> list[type[events.EngineEvent]]:
    return [kind for kind in events.ENGINE_EVENTS if kind not in _BY_EVENT]
