"""What the lab tells its listeners (the console, `serve`, tests): one dataclass per kind (pure).

The lab (sip/lab.py) is the one owner of what a screen shows: the account, the exercise
progress, the calls, the checklist, the agents' states. Whenever one of these changes it
publishes one of the events below to every listener, in the order things happened. An event
says what changed and carries the new value or the key to it (a call's `ref` into
`lab.book.calls`); a listener reads the rest from the lab. Nothing here knows about Textual:
the console wraps each kind in a Textual message of its own (screens/messages.py).

A new kind is one dataclass here (a subclass of EngineEvent) plus its handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from store.records import Account, ExerciseProgress, SipMessageRecord

from .calls import Drop
from .checklist import ChecklistItem
from .lesson import Lesson
from .wire import GatewayDecision, MediaFigures


@dataclass(frozen=True)
class EngineEvent:
    """Something the lab reports. Subclasses are the kinds; see ENGINE_EVENTS."""


@dataclass(frozen=True)
class EngineStarted(EngineEvent):
    """Every agent is up and configured: calls can be placed."""


@dataclass(frozen=True)
class EngineFailed(EngineEvent):
    """The agents could not start; the console stays usable for editing the account."""

    reason: str


@dataclass(frozen=True)
class AgentStateChanged(EngineEvent):
    """An agent's process is 'starting', 'up', 'crashed', 'restarting' or 'down'."""

    agent: str  # "gateway 127.0.0.2", "pstn", "pbx"
    state: str
    detail: str = ""  # on a crash: how it ended and when it comes back
    last_words: str = ""  # on a crash: the last line it wrote to stderr


@dataclass(frozen=True)
class AgentConfigured(EngineEvent):
    """An agent applied the configuration the lab sent it (the gateway its account, the PBX its
    firewall rules): a change is live at that agent from now on."""

    agent: str


@dataclass(frozen=True)
class AgentError(EngineEvent):
    """An agent refused a command or hit an error it survived (a PBX source port in use, ...)."""

    agent: str
    message: str


@dataclass(frozen=True)
class CallChanged(EngineEvent):
    """A call was opened, rang, was answered, ended or failed, or learned a leg or a note."""

    ref: str


@dataclass(frozen=True)
class SipCaptured(EngineEvent):
    """A SIP message of call `ref` crossed the lab (or was dropped by the PBX firewall)."""

    ref: str
    message: SipMessageRecord


@dataclass(frozen=True)
class MediaChanged(EngineEvent):
    """New RTP figures of one leg of call `ref`, as `agent` measured them."""

    ref: str
    agent: str
    figures: MediaFigures


@dataclass(frozen=True)
class GatewayDecided(EngineEvent):
    """A System Gateway decided about an INVITE of call `ref` (accepted, challenged, refused)."""

    ref: str
    agent: str
    decision: GatewayDecision


@dataclass(frozen=True)
class FirewallDropped(EngineEvent):
    """The PBX firewall dropped a SIP message, or (so far) this many RTP packets of a stream."""

    drop: Drop


@dataclass(frozen=True)
class ChecklistChanged(EngineEvent):
    """The Verification Checklist has new results, or started running (items all 'running')."""

    items: tuple[ChecklistItem, ...]
    running: bool


@dataclass(frozen=True)
class AccountChanged(EngineEvent):
    """The account changed, by whichever process wrote it; the agents already have it."""

    account: Account


@dataclass(frozen=True)
class ProgressChanged(EngineEvent):
    """Exercise progress changed (started, checked, solved), by whichever process wrote it.
    exercise: the one running now (started last and not solved), if any."""

    progress: Mapping[str, ExerciseProgress]
    exercise: str | None


@dataclass(frozen=True)
class LessonChanged(EngineEvent):
    """The guided lesson changed: a step ticked or unticked, or what it still needs changed (the
    account, a call or the checklist moved it)."""

    lesson: Lesson


@dataclass(frozen=True)
class PbxTrunkApplied(EngineEvent):
    """The PBX agent applied its trunk settings; source_port is where it really sends from."""

    source_port: int | None


def _kinds(base: type) -> list[type]:
    return [k for sub in base.__subclasses__() for k in (sub, *_kinds(sub))]


ENGINE_EVENTS: tuple[type[EngineEvent], ...] = tuple(_kinds(EngineEvent))
