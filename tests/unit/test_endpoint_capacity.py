"""An endpoint's own `capacity` and its addresses' priorities, at the gateway: the pure decision
(sip/edge/decide.py), the edge's count per endpoint (sip/edge/proxy.py, sans-IO) and the
count the gateway addresses share (sip/agent/tally.py). Live tests: tests/interop/test_byo_pbx.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sip.agent.tally import SharedTally
from sip.auth import Gateway
from sip.edge.decide import Accept, Load, Refuse, decide
from sip.edge.proxy import Context, Decided, Edge, Send
from sip.nonces import NonceBook
from sip.routing import route_inbound
from sip.sipmsg import parse_message
from store.records import EndpointAddress, Trunk
from tests.support.accounts import GROUP_SID, OTHER_SID, PBX_SID, PBX_TOKEN, default_account

NOW = 1_800_000_000.0
PSTN = ("127.0.0.20", 5060)


def invite(to: str = "12025550100", *, call_id: str = "c1", headers: str = "", branch: str = "z9hG4bK-1",
           source: tuple[str, int] = PSTN) -> str:
    return (f"INVITE sip:{to}@127.0.0.2:5060 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {source[0]}:{source[1]};branch={branch}\r\n"
            f"From: <sip:14155550123@{source[0]}>;tag=f1\r\nTo: <sip:{to}@127.0.0.2>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{source[0]}:{source[1]}>\r\n"
            f"Max-Forwards: 70\r\n{headers}Content-Length: 0\r\n\r\n")


def gateway() -> Gateway:
    return Gateway("127.0.0.2", 5060, NonceBook(), "nonce-1", NOW)


def with_capacity(capacity: int, *, second_trunk: bool = False):
    account = default_account(capacity=capacity)
    if second_trunk:
        group = account.trunk_groups[0]
        group = replace(group, trunks=group.trunks + (Trunk("trunk-2", GROUP_SID, OTHER_SID, "Other", priority=1),))
        account = replace(account, trunk_groups=(group,))
    return account


def load(**endpoint_calls: int) -> Load:
    calls = {PBX_SID if name == "pbx" else OTHER_SID: n for name, n in endpoint_calls.items()}
    return Load(0, 2, False, "", calls)


HEADER_AUTH = f"X-Auth-EndpointSid: {PBX_SID}\r\nX-Auth-VoipToken: {PBX_TOKEN}\r\n"


# ------------------------------------------------------------------ the decision

@pytest.mark.parametrize(("capacity", "in_progress", "refused"), [
    (0, 0, False), (0, 50, False),  # 0: no limit, as in CarrierX
    (1, 0, False), (1, 1, True), (1, 2, True), (3, 2, False), (3, 3, True),
])
def test_outbound_over_the_endpoints_capacity_is_503_with_retry_after(capacity, in_progress, refused):
    message = parse_message(invite("14155550123", headers=HEADER_AUTH, source=("127.0.0.11", 5060)))
    decision = decide(message, ("127.0.0.11", 5060), with_capacity(capacity), gateway(), load(pbx=in_progress))
    if not refused:
        assert isinstance(decision, Accept) and decision.endpoint_sid == PBX_SID
        return
    assert isinstance(decision, Refuse) and decision.status == 503
    assert ("Retry-After", "5") in decision.headers
    assert f"'Acme PBX' is at its capacity ({capacity} call" in decision.cause
    assert decision.direction == "outbound" and decision.auth == "header" and decision.endpoint_sid == PBX_SID


def test_an_unauthenticated_caller_learns_nothing_of_the_capacity():
    message = parse_message(invite("14155550123", source=("127.0.0.11", 5060)))
    decision = decide(message, ("127.0.0.11", 5060), with_capacity(1), gateway(), load(pbx=1))
    assert isinstance(decision, Refuse) and decision.status == 407


def test_inbound_to_a_full_endpoint_is_503():
    decision = decide(parse_message(invite()), PSTN, with_capacity(1), gateway(), load(pbx=1))
    assert isinstance(decision, Refuse) and decision.status == 503 and decision.direction == "inbound"
    assert "'Acme PBX' is at its capacity (1 call at once, 1 in progress)" in decision.cause


def test_inbound_passes_over_a_full_endpoint_to_the_next_trunk():
    account = with_capacity(1, second_trunk=True)
    decision = decide(parse_message(invite()), PSTN, account, gateway(), load(pbx=1))
    assert isinstance(decision, Accept)
    assert decision.targets == (("127.0.0.40", 5060),) and decision.endpoint_sid == OTHER_SID
    free = decide(parse_message(invite()), PSTN, account, gateway(), load())
    assert free.targets == (("127.0.0.10", 5060), ("127.0.0.40", 5060)) and free.endpoint_sid == PBX_SID


def test_the_address_capacity_still_comes_first():
    decision = decide(parse_message(invite()), PSTN, with_capacity(0), gateway(), Load(2, 2, False))
    assert isinstance(decision, Refuse) and "per address" in decision.cause


# ------------------------------------------------------------------ priority order

def test_addresses_are_tried_in_priority_order_whatever_order_they_come_in():
    addresses = (EndpointAddress(7, PBX_SID, "127.0.0.12", 5062, priority=2),
                 EndpointAddress(3, PBX_SID, "127.0.0.10", 5060, priority=0),
                 EndpointAddress(5, PBX_SID, "127.0.0.13", 5063, priority=1))
    route = route_inbound(default_account(addresses=addresses), "12025550100")
    assert [(t.ip, t.port) for t in route.targets] == [("127.0.0.10", 5060), ("127.0.0.13", 5063),
                                                      ("127.0.0.12", 5062)]


def test_trunks_are_tried_in_priority_order_before_addresses():
    account = with_capacity(0, second_trunk=True)
    group = account.trunk_groups[0]
    account = replace(account, trunk_groups=(replace(group, trunks=tuple(
        replace(t, priority=5 if t.trunk_sid == "trunk-1" else 1) for t in group.trunks)),))
    route = route_inbound(account, "12025550100")
    assert [t.ip for t in route.targets] == ["127.0.0.40", "127.0.0.10"]


# ------------------------------------------------------------------ the edge's count

def new_edge() -> Edge:
    return Edge(("127.0.0.2", 5060), ("127.0.0.2", 15060), secret=b"k" * 16, new_nonce=lambda: "n")


def decisions(outputs) -> list:
    return [o.decision for o in outputs if isinstance(o, Decided)]


def test_the_edge_counts_accepted_calls_per_endpoint_and_refuses_the_one_over():
    edge, account = new_edge(), with_capacity(1)
    first = decisions(edge.receive(invite(call_id="a").encode(), PSTN, Context(account, NOW)))
    assert isinstance(first[0], Accept) and edge.endpoint_calls(NOW) == {PBX_SID: 1}
    second = edge.receive(invite(call_id="b", branch="z9hG4bK-2").encode(), PSTN, Context(account, NOW + 0.1))
    (refusal,) = decisions(second)
    assert isinstance(refusal, Refuse) and refusal.status == 503
    sent = [o for o in second if isinstance(o, Send)][0].data.decode()
    assert sent.startswith("SIP/2.0 503") and "Retry-After: 5" in sent
    edge.call_ended("a", NOW + 1)
    assert edge.endpoint_calls(NOW + 1) == {}
    third = decisions(edge.receive(invite(call_id="c", branch="z9hG4bK-3").encode(), PSTN, Context(account, NOW + 2)))
    assert isinstance(third[0], Accept)


def test_the_edge_adds_the_other_gateways_calls():
    edge = new_edge()
    outputs = edge.receive(invite().encode(), PSTN, Context(with_capacity(2), NOW, {PBX_SID: 2}))
    (refusal,) = decisions(outputs)
    assert isinstance(refusal, Refuse) and "2 in progress" in refusal.cause


# ------------------------------------------------------------------ the count the gateways share

def test_gateways_see_each_others_calls_through_the_tally(tmp_path: Path):
    path = tmp_path / "calls.json"
    first, second = SharedTally(path, "127.0.0.2:5060").open(), SharedTally(path, "127.0.0.3:5060").open()
    try:
        with first.session() as session:
            assert session.others == {}
            session.publish({PBX_SID: 1, OTHER_SID: 0})
        with second.session() as session:
            assert session.others == {PBX_SID: 1}
            session.publish({PBX_SID: 2})
        with first.session() as session:
            assert session.others == {PBX_SID: 2}
        restarted = SharedTally(path, "127.0.0.3:5060").open()  # a crashed gateway carried its calls away
        with first.session() as session:
            assert session.others == {}
        restarted.close()
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        first.close()
        second.close()


def test_a_damaged_tally_counts_from_zero(tmp_path: Path):
    path = tmp_path / "calls.json"
    path.write_text("{not json")
    tally = SharedTally(path, "me").open()
    with tally.session() as session:
        assert session.others == {}
    tally.close()


def test_without_a_file_a_gateway_counts_alone():
    tally = SharedTally(None, "me").open()
    with tally.session() as session:
        session.publish({PBX_SID: 3})
        assert session.others == {}
