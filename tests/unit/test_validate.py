"""store.validate: every rule, nominal and off-nominal, as pure functions."""

from __future__ import annotations

import pytest

from store import ValidationError
from store import validate


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.10", "127.0.0.10"),
        (" 127.0.0.2 ", "127.0.0.2"),
        ("127.0.0.10/32", "127.0.0.10"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.168.1.0/24", "192.168.1.0/24"),
        ("172.16.5.4", "172.16.5.4"),
        ("169.254.1.1", "169.254.1.1"),
    ],
)
def test_ip_or_cidr_accepts_loopback_and_private(given, expected):
    assert validate.ip_or_cidr(given) == expected


@pytest.mark.parametrize(
    ("given", "message_part"),
    [
        ("", "enter an IPv4 address"),
        (None, "enter an IPv4 address"),
        ("127.0.0.256", "not an IPv4 address or CIDR"),
        ("banana", "not an IPv4 address or CIDR"),
        ("127.0.0.1/33", "not an IPv4 address or CIDR"),
        ("10.0.0.5/24", "did you mean 10.0.0.0/24"),
        ("::1", "IPv6"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("8.8.8.8", "public address"),
        ("1.2.3.0/24", "public address"),
        ("127.0.0.1; rm -rf /", "not an IPv4 address or CIDR"),
    ],
)
def test_ip_or_cidr_refuses_with_a_clear_message(given, message_part):
    with pytest.raises(ValidationError) as caught:
        validate.ip_or_cidr(given)
    assert message_part in caught.value.message
    assert caught.value.field == "ip"


def test_cidr_always_has_a_prefix():
    assert validate.cidr("127.0.0.2") == "127.0.0.2/32"
    assert validate.cidr("10.1.0.0/16") == "10.1.0.0/16"


def test_ip_address_refuses_a_subnet():
    with pytest.raises(ValidationError, match="single address"):
        validate.ip_address("10.0.0.0/24")


@pytest.mark.parametrize("given", ["127.0.0.1", "127.1.2.3"])
def test_loopback_address_accepts_127_8(given):
    assert validate.loopback_address(given) == given


@pytest.mark.parametrize("given", ["10.0.0.1", "192.168.0.1"])
def test_loopback_address_refuses_other_private(given):
    with pytest.raises(ValidationError, match="not a loopback address"):
        validate.loopback_address(given)


@pytest.mark.parametrize(("given", "expected"), [(5060, 5060), ("5061", 5061), (1, 1), (65535, 65535), (" 80 ", 80)])
def test_port_accepts_1_to_65535(given, expected):
    assert validate.port(given) == expected


@pytest.mark.parametrize(("given", "message_part"), [(0, "out of range"), (65536, "out of range"), (-1, "out of range"),
                                                     ("sip", "not a port number"), ("", "not a port number"),
                                                     ("50.5", "not a port number")])
def test_port_refuses(given, message_part):
    with pytest.raises(ValidationError, match=message_part):
        validate.port(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+1 202 555 0100", "12025550100"),
        ("12025550100", "12025550100"),
        ("+1 (202) 555-0100", "12025550100"),
        ("1-202-555-0100", "12025550100"),
        ("+44 20 7946 0000", "442079460000"),
        ("  +12025550101 ", "12025550101"),
    ],
)
def test_phonenumber_normalises_to_e164_digits(given, expected):
    assert validate.phonenumber(given) == expected


@pytest.mark.parametrize(
    ("given", "message_part"),
    [
        ("", "enter a phone number"),
        ("hello", "is not a phone number"),
        ("+1 202 555", "not a valid number"),
        ("+1 202 555 01000", "not a valid number"),
        ("+999 1234567", "not a phone number"),
        ("2025550100", "not a valid number"),  # no country code: read as +20 (Egypt) ..., not valid
    ],
)
def test_phonenumber_refuses(given, message_part):
    with pytest.raises(ValidationError) as caught:
        validate.phonenumber(given)
    assert message_part in caught.value.message


def test_display_phonenumber_is_international():
    assert validate.display_phonenumber("12025550100") == "+1 202-555-0100"
    assert validate.display_phonenumber("442079460000") == "+44 20 7946 0000"


@pytest.mark.parametrize(("given", "message_part"), [("", "required"), ("   ", "required"), ("x" * 65, "under 64"),
                                                     ("bad\x07name", "control characters")])
def test_name_refuses(given, message_part):
    with pytest.raises(ValidationError, match=message_part):
        validate.name(given)


def test_name_is_stripped():
    assert validate.name("  Acme PBX ") == "Acme PBX"


@pytest.mark.parametrize(("func", "good", "bad"), [
    (validate.direction, "Inbound", "sideways"),
    (validate.transport, "UDP", "tls"),
    (validate.firewall_protocol, "rtp", "icmp"),
])
def test_choices(func, good, bad):
    assert func(good) == good.lower()
    with pytest.raises(ValidationError, match="is not one of"):
        func(bad)


@pytest.mark.parametrize(("given", "ok"), [(0, True), ("12", True), (-1, False), ("many", False)])
def test_non_negative_int(given, ok):
    if ok:
        assert validate.non_negative_int(given, "capacity") == int(given)
    else:
        with pytest.raises(ValidationError):
            validate.non_negative_int(given, "capacity")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("127.0.0.5", ("127.0.0.5/32", "any")),
        ("  127.0.0.5   SIP ", ("127.0.0.5/32", "sip")),
        ("10.0.0.0/24 rtp", ("10.0.0.0/24", "rtp")),
        ("127.0.21.5 any", ("127.0.21.5/32", "any")),
    ],
)
def test_a_typed_firewall_rule_is_an_address_and_a_protocol(typed, expected):
    assert validate.firewall_rule(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message_part"),
    [
        ("127.0.21.5 sip extra", "'extra' is one word too many"),
        ("127.0.21.5 sip extra words", "'extra words' is one word too many"),
        ("127.0.21.5 tcp", "'tcp' is not one of any, sip, rtp"),
        ("", "enter an IPv4 address"),
        ("sip 127.0.0.5", "'sip' is not an IPv4 address"),
        ("1" * 41, "keep it under 40 characters"),
    ],
)
def test_a_typed_firewall_rule_with_more_or_less_is_refused(typed, message_part):
    with pytest.raises(ValidationError) as refused:
        validate.firewall_rule(typed)
    assert message_part in refused.value.message


def test_a_long_text_is_not_echoed_whole_as_an_address():
    with pytest.raises(ValidationError) as refused:
        validate.cidr("1" * 5000)
    assert "too long" in refused.value.message and len(refused.value.message) < 120
