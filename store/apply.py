"""The account as a file: `show --json --reveal` read back, and the changes that make the
account equal to it (pure; the store carries them out in one transaction, see Store.apply).

Two steps, both pure:

1. `read_document(data, current)` checks every field with the same rules (and messages) as
   the console's edits, each message prefixed by where it is (`endpoints[1] (Acme PBX):
   addresses[0]: port: ...`), and returns the account the file describes. A section the file
   leaves out stays as it is. A SID left out (or null) means a new object with a fresh SID.
   A VoIP token may be the masked form `show` prints without --reveal, when it is this
   account's own token masked: the token is then kept (so a file can be shared without it).
   The System Gateway is the carrier's: its addresses must be this account's (its SID and name
   are each account's own and are not compared).
2. `plan(current, desired)` lists the changes, each a sentence for the person applying it and
   the SQL statements that make it, in an order the schema's keys accept (what others point at
   is created before, and deleted after, what points at it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import validate
from .errors import ConflictError, NotFoundError, ReadOnlyError, StoreError, ValidationError
from .export import mask_token
from .records import (
    SYSTEM_GATEWAY,
    THIRD_PARTY,
    Account,
    Did,
    Endpoint,
    EndpointAddress,
    EndpointAttributes,
    FirewallRule,
    LabParty,
    PbxTrunk,
    Trunk,
    TrunkGroup,
)

SECTIONS = ("endpoints", "trunk_groups", "dids", "firewall_rules", "parties", "pbx_trunk", "builtin_pbx")
ENDPOINT_KEYS = {"endpoint_sid", "name", "type", "voip_token", "capacity", "addresses", "attributes"}
ADDRESS_KEYS = {"ip", "port", "transport", "direction", "priority"}
ATTRIBUTE_KEYS = {"insecure_address", "ip_restrictions"}
GROUP_KEYS = {"trunk_group_sid", "name", "routing_type", "trunks"}
TRUNK_KEYS = {"trunk_sid", "endpoint_sid", "name", "priority", "weight"}
DID_KEYS = {"did_sid", "phonenumber", "name", "trunk_group_sid", "capabilities"}
RULE_KEYS = {"rule_id", "position", "cidr", "protocol", "note"}
PARTY_KEYS = {"role", "ip", "port"}
PBX_TRUNK_KEYS = {"endpoint_sid", "voip_token", "send_voip_token_header", "source_port", "codecs"}
ROUTING_TYPES = ("failover",)
CAPABILITIES = ("voice", "sms", "mms")
ROLES = ("pstn", "pbx", "pbx_roaming")


class DocumentError(ValidationError):
    """Something in the file is not a valid account; the message says where."""


# ---------------------------------------------------------------------------- reading the file

def _at(where: str, error: StoreError) -> StoreError:
    """The same error, its message prefixed by where in the file it is."""
    moved = type(error)(f"{where}: {error.message}", field=error.field)
    return moved


def _object(value: object, where: str, keys: set[str], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise DocumentError(f"{where}: expected an object {{...}}, got {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise DocumentError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    missing = [key for key in required if key not in value]
    if missing:
        raise DocumentError(f"{where}: missing {missing[0]!r}")
    return value


def _list(value: object, where: str) -> list:
    if not isinstance(value, list):
        raise DocumentError(f"{where}: expected a list [...], got {type(value).__name__}")
    return value


def _boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise DocumentError(f"{where}: expected true or false, got {value!r}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise DocumentError(f"{where}: expected a string, got {value!r}")
    return value


def _number(value: object, where: str) -> int | str:
    """An integer, or a string of one (as a form would send): never a float or a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DocumentError(f"{where}: expected a whole number, got {value!r}")
    return value


def _sid(value: object, where: str, new_sid: Callable[[], str]) -> str:
    """A SID from the file (one printable word), or a fresh one when it is left out."""
    if value is None:
        return new_sid()
    return validate.credential(_text(value, where), where.rsplit(".", 1)[-1])


def _token(value: object, current: str | None, where: str) -> str | None:
    """A VoIP token in clear, or this account's own token as `show` masks it (kept)."""
    if value is None:
        return None
    text = _text(value, where)
    if "•" in text:
        if current is not None and text == mask_token(current):
            return current
        raise DocumentError(f"{where}: this token is masked and is not this account's token masked; "
                            "export with `show --json --reveal`, or write the token itself")
    return validate.credential(text, "voip_token")


def read_document(data: object, current: Account, *, new_sid: Callable[[], str],
                  new_token: Callable[[], str]) -> Account:
    """The account the file describes (sections it leaves out: as they are now)."""
    document = _object(data, "the file", set(SECTIONS))
    desired = current
    if "endpoints" in document:
        desired = replace(desired, endpoints=_endpoints(document["endpoints"], current, new_sid, new_token))
    if "trunk_groups" in document:
        desired = replace(desired, trunk_groups=_trunk_groups(document["trunk_groups"], new_sid))
    if "dids" in document:
        desired = replace(desired, dids=_dids(document["dids"], new_sid))
    if "firewall_rules" in document:
        desired = replace(desired, firewall_rules=_rules(document["firewall_rules"]))
    if "parties" in document:
        desired = replace(desired, parties=_parties(document["parties"]))
    if "pbx_trunk" in document:
        desired = replace(desired, pbx_trunk=_pbx_trunk(document["pbx_trunk"], current.pbx_trunk))
    if "builtin_pbx" in document:
        desired = replace(desired, builtin_pbx=_boolean(document["builtin_pbx"], "builtin_pbx"))
    _check_references(current, desired)
    return desired


def _endpoints(value: object, current: Account, new_sid, new_token) -> tuple[Endpoint, ...]:
    gateway = current.system_gateway
    endpoints: list[Endpoint] = []
    seen: set[str] = set()
    for index, raw in enumerate(_list(value, "endpoints")):
        where = f"endpoints[{index}]"
        item = _object(raw, where, ENDPOINT_KEYS, ("name",))
        if isinstance(item.get("name"), str):
            where += f" ({item['name'].strip()[:40]})"
        kind = item.get("type", THIRD_PARTY)
        if kind == SYSTEM_GATEWAY:
            _same_gateway(item, gateway, where)
            continue
        if kind != THIRD_PARTY:
            raise DocumentError(f"{where}: type: {kind!r} is not one of third_party, system_gateway")
        try:
            sid = _sid(item.get("endpoint_sid"), f"{where}.endpoint_sid", new_sid)
            if sid in seen or sid == gateway.endpoint_sid:
                raise ConflictError(f"endpoint_sid {sid} appears twice", field="endpoint_sid")
            seen.add(sid)
            existing = current.endpoint(sid)
            token = _token(item.get("voip_token"), existing.voip_token if existing else None, "voip_token")
            if token is None:  # left out: kept, or a fresh one for a new endpoint
                token = existing.voip_token if existing else new_token()
            endpoint = Endpoint(
                endpoint_sid=sid, name=validate.name(_text(item["name"], "name")), type=THIRD_PARTY,
                voip_token=token,
                capacity=validate.non_negative_int(_number(item.get("capacity", 0), "capacity"), "capacity"),
                attributes=_attributes(item.get("attributes", {})),
                addresses=_addresses(item.get("addresses", []), sid),
                out_sip_username=existing.out_sip_username if existing else None,
                out_sip_password=existing.out_sip_password if existing else None,
            )
        except StoreError as error:
            raise _at(where, error) from None
        endpoints.append(endpoint)
    return (gateway, *endpoints)


def _same_gateway(item: dict, gateway: Endpoint, where: str) -> None:
    addresses = [_object(a, f"{where}.addresses[{i}]", ADDRESS_KEYS)
                 for i, a in enumerate(_list(item.get("addresses", []), f"{where}.addresses"))]
    wanted = [(a.get("ip"), a.get("port", 5060), a.get("transport", "udp"), a.get("direction", "any"),
               a.get("priority", 0)) for a in addresses]
    have = [(a.ip, a.port, a.transport, a.direction, a.priority) for a in gateway.addresses]
    if wanted != have:
        shown = ", ".join(f"{a.ip}:{a.port}" for a in gateway.addresses)
        raise ReadOnlyError(f"{where}: the System Gateway endpoint is system-generated and read-only: its "
                            f"addresses are {shown} in this account; leave it out of the file or give them as they are")


def _attributes(value: object) -> EndpointAttributes:
    item = _object(value, "attributes", ATTRIBUTE_KEYS)
    restrictions = tuple(validate.cidr(_text(c, "ip_restrictions"), field="ip_restrictions")
                         for c in _list(item.get("ip_restrictions", []), "attributes.ip_restrictions"))
    return EndpointAttributes(_boolean(item.get("insecure_address", False), "attributes.insecure_address"),
                              restrictions)


def _addresses(value: object, endpoint_sid: str) -> tuple[EndpointAddress, ...]:
    addresses: list[EndpointAddress] = []
    for index, raw in enumerate(_list(value, "addresses")):
        item = _object(raw, f"addresses[{index}]", ADDRESS_KEYS, ("ip",))
        try:
            address = EndpointAddress(
                0, endpoint_sid, validate.ip_or_cidr(_text(item["ip"], "ip")),
                validate.port(_number(item.get("port", 5060), "port")),
                validate.transport(item.get("transport", "udp")), validate.direction(item.get("direction", "any")),
                validate.non_negative_int(_number(item.get("priority", 0), "priority"), "priority"))
        except StoreError as error:
            raise _at(f"addresses[{index}]", error) from None
        if any(_address_key(a) == _address_key(address) for a in addresses):
            raise ConflictError(f"addresses[{index}]: {address.ip}:{address.port}/{address.transport} "
                                "is already an address of this endpoint", field="ip")
        addresses.append(address)
    return tuple(addresses)


def _address_key(address: EndpointAddress) -> tuple[str, int, str]:
    return address.ip, address.port, address.transport


def _trunk_groups(value: object, new_sid) -> tuple[TrunkGroup, ...]:
    groups: list[TrunkGroup] = []
    seen_groups: set[str] = set()
    seen_trunks: set[str] = set()
    for index, raw in enumerate(_list(value, "trunk_groups")):
        where = f"trunk_groups[{index}]"
        item = _object(raw, where, GROUP_KEYS, ("name",))
        try:
            sid = _sid(item.get("trunk_group_sid"), "trunk_group_sid", new_sid)
            if sid in seen_groups:
                raise ConflictError(f"trunk_group_sid {sid} appears twice", field="trunk_group_sid")
            seen_groups.add(sid)
            name = validate.name(_text(item["name"], "name"))
            routing = validate.one_of(item.get("routing_type", "failover"), ROUTING_TYPES, "routing_type")
            trunks = []
            for t_index, t_raw in enumerate(_list(item.get("trunks", []), "trunks")):
                trunk_item = _object(t_raw, f"trunks[{t_index}]", TRUNK_KEYS, ("endpoint_sid",))
                try:
                    trunk_sid = _sid(trunk_item.get("trunk_sid"), "trunk_sid", new_sid)
                    if trunk_sid in seen_trunks:
                        raise ConflictError(f"trunk_sid {trunk_sid} appears twice", field="trunk_sid")
                    seen_trunks.add(trunk_sid)
                    trunks.append(Trunk(
                        trunk_sid, sid, validate.credential(_text(trunk_item["endpoint_sid"], "endpoint_sid"),
                                                            "endpoint_sid"),
                        validate.name(_text(trunk_item.get("name", "trunk"), "name")),
                        validate.non_negative_int(_number(trunk_item.get("priority", 0), "priority"), "priority"),
                        validate.non_negative_int(_number(trunk_item.get("weight", 0), "weight"), "weight")))
                except StoreError as error:
                    raise _at(f"trunks[{t_index}]", error) from None
        except StoreError as error:
            raise _at(f"{where} ({str(item['name']).strip()[:40]})", error) from None
        groups.append(TrunkGroup(sid, name, routing, tuple(trunks)))
    return tuple(groups)


def _dids(value: object, new_sid) -> tuple[Did, ...]:
    dids: list[Did] = []
    for index, raw in enumerate(_list(value, "dids")):
        where = f"dids[{index}]"
        item = _object(raw, where, DID_KEYS, ("phonenumber",))
        try:
            number = validate.phonenumber(_text(item["phonenumber"], "phonenumber"))
            sid = _sid(item.get("did_sid"), "did_sid", new_sid)
            if any(d.did_sid == sid for d in dids):
                raise ConflictError(f"did_sid {sid} appears twice", field="did_sid")
            if any(d.phonenumber == number for d in dids):
                raise ConflictError(f"{validate.display_phonenumber(number)} is already in the account",
                                    field="phonenumber")
            group = item.get("trunk_group_sid")
            capabilities = tuple(validate.one_of(c, CAPABILITIES, "capabilities")
                                 for c in _list(item.get("capabilities", ["voice"]), "capabilities"))
            dids.append(Did(sid, number, validate.label(item.get("name", "")),
                            None if group is None else _text(group, "trunk_group_sid"), capabilities))
        except StoreError as error:
            raise _at(where, error) from None
    return tuple(sorted(dids, key=lambda d: d.phonenumber))  # the order the store reads them in


def _rules(value: object) -> tuple[FirewallRule, ...]:
    rules: list[FirewallRule] = []
    for index, raw in enumerate(_list(value, "firewall_rules")):
        where = f"firewall_rules[{index}]"
        item = _object(raw, where, RULE_KEYS, ("cidr",))
        try:
            rule_id = item.get("rule_id")
            rule_id = 0 if rule_id is None else validate.non_negative_int(_number(rule_id, "rule_id"), "rule_id")
            position = item.get("position")
            position = (rules[-1].position + 1 if rules else 1) if position is None else \
                validate.non_negative_int(_number(position, "position"), "position")
            if rules and position <= rules[-1].position:
                raise DocumentError(f"position: {position} after {rules[-1].position}: list the rules in "
                                    "position order, each position once", field="position")
            if rule_id and any(r.rule_id == rule_id for r in rules):
                raise ConflictError(f"rule_id {rule_id} appears twice", field="rule_id")
            rule = FirewallRule(rule_id, position, validate.cidr(_text(item["cidr"], "cidr")),
                                validate.firewall_protocol(item.get("protocol", "any")),
                                validate.label(item.get("note", ""), "note"))
            covering = next((r for r in rules if r.cidr == rule.cidr and r.protocol in ("any", rule.protocol)), None)
            if covering is not None:
                raise ConflictError(f"rule {covering.position} already allows {covering.protocol} from {rule.cidr}: "
                                    "this rule would add nothing", field="cidr")
        except StoreError as error:
            raise _at(where, error) from None
        rules.append(rule)
    return tuple(rules)


def _parties(value: object) -> tuple[LabParty, ...]:
    parties: dict[str, LabParty] = {}
    for index, raw in enumerate(_list(value, "parties")):
        item = _object(raw, f"parties[{index}]", PARTY_KEYS, ("role", "ip"))
        try:
            role = validate.one_of(item["role"], ROLES, "role")
            if role in parties:
                raise ConflictError(f"role {role} appears twice", field="role")
            parties[role] = LabParty(role, validate.loopback_address(_text(item["ip"], "ip")),
                                     validate.port(_number(item.get("port", 5060), "port")))
        except StoreError as error:
            raise _at(f"parties[{index}]", error) from None
    missing = [role for role in ROLES if role not in parties]
    if missing:
        raise DocumentError(f"parties: the lab needs each of {', '.join(ROLES)}; {missing[0]} is missing")
    return tuple(parties[role] for role in sorted(parties))


def _pbx_trunk(value: object, current: PbxTrunk | None) -> PbxTrunk:
    item = _object(value, "pbx_trunk", PBX_TRUNK_KEYS, ("endpoint_sid", "voip_token"))
    try:
        sid = _text(item["endpoint_sid"], "endpoint_sid").strip()
        token = _token(item["voip_token"], current.voip_token if current else None, "voip_token")
        if bool(sid) != bool(token):  # both typed in, or neither (a PBX nobody configured yet)
            raise DocumentError("endpoint_sid and voip_token: give both, or leave both empty (not configured yet)")
        return PbxTrunk(
            validate.credential(sid, "endpoint_sid") if sid else "", token or "",
            _boolean(item.get("send_voip_token_header", True), "send_voip_token_header"),
            validate.port(_number(item.get("source_port", 5060), "source_port"), "source_port"),
            validate.codecs(_list(item.get("codecs", ["PCMU", "PCMA"]), "codecs")))
    except StoreError as error:
        raise _at("pbx_trunk", error) from None


def _check_references(current: Account, account: Account) -> None:
    """What points at something must find it: the store's own rules, on the whole account (an
    endpoint a trunk still uses, a trunk group that still has numbers, cannot go)."""
    endpoints = {e.endpoint_sid: e for e in account.endpoints}
    groups = {g.trunk_group_sid: g for g in account.trunk_groups}
    for group in account.trunk_groups:
        for trunk in group.trunks:
            target = endpoints.get(trunk.endpoint_sid)
            where = f"trunk group {group.name!r}, trunk {trunk.name!r}"
            if target is None:
                gone = current.endpoint(trunk.endpoint_sid)
                if gone is not None:
                    raise ConflictError(f"endpoint {gone.name!r} is not in the file, but it is still a trunk of "
                                        f"{group.name!r}: remove that trunk too", field="endpoint_sid")
                raise NotFoundError(f"{where}: no endpoint with SID {trunk.endpoint_sid} in the account",
                                    field="endpoint_sid")
            if target.is_system_gateway:
                raise ValidationError(f"{where}: a trunk points at your third-party endpoint, not at the System "
                                      "Gateway (that is the carrier itself)", field="endpoint_sid")
    orphans: dict[str, list[str]] = {}
    for did in account.dids:
        if did.trunk_group_sid is not None and did.trunk_group_sid not in groups:
            orphans.setdefault(did.trunk_group_sid, []).append(validate.display_phonenumber(did.phonenumber))
    for sid, numbers in orphans.items():
        gone = current.trunk_group(sid)
        if gone is not None:
            raise ConflictError(f"trunk group {gone.name!r} is not in the file, but it still has phone numbers "
                                f"{', '.join(numbers)}: assign them elsewhere (or unassign them) first",
                                field="trunk_group_sid")
        raise NotFoundError(f"phone number {numbers[0]}: no trunk group with SID {sid} in the account",
                            field="trunk_group_sid")


# ---------------------------------------------------------------------------- the changes

Statement = tuple[str, tuple]


@dataclass(frozen=True)
class Change:
    text: str  # one line for the person applying the file (never a token)
    statements: tuple[Statement, ...]


def plan(current: Account, desired: Account) -> list[Change]:
    changes: list[Change] = []
    changes += _endpoint_changes(current, desired)
    changes += _group_changes(current, desired, create=True)
    changes += _did_changes(current, desired)
    changes += _trunk_changes(current, desired)
    changes += _group_changes(current, desired, create=False)
    changes += _endpoint_deletions(current, desired)
    changes += _order_changes(current, desired, changes)
    changes += _rule_changes(current, desired)
    changes += _lab_changes(current, desired)
    return changes


def _endpoint_changes(current: Account, desired: Account) -> list[Change]:
    changes = []
    for endpoint in desired.third_party_endpoints:
        before = current.endpoint(endpoint.endpoint_sid)
        label = f"endpoint {endpoint.name!r}"
        if before is None:
            changes.append(Change(f"{label}: added (third-party, capacity {endpoint.capacity})", (
                ("INSERT INTO endpoints (endpoint_sid, name, type, voip_token, capacity, attributes, created_seq) "
                 "VALUES (?, ?, 'third_party', ?, ?, ?, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM endpoints))",
                 (endpoint.endpoint_sid, endpoint.name, endpoint.voip_token, endpoint.capacity,
                  endpoint.attributes.to_json())),)))
            before = Endpoint(endpoint.endpoint_sid, endpoint.name, THIRD_PARTY, endpoint.voip_token,
                              endpoint.capacity, endpoint.attributes)
        changes += _field_changes(label, "endpoints", "endpoint_sid", endpoint.endpoint_sid, (
            ("name", before.name, endpoint.name),
            ("capacity", before.capacity, endpoint.capacity),
            ("attributes", before.attributes.to_json(), endpoint.attributes.to_json()),
            ("voip_token", before.voip_token, endpoint.voip_token),
        ))
        changes += _address_changes(label, before, endpoint)
    return changes


def _field_changes(label: str, table: str, key: str, sid: str, fields) -> list[Change]:
    changes = []
    for column, old, new in fields:  # table and column names come from this module, never input
        if old == new:
            continue
        shown = "changed (not shown)" if column == "voip_token" else f"{old} -> {new}"
        changes.append(Change(f"{label}: {column} {shown}", ((f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                                                              (new, sid)),)))
    return changes


def _address_changes(label: str, before: Endpoint, endpoint: Endpoint) -> list[Change]:
    changes = []
    wanted = {_address_key(a): a for a in endpoint.addresses}
    for old in before.addresses:
        if _address_key(old) not in wanted:
            changes.append(Change(f"{label}: address {old.ip}:{old.port}/{old.transport} removed", (
                ("DELETE FROM endpoint_addresses WHERE address_id = ?", (old.address_id,)),)))
    have = {_address_key(a): a for a in before.addresses}
    for new in endpoint.addresses:
        old = have.get(_address_key(new))
        where = f"{new.ip}:{new.port}/{new.transport}"
        if old is None:
            changes.append(Change(f"{label}: address {where} added (direction {new.direction}, priority "
                                  f"{new.priority})", ((
                                      "INSERT INTO endpoint_addresses (endpoint_sid, ip, port, transport, direction, "
                                      "priority) VALUES (?, ?, ?, ?, ?, ?)",
                                      (endpoint.endpoint_sid, new.ip, new.port, new.transport, new.direction,
                                       new.priority)),)))
            continue
        for column in ("direction", "priority"):
            if getattr(old, column) != getattr(new, column):
                changes.append(Change(
                    f"{label}: address {where} {column} {getattr(old, column)} -> {getattr(new, column)}",
                    ((f"UPDATE endpoint_addresses SET {column} = ? WHERE address_id = ?",
                      (getattr(new, column), old.address_id)),)))
    return changes


def _endpoint_deletions(current: Account, desired: Account) -> list[Change]:
    return [Change(f"endpoint {e.name!r}: deleted", (("DELETE FROM endpoints WHERE endpoint_sid = ?",
                                                       (e.endpoint_sid,)),))
            for e in current.third_party_endpoints if desired.endpoint(e.endpoint_sid) is None]


def _group_changes(current: Account, desired: Account, *, create: bool) -> list[Change]:
    changes = []
    if create:
        for group in desired.trunk_groups:
            before = current.trunk_group(group.trunk_group_sid)
            if before is None:
                changes.append(Change(f"trunk group {group.name!r}: added", ((
                    "INSERT INTO trunk_groups (trunk_group_sid, name, routing_type, created_seq) VALUES (?, ?, ?, "
                    "(SELECT COALESCE(MAX(created_seq), 0) + 1 FROM trunk_groups))",
                    (group.trunk_group_sid, group.name, group.routing_type)),)))
            elif before.name != group.name:
                changes.append(Change(f"trunk group {before.name!r}: renamed {group.name!r}", ((
                    "UPDATE trunk_groups SET name = ? WHERE trunk_group_sid = ?", (group.name, group.trunk_group_sid)),)))
        return changes
    return [Change(f"trunk group {g.name!r}: deleted", (("DELETE FROM trunk_groups WHERE trunk_group_sid = ?",
                                                          (g.trunk_group_sid,)),))
            for g in current.trunk_groups if desired.trunk_group(g.trunk_group_sid) is None]


def _did_changes(current: Account, desired: Account) -> list[Change]:
    groups = {g.trunk_group_sid: g.name for g in (*current.trunk_groups, *desired.trunk_groups)}
    where_to = lambda sid: f"assigned to {groups[sid]!r}" if sid else "unassigned"  # noqa: E731
    have = {d.did_sid: d for d in current.dids}
    wanted = {d.did_sid: d for d in desired.dids}
    changes = []
    for old in current.dids:  # first: a number leaving, or changing its digits, frees them
        new = wanted.get(old.did_sid)
        if new is None or new.phonenumber != old.phonenumber:
            changes.append(Change(f"phone number {validate.display_phonenumber(old.phonenumber)}: deleted", (
                ("DELETE FROM dids WHERE did_sid = ?", (old.did_sid,)),)))
    for new in desired.dids:
        old = have.get(new.did_sid)
        shown = f"phone number {validate.display_phonenumber(new.phonenumber)}"
        if old is None or old.phonenumber != new.phonenumber:
            changes.append(Change(f"{shown}: added ({where_to(new.trunk_group_sid)})", ((
                "INSERT INTO dids (did_sid, phonenumber, name, trunk_group_sid, capabilities) VALUES (?, ?, ?, ?, ?)",
                (new.did_sid, new.phonenumber, new.name, new.trunk_group_sid, _json_list(new.capabilities))),)))
            continue
        if old.trunk_group_sid != new.trunk_group_sid:
            changes.append(Change(f"{shown}: {where_to(new.trunk_group_sid)}", ((
                "UPDATE dids SET trunk_group_sid = ? WHERE did_sid = ?", (new.trunk_group_sid, new.did_sid)),)))
        if old.name != new.name:
            changes.append(Change(f"{shown}: name {old.name!r} -> {new.name!r}", ((
                "UPDATE dids SET name = ? WHERE did_sid = ?", (new.name, new.did_sid)),)))
        if old.capabilities != new.capabilities:
            changes.append(Change(f"{shown}: capabilities {', '.join(new.capabilities)}", ((
                "UPDATE dids SET capabilities = ? WHERE did_sid = ?", (_json_list(new.capabilities), new.did_sid)),)))
    return changes


def _json_list(items: tuple[str, ...]) -> str:
    return json.dumps(list(items))


def _trunk_changes(current: Account, desired: Account) -> list[Change]:
    names = {e.endpoint_sid: e.name for e in (*current.endpoints, *desired.endpoints)}
    have = {t.trunk_sid: t for g in current.trunk_groups for t in g.trunks}
    wanted = {t.trunk_sid: t for g in desired.trunk_groups for t in g.trunks}
    changes = [Change(f"trunk {t.name!r}: removed", (("DELETE FROM trunks WHERE trunk_sid = ?", (t.trunk_sid,)),))
               for sid, t in have.items() if sid not in wanted]
    for group in desired.trunk_groups:
        for trunk in group.trunks:
            old = have.get(trunk.trunk_sid)
            label = f"trunk {trunk.name!r}"
            if old is None:
                changes.append(Change(
                    f"{label}: added to {group.name!r}, to {names[trunk.endpoint_sid]!r}, priority {trunk.priority}", ((
                        "INSERT INTO trunks (trunk_sid, trunk_group_sid, endpoint_sid, name, priority, weight, "
                        "created_seq) VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM trunks))",
                        (trunk.trunk_sid, trunk.trunk_group_sid, trunk.endpoint_sid, trunk.name, trunk.priority,
                         trunk.weight)),)))
                continue
            changes += _field_changes(label, "trunks", "trunk_sid", trunk.trunk_sid, (
                ("trunk_group_sid", old.trunk_group_sid, trunk.trunk_group_sid),
                ("endpoint_sid", old.endpoint_sid, trunk.endpoint_sid),
                ("name", old.name, trunk.name),
                ("priority", old.priority, trunk.priority),
                ("weight", old.weight, trunk.weight),
            ))
    return changes


def _order_changes(current: Account, desired: Account, earlier: list[Change]) -> list[Change]:
    """Endpoints, trunk groups and trunks listed as in the file: kept ones keep their place and
    new ones come last; when the file orders them otherwise, they are numbered again."""
    changes = []
    wanted = [e.endpoint_sid for e in desired.third_party_endpoints]
    kept = [e.endpoint_sid for e in current.third_party_endpoints if e.endpoint_sid in wanted]
    if kept + [sid for sid in wanted if sid not in kept] != wanted:
        changes.append(Change("endpoints: put in the file's order", tuple(
            ("UPDATE endpoints SET created_seq = ? WHERE endpoint_sid = ?", (index + 1, sid))
            for index, sid in enumerate(wanted))))
    wanted = [g.trunk_group_sid for g in desired.trunk_groups]
    kept = [g.trunk_group_sid for g in current.trunk_groups if g.trunk_group_sid in wanted]
    if kept + [sid for sid in wanted if sid not in kept] != wanted:
        changes.append(Change("trunk groups: put in the file's order", tuple(
            ("UPDATE trunk_groups SET created_seq = ? WHERE trunk_group_sid = ?", (index + 1, sid))
            for index, sid in enumerate(wanted))))
    # trunks are read by priority, then in the order they were made: renumber them all when a
    # group lists trunks of equal priority in another order than that
    seq = {t.trunk_sid: i for i, t in enumerate(t for g in current.trunk_groups for t in g.trunks)}
    new = len(seq)
    for group in desired.trunk_groups:
        for trunk in group.trunks:
            if trunk.trunk_sid not in seq:
                seq[trunk.trunk_sid] = new
                new += 1
    if any([t.trunk_sid for t in g.trunks] != [t.trunk_sid for t in sorted(g.trunks, key=lambda t: (
            t.priority, seq[t.trunk_sid]))] for g in desired.trunk_groups):
        flat = [t.trunk_sid for g in desired.trunk_groups for t in g.trunks]
        changes.append(Change("trunks: put in the file's order", tuple(
            ("UPDATE trunks SET created_seq = ? WHERE trunk_sid = ?", (index + 1, sid))
            for index, sid in enumerate(flat))))
    return changes


def _rule_changes(current: Account, desired: Account) -> list[Change]:
    have = {r.rule_id: r for r in current.firewall_rules}
    wanted = {r.rule_id for r in desired.firewall_rules if r.rule_id}
    changes = [Change(f"firewall rule {r.position} (allow {r.protocol} from {r.cidr}): removed", (
        ("DELETE FROM firewall_rules WHERE rule_id = ?", (r.rule_id,)),)) for r in current.firewall_rules
        if r.rule_id not in wanted]
    for rule in desired.firewall_rules:
        old = have.get(rule.rule_id) if rule.rule_id else None
        text = f"firewall rule {rule.position}: allow {rule.protocol} from {rule.cidr}"
        if old is None:
            columns = "rule_id, position, cidr, protocol, note" if rule.rule_id else "position, cidr, protocol, note"
            values = (rule.rule_id,) if rule.rule_id else ()
            changes.append(Change(f"{text}: added", ((
                f"INSERT INTO firewall_rules ({columns}) VALUES ({', '.join('?' * (len(values) + 4))})",
                (*values, rule.position, rule.cidr, rule.protocol, rule.note)),)))
        elif (old.position, old.cidr, old.protocol, old.note) != (rule.position, rule.cidr, rule.protocol, rule.note):
            changes.append(Change(f"{text}: changed (was {old.position}: allow {old.protocol} from {old.cidr})", ((
                "UPDATE firewall_rules SET position = ?, cidr = ?, protocol = ?, note = ? WHERE rule_id = ?",
                (rule.position, rule.cidr, rule.protocol, rule.note, rule.rule_id)),)))
    return changes


def _lab_changes(current: Account, desired: Account) -> list[Change]:
    changes = []
    for party in desired.parties:
        old = current.party(party.role)
        if old != party:
            changes.append(Change(f"lab party {party.role}: {party.ip}:{party.port}", ((
                "INSERT INTO lab_parties (role, ip, port) VALUES (?, ?, ?) "
                "ON CONFLICT (role) DO UPDATE SET ip = excluded.ip, port = excluded.port",
                (party.role, party.ip, party.port)),)))
    old, new = current.pbx_trunk, desired.pbx_trunk
    if new is not None and new != old:
        fields = (("endpoint_sid", old.endpoint_sid if old else None, new.endpoint_sid),
                  ("voip_token", old.voip_token if old else None, new.voip_token),
                  ("send_voip_token_header", old.send_voip_token_header if old else None, new.send_voip_token_header),
                  ("source_port", old.source_port if old else None, new.source_port),
                  ("codecs", ", ".join(old.codecs) if old else None, ", ".join(new.codecs)))
        said = "; ".join(f"{name} changed (not shown)" if name == "voip_token" else f"{name} {before} -> {after}"
                         for name, before, after in fields if before != after)
        changes.append(Change(f"PBX settings: {said}", ((
            "INSERT INTO pbx_trunk (id, endpoint_sid, voip_token, send_voip_token_header, source_port, codecs) "
            "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET endpoint_sid = excluded.endpoint_sid, "
            "voip_token = excluded.voip_token, send_voip_token_header = excluded.send_voip_token_header, "
            "source_port = excluded.source_port, codecs = excluded.codecs",
            (new.endpoint_sid, new.voip_token, int(new.send_voip_token_header), new.source_port,
             _json_list(new.codecs))),)))
    if desired.builtin_pbx != current.builtin_pbx:
        changes.append(Change(f"built-in PBX: {'on' if desired.builtin_pbx else 'off (your own PBX)'}", (
            ("UPDATE lab_options SET builtin_pbx = ?", (int(desired.builtin_pbx),)),)))
    return changes
