"""Session change notifications across processes: PostgreSQL LISTEN/NOTIFY or Redis pub/sub.

Publishing never blocks the write path: changes are collected per session (newest version wins)
and sent by a background task, in one round trip per batch. Each process listens on one channel
(only once something subscribes) and hands what arrives to its
:class:`core.service.session_changes.LocalChanges`. A notification is only a prompt to re-read
(see that module), so one lost while a connection is re-made costs at most a heartbeat's delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import make_url

from core.service.session_changes import LocalChanges, Subscription

log = logging.getLogger(__name__)

PG_CHANNEL = "curiouscore_sessions"
RECONNECT_SECONDS = 1.0


def _payload(session_id: str, version: int) -> str:
    return f"{version}:{session_id}"


def _parse(payload: str) -> tuple[str, int] | None:
    version, _, session_id = payload.partition(":")
    if not session_id or not version.isdigit():
        return None
    return session_id, int(version)


class _BatchingFeed:
    """What both feeds share: the local hub, the outbox and its sender task."""

    def __init__(self) -> None:
        self.local = LocalChanges()
        self._outbox: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def publish(self, session_id: str, version: int) -> None:
        self._outbox[session_id] = max(version, self._outbox.get(session_id, 0))
        self._wake.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_forever())

    @asynccontextmanager
    async def subscription(self, session_id: str, *topics: str) -> AsyncIterator[Subscription]:
        if self._listener is None or self._listener.done():
            self._listening.clear()
            self._listener = asyncio.get_running_loop().create_task(self._listen_forever())
        async with self.local.subscription(session_id, *topics) as subscription:
            # Subscribed before the listener is up would miss a change made meanwhile; the
            # subscriber reads the session once after this anyway, so only wait briefly.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), 5)
            yield subscription

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        for task in (self._sender, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._flush()
        await self._disconnect()

    async def _flush(self) -> None:
        """Send what is still waiting, once: a short-lived process (``curiouscore admin
        promote``, which ends the learner's sign-ins) publishes and closes at once."""
        batch, self._outbox = self._outbox, {}
        if not batch:
            return
        try:
            await asyncio.wait_for(self._send([_payload(s, v) for s, v in batch.items()]), 5)
        except Exception as error:
            log.warning("change notification not sent", extra={"error": type(error).__name__})

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, {}
            if not batch:
                continue
            try:
                await self._send([_payload(s, v) for s, v in batch.items()])
            except Exception as error:  # a lost notification costs a heartbeat's delay
                log.warning("change notification not sent", extra={"error": type(error).__name__})
                await self._disconnect()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except Exception as error:
                log.warning("change listener lost", extra={"error": type(error).__name__})
            self._listening.clear()
            await asyncio.sleep(RECONNECT_SECONDS)

    def _received(self, payload: str) -> None:
        parsed = _parse(payload)
        if parsed is not None:
            self.local.deliver(*parsed)

    async def _send(self, payloads: list[str]) -> None:
        raise NotImplementedError

    async def _listen(self) -> None:
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError


class PostgresChanges(_BatchingFeed):
    """LISTEN/NOTIFY on the deployment's PostgreSQL (two connections per process at most)."""

    def __init__(self, database_url: str, *, channel: str = PG_CHANNEL) -> None:
        super().__init__()
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
        self._channel = channel
        self._sending: Any = None

    async def _send(self, payloads: list[str]) -> None:
        import asyncpg

        if self._sending is None or self._sending.is_closed():
            self._sending = await asyncpg.connect(self._dsn)
        await self._sending.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", self._channel, payloads
        )

    async def _listen(self) -> None:
        import asyncpg

        connection = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(
                self._channel, lambda _c, _pid, _ch, payload: self._received(payload)
            )
            self._listening.set()
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def _disconnect(self) -> None:
        if self._sending is not None:
            with contextlib.suppress(Exception):
                await self._sending.close(timeout=2)
            self._sending = None


# A publisher trusts its last look at the "someone listens" key for CHECK_SECONDS; a process that
# starts listening sets the key, then waits that long plus GATE_MARGIN_SECONDS before its
# subscribers count on it, so every publisher has looked again by then (see RedisChanges).
CHECK_SECONDS = 0.25
GATE_MARGIN_SECONDS = 0.25
LISTENING_TTL_MS = 30_000
LISTENING_REFRESH_SECONDS = 10.0


class RedisChanges(_BatchingFeed):
    """Redis pub/sub on one channel (``REDIS_KEY_PREFIX`` + ``sessions``).

    Nothing is published while no process listens (no stream is open anywhere): every listening
    process keeps ``<channel>:listening`` alive (a TTL it refreshes), and a publisher looks at it
    at most every ``CHECK_SECONDS`` instead of sending a PUBLISH per append that nobody receives.
    A listener waits longer than ``check_seconds`` after setting the key before its subscribers
    read the session: a change skipped on a stale look was decided before the key could be seen,
    so it was stored before that first read, which sees it.
    """

    def __init__(
        self, redis_url: str, *, channel: str, check_seconds: float = CHECK_SECONDS
    ) -> None:
        super().__init__()
        from redis import asyncio as aioredis

        self._redis = aioredis.Redis.from_url(redis_url, socket_connect_timeout=5)
        self._channel = channel
        self._listening_key = f"{channel}:listening"
        self._check_seconds = check_seconds
        self._checked_at = float("-inf")  # monotonic seconds of the last look
        self._someone_listens = False
        self.batches_sent = 0
        self.batches_skipped = 0  # nobody listened

    async def _send(self, payloads: list[str]) -> None:
        if not await self._anyone_listening():
            self.batches_skipped += 1
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.publish(self._channel, payload)
            await pipe.execute()
        self.batches_sent += 1

    async def _anyone_listening(self) -> bool:
        now = time.monotonic()  # taken before asking, so the answer is at least this fresh
        if now - self._checked_at >= self._check_seconds:
            self._someone_listens = bool(await self._redis.exists(self._listening_key))
            self._checked_at = now
        return self._someone_listens

    async def _listen(self) -> None:
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self._channel)
            await self._redis.set(self._listening_key, b"1", px=LISTENING_TTL_MS)
            refresher = asyncio.get_running_loop().create_task(self._keep_listening())
            try:
                await asyncio.sleep(self._check_seconds + GATE_MARGIN_SECONDS)
                self._listening.set()
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self._received(data.decode("utf-8", "replace"))
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher

    async def _keep_listening(self) -> None:
        """Refresh the listening key while subscribed; it expires once no process refreshes it."""
        while True:
            await asyncio.sleep(LISTENING_REFRESH_SECONDS)
            try:
                await self._redis.set(self._listening_key, b"1", px=LISTENING_TTL_MS)
            except Exception as error:  # the listener's own reconnect handles a lost Redis
                log.warning(
                    "change listener key not refreshed", extra={"error": type(error).__name__}
                )

    async def _disconnect(self) -> None:
        return None

    async def aclose(self) -> None:
        await super().aclose()
        await self._redis.aclose()
