"""Plain-data accounts for unit tests of the pure core (no database involved)."""

from __future__ import annotations

from dataclasses import replace

from store.records import (
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

GATEWAY_SID = "00000000-0000-4000-8000-00000000gw00"
PBX_SID = "11111111-1111-4111-8111-111111111111"
PBX_TOKEN = "22222222-2222-4222-8222-222222222222"
OTHER_SID = "33333333-3333-4333-8333-333333333333"
OTHER_TOKEN = "44444444-4444-4444-8444-444444444444"
GROUP_SID = "55555555-5555-4555-8555-555555555555"


def default_account(**pbx_changes) -> Account:
    """The default account's shape with fixed SIDs; keyword arguments replace fields of Acme PBX."""
    gateway = Endpoint(
        GATEWAY_SID, "System Gateway", "system_gateway", None,
        addresses=(EndpointAddress(1, GATEWAY_SID, "127.0.0.2"), EndpointAddress(2, GATEWAY_SID, "127.0.0.3")),
    )
    pbx = Endpoint(
        PBX_SID, "Acme PBX", "third_party", PBX_TOKEN,
        addresses=(EndpointAddress(3, PBX_SID, "127.0.0.10", 5060),),
    )
    pbx = replace(pbx, **pbx_changes)
    other = Endpoint(OTHER_SID, "Other PBX", "third_party", OTHER_TOKEN,
                     addresses=(EndpointAddress(4, OTHER_SID, "127.0.0.40", 5060),))
    group = TrunkGroup(GROUP_SID, "Acme trunk group", trunks=(Trunk("trunk-1", GROUP_SID, PBX_SID, "Acme PBX trunk"),))
    dids = (
        Did("did-0", "12025550100", "main", GROUP_SID),
        Did("did-1", "12025550101", "support", GROUP_SID),
        Did("did-9", "12025550199", "spare", None),
    )
    rules = (FirewallRule(1, 1, "127.0.0.2/32"), FirewallRule(2, 2, "127.0.0.3/32"))
    parties = (LabParty("pbx", "127.0.0.10"), LabParty("pbx_roaming", "127.0.0.11"), LabParty("pstn", "127.0.0.20"))
    return Account((gateway, pbx, other), (group,), dids, rules, parties, PbxTrunk(PBX_SID, PBX_TOKEN))


def restricted(*cidrs: str, insecure: bool = False) -> EndpointAttributes:
    return EndpointAttributes(insecure_address=insecure, ip_restrictions=tuple(cidrs))
