"""The account as JSON-ready data and as text, for `app.py show` and for the UI.

VoIP tokens are masked unless the caller explicitly asks to reveal them.
"""

from __future__ import annotations

from .records import Account, Endpoint
from .validate import display_phonenumber


def mask_token(token: str | None) -> str | None:
    """'4f1c...-...-9a2e' -> '••••••••••••••••••••••••••••••••9a2e': enough to tell tokens apart."""
    if token is None:
        return None
    return "•" * max(len(token) - 4, 0) + token[-4:]


def _endpoint_dict(endpoint: Endpoint, reveal: bool) -> dict:
    return {
        "endpoint_sid": endpoint.endpoint_sid,
        "name": endpoint.name,
        "type": endpoint.type,
        "voip_token": endpoint.voip_token if reveal else mask_token(endpoint.voip_token),
        "capacity": endpoint.capacity,
        "addresses": [
            {"ip": a.ip, "port": a.port, "transport": a.transport, "direction": a.direction, "priority": a.priority}
            for a in endpoint.addresses
        ],
        "attributes": endpoint.attributes.to_dict(),
    }


def account_to_dict(account: Account, *, reveal: bool = False) -> dict:
    return {
        "endpoints": [_endpoint_dict(e, reveal) for e in account.endpoints],
        "trunk_groups": [
            {
                "trunk_group_sid": g.trunk_group_sid,
                "name": g.name,
                "routing_type": g.routing_type,
                "trunks": [
                    {"trunk_sid": t.trunk_sid, "endpoint_sid": t.endpoint_sid, "name": t.name,
                     "priority": t.priority, "weight": t.weight}
                    for t in g.trunks
                ],
            }
            for g in account.trunk_groups
        ],
        "dids": [
            {"did_sid": d.did_sid, "phonenumber": d.phonenumber, "name": d.name,
             "trunk_group_sid": d.trunk_group_sid, "capabilities": list(d.capabilities)}
            for d in account.dids
        ],
        "firewall_rules": [
            {"rule_id": r.rule_id, "position": r.position, "cidr": r.cidr, "protocol": r.protocol, "note": r.note}
            for r in account.firewall_rules
        ],
        "parties": [{"role": p.role, "ip": p.ip, "port": p.port} for p in account.parties],
        "pbx_trunk": _pbx_trunk_dict(account, reveal),
        "builtin_pbx": account.builtin_pbx,
    }


def _pbx_trunk_dict(account: Account, reveal: bool) -> dict | None:
    trunk = account.pbx_trunk
    if trunk is None:
        return None
    return {"endpoint_sid": trunk.endpoint_sid,
            "voip_token": trunk.voip_token if reveal else mask_token(trunk.voip_token),
            "send_voip_token_header": trunk.send_voip_token_header, "source_port": trunk.source_port,
            "codecs": list(trunk.codecs)}


def account_to_text(account: Account, *, reveal: bool = False) -> str:
    lines: list[str] = ["ENDPOINTS"]
    for e in account.endpoints:
        kind = "System Gateway (system-generated, read-only)" if e.is_system_gateway else "third-party"
        lines.append(f"  {e.name}  [{kind}]")
        lines.append(f"    endpoint_sid  {e.endpoint_sid}")
        if e.voip_token is not None:
            token = e.voip_token if reveal else f"{mask_token(e.voip_token)}  (--reveal to show)"
            lines.append(f"    voip_token    {token}")
        for a in e.addresses:
            lines.append(f"    address       {a.ip}:{a.port}/{a.transport}  direction {a.direction}")
        if not e.is_system_gateway:
            restrictions = ", ".join(e.attributes.ip_restrictions) or "none"
            lines.append(
                f"    attributes    insecure_address={str(e.attributes.insecure_address).lower()}  "
                f"ip_restrictions={restrictions}"
            )
    if not account.third_party_endpoints:
        lines.append("  (no third-party endpoint yet: your PBX's endpoint is added under Endpoints)")
    lines.append("")
    lines.append("TRUNK GROUPS")
    if not account.trunk_groups:
        lines.append("  (none yet)")
    for g in account.trunk_groups:
        lines.append(f"  {g.name}  {g.trunk_group_sid}  routing {g.routing_type}")
        for t in g.trunks:
            target = account.endpoint(t.endpoint_sid)
            lines.append(f"    trunk {t.name} -> {target.name if target else t.endpoint_sid}  priority {t.priority}")
        if not g.trunks:
            lines.append("    (no trunks)")
    lines.append("")
    lines.append("PHONE NUMBERS")
    for d in account.dids:
        group = account.trunk_group(d.trunk_group_sid) if d.trunk_group_sid else None
        where = f"-> {group.name}" if group else "(unassigned)"
        lines.append(f"  {display_phonenumber(d.phonenumber):<18} {d.name:<28} {where}")
    lines.append("")
    if not account.builtin_pbx:
        lines.append("BUILT-IN PBX: off (the third-party endpoint's addresses name your own PBX; the")
        lines.append("  firewall below is the built-in PBX's and is not used: your PBX's firewall is yours)")
        lines.append("")
    lines.append("PBX FIREWALL (allow rules; everything else is dropped)")
    for r in account.firewall_rules:
        lines.append(f"  {r.position:>2}. allow {r.protocol:<3} from {r.cidr:<18} {r.note}")
    if not account.firewall_rules:
        lines.append("  (no rules: every datagram to the PBX is dropped)")
    lines.append("")
    lines.append("LAB PARTIES")
    for label, role in (("PSTN", "pstn"), ("PBX", "pbx"), ("PBX roaming device", "pbx_roaming")):
        party = account.party(role)
        if party:
            lines.append(f"  {label:<20} {party.ip}:{party.port}")
    for a in account.system_gateway.addresses:
        lines.append(f"  {'System Gateway':<20} {a.ip}:{a.port}")
    if (trunk := account.pbx_trunk) is not None:
        endpoint = account.pbx_endpoint()
        stale = endpoint is not None and trunk.voip_token != endpoint.voip_token
        token = trunk.voip_token if reveal else mask_token(trunk.voip_token)
        lines.append("")
        lines.append("PBX SETTINGS (the customer's side of the trunk)")
        if not trunk.configured:
            lines.append("  endpoint_sid  (empty: nobody has typed the endpoint's SID and token into the PBX yet)")
        else:
            lines.append(f"  endpoint_sid  {trunk.endpoint_sid}")
            note = "  (not the endpoint's current token: calls that use it get 401)" if stale else ""
            lines.append(f"  voip_token    {token}{note}")
        lines.append(f"  header auth   {'both X-Auth headers' if trunk.send_voip_token_header else 'X-Auth-EndpointSid only'}")
        lines.append(f"  source port   {trunk.source_port}")
        lines.append(f"  codecs        {', '.join(trunk.codecs)}")
    return "\n".join(lines)
