"""The lab: the store's account brought to life as agents, and calls placed through them.

This is the imperative shell around the pure core. It starts one agent per System Gateway
address, a PSTN agent and a PBX agent (sip/supervisor.py), pushes the account to them at start
and after every committed change, folds their events into calls (sip/calls.py), writes each
finished call to the store as a CDR with its ladder, and tells listeners (the UI, `serve`)
about everything.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable

from store import Store
from store.records import Account, CallRecord, PbxTrunk, SipMessageRecord, account_to_wire

from .calls import CallBook, LabCall
from .capture import CaptureError, LoopbackCapture, lab_blocks
from .checklist import ChecklistItem, evaluate
from .pcap import pcap_bytes, select_call
from .routing import allowed_sources, dialled_number
from .supervisor import AgentSpec, Supervisor

Listener = Callable[[str, dict], None]


class LabError(RuntimeError):
    """A request the lab cannot carry out (no such number, no such address, agent down)."""


# Characters a SIP URI's user part may carry unescaped (RFC 3261 unreserved + user-unreserved).
_USER_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/")


def dial_string(typed: str) -> str:
    """What a caller puts in the Request-URI for what the trainee typed: a phone number in E.164
    digits (as carriers expect), or any other URI-safe word as it is (to practise a 404)."""
    number = dialled_number(typed)
    if number is not None:
        return number
    text = typed.strip()
    if not text or not set(text) <= _USER_CHARACTERS:
        raise LabError(f"{typed!r} is neither a phone number (e.g. +1 202 555 0100) nor a SIP user name")
    return text


DTMF_DIGITS = frozenset("0123456789*#ABCD")
MAX_DTMF_DIGITS = 32


def call_options(dtmf: str, delayed_offer: bool) -> dict:
    """A dial command's media options, checked: DTMF digits are 0-9 * # A-D, at most 32."""
    if dtmf and (not set(dtmf) <= DTMF_DIGITS or len(dtmf) > MAX_DTMF_DIGITS):
        raise LabError(f"DTMF digits are 0-9, *, # and A-D, at most {MAX_DTMF_DIGITS}; not {dtmf[:40]!r}")
    return {"dtmf": dtmf, "delayed_offer": bool(delayed_offer)}


def agent_specs(account: Account, *, b_leg_timeout_s: float = 4.0) -> list[AgentSpec]:
    """What each agent is told on its command line: addresses and timings, nothing secret (each
    gateway makes its own digest nonces, in memory)."""
    specs = [
        AgentSpec(f"gateway {a.ip}", "gateway", {"ip": a.ip, "port": a.port, "b_leg_timeout_s": b_leg_timeout_s})
        for a in account.system_gateway.addresses
    ]
    pstn, pbx, roaming = account.party("pstn"), account.party("pbx"), account.party("pbx_roaming")
    specs.append(AgentSpec("pstn", "pstn", {"ip": pstn.ip, "port": pstn.port,
                                            "gateways": [a.ip for a in account.system_gateway.addresses]}))
    specs.append(AgentSpec("pbx", "pbx", {"ip": pbx.ip, "roaming_ip": roaming.ip, "port": pbx.port}))
    return specs


SETTLE_S = 0.25
CALLS_PER_GATEWAY = 2  # the edge's capacity per System Gateway address (sip/edge/proxy.py)
CALL_SLOTS_PER_AGENT = 4  # pjsua's call slots in one agent process (sip/agent/runtime.py)
PROBE_ANSWER_TIMEOUT_S = 4.5  # a checklist call not answered by then failed (a B leg gives up at 4 s)
CONFIGURE_TIMEOUT_S = 30.0
PSTN_TEST_NUMBER = "14155550123"  # a fictional 555-01xx number on the PSTN side


class Lab:
    def __init__(self, store: Store, *, b_leg_timeout_s: float = 4.0, supervisor_factory=None,
                 capture: bool = False) -> None:
        """supervisor_factory(specs, on_event, on_up) makes what runs the agents: the real
        Supervisor by default; sip.replay.RecordedSupervisor replays a recorded session.
        capture=True also captures the lab's packets on lo, for export_pcap."""
        self.store = store
        self._supervisor_factory = supervisor_factory or (
            lambda specs, on_event, on_up: Supervisor(specs, on_event, on_up=on_up))
        self.b_leg_timeout_s = b_leg_timeout_s
        self.account: Account | None = None
        self.book = CallBook()
        self.supervisor: Supervisor | None = None
        self._listeners: list[Listener] = []
        self._refs = itertools.count(1)
        self._via_turn = itertools.count()
        self._addresses: dict[str, str] = {}  # agent name -> its main ip:port
        self._unsubscribe: Callable[[], None] | None = None
        self._push_task: asyncio.Task | None = None
        self._account_dirty = False
        self._waiters: list[asyncio.Future] = []
        self._saved: set[str] = set()
        self._save_tasks: set[asyncio.Task] = set()
        self._configured: set[str] = set()  # agents that acknowledged their configuration
        self._free: dict[str, int] = {}  # agent -> free call slots, from its last pong
        self._pbx_settings_sent: dict | None = None  # the PBX trunk settings it was last sent
        self.pbx_source_port: int | None = None  # the source port the PBX says it sends from
        self._capture_wanted = capture
        self.capture: LoopbackCapture | None = None
        self.capture_error = "" if capture else "packet capture is off in this lab"

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.account = await self.store.account()
        specs = agent_specs(self.account, b_leg_timeout_s=self.b_leg_timeout_s)
        for spec in specs:
            self._addresses[spec.name] = f"{spec.config['ip']}:{spec.config['port']}"
        self._refresh_book()
        self.supervisor = self._supervisor_factory(specs, self._on_agent_event, self._configure_agent)
        self._unsubscribe = self.store.subscribe(self._account_changed)
        if self._capture_wanted:
            self._start_capture()  # before the agents: a call's first INVITE is in the capture
        await self.supervisor.start()
        # Up is not enough: a gateway without the account answers 503. Wait for each to confirm
        # (generously: on a machine saturated by a classroom, 10 s was measured to be too short).
        if not await self.wait_until(lambda: self._configured >= set(self._addresses), CONFIGURE_TIMEOUT_S):
            raise LabError(f"agents not configured: {sorted(set(self._addresses) - self._configured)}")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._push_task is not None and not self._push_task.done():
            self._push_task.cancel()
            await asyncio.gather(self._push_task, return_exceptions=True)
        if self.supervisor is not None:
            await self.supervisor.stop()
        if self.capture is not None:
            self.capture.close()  # its packets stay exportable
        if self._save_tasks:
            await asyncio.gather(*self._save_tasks, return_exceptions=True)

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def gateway_addresses(self) -> list[str]:
        return [f"{a.ip}:{a.port}" for a in self.account.system_gateway.addresses]

    @property
    def agent_states(self) -> dict[str, str]:
        return self.supervisor.states if self.supervisor else {}

    def _start_capture(self) -> None:
        """Not fatal: without CAP_NET_RAW the lab runs, and export_pcap says what is missing."""
        ips = [a.ip for a in self.account.system_gateway.addresses] + [p.ip for p in self.account.parties]
        capture = LoopbackCapture(lab_blocks(ips))
        try:
            capture.start()
        except CaptureError as error:
            self.capture_error = str(error)
            return
        self.capture = capture

    def export_pcap(self, ref: str, path: str | os.PathLike) -> int:
        """Write call `ref`'s SIP, RTP and RTCP, as they crossed lo, to a pcap file; returns the
        number of packets. Datagrams the PBX firewall dropped are in it too: the firewall filters
        the PBX's sockets, after a datagram crossed lo (the ladder marks them dropped). A
        header-auth INVITE carries the VoIP token in clear text, in the file as on the wire."""
        call = self.book.calls.get(ref)
        if call is None:
            raise LabError(f"no call {ref!r} in this lab session")
        if self.capture is None:
            raise LabError(f"no pcap: {self.capture_error}")
        if call.started_at <= self.capture.ring.evicted_until:
            raise LabError(f"the capture no longer holds call {ref}: it keeps the newest "
                           f"{self.capture.ring.max_bytes // 2**20} MiB of packets")
        # The lab's timestamps and the kernel's are one clock; the slack covers rounding only. A
        # finished call's transactions outlive it by up to 32 s (Timer B/F, retransmitting into
        # a firewall); beyond that its packets are not looked for (a full ring takes ~0.8 s).
        until = call.ended_at + 40.0 if call.finished and call.ended_at else float("inf")
        packets = select_call(self.capture.packets(), call.sip_call_ids, since=call.started_at - 1.0, until=until)
        # Owner-only, like the token it may hold (os.open: the mode applies as the file is made).
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(pcap_bytes(packets))
        return len(packets)

    # ------------------------------------------------------------------ configuration

    def _refresh_book(self) -> None:
        pbx, roaming = self.account.party("pbx"), self.account.party("pbx_roaming")
        self.book.pbx_addresses = {f"{pbx.ip}:{pbx.port}", f"{roaming.ip}:{roaming.port}"}
        if self.account.pbx_trunk is not None:  # where its IP-authenticated INVITEs leave from
            self.book.pbx_addresses.add(f"{pbx.ip}:{self.account.pbx_trunk.source_port}")
        self.book.firewall = self.account.firewall_rules

    async def _configure_agent(self, name: str) -> None:
        """Send an agent what it needs to know of the account (at start and after a restart)."""
        if name.startswith("gateway"):
            await self.supervisor.send(name, {"cmd": "configure", "account": account_to_wire(self.account)})
        elif name == "pbx":
            trunk = self.account.pbx_trunk
            settings = {"source_port": trunk.source_port, "codecs": list(trunk.codecs)} if trunk else None
            if settings is not None and settings != self._pbx_settings_sent:  # only what changed: a
                # refused port is not retried (and reported again) on every unrelated edit
                self._pbx_settings_sent = settings
                await self.supervisor.send(name, {"cmd": "trunk", **settings})  # before the firewall,
                # whose answer marks the PBX configured
            rules = self.account.firewall_rules
            await self.supervisor.send(
                name, {"cmd": "firewall", "sip": list(allowed_sources(rules, "sip")),
                       "rtp": list(allowed_sources(rules, "rtp"))},
            )

    def _account_changed(self) -> None:
        self._account_dirty = True
        if self._push_task is None or self._push_task.done():
            self._push_task = asyncio.get_running_loop().create_task(self._push_account())

    async def _push_account(self) -> None:
        while self._account_dirty:  # a change committed while we were pushing: push again
            self._account_dirty = False
            self.account = await self.store.account()
            self._refresh_book()
            for name in self.supervisor.states:
                await self._configure_agent(name)
            self._notify("lab", {"ev": "account", "t": time.time()})

    # ------------------------------------------------------------------ events

    def _on_agent_event(self, name: str, event: dict) -> None:
        kind = event.get("ev")
        if kind == "ready":  # a (re)started agent must be configured again; the PSTN needs nothing
            (self._configured.add if name == "pstn" else self._configured.discard)(name)
            if name == "pbx":
                self._pbx_settings_sent = None
        elif kind == "trunk":
            self.pbx_source_port = int(event.get("source_port", 0)) or None
        elif kind in ("configured", "firewall"):
            self._configured.add(name)
        elif kind == "pong":
            self._free[name] = int(event.get("free_slots", 0))
        call = self.book.apply(name.split()[0], self._addresses.get(name, ""), event)
        if event.get("ev") == "agent" and event.get("state") == "crashed":
            self._fail_calls_of(name, event)
        self._notify(name, event)
        while self.book.unreported_drops:
            drop = self.book.unreported_drops.pop(0)
            self._notify("firewall", {"ev": "drop", "t": drop.t, "src": drop.src, "dst": drop.dst,
                                      "sip_call_id": drop.sip_call_id, "first_line": drop.first_line,
                                      "note": drop.note})
        if call is not None:
            if call.finished and not call.external and call.ref not in self._saved:
                self._saved.add(call.ref)
                task = asyncio.get_running_loop().create_task(self._save(call))
                self._save_tasks.add(task)
                task.add_done_callback(self._save_tasks.discard)
            self._wake()

    def _fail_calls_of(self, name: str, event: dict) -> None:
        """An agent died: its calls in flight end as failed, with the reason."""
        role = name.split()[0]
        address = self._addresses.get(name, "")
        for call in list(self.book.calls.values()):
            if call.finished:
                continue
            caller = "pstn" if call.direction == "inbound" else "pbx"
            involved = role == caller or any(
                m.agent == role and (role != "gateway" or address in (m.src, m.dst)) for m in call.messages)
            if involved:
                call.state = "failed" if call.answered_at is None else "ended"
                call.ended_at = event["t"]
                call.final_code = call.final_code if call.answered_at else 503
                call.final_reason = call.final_reason if call.answered_at else "Service Unavailable"
                call.notes.append(f"{name} {event['reason']} during the call; the supervisor restarts it")
                self._notify("lab", {"ev": "call_failed", "ref": call.ref, "t": event["t"]})
                if caller != role:  # the caller's agent survived: end its leg too
                    asyncio.get_running_loop().create_task(self.supervisor.send(caller, {"cmd": "hangup", "ref": call.ref}))
        self._wake()

    def _notify(self, source: str, event: dict) -> None:
        for listener in list(self._listeners):
            listener(source, event)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() holds (re-checked after every event), or the timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, min(remaining, 0.25))
            except TimeoutError:
                pass
            finally:
                self._waiters.remove(waiter)
        return True

    async def _save(self, call: LabCall) -> None:
        await asyncio.sleep(0.3)  # let the last messages of the call (BYE/200) arrive
        await self.store.record_call(call_record(call))

    # ------------------------------------------------------------------ placing calls

    def _placed(self, **details: str) -> LabCall:
        """Open a call: as an event, so listeners (and recordings) see where it started."""
        event = {"ev": "placed", "t": time.time(), "ref": f"c{next(self._refs)}", **details}
        call = self.book.apply("lab", "", event)
        self._notify("lab", event)
        return call

    def _gateway_named(self, via: str | None) -> str:
        addresses = self.gateway_addresses
        if via is None:
            return addresses[next(self._via_turn) % len(addresses)]  # spread calls over the gateways
        wanted = via if ":" in via else f"{via}:{self.account.system_gateway.addresses[0].port}"
        if wanted not in addresses:
            raise LabError(f"{via} is not a System Gateway address (those are {', '.join(addresses)})")
        return wanted

    async def place_inbound(self, to: str, *, via: str | None = None, from_number: str = "14155550123",
                            dtmf: str = "", delayed_offer: bool = False) -> LabCall:
        """The PSTN dials `to` at a System Gateway address (seed: "Receiving Calls"). `dtmf`:
        digits the PSTN sends once answered; `delayed_offer`: an INVITE without SDP."""
        gateway = self._gateway_named(via)
        to = dial_string(to)
        options = call_options(dtmf, delayed_offer)
        call = self._placed(direction="inbound", to_number=to, from_number=from_number, gateway=gateway)
        await self._send("pstn", {"cmd": "dial", "ref": call.ref, "to": to, "via": gateway, "from_number": from_number,
                                  **options})
        return call

    async def place_outbound(
        self,
        to: str,
        *,
        auth: str = "ip",
        via: str | None = None,
        endpoint_sid: str | None = None,
        voip_token: str | None = None,
        omit_header: str | None = None,
        dtmf: str = "",
        delayed_offer: bool = False,
    ) -> LabCall:
        """The PBX places a call to `to` (seed: "Placing Calls"), authenticated by `auth`:
        'ip' from its static address, 'proxy' or 'header' from its roaming address with the
        endpoint SID and VoIP token the PBX is configured with (its trunk settings, which can go
        stale), unless overridden for this one call."""
        if auth not in ("ip", "proxy", "header"):
            raise LabError(f"auth must be ip, proxy or header, not {auth!r}")
        gateway = self._gateway_named(via)
        to = dial_string(to)
        options = call_options(dtmf, delayed_offer)
        trunk = self._pbx_trunk()
        sid = endpoint_sid if endpoint_sid is not None else trunk.endpoint_sid
        token = voip_token if voip_token is not None else trunk.voip_token
        if auth == "header" and not trunk.send_voip_token_header and omit_header is None:
            omit_header = "X-Auth-VoipToken"
        call = self._placed(direction="outbound", to_number=to, from_number=self._pbx_caller_id(),
                            gateway=gateway, requested_auth=auth)
        command = {"cmd": "dial", "ref": call.ref, "to": to, "via": gateway, "auth": auth,
                   "endpoint_sid": sid, "voip_token": token, "from_number": call.from_number, **options}
        if omit_header == "X-Auth-VoipToken":
            command["voip_token"] = None
        elif omit_header == "X-Auth-EndpointSid":
            command["endpoint_sid"] = None
        await self._send("pbx", command)
        return call

    def _pbx_endpoint(self):
        endpoint = self.account.pbx_endpoint()
        if endpoint is not None:
            return endpoint
        raise LabError("the account has no third-party endpoint for the PBX")

    def _pbx_trunk(self) -> PbxTrunk:
        if self.account.pbx_trunk is not None:
            return self.account.pbx_trunk
        endpoint = self._pbx_endpoint()  # a hand-made store without PBX settings: a PBX in sync
        return PbxTrunk(endpoint.endpoint_sid, endpoint.voip_token or "")

    def _pbx_caller_id(self) -> str:
        endpoint = self._pbx_endpoint()
        numbers = self.account.assigned_phonenumbers(endpoint.endpoint_sid)
        return numbers[0].phonenumber if numbers else "pbx"

    async def _send(self, agent: str, command: dict) -> None:
        if not await self.supervisor.send(agent, command):
            call = self.book.calls.get(command.get("ref", ""))
            if call is not None and not call.finished:  # it never left: not a call "dialling" forever
                call.state, call.final_code, call.final_reason = "failed", 503, f"the {agent} agent is not up"
                call.ended_at = time.time()
                self._notify("lab", {"ev": "call_failed", "ref": call.ref, "t": call.ended_at})
            raise LabError(f"the {agent} agent is not up ({self.supervisor.states.get(agent, 'unknown')})")

    async def hold(self, ref: str, *, on: bool = True) -> None:
        """The caller puts the call on hold (a re-INVITE with a=sendonly), or takes it off."""
        call = self.book.calls.get(ref)
        if call is None or call.answered_at is None or call.finished:
            raise LabError(f"call {ref} is not answered: nothing to put on hold")
        await self._send("pstn" if call.direction == "inbound" else "pbx", {"cmd": "hold", "ref": ref, "on": on})

    async def set_answering(self, party: str, *, ring_s: float = 0.0, early_media_s: float = 0.0) -> None:
        """How the PSTN or the PBX answers calls from now on: after ring_s, or with early media
        (183 with SDP, its tone flowing) for early_media_s before the 200."""
        if party not in ("pstn", "pbx"):
            raise LabError(f"only the PSTN and the PBX answer calls, not {party!r}")
        await self._send(party, {"cmd": "answering", "ring_s": ring_s, "early_media_s": early_media_s})

    async def hangup(self, ref: str) -> None:
        call = self.book.calls.get(ref)
        if call is None or call.finished:
            return
        caller = "pstn" if call.direction == "inbound" else "pbx"
        await self.supervisor.send(caller, {"cmd": "hangup", "ref": ref})

    async def run_call(self, call: LabCall, *, hold_s: float = 2.0, answer_timeout_s: float = 12.0) -> LabCall:
        """Wait for the call to be answered or fail, hold it, hang up, wait for the end."""
        await self.wait_until(lambda: call.state in ("answered", "ended", "failed"), answer_timeout_s)
        if call.state == "answered":
            await asyncio.sleep(hold_s)
            await self.hangup(call.ref)
        elif not call.finished:
            await self.hangup(call.ref)  # cancel a call nobody answered
        await self.wait_until(lambda: call.finished, 10.0)
        await asyncio.sleep(SETTLE_S)  # the last BYE/200 of the far leg trail the caller's end
        return call

    async def free_slots(self) -> dict[str, int]:
        """Each agent's free pjsua call slots, asked now (an agent that does not answer: 0)."""
        self._free = {}
        for name in self.supervisor.states:
            await self.supervisor.send(name, {"cmd": "ping"})
        await self.wait_until(lambda: len(self._free) == len(self.supervisor.states), 2.0)
        return {name: self._free.get(name, 0) for name in self.supervisor.states}

    async def wait_until_idle(self, timeout: float = 40.0) -> bool:
        """Wait until every agent has all its call slots free. A call hung up before any answer
        to its INVITE keeps its pjsua slot until the transaction times out (Timer B, 32 s), and
        so does a dialog whose messages a firewall dropped: a fair test waits for them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(free == CALL_SLOTS_PER_AGENT for free in (await self.free_slots()).values()):
                return True
            await asyncio.sleep(0.5)
        return False

    async def run_checklist(self, *, hold_s: float = 1.2, answer_timeout_s: float = PROBE_ANSWER_TIMEOUT_S,
                            ) -> tuple[list[ChecklistItem], list[LabCall]]:
        """The seed's Verification Checklist, for real: an inbound call through every System
        Gateway address and an outbound call with each authentication method, all at once as
        far as each gateway address's capacity allows (a trunk with a firewall hole is judged in
        about the time one unanswered call takes, not in the sum of them)."""
        gateways = self.gateway_addresses
        slots = {gateway: asyncio.Semaphore(CALLS_PER_GATEWAY) for gateway in gateways}
        # Every probe takes a call slot at the PSTN and one at the PBX. A slot pjsua still holds
        # for an INVITE abandoned by an earlier check is not free: fewer probes at once, then.
        free = await self.free_slots()
        parties = asyncio.Semaphore(max(1, min(free.get("pstn", 0), free.get("pbx", 0))))

        async def probe(gateway: str, place) -> LabCall:
            async with parties, slots[gateway]:
                call = await place(gateway)
                return await self.run_call(call, hold_s=hold_s, answer_timeout_s=answer_timeout_s)

        number = self.test_number()
        inbound = [probe(g, lambda via: self.place_inbound(number, via=via)) for g in gateways]
        outbound = [  # each method through a fixed address, so the verdict is the same every time
            probe(gateways[i % len(gateways)], lambda via, auth=auth: self.place_outbound(PSTN_TEST_NUMBER, auth=auth, via=via))
            for i, auth in enumerate(("ip", "proxy", "header"))
        ]
        calls = list(await asyncio.gather(*inbound, *outbound))
        return evaluate(calls, self.account), calls

    def test_number(self) -> str:
        """The number an inbound test call dials: the PBX endpoint's first assigned number, else
        the account's first number (which then fails, showing why)."""
        assigned = self.account.assigned_phonenumbers(self._pbx_endpoint().endpoint_sid)
        numbers = assigned or self.account.dids
        if not numbers:
            raise LabError("the account has no phone numbers: add one under Phone Numbers")
        return numbers[0].phonenumber




def call_record(call: LabCall) -> CallRecord:
    """A finished lab call as the store's CDR."""
    return CallRecord(
        started_at=call.started_at, direction=call.direction or "inbound", from_number=call.from_number,
        to_number=call.to_number, gateway_address=call.gateway, endpoint_sid=call.endpoint_sid or None,
        auth_method=call.auth_method, final_code=call.final_code, final_reason=call.final_reason,
        setup_ms=call.setup_ms, duration_s=call.duration_s,
        rtp={f"{agent} {sip_call_id}": leg.figures for (agent, sip_call_id), leg in call.legs.items()},
        audio_verdict=dict(call.heard),
        messages=tuple(
            SipMessageRecord(m.t, m.agent, m.event, m.src, m.dst, m.sip_call_id, m.first_line, m.text)
            for m in call.messages
        ),
    )
