"""What an agent reports, typed (pure): its JSON lines parsed once, at the lab's door.

The agents and the lab are separate processes that speak JSON lines (sip/agent/runtime.py
writes them, sip/supervisor.py reads them): that is a wire protocol and stays one. Past the
supervisor nothing handles a dict: `parse_report` turns each line's object into one of the
dataclasses below, and a line that makes no sense becomes an `AgentProblem` that says so,
never an exception (an agent's bug must not stop the lab).

A new kind of report is one dataclass here plus its entry in `_PARSERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AgentReport:
    """Something one agent said; t is when (Unix time, the agent's clock = ours)."""

    t: float


@dataclass(frozen=True)
class SipSeen(AgentReport):
    """A SIP message the agent sent ('tx') or received ('rx'); remote is the far ip:port, local
    ours when the agent knows it (the gateway's edge does; pjsua's log names only the far end)."""

    direction: str
    remote: str
    text: str
    local: str = ""


@dataclass(frozen=True)
class CallState(AgentReport):
    """A leg of this agent changed state: 'calling', 'early', 'confirmed', 'disconnected'...
    ref names the lab call the leg belongs to (only on the caller's leg)."""

    sip_call_id: str
    state: str
    ref: str | None = None
    code: int | None = None
    reason: str = ""
    setup_ms: float | None = None


@dataclass(frozen=True)
class GatewayDecision(AgentReport):
    """What a System Gateway decided about an INVITE, and why. status None = accepted."""

    sip_call_id: str
    cause: str
    src: str = ""
    direction: str = ""  # 'inbound' | 'outbound' ('' when refused before it was known)
    status: int | None = None
    reason: str = ""
    auth: str = ""  # 'ip' | 'proxy' | 'header' | 'challenge' (a 407)
    endpoint_sid: str = ""
    dialled: str = ""

    @property
    def refused(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class BridgeOpened(AgentReport):
    """The gateway placed B leg `b` for A leg `a`, towards target (ip:port)."""

    a: str
    b: str
    target: str = ""


@dataclass(frozen=True)
class BLegTimedOut(AgentReport):
    """Nobody answered B leg `b` in after_s: the gateway cancelled it (and tries the next)."""

    a: str
    b: str
    after_s: float


@dataclass(frozen=True)
class DtmfDigits(AgentReport):
    """RFC 4733 digits this agent sent ('tx') or received ('rx') on a leg."""

    sip_call_id: str
    direction: str
    digits: str
    ref: str | None = None


@dataclass(frozen=True)
class HoldChanged(AgentReport):
    """A leg's media status changed by a re-INVITE: 'active', 'local_hold', 'remote_hold'..."""

    sip_call_id: str
    status: str
    previous: str = ""
    ref: str | None = None


@dataclass(frozen=True)
class CallerSeen(AgentReport):
    """An INVITE reached an end party: the caller ID it carried (From and P-Asserted-Identity)."""

    sip_call_id: str
    caller: str = ""
    asserted: str = ""
    src: str = ""


@dataclass(frozen=True)
class RtpCounters:
    pkt: int = 0
    bytes: int = 0
    loss: int = 0
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class ToneVerdict:
    """Whether the far end's test tone was heard (sip/tone.py, run inside the agent)."""

    hz: float
    present: bool
    level_dbfs: float | None = None
    ratio: float | None = None


@dataclass(frozen=True)
class MediaFigures(AgentReport):
    """The RTP figures of one leg at one agent (sent every second, and once more at its end)."""

    sip_call_id: str
    ref: str | None = None
    codec: str = ""
    local_rtp: str = ""  # ip:port
    remote_rtp: str = ""
    rx: RtpCounters = field(default_factory=RtpCounters)
    tx: RtpCounters = field(default_factory=RtpCounters)
    level_rx: int = 0  # 0..255, what this end hears from the far end
    level_tx: int = 0
    tone: ToneVerdict | None = None  # end parties only (the gateway relays, it does not listen)
    final: bool = False
    dtmf_tx: str = ""  # the leg's RFC 4733 digits so far, sent and received
    dtmf_rx: str = ""
    media_status: str = ""  # 'active', 'local_hold', 'remote_hold' ...


@dataclass(frozen=True)
class Ready(AgentReport):
    """The agent bound its addresses and waits for commands (it must be configured now)."""

    role: str = ""


@dataclass(frozen=True)
class Configured(AgentReport):
    """The agent applied its configuration: the gateway its account, the PBX its firewall."""


@dataclass(frozen=True)
class TrunkApplied(AgentReport):
    """The PBX applied its trunk settings; source_port is the port it really sends from."""

    source_port: int | None = None
    codecs: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnsweringSet(AgentReport):
    """An end party took how it answers calls from now on (ring_s, or early media first)."""

    ring_s: float = 0.0
    early_media_s: float = 0.0


@dataclass(frozen=True)
class Pong(AgentReport):
    free_slots: int = 0  # pjsua call slots free at the agent (one held for an abandoned INVITE is not)
    calls: int = 0  # calls in progress at the agent (a leg hung up is none, even while it holds a slot)


@dataclass(frozen=True)
class AgentProblem(AgentReport):
    """An agent refused a command or hit an error it survived (or sent a line we cannot read)."""

    message: str


@dataclass(frozen=True)
class Fatal(AgentReport):
    """The agent could not start (its address is taken, ...): it exits after this."""

    message: str


@dataclass(frozen=True)
class ProcessState(AgentReport):
    """The supervisor's word on the agent's process: 'starting', 'up', 'crashed', 'restarting',
    'down'. On a crash: how it ended and when it comes back."""

    state: str
    restarts: int = 0
    reason: str = ""
    last_words: str = ""
    restart_in_s: float | None = None


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _counters(value: object) -> RtpCounters:
    data = value if isinstance(value, dict) else {}
    return RtpCounters(_int(data.get("pkt")) or 0, _int(data.get("bytes")) or 0, _int(data.get("loss")) or 0,
                       _float(data.get("jitter_ms")) or 0.0)


def _tone(value: object) -> ToneVerdict | None:
    if not isinstance(value, dict):
        return None
    return ToneVerdict(_float(value.get("hz")) or 0.0, bool(value.get("present")),
                       _float(value.get("level_dbfs")), _float(value.get("ratio")))


def _required(e: dict, key: str) -> str:
    value = e[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    return value


def _sip(t: float, e: dict) -> AgentReport:
    direction = _required(e, "dir")
    if direction not in ("tx", "rx"):
        raise ValueError(f"dir is {direction[:10]!r}, not tx or rx")
    return SipSeen(t, direction, _required(e, "remote"), _required(e, "text"), _text(e.get("local")))


def _call(t: float, e: dict) -> AgentReport:
    return CallState(t, _text(e.get("sip_call_id")), _required(e, "state"), e.get("ref") or None, _int(e.get("code")),
                     _text(e.get("reason")), _float(e.get("setup_ms")))


def _decision(t: float, e: dict) -> AgentReport:
    return GatewayDecision(t, _text(e.get("sip_call_id")), _text(e.get("cause")), _text(e.get("src")),
                           _text(e.get("direction")), _int(e.get("status")), _text(e.get("reason")),
                           _text(e.get("auth")), _text(e.get("endpoint_sid")), _text(e.get("dialled")))


def _media(t: float, e: dict) -> AgentReport:
    return MediaFigures(t, _text(e.get("sip_call_id")), e.get("ref") or None, _text(e.get("codec")),
                        _text(e.get("local_rtp")), _text(e.get("remote_rtp")), _counters(e.get("rx")),
                        _counters(e.get("tx")), _int(e.get("level_rx")) or 0, _int(e.get("level_tx")) or 0,
                        _tone(e.get("tone")), bool(e.get("final")), _text(e.get("dtmf_tx")),
                        _text(e.get("dtmf_rx")), _text(e.get("media_status")))


def _process(t: float, e: dict) -> AgentReport:
    return ProcessState(t, _required(e, "state"), _int(e.get("restarts")) or 0, _text(e.get("reason")),
                        _text(e.get("last_words")), _float(e.get("restart_in_s")))


_PARSERS: dict[str, Callable[[float, dict], AgentReport]] = {
    "sip": _sip,
    "call": _call,
    "decision": _decision,
    "bridge": lambda t, e: BridgeOpened(t, _required(e, "a"), _required(e, "b"), _text(e.get("target"))),
    "b_timeout": lambda t, e: BLegTimedOut(t, _required(e, "a"), _required(e, "b"), _float(e.get("after_s")) or 0.0),
    "media": _media,
    "dtmf": lambda t, e: DtmfDigits(t, _required(e, "sip_call_id"), _text(e.get("dir")) or "rx",
                                    _text(e.get("digits")), e.get("ref") or None),
    "hold": lambda t, e: HoldChanged(t, _required(e, "sip_call_id"), _text(e.get("status")),
                                     _text(e.get("previous")), e.get("ref") or None),
    "incoming": lambda t, e: CallerSeen(t, _required(e, "sip_call_id"), _text(e.get("caller")),
                                        _text(e.get("asserted")), _text(e.get("src"))),
    "ready": lambda t, e: Ready(t, _text(e.get("role"))),
    "configured": lambda t, e: Configured(t),
    "firewall": lambda t, e: Configured(t),  # the PBX's answer to its firewall rules
    "trunk": lambda t, e: TrunkApplied(t, _int(e.get("source_port")) or None, tuple(e.get("codecs") or ())),
    "answering": lambda t, e: AnsweringSet(t, _float(e.get("ring_s")) or 0.0, _float(e.get("early_media_s")) or 0.0),
    "pong": lambda t, e: Pong(t, _int(e.get("free_slots")) or 0, _int(e.get("calls")) or 0),
    "error": lambda t, e: AgentProblem(t, _text(e.get("message"))),
    "fatal": lambda t, e: Fatal(t, _text(e.get("message"))),
    "agent": _process,
}
IGNORED = frozenset({"bridged", "bye"})  # said for the log; nothing in the lab depends on them


def parse_report(event: object) -> AgentReport | None:
    """One agent event (a JSON line's object) as its typed report; None for the kinds the lab
    does not use; an AgentProblem for a line that is not what its kind promises."""
    if not isinstance(event, dict):
        return AgentProblem(0.0, f"an agent event that is not an object: {str(event)[:40]!r}")
    t = _float(event.get("t")) or 0.0
    kind = event.get("ev")
    if not isinstance(kind, str):
        return AgentProblem(t, f"an agent event without a kind: {str(kind)[:40]!r}")
    parser = _PARSERS.get(kind)
    if parser is None:
        return None if kind in IGNORED else AgentProblem(t, f"unknown agent event {kind[:40]!r}")
    try:
        return parser(t, event)
    except (KeyError, TypeError, ValueError) as error:
        return AgentProblem(t, f"unreadable {kind!r} event ({type(error).__name__}: {error})")
