"""sip.routing: DID -> trunk group -> endpoint addresses; outbound to the PSTN; firewall rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sip.routing import (
    InboundRoute,
    NoRoute,
    OutboundRoute,
    Target,
    allowed_sources,
    dialled_number,
    firewall_rule_for,
    route_inbound,
    route_outbound,
)
from store.records import EndpointAddress, FirewallRule, Trunk
from tests.support.accounts import GROUP_SID, OTHER_SID, PBX_SID, default_account


@pytest.mark.parametrize(("user", "expected"), [
    ("+12025550100", "12025550100"), ("12025550100", "12025550100"), ("1-202-555-0100", "12025550100"),
    ("12025550100;npdi", "12025550100"), ("+442079460000", "442079460000"),
    ("", None), (None, None), ("alice", None), ("1202", None), ("+1202555010", None), ("555CALL", None),
])
def test_dialled_number(user, expected):
    assert dialled_number(user) == expected


def test_inbound_to_an_assigned_number_reaches_the_pbx():
    route = route_inbound(default_account(), "+12025550100")
    assert isinstance(route, InboundRoute)
    assert route.did.phonenumber == "12025550100" and route.trunk_group.trunk_group_sid == GROUP_SID
    assert route.targets == (Target(PBX_SID, "trunk-1", "127.0.0.10", 5060),)


def test_inbound_to_an_unassigned_number_is_404_saying_why_not_how():
    """The cause is the gateway's word (its Warning header, the checklist's cause): what is
    wrong, not where to click. Trainee mode shows causes and keeps fixes back until a hint, and
    this one once carried "(Phone Numbers -> Edit -> trunk group)"; the checklist's fix says it."""
    route = route_inbound(default_account(), "12025550199")
    assert isinstance(route, NoRoute) and route.status == 404
    assert route.cause == "+12025550199 is not assigned to a trunk group"


@pytest.mark.parametrize("user", ["12025550142", "alice", "", None])
def test_inbound_to_an_unknown_number_is_404(user):
    route = route_inbound(default_account(), user)
    assert isinstance(route, NoRoute) and route.status == 404


def _with(addresses=None, extra_trunk=False):
    account = default_account(**({"addresses": addresses} if addresses is not None else {}))
    if extra_trunk:
        group = account.trunk_groups[0]
        group = replace(group, trunks=group.trunks + (Trunk("trunk-2", GROUP_SID, OTHER_SID, "Other", priority=1),))
        account = replace(account, trunk_groups=(group,))
    return account


def test_inbound_failover_order_follows_trunks_then_addresses():
    account = _with(
        addresses=(EndpointAddress(3, PBX_SID, "127.0.0.10", 5060), EndpointAddress(5, PBX_SID, "127.0.0.12", 5062)),
        extra_trunk=True,
    )
    route = route_inbound(account, "12025550101")
    assert [(t.ip, t.port) for t in route.targets] == [("127.0.0.10", 5060), ("127.0.0.12", 5062), ("127.0.0.40", 5060)]


def test_inbound_skips_outbound_only_addresses():
    account = _with(addresses=(EndpointAddress(3, PBX_SID, "127.0.0.10", direction="outbound"),))
    route = route_inbound(account, "12025550100")
    assert isinstance(route, NoRoute) and route.status == 480


@pytest.mark.parametrize(("ip", "words"), [("10.0.0.0/24", "subnet"), ("192.168.1.10", "off loopback")])
def test_inbound_never_sends_to_a_subnet_or_off_loopback(ip, words):
    route = route_inbound(_with(addresses=(EndpointAddress(3, PBX_SID, ip),)), "12025550100")
    assert isinstance(route, NoRoute) and words in route.cause


def test_inbound_to_a_group_without_trunks_is_480():
    account = default_account()
    account = replace(account, trunk_groups=(replace(account.trunk_groups[0], trunks=()),))
    assert route_inbound(account, "12025550100").status == 480


def test_outbound_goes_to_the_pstn():
    route = route_outbound(default_account(), PBX_SID, "+1 415 555 0123")
    assert isinstance(route, OutboundRoute)
    assert (route.phonenumber, route.pstn_ip, route.pstn_port) == ("14155550123", "127.0.0.20", 5060)


def test_outbound_needs_a_number():
    route = route_outbound(default_account(), PBX_SID, "bob")
    assert isinstance(route, NoRoute) and route.status == 484


def test_outbound_from_an_endpoint_without_trunk_group_is_403():
    route = route_outbound(default_account(), OTHER_SID, "14155550123")
    assert isinstance(route, NoRoute) and route.status == 403


RULES = (
    FirewallRule(1, 1, "127.0.0.2/32", "any"),
    FirewallRule(2, 2, "127.0.0.3/32", "sip"),
    FirewallRule(3, 3, "127.0.0.16/30", "rtp"),
)


@pytest.mark.parametrize(("source", "protocol", "rule_id"), [
    ("127.0.0.2", "sip", 1), ("127.0.0.2", "rtp", 1), ("127.0.0.3", "sip", 2), ("127.0.0.3", "rtp", None),
    ("127.0.0.17", "rtp", 3), ("127.0.0.17", "sip", None), ("127.0.0.20", "sip", None), ("127.0.0.10", "sip", None),
])
def test_firewall_first_matching_rule_or_drop(source, protocol, rule_id):
    rule = firewall_rule_for(RULES, source, protocol)
    assert (rule.rule_id if rule else None) == rule_id


def test_firewall_with_no_rules_drops_everything():
    assert firewall_rule_for((), "127.0.0.2", "sip") is None


def test_allowed_sources_per_protocol():
    assert allowed_sources(RULES, "sip") == ("127.0.0.2/32", "127.0.0.3/32")
    assert allowed_sources(RULES, "rtp") == ("127.0.0.2/32", "127.0.0.16/30")


@pytest.mark.parametrize(("typed", "dialled"), [
    ("+1 202 555 0100", "12025550100"), ("1-202-555-0100", "12025550100"), ("12025550199", "12025550199"),
    ("alice", "alice"), ("1202", "1202"), (" bob.smith ", "bob.smith"),
])
def test_dial_string(typed, dialled):
    from sip.lab import dial_string

    assert dial_string(typed) == dialled


@pytest.mark.parametrize("typed", ["", "   ", "two words", "a<b>", "x@y"])
def test_dial_string_refuses_what_no_uri_can_carry(typed):
    from sip.lab import LabError, dial_string

    with pytest.raises(LabError, match="neither a phone number"):
        dial_string(typed)


@pytest.mark.parametrize("typed", ["1" * 33, "1" * 200, "a" * 40])
def test_dial_string_refuses_what_is_too_long_to_be_a_number_or_a_name(typed):
    """A 200-digit number once went out to the gateway, and made a pcap file name too long."""
    from sip.lab import MAX_DIAL, LabError, dial_string

    with pytest.raises(LabError, match=f"too long to dial: {MAX_DIAL} characters at most"):
        dial_string(typed)
    assert dial_string("1" * MAX_DIAL) == "1" * MAX_DIAL  # a name that long is still a name
