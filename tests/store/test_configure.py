"""The CONFIGURE menu's operations, each one validated transaction: what the console and
`apply` need beyond the basics of test_changes.py (endpoint with a provisioned trunk group,
address edits, renames, trunk priorities, number names, firewall rule edits, the built-in PBX
switch, the blank account). Every refusal says why and leaves the file byte-identical."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import ConflictError, NotFoundError, ReadOnlyError, Store, StoreError, ValidationError
from store.schema import LATEST
from tests.conftest import dump


async def _ids(store: Store) -> dict:
    account = await store.account()
    pbx = account.third_party_endpoints[0]
    await store.add_endpoint_address(pbx.endpoint_sid, "127.0.0.12", port=5070)
    account = await store.account()
    pbx = account.third_party_endpoints[0]
    return {
        "gateway_address": account.system_gateway.addresses[0].address_id,
        "pbx": pbx.endpoint_sid,
        "address": pbx.addresses[0].address_id,
        "second_address": pbx.addresses[1].address_id,
        "group": account.trunk_groups[0].trunk_group_sid,
        "trunk": account.trunk_groups[0].trunks[0].trunk_sid,
        "did": account.dids[0].did_sid,
        "rule": account.firewall_rules[0].rule_id,
        "second_rule": account.firewall_rules[1].rule_id,
    }


REFUSALS = [
    ("provisioned group with a long name", lambda s, i: s.create_endpoint("x" * 60, provision_trunk_group=True),
     ValidationError, "under 64"),
    ("capacity in words", lambda s, i: s.update_endpoint(i["pbx"], capacity="lots"), ValidationError, "not a whole number"),
    ("capacity beyond reason", lambda s, i: s.update_endpoint(i["pbx"], capacity=10**30), ValidationError, "at most"),
    ("edit a missing address", lambda s, i: s.update_endpoint_address(999, port=5070), NotFoundError, "No endpoint address"),
    ("edit a gateway address", lambda s, i: s.update_endpoint_address(i["gateway_address"], port=5070),
     ReadOnlyError, "read-only"),
    ("address edited to a bad ip", lambda s, i: s.update_endpoint_address(i["address"], ip="10.0.0.300"),
     ValidationError, "not an IPv4"),
    ("address edited to a public ip", lambda s, i: s.update_endpoint_address(i["address"], ip="8.8.4.4"),
     ValidationError, "public"),
    ("address edited to port 0", lambda s, i: s.update_endpoint_address(i["address"], port=0), ValidationError,
     "out of range"),
    ("address edited to tcp", lambda s, i: s.update_endpoint_address(i["address"], transport="tcp"), ValidationError,
     "not one of udp"),
    ("address edited to a bad direction", lambda s, i: s.update_endpoint_address(i["address"], direction="both"),
     ValidationError, "not one of any, inbound, outbound"),
    ("address edited to a negative priority", lambda s, i: s.update_endpoint_address(i["address"], priority=-1),
     ValidationError, "0 or more"),
    ("address edited onto another", lambda s, i: s.update_endpoint_address(i["second_address"], ip="127.0.0.10",
                                                                           port=5060),
     ConflictError, "already an address"),
    ("rename a missing group", lambda s, i: s.rename_trunk_group("nope", "X"), NotFoundError, "No trunk group"),
    ("rename a group to nothing", lambda s, i: s.rename_trunk_group(i["group"], " "), ValidationError, "required"),
    ("missing trunk priority", lambda s, i: s.update_trunk("nope", priority=1), NotFoundError, "No trunk"),
    ("negative trunk priority", lambda s, i: s.update_trunk(i["trunk"], priority=-1), ValidationError, "0 or more"),
    ("trunk renamed to nothing", lambda s, i: s.update_trunk(i["trunk"], name=""), ValidationError, "required"),
    ("name a missing number", lambda s, i: s.rename_did("nope", "Sales"), NotFoundError, "No phone number"),
    ("number name with a line break", lambda s, i: s.rename_did(i["did"], "Sales\nX"), ValidationError, "control"),
    ("number name too long", lambda s, i: s.rename_did(i["did"], "y" * 80), ValidationError, "under 64"),
    ("new number, name too long", lambda s, i: s.create_did("+1 202 555 0142", name="y" * 80), ValidationError,
     "under 64"),
    ("delete a missing number", lambda s, i: s.delete_did("nope"), NotFoundError, "No phone number"),
    ("edit a missing number", lambda s, i: s.update_did("nope", name="Sales", trunk_group_sid=None), NotFoundError,
     "No phone number"),
    ("number edit, group missing", lambda s, i: s.update_did(i["did"], name="Sales", trunk_group_sid="nope"),
     NotFoundError, "No trunk group"),
    ("number edit, name too long", lambda s, i: s.update_did(i["did"], name="y" * 80, trunk_group_sid=None),
     ValidationError, "under 64"),
    ("duplicate firewall rule", lambda s, i: s.add_firewall_rule("127.0.0.2"), ConflictError,
     "rule 1 already allows any from 127.0.0.2/32"),
    ("rule covered by an any rule", lambda s, i: s.add_firewall_rule("127.0.0.3", protocol="rtp"), ConflictError,
     "already allows any"),
    ("edit a missing rule", lambda s, i: s.update_firewall_rule(999, protocol="sip"), NotFoundError, "No firewall rule"),
    ("rule protocol edited to icmp", lambda s, i: s.update_firewall_rule(i["rule"], protocol="icmp"), ValidationError,
     "not one of any, sip, rtp"),
    ("rule edited onto another", lambda s, i: s.update_firewall_rule(i["second_rule"], cidr="127.0.0.2"),
     ConflictError, "already allows any from 127.0.0.2/32"),
    ("rule edited to a public source", lambda s, i: s.update_firewall_rule(i["rule"], cidr="1.1.1.1"),
     ValidationError, "public"),
]


@pytest.mark.parametrize(("operation", "error", "words"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
async def test_refused_configure_change_says_why_and_writes_nothing(store: Store, db_path: Path, operation, error,
                                                                   words):
    ids = await _ids(store)
    before = dump(db_path)
    with pytest.raises(error) as caught:
        await operation(store, ids)
    assert isinstance(caught.value, StoreError)
    assert words in caught.value.message, caught.value.message
    assert dump(db_path) == before


async def test_add_new_endpoint_can_provision_its_trunk_group(store: Store):
    endpoint = await store.create_endpoint("Branch PBX", capacity="3", provision_trunk_group=True)
    account = await store.account()
    (group,) = [g for g in account.trunk_groups if g.name == "Branch PBX trunk group"]
    assert [(t.endpoint_sid, t.name) for t in group.trunks] == [(endpoint.endpoint_sid, "Branch PBX trunk")]
    assert endpoint.capacity == 3 and endpoint.addresses == ()
    plain = await store.create_endpoint("Lab PBX")
    assert not any(t.endpoint_sid == plain.endpoint_sid for g in (await store.account()).trunk_groups for t in g.trunks)


async def test_rename_and_capacity_of_an_endpoint(store: Store):
    ids = await _ids(store)
    endpoint = await store.update_endpoint(ids["pbx"], name="Acme HQ", capacity=1)
    assert (endpoint.name, endpoint.capacity) == ("Acme HQ", 1)


async def test_edit_an_endpoint_address_field_by_field(store: Store):
    ids = await _ids(store)
    address = await store.update_endpoint_address(ids["second_address"], ip="127.0.0.13", port="5080",
                                                  direction="Inbound", priority="2")
    assert (address.ip, address.port, address.direction, address.priority) == ("127.0.0.13", 5080, "inbound", 2)
    unchanged = await store.update_endpoint_address(ids["second_address"])
    assert unchanged == address
    await store.remove_endpoint_address(ids["second_address"])
    assert [a.ip for a in (await store.account()).endpoint(ids["pbx"]).addresses] == ["127.0.0.10"]


async def test_addresses_come_in_priority_order(store: Store):
    ids = await _ids(store)
    await store.update_endpoint_address(ids["address"], priority=5)
    assert [a.ip for a in (await store.account()).endpoint(ids["pbx"]).addresses] == ["127.0.0.12", "127.0.0.10"]


async def test_trunk_group_rename_and_trunk_priority(store: Store):
    ids = await _ids(store)
    group = await store.rename_trunk_group(ids["group"], " Main group ")
    assert group.name == "Main group"
    second = await store.create_endpoint("Backup PBX")
    backup = await store.add_trunk(ids["group"], second.endpoint_sid, priority=1)
    await store.update_trunk(ids["trunk"], priority=2, name="Acme primary")
    trunks = (await store.account()).trunk_group(ids["group"]).trunks
    assert [(t.trunk_sid, t.name, t.priority) for t in trunks] == [
        (backup.trunk_sid, "Backup PBX trunk", 1), (ids["trunk"], "Acme primary", 2)]
    with pytest.raises(ConflictError, match="still a trunk of Main group"):
        await store.delete_endpoint(second.endpoint_sid)
    await store.remove_trunk(backup.trunk_sid)
    await store.delete_endpoint(second.endpoint_sid)


async def test_phone_number_with_a_name_renamed_and_deleted(store: Store):
    did = await store.create_did("+44 20 7946 0018", name=" London office ")
    assert (did.phonenumber, did.name) == ("442079460018", "London office")
    assert (await store.rename_did(did.did_sid, "")).name == ""
    await store.delete_did(did.did_sid)
    assert all(d.did_sid != did.did_sid for d in (await store.account()).dids)


async def test_a_number_s_name_and_trunk_group_in_one_edit(store: Store):
    account = await store.account()
    spare = next(d for d in account.dids if d.trunk_group_sid is None)
    group = account.trunk_groups[0].trunk_group_sid
    did = await store.update_did(spare.did_sid, name=" Night line ", trunk_group_sid=group)
    assert (did.name, did.trunk_group_sid) == ("Night line", group)
    did = await store.update_did(spare.did_sid, name="", trunk_group_sid=None)
    assert (did.name, did.trunk_group_sid) == ("", None)


async def test_a_firewall_rule_keeps_its_place_when_its_protocol_changes(store: Store):
    ids = await _ids(store)
    rule = await store.update_firewall_rule(ids["rule"], protocol="SIP", note="signalling only")
    assert (rule.position, rule.cidr, rule.protocol, rule.note) == (1, "127.0.0.2/32", "sip", "signalling only")
    rtp = await store.add_firewall_rule("127.0.0.2", protocol="rtp")  # sip + rtp: not a duplicate
    assert rtp.position == 3
    with pytest.raises(ConflictError, match="rule 3 already allows rtp"):
        await store.add_firewall_rule("127.0.0.2/32", protocol="rtp")
    widened = await store.add_firewall_rule("127.0.0.11", protocol="sip")
    assert (await store.update_firewall_rule(widened.rule_id, protocol="any")).protocol == "any"


async def test_the_built_in_pbx_can_be_switched_off_and_on(store: Store):
    assert (await store.account()).builtin_pbx is True
    heard = []
    store.subscribe(lambda: heard.append(1))
    await store.set_builtin_pbx(False)
    assert (await store.account()).builtin_pbx is False and heard == [1]
    await store.reset()
    assert (await store.account()).builtin_pbx is True


async def test_blank_account_is_what_a_new_customer_has(store: Store):
    await store.set_builtin_pbx(False)
    gateway_before = (await store.account()).system_gateway
    await store.reset(blank=True)
    account = await store.account()
    assert account.third_party_endpoints == () and account.trunk_groups == () and account.firewall_rules == ()
    assert [a.ip for a in account.system_gateway.addresses] == [a.ip for a in gateway_before.addresses]
    assert account.system_gateway.endpoint_sid != gateway_before.endpoint_sid  # made afresh, like a new account
    assert [d.phonenumber for d in account.dids] == ["12025550100", "12025550101", "12025550199"]
    assert all(d.trunk_group_sid is None for d in account.dids)
    assert account.pbx_trunk.endpoint_sid == "" and account.pbx_trunk.voip_token == ""
    assert not account.pbx_trunk.configured and account.pbx_trunk.source_port == 5060
    assert account.builtin_pbx is True and account.pbx_endpoint() is None
    assert {p.role for p in account.parties} == {"pstn", "pbx", "pbx_roaming"}


async def test_a_blank_account_reopens_blank(db_path: Path):
    async with await Store.open(db_path) as store:
        await store.reset(blank=True)
        before = await store.account()
    async with await Store.open(db_path) as store:
        assert await store.account() == before  # the empty PBX settings are not "repaired" at open


async def test_a_v4_file_upgrades_to_the_latest_with_the_built_in_pbx_on(db_path: Path):
    async with await Store.open(db_path):
        pass
    with sqlite3.connect(db_path) as con:  # back to what a v4 trunklab wrote (v5 on: undone)
        con.execute("DROP TABLE lab_options")
        con.execute("ALTER TABLE exercise_progress DROP COLUMN hints")
        con.execute("ALTER TABLE exercise_progress DROP COLUMN start_account")
        con.execute("DROP TABLE checklist_runs")
        con.execute("DROP TABLE lesson_progress")
        con.execute("PRAGMA user_version = 4")
    async with await Store.open(db_path) as store:
        assert await store.schema_version() == LATEST >= 5
        assert (await store.account()).builtin_pbx is True
