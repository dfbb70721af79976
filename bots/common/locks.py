"""One delivery at a time per session: in this process, and across processes with ``REDIS_URL``.

A delivery reads the thread's cursor, posts what follows it and records the new cursor; two at once
would post the same entries twice. Within a process an ``asyncio.Lock`` per session serialises them.
With ``REDIS_URL`` (several Slack workers, Discord shards in several processes, all following the
event log) a :class:`~core.service.single_flight.SharedLock` per session is held as well, expiring
after ``ttl`` seconds so that a killed process never blocks a thread for good. If Redis fails,
delivery goes on with the process lock alone (a rare duplicate post beats a stranded learner).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.bootstrap import Services
from core.service.single_flight import SharedLock

PREFIX = "curiouscore:chat:deliver:"
GRADING_PREFIX = "curiouscore:chat:grading:"


class DeliveryLocks:
    def __init__(
        self, shared: SharedLock | None = None, *, gradings: SharedLock | None = None
    ) -> None:
        self._local: dict[str, asyncio.Lock] = {}
        self._shared = shared
        self._gradings = gradings

    @classmethod
    def for_services(cls, services: Services, *, ttl: float = 60.0) -> DeliveryLocks:
        """In process only, or with ``REDIS_URL`` shared: deliveries, and (given to core's
        ``ChatService``) the settling of each pending answer, held while its LLM call or code run
        may last."""
        settings = services.settings
        if not settings.redis_url:
            return cls()
        url = settings.redis_url.get_secret_value()
        gradings = SharedLock.from_url(
            url, prefix=GRADING_PREFIX, ttl=2 * settings.llm_timeout_seconds + 15
        )
        services.chat.share_gradings(gradings)
        return cls(SharedLock.from_url(url, prefix=PREFIX, ttl=ttl), gradings=gradings)

    @asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        async with self._local.setdefault(session_id, asyncio.Lock()):
            token = await self._shared.acquire(session_id) if self._shared else None
            try:
                yield
            finally:
                if self._shared is not None:
                    await self._shared.release(session_id, token)

    async def aclose(self) -> None:
        for lock in (self._shared, self._gradings):
            if lock is not None:
                await lock.aclose()
