"""A calls-per-second (CPS) limit, as carriers put on every trunk (pure: the clock is passed in).

Why the gateway needs one here: pjsua registers two sockets (RTP, RTCP) per call leg with its
I/O queue, which has 64 slots, and a closed socket keeps its slot for another 0.5 s. A flood of
short calls therefore exhausts the queue and pjsua aborts. Admitting at most `max_calls`
new INVITEs keeps the churn inside that budget; the excess is refused with 503.
"""

from __future__ import annotations

from collections import deque


class CallRateLimiter:
    def __init__(self, max_calls: int, window_s: float = 1.0) -> None:
        """At most max_calls admissions in any window_s seconds."""
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.max_calls = max_calls
        self.window_s = window_s
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """True (and counted) when a new call attempt at time `now` is within the limit."""
        while self._admitted and now - self._admitted[0] >= self.window_s - 1e-9:  # float slack
            self._admitted.popleft()
        if len(self._admitted) >= self.max_calls:
            return False
        self._admitted.append(now)
        return True
