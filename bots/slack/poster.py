"""Sending messages: paced per channel as Slack limits them, retried on 429 within a deadline.

Slack limits ``chat.postMessage`` to about one message per second per channel, with short bursts
allowed; a token bucket per channel lets a burst through and then spaces posts, and the sessions
waiting in a channel take turns (round robin, not first come first served). Edits
(``chat.update``, a Tier 3 method) are paced by buckets of their own, never with posts. With
``REDIS_URL`` the buckets live in Redis, so every process shares a channel's budget; otherwise
they are in process. A 429 is retried after its ``Retry-After`` — by the client (three times) and
then here until ``retry_deadline``; after that the post is left for the next delivery, which sends
everything the thread has not shown (the per-thread delivery cursor).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.slack.render import SlackMessage

log = logging.getLogger(__name__)

PACE_PREFIX = "curiouscore:slack:pace:"
# chat.update is a Web API Tier 3 method (about 50 a minute): paced apart from posts.
EDIT_INTERVAL = 1.2
EDIT_BURST = 20


class DeliveryDeferred(Exception):
    """Slack kept answering 429 past the deadline: what was not posted is delivered later."""


class TokenBuckets(Protocol):
    """One token bucket per key: ``burst`` tokens, refilled one per ``interval`` seconds."""

    async def take(self, key: str) -> float:
        """Take a token: 0 when taken, else the seconds until the next one is due (none taken)."""
        ...

    async def aclose(self) -> None: ...


class LocalBuckets:
    """Token buckets in this process (the default, without ``REDIS_URL``)."""

    def __init__(
        self,
        interval: float,
        burst: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._burst = max(1, burst)
        self._monotonic = monotonic
        self._tokens: dict[str, tuple[float, float]] = {}

    async def take(self, key: str) -> float:
        now = self._monotonic()
        tokens, at = self._tokens.get(key, (float(self._burst), now))
        if self._interval > 0:
            tokens = min(float(self._burst), tokens + (now - at) / self._interval)
        else:
            tokens = float(self._burst)
        if tokens >= 1:
            self._tokens[key] = (tokens - 1, now)
            return 0.0
        self._tokens[key] = (tokens, now)
        return (1 - tokens) * self._interval

    async def aclose(self) -> None:
        self._tokens.clear()


# A token bucket in one Redis hash, on Redis's own clock: every process shares the channel's budget.
_TAKE = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if interval > 0 then tokens = math.min(burst, tokens + (now - at) / interval) else tokens = burst end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * interval) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(interval * burst) + 60000)
return wait
"""


class RedisBuckets:
    """Token buckets shared by every process through Redis (with ``REDIS_URL``). If Redis fails,
    this process falls back to its own buckets (Slack's 429s, retried, stay the backstop)."""

    def __init__(
        self, client: Redis, interval: float, burst: int = 1, prefix: str = PACE_PREFIX
    ) -> None:
        self._client = client
        self._interval_ms = max(0.0, interval * 1000)
        self._burst = max(1, burst)
        self._prefix = prefix
        self._script = client.register_script(_TAKE)
        self._fallback = LocalBuckets(interval, burst)

    @classmethod
    def from_url(
        cls, url: str, interval: float, burst: int = 1, prefix: str = PACE_PREFIX
    ) -> RedisBuckets:
        client = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, interval, burst, prefix)

    async def take(self, key: str) -> float:
        try:
            wait_ms = await self._script(
                keys=[self._prefix + key], args=[self._interval_ms, self._burst]
            )
        except RedisError as error:
            log.warning("Redis pacing unavailable (%s); pacing in this process", error)
            return await self._fallback.take(key)
        return float(wait_ms) / 1000

    async def aclose(self) -> None:
        await self._client.aclose()


class ChannelPacer:
    """Posts to one channel wait for a token of its bucket (``burst`` at once, then one per
    ``interval`` seconds); the sessions waiting in a channel take turns (round robin), so one
    learner's many messages never hold back another learner's next step."""

    def __init__(
        self,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        burst: int = 1,
        buckets: TokenBuckets | None = None,
    ) -> None:
        self._buckets = buckets or LocalBuckets(interval, burst, monotonic)
        self._waiting: dict[str, OrderedDict[str, deque[asyncio.Future[None]]]] = {}
        self._dispatchers: dict[str, asyncio.Task[None]] = {}

    async def turn(self, channel: str, session: str = "") -> None:
        """Wait for this channel's next post slot, in turn with the other sessions waiting."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(channel, OrderedDict()).setdefault(session, deque()).append(future)
        if channel not in self._dispatchers:
            self._dispatchers[channel] = asyncio.create_task(
                self._dispatch(channel), name=f"slack-pace-{channel}"
            )
        await future

    def _next(self, channel: str) -> asyncio.Future[None] | None:
        """The next live waiter, round robin across sessions (dropping cancelled ones)."""
        sessions = self._waiting.get(channel)
        while sessions:
            session, waiters = next(iter(sessions.items()))
            while waiters and waiters[0].done():
                waiters.popleft()
            if waiters:
                return waiters[0]
            del sessions[session]
        return None

    async def _dispatch(self, channel: str) -> None:
        try:
            while (future := self._next(channel)) is not None:
                wait = await self._buckets.take(channel)
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                sessions = self._waiting[channel]
                session, waiters = next(iter(sessions.items()))
                if waiters and waiters[0] is future:
                    waiters.popleft()
                del sessions[session]
                if waiters:
                    sessions[session] = waiters  # its next message waits behind the others
                if not future.done():
                    future.set_result(None)
        finally:
            self._dispatchers.pop(channel, None)
            if not self._waiting.get(channel):
                self._waiting.pop(channel, None)

    async def aclose(self) -> None:
        for task in list(self._dispatchers.values()):
            task.cancel()
        await self._buckets.aclose()


def _retry_after(error: SlackApiError) -> float | None:
    response = error.response
    if getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", {}) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return 1.0


class Poster:
    """Posts, updates and ephemeral notices through whichever workspace's client a request has."""

    def __init__(
        self,
        pacer: ChannelPacer,
        *,
        edits: ChannelPacer | None = None,
        retry_deadline: float = 30.0,
    ) -> None:
        self._pacer = pacer
        self._edits = edits or ChannelPacer(EDIT_INTERVAL, burst=EDIT_BURST)
        self._retry_deadline = retry_deadline

    async def aclose(self) -> None:
        await self._pacer.aclose()
        await self._edits.aclose()

    async def _retrying(
        self, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        deadline = time.monotonic() + self._retry_deadline
        while True:
            try:
                return await call()
            except SlackApiError as error:
                wait = _retry_after(error)
                if wait is None:
                    raise
                if time.monotonic() + wait > deadline:
                    raise DeliveryDeferred("Slack is rate limiting this channel") from error
                await asyncio.sleep(wait)

    async def post(
        self,
        client: AsyncWebClient,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Post ``message`` (in ``thread_ts`` when given) and return its ``ts``."""

        async def send() -> AsyncSlackResponse:
            await self._pacer.turn(channel, thread_ts or "")
            return await client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )

        response = await self._retrying(send)
        return str(response["ts"])

    async def post_all(
        self,
        client: AsyncWebClient,
        channel: str,
        messages: list[SlackMessage],
        *,
        thread_ts: str | None = None,
    ) -> list[str]:
        return [await self.post(client, channel, m, thread_ts=thread_ts) for m in messages]

    async def update(
        self, client: AsyncWebClient, channel: str, ts: str, message: SlackMessage
    ) -> None:
        """Edit a message: paced apart from posts (edits do not count against a channel's one
        post a second; ``chat.update`` has its own, higher limit)."""

        async def send() -> AsyncSlackResponse:
            await self._edits.turn(channel, ts)
            return await client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )

        await self._retrying(send)

    async def ephemeral(
        self,
        client: AsyncWebClient,
        channel: str,
        user: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
    ) -> None:
        await client.chat_postEphemeral(
            channel=channel,
            user=user,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread_ts,
        )

    async def permalink(self, client: AsyncWebClient, channel: str, ts: str) -> str | None:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)
        link = response.get("permalink")
        return str(link) if link else None
