"""The lab: the store's account brought to life as agents, and calls placed through them.

This is the imperative shell around the pure core. It starts one agent per System Gateway
address, a PSTN agent and a PBX agent (sip/supervisor.py), pushes the account to them at start
and after every change to the database (by this process or any other: the command line, a
second console), folds their reports (sip/wire.py) into calls (sip/calls.py), keeps each
call's CDR in the store (written when it starts, completed when it ends), keeps the Verification Checklist, and
tells listeners (the console, `serve`) about everything as typed events (sip/events.py).

The lab is the one owner of what the console shows: it reads the account and the exercise
progress once per change and publishes them; screens read `lab.account`, `lab.progress`,
`lab.book`, `lab.checklist`, `lab.lesson`, never the store.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from store import Store
from store.records import Account, ChecklistRun, ExerciseProgress, PbxTrunk, account_to_wire, stopped_reason

from .calls import Applied, CallBook, LabCall, call_record
from .capture import CaptureError, LoopbackCapture, lab_blocks
from .checklist import ChecklistItem, counts, evaluate
from .checklist import running as checklist_running
from .events import (
    AccountChanged,
    AgentConfigured,
    AgentError,
    AgentStateChanged,
    CallChanged,
    ChecklistChanged,
    EngineEvent,
    EngineFailed,
    EngineStarted,
    FirewallDropped,
    GatewayDecided,
    LessonChanged,
    MediaChanged,
    PbxTrunkApplied,
    ProgressChanged,
    SipCaptured,
)
from .exercise import running_exercise
from .lesson import Lesson
from .lesson import evaluate as evaluate_lesson
from .pcap import pcap_bytes, select_call
from .routing import allowed_sources, dialled_number
from .supervisor import AgentSpec, AgentStartError, Supervisor
from .wire import (
    AgentProblem,
    AgentReport,
    AnsweringSet,
    Configured,
    GatewayDecision,
    MediaFigures,
    Pong,
    ProcessState,
    Ready,
    TrunkApplied,
    parse_report,
)

Listener = Callable[[EngineEvent], None]
SupervisorFactory = Callable[["Lab", list[AgentSpec]], Supervisor]
WATCH_S = 0.25  # how often the lab looks for commits by other processes (PRAGMA data_version)
HISTORY_CALLS = 50  # CDRs of earlier sessions shown in the call list


class LabError(RuntimeError):
    """A request the lab cannot carry out (no such number, no such address, agent down)."""


@dataclass(frozen=True)
class AgentLoad:
    """What an agent says it holds (its pong): calls in progress, and pjsua's free call slots.
    A leg that was hung up is no call any more, but keeps its slot until its BYE or CANCEL is
    answered (sip/agent/runtime.py, pjsua_slots_in_use)."""

    calls: int
    free_slots: int


# Characters a SIP URI's user part may carry unescaped (RFC 3261 unreserved + user-unreserved).
_USER_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/")


MAX_DIAL = 32  # E.164 numbers have 15 digits at most; a SIP user name to practise a 404 needs no more


def dial_string(typed: str) -> str:
    """What a caller puts in the Request-URI for what the trainee typed: a phone number in E.164
    digits (as carriers expect), or any other URI-safe word as it is (to practise a 404)."""
    if len(typed.strip()) > MAX_DIAL:  # 200 digits once went out, and into a pcap's file name
        raise LabError(f"{typed.strip()[:20]!r}... is too long to dial: {MAX_DIAL} characters at most "
                       "(a phone number has 15 digits at most)")
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


def agent_specs(account: Account, *, b_leg_timeout_s: float = 4.0, tally: str | None = None) -> list[AgentSpec]:
    """What each agent is told on its command line: addresses and timings, nothing secret (each
    gateway makes its own digest nonces, in memory). `tally`: the file where the gateways keep
    their calls per endpoint together (sip/agent/tally.py)."""
    specs = [
        AgentSpec(f"gateway {a.ip}", "gateway", {"ip": a.ip, "port": a.port, "b_leg_timeout_s": b_leg_timeout_s,
                                                 **({"tally": tally} if tally else {})})
        for a in account.system_gateway.addresses
    ]
    pstn = account.party("pstn")
    specs.append(AgentSpec("pstn", "pstn", {"ip": pstn.ip, "port": pstn.port,
                                            "gateways": [a.ip for a in account.system_gateway.addresses]}))
    if account.builtin_pbx:  # off: the endpoint's addresses name a PBX of your own
        specs.append(pbx_spec(account))
    return specs


def pbx_spec(account: Account) -> AgentSpec:
    pbx, roaming = account.party("pbx"), account.party("pbx_roaming")
    return AgentSpec("pbx", "pbx", {"ip": pbx.ip, "roaming_ip": roaming.ip, "port": pbx.port})


SETTLE_S = 0.25
CDR_SETTLE_S = 0.3  # an ended call's CDR is written this long after its end: its last BYE/200 trail it
CALLS_PER_GATEWAY = 2  # the edge's capacity per System Gateway address (sip/edge/proxy.py)
CALL_SLOTS_PER_AGENT = 4  # pjsua's call slots in one agent process (sip/agent/runtime.py)
PROBE_ANSWER_TIMEOUT_S = 4.5  # a checklist call not answered by then failed (a B leg gives up at 4 s)
YOUR_PBX_ANSWER_TIMEOUT_S = 15.0  # a PBX of yours may ring a while before it answers
CONFIGURE_TIMEOUT_S = 30.0
PSTN_TEST_NUMBER = "14155550123"  # a fictional 555-01xx number on the PSTN side


class Lab:
    def __init__(self, store: Store, *, b_leg_timeout_s: float = 4.0,
                 supervisor_factory: SupervisorFactory | None = None, capture: bool = False) -> None:
        """supervisor_factory(lab, specs) makes what runs the agents: the real Supervisor by
        default; sip.replay's RecordedSupervisor replays a recorded session.
        capture=True also captures the lab's packets on lo, for export_pcap."""
        self.store = store
        self._supervisor_factory = supervisor_factory or (
            lambda lab, specs: Supervisor(specs, lab.on_agent_event, on_up=lab.configure_agent))
        self.b_leg_timeout_s = b_leg_timeout_s
        self.account: Account | None = None  # None until load()
        self.progress: dict[str, ExerciseProgress] = {}  # scenario -> progress, in start order
        self.exercise: str | None = None  # the exercise running now (started last, not solved)
        self.checklist: list[ChecklistItem] = []
        self.checklist_running = False
        self.lesson: Lesson | None = None  # the guided lesson as it stands (sip/lesson.py)
        self.lesson_done: dict[str, float] = {}  # step -> when the store first saw it done
        self._lesson_recording: set[str] = set()  # steps being written to the store now
        self._before_account_change: set[str] = set()  # calls placed before the account last changed
        self._lesson_error = ""  # why the lesson's progress could not be recorded (said once)
        self.engine_error = ""  # why the agents could not start, if they could not
        self.book = CallBook()
        self.supervisor: Supervisor | None = None
        self._listeners: list[Listener] = []
        self._refs = itertools.count(1)
        self._via_turn = itertools.count()
        self._addresses: dict[str, str] = {}  # agent name -> its main ip:port
        self._unsubscribe: list[Callable[[], None]] = []
        self._watch_task: asyncio.Task | None = None
        self._refresh_task: asyncio.Task | None = None
        self._dirty: set[str] = set()  # store topics to read again: 'account', 'progress'
        self._data_version = 0
        self._not_counted: set[str] = set()  # calls from before the checklist last started over
        self._judged: set[str] = set()  # finished calls the checklist has already judged
        self._answering: dict[str, tuple[float, float]] = {}  # what an end party confirmed (set_answering)
        self._waiters: list[asyncio.Future] = []
        self._cdr_stage: dict[str, str] = {}  # call ref -> the stage its CDR was last written at
        self._cdr_ids: dict[str, int] = {}  # call ref -> its CDR's id in the store
        self._cdr_lock = asyncio.Lock()  # a call's writes in the order they were asked for
        self._background: set[asyncio.Task] = set()  # CDR writes and hang-ups; stop() waits for them
        self._configured: set[str] = set()  # agents that acknowledged their configuration
        self._loads: dict[str, AgentLoad] = {}  # agent -> what its last pong said it holds
        self._pbx_settings_sent: dict | None = None  # the PBX trunk settings it was last sent
        self.pbx_source_port: int | None = None  # the source port the PBX says it sends from
        self._capture_wanted = capture
        self.capture: LoopbackCapture | None = None
        self.capture_error = "" if capture else "packet capture is off in this lab"
        self._run_dir: str | None = None  # the agents' shared files for this run (calls per endpoint)

    # ------------------------------------------------------------------ life cycle

    async def load(self) -> None:
        """Read the account, the exercise progress and the stored calls, and from now on follow
        every change to the database, whoever makes it. start() calls it; the console calls it
        first, to show the account while the agents start. Idempotent."""
        if self.account is not None:
            return
        self._data_version = await self.store.data_version()
        self.account = await self.store.account()
        self.progress = await self.store.exercise_progress()
        self.exercise = running_exercise(self.progress)
        self.book.add_history(await self.store.calls(limit=HISTORY_CALLS))
        self._refresh_book()
        self.checklist = evaluate([], self.account)
        self.lesson_done = await self.store.lesson_progress()
        self._update_lesson()
        self._unsubscribe = [self.store.subscribe(lambda: self._changed("account"), "account"),
                             self.store.subscribe(lambda: self._changed("progress"), "progress")]
        self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def start(self) -> None:
        """Start the agents and configure them; publishes EngineStarted, or EngineFailed and raises."""
        try:
            await self.load()
            self._run_dir = tempfile.mkdtemp(prefix="trunklab-run-")  # owner-only; gone at stop()
            specs = agent_specs(self.account, b_leg_timeout_s=self.b_leg_timeout_s,
                                tally=os.path.join(self._run_dir, "calls-per-endpoint.json"))
            for spec in specs:
                self._addresses[spec.name] = f"{spec.config['ip']}:{spec.config['port']}"
            self.supervisor = self._supervisor_factory(self, specs)
            if self._capture_wanted:
                self._start_capture()  # before the agents: a call's first INVITE is in the capture
            await self.supervisor.start()
            # Up is not enough: a gateway without the account answers 503. Wait for each to confirm
            # (generously: on a machine saturated by a classroom, 10 s was measured to be too short).
            if not await self.wait_until(lambda: self._configured >= set(self._addresses), CONFIGURE_TIMEOUT_S):
                raise LabError(f"agents not configured: {sorted(set(self._addresses) - self._configured)}")
        except Exception as error:
            self.engine_error = str(error)
            self._publish(EngineFailed(self.engine_error))
            raise
        self._publish(EngineStarted())

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for task in (self._watch_task, self._refresh_task):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.supervisor is not None:
            await self.supervisor.stop()
        if self.capture is not None:
            self.capture.close()  # its packets stay exportable
        for call in self.book.calls.values():  # the agents are gone: what is left never ended
            if not call.finished and call.ref in self._cdr_stage:
                call.final_reason = stopped_reason("the lab", call.answered_at is not None)
                self._spawn(self._write_cdr(call, state="interrupted"))
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """listener(event) hears every EngineEvent from now on; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def gateway_addresses(self) -> list[str]:
        return [f"{a.ip}:{a.port}" for a in self.account.system_gateway.addresses]

    @property
    def ready(self) -> bool:
        """Every agent up and configured: calls can be placed (after a restart too)."""
        return self._configured >= set(self._addresses) and set(self.agent_states.values()) == {"up"}

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
        if call.stored:
            raise LabError(f"call {ref} is from an earlier session: this one did not capture its packets")
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
        self.book.set_firewall(self.account.firewall_rules)
        if not self.account.builtin_pbx:  # your own PBX: its firewall is not the lab's to show
            self.book.pbx_addresses = set()
        self.book.outside_pbx, self.book.pstn_ip = not self.account.builtin_pbx, self.account.party("pstn").ip

    async def configure_agent(self, name: str) -> None:
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

    # ------------------------------------------------------------------ following the database

    def _changed(self, topic: str) -> None:
        """A topic of the store changed: read it again (once, however many commits came)."""
        self._dirty.add(topic)
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.get_running_loop().create_task(self._refresh())

    async def _watch(self) -> None:
        """Commits by other processes do not reach this process's store listeners; SQLite's
        data_version on our connection changes with each of them, so look at it often."""
        said = ""
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                version = await self.store.data_version()
            except Exception as error:  # noqa: BLE001 - a broken file is said (once), not fatal
                if str(error) != said:
                    said = str(error)
                    self._publish(AgentError("lab", f"cannot read the database: {error}"))
                continue
            said = ""
            if version != self._data_version:
                self._data_version = version
                self._changed("account")
                self._changed("progress")

    async def _refresh(self) -> None:
        while self._dirty:  # a change committed while we were reading: read again
            topics, self._dirty = self._dirty, set()
            try:
                if "account" in topics:
                    await self._reload_account()
                if "progress" in topics:
                    await self._reload_progress()
            except Exception as error:  # noqa: BLE001 - the lab keeps running on what it has
                self._publish(AgentError("lab", f"cannot read the database: {error}"))

    async def _reload_account(self) -> None:
        account = await self.store.account()
        if account == self.account:
            return  # a commit that changed no configuration (a CDR, another lab's progress)
        self.account = account
        self._before_account_change = set(self.book.calls)  # they tested another configuration
        self._refresh_book()
        if self.supervisor is not None:
            await self._follow_builtin_pbx()
            for name in list(self.supervisor.states):
                await self.configure_agent(name)
        self._publish(AccountChanged(account))
        self.lesson_done = await self.store.lesson_progress()  # a reset starts the lesson over
        self._update_checklist()  # causes and fixes name the account
        self._update_lesson()

    async def _follow_builtin_pbx(self) -> None:
        """The built-in PBX switched off: its agent stops (its addresses are free for a PBX of
        yours); switched on: it starts again (and is configured as it comes up)."""
        running = "pbx" in self.supervisor.states
        if self.account.builtin_pbx == running:
            return
        if running:
            await self.supervisor.remove("pbx")
            self._addresses.pop("pbx", None)
            self._configured.discard("pbx")
            self._pbx_settings_sent = None
            return
        spec = pbx_spec(self.account)
        self._addresses["pbx"] = f"{spec.config['ip']}:{spec.config['port']}"
        try:
            await self.supervisor.add(spec)
        except AgentStartError as error:
            self._addresses.pop("pbx", None)
            self._publish(AgentError("lab", f"the built-in PBX cannot start ({error}): is a PBX of yours still "
                                            f"using {spec.config['ip']}:{spec.config['port']}?"))

    async def _reload_progress(self) -> None:
        progress = await self.store.exercise_progress()
        if progress == self.progress:
            return
        started = [name for name, p in progress.items()
                   if name not in self.progress or self.progress[name].started_at != p.started_at]
        self.progress = progress
        self.exercise = running_exercise(progress)
        if started:  # a new attempt: the last one's results and drops are not this one's
            self.book.clear_firewall_history()
            self._start_checklist_over(running=False)
        self._publish(ProgressChanged(dict(progress), self.exercise))

    # ------------------------------------------------------------------ the checklist

    def _start_checklist_over(self, *, running: bool) -> None:
        """Calls placed so far no longer count; the items are cleared (or shown running)."""
        self._not_counted = set(self.book.calls)
        self.checklist_running = running
        self.checklist = checklist_running() if running else evaluate([], self.account)
        self._publish(ChecklistChanged(tuple(self.checklist), running))
        self._update_lesson()

    def _counted_calls(self) -> list[LabCall]:
        return [c for c in self.book.calls.values() if c.ref not in self._not_counted and counts(c)]

    def _update_checklist(self) -> None:
        """The checklist from the calls that count (not while a run is placing its calls)."""
        if self.checklist_running or self.account is None:
            return
        items = evaluate(self._counted_calls(), self.account)
        if items != self.checklist:
            self.checklist = items
            self._publish(ChecklistChanged(tuple(items), False))
        self._update_lesson()

    # ------------------------------------------------------------------ the guided lesson

    def _update_lesson(self) -> None:
        """The lesson from the account, the calls and the checklist as they are now; a step
        seen done for the first time is recorded in the store (with when)."""
        if self.account is None:
            return
        # The lesson's checklist judges the trunk as it is now: calls placed before the account
        # last changed do not count there (Home's checklist keeps them, with their causes).
        checklist = self.checklist if self.checklist_running else evaluate(
            [c for c in self._counted_calls() if c.ref not in self._before_account_change], self.account)
        lesson = evaluate_lesson(self.account, self.book.calls.values(), checklist, self.lesson_done)
        if lesson != self.lesson:
            self.lesson = lesson
            self._publish(LessonChanged(lesson))
        new = [key for key in lesson.done_keys if key not in self.lesson_done and key not in self._lesson_recording]
        if new:
            self._lesson_recording.update(new)
            self._spawn(self._record_lesson(new))

    async def _record_lesson(self, steps: list[str]) -> None:
        try:
            done = await self.store.record_lesson_steps(steps, now=time.time())
        except Exception as error:  # noqa: BLE001 - the lesson on screen stands; its record is said lost
            if str(error) != self._lesson_error:  # retried at the next change, said once
                self._lesson_error = str(error)
                self._publish(AgentError("lab", f"cannot record the lesson's progress in the database: {error}"))
            return
        finally:
            self._lesson_recording.difference_update(steps)
        self._lesson_error = ""
        if done != self.lesson_done:
            self.lesson_done = done
            self._update_lesson()  # step 1 stays done from now on, whatever calls remain

    # ------------------------------------------------------------------ agent reports

    def on_agent_event(self, name: str, event: dict) -> None:
        """One event off an agent's wire (the supervisor calls this): parsed once, here."""
        report = parse_report(event)
        if report is not None:
            self.on_report(name, report)

    def on_report(self, name: str, report: AgentReport) -> None:
        if isinstance(report, Ready):  # a (re)started agent must be configured again; the PSTN needs nothing
            if name == "pstn":
                self._configured.add(name)
                self._publish(AgentConfigured(name))
            else:
                self._configured.discard(name)
            if name == "pbx":
                self._pbx_settings_sent = None
        elif isinstance(report, TrunkApplied):
            self.pbx_source_port = report.source_port
            self._publish(PbxTrunkApplied(report.source_port))
        elif isinstance(report, Configured):
            self._configured.add(name)
            self._publish(AgentConfigured(name))
        elif isinstance(report, Pong):
            self._loads[name] = AgentLoad(report.calls, report.free_slots)
        elif isinstance(report, AnsweringSet):
            self._answering[name] = (report.ring_s, report.early_media_s)
        elif isinstance(report, AgentProblem):
            self._publish(AgentError(name, report.message))
        elif isinstance(report, ProcessState):
            detail = f"{report.reason}; restarting in {report.restart_in_s:g} s" if report.state == "crashed" and \
                report.restart_in_s is not None else report.reason
            self._publish(AgentStateChanged(name, report.state, detail, report.last_words))
            if report.state == "crashed":
                self._agent_died(name, report)
        applied = self.book.apply(name.split()[0], self._addresses.get(name, ""), report)
        self._announce(name, report, applied)

    def _announce(self, name: str, report: AgentReport, applied: Applied) -> None:
        call = applied.call
        if call is not None:
            for message in applied.messages:
                self._publish(SipCaptured(call.ref, message))
            if isinstance(report, GatewayDecision):
                self._publish(GatewayDecided(call.ref, name.split()[0], report))
            elif isinstance(report, MediaFigures):
                self._publish(MediaChanged(call.ref, name.split()[0], report))
            elif not applied.messages:
                self._publish(CallChanged(call.ref))
        for drop in applied.drops:
            self._publish(FirewallDropped(drop))
        if call is not None:
            self._record(call)
            self._finished(call, sip_only=bool(applied.messages))
            if isinstance(report, GatewayDecision) or call.finished:
                self._update_lesson()  # a call reached the gateway (step 1), or your PBX's call ended
        self._wake()  # whoever waits on the lab (wait_until: a pong, a configured agent) looks again

    def _finished(self, call: LabCall, *, sip_only: bool = False) -> None:
        """A finished call that counts updates the checklist; again when a later report about it
        arrives (media figures: what the far end heard), but not for a SIP message alone (a
        retransmission after the end changes no verdict, and judging is not free)."""
        if not (call.finished and counts(call) and call.ref not in self._not_counted):
            return
        if sip_only and call.ref in self._judged:
            return
        self._judged.add(call.ref)
        self._update_checklist()

    def _agent_died(self, name: str, report: ProcessState) -> None:
        """An agent died: every call it was part of fails, saying so, and the legs the other
        agents still hold are hung up at once (else the PSTN would stream RTP to a dead port,
        and a PBX hold a call nobody is on, until the lab stops)."""
        address = self._addresses.get(name, "")
        hang_up: dict[str, set[str]] = {}
        for call in self.book.cut_short(address, party_title(name), report.reason, report.t):
            call.notes.append(f"{name} {report.reason}: the lab hung up the call's legs on the other agents; "
                              "the supervisor restarts it")
            for other, sip_call_ids in call.legs_elsewhere(address).items():
                hang_up.setdefault(other, set()).update(sip_call_ids)
            self._publish(CallChanged(call.ref))
            self._record(call)
            self._finished(call)
        names = {agent_address: agent for agent, agent_address in self._addresses.items()}
        for other, sip_call_ids in hang_up.items():
            if other in names:
                self._spawn(self.supervisor.send(names[other], {"cmd": "hangup", "sip_call_ids": sorted(sip_call_ids)}))
        self._wake()

    def _spawn(self, work) -> None:
        """Run `work` in the background; stop() waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _publish(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

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

    def _record(self, call: LabCall) -> None:
        """Keep a lab call's CDR up to date: written when the call starts, rewritten when it is
        answered and when it ends, so a call in progress when the process dies is not lost (the
        next open marks it interrupted)."""
        if call.external or call.stored:
            return
        stage = "ended" if call.finished else "answered" if call.answered_at is not None else "started"
        if self._cdr_stage.get(call.ref) == stage:
            return
        self._cdr_stage[call.ref] = stage
        # the last messages of a call (BYE/200) trail its end
        self._spawn(self._write_cdr(call, delay_s=CDR_SETTLE_S if call.finished else 0.0))

    async def _write_cdr(self, call: LabCall, *, delay_s: float = 0.0, state: str | None = None) -> None:
        await asyncio.sleep(delay_s)
        async with self._cdr_lock:
            self._cdr_ids[call.ref] = await self.store.record_call(call_record(call, state), self._cdr_ids.get(call.ref))

    # ------------------------------------------------------------------ placing calls

    def open_call(self, ref: str, *, started_at: float, **details: object) -> LabCall:
        """Open a lab call before an agent is asked to dial it (its reports then find it)."""
        call = self.book.calls.get(ref) or self.book.open(ref, started_at=started_at, **details)
        self._publish(CallChanged(ref))
        self._record(call)
        return call

    def _placed(self, **details: object) -> LabCall:
        return self.open_call(f"c{next(self._refs)}", started_at=time.time(), **details)

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
        call = self._placed(direction="inbound", to_number=to, from_number=from_number, gateway=gateway,
                            caller_agent=self._addresses["pstn"])
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
        if not self.account.builtin_pbx:
            raise LabError(f"the built-in PBX is off: outbound calls come from your own PBX. Dial "
                           f"+{PSTN_TEST_NUMBER} (any E.164 number reaches the lab's PSTN) from it, "
                           f"through {' or '.join(self.gateway_addresses)}")
        # Credentials typed for this one call are practice (a deliberate 401), not the trunk
        # as configured: such a call never counts in the checklist.
        practice = endpoint_sid is not None or voip_token is not None or omit_header is not None
        gateway = self._gateway_named(via)
        to = dial_string(to)
        options = call_options(dtmf, delayed_offer)
        trunk = self._pbx_trunk()
        sid = endpoint_sid if endpoint_sid is not None else trunk.endpoint_sid
        token = voip_token if voip_token is not None else trunk.voip_token
        if auth == "header" and not trunk.send_voip_token_header and omit_header is None:
            omit_header = "X-Auth-VoipToken"
        call = self._placed(direction="outbound", to_number=to, from_number=self._pbx_caller_id(),
                            gateway=gateway, requested_auth=auth, practice=practice,
                            caller_agent=self._addresses["pbx"])
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
        endpoint = self.account.pbx_endpoint()
        numbers = self.account.assigned_phonenumbers(endpoint.endpoint_sid) if endpoint else ()
        return numbers[0].phonenumber if numbers else "pbx"

    async def _send(self, agent: str, command: dict) -> None:
        if not await self.supervisor.send(agent, command):
            call = self.book.calls.get(command.get("ref", ""))
            if call is not None and not call.finished:  # it never left: not a call "dialling" forever
                call.state, call.final_code, call.final_reason = "failed", 503, f"the {agent} agent is not up"
                call.ended_at = time.time()
                self._publish(CallChanged(call.ref))
                self._record(call)
                self._finished(call)
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
        wanted = (float(ring_s), float(early_media_s))
        self._answering.pop(party, None)
        await self._send(party, {"cmd": "answering", "ring_s": ring_s, "early_media_s": early_media_s})
        # the agent reads commands between polls: a call placed at once could reach it first
        if not await self.wait_until(lambda: self._answering.get(party) == wanted, 5.0):
            raise LabError(f"the {party} agent did not confirm how it answers calls")

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
            await self.wait_until(lambda: call.finished, hold_s)  # held, unless it ends first
            await self.hangup(call.ref)
        elif not call.finished:
            await self.hangup(call.ref)  # cancel a call nobody answered
        await self.wait_until(lambda: call.finished, 10.0)
        await asyncio.sleep(SETTLE_S)  # the last BYE/200 of the far leg trail the caller's end
        return call

    async def agent_loads(self, timeout: float = 2.0) -> dict[str, AgentLoad]:
        """What each agent that is up holds, as it says itself (ping -> pong)."""
        self._loads = {}
        asked = [name for name in self.supervisor.states if await self.supervisor.send(name, {"cmd": "ping"})]
        await self.wait_until(lambda: set(self._loads) >= set(asked), timeout)
        return dict(self._loads)

    async def free_slots(self) -> dict[str, int]:
        """Each agent's free pjsua call slots, asked now (an agent that does not answer: 0)."""
        loads = await self.agent_loads()
        return {name: loads[name].free_slots if name in loads else 0 for name in self.supervisor.states}

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

    async def run_checklist(self, *, hold_s: float = 1.2, answer_timeout_s: float | None = None,
                            ) -> tuple[list[ChecklistItem], list[LabCall]]:
        """The seed's Verification Checklist, for real: an inbound call through every System
        Gateway address and an outbound call with each authentication method, all at once as
        far as each gateway address's capacity allows (a trunk with a firewall hole is judged in
        about the time one unanswered call takes, not in the sum of them). Meanwhile the
        checklist shows 'running' (earlier results cleared); then this run's results."""
        if self.checklist_running:
            raise LabError("the checklist is already running")
        if answer_timeout_s is None:
            answer_timeout_s = PROBE_ANSWER_TIMEOUT_S if self.account.builtin_pbx else YOUR_PBX_ANSWER_TIMEOUT_S
        started = time.time()
        self._start_checklist_over(running=True)
        calls: list[LabCall] = []
        try:
            calls = await self._probes(hold_s, answer_timeout_s)
            items = evaluate(calls, self.account)
            await self._record_run(started, items)  # kept before it is shown: the trainer's view is never behind
        finally:
            self.checklist_running = False
            self.checklist = []  # so that the update below publishes even an unchanged result
            self._update_checklist()
        return items, calls

    async def _record_run(self, started: float, items: list[ChecklistItem]) -> None:
        """Keep the run in the database (the classroom's dashboard reads it); a database that
        cannot be written is said, and the checklist's result stands."""
        run = ChecklistRun(started, time.time(), all(i.passed for i in items),
                           tuple((i.title, i.status, i.detail) for i in items), self.exercise)
        try:
            await self.store.record_checklist_run(run)
        except Exception as error:  # noqa: BLE001 - the result on screen matters more than its record
            self._publish(AgentError("lab", f"cannot record the checklist in the database: {error}"))

    async def _probes(self, hold_s: float, answer_timeout_s: float) -> list[LabCall]:
        gateways = self.gateway_addresses
        slots = {gateway: asyncio.Semaphore(CALLS_PER_GATEWAY) for gateway in gateways}
        # Every probe takes a call slot at the PSTN and one at the PBX. A slot pjsua still holds
        # for an INVITE abandoned by an earlier check is not free: fewer probes at once, then.
        free = await self.free_slots()
        ends = ("pstn", "pbx") if self.account.builtin_pbx else ("pstn",)
        parties = asyncio.Semaphore(max(1, min(free.get(end, 0) for end in ends)))

        async def probe(gateway: str, place) -> LabCall:
            async with parties, slots[gateway]:
                call = await place(gateway)
                return await self.run_call(call, hold_s=hold_s, answer_timeout_s=answer_timeout_s)

        number = self.test_number()
        inbound = [probe(g, lambda via: self.place_inbound(number, via=via)) for g in gateways] if number else []
        outbound = [  # each method through a fixed address, so the verdict is the same every time
            probe(gateways[i % len(gateways)], lambda via, auth=auth: self.place_outbound(PSTN_TEST_NUMBER, auth=auth, via=via))
            for i, auth in enumerate(("ip", "proxy", "header"))
        ] if self.account.builtin_pbx else []  # your own PBX places its calls itself: they count as it does
        calls = list(await asyncio.gather(*inbound, *outbound))
        if not self.account.builtin_pbx:
            calls += [c for c in self.book.calls.values() if c.external and not c.stored
                      and c.direction == "outbound" and c.finished]
        return calls

    def test_number(self) -> str | None:
        """The number an inbound test call dials: the PBX endpoint's first assigned number, else
        the account's first number (which then fails, showing why); None without any number
        (the checklist then says what is missing)."""
        endpoint = self.account.pbx_endpoint()
        assigned = self.account.assigned_phonenumbers(endpoint.endpoint_sid) if endpoint else ()
        numbers = assigned or self.account.dids
        return numbers[0].phonenumber if numbers else None



def party_title(agent_name: str) -> str:
    """An agent as a trainee knows it: 'gateway 127.0.0.2' -> 'the System Gateway 127.0.0.2'."""
    role, _, address = agent_name.partition(" ")
    title = {"gateway": "the System Gateway", "pstn": "the PSTN", "pbx": "the PBX"}.get(role, f"the {role} agent")
    return f"{title} {address}".strip()
