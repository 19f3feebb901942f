"""The fuzzer's generator (tests/support/fuzz.py): deterministic for a seed, bounded, every
template and operator in use, and its templates safe (no call can succeed, loopback only)."""

from __future__ import annotations

import ipaddress
import random
import re
from collections import Counter

import pytest

from sip.auth import REALM
from sip.digest import DigestChallenge, parse_credentials, verify_credentials
from sip.routing import dialled_number
from sip.sipmsg import parse_message, uri_user
from tests.support import fuzz
from tests.support.fuzz import MAX_DATAGRAM, OPERATORS, REPEAT, TEMPLATES, FuzzTarget, generate, template

NONCE = "a-nonce-the-gateway-issued"
SID, TOKEN = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


def target(**changes) -> FuzzTarget:
    challenge = DigestChallenge(realm=REALM, nonce=NONCE, qop="auth").to_header()
    values = dict(gateways=(("127.0.130.2", 5060), ("127.0.130.3", 5060)), source_ip="127.0.130.50",
                  source_ports=(40000, 40001, 40002), endpoint_sid=SID, voip_token=TOKEN,
                  challenges=(challenge, challenge))
    return FuzzTarget(**{**values, **changes})


@pytest.fixture(scope="module")
def sample() -> list[fuzz.Datagram]:
    return generate(7, 3000, target())


def test_the_same_seed_gives_the_same_datagrams():
    assert generate(42, 500, target()) == generate(42, 500, target())


def test_another_seed_gives_other_datagrams():
    first, second = generate(1, 200, target()), generate(2, 200, target())
    assert sum(a.payload != b.payload for a, b in zip(first, second)) > 150


def test_a_prefix_is_stable_whatever_the_count():
    assert generate(5, 100, target()) == generate(5, 300, target())[:100]


def test_every_datagram_is_within_the_bound(sample):
    assert max(len(d.payload) for d in sample) <= MAX_DATAGRAM
    assert any(len(d.payload) > 4000 for d in sample)  # some go past pjsip's 4000-byte limit
    assert all(d.gateway in (0, 1) and d.source in (0, 1, 2) for d in sample)


def test_a_maximal_datagram_is_clamped():
    datagrams = generate(3, 3000, target())
    assert any(len(d.payload) > 40_000 for d in datagrams)
    assert all(len(d.payload) <= MAX_DATAGRAM for d in datagrams)


def test_every_template_and_every_operator_is_used(sample):
    assert {d.template for d in sample} == {*TEMPLATES, REPEAT}
    used = Counter(op for d in sample for op in d.operators)
    assert set(used) == set(OPERATORS)
    assert min(used.values()) > 100  # each is exercised often, not once by luck


def test_mutated_datagrams_carry_one_to_three_operators_and_repeats_are_verbatim(sample):
    by_index = {d.index: d for d in sample}
    for d in sample:
        if d.template == REPEAT:
            assert d.operators == ()
            assert any(e.payload == d.payload for e in sample if e.index < d.index)
        else:
            assert 1 <= len(d.operators) <= fuzz.MAX_OPERATORS
    assert len(by_index) == len(sample)


def test_chunks_numbered_apart_never_share_a_call_id():
    first = generate(1, 300, target(), first_index=0)
    second = generate(2, 300, target(), first_index=300)
    assert [d.index for d in first + second] == list(range(600))
    for chunk, numbers in ((first, range(0, 300)), (second, range(300, 600))):
        found = [int(n) for d in chunk for n in re.findall(rb"Call-ID: fz\d+-(\d+)@", d.payload)]
        assert found and all(n in numbers for n in found)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_each_operator_changes_a_message(name: str):
    base = template("invite-sdp", target())
    outputs = [OPERATORS[name](random.Random(seed), base) for seed in range(30)]
    assert sum(out != base for out in outputs) >= 20


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_each_operator_copes_with_an_empty_and_a_one_line_message(name: str):
    for data in (b"", b"INVITE", b"\r\n"):
        assert isinstance(OPERATORS[name](random.Random(1), data), bytes)


def test_operators_do_what_they_say():
    base = template("invite-sdp", target())
    rng = random.Random
    assert len(fuzz.m_truncate(rng(1), base)) < len(base)
    assert b"\x00" in fuzz.m_nul_bytes(rng(1), base)
    with pytest.raises(UnicodeDecodeError):
        fuzz.m_non_utf8(rng(1), base).decode("utf-8")
    assert fuzz.m_missing_colon(rng(1), base).count(b":") == base.count(b":") - 1
    grown = fuzz.m_huge_repetition(rng(4), base)
    assert len(base) < len(grown) <= MAX_DATAGRAM
    assert all(fuzz.m_line_endings(rng(s), base) != base for s in range(20))
    assert fuzz.m_delete_line(rng(1), base).count(b"\n") == base.count(b"\n") - 1
    limited = [fuzz.m_numeric_limits(rng(s), base) for s in range(20)]
    assert any(any(v in out and v not in base for v in (b"4294967296", b"2147483648", b"65536")) for out in limited)
    bounded = [fuzz.m_boundary_value(rng(s), base) for s in range(20)]
    assert all(len(out.split(b"\n")) == len(base.split(b"\n")) for out in bounded)


def test_the_huge_repetition_never_passes_the_bound():
    almost_full = b"X-Fill: " + b"a" * (MAX_DATAGRAM - 20) + b"\r\n"
    for seed in range(50):
        assert len(fuzz.m_huge_repetition(random.Random(seed), almost_full)) <= MAX_DATAGRAM


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_is_a_well_formed_message_before_mutation(name: str):
    message = parse_message(template(name, target()).decode())
    assert message.call_id and message.cseq_number is not None


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_name_loopback_addresses_only(name: str):
    text = template(name, target()).decode()
    assert "maddr" not in text  # a response must never be steered to another host
    for address in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text):
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8"), address


def test_credentialed_invites_dial_a_number_routing_refuses():
    for name in ("invite-x-auth", "invite-digest"):
        message = parse_message(template(name, target()).decode())
        assert uri_user(message.request_uri) == "fuzz"
        assert dialled_number("fuzz") is None  # not E.164: no call reaches the PSTN
    with pytest.raises(ValueError):
        target(refused_number="1800fuzz")


def test_uncredentialed_invites_carry_no_credentials():
    for name in ("invite-sdp", "invite-no-sdp"):
        text = template(name, target()).decode()
        assert "X-Auth" not in text and "Authorization" not in text


def test_the_digest_template_carries_credentials_the_gateway_would_accept():
    message = parse_message(template("invite-digest", target(), index=9).decode())
    creds = parse_credentials(message.header("Proxy-Authorization"))
    assert creds.username == SID and creds.realm == REALM and creds.uri == message.request_uri
    assert creds.nonce == NONCE and creds.qop == "auth" and creds.nc == "00000001"
    assert verify_credentials(creds, method="INVITE", password=TOKEN, expected_realm=REALM, expected_nonce=creds.nonce)


def test_without_a_challenge_the_digest_template_forges_a_nonce():
    message = parse_message(template("invite-digest", target(challenges=())).decode())
    creds = parse_credentials(message.header("Proxy-Authorization"))
    assert creds.nonce != NONCE


def test_cancel_ack_and_bye_sometimes_name_an_earlier_invite(sample):
    invites = {re.search(rb"Call-ID: (\S+)", d.payload).group(1) for d in sample
               if d.template.startswith("invite") and re.search(rb"Call-ID: (\S+)", d.payload)}
    for name in ("cancel", "ack", "bye"):
        ids = [re.search(rb"Call-ID: (\S+)", d.payload) for d in sample if d.template == name]
        assert any(m and m.group(1) in invites for m in ids), name
