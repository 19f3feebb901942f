"""Example addresses for the input hints, from the account's own address plan: lab 21 shows
127.0.21.x, never lab 0's 127.0.0.x."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from store.records import Account


@dataclass(frozen=True)
class Hints:
    firewall_rule: str
    endpoint_address: str
    ip_restrictions: str


def hints(account: Account) -> Hints:
    gateways = account.system_gateway.addresses
    gateway = gateways[-1].ip if gateways else "127.0.0.3"
    pbx = account.party("pbx")
    pbx_ip = pbx.ip if pbx is not None else "127.0.0.10"
    spare = str(ipaddress.ip_address(pbx_ip) + 2)  # beside the PBX's two addresses, free in the plan
    return Hints(
        firewall_rule=f"allow: {gateway}  or  10.0.0.0/24 sip|rtp|any, enter",
        endpoint_address=f"e.g. {spare}, or a subnet such as 10.0.0.0/24",
        ip_restrictions=f"IP restrictions: {pbx_ip}, 10.0.0.0/8 (empty: none), enter",
    )
