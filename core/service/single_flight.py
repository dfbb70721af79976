"""One pending LLM request, one call: concurrent readers of a session share the work in flight.

A chat answer waits for its grade in the stream; anything that reads the session meanwhile (the
learner's second message, a status command, the bot's own delivery) would otherwise grade it
again. Calls with the same key share one running coroutine; the result is recorded once by the
engine's expected-version rule, whoever appends first.

:class:`SharedLock` is the same guard across processes (Redis): the chat bots hold it, keyed by
:func:`pending_key`, while they settle a session's pending work, so several bot processes call the
LLM (or the sandbox) once per pending answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.engine import SessionState

log = logging.getLogger(__name__)

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Run ``work`` once per key at a time; callers arriving meanwhile await the same result."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable | None, work: Callable[[], Awaitable[T]]) -> T:
        if key is None:
            return await work()
        while (running := self._running.get(key)) is not None:
            await asyncio.wait([running])
            if not running.cancelled():
                return running.result()
            # The first caller was cancelled (e.g. its process is shutting down): run it here.
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._running.pop(key, None)

    @property
    def in_flight(self) -> int:
        return len(self._running)


def pending_key(state: SessionState) -> tuple[str, str, str, int] | None:
    """What LLM work ``state`` waits for, as a key (None when it waits for nothing)."""
    current = state.current
    if current is None:
        return None
    if current.pending_attempt is not None:
        return (state.session_id, current.step_id, "grade", current.pending_attempt)
    if current.pending_hint is not None:
        return (state.session_id, current.step_id, "hint", current.pending_hint)
    if current.narrate and not current.narrated:
        return (state.session_id, current.step_id, "narrate", 0)
    return None


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SharedLock:
    """Named locks held across processes in Redis: ``SET NX PX`` with a random token, released
    only by their holder (compare-and-delete) and expiring after ``ttl`` seconds, so a killed
    process never holds one for good. Redis failing never blocks the work: :meth:`acquire` then
    answers None (the caller goes on, guarded only in process)."""

    def __init__(self, redis: Redis, *, prefix: str, ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl * 1000))
        self._release = redis.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str, ttl: float) -> SharedLock:
        redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(redis, prefix=prefix, ttl=ttl)

    async def acquire(self, name: str) -> str | None:
        """Wait (at most the lock's ``ttl``) until ``name`` is free, take it and return its token;
        None if Redis failed or the wait ran out."""
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._ttl_ms / 1000
        try:
            while not await self._redis.set(self._prefix + name, token, nx=True, px=self._ttl_ms):
                if time.monotonic() > deadline:
                    log.warning("shared lock %s not released in time; going on", name)
                    return None
                await asyncio.sleep(0.05)
        except RedisError as error:
            log.warning("Redis lock unavailable (%s); guarded in process only", error)
            return None
        return token

    async def release(self, name: str, token: str | None) -> None:
        if token is None:
            return
        try:
            await self._release(keys=[self._prefix + name], args=[token])
        except RedisError as error:
            log.warning("could not release the shared lock %s: %s", name, error)

    async def aclose(self) -> None:
        await self._redis.aclose()
