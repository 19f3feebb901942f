"""Where the System Gateway sends a call, and what the PBX firewall lets through: pure
functions over an Account snapshot.

Inbound (seed: "Receiving Calls"): dialled number -> DID -> its trunk group -> trunks in
priority order -> each trunk's third-party endpoint -> its addresses with direction
any/inbound. Outbound (seed: "Placing Calls"): an authenticated endpoint's call goes through
its trunk group to the PSTN.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from store import validate
from store.errors import ValidationError
from store.records import Account, Did, FirewallRule, TrunkGroup


@dataclass(frozen=True)
class Target:
    """One place to send the gateway's INVITE."""

    endpoint_sid: str
    trunk_sid: str
    ip: str
    port: int


@dataclass(frozen=True)
class InboundRoute:
    did: Did
    trunk_group: TrunkGroup
    targets: tuple[Target, ...]  # try in this order (failover)
    cause: str


@dataclass(frozen=True)
class OutboundRoute:
    phonenumber: str  # E.164 digits without '+'
    trunk_group: TrunkGroup
    pstn_ip: str
    pstn_port: int
    cause: str


@dataclass(frozen=True)
class NoRoute:
    status: int
    reason: str
    cause: str


def dialled_number(user_part: str | None) -> str | None:
    """The Request-URI user part as E.164 digits without '+', or None when it is no number.

    Accepts '+12025550100', '12025550100' and visual separators; no national formats (the
    carrier expects E.164, as CarrierX does)."""
    if not user_part:
        return None
    try:  # the same rule as the account's phone numbers, ';params' of a tel user part aside
        return validate.phonenumber(user_part.split(";", 1)[0])
    except ValidationError:
        return None


def route_inbound(account: Account, user_part: str | None) -> InboundRoute | NoRoute:
    number = dialled_number(user_part)
    did = next((d for d in account.dids if d.phonenumber == number), None) if number else None
    if did is None:
        return NoRoute(404, "Not Found", f"{user_part!r} is not a phone number of this account")
    group = account.trunk_group(did.trunk_group_sid) if did.trunk_group_sid else None
    if group is None:
        # what is wrong, not where to fix it: the checklist's fix says that (and trainee mode
        # keeps fixes back until a hint is asked for)
        return NoRoute(404, "Not Found", f"+{did.phonenumber} is not assigned to a trunk group")
    targets: list[Target] = []
    skipped: list[str] = []
    # Failover order: trunks by priority, then each endpoint's addresses by priority (the
    # lowest first; equal priorities in the order they were added). The store reads them so,
    # but the order is this function's promise, whatever account it is given.
    for trunk in sorted(group.trunks, key=lambda t: t.priority):
        endpoint = account.endpoint(trunk.endpoint_sid)
        if endpoint is None:
            continue
        for address in sorted(endpoint.addresses, key=lambda a: a.priority):
            if not address.allows("inbound"):
                continue
            net = ipaddress.ip_network(address.ip)
            if net.num_addresses != 1:
                skipped.append(f"{address.ip} is a subnet, not a host to send to")
            elif not net.network_address.is_loopback:
                skipped.append(f"{address.ip} is off loopback; the lab sends only to 127.0.0.0/8")
            else:
                targets.append(Target(endpoint.endpoint_sid, trunk.trunk_sid, str(net.network_address), address.port))
    if not targets:
        why = "; ".join(skipped) or "no trunk has an endpoint address for inbound calls"
        return NoRoute(480, "Temporarily Unavailable", f"trunk group {group.name!r}: {why}")
    return InboundRoute(did, group, tuple(targets), f"+{did.phonenumber} -> trunk group {group.name!r}")


def route_outbound(account: Account, endpoint_sid: str, user_part: str | None) -> OutboundRoute | NoRoute:
    number = dialled_number(user_part)
    if number is None:
        return NoRoute(484, "Address Incomplete", f"{user_part!r} is not an E.164 number the PSTN can dial")
    group = next(
        (g for g in account.trunk_groups if any(t.endpoint_sid == endpoint_sid for t in g.trunks)), None
    )
    if group is None:
        return NoRoute(403, "Forbidden", "the endpoint is not a trunk of any trunk group")
    pstn = account.party("pstn")
    if pstn is None:
        return NoRoute(503, "Service Unavailable", "the lab has no PSTN party configured")
    return OutboundRoute(number, group, pstn.ip, pstn.port, f"+{number} via trunk group {group.name!r} to the PSTN")


def firewall_rule_for(rules: tuple[FirewallRule, ...], source_ip: str, protocol: str) -> FirewallRule | None:
    """The first allow rule covering a datagram from source_ip, or None: the firewall drops it."""
    source = ipaddress.ip_address(source_ip)
    for rule in sorted(rules, key=lambda r: (r.position, r.rule_id)):
        if rule.covers(protocol) and source in ipaddress.ip_network(rule.cidr):
            return rule
    return None


def allowed_sources(rules: tuple[FirewallRule, ...], protocol: str) -> tuple[str, ...]:
    """The CIDRs the firewall accepts for one protocol, in rule order (what the filter loads)."""
    return tuple(r.cidr for r in sorted(rules, key=lambda r: (r.position, r.rule_id)) if r.covers(protocol))
