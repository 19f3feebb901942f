"""The guided lesson: the seed page's sections as five steps, each judged from the account, the
calls and the checklist (pure: plain data in, the lesson out).

    1. How calls flow                         a call has reached the System Gateway
    2. Configure your firewall to accept calls the System Gateway addresses allowed (SIP and RTP)
    3. Set up authentication                  an endpoint for your PBX; IP, proxy and header auth ready
    4. Verify phone number assignment         a number assigned to the endpoint's trunk group
    5. The verification checklist             all four items pass

A step is done when every one of its checks holds *now*: deleting a firewall rule unticks step 2
again. The one exception is step 1, which is about having seen a call cross the carrier: once
seen, it stays learnt (the store keeps when; `done_before`). Nothing here ticks because a key
was pressed: only the account, real calls and real checklist results count.

Each check that fails says the exact next thing to do, in the console's screens and keys (the
portal's CONFIGURE screens) or on the PBX side. A new customer's blank account (`reset --blank`)
starts with everything to do but step 1's call, which any account can place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from store.records import LESSON_STEPS, Account, Endpoint, EndpointAddress, TrunkGroup
from store.validate import display_phonenumber

from .calls import LabCall
from .checklist import ChecklistItem
from .routing import firewall_rule_for

STEP_KEYS = LESSON_STEPS  # the store keeps when each was first done
TITLES = {
    "flow": "How calls flow",
    "firewall": "Configure your firewall to accept calls",
    "authentication": "Set up authentication",
    "numbers": "Verify phone number assignment",
    "checklist": "The verification checklist",
}
REFUSALS = (401, 403, 407)  # what the gateway answers a caller it cannot identify

# Where the console does what the portal does. One place, so a changed key is changed once.
ADD_ENDPOINT = "Endpoints (e) -> + (Add New Endpoint): type a name, Provision Trunk Group ticked -> Enter"
PSTN_TEST_NUMBER = "+1 415 555 0123"


@dataclass(frozen=True)
class Check:
    """One fact a step needs. todo: the exact next thing to do while it does not hold."""

    what: str
    ok: bool
    todo: str = ""


@dataclass(frozen=True)
class Step:
    key: str  # one of STEP_KEYS
    title: str
    about: str  # what this part of the page teaches, in a few sentences
    portal: str  # what to do in the portal (the console's CONFIGURE screens)
    pbx: str  # what to do on the PBX side
    checks: tuple[Check, ...]
    done: bool
    note: str = ""  # what must not be missed: the security note, the empty-tab fix

    @property
    def missing(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def next_action(self) -> str:
        """The first missing check's todo ('' when the step is done)."""
        return "" if self.done else next((c.todo for c in self.missing), "")


@dataclass(frozen=True)
class Lesson:
    steps: tuple[Step, ...]

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def current(self) -> Step | None:
        """The first step not done, in the page's order (None: the lesson is complete)."""
        return next((step for step in self.steps if not step.done), None)

    @property
    def finished(self) -> bool:
        return self.current is None

    def step(self, key: str) -> Step:
        return next(step for step in self.steps if step.key == key)

    @property
    def done_keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps if step.done)


def evaluate(account: Account, calls: Iterable[LabCall], checklist: Sequence[ChecklistItem],
             done_before: Mapping[str, float] | None = None) -> Lesson:
    """The lesson as it stands. calls: the lab's calls (stored CDRs of earlier sessions are
    ignored: they belong to whatever account was there then); checklist: its current items;
    done_before: step key -> when the store first saw it done."""
    done_before = done_before or {}
    live = [c for c in calls if not c.stored]
    return Lesson((
        _flow(account, live, "flow" in done_before),
        _firewall(account, live),
        _authentication(account, live, checklist),
        _numbers(account),
        _checklist(account, checklist),
    ))


# ---------------------------------------------------------------------------- the steps


def _step(key: str, about: str, portal: str, pbx: str, checks: list[Check], note: str = "") -> Step:
    return Step(key, TITLES[key], about, portal, pbx, tuple(checks), all(c.ok for c in checks), note)


def _gateway_ips(account: Account) -> list[str]:
    return list(dict.fromkeys(a.ip for a in account.system_gateway.addresses))


def _flow(account: Account, calls: list[LabCall], seen_before: bool) -> Step:
    gateways = ", ".join(_gateway_ips(account))
    pstn = account.party("pstn")
    number = display_phonenumber(account.dids[0].phonenumber) if account.dids else "one of your numbers"
    reached = any(_reached_gateway(c) for c in calls)
    check = Check("a call has reached the System Gateway (its ladder shows what the gateway decided)",
                  reached or seen_before,
                  f"Calls (c) -> i -> Enter: the PSTN calls {number}; then read the call's ladder")
    return _step(
        "flow",
        about=(f"Inbound: a caller on the PSTN ({pstn.ip if pstn else 'the PSTN'}) dials your number; the System "
               f"Gateway ({gateways}) matches the number (DID) to its trunk group, and the trunk group sends the "
               f"call to your third-party endpoint: the INVITE reaches your PBX from a System Gateway address. "
               f"Outbound: your PBX sends the INVITE to a System Gateway address with your endpoint's "
               f"credentials, and the carrier takes it through the trunk group to the PSTN."),
        portal="Endpoints (e): the System Gateway is the carrier's side of the trunk; a third-party endpoint "
               "is yours (your PBX).",
        pbx="Nothing yet: a call's ladder (Calls, c) shows each hop, and where a call is refused, why.",
        checks=[check],
    )


def _reached_gateway(call: LabCall) -> bool:
    """The gateway took part: it decided about the INVITE, or it saw the call's messages (a
    caller's own timeout, with the gateway down, does not count)."""
    return bool(call.decisions) or any(m.agent == "gateway" for m in call.messages)


def _firewall(account: Account, calls: list[LabCall]) -> Step:
    ips = _gateway_ips(account)
    listed = ", ".join(ips)
    about = ("Calls reach your PBX from the System Gateway's addresses, so the PBX's firewall must let "
             "them through: SIP (the signalling) and RTP (the audio). Whatever no rule allows is dropped.")
    portal = (f"Endpoints (e) -> System Gateway: its Endpoint Addresses are {listed}. The carrier makes "
              "this endpoint for every account; it is read-only.")
    if not account.builtin_pbx:
        answered = {c.gateway.rpartition(":")[0] for c in calls
                    if c.direction == "inbound" and c.answered and c.gateway}
        checks = [Check(f"an inbound call through {ip} reached your PBX", ip in answered,
                        f"allow SIP and RTP from {ip} in your PBX's firewall, then Calls (c) -> i -> via "
                        f"{ip} -> Enter (numbers assigned first: step 4)")
                  for ip in ips]
        return _step("firewall", about, portal,
                     pbx=f"Your PBX's firewall is yours to configure: allow SIP and RTP from {listed}.",
                     checks=checks)
    checks = [_firewall_check(account, ip) for ip in ips]
    return _step("firewall", about, portal,
                 pbx="Firewall (f) -> a: allow each address, protocol any (SIP and RTP), then Enter.",
                 checks=checks)


def _firewall_check(account: Account, ip: str) -> Check:
    rules = account.firewall_rules
    sip = firewall_rule_for(rules, ip, "sip") is not None
    rtp = firewall_rule_for(rules, ip, "rtp") is not None
    what = f"the PBX firewall allows {ip} (SIP and RTP)"
    if sip and rtp:
        return Check(what, True)
    if sip:
        return Check(what, False, f"Firewall (f) -> a -> type {ip} rtp -> Enter: RTP from {ip} is dropped, "
                                  "so the PBX would hear nothing")
    if rtp:
        return Check(what, False, f"Firewall (f) -> a -> type {ip} sip -> Enter: its INVITEs are dropped")
    return Check(what, False, f"Firewall (f) -> a -> type {ip} -> Enter (protocol any: SIP and RTP)")


def _contains(address: EndpointAddress, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(address.ip, strict=False)
    except ValueError:
        return False


def _authentication(account: Account, calls: list[LabCall], checklist: Sequence[ChecklistItem]) -> Step:
    gateways = ", ".join(_gateway_ips(account))
    about = ("The carrier accepts an outbound call once it knows whose it is. IP-based: the call comes "
             "from an address of your endpoint (ip and port), nothing else to send. Proxy authentication: "
             "the gateway answers 407, and your PBX answers the challenge with the endpoint SID as username "
             "and the VoIP token as password. Header-based: the INVITE carries X-Auth-EndpointSid and "
             f"X-Auth-VoipToken. Either way the PBX sends to the System Gateway addresses ({gateways}); a "
             "wrong or missing token gets 401 Unauthorized.")
    note = ("Security: header-based authentication sends the VoIP token in clear text in every INVITE. "
            "Use it only for a device that cannot do proxy authentication.")
    portal = ("Endpoints (e) -> your third-party endpoint: Endpoint Details show its endpoint SID and VoIP "
              "token (r reveals it); a adds an address.")
    if account.builtin_pbx:
        pbx_side = ("PBX settings (b): the endpoint SID and VoIP token (u copies them from the portal), the "
                    "port it sends from, h: send the token header.")
    else:
        pbx_side = ("Your PBX: `python app.py pbx-config asterisk|freeswitch|kamailio|baresip|linphone "
                    "--auth proxy` prints its settings for this account.")
    endpoint = account.pbx_endpoint()
    if endpoint is None:
        return _step("authentication", about, portal, pbx_side, [Check("a third-party endpoint for your PBX",
                                                                       False, ADD_ENDPOINT)], note)
    checks = [Check(f"a third-party endpoint for your PBX: {endpoint.name}", True), _ip_auth_check(account, endpoint)]
    if account.builtin_pbx:
        checks += _pbx_credentials_checks(account, endpoint)
    else:
        authenticated = any(c.direction == "outbound" and c.gateway and c.final_code is not None
                            and c.final_code not in REFUSALS for c in calls)
        checks.append(Check("your PBX placed an outbound call the gateway accepted", authenticated,
                            f"place a call from your PBX to {PSTN_TEST_NUMBER}, sent to {gateways}"))
    if all(c.ok for c in checks):  # the account looks right: do real calls agree?
        item = _item(checklist, 2)
        if item is not None and item.status == "fail":
            checks.append(Check(f"the checklist's outbound calls authenticated ({item.cause or item.detail})",
                                False, item.fix or "read the refused call's ladder (Calls, c)"))
    return _step("authentication", about, portal, pbx_side, checks, note)


def _ip_auth_check(account: Account, endpoint: Endpoint) -> Check:
    """IP-based authentication: an address of the endpoint that may place calls and covers the
    PBX's source, on the port it sends from (any port with insecure_address)."""
    pbx = account.party("pbx")
    outbound = [a for a in endpoint.addresses if a.allows("outbound")]
    if not account.builtin_pbx or pbx is None:
        return Check(f"{endpoint.name} has your PBX's address (IP-based authentication)", bool(outbound),
                     f"Endpoints (e) -> {endpoint.name} -> a -> type your PBX's address -> Enter")
    port = account.pbx_trunk.source_port if account.pbx_trunk is not None else pbx.port
    what = f"{endpoint.name} has the PBX's address {pbx.ip}:{port} (IP-based authentication)"
    covering = [a for a in outbound if _contains(a, pbx.ip)]
    if not covering:
        if any(_contains(a, pbx.ip) for a in endpoint.addresses):
            return Check(what, False, f"Endpoints (e) -> {endpoint.name}: its address for {pbx.ip} is for inbound "
                                      f"calls only; add {pbx.ip} again with direction any")
        on_port = "" if port == 5060 else f", port {port}"
        return Check(what, False, f"Endpoints (e) -> {endpoint.name} -> a -> type {pbx.ip}{on_port} -> Enter")
    if endpoint.attributes.insecure_address or any(a.port == port for a in covering):
        return Check(what, True)
    ports = ", ".join(str(a.port) for a in covering)
    return Check(what, False, f"the PBX sends from port {port}, the address says {ports}: PBX settings (b) -> "
                              f"source port {covering[0].port}, or Endpoints (e) -> {endpoint.name} -> i "
                              "(insecure_address: any port)")


def _pbx_credentials_checks(account: Account, endpoint: Endpoint) -> list[Check]:
    trunk = account.pbx_trunk
    what = f"the PBX's trunk settings hold {endpoint.name}'s endpoint SID and VoIP token (proxy and header auth)"
    copy = "PBX settings (b) -> u (Copy from portal)"
    if trunk is None or not trunk.configured:
        credentials = Check(what, False, f"{copy}: the PBX's endpoint SID and VoIP token are empty")
    elif trunk.endpoint_sid != endpoint.endpoint_sid:
        credentials = Check(what, False, f"{copy}: the PBX has another endpoint SID")
    elif trunk.voip_token != endpoint.voip_token:
        credentials = Check(what, False, f"{copy}: the PBX has an old VoIP token (the portal's was regenerated)")
    else:
        credentials = Check(what, True)
    header = Check("the PBX sends X-Auth-VoipToken with header-based authentication",
                   trunk is not None and trunk.send_voip_token_header, "PBX settings (b) -> h (Token header on)")
    return [credentials, header]


def _groups_to(account: Account, endpoint: Endpoint) -> list[TrunkGroup]:
    return [g for g in account.trunk_groups if any(t.endpoint_sid == endpoint.endpoint_sid for t in g.trunks)]


def _numbers(account: Account) -> Step:
    about = ("An inbound call is routed by the number dialled: the number (DID) is assigned to a trunk "
             "group, and the trunk group has a trunk to your endpoint. The endpoint's Assigned Phone "
             "Numbers tab lists the numbers that reach it; they are also the caller IDs your outbound "
             "calls may use.")
    note = ("An empty Assigned Phone Numbers tab means no number is assigned to the endpoint's trunk "
            "group. The fix: Phone Numbers (n) -> select a number -> Enter (Edit) -> choose the trunk "
            "group -> Save.")
    endpoint = account.pbx_endpoint()
    assigned = account.assigned_phonenumbers(endpoint.endpoint_sid) if endpoint is not None else ()
    shown = ", ".join(display_phonenumber(d.phonenumber) for d in assigned) or "your numbers"
    portal = ("Endpoints (e) -> your endpoint -> p: the Assigned Phone Numbers tab; Trunk Groups (t); "
              "Phone Numbers (n).")
    pbx_side = ("Nothing: the lab's PBX answers every number it is sent." if account.builtin_pbx
                else f"Route {shown} to an extension of your PBX.")
    if endpoint is None:
        return _step("numbers", about, portal, pbx_side,
                     [Check("an endpoint to send the numbers to (step 3)", False, ADD_ENDPOINT)], note)
    groups = _groups_to(account, endpoint)
    group_check = Check(f"a trunk group with a trunk to {endpoint.name}", bool(groups), _add_group(endpoint))
    pbx = account.party("pbx")
    where = pbx.ip if account.builtin_pbx and pbx is not None else "your PBX's address"
    inbound = Check(f"{endpoint.name} has an address for inbound calls (direction any or inbound)",
                    any(a.allows("inbound") for a in endpoint.addresses),
                    f"Endpoints (e) -> {endpoint.name} -> a -> type {where} -> Enter (direction any)")
    if not groups:
        number_check = Check("a phone number assigned to the endpoint's trunk group", False,
                             f"first a trunk group: {_add_group(endpoint)}")
    elif assigned:
        number_check = Check(f"{shown} in {endpoint.name}'s Assigned Phone Numbers tab", True)
    else:
        spare = next((d for d in account.dids if d.trunk_group_sid is None), None)
        if spare is not None:
            todo = (f"Phone Numbers (n) -> select {display_phonenumber(spare.phonenumber)} -> Enter (Edit) -> "
                    f"trunk group {groups[0].name} -> Save")
        elif account.dids:
            todo = (f"Phone Numbers (n) -> select a number -> Enter (Edit) -> trunk group {groups[0].name} "
                    "-> Save")
        else:
            todo = "Phone Numbers (n) -> a -> type a number (e.g. +1 202 555 0142) -> Enter, then assign it"
        number_check = Check(f"a phone number assigned to {groups[0].name} (the tab is empty)", False, todo)
    return _step("numbers", about, portal, pbx_side, [group_check, inbound, number_check], note)


def _add_group(endpoint: Endpoint) -> str:
    return (f"Trunk Groups (t) -> + (New trunk group): a name -> Enter; then a (Add trunk) -> "
            f"{endpoint.name} -> Enter")


def _item(checklist: Sequence[ChecklistItem], index: int) -> ChecklistItem | None:
    return checklist[index] if len(checklist) > index else None


def _checklist(account: Account, checklist: Sequence[ChecklistItem]) -> Step:
    about = ("The page's own checklist, judged from real calls: inbound calls reach your PBX through each "
             "System Gateway address, outbound calls go out with each authentication method and none is "
             "refused with 401 or 403, and audio flows both ways.")
    portal = "k runs it from any screen; Home (d) shows each item with its cause and fix."
    if account.builtin_pbx:
        pbx_side = "Nothing: the lab's PBX answers the inbound test calls and places the outbound ones."
    else:
        pbx_side = (f"Keep your PBX running; place a call from it to {PSTN_TEST_NUMBER} (k places the "
                    "inbound test calls).")
    if not checklist:
        return _step("checklist", about, portal, pbx_side,
                     [Check("the Verification Checklist has run", False, "k: run the Verification Checklist")])
    checks = []
    for index, item in enumerate(checklist):
        if item.status == "pass":
            checks.append(Check(item.title, True))
        elif item.status == "running":
            checks.append(Check(item.title, False, "wait: the checklist's calls are under way"))
        elif item.status == "fail":
            checks.append(Check(item.title, False, item.fix or item.cause or "read the call's ladder (Calls, c)"))
        elif not account.builtin_pbx and index in (1, 2):
            checks.append(Check(item.title, False, item.detail or f"place a call from your PBX to {PSTN_TEST_NUMBER}"))
        else:
            checks.append(Check(item.title, False, "k: run the Verification Checklist"))
    return _step("checklist", about, portal, pbx_side, checks)
