"""Sending messages: one message per second per channel (Slack's rate), in the order asked.

HTTP 429s are retried by the client itself (``AsyncRateLimitErrorRetryHandler`` honours
``Retry-After``); this pacer keeps us from hitting them in the first place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.render import SlackMessage


class ChannelPacer:
    """At most one send per ``interval`` seconds per channel; sends to a channel are serialised."""

    def __init__(
        self, interval: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    async def turn(self, channel: str) -> asyncio.Lock:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        await lock.acquire()
        wait = self._last.get(channel, float("-inf")) + self._interval - self._monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last[channel] = self._monotonic()
        return lock


class Poster:
    """Posts, updates and ephemeral notices through whichever workspace's client a request has."""

    def __init__(self, pacer: ChannelPacer) -> None:
        self._pacer = pacer

    async def post(
        self,
        client: AsyncWebClient,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Post ``message`` (in ``thread_ts`` when given) and return its ``ts``."""
        lock = await self._pacer.turn(channel)
        try:
            response = await client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
        finally:
            lock.release()
        return str(response["ts"])

    async def post_all(
        self,
        client: AsyncWebClient,
        channel: str,
        messages: list[SlackMessage],
        *,
        thread_ts: str | None = None,
    ) -> None:
        for message in messages:
            await self.post(client, channel, message, thread_ts=thread_ts)

    async def update(
        self, client: AsyncWebClient, channel: str, ts: str, message: SlackMessage
    ) -> None:
        lock = await self._pacer.turn(channel)
        try:
            await client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        finally:
            lock.release()

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
