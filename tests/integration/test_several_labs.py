"""Several labs on one machine: three labs, each in its own loopback block with its own store,
run at once; each completes an inbound and an outbound call, and none sees the others'
calls, records or firewall."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import pytest

from sip.lab import Lab
from sip.supervisor import Supervisor
from store import AddressPlan, Store
from tests.conftest import _alive, next_block

pytestmark = pytest.mark.agents

PSTN_NUMBER = "14155550123"


@contextlib.asynccontextmanager
async def three_labs(tmp_path):
    blocks = [next_block() for _ in range(3)]
    stores = [await Store.open(tmp_path / f"lab-{i}.db", plan=AddressPlan.in_block(block))
              for i, block in enumerate(blocks)]
    labs = [Lab(store, b_leg_timeout_s=1.5) for store in stores]
    try:
        await asyncio.gather(*(lab.start() for lab in labs))
        yield labs, blocks
    finally:
        await asyncio.gather(*(lab.stop() for lab in labs), return_exceptions=True)
        for store in stores:
            await store.close()


def addresses_of(call) -> set[str]:
    return {end.rpartition(":")[0] for m in call.messages for end in (m.src, m.dst) if end}


async def both_calls(lab: Lab) -> list:
    via = lab.account.system_gateway.addresses[0].ip  # the address every lab's firewall allows
    inbound = lab.run_call(await lab.place_inbound("12025550100", via=via), hold_s=1.5)
    outbound = lab.run_call(await lab.place_outbound(PSTN_NUMBER, auth="proxy", via=via), hold_s=1.5)
    return list(await asyncio.gather(inbound, outbound))


async def inbound_via_second_gateway(lab: Lab):
    via = lab.account.system_gateway.addresses[1].ip
    return await lab.run_call(await lab.place_inbound("12025550101", via=via), hold_s=1.5)


async def test_three_labs_at_once_each_call_both_ways(tmp_path):
    async with three_labs(tmp_path) as (labs, blocks):
        assert len(set(blocks)) == 3
        # a firewall edit in one lab reaches that lab's PBX only
        first = labs[0]
        second_gateway = first.account.system_gateway.addresses[1]
        rule = next(r for r in first.account.firewall_rules if r.cidr == f"{second_gateway.ip}/32")
        await first.store.remove_firewall_rule(rule.rule_id)
        await first.wait_until(lambda: len(first.account.firewall_rules) == 1, 3)

        results = await asyncio.gather(*(both_calls(lab) for lab in labs))

        for lab, block, calls in zip(labs, blocks, results):
            network = ipaddress.ip_network(block)
            for call, direction in zip(calls, ("inbound", "outbound")):
                assert call.direction == direction
                assert (call.state, call.final_code) == ("ended", 200), (block, direction, call.notes)
                assert call.heard == {"pstn": True, "pbx": True}, (block, direction)
                assert all(ipaddress.ip_address(ip) in network for ip in addresses_of(call)), addresses_of(call)
        # the first lab's PBX now drops what comes from its second gateway; the second lab's does not
        blocked, passed = await asyncio.gather(inbound_via_second_gateway(first), inbound_via_second_gateway(labs[1]))
        assert blocked.final_code == 408 and blocked.drops()
        assert passed.final_code == 200 and passed.heard == {"pstn": True, "pbx": True}

        await asyncio.sleep(0.8)  # CDRs are written a moment after each call ends
        counts = [len(await lab.store.calls()) for lab in labs]
        assert counts == [3, 3, 2]  # each store holds its own lab's calls, and only those
    left = [pid for pid in Supervisor.spawned_pids if _alive(pid)]
    assert not left, f"agent processes left behind: {left}"
