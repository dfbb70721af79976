"""Per-process limits on LLM traffic: a sliding-window rate limit and a bounded evaluation cache."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

WINDOW_SECONDS = 60.0


class RateLimiter:
    """At most ``per_minute`` requests in any 60-second window, in this process.

    :meth:`acquire` waits for a slot, but never past the caller's deadline: when no slot frees up in
    time it returns False at once, so the caller can fall back instead of blocking a learner.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self, deadline: float) -> bool:
        """Take a slot, waiting until one frees up; False when that would pass ``deadline``
        (a ``clock`` reading)."""
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return True
                ready_at = self._sent[0] + WINDOW_SECONDS
                if ready_at >= deadline:
                    return False
                await asyncio.sleep(ready_at - now)


class LruCache(Generic[K, V]):
    """A bounded least-recently-used map (in process; lost on restart, which is fine for a cache)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self.capacity <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
