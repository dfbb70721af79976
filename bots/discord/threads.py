"""Posting into session threads: rendered messages, throttled edits, delayed archiving."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import discord

from bots.discord.components import build_view
from bots.discord.limits import within_limits
from bots.discord.render import Outgoing

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
THREAD_NAME_LIMIT = 100


async def post(
    channel: discord.abc.Messageable, messages: Sequence[Outgoing]
) -> list[discord.Message]:
    """Send each rendered message, in order, with no pings (split where over a Discord limit)."""
    sent: list[discord.Message] = []
    for message in within_limits(messages):
        view = build_view(message)
        if view is not None:
            posted = await channel.send(
                content=message.content,
                embeds=list(message.embeds),
                view=view,
                allowed_mentions=NO_PINGS,
            )
            # The cog routes every click by custom id; the view need not stay in memory.
            view.stop()
        else:
            posted = await channel.send(
                content=message.content, embeds=list(message.embeds), allowed_mentions=NO_PINGS
            )
        sent.append(posted)
    return sent


async def post_first_as_reply(
    interaction: discord.Interaction, messages: Sequence[Outgoing], *, ephemeral: bool = False
) -> None:
    """The first message answers a deferred slash command; the rest go to its channel."""
    if not messages:
        await interaction.followup.send("Done.", ephemeral=ephemeral)
        return
    first, *rest = within_limits(messages)
    content = first.content or discord.utils.MISSING
    view = build_view(first)
    if view is not None:
        await interaction.followup.send(
            content,
            embeds=list(first.embeds),
            view=view,
            ephemeral=ephemeral,
            allowed_mentions=NO_PINGS,
        )
        view.stop()
    else:
        await interaction.followup.send(
            content, embeds=list(first.embeds), ephemeral=ephemeral, allowed_mentions=NO_PINGS
        )
    channel = interaction.channel
    if rest and isinstance(channel, discord.abc.Messageable):
        await post(channel, rest)


async def post_to_thread(interaction: discord.Interaction, messages: Sequence[Outgoing]) -> None:
    """Post a privately deferred command's results in its thread for everyone, then close the
    private "thinking…" with a short note (errors before this point stay private)."""
    channel = interaction.channel
    if messages and isinstance(channel, discord.abc.Messageable):
        await post(channel, messages)
        await interaction.followup.send("Done — see the thread.", ephemeral=True)
        return
    await post_first_as_reply(interaction, messages, ephemeral=True)


class EditThrottle:
    """At most one message edit per ``interval`` seconds per thread (Discord's edit rate limits
    are per channel; discord.py retries on 429, this keeps us from provoking them)."""

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def run(self, thread_id: int, edit: Callable[[], Awaitable[object]]) -> None:
        lock = self._locks.setdefault(thread_id, asyncio.Lock())
        async with lock:
            wait = self._last.get(thread_id, float("-inf")) + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await edit()
            finally:
                self._last[thread_id] = time.monotonic()
        self._forget_idle()

    def _forget_idle(self) -> None:
        if len(self._last) < 1024:
            return
        cutoff = time.monotonic() - self._interval
        for thread_id in [t for t, at in self._last.items() if at < cutoff]:
            lock = self._locks.get(thread_id)
            if lock is None or not lock.locked():
                self._last.pop(thread_id, None)
                self._locks.pop(thread_id, None)


class Archiver:
    """Archive finished sessions' threads after a delay (best effort: lost on restart)."""

    def __init__(self, http: discord.http.HTTPClient, delay: float) -> None:
        self._http = http
        self._delay = delay
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, thread_id: int) -> None:
        task = asyncio.create_task(self._archive(thread_id), name=f"archive-thread-{thread_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _archive(self, thread_id: int) -> None:
        await asyncio.sleep(self._delay)
        try:
            await self._http.edit_channel(thread_id, archived=True)
        except discord.HTTPException as error:
            log.warning("could not archive thread %s: %s", thread_id, error.status)

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
