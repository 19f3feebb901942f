"""The supervisor: starts one OS process per agent, speaks JSON lines with them, restarts the
ones that die, and reports every state change.

Why processes: pjsua2 aborts the whole process on misuse (assertions are compiled in) and
allows 4 calls per process. A crash must cost one agent, never the app; the supervisor brings
it back (first retry after 0.1 s, backing off to 2 s) and the app re-sends its configuration.
The app process never imports pjsua2.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)
STABLE_AFTER_S = 10.0  # an agent up this long has its backoff reset
READY_TIMEOUT_S = 10.0
STOP_GRACE_S = 3.0

EventHandler = Callable[[str, dict], None]


@dataclass(frozen=True)
class AgentSpec:
    name: str  # how the lab names it: "gateway 127.0.0.2", "pstn", "pbx"
    role: str  # "gateway" | "pstn" | "pbx"
    config: dict = field(default_factory=dict)  # addresses and ports, given on the command line


class AgentStartError(RuntimeError):
    pass


class _Agent:
    """One supervised agent: its current process and its bookkeeping."""

    def __init__(self, spec: AgentSpec) -> None:
        self.spec = spec
        self.process: asyncio.subprocess.Process | None = None
        self.state = "down"
        self.restarts = 0
        self.started_at = 0.0
        self.ready = asyncio.Event()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self.tasks: list[asyncio.Task] = []
        self.fatal: str | None = None  # what an agent said when it could not start
        self.removed = False  # stopped for good by Supervisor.remove: never restarted


class Supervisor:
    spawned_pids: set[int] = set()  # every agent process any supervisor started (for leak checks)

    def __init__(
        self,
        specs: list[AgentSpec],
        on_event: EventHandler,
        *,
        on_up: Callable[[str], Awaitable[None]] | None = None,
        python: str = sys.executable,
    ) -> None:
        self._agents = {spec.name: _Agent(spec) for spec in specs}
        self._on_event = on_event
        self._on_up = on_up
        self._python = python
        self._stopping = False

    # ------------------------------------------------------------------ public

    @property
    def states(self) -> dict[str, str]:
        return {name: agent.state for name, agent in self._agents.items()}

    def pid(self, name: str) -> int | None:
        agent = self._agents.get(name)
        process = agent.process if agent else None
        return process.pid if process and process.returncode is None else None

    async def start(self) -> None:
        """Start every agent and wait until each has said it is ready."""
        for agent in self._agents.values():
            await self._spawn(agent)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(a.ready.is_set() for a in self._agents.values()):
            failed = [a for a in self._agents.values() if a.fatal]
            if failed or time.monotonic() > deadline:
                reasons = [a.fatal for a in failed] or [
                    f"{a.spec.name} not ready after {READY_TIMEOUT_S:g} s: {' | '.join(list(a.stderr_tail)[-2:])}"
                    for a in self._agents.values() if not a.ready.is_set()]
                await self.stop()
                raise AgentStartError("; ".join(reasons))
            await asyncio.sleep(0.02)

    async def add(self, spec: AgentSpec) -> None:
        """Start one more agent while the others run (the built-in PBX switched back on) and
        wait until it is ready; if it cannot start, it is stopped and forgotten again."""
        agent = self._agents[spec.name] = _Agent(spec)
        await self._spawn(agent)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not agent.ready.is_set():
            if agent.fatal or time.monotonic() > deadline:
                reason = agent.fatal or f"{spec.name} not ready after {READY_TIMEOUT_S:g} s"
                await self.remove(spec.name)
                raise AgentStartError(reason)
            await asyncio.sleep(0.02)

    async def remove(self, name: str) -> None:
        """Stop one agent for good (the built-in PBX switched off): it is not restarted."""
        agent = self._agents.get(name)
        if agent is not None:
            agent.removed = True
            await self._stop_one(agent)  # asks it to quit first, so it is still listed meanwhile
            self._agents.pop(name, None)

    async def send(self, name: str, command: dict) -> bool:
        """Send one command; False when the agent is not up (the caller decides what that means)."""
        agent = self._agents.get(name)
        if agent is None:
            return False
        process = agent.process
        if process is None or process.stdin is None or agent.state != "up":
            return False
        try:
            process.stdin.write((json.dumps(command) + "\n").encode())
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    async def stop(self) -> None:
        """Ask every agent to quit, then terminate, then kill: no process survives this."""
        self._stopping = True
        await asyncio.gather(*(self._stop_one(a) for a in self._agents.values()))

    # ------------------------------------------------------------------ internals

    def _emit(self, name: str, event: dict) -> None:
        event.setdefault("t", time.time())
        self._on_event(name, event)

    def _set_state(self, agent: _Agent, state: str, **details: object) -> None:
        agent.state = state
        self._emit(agent.spec.name, {"ev": "agent", "state": state, "restarts": agent.restarts, **details})

    async def _spawn(self, agent: _Agent) -> None:
        agent.ready.clear()
        self._set_state(agent, "starting" if agent.restarts == 0 else "restarting")
        agent.process = await asyncio.create_subprocess_exec(
            self._python, "-m", "sip.agent", agent.spec.role, json.dumps(agent.spec.config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            limit=4 * 1024 * 1024,  # one event line carries a whole SIP message
        )
        agent.started_at = time.monotonic()
        Supervisor.spawned_pids.add(agent.process.pid)
        agent.tasks = [
            asyncio.create_task(self._read_events(agent, agent.process)),
            asyncio.create_task(self._read_stderr(agent, agent.process)),
        ]

    async def _read_events(self, agent: _Agent, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            if not isinstance(event, dict):  # not a JSON object: said, and the reading goes on
                self._emit(agent.spec.name, {"ev": "error", "message": f"unreadable agent output: {line[:200]!r}"})
                continue
            if event.get("ev") == "fatal":
                agent.fatal = event.get("message", "agent failed to start")
            try:
                if event.get("ev") == "ready":
                    self._set_state(agent, "up", pid=process.pid)
                    agent.ready.set()
                    if self._on_up is not None:
                        await self._on_up(agent.spec.name)
                self._emit(agent.spec.name, event)
            except Exception as error:  # noqa: BLE001 - a listener's bug must not stop this reader
                print(f"trunklab: while handling {agent.spec.name}'s event: {error!r}", file=sys.stderr)
        code = await process.wait()
        if not self._stopping and not agent.removed and process is agent.process:
            await self._restart(agent, code)

    async def _read_stderr(self, agent: _Agent, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            agent.stderr_tail.append(line.decode(errors="replace").rstrip())

    async def _restart(self, agent: _Agent, code: int) -> None:
        if time.monotonic() - agent.started_at > STABLE_AFTER_S:
            agent.restarts = 0
        reason = _exit_reason(code)
        last_words = next((line for line in reversed(agent.stderr_tail) if line.strip()), "")
        delay = BACKOFF_S[min(agent.restarts, len(BACKOFF_S) - 1)]
        agent.restarts += 1
        agent.state = "crashed"  # not "up" during the backoff: commands to it must fail as such
        agent.ready.clear()
        self._emit(agent.spec.name, {
            "ev": "agent", "state": "crashed", "exit": code, "reason": reason, "last_words": last_words,
            "restart_in_s": delay, "restarts": agent.restarts,
        })
        await asyncio.sleep(delay)
        if not self._stopping and not agent.removed:
            await self._spawn(agent)

    async def _stop_one(self, agent: _Agent) -> None:
        process = agent.process
        if process is not None and process.returncode is None:
            await self.send(agent.spec.name, {"cmd": "quit"})
            for sig, wait in ((None, STOP_GRACE_S), (signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
                if sig is not None and process.returncode is None:
                    process.send_signal(sig)
                try:
                    await asyncio.wait_for(process.wait(), wait)
                    break
                except TimeoutError:
                    continue
        for task in agent.tasks:
            task.cancel()
        await asyncio.gather(*agent.tasks, return_exceptions=True)
        if agent.state != "down":
            self._set_state(agent, "down")


def _exit_reason(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return f"killed by {name}"
    if code == 134:
        return "aborted (pjsua assertion)"
    return f"exited with status {code}"
