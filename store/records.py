"""Plain records that go in and out of the store.

Field names follow CarrierX's Core API (endpoint_sid, trunk_group_sid, phonenumber, ...) so a
trainee who later reads the real API docs recognises every word.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

SYSTEM_GATEWAY = "system_gateway"
THIRD_PARTY = "third_party"

DIRECTIONS = ("any", "inbound", "outbound")
TRANSPORTS = ("udp",)  # the lab's agents speak SIP over UDP only
FIREWALL_PROTOCOLS = ("any", "sip", "rtp")


@dataclass(frozen=True)
class EndpointAttributes:
    """The endpoint attributes the gateway understands.

    insecure_address: IP-based auth matches the source IP only, not the port.
    ip_restrictions: CIDRs; when set, calls authenticated by credentials (proxy or header) are
    accepted only from inside them.
    """

    insecure_address: bool = False
    ip_restrictions: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict:
        return {"insecure_address": self.insecure_address, "ip_restrictions": list(self.ip_restrictions)}

    @classmethod
    def from_json(cls, text: str | None) -> EndpointAttributes:
        data = json.loads(text) if text else {}
        return cls(
            insecure_address=bool(data.get("insecure_address", False)),
            ip_restrictions=tuple(data.get("ip_restrictions", ())),
        )


@dataclass(frozen=True)
class EndpointAddress:
    address_id: int
    endpoint_sid: str
    ip: str  # an address or a CIDR subnet
    port: int = 5060
    transport: str = "udp"
    direction: str = "any"
    priority: int = 0

    def allows(self, direction: str) -> bool:
        """True when this address may be used for calls in `direction` (inbound/outbound)."""
        return self.direction in ("any", direction)


@dataclass(frozen=True)
class Endpoint:
    endpoint_sid: str
    name: str
    type: str
    voip_token: str | None
    capacity: int = 0  # 0 = unlimited, as in CarrierX
    attributes: EndpointAttributes = field(default_factory=EndpointAttributes)
    out_sip_username: str | None = None
    out_sip_password: str | None = None
    addresses: tuple[EndpointAddress, ...] = ()

    @property
    def is_system_gateway(self) -> bool:
        return self.type == SYSTEM_GATEWAY


@dataclass(frozen=True)
class Trunk:
    trunk_sid: str
    trunk_group_sid: str
    endpoint_sid: str
    name: str
    priority: int = 0
    weight: int = 0


@dataclass(frozen=True)
class TrunkGroup:
    trunk_group_sid: str
    name: str
    routing_type: str = "failover"
    trunks: tuple[Trunk, ...] = ()


@dataclass(frozen=True)
class Did:
    """A phone number (DID). trunk_group_sid None means unassigned."""

    did_sid: str
    phonenumber: str  # E.164 digits without '+', as CarrierX stores it
    name: str = ""
    trunk_group_sid: str | None = None
    capabilities: tuple[str, ...] = ("voice",)


@dataclass(frozen=True)
class FirewallRule:
    """One allow rule of the PBX's firewall; the firewall denies whatever no rule allows."""

    rule_id: int
    position: int
    cidr: str
    protocol: str = "any"
    note: str = ""

    def covers(self, protocol: str) -> bool:
        return self.protocol in ("any", protocol)


@dataclass(frozen=True)
class LabParty:
    """Where one of the lab's own parties lives (the address plan is data, not constants).

    role: 'pstn' (the carrier's PSTN side), 'pbx' (the customer's PBX, static address) or
    'pbx_roaming' (a second PBX address that is not an endpoint address).
    """

    role: str
    ip: str
    port: int = 5060


# Codecs a PBX may be set to offer, by their SDP names; the carrier offers the first two only.
CODEC_CHOICES = ("PCMU", "PCMA", "G722", "GSM")
CARRIER_CODECS = ("PCMU", "PCMA")


@dataclass(frozen=True)
class PbxTrunk:
    """The customer's side of the trunk: what the admin typed into the PBX's trunk settings.

    It is a copy, not a link to the carrier account: when the portal regenerates the VoIP token
    the PBX keeps sending the old one until somebody updates it here (the classic 401).

    endpoint_sid, voip_token: sent as digest username/password (proxy auth) and as the
        X-Auth-EndpointSid / X-Auth-VoipToken headers (header auth).
    send_voip_token_header: header auth also sends X-Auth-VoipToken (off: only the SID goes).
    source_port: the UDP port the PBX sends its IP-authenticated INVITEs from.
    codecs: what the PBX offers and accepts, in its order of preference.
    """

    endpoint_sid: str
    voip_token: str
    send_voip_token_header: bool = True
    source_port: int = 5060
    codecs: tuple[str, ...] = CARRIER_CODECS

    @property
    def configured(self) -> bool:
        """False for a new customer's PBX: nobody has typed the SID and token in yet ('')."""
        return bool(self.endpoint_sid and self.voip_token)


@dataclass(frozen=True)
class Account:
    """A consistent snapshot of everything the lab is configured with."""

    endpoints: tuple[Endpoint, ...]
    trunk_groups: tuple[TrunkGroup, ...]
    dids: tuple[Did, ...]
    firewall_rules: tuple[FirewallRule, ...]
    parties: tuple[LabParty, ...]
    pbx_trunk: PbxTrunk | None = None  # the PBX's own configuration, beside the carrier account
    builtin_pbx: bool = True  # the lab runs its own PBX agent; off: the endpoint names a PBX of yours

    @property
    def system_gateway(self) -> Endpoint:
        return next(e for e in self.endpoints if e.is_system_gateway)

    @property
    def third_party_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if not e.is_system_gateway)

    def endpoint(self, endpoint_sid: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.endpoint_sid == endpoint_sid), None)

    def trunk_group(self, trunk_group_sid: str) -> TrunkGroup | None:
        return next((g for g in self.trunk_groups if g.trunk_group_sid == trunk_group_sid), None)

    def party(self, role: str) -> LabParty | None:
        return next((p for p in self.parties if p.role == role), None)

    def pbx_endpoint(self) -> Endpoint | None:
        """The third-party endpoint whose address is the lab PBX's static address (else the
        first third-party endpoint, else None)."""
        pbx = self.party("pbx")
        for endpoint in self.third_party_endpoints:
            if pbx is not None and any(a.ip == pbx.ip for a in endpoint.addresses):
                return endpoint
        return self.third_party_endpoints[0] if self.third_party_endpoints else None

    def dids_of_trunk_group(self, trunk_group_sid: str) -> tuple[Did, ...]:
        return tuple(d for d in self.dids if d.trunk_group_sid == trunk_group_sid)

    def assigned_phonenumbers(self, endpoint_sid: str) -> tuple[Did, ...]:
        """The endpoint's "Assigned Phone Numbers" tab: numbers of every trunk group that has a
        trunk to this endpoint."""
        groups = {
            g.trunk_group_sid
            for g in self.trunk_groups
            if any(t.endpoint_sid == endpoint_sid for t in g.trunks)
        }
        return tuple(d for d in self.dids if d.trunk_group_sid in groups)


@dataclass(frozen=True)
class SipMessageRecord:
    """One SIP message as it crossed the lab, or a datagram the PBX firewall dropped: the one
    form a captured message has, from the lab's call book to the ladder, the CDR and the pcap.

    t: when the agent saw it (Unix time). agent: the role that saw it ('gateway', 'pstn',
    'pbx'; 'firewall' for a drop). event: 'tx' (sent), 'rx' (received) or 'drop'. src, dst:
    ip:port. text: the whole message, CRLF line endings, as on the wire.
    """

    t: float
    agent: str
    event: str  # 'tx' | 'rx' | 'drop'
    src: str
    dst: str
    sip_call_id: str
    first_line: str
    text: str
    note: str = ""  # a drop's reason; what a DTMF rung is (the ladder also draws RFC 4733 digits)

    def __post_init__(self) -> None:
        if self.dropped and not self.note:  # a CDR keeps no note: a drop read back says why again
            why = f"dropped by the PBX firewall: no rule allows {self.src.rpartition(':')[0]}"
            object.__setattr__(self, "note", why)

    @property
    def dropped(self) -> bool:
        return self.event == "drop"


CALL_STATES = ("in_progress", "ended", "failed", "interrupted")


def stopped_reason(who: str, answered: bool, how: str = "") -> str:
    """A call's final reason when something it needed stopped: an agent that crashed, the lab,
    or the trunklab process itself ('the System Gateway 127.0.0.2 stopped during the call
    (killed by SIGKILL)')."""
    moment = "during the call" if answered else "before the call was answered"
    return f"{who} stopped {moment}" + (f" ({how})" if how else "")


@dataclass(frozen=True)
class CallRecord:
    """A call detail record (CDR), with its ladder.

    state: 'in_progress' (written when the call starts, rewritten when it is answered),
    'ended', 'failed' (refused, unanswered, or cut short by an agent that stopped), or
    'interrupted' (the lab or its process stopped first; final_code is then None and
    final_reason says what stopped)."""

    started_at: float
    direction: str  # 'inbound' | 'outbound'
    from_number: str
    to_number: str
    gateway_address: str
    endpoint_sid: str | None
    auth_method: str
    final_code: int | None
    final_reason: str
    setup_ms: float | None
    duration_s: float | None
    rtp: dict  # per leg and direction: packets, bytes, loss, jitter
    audio_verdict: dict  # per party: did it hear the far end's tone
    messages: tuple[SipMessageRecord, ...] = ()
    call_id: int | None = None  # the store's id, once written
    state: str = "ended"
    owner_pid: int | None = None  # the process that wrote it (the store stamps it)


def account_to_wire(account: Account) -> dict:
    """The whole account as plain JSON-able data (tokens included: for the agents, never logs)."""
    return asdict(account)


def account_from_wire(data: dict) -> Account:
    def endpoint(e: dict) -> Endpoint:
        attributes = e["attributes"]
        return Endpoint(
            **{
                **e,
                "attributes": EndpointAttributes(attributes["insecure_address"], tuple(attributes["ip_restrictions"])),
                "addresses": tuple(EndpointAddress(**a) for a in e["addresses"]),
            }
        )

    return Account(
        endpoints=tuple(endpoint(e) for e in data["endpoints"]),
        trunk_groups=tuple(
            TrunkGroup(**{**g, "trunks": tuple(Trunk(**t) for t in g["trunks"])}) for g in data["trunk_groups"]
        ),
        dids=tuple(Did(**{**d, "capabilities": tuple(d["capabilities"])}) for d in data["dids"]),
        firewall_rules=tuple(FirewallRule(**r) for r in data["firewall_rules"]),
        parties=tuple(LabParty(**p) for p in data["parties"]),
        pbx_trunk=PbxTrunk(**{**data["pbx_trunk"], "codecs": tuple(data["pbx_trunk"]["codecs"])})
        if data.get("pbx_trunk") else None,
        builtin_pbx=bool(data.get("builtin_pbx", True)),
    )


CHECKLIST_KEYS = ("inbound", "outbound", "authentication", "audio")  # the checklist's four items, in order

# The guided lesson's steps, in the seed page's order (sip/lesson.py judges them; the store keeps
# when each was first done).
LESSON_STEPS = ("flow", "firewall", "authentication", "numbers", "checklist")


class CheckRow(NamedTuple):
    """One item of a "Check my fix", as the store keeps it."""

    title: str
    status: str  # 'pass' | 'fail' | 'unknown'
    cause: str = ""
    fix: str = ""
    symptom: str = ""  # what the calls did ("via 127.0.0.3:5060: 408 Request Timeout"); older rows have none


@dataclass(frozen=True)
class ExerciseProgress:
    """One trainee's progress on one scenario (each lab has its own store, so its own trainee).

    checklist: the last "Check my fix" result, one row per checklist item.
    hints: the hints given, in order (each chosen for what the check before it found).
    failing_ladder / fixed_ladder: the ladders (plain text) of the first failing check and of
    the check that passed, for the exercise report.
    start_account: the account as the exercise began (account_to_wire, as JSON), so the
    report can say what the trainee changed ('' for an exercise started before schema v6).
    """

    scenario: str
    started_at: float
    hints_shown: int = 0
    checks: int = 0
    solved_at: float | None = None
    checklist: tuple[CheckRow, ...] = ()
    failing_ladder: str = ""
    fixed_ladder: str = ""
    hints: tuple[str, ...] = ()
    start_account: str = ""

    @property
    def solved(self) -> bool:
        return self.solved_at is not None


@dataclass(frozen=True)
class ChecklistRun:
    """One run of the Verification Checklist (k, Check my fix, or `check`), as the store keeps
    it for the classroom's trainer: when, during which exercise, and each item's verdict.

    items: (title, status, detail) for each of the four items, in the checklist's order.
    scenario: the exercise running when the check ran (None: free practice).
    """

    started_at: float
    finished_at: float
    passed: bool
    items: tuple[tuple[str, str, str], ...]
    scenario: str | None = None
    run_id: int | None = None


def checklist_run_from_row(row) -> ChecklistRun:
    """A checklist_runs row (run_id, started_at, finished_at, scenario, passed, items JSON)."""
    run_id, started_at, finished_at, scenario, passed, items = row
    return ChecklistRun(started_at, finished_at, bool(passed), tuple(tuple(item) for item in json.loads(items)),
                        scenario, run_id)


@dataclass(frozen=True)
class LabSnapshot:
    """What another process (the classroom's dashboard) reads of a lab's database: the exercise
    progress, the last checklist run, and how many runs and calls it holds."""

    progress: tuple[ExerciseProgress, ...] = ()  # in start order: the last one is the latest exercise
    last_run: ChecklistRun | None = None
    runs: int = 0  # checklist runs in this lab, ever
    calls: int = 0  # CDRs
    last_call_at: float | None = None
