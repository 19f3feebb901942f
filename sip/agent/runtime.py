"""The agent process's runtime: one pjsua2 Endpoint owned by the main thread.

Threading rules (measured on this machine, see docs/DESIGN.md):
- pjsua runs with threadCnt=0 and the main thread polls libHandleEvents; every pjsua2 call
  and every SIP callback happens on that thread. Commands arrive on stdin through a reader
  thread that only queues them, never touches pjsua2.
- RTP and RTCP sockets share that poll (medConfig.hasIoqueue off): pjmedia's own worker
  thread would wake 100 times a second for nothing, call or no call.
- An agent with no call waits up to IDLE_POLL_MS in each poll (a SIP message or an RTP packet
  still wakes it at once; a command waits for the end of the poll), one with a call POLL_MS: an
  idle lab costs a trainer's machine almost nothing (docs/PERFORMANCE.md).
- The conference bridge's clock thread calls AudioMediaPort callbacks; those only append
  bytes to a deque that the main thread drains.
- A pjsua2 Call object is released only after its call is DISCONNECTED and outside its own
  callback (a stale Call, when collected, hangs up whatever call reuses its slot).
- Python's cyclic garbage collector never runs by itself here: it would run on whichever
  thread happened to allocate (the edge's, the stdin reader's), and collecting a pjsua2 object
  there calls pjlib from a thread it does not know, which aborts the agent ("You must register
  external threads with pj_thread_register()": seen once under a SIPp flood). The main loop
  collects instead, every GC_EVERY_S.
- stdout is the event channel: fd 1 is moved aside at start so that anything the C library
  prints lands on stderr instead of corrupting the JSON lines.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

import pjsua2 as pj

from ..pjlog import parse_log_entry

# pjsua's codec ids for the SDP names the store uses (store.records.CODEC_CHOICES).
CODEC_IDS = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1", "GSM": "GSM/8000/1"}
CODECS_CARRIER = (CODEC_IDS["PCMU"], CODEC_IDS["PCMA"])  # what a carrier offers, in order
LOG_LEVEL_WHOLE_MESSAGES = 4
LOG_LEVEL_WARNINGS = 2
CALL_SLOTS = 4  # what this pjsua2 wheel allows per process, whatever maxCalls says
POLL_MS = 10  # with a call up: the loop drains media figures and tone frames
IDLE_POLL_MS = 50  # with no call: how long a command may wait for the loop (SIP and RTP wake it)
GC_EVERY_S = 0.5  # the main loop's own cyclic garbage collection (young objects; all of them every 20th)


def pjsua_slots_in_use() -> int:
    """How many of pjsua's call slots are taken, as pjsua itself counts them.

    Not the same as our live calls: a call hung up before any response to its INVITE reports
    DISCONNECTED at once, but pjsua keeps its slot until the INVITE transaction ends (Timer B,
    32 s), since a CANCEL may only follow a provisional response. pjsua2 does not expose the
    count; pjsua's C function does (the wheel exports it)."""
    import ctypes

    function = ctypes.CDLL(pj._pjsua2.__file__).pjsua_call_get_count
    function.restype = ctypes.c_uint
    return int(function())


def shorten_transaction_timeout(milliseconds: int) -> None:
    """Give up on an unanswered INVITE (and every other transaction) after `milliseconds`
    instead of RFC 3261's 32 s (Timer B = Timer F = Timer H = pjsip's 'td').

    For the lab's end parties: a call the lab hangs up before any response (its INVITE dropped
    by a firewall, or its responses) cannot be CANCELled, and pjsua keeps its call slot until
    the INVITE transaction times out; with 4 slots per agent, 32 s would let one broken check
    starve the next. pjsip_tsx_set_timers is pjsip's own public setter (exported by the wheel)."""
    import ctypes

    setter = ctypes.CDLL(pj._pjsua2.__file__).pjsip_tsx_set_timers
    setter.argtypes = [ctypes.c_uint] * 4
    setter(0, 0, 0, milliseconds)  # 0 leaves T1, T2, T4 as they are


def claim_stdout() -> TextIO:
    """Keep the real stdout for events; send fd 1 (C-level prints) to stderr."""
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the app dies, however it dies."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


class Emitter:
    """Writes one JSON event per line; safe from any thread."""

    def __init__(self, stream: TextIO, role: str) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.role = role

    def __call__(self, ev: str, **fields: object) -> None:
        line = json.dumps({"ev": ev, "t": time.time(), **fields}, default=str)
        with self._lock:
            try:
                self._stream.write(line + "\n")
            except (BrokenPipeError, ValueError):
                os._exit(0)  # the app is gone: nothing left to report to


class _CaptureWriter(pj.LogWriter):
    """Turns pjsua's whole-message log entries into 'sip' events (or swallows the log, for an
    agent whose wire is reported elsewhere: the gateway's edge reports its own)."""

    def __init__(self, emit: Emitter, capture: bool) -> None:
        super().__init__()
        self._emit = emit
        self._capture = capture

    def write(self, entry: pj.LogEntry) -> None:
        # A Python exception escaping a pjsua2 callback becomes a C++ exception inside pjsua
        # and aborts the process: nothing may escape.
        try:
            wire = parse_log_entry(entry.msg) if self._capture else None
            if wire is not None:
                self._emit(
                    "sip", dir=wire.direction, remote=f"{wire.remote_ip}:{wire.remote_port}", text=wire.text
                )
        except Exception:  # noqa: BLE001
            pass


class Runtime:
    """Owns the Endpoint, the command queue and a timer heap; `run()` is the main loop."""

    def __init__(self, emit: Emitter, *, codecs: tuple[str, ...] = CODECS_CARRIER, clock_rate: int = 16000,
                 capture: bool = True) -> None:
        gc.disable()  # collected by the main loop only, before any other thread starts (module docstring)
        self.emit = emit
        self.commands: queue.Queue[dict | None] = queue.Queue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = itertools.count()
        self._posted: list[Callable[[], None]] = []
        self.stopping = False
        self.busy: Callable[[], bool] = lambda: True  # the agent says when it has calls (Agent.__init__)
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = False
        config.uaConfig.userAgent = f"trunklab-{emit.role}"
        level = LOG_LEVEL_WHOLE_MESSAGES if capture else LOG_LEVEL_WARNINGS  # formatting whole messages costs CPU
        config.logConfig.level = level
        config.logConfig.consoleLevel = level  # the writer only sees entries up to this
        config.logConfig.decor = 0
        if log_dir := os.environ.get("TRUNKLAB_PJSUA_LOG_DIR"):  # debugging aid: pjsua's own log file
            config.logConfig.filename = os.path.join(log_dir, f"{emit.role}-{os.getpid()}.log")
            config.logConfig.level = 5
        self._writer = _CaptureWriter(emit, capture)
        config.logConfig.writer = self._writer
        config.medConfig.clockRate = clock_rate
        config.medConfig.noVad = True  # keep RTP flowing so packet counters mean something
        config.medConfig.hasIoqueue = False  # RTP on the main loop's poll, no media thread polling at 100 Hz
        config.medConfig.threadCnt = 0
        self.ep.libInit(config)
        self.ep.audDevManager().setNullDev()
        self.set_codecs(codecs)
        self.ep.libStart()
        self.clock_rate = clock_rate

    def set_codecs(self, codecs: tuple[str, ...]) -> None:
        """Offer and accept exactly `codecs` (pjsua codec ids), in this order of preference."""
        for info in self.ep.codecEnum2():
            self.ep.codecSetPriority(info.codecId, 0)  # 0 disables: only the codecs we list are offered
        for rank, codec in enumerate(codecs):
            self.ep.codecSetPriority(codec, 255 - rank)

    # ----------------------------------------------------------------- scheduling

    def post(self, action: Callable[[], None]) -> None:
        """Run action on the next loop turn, outside the current pjsua callback."""
        self._posted.append(action)

    def later(self, delay_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._timer_ids), action))

    def every(self, period_s: float, action: Callable[[], None]) -> None:
        def tick() -> None:
            try:
                self.guard(action)
            finally:  # one failure must not stop the reports for good
                self.later(period_s, tick)

        self.later(period_s, tick)

    def start_stdin_reader(self) -> None:
        def read() -> None:
            for line in sys.stdin:
                line = line.strip()
                if not line:
                    continue
                try:
                    self.commands.put(json.loads(line))
                except json.JSONDecodeError:
                    self.emit("error", message=f"unreadable command: {line[:200]}")
            self.commands.put(None)  # EOF: the app closed our stdin (or died)

        threading.Thread(target=read, name="stdin-reader", daemon=True).start()

    def poll_ms(self) -> int:
        """How long the next poll may wait: not at all with work queued, POLL_MS with a call up,
        else until the next timer, at most IDLE_POLL_MS."""
        if self._posted or not self.commands.empty():
            return 0
        if self.busy():
            return POLL_MS
        if self._timers:
            until = int((self._timers[0][0] - time.monotonic()) * 1000)
            return max(0, min(IDLE_POLL_MS, until))
        return IDLE_POLL_MS

    def run(self, handle_command: Callable[[dict], None]) -> None:
        next_gc, collections = time.monotonic() + GC_EVERY_S, 0
        while not self.stopping:
            self.ep.libHandleEvents(self.poll_ms())
            self._run_posted()
            now = time.monotonic()
            if now >= next_gc:
                collections += 1
                gc.collect(2 if collections % 20 == 0 else 1)
                next_gc = now + GC_EVERY_S
            while self._timers and self._timers[0][0] <= now:
                _, _, action = heapq.heappop(self._timers)
                self.guard(action)
            while True:
                try:
                    command = self.commands.get_nowait()
                except queue.Empty:
                    break
                if command is None or command.get("cmd") == "quit":
                    self.stopping = True
                    break
                self.guard(lambda c=command: handle_command(c))

    def _run_posted(self) -> None:
        while self._posted:
            posted, self._posted = self._posted, []
            for action in posted:
                self.guard(action)

    def guard(self, action: Callable[[], None]) -> None:
        """A Python error in one action is reported, and the agent goes on."""
        try:
            action()
        except pj.Error as error:
            # The reason in words; pjsua's function name and source line are for its own log.
            self.emit("error", message=f"the {self.emit.role} agent could not do that: {error.reason}")
        except Exception as error:  # noqa: BLE001 - the agent must outlive a bad command
            self.emit("error", message=f"{type(error).__name__}: {error}")

    # ----------------------------------------------------------------- transports and accounts

    def add_account(self, account: pj.Account, ip: str, port: int, user: str, *, proxy: str | None = None) -> int:
        """A UDP transport bound to ip:port and an account using it (every request it sends goes
        through `proxy` when one is given); returns the transport id."""
        transport = pj.TransportConfig()
        transport.boundAddress = ip
        transport.publicAddress = ip
        transport.port = port
        transport_id = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        try:
            account.create(account_config(ip, port, user, transport_id, proxy=proxy))
        except pj.Error:
            self.ep.transportClose(transport_id)  # not a socket held for nothing
            raise
        return transport_id

    def shutdown(self, release: Callable[[], None]) -> None:
        """Hang up, let the BYEs go out, drop every pjsua2 object, then destroy the library."""
        self.ep.hangupAllCalls()
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            self.ep.libHandleEvents(10)
            self._run_posted()
        release()
        gc.collect()
        # The BYEs went out above; skip pjsua's own 1 s wait for network goodbyes.
        self.ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)


RTP_PORT, RTP_PORT_RANGE = 4000, 200  # per address: every party has its own loopback IP


def account_config(
    ip: str, port: int, user: str, transport_id: int, credentials: tuple[tuple[str, str], ...] = (),
    *, proxy: str | None = None,
) -> pj.AccountConfig:
    """SIP on transport_id, RTP bound to the same ip; digest credentials (username, password)
    answer 401/407 challenges by themselves."""
    config = pj.AccountConfig()
    config.idUri = f"sip:{user}@{ip}:{port}"
    config.sipConfig.transportId = transport_id
    if proxy is not None:
        config.sipConfig.proxies.append(proxy)
    for username, password in credentials:
        config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", username, 0, password))
    media = config.mediaConfig.transportConfig
    media.boundAddress = media.publicAddress = ip
    media.port, media.portRange = RTP_PORT, RTP_PORT_RANGE
    return config
