"""The two end parties: the PSTN (callers and callees on the carrier's network) and the
customer's PBX (behind its firewall). Both answer what reaches them with their own test tone,
listen for the far end's tone, and place calls when the app asks."""

from __future__ import annotations

import pjsua2 as pj

import collections
import time

from .. import firewall
from ..ratelimit import CallRateLimiter
from ..tone import PBX_TONE_HZ, PSTN_TONE_HZ
from ..sipmsg import SipParseError, parse_message, uri_user
from .base import Agent, LegCall, add_headers
from .media import LegAudio
from .runtime import CODEC_IDS, Runtime, account_config, shorten_transaction_timeout

# New outgoing legs per 0.5 s. Each leg opens two sockets in pjsua's 64-slot I/O queue, and a
# closed socket holds its slot 0.5 s more: dialling faster than this aborts the process
# (pj_ioqueue_register_sock2 assertion, measured). Dial commands beyond it wait their turn.
MAX_DIALS_PER_WINDOW, DIAL_WINDOW_S = 10, 0.5
RING_S = 0.0  # how long an end party rings (after its 180) before it answers; config "ring_s"
# An INVITE that gets no response at all ends after 4 s, as a B leg at the gateway does; so a
# check's unanswered call (4.5 s, sip/lab.py) never leaves pjsua holding its call slot for 32 s.
END_PARTY_TRANSACTION_TIMEOUT_MS = 4000
DTMF_AFTER_S = 0.3  # digits go once the audio path has settled (both bridges connected)


class _Line(pj.Account):
    """A pjsua2 account = one address the party answers on."""

    def __init__(self, party: EndParty, ip: str, port: int) -> None:
        super().__init__()
        self.party, self.ip, self.port = party, ip, port
        self.transport_id = -1

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802 - pjsua2's name
        self.party.runtime.guard(lambda: self.party.on_incoming(self, prm))


class EndParty(Agent):
    tone_hz = 0.0
    far_tone_hz = 0.0

    def __init__(self, runtime: Runtime, config: dict) -> None:
        super().__init__(runtime)
        shorten_transaction_timeout(END_PARTY_TRANSACTION_TIMEOUT_MS)
        self.port = int(config["port"])
        self.ring_s = float(config.get("ring_s", RING_S))
        self.early_media_s = 0.0
        self.audio_pool: list[LegAudio] = []  # tone/listener pairs of ended calls, for reuse
        self.dial_limiter = CallRateLimiter(MAX_DIALS_PER_WINDOW, DIAL_WINDOW_S)
        self.waiting_dials: collections.deque[dict] = collections.deque()
        self._drain_scheduled = False
        self.lines: dict[tuple[str, int], _Line] = {}
        for ip in self.addresses(config):
            self.line(ip, self.port)

    def addresses(self, config: dict) -> list[str]:
        return [config["ip"]]

    def close_line(self, ip: str, port: int) -> None:
        """Give ip:port back, unless a call still uses that line (it then stays until the end)."""
        line = self.lines.get((ip, port))
        if line is None or any(call.line is line for call in self.calls):
            return
        del self.lines[ip, port]
        line.shutdown()
        self.runtime.ep.transportClose(line.transport_id)

    def line(self, ip: str, port: int) -> _Line:
        """The line (transport + pjsua account) on ip:port, opened the first time it is needed."""
        if (ip, port) not in self.lines:
            line = _Line(self, ip, port)
            line.transport_id = self.runtime.add_account(line, ip, port, user=self.role)
            self.lines[ip, port] = line
        return self.lines[ip, port]

    def forget(self, call: LegCall) -> None:
        if call.audio is not None:
            call.audio.reset()
            self.audio_pool.append(call.audio)
            call.audio = None
        super().forget(call)

    def release_all(self) -> None:
        super().release_all()
        self.audio_pool.clear()

    def on_incoming(self, line: _Line, prm: pj.OnIncomingCallParam) -> None:
        call = self.track(LegCall(self, line, prm.callId))
        call.sip_call_id = call.getInfo().callIdString
        message = prm.rdata.wholeMsg
        self.emit("incoming", sip_call_id=call.sip_call_id, src=prm.rdata.srcAddress, line=line.ip,
                  caller=caller_id(message, "From"), asserted=caller_id(message, "P-Asserted-Identity"),
                  max_forwards=header_value(message, "Max-Forwards"))
        # Never answered from inside onIncomingCall (see sip/agent/gateway.py): on the next turn.
        # In early-media mode the call is answered 183 with SDP first, and our tone flows before 200.
        ring_s = self.early_media_s or self.ring_s
        self.later_for(call, 0.0, lambda ringing: ringing.respond(183 if self.early_media_s else 180))
        self.later_for(call, ring_s, lambda ringing: ringing.respond(200))

    def cmd_answering(self, command: dict) -> None:
        """How calls to us are answered from now on: after `ring_s`, or after `early_media_s`
        of early media (183 with SDP, our tone flowing before the 200)."""
        self.ring_s = float(command.get("ring_s", RING_S))
        self.early_media_s = float(command.get("early_media_s", 0.0))
        self.emit("answering", ring_s=self.ring_s, early_media_s=self.early_media_s)

    def on_media_active(self, call: LegCall) -> None:
        if call.audio is None:
            call.audio = self.audio_pool.pop() if self.audio_pool else LegAudio(
                self.runtime.clock_rate, self.tone_hz, self.far_tone_hz)
        if call.audio_media is not None:
            call.audio.connect(call.audio_media)

    def cmd_dial(self, command: dict) -> None:
        self.waiting_dials.append(command)
        self._drain_dials()

    def _drain_dials(self) -> None:
        """Dial what waits, as fast as the dial limit allows and only into a free call slot (a
        slot pjsua still holds for an abandoned INVITE frees itself within 32 s)."""
        self._drain_scheduled = False
        while self.waiting_dials and self.free_slots() > 0 and self.dial_limiter.admit(time.monotonic()):
            self.place(self.waiting_dials.popleft())
        if self.waiting_dials and not self._drain_scheduled:
            self._drain_scheduled = True
            self.runtime.later(0.02, self._drain_dials)

    def place(self, command: dict) -> None:
        raise NotImplementedError

    def dial(self, line: _Line, command: dict, headers: list[tuple[str, str]] = ()) -> LegCall | None:
        """INVITE sip:<to>@<via> from `line`; the app names the call with command['ref']."""
        call = self.track(LegCall(self, line, ref=command["ref"]))
        call.dtmf = str(command.get("dtmf") or "")  # type: ignore[attr-defined] - sent once answered
        prm = pj.CallOpParam(True)
        caller = command.get("from_number") or self.role
        prm.txOption.localUri = f"sip:{caller}@{line.ip}:{line.port}"
        if command.get("delayed_offer"):  # an INVITE without SDP: the offer comes in the 200
            prm.opt.flag |= pj.PJSUA_CALL_NO_SDP_OFFER
        add_headers(prm, headers)
        try:
            call.makeCall(f"sip:{command['to']}@{command['via']}", prm)
        except pj.Error:
            call.ended = True
            self.forget(call)
            self.emit("call", ref=command["ref"], sip_call_id="", state="disconnected", code=500,
                      reason=f"the {self.role} could not place the call: no free line", setup_ms=None)
            return None
        call.sip_call_id = call.getInfo().callIdString
        self.call_event(call)
        return call

    def on_call_state(self, call: LegCall) -> None:
        super().on_call_state(call)
        digits = getattr(call, "dtmf", "")
        if call.state == "confirmed" and digits:
            call.dtmf = ""  # type: ignore[attr-defined] - once
            self.later_for(call, DTMF_AFTER_S, lambda answered: self.send_dtmf(answered, digits))


class PstnAgent(EndParty):
    """The carrier's PSTN side: dials the customer's numbers, answers calls the carrier
    delivers. Trusted by the gateway by its address (it is the carrier's own network)."""

    role = "pstn"
    tone_hz = PSTN_TONE_HZ
    far_tone_hz = PBX_TONE_HZ

    def __init__(self, runtime: Runtime, config: dict) -> None:
        super().__init__(runtime, config)
        self.ip = config["ip"]
        # The carrier's own network: only its System Gateway addresses reach the PSTN (a socket
        # filter on every socket, as on the PBX, but fixed). Without the list, no filter.
        gateways = config.get("gateways")
        self.program = firewall.filter_program(f"{ip}/32" for ip in gateways) if gateways else None
        self.apply_filter()

    def apply_filter(self) -> None:
        """(Re)attach the filter; a new call opens new RTP sockets, so this runs again then."""
        if self.program is None:
            return
        for sock, _ in firewall.sockets_bound_to(self.ip):
            with sock:
                firewall.attach_filter(sock, self.program)

    def on_incoming(self, line: _Line, prm: pj.OnIncomingCallParam) -> None:
        self.apply_filter()
        super().on_incoming(line, prm)

    def place(self, command: dict) -> None:
        if self.dial(next(iter(self.lines.values())), command) is not None:
            self.apply_filter()


class PbxAgent(EndParty):
    """The customer's third-party PBX. Its static address is an endpoint address (IP-based
    auth); its roaming address is not, so proxy and header auth can be seen at work. A BPF
    socket filter on its sockets is its firewall."""

    role = "pbx"
    tone_hz = PBX_TONE_HZ
    far_tone_hz = PSTN_TONE_HZ

    def __init__(self, runtime: Runtime, config: dict) -> None:
        self.static_ip = config["ip"]
        self.roaming_ip = config["roaming_ip"]
        self.allowed = {"sip": [], "rtp": []}  # default deny until the app sends the rules
        super().__init__(runtime, config)
        self.source_port = self.port  # where IP-authenticated INVITEs leave from (trunk settings)
        self.apply_firewall()

    # -- the PBX's trunk settings: its source port and its codecs

    def cmd_trunk(self, command: dict) -> None:
        codecs = [CODEC_IDS[name] for name in command["codecs"]]
        self.runtime.set_codecs(tuple(codecs))
        port = int(command["source_port"])
        try:
            self.line(self.static_ip, port)  # bound now, so a taken port shows at once
        except pj.Error as error:
            self.emit("error", message=f"the PBX cannot send from {self.static_ip}:{port} ({error.reason}); "
                                       f"it keeps port {self.source_port}")
        else:
            previous, self.source_port = self.source_port, port
            if previous not in (port, self.port):
                self.close_line(self.static_ip, previous)  # one extra socket at most, however often it changes
        self.apply_firewall()
        self.emit("trunk", source_port=self.source_port, codecs=command["codecs"])

    def addresses(self, config: dict) -> list[str]:
        return [config["ip"], config["roaming_ip"]]

    # -- firewall

    def cmd_firewall(self, command: dict) -> None:
        self.allowed = {"sip": list(command["sip"]), "rtp": list(command["rtp"])}
        self.apply_firewall()

    def apply_firewall(self) -> None:
        """(Re)attach the filters to every socket on our addresses: the SIP socket gets the SIP
        rules, RTP/RTCP sockets the RTP rules. New calls open new RTP sockets, so this runs again
        whenever a call starts."""
        programs = {p: firewall.filter_program(cidrs) for p, cidrs in self.allowed.items()}
        filtered = 0
        sip_ports = {port for _, port in self.lines}
        for ip in (self.static_ip, self.roaming_ip):
            for sock, port in firewall.sockets_bound_to(ip):
                with sock:
                    firewall.attach_filter(sock, programs["sip" if port in sip_ports else "rtp"])
                filtered += 1
        self.emit("firewall", sip=self.allowed["sip"], rtp=self.allowed["rtp"], sockets=filtered)

    def on_incoming(self, line: _Line, prm: pj.OnIncomingCallParam) -> None:
        self.apply_firewall()  # this call's RTP sockets exist now; filter them before media flows
        super().on_incoming(line, prm)

    # -- outbound calls, by the seed's three methods

    def place(self, command: dict) -> None:
        auth = command.get("auth", "ip")
        line = self.line(self.static_ip, self.source_port) if auth == "ip" else self.line(self.roaming_ip, self.port)
        headers: list[tuple[str, str]] = []
        credentials: tuple[tuple[str, str], ...] = ()
        if auth == "proxy":
            credentials = ((command["endpoint_sid"], command["voip_token"]),)
        elif auth == "header":
            # The seed's security note: header auth puts the token in the INVITE in clear text.
            if command.get("endpoint_sid") is not None:
                headers.append(("X-Auth-EndpointSid", command["endpoint_sid"]))
            if command.get("voip_token") is not None:
                headers.append(("X-Auth-VoipToken", command["voip_token"]))
        # Credentials belong to the account: set them for this call (calls are placed one by one).
        line.modify(account_config(line.ip, line.port, self.role, line.transport_id, credentials))
        call = self.dial(line, command, headers)
        if call is not None:
            self.apply_firewall()


def header_value(message: str, name: str) -> str | None:
    try:
        return parse_message(message).header(name)
    except SipParseError:
        return None


def caller_id(message: str, header: str) -> str | None:
    """The user part of a From or P-Asserted-Identity header: what the callee shows as caller."""
    value = header_value(message, header)
    return uri_user(value) if value else None
