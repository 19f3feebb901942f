"""The lab follows its database, whoever writes it: another connection's commit (the command
line, a second console) reaches the lab's account, its agents and its listeners within a second,
read once per change; a commit that changes no configuration is not announced."""

from __future__ import annotations

import asyncio
import time

from sip.calls import call_record
from sip.events import AccountChanged, ProgressChanged
from sip.lab import Lab
from sip.replay import recorded_supervisor_factory
from store import Store
from tests.support.replay import replay


async def until(predicate, seconds: float = 1.0) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, "not within the time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_another_connection_s_changes_reach_the_lab_and_its_agents(db_path):
    async with await Store.open(db_path) as mine, await Store.open(db_path) as other:
        lab = Lab(mine, supervisor_factory=recorded_supervisor_factory([]))
        heard = []
        lab.subscribe(heard.append)
        await lab.start()
        try:
            await other.add_firewall_rule("127.0.0.12", protocol="sip")
            await until(lambda: len(lab.account.firewall_rules) == 3)
            announced = [e for e in heard if isinstance(e, AccountChanged)]
            assert len(announced) == 1 and announced[0].account == lab.account
            pushed = [c for name, c in lab.supervisor.sent if name == "pbx" and c["cmd"] == "firewall"]
            assert "127.0.0.12/32" in pushed[-1]["sip"]  # the running PBX filters with the new rule

            heard.clear()
            await other.record_call(call_record(next(iter(replay("inbound_ok").calls.values()))))
            await asyncio.sleep(0.6)  # a CDR is history: the account did not change
            assert not [e for e in heard if isinstance(e, AccountChanged)]

            await other.reset()
            await until(lambda: len(lab.account.firewall_rules) == 2)
            assert lab.account.system_gateway.endpoint_sid == (await other.account()).system_gateway.endpoint_sid

            await other.start_exercise("stale_voip_token", now=1.0)
            await until(lambda: lab.exercise == "stale_voip_token")
            assert [e.exercise for e in heard if isinstance(e, ProgressChanged)] == ["stale_voip_token"]
        finally:
            await lab.stop()


async def test_this_process_s_own_commits_are_read_once(db_path):
    async with await Store.open(db_path) as store:
        lab = Lab(store, supervisor_factory=recorded_supervisor_factory([]))
        await lab.start()
        reads = 0
        real = store.account

        async def counted():
            nonlocal reads
            reads += 1
            return await real()

        store.account = counted
        try:
            rule = await store.add_firewall_rule("127.0.0.12")
            await store.remove_firewall_rule(rule.rule_id)
            await store.add_firewall_rule("127.0.0.13")
            await until(lambda: any(r.cidr == "127.0.0.13/32" for r in lab.account.firewall_rules))
            await asyncio.sleep(0.6)  # and no other process wrote: data_version stays
            assert reads <= 3  # at most once per commit, never once per listener
        finally:
            store.account = real
            await lab.stop()
