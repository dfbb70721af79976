"""In-process sliding-window rate limits for sign-in and registration (per client IP and per email).

Per process: behind several API instances each keeps its own windows, which still bounds guessing
per instance. Memory is bounded by evicting the least recently used keys.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from core.config import Settings
from core.errors import RateLimited

MAX_KEYS = 50_000
TOO_MANY = "too many attempts; please wait a little and try again"


class SlidingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        hits = self._prune(key)
        if hits is None or len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[0] + self.window - self._clock()))

    def hit(self, key: str) -> None:
        hits = self._prune(key)
        if hits is None:
            hits = self._hits[key] = deque()
        hits.append(self._clock())
        self._hits.move_to_end(key)
        while len(self._hits) > MAX_KEYS:
            self._hits.popitem(last=False)

    def check(self, key: str) -> None:
        """Raise ``RateLimited`` when ``key`` is over its limit."""
        wait = self.retry_after(key)
        if wait is not None:
            raise RateLimited(TOO_MANY, wait)

    def _prune(self, key: str) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        horizon = self._clock() - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits


class AuthRateLimits:
    """Login: every attempt counts per IP, failures count per email. Register: per IP and email."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        per_minute = settings.login_rate_limit_per_minute
        per_hour = settings.register_rate_limit_per_hour
        self.login_ip = SlidingWindow(per_minute, 60, clock=clock)
        self.login_email = SlidingWindow(per_minute, 60, clock=clock)
        self.register_ip = SlidingWindow(per_hour, 3600, clock=clock)
        self.register_email = SlidingWindow(per_hour, 3600, clock=clock)

    def before_login(self, ip: str, email: str) -> None:
        self.login_ip.check(ip)
        self.login_email.check(_key(email))
        self.login_ip.hit(ip)

    def login_failed(self, email: str) -> None:
        self.login_email.hit(_key(email))

    def before_register(self, ip: str, email: str) -> None:
        self.register_ip.check(ip)
        self.register_email.check(_key(email))
        self.register_ip.hit(ip)
        self.register_email.hit(_key(email))


def _key(email: str) -> str:
    return email.strip().lower()
