"""Raw SIP over UDP against a running lab's System Gateway: the I/O half of the torture corpus
and of the fuzzer (the pure halves are tests/support/torture.py and tests/support/fuzz.py).

Everything leaves from test sockets on one loopback address of the lab's own block (host .50
by default: no agent and no endpoint address), so the gateway treats every datagram as coming
from a stranger. Used by tests/interop/test_torture.py and bench/fuzz.py.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sip.events import AgentConfigured, AgentStateChanged, EngineEvent
from sip.lab import PSTN_TEST_NUMBER, Lab, LabCall

from .fuzz import Datagram
from .torture import Answer, CorpusMessage, ack_for, final_answer, is_new_invite_like, judge, render

# The gateway admits 11 new INVITEs per 0.5 s per address (EDGE-SPEC.md); the senders keep any
# INVITE-looking datagrams at most 10 per 0.5 s per address so that the limit is not what the
# corpus measures.
INVITE_GAP_S = 0.05
RECOVERY_TIMEOUT_S = 20.0  # a crashed agent's restart backs off to 2 s; this is generous


def stranger_host(lab: Lab, n: int = 50) -> str:
    """Host .n of the lab's block: an address no agent and no endpoint uses."""
    return lab.account.party("pbx").ip.rsplit(".", 1)[0] + f".{n}"


def gateway_addresses(lab: Lab) -> list[tuple[str, int]]:
    return [(a.ip, a.port) for a in lab.account.system_gateway.addresses]


# --------------------------------------------------------------------------
# Watching the agents
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    t: float
    agent: str  # e.g. "gateway 127.0.130.2"
    reason: str
    last_words: str

    def __str__(self) -> str:
        return f"{self.agent} {self.reason}: {self.last_words or '(nothing on stderr)'}"


class AgentWatch:
    """Counts agent crashes from the lab's events, and knows when every agent is back and
    configured (a gateway that restarted answers 503 until the account is pushed to it)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.crashes: list[Crash] = []
        self._not_ready: set[str] = set()
        lab.subscribe(self._on_event)

    def _on_event(self, event: EngineEvent) -> None:
        if isinstance(event, AgentStateChanged) and event.state == "crashed":
            self.crashes.append(Crash(time.time(), event.agent, event.detail, event.last_words))
            self._not_ready.add(event.agent)
        elif isinstance(event, AgentConfigured):
            self._not_ready.discard(event.agent)

    @property
    def all_ready(self) -> bool:
        return not self._not_ready

    async def wait_ready(self, timeout: float = RECOVERY_TIMEOUT_S) -> bool:
        if self.all_ready:
            return True
        return await self.lab.wait_until(lambda: self.all_ready, timeout)


# --------------------------------------------------------------------------
# Sockets
# --------------------------------------------------------------------------


class _Socket(asyncio.DatagramProtocol):
    """A test socket that keeps what it receives and ACKs final INVITE refusals, as a UAC does
    (so the gateway stops retransmitting them)."""

    def __init__(self, ack_request_uri: str | None = None) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[bytes] = []
        self.ack_request_uri = ack_request_uri
        self.arrived = asyncio.Event()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.received.append(data)
        self.arrived.set()
        if self.ack_request_uri is not None:
            ack = ack_for(Answer.parse(data), self.ack_request_uri)
            if ack is not None:
                self.transport.sendto(ack, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: an agent restarting
        pass

    @property
    def port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_socket(ip: str, *, ack_request_uri: str | None = None) -> _Socket:
    _, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Socket(ack_request_uri), local_addr=(ip, 0))
    return protocol


# --------------------------------------------------------------------------
# The torture corpus
# --------------------------------------------------------------------------


@dataclass
class CorpusResult:
    message: CorpusMessage
    gateway: tuple[str, int]
    sent: bytes
    socket: _Socket
    sent_at: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def answers(self) -> list[Answer]:
        return [Answer.parse(raw) for raw in self.socket.received]

    @property
    def answered(self) -> bool:
        return final_answer(self.answers) is not None

    def report(self) -> str:
        got = ", ".join(a.first_line for a in self.answers) or "no answer"
        return f"{self.message.name} [{self.message.category}] -> {self.gateway[0]}: {'; '.join(self.problems)} ({got})"


def values_for(message: CorpusMessage, gateway: tuple[str, int], source_ip: str, source_port: int,
               number: str) -> dict[str, str]:
    token = secrets.token_hex(6)
    return {
        "gateway_ip": gateway[0], "gateway_port": str(gateway[1]),
        "source_ip": source_ip, "source_port": str(source_port),
        "call_id": f"torture-{message.name}-{token}", "branch": f"z9hG4bK-torture-{token}",
        "tag": f"tt{token[:8]}", "to_tag": f"gw{token[:8]}", "number": number,
    }


async def run_corpus(messages: list[CorpusMessage], gateways: list[tuple[str, int]], source_ip: str,
                     watch: AgentWatch | None = None, *, number: str = PSTN_TEST_NUMBER,
                     settle_s: float = 0.4, max_wait_s: float = 2.0) -> list[CorpusResult]:
    """Send every message to every gateway address, each from a socket of its own (so every
    datagram that comes back belongs to one send), and judge what came back.

    INVITE-looking datagrams are spaced INVITE_GAP_S apart (the CPS limit); the others go in
    between. While an agent is down (a crash), sending waits for it to be back."""
    results: list[CorpusResult] = []
    for message in messages:
        for gateway in gateways:
            socket = await open_socket(source_ip, ack_request_uri=f"sip:{number}@{gateway[0]}:{gateway[1]}")
            sent = render(message, values_for(message, gateway, source_ip, socket.port, number))
            results.append(CorpusResult(message, gateway, sent, socket))
    invites = deque(r for r in results if is_new_invite_like(r.sent))
    others = deque(r for r in results if not is_new_invite_like(r.sent))
    try:
        next_invite_at = 0.0
        while invites or others:
            if watch is not None and not watch.all_ready:
                await watch.wait_ready()
            now = time.monotonic()
            if invites and now >= next_invite_at:
                batch = [invites.popleft()]  # the same message to every address at once
                while invites and invites[0].message is batch[0].message:
                    batch.append(invites.popleft())
                next_invite_at = now + INVITE_GAP_S
            elif others:
                batch = [others.popleft()]
            else:
                await asyncio.sleep(next_invite_at - now)
                continue
            for result in batch:
                result.sent_at = time.time()
                result.socket.transport.sendto(result.sent, result.gateway)
            await asyncio.sleep(0.001 if others else 0)
        last_sent = time.monotonic()
        await asyncio.sleep(settle_s)
        deadline = last_sent + max_wait_s
        while time.monotonic() < deadline and not all(r.answered for r in results if r.message.expects_answer):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # a datagram that should not have come often trails the others
        for result in results:
            result.problems = judge(result.message, result.sent, result.answers, result.gateway[0])
    finally:
        for result in results:
            result.socket.close()
    return results


async def send_one(message: CorpusMessage, gateway: tuple[str, int], source_ip: str, *,
                   number: str = PSTN_TEST_NUMBER, wait_s: float = 0.3) -> CorpusResult:
    """One corpus message to one address, its answers collected for wait_s (bench attribution)."""
    socket = await open_socket(source_ip, ack_request_uri=f"sip:{number}@{gateway[0]}:{gateway[1]}")
    try:
        sent = render(message, values_for(message, gateway, source_ip, socket.port, number))
        result = CorpusResult(message, gateway, sent, socket, sent_at=time.time())
        socket.transport.sendto(sent, gateway)
        await asyncio.sleep(wait_s)
        result.problems = judge(message, sent, result.answers, gateway[0])
        return result
    finally:
        socket.close()


# --------------------------------------------------------------------------
# A real challenge, for the fuzzer's digest template
# --------------------------------------------------------------------------


async def fetch_challenge(gateway: tuple[str, int], source_ip: str, *, number: str = "fuzz",
                          timeout: float = 2.0) -> str | None:
    """The Proxy-Authenticate value of a real 407 from `gateway` (None if none came)."""
    uri = f"sip:{number}@{gateway[0]}:{gateway[1]}"
    socket = await open_socket(source_ip, ack_request_uri=uri)
    try:
        token = secrets.token_hex(6)
        local = f"{source_ip}:{socket.port}"
        # With an SDP offer: an INVITE without one (a delayed offer) crashed the gateway of
        # before issue 9, and this is only to learn a nonce.
        sdp = (f"v=0\r\no=fuzz 1 1 IN IP4 {source_ip}\r\ns=-\r\nc=IN IP4 {source_ip}\r\nt=0 0\r\n"
               "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
        invite = "\r\n".join([
            f"INVITE {uri} SIP/2.0", f"Via: SIP/2.0/UDP {local};rport;branch=z9hG4bK-challenge-{token}",
            "Max-Forwards: 70", f"From: <sip:fuzz@{local}>;tag=ch{token}", f"To: <{uri}>",
            f"Call-ID: challenge-{token}", "CSeq: 1 INVITE", f"Contact: <sip:fuzz@{local}>",
            "Content-Type: application/sdp", f"Content-Length: {len(sdp)}", "", sdp]).encode()
        socket.transport.sendto(invite, gateway)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for raw in socket.received:
                answer = Answer.parse(raw)
                if answer.status == 407:
                    return answer.header("Proxy-Authenticate")
            socket.arrived.clear()
            try:
                await asyncio.wait_for(socket.arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return None
    finally:
        await asyncio.sleep(0.05)  # let the ACK of the 407 leave
        socket.close()


# --------------------------------------------------------------------------
# The fuzzer's sender
# --------------------------------------------------------------------------


@dataclass
class FuzzRun:
    sent: int = 0
    answered: int = 0  # datagrams that came back to the test sockets (any answer)
    elapsed_s: float = 0.0
    paused_s: float = 0.0  # time spent waiting for a crashed agent to come back
    suspects: dict[Crash, list[Datagram]] = field(default_factory=dict)


class FuzzSockets:
    """The sockets the fuzzer sends from; their ports go into the FuzzTarget."""

    def __init__(self, sockets: list[_Socket]) -> None:
        self.sockets = sockets

    @classmethod
    async def open(cls, ip: str, count: int = 8) -> FuzzSockets:
        return cls([await open_socket(ip) for _ in range(count)])

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(s.port for s in self.sockets)

    @property
    def received(self) -> int:
        return sum(len(s.received) for s in self.sockets)

    def close(self) -> None:
        for socket in self.sockets:
            socket.close()


async def send_fuzz(datagrams: list[Datagram], sockets: FuzzSockets, gateways: list[tuple[str, int]],
                    watch: AgentWatch, *, rate: float, suspects_per_crash: int = 8,
                    progress: Callable[[FuzzRun], None] | None = None,
                    stop_after_crashes: int | None = None) -> FuzzRun:
    """Send the datagrams at `rate` per second. After a crash, sending waits until every agent
    is back and configured, so each datagram meets a live gateway; the datagrams sent to the
    crashed address just before the crash are kept as its suspects (the last one first in
    line: sending stops as soon as the crash is seen). progress(run) is called every 1000;
    with stop_after_crashes, the run ends early once that many crashes were seen (a failing
    test fails fast instead of waiting for every restart)."""
    run = FuzzRun()
    recent: dict[int, deque[tuple[float, Datagram]]] = {i: deque(maxlen=64) for i in range(len(gateways))}
    crashes_seen = len(watch.crashes)
    started = time.monotonic()
    next_at = started
    for datagram in datagrams:
        if not watch.all_ready or len(watch.crashes) > crashes_seen:
            pause_started = time.monotonic()
            await asyncio.sleep(0.05)  # the crash event arrives a moment after the exit
            crashes_seen = _note_suspects(watch, crashes_seen, gateways, recent, run, suspects_per_crash)
            if not await watch.wait_ready():
                raise RuntimeError(f"agents not back after {RECOVERY_TIMEOUT_S:g} s: {watch.crashes[-3:]}")
            run.paused_s += time.monotonic() - pause_started
            next_at = time.monotonic()
            if stop_after_crashes is not None and len(watch.crashes) >= stop_after_crashes:
                break
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sockets.sockets[datagram.source].transport.sendto(datagram.payload, gateways[datagram.gateway])
        recent[datagram.gateway].append((time.time(), datagram))
        run.sent += 1
        next_at += 1 / rate
        if progress is not None and run.sent % 1000 == 0:
            run.elapsed_s = time.monotonic() - started
            progress(run)
    await asyncio.sleep(0.3)  # the last crash, if any, and the last answers
    _note_suspects(watch, crashes_seen, gateways, recent, run, suspects_per_crash)
    run.elapsed_s = time.monotonic() - started
    run.answered = sockets.received
    return run


def _note_suspects(watch: AgentWatch, seen: int, gateways, recent, run: FuzzRun, keep: int) -> int:
    for crash in watch.crashes[seen:]:
        index = next((i for i, (ip, _) in enumerate(gateways) if crash.agent == f"gateway {ip}"), None)
        if index is None:
            run.suspects[crash] = []  # not a gateway: no datagram went to it directly
            continue
        before = [d for t, d in recent[index] if t <= crash.t]
        run.suspects[crash] = before[-keep:]
    return len(watch.crashes)


# --------------------------------------------------------------------------
# Good calls afterwards
# --------------------------------------------------------------------------


async def good_calls(lab: Lab, *, hold_s: float = 0.5) -> list[tuple[str, LabCall]]:
    """An inbound call through each gateway address, then an outbound call (IP auth) through
    each: what must still work after the abuse."""
    async def run(label: str, placing) -> tuple[str, LabCall]:
        return label, await lab.run_call(await placing, hold_s=hold_s)

    calls = list(await asyncio.gather(*(
        run(f"inbound via {address}", lab.place_inbound(lab.test_number(), via=address))
        for address in lab.gateway_addresses)))
    calls += await asyncio.gather(*(
        run(f"outbound via {address}", lab.place_outbound(PSTN_TEST_NUMBER, auth="ip", via=address))
        for address in lab.gateway_addresses))
    return calls


def failed_calls(calls: list[tuple[str, LabCall]]) -> list[str]:
    return [f"{label}: {call.state} {call.final_code} {call.final_reason} {call.notes}"
            for label, call in calls if (call.state, call.final_code) != ("ended", 200)]
