"""sip.ratelimit: the gateway's calls-per-second limit."""

from __future__ import annotations

import pytest

from sip.ratelimit import CallRateLimiter


def test_admits_up_to_the_limit_within_a_second():
    limiter = CallRateLimiter(3)
    assert [limiter.admit(t) for t in (0.0, 0.1, 0.2, 0.3, 0.9)] == [True, True, True, False, False]


def test_window_slides():
    limiter = CallRateLimiter(2)
    assert limiter.admit(0.0) and limiter.admit(0.5)
    assert not limiter.admit(0.99)
    assert limiter.admit(1.0)  # the call at 0.0 left the window
    assert not limiter.admit(1.2)
    assert limiter.admit(1.5)


def test_refused_attempts_do_not_count():
    limiter = CallRateLimiter(1)
    assert limiter.admit(0.0)
    assert not any(limiter.admit(0.01 * i) for i in range(1, 99))
    assert limiter.admit(1.0)


def test_steady_rate_at_the_limit_is_always_admitted():
    limiter = CallRateLimiter(20)
    assert all(limiter.admit(i / 20) for i in range(200))  # 20 calls/s for 10 s


def test_flood_is_capped():
    limiter = CallRateLimiter(25)
    admitted = sum(limiter.admit(i / 100) for i in range(300))  # 100 calls/s for 3 s
    assert admitted == 75


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        CallRateLimiter(0)
