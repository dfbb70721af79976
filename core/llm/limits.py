"""Limits on LLM traffic: a sliding-window rate limit, an evaluation cache and the daily budget;
in this process, or shared by every process through Redis when ``REDIS_URL`` is set."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from core.engine.commands import ItemVerdict, Verdict
from core.engine.events import LlmTrace

if TYPE_CHECKING:
    from redis.asyncio import Redis

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


# -- shared across processes (REDIS_URL) and the interfaces the orchestrator uses -----------------


class CallRateLimit(Protocol):
    """At most so many LLM requests per minute: this process's :class:`RateLimiter`, or
    :class:`RedisRateLimiter` shared by every process."""

    async def acquire(self, deadline: float) -> bool: ...


class RedisRateLimiter:
    """:class:`RateLimiter`'s sliding window kept in Redis (a sorted set of send times, on the
    Redis clock), so every process and host together send at most ``per_minute`` requests.

    ``deadline`` is a ``time.monotonic()`` reading, as for :class:`RateLimiter`.
    """

    _SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local window = tonumber(ARGV[2])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
    if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
      redis.call('ZADD', KEYS[1], now, ARGV[3])
      redis.call('PEXPIRE', KEYS[1], window)
      return 0
    end
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + window - now)
    """

    def __init__(self, redis: Redis, key: str, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._key = key
        self._script = redis.register_script(self._SCRIPT)

    async def acquire(self, deadline: float) -> bool:
        while True:
            member = uuid.uuid4().hex
            wait_ms = int(
                await self._script(
                    keys=[self._key], args=[self.per_minute, int(WINDOW_SECONDS * 1000), member]
                )
            )
            if wait_ms == 0:
                return True
            if time.monotonic() + wait_ms / 1000 >= deadline:
                return False
            await asyncio.sleep(wait_ms / 1000)


class VerdictCache(Protocol):
    """Evaluations already made, by (provider, exact model, prompt hash)."""

    async def get(self, key: tuple[str, str, str]) -> Verdict | None: ...

    async def put(self, key: tuple[str, str, str], verdict: Verdict) -> None: ...


class LocalVerdictCache:
    """This process's bounded LRU of verdicts."""

    def __init__(self, capacity: int) -> None:
        self._items: LruCache[tuple[str, str, str], Verdict] = LruCache(capacity)

    async def get(self, key: tuple[str, str, str]) -> Verdict | None:
        return self._items.get(key)

    async def put(self, key: tuple[str, str, str], verdict: Verdict) -> None:
        self._items.put(key, verdict)


class RedisVerdictCache:
    """Verdicts as JSON in Redis, shared by every process, each kept ``ttl_seconds`` (a cache:
    anything unreadable is a miss)."""

    def __init__(self, redis: Redis, prefix: str, *, ttl_seconds: int = 7 * 24 * 3600) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, key: tuple[str, str, str]) -> str:
        return self._prefix + "\x1f".join(key)

    async def get(self, key: tuple[str, str, str]) -> Verdict | None:
        raw = await self._redis.get(self._key(key))
        if raw is None:
            return None
        try:
            return verdict_from_json(raw)
        except (ValueError, TypeError, KeyError):
            return None

    async def put(self, key: tuple[str, str, str], verdict: Verdict) -> None:
        await self._redis.set(self._key(key), verdict_to_json(verdict), ex=self._ttl)


def verdict_to_json(verdict: Verdict) -> str:
    return json.dumps(dataclasses.asdict(verdict), ensure_ascii=False)


def verdict_from_json(raw: str | bytes) -> Verdict:
    data = json.loads(raw)
    trace = data.get("trace")
    return Verdict(
        items=tuple(ItemVerdict(**item) for item in data["items"]),
        feedback=data["feedback"],
        rationale=data["rationale"],
        grader=data["grader"],
        trace=None if trace is None else LlmTrace(**trace),
        flags=tuple(data.get("flags", ())),
        confidence=data.get("confidence"),
        needs_review=bool(data.get("needs_review", False)),
    )


# Money is counted in millionths of a dollar, so Redis adds integers atomically.
MICROS = 1_000_000


class SpentToday(Protocol):
    """What the usage ledger says a learner spent on a day (US dollars)."""

    async def __call__(self, learner_id: str, day: str) -> float: ...


class DailyBudget(Protocol):
    """The per-learner daily LLM budget, checked and reserved in one step so concurrent calls
    cannot all pass the check before any has spent: a call starts only while what the learner
    spent today plus what calls in flight reserved is below the budget."""

    async def reserve(self, learner_id: str, day: str, budget: float) -> bool: ...

    async def settle(self, learner_id: str, day: str, cost: float) -> None:
        """A reserved call finished (or failed) having cost ``cost``: replace its reservation."""
        ...


class LocalDailyBudget:
    """The budget counters of this process (one process: see ``core.store.process_lease``)."""

    def __init__(self, spent_today: SpentToday, *, reserve_usd: float) -> None:
        self._spent_today = spent_today
        self._reserve = round(reserve_usd * MICROS)
        self._counters: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()

    async def reserve(self, learner_id: str, day: str, budget: float) -> bool:
        async with self._lock:
            key = (learner_id, day)
            if key not in self._counters:
                for old in [k for k in self._counters if k[1] != day]:
                    del self._counters[old]  # yesterday's counters
                self._counters[key] = round(await self._spent_today(learner_id, day) * MICROS)
            if self._counters[key] >= round(budget * MICROS):
                return False
            self._counters[key] += self._reserve
            return True

    async def settle(self, learner_id: str, day: str, cost: float) -> None:
        key = (learner_id, day)
        if key in self._counters:
            self._counters[key] += round(cost * MICROS) - self._reserve


class RedisDailyBudget:
    """The budget counters in Redis (spent + reserved, per learner and day), checked and
    reserved by one Lua script; seeded from the usage ledger the first time a day is seen."""

    _RESERVE = """
    if redis.call('EXISTS', KEYS[1]) == 0 then
      redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
    end
    if tonumber(redis.call('GET', KEYS[1])) >= tonumber(ARGV[1]) then
      return 0
    end
    redis.call('INCRBY', KEYS[1], ARGV[2])
    return 1
    """

    def __init__(
        self, redis: Redis, prefix: str, spent_today: SpentToday, *, reserve_usd: float
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._spent_today = spent_today
        self._reserve = round(reserve_usd * MICROS)
        self._script = redis.register_script(self._RESERVE)

    def _key(self, learner_id: str, day: str) -> str:
        return f"{self._prefix}{day}:{learner_id}"

    async def reserve(self, learner_id: str, day: str, budget: float) -> bool:
        key = self._key(learner_id, day)
        seed = 0
        if not await self._redis.exists(key):
            seed = round(await self._spent_today(learner_id, day) * MICROS)
        allowed = await self._script(
            keys=[key], args=[round(budget * MICROS), self._reserve, seed, 2 * 24 * 3600]
        )
        return bool(int(allowed))

    async def settle(self, learner_id: str, day: str, cost: float) -> None:
        await self._redis.incrby(self._key(learner_id, day), round(cost * MICROS) - self._reserve)
