"""The store opened for real on a SQLite file: first open, the default account, migrations."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from store import AddressPlan, NotFoundError, Store, StoreError
from store.schema import LATEST, MIGRATIONS, V1


async def test_first_open_creates_the_system_gateway_once(db_path: Path):
    for _ in range(3):  # reopening must not create a second gateway or a second default account
        async with await Store.open(db_path) as store:
            account = await store.account()
    gateways = [e for e in account.endpoints if e.type == "system_gateway"]
    assert len(gateways) == 1
    assert account.endpoints[0] is gateways[0]  # listed first
    assert len(account.third_party_endpoints) == 1
    assert len(account.dids) == 3


async def test_two_connections_opening_a_new_file_at_once_make_one_gateway(db_path: Path):
    stores = await asyncio.gather(*(Store.open(db_path) for _ in range(4)))
    try:
        accounts = [await s.account() for s in stores]
    finally:
        for s in stores:
            await s.close()
    assert {a.system_gateway.endpoint_sid for a in accounts} == {accounts[0].system_gateway.endpoint_sid}
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT COUNT(*) FROM endpoints WHERE type='system_gateway'").fetchone() == (1,)
        assert con.execute("SELECT COUNT(*) FROM dids").fetchone() == (3,)


def _open_in_process(path: str) -> None:
    async def go() -> None:
        await (await Store.open(path)).close()

    asyncio.run(go())


def test_two_processes_opening_a_new_file_at_once_make_one_gateway(db_path: Path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_in_process, args=(str(db_path),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT COUNT(*) FROM endpoints WHERE type='system_gateway'").fetchone() == (1,)
        assert con.execute("SELECT COUNT(*) FROM endpoints").fetchone() == (2,)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_default_account_is_a_working_trunk(store: Store):
    account = await store.account()
    gateway = account.system_gateway
    assert [(a.ip, a.port) for a in gateway.addresses] == [("127.0.0.2", 5060), ("127.0.0.3", 5060)]
    assert gateway.voip_token is None

    (pbx,) = account.third_party_endpoints
    assert pbx.name == "Acme PBX"
    assert len(pbx.endpoint_sid) == 36 and len(pbx.voip_token) == 36 and pbx.endpoint_sid != pbx.voip_token
    assert [(a.ip, a.port, a.direction) for a in pbx.addresses] == [("127.0.0.10", 5060, "any")]

    (group,) = account.trunk_groups
    assert group.name == "Acme trunk group"
    assert [t.endpoint_sid for t in group.trunks] == [pbx.endpoint_sid]

    assigned = account.assigned_phonenumbers(pbx.endpoint_sid)
    assert len(assigned) == 2
    unassigned = [d for d in account.dids if d.trunk_group_sid is None]
    assert len(unassigned) == 1

    assert [r.cidr for r in account.firewall_rules] == ["127.0.0.2/32", "127.0.0.3/32"]
    assert {p.role: p.ip for p in account.parties} == {
        "pbx": "127.0.0.10", "pbx_roaming": "127.0.0.11", "pstn": "127.0.0.20"}


async def test_default_account_round_trips_through_the_file(db_path: Path):
    async with await Store.open(db_path) as first:
        before = await first.account()
    async with await Store.open(db_path) as second:
        after = await second.account()
    assert after == before


async def test_fresh_databases_get_fresh_sids_and_tokens(tmp_path: Path):
    accounts = []
    for name in ("a.db", "b.db"):
        async with await Store.open(tmp_path / name) as store:
            accounts.append(await store.account())
    a, b = (acc.third_party_endpoints[0] for acc in accounts)
    assert a.endpoint_sid != b.endpoint_sid and a.voip_token != b.voip_token


async def test_address_plan_is_data(tmp_path: Path):
    plan = AddressPlan.in_block("127.0.7.0/24", sip_port=5070)
    async with await Store.open(tmp_path / "lab7.db", plan=plan) as store:
        account = await store.account()
    assert [(a.ip, a.port) for a in account.system_gateway.addresses] == [("127.0.7.2", 5070), ("127.0.7.3", 5070)]
    assert account.third_party_endpoints[0].addresses[0].ip == "127.0.7.10"
    assert account.party("pstn").ip == "127.0.7.20"
    assert [r.cidr for r in account.firewall_rules] == ["127.0.7.2/32", "127.0.7.3/32"]


def test_address_plan_must_be_loopback():
    with pytest.raises(ValueError):
        AddressPlan.in_block("10.0.0.0/24")


async def test_fixed_sids_for_deterministic_snapshots(db_path: Path):
    counter = iter(range(1000))
    sid = lambda: f"00000000-0000-4000-8000-{next(counter):012d}"  # noqa: E731
    async with await Store.open(db_path, new_sid=sid, new_token=lambda: "token-fixed-0001") as store:
        account = await store.account()
    assert account.system_gateway.endpoint_sid == "00000000-0000-4000-8000-000000000000"
    assert account.third_party_endpoints[0].voip_token == "token-fixed-0001"


async def test_database_is_wal_with_foreign_keys(store: Store):
    assert await store._scalar("PRAGMA journal_mode") == "wal"
    assert await store._scalar("PRAGMA foreign_keys") == 1
    assert await store.schema_version() == LATEST


async def test_a_first_version_file_opens_and_upgrades(db_path: Path):
    # Write a database exactly as schema v1 left it, with an account in it, then open it.
    with sqlite3.connect(db_path) as con:
        for statement in V1:
            con.execute(statement)
        con.execute("INSERT INTO endpoints VALUES ('gw-1', 'System Gateway', 'system_gateway', NULL, 0, '{}', NULL, NULL, 1)")
        con.execute("INSERT INTO endpoint_addresses (endpoint_sid, ip) VALUES ('gw-1', '127.0.0.2')")
        con.execute("INSERT INTO endpoints VALUES ('ep-1', 'Old PBX', 'third_party', 'tok-1', 0, '{\"insecure_address\": true}', NULL, NULL, 2)")
        con.execute("INSERT INTO trunk_groups VALUES ('tg-1', 'Old group', 'failover', 1)")
        con.execute("INSERT INTO dids (did_sid, phonenumber, trunk_group_sid) VALUES ('did-1', '12025550123', 'tg-1')")
        con.execute("PRAGMA user_version = 1")
    async with await Store.open(db_path) as store:
        assert await store.schema_version() == LATEST == len(MIGRATIONS)
        account = await store.account()
        assert [e.endpoint_sid for e in account.endpoints] == ["gw-1", "ep-1"]  # kept, not re-seeded
        assert account.endpoint("ep-1").attributes.insecure_address is True
        assert account.dids[0].trunk_group_sid == "tg-1"
        # v3: the PBX's trunk settings start in sync with its endpoint
        assert (account.pbx_trunk.endpoint_sid, account.pbx_trunk.voip_token) == ("ep-1", "tok-1")
        assert account.pbx_trunk.source_port == 5060
        tables = {row[0] for row in await store._rows("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"calls", "sip_messages", "pbx_trunk", "exercise_progress"} <= tables


async def test_a_file_from_a_newer_trunklab_is_refused(db_path: Path):
    with sqlite3.connect(db_path) as con:
        con.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(StoreError, match="newer trunklab"):
        await Store.open(db_path)


async def test_listeners_hear_committed_changes_only(store: Store):
    heard: list[str] = []
    unsubscribe = store.subscribe(lambda: heard.append("changed"))
    await store.add_firewall_rule("127.0.0.11")
    with pytest.raises(StoreError):
        await store.add_firewall_rule("not-an-ip")
    unsubscribe()
    await store.add_firewall_rule("127.0.0.12")
    assert heard == ["changed"]


async def test_account_survives_the_wire_to_the_agents(store: Store):
    import json

    from store.records import account_from_wire, account_to_wire

    account = await store.account()
    assert account_from_wire(json.loads(json.dumps(account_to_wire(account)))) == account


async def test_a_v2_file_gets_pbx_settings_where_its_pbx_listens(db_path: Path):
    from store.schema import V2

    with sqlite3.connect(db_path) as con:
        for statement in [*V1, *V2]:
            con.execute(statement)
        con.execute("INSERT INTO endpoints VALUES ('gw-1', 'System Gateway', 'system_gateway', NULL, 0, '{}', NULL, NULL, 1)")
        con.execute("INSERT INTO endpoints VALUES ('ep-1', 'Acme PBX', 'third_party', 'tok-1', 0, '{}', NULL, NULL, 2)")
        con.execute("INSERT INTO endpoint_addresses (endpoint_sid, ip, port) VALUES ('ep-1', '127.0.0.10', 5070)")
        con.execute("INSERT INTO lab_parties VALUES ('pbx', '127.0.0.10', 5070)")
        con.execute("PRAGMA user_version = 2")
    async with await Store.open(db_path) as store:
        trunk = (await store.account()).pbx_trunk
    assert (trunk.endpoint_sid, trunk.voip_token, trunk.source_port) == ("ep-1", "tok-1", 5070)


async def test_pbx_settings_missing_is_a_clear_error(store: Store):
    await store._db.execute("DELETE FROM pbx_trunk")
    with pytest.raises(NotFoundError, match="no PBX settings"):
        await store.update_pbx_trunk(source_port=5080)
