"""What every agent shares: a registry of live pjsua2 calls and their events."""

from __future__ import annotations

import time
import weakref

import pjsua2 as pj

from .media import LegAudio, stream_figures
from .runtime import CALL_SLOTS, Runtime, pjsua_slots_in_use

STATE_NAMES = {
    pj.PJSIP_INV_STATE_NULL: "null",
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}
MEDIA_STATUS = {
    pj.PJSUA_CALL_MEDIA_NONE: "none",
    pj.PJSUA_CALL_MEDIA_ACTIVE: "active",
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: "local_hold",  # we put the call on hold
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: "remote_hold",  # the far end put us on hold
    pj.PJSUA_CALL_MEDIA_ERROR: "error",
}
MEDIA_PERIOD_S = 0.5  # the UI wants figures at least twice a second
DTMF_DIGITS = set("0123456789*#ABCD")


def add_headers(prm: pj.CallOpParam, headers) -> None:
    """Put (name, value) pairs into a call operation's outgoing message."""
    for name, value in headers:
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        prm.txOption.headers.append(header)


class LegCall(pj.Call):
    """One pjsua2 call (a leg), with what the agent needs to remember about it."""

    def __init__(self, agent: Agent, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID, *,
                 ref: str | None = None) -> None:
        super().__init__(account, call_id)
        self.agent = agent
        self.line = account  # the pjsua account (our line) the call belongs to
        self.ref = ref  # the app's name for a call it asked for
        self.sip_call_id = ""
        self.state = "null"
        self.code = 0
        self.reason = ""
        self.started = time.monotonic()
        self.confirmed_at: float | None = None
        self.audio: LegAudio | None = None
        self.audio_media: pj.AudioMedia | None = None
        self.figures: dict | None = None
        self.ended = False
        self.media_status = "none"  # 'active' | 'local_hold' | 'remote_hold' | 'none'
        self.digits_tx = self.digits_rx = ""  # DTMF sent and received on this leg

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802 - pjsua2's name
        info = self.getInfo()
        self.sip_call_id = info.callIdString
        self.state = STATE_NAMES.get(info.state, str(info.state))
        self.code, self.reason = info.lastStatusCode, info.lastReason
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended = True
        try:
            self.agent.on_call_state(self)
        except Exception as error:  # noqa: BLE001 - nothing may escape into pjsua's callback
            self.agent.emit("error", message=f"on call state: {type(error).__name__}: {error}")
        if self.ended:
            # Drop every reference now, inside the DISCONNECTED callback, while pjsua still
            # owns this slot: pjsua2's Call destructor hangs up "its" slot id, and once this
            # callback returns the slot may go to the next call. Timers hold weak references.
            self.agent.forget(self)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        self.agent.runtime.guard(self._media_state)

    def _media_state(self) -> None:
        info = self.getInfo()  # kept: its media vector lives only as long as it does (SWIG)
        audio = [m for m in info.media if m.type == pj.PJMEDIA_TYPE_AUDIO]
        if not audio:
            return
        status = MEDIA_STATUS.get(audio[0].status, "none")
        if status != self.media_status:
            previous, self.media_status = self.media_status, status
            self.agent.on_media_status(self, status, previous)
        if audio[0].status in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                               pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
            self.audio_media = self.getAudioMedia(audio[0].index)
            if audio[0].status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.agent.on_media_active(self)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802 - pjsua2's name
        """An RFC 4733 telephone-event (or a SIP INFO digit) from the far end."""
        self.agent.runtime.guard(lambda: self.agent.on_dtmf(self, prm.digit))

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:  # noqa: N802 - pjsua2's name
        """A BYE from the far end: the last moment the stream's counters can be read (pjsua
        destroys the stream before it reports DISCONNECTED), so the final figures go now."""
        def on_bye() -> None:
            tsx = prm.e.body.tsxState.tsx
            if tsx.method == "BYE" and tsx.role == pj.PJSIP_ROLE_UAS:
                self.agent.final_media(self)

        if prm.e.type == pj.PJSIP_EVENT_TSX_STATE:
            self.agent.runtime.guard(on_bye)

    def respond(self, code: int, reason: str = "", headers=()) -> None:
        """Answer an incoming call with `code` (180, 200, or a final refusal). answer() is used
        for refusals too: it sends extra headers (a Proxy-Authenticate), hangup() drops them."""
        prm = pj.CallOpParam(True)
        prm.statusCode = code
        if reason:
            prm.reason = reason
        add_headers(prm, headers)
        self.answer(prm)

    def setup_ms(self) -> float | None:
        return None if self.confirmed_at is None else round((self.confirmed_at - self.started) * 1000, 2)


class Agent:
    """Base of the three roles: keeps calls alive until pjsua is done with them."""

    role = "agent"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.emit = runtime.emit
        self.calls: list[LegCall] = []
        runtime.busy = lambda: bool(self.calls)  # a call in any state: poll briskly until it is gone
        runtime.every(MEDIA_PERIOD_S, self.report_media)

    # -- registry

    def track(self, call: LegCall) -> LegCall:
        self.calls.append(call)
        return call

    def forget(self, call: LegCall) -> None:
        """Drop our references to a call whose DISCONNECTED callback is running."""
        if call in self.calls:
            self.calls.remove(call)

    def later_for(self, call: LegCall, delay_s: float, action) -> None:
        """Run action(call) after delay_s if the call still exists (a timer must not keep a
        Call object alive past its slot, see LegCall.onCallState)."""
        weak = weakref.ref(call)

        def fire() -> None:
            target = weak()
            if target is not None and not target.ended:
                action(target)

        self.runtime.later(delay_s, fire)

    def live_calls(self) -> list[LegCall]:
        return [c for c in self.calls if not c.ended]

    def free_slots(self) -> int:
        """Call slots pjsua still has (its own count: see runtime.pjsua_slots_in_use)."""
        return CALL_SLOTS - max(len(self.live_calls()), pjsua_slots_in_use())

    def call_by_ref(self, ref: str) -> LegCall | None:
        return next((c for c in self.live_calls() if c.ref == ref), None)

    # -- events

    def call_event(self, call: LegCall, **extra: object) -> None:
        self.emit(
            "call", ref=call.ref, sip_call_id=call.sip_call_id, state=call.state, code=call.code,
            reason=call.reason, setup_ms=call.setup_ms(), **extra,
        )

    def on_call_state(self, call: LegCall) -> None:
        self.call_event(call)

    def on_media_active(self, call: LegCall) -> None:
        """End parties attach their tone here; the gateway bridges."""

    def on_media_status(self, call: LegCall, status: str, previous: str) -> None:
        """Media went active, on hold (ours or the far end's), or away: reported for the ladder."""
        self.emit("hold", ref=call.ref, sip_call_id=call.sip_call_id, status=status, previous=previous)

    def on_dtmf(self, call: LegCall, digit: str) -> None:
        call.digits_rx += digit
        self.emit("dtmf", ref=call.ref, sip_call_id=call.sip_call_id, dir="rx", digits=digit)

    def send_dtmf(self, call: LegCall, digits: str) -> None:
        """Digits as RFC 4733 telephone-events on the call's audio stream (pjsua2's default)."""
        call.dialDtmf(digits)
        call.digits_tx += digits
        self.emit("dtmf", ref=call.ref, sip_call_id=call.sip_call_id, dir="tx", digits=digits)

    def hold(self, call: LegCall) -> None:
        """A re-INVITE that puts the call on hold (a=sendonly)."""
        call.setHold(pj.CallOpParam(True))

    def resume(self, call: LegCall) -> None:
        """A re-INVITE that takes the call off hold (a=sendrecv)."""
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        call.reinvite(prm)

    def media_snapshot(self, call: LegCall) -> dict:
        figures = stream_figures(call)
        if figures is not None:
            call.figures = figures
        snapshot = {"ref": call.ref, "sip_call_id": call.sip_call_id, **(call.figures or {}),
                    "dtmf_tx": call.digits_tx, "dtmf_rx": call.digits_rx, "media_status": call.media_status}
        if call.audio is not None and call.audio.connected:
            snapshot["tone"] = call.audio.judge()
        return snapshot

    def report_media(self) -> None:
        for call in self.live_calls():
            if call.confirmed_at is not None or call.audio_media is not None:  # answered, or early media
                self.emit("media", **self.media_snapshot(call))

    def final_media(self, call: LegCall) -> None:
        """Report a leg's last figures once (at our hangup, or as pjsua destroys its stream)."""
        if call.confirmed_at is not None and not getattr(call, "final_reported", False):
            call.final_reported = True  # type: ignore[attr-defined]
            self.emit("media", final=True, **self.media_snapshot(call))

    def hang_up(self, call: LegCall, code: int | None = None, reason: str = "") -> None:
        """Hang up (or reject, or cancel) a call, with our last figures reported first."""
        if call.ended:
            return
        self.final_media(call)
        prm = pj.CallOpParam(True)
        if code is not None:
            prm.statusCode = code
            prm.reason = reason
        try:
            call.hangup(prm)
        except pj.Error as error:
            self.emit("error", message=f"the call could not be hung up: {error.reason}")

    # -- commands

    def handle(self, command: dict) -> None:
        handler = getattr(self, f"cmd_{command.get('cmd')}", None)
        if handler is None:
            self.emit("error", message=f"{self.role} agent does not know command {command.get('cmd')!r}")
            return
        handler(command)

    def cmd_ping(self, command: dict) -> None:
        self.emit("pong", id=command.get("id"), calls=len(self.live_calls()), free_slots=self.free_slots())

    def cmd_dtmf(self, command: dict) -> None:
        call = self.call_by_ref(command["ref"])
        digits = str(command.get("digits", ""))
        if call is not None and digits and set(digits) <= DTMF_DIGITS:
            self.send_dtmf(call, digits)

    def cmd_hold(self, command: dict) -> None:
        call = self.call_by_ref(command["ref"])
        if call is not None and call.confirmed_at is not None:
            (self.hold if command.get("on", True) else self.resume)(call)

    def cmd_hangup(self, command: dict) -> None:
        """Hang up the call the app named (`ref`), or every leg with one of `sip_call_ids`: only
        a caller's leg has a ref, and when an agent dies the lab ends the legs the others hold."""
        sip_call_ids = set(command.get("sip_call_ids", ()))
        for call in self.live_calls():
            if (call.ref is not None and call.ref == command.get("ref")) or call.sip_call_id in sip_call_ids:
                self.hang_up(call)

    def cmd_crash(self, command: dict) -> None:
        """For fault drills: die the way pjsua dies on an assertion."""
        import os

        os.abort()

    def release_all(self) -> None:
        self.calls.clear()
