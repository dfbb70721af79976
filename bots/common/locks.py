"""One delivery at a time per session: in this process, and across processes with ``REDIS_URL``.

A delivery reads the thread's cursor, posts what follows it and records the new cursor; two at once
would post the same entries twice. Within a process an ``asyncio.Lock`` per session serialises them.
With ``REDIS_URL`` (several Slack workers, Discord shards in several processes, all following the
event log) a Redis lock per session is held as well: ``SET NX PX`` with a random token, released
only by its holder (compare-and-delete), expiring after ``ttl`` seconds so that a killed process
never blocks a thread for good. If Redis fails, delivery goes on with the process lock alone (a
rare duplicate post is better than a stranded learner).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "curiouscore:chat:deliver:"
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class DeliveryLocks:
    def __init__(self, redis: Redis | None = None, *, ttl: float = 60.0, prefix: str = PREFIX):
        self._local: dict[str, asyncio.Lock] = {}
        self._redis = redis
        self._ttl_ms = int(ttl * 1000)
        self._prefix = prefix
        self._release = redis.register_script(_RELEASE) if redis is not None else None

    @classmethod
    def from_url(cls, url: str | None, **kwargs: float) -> DeliveryLocks:
        if not url:
            return cls()
        redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(redis, ttl=kwargs.get("ttl", 60.0))

    @asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        lock = self._local.setdefault(session_id, asyncio.Lock())
        async with lock:
            token = await self._acquire(session_id)
            try:
                yield
            finally:
                await self._give_back(session_id, token)

    async def _acquire(self, session_id: str) -> str | None:
        if self._redis is None:
            return None
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._ttl_ms / 1000
        try:
            while not await self._redis.set(
                self._prefix + session_id, token, nx=True, px=self._ttl_ms
            ):
                if time.monotonic() > deadline:
                    log.warning("delivery lock of %s not released in time; going on", session_id)
                    return None
                await asyncio.sleep(0.05)
        except RedisError as error:
            log.warning("Redis delivery lock unavailable (%s); process lock only", error)
            return None
        return token

    async def _give_back(self, session_id: str, token: str | None) -> None:
        if token is None or self._release is None:
            return
        try:
            await self._release(keys=[self._prefix + session_id], args=[token])
        except RedisError as error:
            log.warning("could not release the delivery lock of %s: %s", session_id, error)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
