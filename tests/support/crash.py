"""Fault drills on a running lab: kill an agent in the middle of a call, then watch what the
surviving agents do (the test of it and bench/crash.py share this)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field

from sip.lab import CALL_SLOTS_PER_AGENT, Lab, LabCall

WAYS_TO_DIE = ("crash", "SIGKILL")  # os.abort() inside the agent (as a pjsua assertion), or kill -9


@dataclass
class Drill:
    """What happened after `agent` died at `killed_at` (time.monotonic())."""

    agent: str
    killed_at: float
    legs_gone_s: float | None = None  # until every surviving agent said it holds no call
    slots_free_s: float | None = None  # until their pjsua call slots were free too (BYEs answered)
    rtp_after_s: list[float] = field(default_factory=list)  # datagrams that reached the dead agent's RTP ports

    @property
    def last_rtp_s(self) -> float | None:
        return max(self.rtp_after_s, default=None)


class _PortWatch(asyncio.DatagramProtocol):
    def __init__(self, drill: Drill) -> None:
        self.drill = drill

    def datagram_received(self, data: bytes, addr) -> None:
        self.drill.rtp_after_s.append(time.monotonic() - self.drill.killed_at)


def agent_ips(lab: Lab, name: str) -> set[str]:
    role, _, address = name.partition(" ")
    if role == "gateway":
        return {address}
    roles = ("pbx", "pbx_roaming") if role == "pbx" else (role,)
    return {lab.account.party(r).ip for r in roles}


def rtp_addresses_of(call: LabCall, ips: set[str]) -> set[tuple[str, int]]:
    """The RTP and RTCP ports at `ips` that the call's other legs were sending to."""
    found = set()
    for leg in call.legs.values():
        host, _, port = leg.remote_rtp.rpartition(":")
        if host in ips and port:
            found |= {(host, int(port)), (host, int(port) + 1)}
    return found


async def answered_with_audio(lab: Lab, call: LabCall, timeout: float = 10.0) -> bool:
    """Wait until the call is answered, both parties hear each other (RTP flows both ways) and
    every leg (the caller's, the gateway's two, the callee's) has reported where its RTP goes."""
    return await lab.wait_until(
        lambda: call.state == "answered" and call.heard.get("pstn") and call.heard.get("pbx")
        and len(call.legs) == 4 and all(leg.remote_rtp for leg in call.legs.values()), timeout)


async def kill(lab: Lab, name: str, how: str) -> None:
    if how == "crash":
        assert await lab.supervisor.send(name, {"cmd": "crash"})
    else:
        os.kill(lab.supervisor.pid(name), signal.SIGKILL)


async def kill_during(lab: Lab, call: LabCall, name: str, how: str, *, watch_s: float = 3.0,
                      slots_within_s: float = 0.0) -> Drill:
    """Kill agent `name` during `call`; measure until every surviving agent holds no call, and
    record the datagrams that still reach the dead agent's RTP ports for watch_s. With
    slots_within_s, also measure until the survivors' pjsua call slots are free: a BYE to the
    dead agent is answered (481) only once the supervisor has restarted it."""
    ports = rtp_addresses_of(call, agent_ips(lab, name))
    assert ports, f"no RTP towards {name} to watch"
    survivors = set(lab.agent_states) - {name}
    drill = Drill(name, time.monotonic())
    await kill(lab, name, how)
    # the agent's process has exited once the lab has failed its call: its ports are free
    assert await lab.wait_until(lambda: call.finished, 2.0), f"{name} died and the call did not end"
    loop = asyncio.get_running_loop()
    watches = [(await loop.create_datagram_endpoint(lambda: _PortWatch(drill), local_addr=address))[0]
               for address in sorted(ports)]
    try:
        while time.monotonic() - drill.killed_at < watch_s:
            loads = await lab.agent_loads(timeout=0.5)
            if survivors <= set(loads) and not any(loads[n].calls for n in survivors):
                drill.legs_gone_s = time.monotonic() - drill.killed_at
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(max(0.0, drill.killed_at + watch_s - time.monotonic()))
    finally:
        for transport in watches:
            transport.close()
    while time.monotonic() - drill.killed_at < slots_within_s:
        loads = await lab.agent_loads(timeout=0.5)
        if survivors <= set(loads) and all(loads[n].free_slots == CALL_SLOTS_PER_AGENT for n in survivors):
            drill.slots_free_s = time.monotonic() - drill.killed_at
            break
        await asyncio.sleep(0.05)
    return drill
