"""A call's messages as a ladder: who sent what to whom, in order (pure).

Each datagram between two lab agents is captured twice (sent, then received); the ladder shows
it once, from the sender's capture, plus what only one side saw: a message from a peer outside
the lab (received only), and a datagram the PBX firewall dropped (sent, never received).
"""

from __future__ import annotations

from dataclasses import dataclass

from store.records import Account, SipMessageRecord

from .calls import LabCall


@dataclass(frozen=True)
class Column:
    label: str  # "PSTN", "GW 127.0.0.2", "FIREWALL", "PBX", "YOUR PBX"
    addresses: frozenset[str]  # ip:port values that belong to it
    agent: bool = True  # a lab agent, which reports what it sends; a PBX of yours is seen as received
    catch_all: bool = False  # also every address no other column has (your PBX, wherever it sends from)


@dataclass(frozen=True)
class Rung:
    t: float  # seconds since the call's first message
    delta: float  # seconds since the previous rung
    src: int  # column index
    dst: int
    label: str  # first line, shortened: "INVITE 12025550100", "200 OK"
    dropped: bool
    message: SipMessageRecord


def columns(account: Account) -> list[Column]:
    """One column per party, in the order a call crosses them."""
    def at(ip: str, port: int) -> str:
        return f"{ip}:{port}"

    pstn = account.party("pstn")
    pbx, roaming = account.party("pbx"), account.party("pbx_roaming")
    cols = [Column("PSTN", frozenset({at(pstn.ip, pstn.port)} if pstn else set()))]
    cols += [Column(f"GW {a.ip}", frozenset({at(a.ip, a.port)})) for a in account.system_gateway.addresses]
    if not account.builtin_pbx:  # your own PBX: no lab firewall in front of it, and it is no lab agent
        endpoint = account.pbx_endpoint()
        own = {at(a.ip, a.port) for a in endpoint.addresses} if endpoint else set()
        cols.append(Column("YOUR PBX", frozenset(own), agent=False, catch_all=True))
        return cols
    pbx_addresses = {at(p.ip, p.port) for p in (pbx, roaming) if p}
    if pbx and account.pbx_trunk:  # its IP-authenticated INVITEs may leave from another port
        pbx_addresses.add(at(pbx.ip, account.pbx_trunk.source_port))
    cols.append(Column("FIREWALL", frozenset()))
    cols.append(Column("PBX", frozenset(pbx_addresses)))
    return cols


def short_label(first_line: str) -> str:
    parts = first_line.split()
    if first_line.startswith("SIP/2.0") and len(parts) >= 2:
        return " ".join(parts[1:])  # "200 OK"
    if len(parts) >= 2:
        target = parts[1].split(":", 1)[-1].split("@", 1)[0]
        return f"{parts[0]} {target}"  # "INVITE 12025550100"
    return first_line


def _column_of(address: str, cols: list[Column]) -> int:
    for index, col in enumerate(cols):
        if address in col.addresses:
            return index
    # a peer outside the lab's plan: your own PBX's column if there is one, else margin text
    return next((index for index, col in enumerate(cols) if col.catch_all), -1)


def rungs(call: LabCall, cols: list[Column]) -> list[Rung]:
    lab_addresses = set().union(*(c.addresses for c in cols if c.agent))
    kept: list[SipMessageRecord] = []
    sent_digits = [d for d in call.dtmf if d.event == "tx" and d.src]  # drawn once, from the sender
    for m in sorted(call.messages + sent_digits, key=lambda m: m.t):
        if m.event in ("tx", "drop") or (m.event == "rx" and m.src not in lab_addresses):
            kept.append(m)
    out: list[Rung] = []
    start = kept[0].t if kept else 0.0
    previous = start
    for m in kept:
        src, dst = _column_of(m.src, cols), _column_of(m.dst, cols)
        if m.dropped:
            dst = next(i for i, c in enumerate(cols) if c.label == "FIREWALL")
        out.append(Rung(round(m.t - start, 6), round(m.t - previous, 6), src, dst, short_label(m.first_line),
                        m.dropped, m))
        previous = m.t
    return out


def render_text(call: LabCall, account: Account) -> list[str]:
    """The ladder as plain text lines, one per message (for the command line):

         0.000  PSTN          -> GW 127.0.0.2   INVITE 12025550100
         1.502  GW 127.0.0.3  -x FIREWALL       INVITE 12025550100  (dropped by the PBX firewall: ...)
    """
    cols = columns(account)

    def name(index: int, address: str) -> str:
        return cols[index].label if index >= 0 else address

    lines = []
    for rung in rungs(call, cols):
        arrow = "-x" if rung.dropped else "~>" if rung.message.first_line.startswith("DTMF") else "->"
        note = f"  ({rung.message.note})" if rung.message.note else ""
        lines.append(
            f"{rung.t:8.3f}  {name(rung.src, rung.message.src):<15} {arrow} "
            f"{name(rung.dst, rung.message.dst):<15} {rung.label}{note}"
        )
    return lines
