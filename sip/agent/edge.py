"""The edge's socket and thread, inside a gateway agent process (the I/O around sip/edge/proxy.py).

The edge owns the gateway's public address; pjsua listens on an internal port of the same IP.
A thread of its own blocks on the edge's socket, so a datagram is handled the moment it
arrives (no polling delay added to call setup) and the edge never touches pjsua2: it talks to
pjsua over UDP like anyone else, and the gateway agent tells it when pjsua takes up or ends a
call (a lock keeps the two threads apart). Nothing that reaches this thread can stop it: every
failure of one datagram is reported and the loop goes on.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable

from store.records import Account

from ..edge.decide import Accept, Refuse
from ..edge.proxy import Context, Decided, Edge, Send, Wire
from ..edge.wire import reason_for
from .tally import SharedTally

RECV_BYTES = 65535
IDLE_TICK_S = 1.0  # with nothing to wait for, the timers still run this often


def internal_port(public_port: int) -> int:
    """pjsua's port behind the edge: 10000 above the public one (below it for high ports)."""
    return public_port + 10000 if public_port + 10000 <= 65535 else public_port - 10000


class EdgeThread:
    def __init__(self, edge: Edge, emit: Callable[..., None], account: Callable[[], Account | None],
                 tally: SharedTally | None = None) -> None:
        self.edge = edge
        self.emit = emit
        self._account = account
        self._tally = tally or SharedTally(None, "")  # calls per endpoint, with the other gateways
        self._lock = threading.Lock()
        self._stopping = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(edge.public)  # raises OSError (address in use) before the agent says ready
        self.sock.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="edge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(timeout=2.0)
        self.sock.close()

    # -- what the gateway agent (pjsua's thread) tells the edge

    def call_started(self, call_id: str) -> None:
        with self._lock:
            self.edge.call_started(call_id)

    def call_ended(self, call_id: str) -> None:
        with self._lock, self._tally.session() as tally:
            now = time.time()
            self.edge.call_ended(call_id, now)
            tally.publish(self.edge.endpoint_calls(now))

    # -- the loop

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:
                deadline = self.edge.next_deadline()
            wait = IDLE_TICK_S if deadline is None else max(0.0, min(IDLE_TICK_S, deadline - time.time()))
            try:
                readable, _, _ = select.select([self.sock], [], [], wait)
            except (OSError, ValueError):
                return  # the socket was closed: the agent is leaving
            if readable:
                self._drain()
            with self._lock, self._tally.session() as tally:
                now = time.time()
                outputs = self.edge.tick(now)
                tally.publish(self.edge.endpoint_calls(now))  # an admitted call pjsua never took up expires
            self._carry_out(outputs, now)

    def _drain(self) -> None:
        for _ in range(64):  # a burst, then the timers get their turn
            try:
                data, source = self.sock.recvfrom(RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            arrived = time.time()
            try:
                with self._lock, self._tally.session() as tally:  # decided with the others' counts
                    now = time.time()
                    outputs = self.edge.receive(data, source, Context(self._account(), now, tally.others))
                    tally.publish(self.edge.endpoint_calls(now))
            except Exception as error:  # noqa: BLE001 - one datagram must never stop the edge
                self.emit("error", message=f"edge: a datagram from {source[0]}:{source[1]} could not be handled "
                                           f"({type(error).__name__}: {error})")
                continue
            self._carry_out(outputs, arrived)

    def _carry_out(self, outputs, at: float) -> None:
        """Send what the edge answered and report it. Each message is reported with the time the
        datagram that caused it arrived (`at`), taken before anything is sent: stamped at the
        moment of reporting, after the send, a B leg's INVITE came later on the ladder than the
        far end's 100 Trying to it (another process, with the same clock, answered first)."""
        local = f"{self.edge.public[0]}:{self.edge.public[1]}"
        for output in outputs:
            if isinstance(output, Send):
                try:
                    self.sock.sendto(output.data, output.to)
                except OSError as error:
                    self.emit("error", message=f"edge: sending to {output.to[0]}:{output.to[1]} failed: {error.strerror}")
            elif isinstance(output, Wire):
                self.emit("sip", t=at, dir=output.direction, remote=f"{output.remote[0]}:{output.remote[1]}",
                          local=local, text=output.text)
            elif isinstance(output, Decided):
                self.emit("decision", sip_call_id=output.call_id, src=f"{output.source[0]}:{output.source[1]}",
                          **decision_fields(output.decision))


def decision_fields(decision: Accept | Refuse) -> dict:
    """The decision as the 'decision' event reports it (what the ladder and checklist read)."""
    if isinstance(decision, Refuse):
        fields = {"status": decision.status, "reason": reason_for(decision.status), "cause": decision.cause,
                  "direction": decision.direction,
                  "auth": decision.auth, "endpoint_sid": decision.endpoint_sid}
        return {k: v for k, v in fields.items() if v not in ("", None)}
    return {"direction": decision.direction, "cause": decision.cause, "auth": decision.auth,
            "endpoint_sid": decision.endpoint_sid, "dialled": decision.dialled, "caller": decision.caller,
            "trunk_group_sid": decision.trunk_group_sid, "targets": [list(t) for t in decision.targets]}


def new_nonce() -> str:
    return os.urandom(16).hex()
