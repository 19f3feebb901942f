"""sip.nonces: one-time digest nonces: issued, presented, used, replayed, expired, forgotten."""

from __future__ import annotations

import pytest

from sip.nonces import NonceBook, NonceStatus

T0 = 1_800_000_000.0
IP = "127.0.0.11"
INVITE = ("call-1@127.0.0.11", 1)


def book_with(nonce: str = "n1", *, at: float = T0, ip: str = IP, **options) -> NonceBook:
    book = NonceBook(**options)
    book.issue(nonce, now=at, source_ip=ip)
    return book


def status(book: NonceBook, nonce: str = "n1", *, now: float = T0 + 1, ip: str = IP,
           request: tuple[str, int] = INVITE) -> NonceStatus:
    return book.status(nonce, now=now, source_ip=ip, request=request)


def test_an_issued_nonce_is_fresh_for_its_address():
    book = book_with()
    assert status(book) is NonceStatus.FRESH and status(book).usable
    assert len(book) == 1


@pytest.mark.parametrize("kind", [s for s in NonceStatus if s is not NonceStatus.FRESH])
def test_only_fresh_is_usable(kind):
    assert not kind.usable


def test_a_nonce_never_issued_is_unknown():
    assert status(book_with(), "made-up") is NonceStatus.UNKNOWN
    assert status(NonceBook(), "n1") is NonceStatus.UNKNOWN  # another gateway's book, or after a restart


def test_another_address_may_not_present_it():
    book = book_with()
    assert status(book, ip="127.0.0.12") is NonceStatus.OTHER_ADDRESS
    assert status(book) is NonceStatus.FRESH  # and that did not spoil it for its own address


# ------------------------------------------------------------------ use: retransmission vs replay

def test_a_used_nonce_is_still_fresh_for_the_same_invite():
    book = book_with()
    book.use("n1", INVITE)
    assert status(book, now=T0 + 2) is NonceStatus.FRESH  # a retransmission of that INVITE


@pytest.mark.parametrize("other", [
    ("call-2@127.0.0.11", 1),  # another call
    ("call-1@127.0.0.11", 2),  # another INVITE of the same call (a re-INVITE)
    ("call-1@127.0.0.11", 0),
])
def test_any_other_request_presenting_a_used_nonce_is_a_replay(other):
    book = book_with()
    book.use("n1", INVITE)
    assert status(book, request=other) is NonceStatus.REPLAYED


def test_the_first_use_sticks():
    book = book_with()
    book.use("n1", INVITE)
    book.use("n1", ("call-2", 1))  # a second use changes nothing
    assert status(book) is NonceStatus.FRESH
    assert status(book, request=("call-2", 1)) is NonceStatus.REPLAYED


def test_using_an_unknown_nonce_is_a_no_op():
    book = book_with()
    book.use("never-issued", INVITE)
    assert len(book) == 1 and status(book, "never-issued") is NonceStatus.UNKNOWN


def test_the_same_invite_presented_after_its_retransmissions_are_over_is_a_replay():
    # Timer B (64*T1 = 32 s) ends an INVITE's retransmissions; the same bytes later are a copy
    # off the wire, not a retransmission: the nonce must not place the call again.
    book = book_with()
    book.use("n1", INVITE, now=T0 + 1)
    assert status(book, now=T0 + 1 + 32) is NonceStatus.FRESH
    assert status(book, now=T0 + 1 + 32.001) is NonceStatus.REPLAYED


def test_the_retransmission_window_counts_from_the_use_not_the_issue():
    book = book_with()
    book.use("n1", INVITE, now=T0 + 100)
    assert status(book, now=T0 + 130) is NonceStatus.FRESH
    assert status(book, now=T0 + 140) is NonceStatus.REPLAYED


def test_without_a_time_of_use_the_window_counts_from_the_issue():
    book = book_with()
    book.use("n1", INVITE)
    assert status(book, now=T0 + 32) is NonceStatus.FRESH
    assert status(book, now=T0 + 33) is NonceStatus.REPLAYED


def test_the_retransmission_window_is_a_parameter():
    book = book_with(retransmit_s=5)
    book.use("n1", INVITE, now=T0)
    assert status(book, now=T0 + 5) is NonceStatus.FRESH
    assert status(book, now=T0 + 6) is NonceStatus.REPLAYED


# ------------------------------------------------------------------ age

@pytest.mark.parametrize(("age", "expected"), [
    (0.0, NonceStatus.FRESH),
    (299.999, NonceStatus.FRESH),
    (300.0, NonceStatus.FRESH),  # max_age_s itself is still good
    (300.001, NonceStatus.EXPIRED),
    (3600.0, NonceStatus.EXPIRED),
    (-0.001, NonceStatus.EXPIRED),  # issued "in the future": the clock went back; refused
])
def test_expiry_boundaries(age, expected):
    assert status(book_with(), now=T0 + age) is expected


def test_max_age_is_a_parameter():
    book = book_with(max_age_s=10)
    assert status(book, now=T0 + 10) is NonceStatus.FRESH
    assert status(book, now=T0 + 10.5) is NonceStatus.EXPIRED


def test_expiry_is_checked_before_the_address():
    # An old nonce from someone else: either way it is refused, but 'expired' is the first reason.
    assert status(book_with(), now=T0 + 301, ip="127.0.0.99") is NonceStatus.EXPIRED


def test_expire_forgets_only_nonces_past_their_age():
    book = NonceBook(max_age_s=300)
    for i in range(5):
        book.issue(f"n{i}", now=T0 + i * 100, source_ip=IP)
    book.expire(T0 + 300)  # n0 is exactly 300 s old: kept
    assert len(book) == 5
    book.expire(T0 + 350)  # n0 is 350 s old
    assert len(book) == 4 and status(book, "n0", now=T0 + 350) is NonceStatus.UNKNOWN
    book.expire(T0 + 10_000)
    assert len(book) == 0


def test_expire_on_an_empty_book():
    book = NonceBook()
    book.expire(T0)
    assert len(book) == 0


# ------------------------------------------------------------------ capacity

def test_the_oldest_nonces_are_forgotten_beyond_capacity():
    book = NonceBook(capacity=3)
    for i in range(5):
        book.issue(f"n{i}", now=T0, source_ip=IP)
    assert len(book) == 3
    assert [status(book, f"n{i}") for i in range(5)] == [NonceStatus.UNKNOWN] * 2 + [NonceStatus.FRESH] * 3


def test_a_flood_of_challenges_keeps_the_book_bounded():
    book = NonceBook(capacity=100)
    for i in range(10_000):
        book.issue(f"n{i}", now=T0 + i / 1000, source_ip=IP)
    assert len(book) == 100
    assert status(book, "n9999", now=T0 + 10) is NonceStatus.FRESH


def test_issuing_the_same_nonce_again_moves_it_to_the_newest():
    book = NonceBook(capacity=2)
    book.issue("a", now=T0, source_ip=IP)
    book.issue("b", now=T0, source_ip=IP)
    book.issue("a", now=T0 + 1, source_ip=IP)
    book.issue("c", now=T0 + 1, source_ip=IP)  # evicts b, the oldest now
    assert status(book, "a", now=T0 + 2) is NonceStatus.FRESH
    assert status(book, "b", now=T0 + 2) is NonceStatus.UNKNOWN
