"""Every change through the real store: accepted ones persist, refused ones change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store import (
    ConflictError,
    EndpointAttributes,
    NotFoundError,
    ReadOnlyError,
    Store,
    StoreError,
    ValidationError,
)
from store.records import CheckRow
from tests.conftest import dump


async def _ids(store: Store) -> dict[str, str]:
    account = await store.account()
    pbx = account.third_party_endpoints[0]
    return {
        "gateway": account.system_gateway.endpoint_sid,
        "gateway_address": account.system_gateway.addresses[0].address_id,
        "pbx": pbx.endpoint_sid,
        "group": account.trunk_groups[0].trunk_group_sid,
        "trunk": account.trunk_groups[0].trunks[0].trunk_sid,
        "assigned_did": account.dids[0].did_sid,
        "spare_did": next(d.did_sid for d in account.dids if d.trunk_group_sid is None),
    }


# Each case: (description, an operation that must be refused, the error type, words in the message).
REFUSALS = [
    ("bad endpoint address", lambda s, i: s.add_endpoint_address(i["pbx"], "999.1.1.1"), ValidationError, "not an IPv4"),
    ("public endpoint address", lambda s, i: s.add_endpoint_address(i["pbx"], "8.8.8.8"), ValidationError, "public"),
    ("host bits in a subnet", lambda s, i: s.add_endpoint_address(i["pbx"], "10.0.0.7/24"), ValidationError, "did you mean 10.0.0.0/24"),
    ("port 0", lambda s, i: s.add_endpoint_address(i["pbx"], "127.0.0.12", port=0), ValidationError, "out of range"),
    ("port 70000", lambda s, i: s.add_endpoint_address(i["pbx"], "127.0.0.12", port=70000), ValidationError, "out of range"),
    ("tcp transport", lambda s, i: s.add_endpoint_address(i["pbx"], "127.0.0.12", transport="tls"), ValidationError, "not one of udp"),
    ("bad direction", lambda s, i: s.add_endpoint_address(i["pbx"], "127.0.0.12", direction="up"), ValidationError, "not one of"),
    ("duplicate address", lambda s, i: s.add_endpoint_address(i["pbx"], "127.0.0.10"), ConflictError, "already an address"),
    ("address of a missing endpoint", lambda s, i: s.add_endpoint_address("nope", "127.0.0.12"), NotFoundError, "No endpoint"),
    ("add a gateway address", lambda s, i: s.add_endpoint_address(i["gateway"], "127.0.0.4"), ReadOnlyError, "read-only"),
    ("remove a gateway address", lambda s, i: s.remove_endpoint_address(i["gateway_address"]), ReadOnlyError, "read-only"),
    ("rename the gateway", lambda s, i: s.update_endpoint(i["gateway"], name="Mine"), ReadOnlyError, "read-only"),
    ("delete the gateway", lambda s, i: s.delete_endpoint(i["gateway"]), ReadOnlyError, "system-generated"),
    ("regenerate the gateway token", lambda s, i: s.regenerate_voip_token(i["gateway"]), ReadOnlyError, "read-only"),
    ("delete an endpoint with trunks", lambda s, i: s.delete_endpoint(i["pbx"]), ConflictError, "Acme trunk group"),
    ("empty endpoint name", lambda s, i: s.create_endpoint("  "), ValidationError, "name is required"),
    ("negative capacity", lambda s, i: s.create_endpoint("PBX 2", capacity=-1), ValidationError, "0 or more"),
    ("bad ip restriction", lambda s, i: s.update_endpoint(i["pbx"], attributes=EndpointAttributes(ip_restrictions=("127.0.0.0/8", "nope"))), ValidationError, "not an IPv4"),
    ("restriction twice", lambda s, i: s.update_endpoint(i["pbx"], attributes=EndpointAttributes(ip_restrictions=("10.0.0.0/8", "10.0.0.0/8"))), ValidationError, "listed twice"),
    ("too many restrictions", lambda s, i: s.update_endpoint(i["pbx"], attributes=EndpointAttributes(ip_restrictions=tuple(f"10.0.{n}.0/24" for n in range(17)))), ValidationError, "keep it to 16"),
    ("bad restriction on create", lambda s, i: s.create_endpoint("PBX 2", attributes=EndpointAttributes(ip_restrictions=("1.1.1.1",))), ValidationError, "public"),
    ("malformed phone number", lambda s, i: s.create_did("555-CALL-NOW"), ValidationError, "not a phone number"),
    ("too short phone number", lambda s, i: s.create_did("+1 202 555"), ValidationError, "not a valid number"),
    ("duplicate phone number", lambda s, i: s.create_did("+1 (202) 555-0100"), ConflictError, "+1 202-555-0100 is already"),
    ("number to a missing group", lambda s, i: s.create_did("+1 202 555 0142", trunk_group_sid="nope"), NotFoundError, "No trunk group"),
    ("assign to a missing group", lambda s, i: s.assign_did(i["spare_did"], "nope"), NotFoundError, "No trunk group"),
    ("assign a missing number", lambda s, i: s.assign_did("nope", i["group"]), NotFoundError, "No phone number"),
    ("trunk to a missing endpoint", lambda s, i: s.add_trunk(i["group"], "nope"), NotFoundError, "No endpoint"),
    ("trunk to the gateway", lambda s, i: s.add_trunk(i["group"], i["gateway"]), ValidationError, "not at the System Gateway"),
    ("trunk in a missing group", lambda s, i: s.add_trunk("nope", i["pbx"]), NotFoundError, "No trunk group"),
    ("negative trunk priority", lambda s, i: s.add_trunk(i["group"], i["pbx"], priority=-2), ValidationError, "0 or more"),
    ("delete a group with numbers", lambda s, i: s.delete_trunk_group(i["group"]), ConflictError, "+1 202-555-0100, +1 202-555-0101"),
    ("bad firewall cidr", lambda s, i: s.add_firewall_rule("127.0.0.300"), ValidationError, "not an IPv4"),
    ("bad firewall protocol", lambda s, i: s.add_firewall_rule("127.0.0.2", protocol="icmp"), ValidationError, "not one of"),
    ("remove a missing rule", lambda s, i: s.remove_firewall_rule(9999), NotFoundError, "No firewall rule"),
    ("remove a missing trunk", lambda s, i: s.remove_trunk("nope"), NotFoundError, "No trunk"),
    ("party off loopback", lambda s, i: s.set_party("pstn", "10.0.0.20"), ValidationError, "not a loopback"),
    ("unknown party", lambda s, i: s.set_party("fax", "127.0.0.30"), ValidationError, "not one of"),
    ("PBX token with a line break", lambda s, i: s.update_pbx_trunk(voip_token="abc\r\nX-Evil: 1"), ValidationError, "spaces, quotes or separators"),
    ("empty PBX endpoint SID", lambda s, i: s.update_pbx_trunk(endpoint_sid="  "), ValidationError, "required"),
    ("overlong PBX token", lambda s, i: s.update_pbx_trunk(voip_token="x" * 200), ValidationError, "under 128"),
    ("PBX source port 0", lambda s, i: s.update_pbx_trunk(source_port=0), ValidationError, "out of range"),
    ("PBX source port words", lambda s, i: s.update_pbx_trunk(source_port="five"), ValidationError, "not a port"),
    ("no PBX codec", lambda s, i: s.update_pbx_trunk(codecs=[]), ValidationError, "at least one"),
    ("unknown PBX codec", lambda s, i: s.update_pbx_trunk(codecs=["PCMU", "G729"]), ValidationError, "'G729' is not one of"),
    ("PBX codec twice", lambda s, i: s.update_pbx_trunk(codecs=["PCMU", "pcmu"]), ValidationError, "listed twice"),
    ("check an exercise never started", lambda s, i: s.record_check("nope", passed=True, checklist=[], ladder="", now=1.0), NotFoundError, "not been started"),
    ("hint for an exercise never started", lambda s, i: s.give_hint("nope", "look"), NotFoundError, "not been started"),
    ("empty hint", lambda s, i: s.give_hint("nope", "  "), ValidationError, "teaches nothing"),
]


@pytest.mark.parametrize(("operation", "error", "words"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
async def test_refused_change_has_a_clear_message_and_writes_nothing(store: Store, db_path: Path, operation, error, words):
    ids = await _ids(store)
    before = dump(db_path)
    with pytest.raises(error) as caught:
        await operation(store, ids)
    assert isinstance(caught.value, StoreError)
    assert words in caught.value.message
    assert dump(db_path) == before


async def test_assign_a_number_to_the_trunk_group(store: Store):
    ids = await _ids(store)
    assert len((await store.account()).assigned_phonenumbers(ids["pbx"])) == 2
    did = await store.assign_did(ids["spare_did"], ids["group"])
    assert did.trunk_group_sid == ids["group"]
    assert len((await store.account()).assigned_phonenumbers(ids["pbx"])) == 3
    await store.assign_did(ids["spare_did"], None)
    assert len((await store.account()).assigned_phonenumbers(ids["pbx"])) == 2


async def test_endpoint_life_cycle(store: Store):
    endpoint = await store.create_endpoint(" Branch PBX ", capacity=4)
    assert endpoint.name == "Branch PBX" and endpoint.type == "third_party" and endpoint.voip_token
    address = await store.add_endpoint_address(endpoint.endpoint_sid, "192.168.10.0/24", port="5080", direction="Outbound")
    assert (address.ip, address.port, address.direction) == ("192.168.10.0/24", 5080, "outbound")
    updated = await store.update_endpoint(
        endpoint.endpoint_sid, attributes=EndpointAttributes(True, ("127.0.0.11", "10.0.0.0/8"))
    )
    assert updated.attributes == EndpointAttributes(True, ("127.0.0.11/32", "10.0.0.0/8"))
    old = updated.voip_token
    new = await store.regenerate_voip_token(endpoint.endpoint_sid)
    assert new != old and (await store.account()).endpoint(endpoint.endpoint_sid).voip_token == new
    await store.remove_endpoint_address(address.address_id)
    await store.delete_endpoint(endpoint.endpoint_sid)
    assert (await store.account()).endpoint(endpoint.endpoint_sid) is None


async def test_trunk_group_life_cycle(store: Store):
    ids = await _ids(store)
    group = await store.create_trunk_group("Backup group")
    trunk = await store.add_trunk(group.trunk_group_sid, ids["pbx"], priority=1)
    assert trunk.name == "Acme PBX trunk"
    did = await store.create_did("+1 202 555 0142", name="Backup", trunk_group_sid=group.trunk_group_sid)
    assert did.phonenumber == "12025550142"
    await store.assign_did(did.did_sid, None)
    await store.delete_trunk_group(group.trunk_group_sid)  # no numbers left: allowed, trunks go with it
    account = await store.account()
    assert account.trunk_group(group.trunk_group_sid) is None
    assert all(t.trunk_sid != trunk.trunk_sid for g in account.trunk_groups for t in g.trunks)


async def test_firewall_rules_keep_their_order(store: Store):
    rule = await store.add_firewall_rule("127.0.0.11", protocol="SIP", note=" roaming ")
    assert (rule.cidr, rule.protocol, rule.note, rule.position) == ("127.0.0.11/32", "sip", "roaming", 3)
    await store.remove_firewall_rule((await store.account()).firewall_rules[0].rule_id)
    assert [r.cidr for r in (await store.account()).firewall_rules] == ["127.0.0.3/32", "127.0.0.11/32"]


async def test_move_a_lab_party(store: Store):
    await store.set_party("pstn", "127.0.0.21", 5070)
    assert (await store.account()).party("pstn").ip == "127.0.0.21"


async def test_the_pbx_trunk_is_a_copy_that_goes_stale(store: Store):
    ids = await _ids(store)
    account = await store.account()
    assert account.pbx_trunk.endpoint_sid == ids["pbx"]
    assert account.pbx_trunk.voip_token == account.endpoint(ids["pbx"]).voip_token
    assert (account.pbx_trunk.source_port, account.pbx_trunk.codecs) == (5060, ("PCMU", "PCMA"))
    new = await store.regenerate_voip_token(ids["pbx"])
    assert (await store.account()).pbx_trunk.voip_token != new  # the PBX was not told
    trunk = await store.update_pbx_trunk(voip_token=f" {new} ", send_voip_token_header=False, source_port="5080",
                                         codecs=["g722", "PCMU"])
    assert (trunk.voip_token, trunk.send_voip_token_header, trunk.source_port, trunk.codecs) == (
        new, False, 5080, ("G722", "PCMU"))
    await store.reset()
    account = await store.account()
    assert account.pbx_trunk.voip_token == account.pbx_endpoint().voip_token and account.pbx_trunk.source_port == 5060


async def test_exercise_progress_keeps_checks_hints_and_solves(store: Store):
    await store.start_exercise("stale_voip_token", now=100.0)
    for n in range(1, 5):
        progress = await store.record_check("stale_voip_token", passed=False,
                                            checklist=[CheckRow("t", "fail", "c", "f", "s")],
                                            ladder=f"failing {n}", now=100.0 + n)
        assert progress.hints_shown == 0 and not progress.solved  # a check gives no hint: it is asked for
    assert progress.checklist == (CheckRow("t", "fail", "c", "f", "s"),)
    assert progress.failing_ladder == "failing 1"  # the first failure is the one worth keeping
    await store.give_hint("stale_voip_token", "first")
    progress = await store.give_hint("stale_voip_token", "second")
    assert (progress.hints_shown, progress.hints) == (2, ("first", "second"))
    progress = await store.record_check("stale_voip_token", passed=True, checklist=[CheckRow("t", "pass")],
                                        ladder="fixed", now=200.0)
    assert (progress.solved_at, progress.checks, progress.hints_shown, progress.fixed_ladder) == (200.0, 5, 2, "fixed")
    again = await store.record_check("stale_voip_token", passed=True, checklist=[], ladder="fixed again", now=300.0)
    assert again.solved_at == 200.0  # solved once: the first time counts
    restarted = await store.start_exercise("stale_voip_token", now=400.0)
    assert (restarted.hints_shown, restarted.hints, restarted.checks, restarted.solved, restarted.failing_ladder) == (
        0, (), 0, False, "")
    assert list(await store.exercise_progress()) == ["stale_voip_token"]


async def test_an_exercise_keeps_the_account_it_started_from(store: Store):
    from sip.exercise import start_account

    before = await store.account()
    progress = await store.start_exercise("stale_voip_token", now=1.0)
    await store.add_firewall_rule("10.0.0.0/8")
    assert start_account(progress) == before
    restarted = await store.start_exercise("stale_voip_token", now=2.0)  # a new attempt, from the account now
    assert start_account(restarted) == await store.account()


async def test_a_version_3_file_upgrades_and_keeps_its_progress(tmp_path):
    """Exercise progress written before schema v6: its rows (four columns each) read back, with
    no hints list and no starting account."""
    import sqlite3

    from store.schema import LATEST, MIGRATIONS

    path = tmp_path / "v3.db"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        for statement in migration:
            db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO exercise_progress (scenario, started_at, hints_shown, checks, checklist) VALUES "
               "('stale_voip_token', 1.0, 2, 2, ?)", (json.dumps([["t", "fail", "c", "f"]]),))
    db.commit()
    db.close()
    async with await Store.open(path) as upgraded:
        assert await upgraded.schema_version() == LATEST
        progress = (await upgraded.exercise_progress())["stale_voip_token"]
    assert progress.checklist == (CheckRow("t", "fail", "c", "f", ""),)
    assert (progress.hints_shown, progress.hints, progress.start_account) == (2, (), "")
