"""The built-in default account: a working trunk, so a newcomer sees calls flow at once.

The address plan is data: a lab in another loopback block (parallel labs, tests) builds its
plan with `AddressPlan.in_block`, and everything downstream reads addresses from the store.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_BLOCK = "127.0.0.0/24"


@dataclass(frozen=True)
class AddressPlan:
    gateway_ips: tuple[str, ...]  # the System Gateway endpoint's addresses
    pbx_ip: str  # the PBX's static address, which is also its endpoint address
    pbx_roaming_ip: str  # a second PBX address that is *not* an endpoint address
    pstn_ip: str  # the carrier's PSTN side: callers and callees
    sip_port: int = 5060

    @classmethod
    def in_block(cls, block: str = DEFAULT_BLOCK, sip_port: int = 5060) -> AddressPlan:
        """Hosts .2/.3 (gateways), .10 (PBX), .11 (roaming PBX), .20 (PSTN) of a loopback /24."""
        net = ipaddress.ip_network(block, strict=True)
        if not net.is_loopback or net.prefixlen > 24:
            raise ValueError(f"a lab needs a loopback /24 or larger, got {block}")
        host = lambda n: str(net.network_address + n)  # noqa: E731 - tiny local helper
        return cls(
            gateway_ips=(host(2), host(3)),
            pbx_ip=host(10),
            pbx_roaming_ip=host(11),
            pstn_ip=host(20),
            sip_port=sip_port,
        )


DEFAULT_PLAN = AddressPlan.in_block()

# The default account's business data (SIDs and tokens are fresh UUIDs per database).
PBX_ENDPOINT_NAME = "Acme PBX"
TRUNK_GROUP_NAME = "Acme trunk group"
# Fictional 555-01xx numbers: valid to phonenumbers, reserved for fiction in North America.
DEFAULT_DIDS = (
    ("12025550100", "Acme main line", True),
    ("12025550101", "Acme support", True),
    ("12025550199", "Spare number (unassigned)", False),
)
