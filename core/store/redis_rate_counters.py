"""Rate-limit counters in Redis (``REDIS_URL``): shared by every worker and host.

The check and the count are one Lua script, which Redis runs atomically. Keys carry a hash tag so
a window and its predecessor land on the same Redis Cluster slot, and expire two windows after
their own starts. Connection failures become :class:`~core.store.base.StoreUnavailable` (HTTP 503):
a limit that cannot be checked is not waived.
"""

from __future__ import annotations

from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from core.store.base import StoreUnavailable
from core.store.rate_counters import Hit, bucket_of, previous_weight, retry_after

# KEYS: this window's counter, the previous window's. ARGV: limit, weight of the previous window,
# time to live in milliseconds. Returns {allowed, hits in this window before the call, previous}.
TAKE = """
local limit = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * weight + current > limit then
  redis.call('DECR', KEYS[1])
  return {0, current - 1, previous}
end
return {1, current - 1, previous}
"""

GIVE_BACK = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""

UNAVAILABLE = "the rate-limit store (Redis) cannot be reached"


class RedisRateCounters:
    """:class:`~core.store.rate_counters.RateCounters` on Redis, through redis-py's asyncio client."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "curiouscore:rl:") -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(TAKE)
        self._give_back = client.register_script(GIVE_BACK)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "curiouscore:rl:") -> RedisRateCounters:
        """Counters on the Redis server at ``url`` (no I/O until the first call)."""
        client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, prefix=prefix)

    def _key(self, key: str, bucket: int) -> str:
        return f"{self._prefix}{{{key}}}:{bucket}"

    async def take_rate_hit(self, key: str, *, limit: int, window: int, now: float) -> Hit:
        """Count one hit on ``key`` unless that would exceed ``limit`` per ``window`` seconds."""
        bucket = bucket_of(now, window)
        weight = previous_weight(now, window)
        keys = [self._key(key, bucket), self._key(key, bucket - 1)]
        ttl_ms = int(((bucket + 2) * window - now) * 1000) + 1000
        try:
            result: Any = await self._take(keys=keys, args=[limit, repr(weight), ttl_ms])
        except RedisError as error:
            raise StoreUnavailable(UNAVAILABLE) from error
        allowed, before, previous = (int(value) for value in result)
        if allowed:
            return Hit(True, bucket)
        wait = retry_after(previous, before, limit=limit, now=now, window=window)
        return Hit(False, bucket, wait)

    async def give_back_rate_hit(self, key: str, *, window: int, bucket: int) -> None:
        """Undo one hit counted in ``bucket`` (never below zero)."""
        try:
            await self._give_back(keys=[self._key(key, bucket)])
        except RedisError as error:
            raise StoreUnavailable(UNAVAILABLE) from error

    async def aclose(self) -> None:
        await self._client.aclose()
