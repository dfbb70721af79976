"""Shared counters for rate limits: check and count in one atomic step.

Each limit is a sliding-window counter (two fixed windows, the previous one weighted by how much of
it still overlaps the sliding window). ``take`` counts a hit only when the estimate stays within the
limit, and does both in one atomic step of the backing store, so concurrent callers can never all
pass a check that only one of them should. ``give_back`` undoes a hit (a sign-in that turned out to
succeed is not a failure). Three implementations: in-process (one process only), the database
(every worker and host that shares it) and Redis.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

MAX_MEMORY_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Hit:
    """The outcome of ``take``: allowed (and counted in ``bucket``) or refused for ``retry_after`` s."""

    allowed: bool
    bucket: int
    retry_after: int = 0


class RateCounters(Protocol):
    """Atomic sliding-window counters keyed by opaque strings (callers hash personal data)."""

    async def take_rate_hit(self, key: str, *, limit: int, window: int, now: float) -> Hit:
        """Count one hit on ``key`` unless that would exceed ``limit`` per ``window`` seconds."""
        ...

    async def give_back_rate_hit(self, key: str, *, window: int, bucket: int) -> None:
        """Undo one hit that ``take_rate_hit`` counted in ``bucket`` (never below zero)."""
        ...


def bucket_of(now: float, window: int) -> int:
    """The fixed window ``now`` falls in."""
    return math.floor(now / window)


def previous_weight(now: float, window: int) -> float:
    """How much of the previous fixed window the sliding window ending at ``now`` still covers."""
    elapsed = now - bucket_of(now, window) * window
    return max(0.0, 1.0 - elapsed / window)


def within(previous: int, current: int, *, limit: int, weight: float) -> bool:
    """Whether ``current`` hits in this window (this one included) keep the estimate in bounds."""
    return previous * weight + current <= limit


def retry_after(previous: int, current: int, *, limit: int, now: float, window: int) -> int:
    """Seconds until one more hit fits, given the counts before the refused one."""
    elapsed = now - bucket_of(now, window) * window
    room = limit - current - 1
    if room >= 0 and previous > 0:
        # Within this window, once the previous window's weight has decayed enough.
        wait = window * (1 - room / previous) - elapsed
    else:
        # In the next window, where this window's hits become the weighted previous ones.
        wait = (window - elapsed) + (window * (1 - (limit - 1) / current) if current else 0.0)
    return max(1, math.ceil(wait))


class MemoryRateCounters:
    """In-process counters: right only when one process serves every request (the embedded
    default). No ``await`` between the check and the count, so the event loop cannot interleave
    two callers. Memory is bounded by evicting the least recently used keys."""

    def __init__(self, max_keys: int = MAX_MEMORY_KEYS) -> None:
        self._counts: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._max_keys = max_keys

    async def take_rate_hit(self, key: str, *, limit: int, window: int, now: float) -> Hit:
        bucket = bucket_of(now, window)
        previous = self._counts.get((key, bucket - 1), 0)
        current = self._counts.get((key, bucket), 0)
        if not within(previous, current + 1, limit=limit, weight=previous_weight(now, window)):
            wait = retry_after(previous, current, limit=limit, now=now, window=window)
            return Hit(False, bucket, wait)
        self._counts[(key, bucket)] = current + 1
        self._counts.move_to_end((key, bucket))
        while len(self._counts) > self._max_keys:
            self._counts.popitem(last=False)
        return Hit(True, bucket)

    async def give_back_rate_hit(self, key: str, *, window: int, bucket: int) -> None:
        count = self._counts.get((key, bucket), 0)
        if count > 1:
            self._counts[(key, bucket)] = count - 1
        elif count == 1:
            del self._counts[(key, bucket)]

    async def aclose(self) -> None:
        self._counts.clear()
