"""Posting into session threads: rendered messages, throttled edits, delayed archiving."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import discord

from bots.common.work import WorkTracker
from bots.discord.components import build_view
from bots.discord.limits import within_limits
from bots.discord.render import Outgoing
from core.service.chat import ChatService
from core.store.chat import ChatThread

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
THREAD_NAME_LIMIT = 100
PLATFORM = "discord"


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
    """Archive finished sessions' threads after a delay. The due time is kept in the database
    (``ChatService.schedule_archive``), so a restart does not lose it: :meth:`run` archives
    whatever is due, including timers set by an earlier run or another process."""

    def __init__(
        self,
        http: discord.http.HTTPClient,
        chat: ChatService,
        delay: float,
        *,
        ours: Callable[[ChatThread], bool] = lambda thread: True,
    ) -> None:
        self._http = http
        self._chat = chat
        self._delay = delay
        self._ours = ours

    async def schedule(self, session_id: str) -> None:
        await self._chat.schedule_archive(session_id, self._delay)

    @property
    def poll_seconds(self) -> float:
        return min(5.0, max(0.05, self._delay / 2))

    async def run(self, work: WorkTracker) -> None:
        """Until shutdown: archive the threads that are due, then wait for the next check."""
        while not work.closing:
            try:
                await self.archive_due()
            except Exception:
                log.exception("archiving due threads failed; trying again")
            await work.pause(self.poll_seconds)

    async def archive_due(self) -> None:
        for thread in await self._chat.due_archives(PLATFORM):
            if not self._ours(thread):
                continue
            try:
                await self._http.edit_channel(int(thread.thread_id), archived=True)
            except discord.HTTPException as error:
                # Deleted, or no permission: archiving is best effort, never retried forever.
                log.warning("could not archive thread %s: %s", thread.thread_id, error.status)
            await self._chat.archive_done(thread.session_id)
