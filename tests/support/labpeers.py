"""A running lab seen from an outside peer's chair: addresses in the lab's own block, making a
peer's address an endpoint address, and what the lab's agents did (crashes, PSTN legs).

Outside peers (SIPp, baresip) are given addresses of the lab's /24 that no lab agent uses, so
two tests never share an address and nothing leaves loopback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from sip.events import AgentConfigured, AgentStateChanged, EngineEvent
from sip.lab import Lab


def host(lab: Lab, n: int) -> str:
    """Host .n of the lab's loopback block (e.g. .30 for a SIPp UAC, .60 for baresip)."""
    return lab.account.party("pbx").ip.rsplit(".", 1)[0] + f".{n}"


def gateway(lab: Lab, index: int = 0) -> str:
    """One System Gateway address as ip:port."""
    address = lab.account.system_gateway.addresses[index]
    return f"{address.ip}:{address.port}"


def pbx_endpoint(lab: Lab):
    return lab.account.pbx_endpoint()


class Watch:
    """Everything the lab reports while a test runs: agent crashes, gateway reconfigurations."""

    def __init__(self, lab: Lab) -> None:
        self.events: list[EngineEvent] = []
        lab.subscribe(self.events.append)

    def crashes(self) -> list[str]:
        return [f"{e.agent}: {e.detail} {e.last_words}".strip()
                for e in self.events if isinstance(e, AgentStateChanged) and e.state == "crashed"]

    def configured(self) -> int:
        return sum(1 for e in self.events if isinstance(e, AgentConfigured) and e.agent.startswith("gateway"))


async def change_account(lab: Lab, change: Callable[[], Awaitable[object]]) -> object:
    """Make a change through the store and return once every gateway has taken it (or after
    3 s: the peer's call then shows what it met)."""
    watch = Watch(lab)
    result = await change()
    gateways = len(lab.account.system_gateway.addresses)
    await lab.wait_until(lambda: watch.configured() >= gateways, 3.0)
    return result


async def add_peer_address(lab: Lab, ip: str, port: int, *, replace: bool = False):
    """Make ip:port an address of the PBX's endpoint (IP-based auth for a peer sending from it;
    inbound calls go to it when `replace` removes the endpoint's other addresses)."""
    endpoint = pbx_endpoint(lab)

    async def change():
        if replace:
            for address in endpoint.addresses:
                await lab.store.remove_endpoint_address(address.address_id)
        return await lab.store.add_endpoint_address(endpoint.endpoint_sid, ip, port=port)

    return await change_account(lab, change)


@dataclass
class PstnLegs:
    """The INVITEs the lab's PSTN agent received (B legs of outbound calls), by SIP Call-ID."""

    call_ids: set[str] = field(default_factory=set)

    @classmethod
    def now(cls, lab: Lab) -> PstnLegs:
        return cls({m.sip_call_id for call in lab.book.calls.values() for m in call.messages
                    if m.agent == "pstn" and m.event == "rx" and m.first_line.startswith("INVITE")})

    def new_since(self, before: PstnLegs) -> set[str]:
        return self.call_ids - before.call_ids


def lab_call_of(lab: Lab, sip_call_id: str):
    """The lab call a Call-ID (e.g. SIPp's) belongs to, or None if the lab never saw it."""
    return next((call for call in lab.book.calls.values() if sip_call_id in call.sip_call_ids), None)


def fails_today(how: str):
    """A test of EDGE-SPEC that today's gateway fails (`how`: what it answers instead).
    Strict: the day the gateway passes it, the test turns red (XPASS) and this marker must go.
    Only an AssertionError counts as the expected failure: a broken test still shows."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"issue 9, today's gateway: {how}")
