"""One-time digest nonces, as a carrier edge keeps them (pure: the clock is passed in).

A nonce is good for one INVITE: the one it first authenticated. Its retransmissions (same
Call-ID and CSeq) may present it again; any other request presenting it is a replay, however
correct its digest: a Proxy-Authorization copied off the wire (it is on every ladder) must not
place a call. The same idea as Kamailio's auth module with one-time nonces (`otn_enable`).

A retransmission comes within 64*T1 = 32 s of the INVITE it repeats (Timer B); the same INVITE
presented later is a copy off the wire, and a replay too.

A nonce is also bound to the address it was issued to and to the gateway that issued it (this
book lives in one gateway process), and lives `max_age_s` at most. The book forgets the oldest
nonces beyond `capacity`, so a flood of unauthenticated INVITEs cannot grow it without bound; a
forgotten nonce is "unknown", and the caller is simply challenged again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum


class NonceStatus(Enum):
    FRESH = "fresh"  # issued here, to this address, not used by another request yet
    UNKNOWN = "unknown"  # not issued by this gateway (or forgotten): another gateway's, a restart, made up
    EXPIRED = "expired"
    REPLAYED = "replayed"  # already authenticated another request
    OTHER_ADDRESS = "other address"  # issued to someone else

    @property
    def usable(self) -> bool:
        return self is NonceStatus.FRESH


@dataclass
class _Record:
    issued_at: float
    source_ip: str
    used_by: tuple[str, int] | None = None  # (Call-ID, CSeq) of the INVITE it authenticated
    used_at: float = 0.0


class NonceBook:
    def __init__(self, *, max_age_s: float = 300.0, capacity: int = 10_000, retransmit_s: float = 32.0) -> None:
        self.max_age_s = max_age_s
        self.retransmit_s = retransmit_s
        self.capacity = capacity
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def issue(self, nonce: str, *, now: float, source_ip: str) -> None:
        self._records[nonce] = _Record(now, source_ip)
        self._records.move_to_end(nonce)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def status(self, nonce: str, *, now: float, source_ip: str, request: tuple[str, int]) -> NonceStatus:
        """What presenting `nonce` from source_ip for `request` (Call-ID, CSeq) amounts to."""
        record = self._records.get(nonce)
        if record is None:
            return NonceStatus.UNKNOWN
        if not 0 <= now - record.issued_at <= self.max_age_s:
            return NonceStatus.EXPIRED
        if record.source_ip != source_ip:
            return NonceStatus.OTHER_ADDRESS
        if record.used_by is not None and (record.used_by != request or now - record.used_at > self.retransmit_s):
            return NonceStatus.REPLAYED
        return NonceStatus.FRESH

    def use(self, nonce: str, request: tuple[str, int], *, now: float | None = None) -> None:
        """Mark the nonce used by this request at `now` (default: when it was issued); a no-op
        for a nonce the book does not hold."""
        record = self._records.get(nonce)
        if record is not None and record.used_by is None:
            record.used_by = request
            record.used_at = record.issued_at if now is None else now

    def expire(self, now: float) -> None:
        """Drop nonces past their age (they are refused anyway; this frees the memory)."""
        while self._records:
            nonce, record = next(iter(self._records.items()))
            if now - record.issued_at <= self.max_age_s:
                return
            del self._records[nonce]
