"""`apply`: the account as a file, through the real store. The file is `show --json --reveal`'s
shape; applying it makes the account equal to it in one transaction, or refuses with the
store's message and changes nothing."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest

from store import EndpointAttributes, Store, StoreError
from store.export import account_to_dict, mask_token
from tests.conftest import dump


def _without_gateway_sid(document: dict) -> dict:
    """Each account's System Gateway has a SID of its own, which a file does not carry over."""
    document = copy.deepcopy(document)
    document["endpoints"][0]["endpoint_sid"] = "(this account's)"
    return document


async def _worked_on(store: Store) -> None:
    """An account that differs from the default in every section."""
    account = await store.account()
    pbx, group = account.third_party_endpoints[0], account.trunk_groups[0]
    branch = await store.create_endpoint("Branch PBX", capacity=2, provision_trunk_group=True,
                                         attributes=EndpointAttributes(True, ("10.1.0.0/16",)))
    await store.add_endpoint_address(branch.endpoint_sid, "127.0.0.40", port=5070, direction="inbound", priority=1)
    await store.add_endpoint_address(branch.endpoint_sid, "127.0.0.41", direction="outbound")
    await store.add_endpoint_address(pbx.endpoint_sid, "127.0.0.12", priority=3)
    await store.update_endpoint(pbx.endpoint_sid, capacity=1, name="Acme HQ")
    await store.add_trunk(group.trunk_group_sid, branch.endpoint_sid, priority=2, name="to the branch")
    await store.rename_trunk_group(group.trunk_group_sid, "Main")
    spare = next(d for d in account.dids if d.trunk_group_sid is None)
    await store.assign_did(spare.did_sid, next(g.trunk_group_sid for g in (await store.account()).trunk_groups
                                                if g.name == "Branch PBX trunk group"))
    await store.rename_did(account.dids[0].did_sid, "Reception")
    await store.create_did("+44 20 7946 0018", name="London")
    await store.update_firewall_rule(account.firewall_rules[0].rule_id, protocol="sip", note="signalling")
    await store.remove_firewall_rule(account.firewall_rules[1].rule_id)
    await store.add_firewall_rule("127.0.0.3", protocol="any", note="second gateway")
    await store.update_pbx_trunk(source_port=5080, codecs=["PCMA"], send_voip_token_header=False)
    await store.set_builtin_pbx(False)


async def test_the_same_file_changes_nothing(store: Store, db_path: Path):
    await _worked_on(store)
    document = account_to_dict(await store.account(), reveal=True)
    before = dump(db_path)
    assert await store.apply(document) == []
    assert dump(db_path) == before


async def test_round_trip_into_another_database_gives_the_same_account(store: Store, tmp_path: Path):
    await _worked_on(store)
    document = account_to_dict(await store.account(), reveal=True)
    async with await Store.open(tmp_path / "other.db") as other:
        changes = await other.apply(document)
        assert len(changes) > 10
        assert _without_gateway_sid(account_to_dict(await other.account(), reveal=True)) == \
            _without_gateway_sid(document)
        assert await other.apply(document) == []  # applied once, nothing left to do


async def test_a_dry_run_reports_the_changes_and_makes_none(store: Store, tmp_path: Path):
    await _worked_on(store)
    document = account_to_dict(await store.account(), reveal=True)
    async with await Store.open(tmp_path / "other.db") as other:
        before = dump(tmp_path / "other.db")
        heard = []
        other.subscribe(lambda: heard.append(1))
        dry = await other.apply(document, dry_run=True)
        assert dump(tmp_path / "other.db") == before and heard == []
        assert await other.apply(document) == dry and heard == [1]


async def test_the_file_describes_each_change(store: Store, db_path: Path):
    document = account_to_dict(await store.account(), reveal=True)
    document["endpoints"][1]["capacity"] = 2
    document["endpoints"][1]["voip_token"] = "a-new-token-for-the-pbx"
    document["endpoints"][1]["addresses"].append({"ip": "127.0.0.12", "port": 5070, "direction": "outbound",
                                                  "priority": 1})
    document["dids"][2]["trunk_group_sid"] = document["trunk_groups"][0]["trunk_group_sid"]
    document["firewall_rules"][1]["protocol"] = "sip"
    document["builtin_pbx"] = False
    changes = await store.apply(document)
    assert changes == [
        "endpoint 'Acme PBX': capacity 0 -> 2",
        "endpoint 'Acme PBX': voip_token changed (not shown)",
        "endpoint 'Acme PBX': address 127.0.0.12:5070/udp added (direction outbound, priority 1)",
        "phone number +1 202-555-0199: assigned to 'Acme trunk group'",
        "firewall rule 2: allow sip from 127.0.0.3/32: changed (was 2: allow any from 127.0.0.3/32)",
        "built-in PBX: off (your own PBX)",
    ]
    account = await store.account()
    assert account.third_party_endpoints[0].voip_token == "a-new-token-for-the-pbx"
    assert not any("a-new-token" in change for change in changes)
    assert account.builtin_pbx is False


async def test_a_masked_token_of_this_account_keeps_the_token(store: Store):
    account = await store.account()
    document = account_to_dict(account, reveal=False)  # `show --json`, tokens masked
    assert await store.apply(document) == []
    assert (await store.account()).third_party_endpoints[0].voip_token == account.third_party_endpoints[0].voip_token


async def test_new_objects_without_sids_get_fresh_ones(store: Store):
    document = account_to_dict(await store.account(), reveal=True)
    document["endpoints"].append({"name": "Lab PBX", "addresses": [{"ip": "127.0.0.50"}]})
    document["dids"].append({"phonenumber": "+1 202 555 0142"})
    changes = await store.apply(document)
    assert changes == ["endpoint 'Lab PBX': added (third-party, capacity 0)",
                       "endpoint 'Lab PBX': address 127.0.0.50:5060/udp added (direction any, priority 0)",
                       "phone number +1 202-555-0142: added (unassigned)"]
    added = (await store.account()).third_party_endpoints[-1]
    assert added.endpoint_sid and added.voip_token and added.endpoint_sid != added.voip_token


async def test_sections_left_out_stay_as_they_are(store: Store, db_path: Path):
    before = dump(db_path)
    assert await store.apply({"builtin_pbx": True}) == []
    assert await store.apply({}) == []
    assert dump(db_path) == before


async def test_a_whole_trunk_from_a_blank_account(store: Store):
    await store.reset(blank=True)
    account = await store.account()
    document = account_to_dict(account, reveal=True)
    document["endpoints"].append({"endpoint_sid": "ep-1", "name": "My PBX", "voip_token": "tok-1",
                                  "addresses": [{"ip": "127.0.0.10"}]})
    document["trunk_groups"] = [{"trunk_group_sid": "tg-1", "name": "Main",
                                 "trunks": [{"endpoint_sid": "ep-1", "name": "My PBX trunk"}]}]
    for did in document["dids"][:2]:
        did["trunk_group_sid"] = "tg-1"
    document["firewall_rules"] = [{"cidr": f"{a.ip}/32"} for a in account.system_gateway.addresses]
    document["pbx_trunk"].update(endpoint_sid="ep-1", voip_token="tok-1")
    await store.apply(document)
    built = await store.account()
    assert [d.phonenumber for d in built.assigned_phonenumbers("ep-1")] == ["12025550100", "12025550101"]
    assert built.pbx_trunk.configured and [r.position for r in built.firewall_rules] == [1, 2]


def _document_cases():
    """(description, how the file is spoiled, words of the refusal). Each starts from `show
    --json --reveal` of the default account."""
    def endpoint(d):
        return d["endpoints"][1]

    def set_in(path, value):
        def spoil(d):
            target = d
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return spoil

    return [
        ("not an object", lambda d: d.clear() or d.update({"endpoints": {"a": 1}}), "expected a list"),
        ("an unknown section", set_in(["trunks"], []), "unknown field 'trunks'"),
        ("an unknown endpoint field", lambda d: endpoint(d).update(colour="red"), "unknown field 'colour'"),
        ("endpoint without a name", lambda d: endpoint(d).pop("name"), "missing 'name'"),
        ("endpoint with an empty name", set_in(["endpoints", 1, "name"], " "), "name is required"),
        ("endpoint of an unknown type", set_in(["endpoints", 1, "type"], "pbx"), "'pbx' is not one of"),
        ("capacity below 0", set_in(["endpoints", 1, "capacity"], -1), "0 or more"),
        ("capacity as a float", set_in(["endpoints", 1, "capacity"], 1.5), "expected a whole number"),
        ("a token with a space", set_in(["endpoints", 1, "voip_token"], "two words"), "spaces, quotes"),
        ("a masked token of another account", set_in(["endpoints", 1, "voip_token"], mask_token("x" * 36)),
         "masked"),
        ("insecure_address as a string", set_in(["endpoints", 1, "attributes", "insecure_address"], "yes"),
         "expected true or false"),
        ("a public ip restriction", set_in(["endpoints", 1, "attributes", "ip_restrictions"], ["8.8.8.0/24"]),
         "public"),
        ("an address off the map", set_in(["endpoints", 1, "addresses", 0, "ip"], "300.1.1.1"), "not an IPv4"),
        ("a public address", set_in(["endpoints", 1, "addresses", 0, "ip"], "8.8.8.8"), "public"),
        ("port 0", set_in(["endpoints", 1, "addresses", 0, "port"], 0), "out of range"),
        ("port as text", set_in(["endpoints", 1, "addresses", 0, "port"], "sip"), "not a port"),
        ("tcp", set_in(["endpoints", 1, "addresses", 0, "transport"], "tcp"), "not one of udp"),
        ("direction both", set_in(["endpoints", 1, "addresses", 0, "direction"], "both"), "not one of any"),
        ("priority below 0", set_in(["endpoints", 1, "addresses", 0, "priority"], -3), "0 or more"),
        ("an address twice", lambda d: endpoint(d)["addresses"].append(dict(endpoint(d)["addresses"][0])),
         "already an address"),
        ("an endpoint twice", lambda d: d["endpoints"].append(copy.deepcopy(endpoint(d))), "appears twice"),
        ("the gateway moved", set_in(["endpoints", 0, "addresses", 0, "ip"], "127.0.0.4"), "read-only"),
        ("the gateway lost an address", lambda d: d["endpoints"][0]["addresses"].pop(), "read-only"),
        ("an endpoint a trunk uses, left out", lambda d: d["endpoints"].pop(1),
         "is still a trunk of 'Acme trunk group'"),
        ("a group with numbers, left out", lambda d: d.update(trunk_groups=[]),
         "still has phone numbers +1 202-555-0100, +1 202-555-0101"),
        ("a group renamed to nothing", set_in(["trunk_groups", 0, "name"], ""), "name is required"),
        ("routing by weight", set_in(["trunk_groups", 0, "routing_type"], "weighted"), "not one of failover"),
        ("a trunk to nowhere", set_in(["trunk_groups", 0, "trunks", 0, "endpoint_sid"], "nope"), "no endpoint"),
        ("a trunk to the gateway", lambda d: d["trunk_groups"][0]["trunks"][0].update(
            endpoint_sid=d["endpoints"][0]["endpoint_sid"]), "not at the System Gateway"),
        ("a trunk priority below 0", set_in(["trunk_groups", 0, "trunks", 0, "priority"], -1), "0 or more"),
        ("a trunk twice", lambda d: d["trunk_groups"][0]["trunks"].append(dict(d["trunk_groups"][0]["trunks"][0])),
         "appears twice"),
        ("a bad number", set_in(["dids", 0, "phonenumber"], "555-CALL"), "not a phone number"),
        ("a number twice", lambda d: d["dids"][1].update(phonenumber="+1 202 555 0100"), "already in the account"),
        ("a number in a missing group", set_in(["dids", 2, "trunk_group_sid"], "nope"), "no trunk group"),
        ("a number name with a line break", set_in(["dids", 0, "name"], "a\nb"), "control characters"),
        ("a fax capability", set_in(["dids", 0, "capabilities"], ["fax"]), "not one of voice"),
        ("a bad firewall source", set_in(["firewall_rules", 0, "cidr"], "127.0.0.2/33"), "not an IPv4"),
        ("firewall host bits", set_in(["firewall_rules", 0, "cidr"], "10.0.0.1/8"), "did you mean 10.0.0.0/8"),
        ("firewall icmp", set_in(["firewall_rules", 0, "protocol"], "icmp"), "not one of any, sip, rtp"),
        ("a rule twice", lambda d: d["firewall_rules"][1].update(cidr="127.0.0.2/32"), "would add nothing"),
        ("rules out of order", set_in(["firewall_rules", 1, "position"], 1), "position order"),
        ("a party off loopback", set_in(["parties", 0, "ip"], "10.0.0.20"), "not a loopback"),
        ("a party missing", lambda d: d["parties"].pop(), "is missing"),
        ("PBX token alone", set_in(["pbx_trunk", "endpoint_sid"], ""), "give both"),
        ("PBX codec unknown", set_in(["pbx_trunk", "codecs"], ["G729"]), "'G729' is not one of"),
        ("PBX source port", set_in(["pbx_trunk", "source_port"], 70000), "out of range"),
        ("builtin_pbx as a word", set_in(["builtin_pbx"], "off"), "expected true or false"),
    ]


CASES = _document_cases()


@pytest.mark.parametrize(("spoil", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_an_invalid_field_is_refused_and_nothing_changes(store: Store, db_path: Path, spoil, words):
    document = account_to_dict(await store.account(), reveal=True)
    document["endpoints"][1]["capacity"] = 3  # a valid change too: it must not be made either
    spoil(document)
    before = dump(db_path)
    with pytest.raises(StoreError) as caught:
        await store.apply(document)
    assert words in caught.value.message, caught.value.message
    assert dump(db_path) == before


def test_every_refusal_case_has_its_own_words():
    assert len({c[0] for c in CASES}) == len(CASES)
    assert not [a for a, b in itertools.combinations(CASES, 2) if a[1] is b[1]]
