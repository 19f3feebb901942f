"""The seed's Verification Checklist, judged from what calls actually did (pure).

    1. Inbound calls reach your SIP system
    2. Outbound calls are successfully initiated
    3. Authentication succeeds (no 401 or 403 errors)
    4. Audio is present in both directions

Each item looks at the latest call of each kind that bears on it: an inbound call through each
System Gateway address (a firewall that allows only one of them fails half the time, as in
life), an outbound call with each authentication method. A failing item says what the ladder
showed (the cause) and what to change (the fix), in one line each.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.records import CARRIER_CODECS, Account
from store.validate import display_phonenumber

from .calls import LabCall
from .ladder import short_label
from .routing import firewall_rule_for

TITLES = (
    "Inbound calls reach your SIP system",
    "Outbound calls are successfully initiated",
    "Authentication succeeds (no 401 or 403 errors)",
    "Audio is present in both directions",
)


@dataclass(frozen=True)
class Finding:
    cause: str
    fix: str
    before_calls: bool = False  # said only while no call has tested the item (a call's own cause is as good)


@dataclass(frozen=True)
class ChecklistItem:
    title: str
    status: str  # 'pass' | 'fail' | 'unknown' (no call has tested it yet) | 'running' (being tested now)
    detail: str = ""
    cause: str = ""
    fix: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def _latest(calls: list[LabCall], key) -> dict[str, LabCall]:
    """The latest finished call per key (calls in start order)."""
    latest: dict[str, LabCall] = {}
    for call in sorted((c for c in calls if c.finished), key=lambda c: c.started_at):
        k = key(call)
        if k:
            latest[k] = call
    return latest


def _decision_cause(call: LabCall) -> str:
    refused = [d for d in call.decisions if d.status and d.status != 407]
    chosen = refused or call.decisions
    return chosen[-1].cause if chosen else ""


def missing(account: Account) -> dict[int, Finding]:
    """What the account lacks before an item can pass, by item index, in plain words: a new
    customer's account lacks all of it, and a call placed anyway would only say 404 or 407."""
    endpoint = account.pbx_endpoint()
    if endpoint is None:
        none = Finding("there is no third-party endpoint for your PBX yet",
                       "Endpoints -> Add New Endpoint (third-party), then give it your PBX's address")
        return {0: none, 1: none, 2: none, 3: none}
    found: dict[int, Finding] = {}
    groups = [g for g in account.trunk_groups if any(t.endpoint_sid == endpoint.endpoint_sid for t in g.trunks)]
    if not groups:
        found[0] = found[1] = Finding(f"no trunk group has a trunk to {endpoint.name!r}",
                                      f"Trunk Groups -> create one and add a trunk to {endpoint.name}")
    elif not account.assigned_phonenumbers(endpoint.endpoint_sid):
        found[0] = Finding(f"no phone number is assigned to {groups[0].name!r}: the Assigned Phone Numbers tab "
                           "is empty", "Phone Numbers -> select a number -> Edit -> trunk group -> Save",
                           before_calls=True)
    if not any(a.allows("inbound") for a in endpoint.addresses):
        found.setdefault(0, Finding(f"{endpoint.name!r} has no address for inbound calls",
                                    "Endpoints -> add an address (direction any or inbound): where your PBX listens"))
    if account.builtin_pbx and account.pbx_trunk is not None and not account.pbx_trunk.configured:
        found[2] = Finding("the PBX's trunk settings are empty: it has no endpoint SID and VoIP token to "
                           "authenticate with", "PBX settings -> u copies both from the portal")
    return found


def firewall_note(account: Account) -> str | None:
    """With your own PBX, its firewall is yours to configure: what it must allow."""
    if account.builtin_pbx:
        return None
    gateways = ", ".join(dict.fromkeys(a.ip for a in account.system_gateway.addresses))
    return (f"Your PBX's firewall is yours to configure: allow SIP (UDP, to the port your PBX listens on) and RTP "
            f"from the System Gateway addresses {gateways}.")


def diagnose(call: LabCall, account: Account) -> Finding:
    """Why a call failed (or lost audio), and the fix, from its ladder and the account."""
    if call.cut_by:  # a lab agent died during the call: a fault of the lab, not of the trunk
        return Finding(call.final_reason, "the lab restarts a stopped agent at once: run the check again")
    drops = call.drops()
    if drops:
        source_ip = drops[0].src.rpartition(":")[0]
        what = short_label(drops[0].first_line)
        return Finding(f"{what} from {source_ip} dropped by the PBX firewall",
                       f"allow {source_ip} in the PBX firewall (Firewall -> add {source_ip}/32)")
    code = call.final_code or 0
    cause = _decision_cause(call)
    if code == 404:
        if "not assigned to a trunk group" in cause:
            number = display_phonenumber(call.to_number) if call.to_number.isdigit() else call.to_number
            return Finding(cause, f"Phone Numbers -> select {number} -> Edit -> trunk group -> Save")
        return Finding(cause or "the number is not in the account", "dial one of the account's phone numbers")
    if code == 401:
        return Finding(cause or "401 Unauthorized", _unauthorized_fix(cause, account))
    if code == 407:
        if "insecure_address is off" in cause:
            return Finding(cause, f"Endpoints -> {_pbx_name(account)} -> insecure_address on (i), or PBX settings -> "
                                  "source port back to the endpoint address's port")
        return Finding(cause or "the caller was challenged and had no credentials to answer with",
                       "make the source an endpoint address (direction any or outbound; insecure_address "
                       "if the port varies) or send proxy credentials")
    if code == 488:
        return Finding(_codec_cause(account), "PBX settings -> codecs: add PCMU or PCMA (G.711), which the carrier offers")
    if code == 403:
        return Finding(cause or "403 Forbidden",
                       "call from inside the endpoint's IP restrictions, or add the source to them")
    if code == 408:
        if not account.builtin_pbx:
            return Finding(cause or "your PBX did not answer in time", _your_pbx_fix(account))
        return Finding(cause or "the trunk did not answer in time",
                       "check the endpoint address and that the PBX is up")
    if code == 480:
        return Finding(cause, "give the endpoint an address with direction any or inbound")
    if code == 484:
        return Finding(cause, "dial an E.164 number, e.g. +1 415 555 0123")
    if code == 503 and "capacity (" in cause and "per address" not in cause:
        return Finding(cause, "Endpoints -> the endpoint's capacity: raise it (0 = no limit), or place fewer calls at once")
    if code == 503:
        return Finding(cause or "; ".join(call.notes) or "the gateway refused the call",
                       "wait for the agent to restart, or place fewer calls at once")
    if call.answered:
        return _audio_finding(call, account)
    return Finding(cause or f"{code} {call.final_reason}".strip(), "read the call's ladder for the refusal")


def _unauthorized_fix(cause: str, account: Account) -> str:
    trunk, endpoint = account.pbx_trunk, account.pbx_endpoint()
    if "missing" in cause:
        return "PBX settings -> turn on 'send X-Auth-VoipToken' (header auth sends both X-Auth headers)"
    if trunk is not None and endpoint is not None and trunk.voip_token != endpoint.voip_token:
        return (f"PBX settings -> VoIP token: paste the endpoint's current one "
                f"(Endpoints -> {endpoint.name} -> r reveals it)")
    if trunk is not None and endpoint is not None and trunk.endpoint_sid != endpoint.endpoint_sid:
        return "PBX settings -> endpoint SID: paste the endpoint's SID from Endpoints -> Endpoint Details"
    return "authenticate with the third-party endpoint SID as username and its VoIP token as password"


def _pbx_name(account: Account) -> str:
    endpoint = account.pbx_endpoint()
    return endpoint.name if endpoint is not None else "the PBX's endpoint"


def _codec_cause(account: Account) -> str:
    offered = ", ".join(account.pbx_trunk.codecs) if account.pbx_trunk else "?"
    return (f"488 Not Acceptable Here: no codec in common (the PBX has {offered}; "
            f"the carrier offers {', '.join(CARRIER_CODECS)})")


def _your_pbx_fix(account: Account) -> str:
    endpoint = account.pbx_endpoint()
    where = ", ".join(f"{a.ip}:{a.port}" for a in endpoint.addresses if a.allows("inbound")) if endpoint else ""
    gateways = ", ".join(dict.fromkeys(a.ip for a in account.system_gateway.addresses))
    return (f"check that your PBX listens on {where or 'its endpoint address'} and that its firewall allows SIP "
            f"and RTP from {gateways}")


def _audio_finding(call: LabCall, account: Account) -> Finding:
    if not account.builtin_pbx:  # judged by RTP energy, both ways (sip/audio.py)
        missing = [p for p in ("pstn", "pbx") if not call.heard.get(p)]
        if not missing:
            return Finding("", "")
        said = {"pstn": "your PBX -> PSTN", "pbx": "PSTN -> your PBX"}
        return Finding("; ".join(f"no audio {said[p]} ({call.audio_evidence.get(p, 'no RTP figures')})"
                                 for p in missing),
                       "your PBX must send and accept RTP (PCMU or PCMA) with the System Gateway addresses, "
                       "and its firewall let RTP from them through")
    gateway_ip = call.gateway.rpartition(":")[0]
    missing = [p for p in ("pbx", "pstn") if not call.heard.get(p)]
    if "pbx" in missing and gateway_ip and firewall_rule_for(account.firewall_rules, gateway_ip, "rtp") is None:
        return Finding(f"the PBX heard nothing: its firewall drops RTP from {gateway_ip}",
                       f"allow RTP from {gateway_ip} (a firewall rule with protocol any or rtp)")
    heard = {"pbx": "PSTN -> PBX", "pstn": "PBX -> PSTN"}
    if not missing:
        return Finding("", "")
    return Finding(f"no test tone in {', '.join(heard[p] for p in missing)}",
                   "check codecs and RTP rules for that direction")


def _item(index: int, probes: dict[str, LabCall], ok, account: Account, what: str,
          blocker: Finding | None = None, said=None) -> ChecklistItem:
    """An item judged from its probes (the latest call of each kind): `ok` passes a call,
    `said` says what a call that did not pass did (by default its final code)."""
    title = TITLES[index]
    said = said or _code
    if not probes:
        if blocker is not None:
            return ChecklistItem(title, "fail", f"no {what} yet", blocker.cause, blocker.fix)
        return ChecklistItem(title, "unknown", f"no {what} yet")
    failed = {k: c for k, c in probes.items() if not ok(c)}
    detail = ", ".join(f"{k}: {'ok' if k not in failed else said(c)}" for k, c in probes.items())
    if blocker is not None and not blocker.before_calls:  # what the account lacks: no call can pass it
        return ChecklistItem(title, "fail", detail, blocker.cause, blocker.fix)
    if not failed:
        return ChecklistItem(title, "pass", detail)
    finding = diagnose(next(iter(failed.values())), account)
    return ChecklistItem(title, "fail", detail, finding.cause, finding.fix)


def _code(call: LabCall) -> str:
    if call.answered:
        return "answered"
    return f"{call.final_code} {call.final_reason}".strip()


def _no_audio(call: LabCall) -> str:
    """What an answered call without audio both ways lacked ("answered" said nothing of it)."""
    missing = [way for party, way in (("pbx", "PSTN -> PBX"), ("pstn", "PBX -> PSTN")) if not call.heard.get(party)]
    return "no audio either way" if len(missing) == 2 else f"no audio {missing[0]}"


def counts(call: LabCall) -> bool:
    """Whether a call bears on the checklist: the lab's own calls, placed to test the trunk as
    configured (not a deliberate wrong-token practice call, not a peer's, not a stored CDR)."""
    return not (call.external or call.practice or call.stored)


def running() -> list[ChecklistItem]:
    """The checklist while its calls are under way: no result yet, old ones cleared."""
    return [ChecklistItem(title, "running", "placing the test calls ...") for title in TITLES]


def evaluate(calls: list[LabCall], account: Account) -> list[ChecklistItem]:
    # Your own PBX places its outbound calls itself: they come from outside the lab, and count.
    lab_calls = [c for c in calls if counts(c) or (not account.builtin_pbx and c.external and not c.stored
                                                  and c.direction == "outbound")]
    inbound = _latest(lab_calls, lambda c: c.gateway if c.direction == "inbound" else "")
    # outbound calls count under the method the PBX used (a refused call may have no other)
    outbound = _latest(lab_calls, lambda c: (c.requested_auth or c.auth_method or "unauthenticated")
                       if c.direction == "outbound" else "")
    blockers = missing(account)
    outbound_what = "outbound call" if account.builtin_pbx else (
        f"outbound call from your PBX: dial +1 415 555 0123 from it, to "
        f"{' or '.join(a.ip for a in account.system_gateway.addresses)}")
    answered = lambda c: c.answered  # noqa: E731
    not_refused = lambda c: c.final_code not in (401, 403, 407)  # noqa: E731
    both_ways = lambda c: c.heard.get("pbx", False) and c.heard.get("pstn", False)  # noqa: E731
    connected = {k: c for k, c in {**{f"in {k}": c for k, c in inbound.items()},
                                   **{f"out {k}": c for k, c in outbound.items()}}.items() if answered(c)}
    return [
        _item(0, {f"via {k}": c for k, c in inbound.items()}, answered, account, "inbound call", blockers.get(0)),
        _item(1, {k: c for k, c in outbound.items()}, answered, account, outbound_what, blockers.get(1)),
        _item(2, {k: c for k, c in outbound.items()}, not_refused, account, outbound_what, blockers.get(2)),
        _item(3, connected, both_ways, account, "answered call", blockers.get(3), said=_no_audio),
    ]
