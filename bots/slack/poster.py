"""Sending messages: paced per channel as Slack limits them, retried on 429 within a deadline.

Slack limits ``chat.postMessage`` to about one message per second per channel, with short bursts
allowed; a token bucket per channel lets a burst through and then spaces posts, first come first
served, so that sessions sharing a channel take turns. Edits (``chat.update``) are not limited
per channel and are not paced with posts. A 429 is retried after its ``Retry-After`` — by the
client (three times) and then here until ``retry_deadline``; after that the post is left for the
next delivery, which sends everything the thread has not shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.slack.render import SlackMessage


class DeliveryDeferred(Exception):
    """Slack kept answering 429 past the deadline: what was not posted is delivered later."""


class ChannelPacer:
    """A token bucket per channel: ``burst`` posts at once, then one per ``interval`` seconds.

    Posts to one channel are serialised in arrival order (fair across sessions).
    """

    def __init__(
        self,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        burst: int = 1,
    ) -> None:
        self._interval = interval
        self._burst = max(1, burst)
        self._monotonic = monotonic
        self._locks: dict[str, asyncio.Lock] = {}
        self._tokens: dict[str, tuple[float, float]] = {}

    def _refilled(self, channel: str) -> float:
        now = self._monotonic()
        tokens, at = self._tokens.get(channel, (float(self._burst), now))
        if self._interval > 0:
            tokens = min(float(self._burst), tokens + (now - at) / self._interval)
        else:
            tokens = float(self._burst)
        self._tokens[channel] = (tokens, now)
        return tokens

    async def turn(self, channel: str) -> asyncio.Lock:
        """Wait for this channel's turn; the caller releases the returned lock once it posted."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        await lock.acquire()
        tokens = self._refilled(channel)
        if tokens < 1:
            await asyncio.sleep((1 - tokens) * self._interval)
            tokens = self._refilled(channel)
        self._tokens[channel] = (max(0.0, tokens - 1), self._monotonic())
        return lock


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

    def __init__(self, pacer: ChannelPacer, *, retry_deadline: float = 30.0) -> None:
        self._pacer = pacer
        self._retry_deadline = retry_deadline

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
            lock = await self._pacer.turn(channel)
            try:
                return await client.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            finally:
                lock.release()

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
        """Edit a message (not paced with posts: Slack does not limit edits per channel)."""

        async def send() -> AsyncSlackResponse:
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
