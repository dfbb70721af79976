"""The discord.py client: intents, sharding, the API base, and the cogs loaded in ``setup_hook``."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import discord
from discord.ext import commands

from bots.common.pushes import follow_pushes
from bots.common.work import WorkTracker
from bots.discord.api import use_gateway_of_api
from bots.discord.delivery import Deliverer
from bots.discord.errors import report_error
from bots.discord.options import DiscordOptions
from bots.discord.threads import PLATFORM as PLATFORM
from bots.discord.threads import Archiver, EditThrottle
from core.bootstrap import Services
from core.store.chat import ChatThread

log = logging.getLogger(__name__)

EXTENSIONS = ("bots.discord.cogs.commands", "bots.discord.cogs.steps")


@dataclass(slots=True)
class BotContext:
    """What the cogs share: the core services and the bot's own options and helpers."""

    services: Services
    options: DiscordOptions
    throttle: EditThrottle
    archiver: Archiver
    api_url: str | None
    deliverer: Deliverer = field(init=False)
    work: WorkTracker = field(default_factory=WorkTracker)
    caught_up: bool = False

    def __post_init__(self) -> None:
        self.deliverer = Deliverer(self.services)


class CuriousBot(commands.Bot):
    """One connection to the gateway (the default)."""

    curious: BotContext

    async def setup_hook(self) -> None:
        await prepare(self)

    async def close(self) -> None:
        await shut_down(self)
        await super().close()


class ShardedCuriousBot(commands.AutoShardedBot):
    """``DISCORD_SHARDS`` set: discord.py's AutoShardedClient over several gateway connections."""

    curious: BotContext

    async def setup_hook(self) -> None:
        await prepare(self)

    async def close(self) -> None:
        await shut_down(self)
        await super().close()


AnyBot = CuriousBot | ShardedCuriousBot


async def shut_down(bot: AnyBot) -> None:
    """Let running actions finish (within ``DISCORD_DRAIN_SECONDS``) before the connection goes;
    what is cut short was recorded and is delivered by the next start's catch-up."""
    context = bot.curious
    await context.work.drain(context.options.drain_seconds)
    await context.deliverer.locks.aclose()


def _our_guild(bot: AnyBot, guild_id: str) -> bool:
    """Whether this process runs the shard of ``guild_id`` (always, unless DISCORD_SHARD_IDS
    splits one bot across processes: each then delivers in its own guilds' threads only)."""
    shard_ids = bot.curious.options.shard_id_list if bot.curious.options.shards else None
    if shard_ids is None or not guild_id.isdigit():
        return True
    return (int(guild_id) >> 22) % int(bot.curious.options.shards or 1) in shard_ids


async def push(bot: AnyBot, thread: ChatThread) -> None:
    """Deliver in ``thread`` what its learner has not seen (after a review, a grade elsewhere)."""
    if not _our_guild(bot, thread.scope_id):
        return
    channel = bot.get_partial_messageable(int(thread.thread_id))
    await bot.curious.deliverer.catch_up(channel, thread.session_id)


async def catch_up(bot: AnyBot) -> None:
    """Deliver, in every unfinished session thread, what the learner has not seen: feedback
    graded while the bot was down, a step whose post failed, a grading cut short by a restart."""
    context = bot.curious
    chat = context.services.chat
    for thread in await chat.unfinished_threads(PLATFORM):
        if context.work.closing:
            return
        try:
            await push(bot, thread)
        except discord.HTTPException as error:
            log.warning("catch-up in thread %s failed: %s", thread.thread_id, error.status)
        except Exception:
            log.exception("catch-up of session %s failed", thread.session_id)


def intents_for(options: DiscordOptions) -> discord.Intents:
    """Slash commands and components need only ``guilds``; thread messages need the privileged
    message-content intent, so they are read only when ``DISCORD_MESSAGE_CONTENT`` is on."""
    intents = discord.Intents.none()
    intents.guilds = True
    if options.message_content:
        intents.guild_messages = True
        intents.message_content = True
    return intents


def create_bot(
    services: Services, options: DiscordOptions | None = None, *, api_url: str | None = None
) -> AnyBot:
    options = options or DiscordOptions()
    common: dict[str, object] = {
        "command_prefix": commands.when_mentioned,
        "intents": intents_for(options),
        "help_command": None,
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    bot: AnyBot
    if options.shards is not None:
        # 0 lets Discord recommend the count (GET /gateway/bot).
        shard_count = options.shards or None
        shard_ids = options.shard_id_list
        if shard_ids is not None:  # with DISCORD_SHARD_IDS each process runs its share
            common["shard_ids"] = shard_ids
        bot = ShardedCuriousBot(shard_count=shard_count, **common)  # type: ignore[arg-type]
    else:
        bot = CuriousBot(**common)  # type: ignore[arg-type]
    bot.curious = BotContext(
        services=services,
        options=options,
        throttle=EditThrottle(options.edit_interval_seconds),
        archiver=Archiver(
            bot.http,
            services.chat,
            options.archive_after_seconds,
            ours=lambda thread: _our_guild(bot, thread.scope_id),
        ),
        api_url=api_url,
    )
    return bot


def context_of(bot: commands.Bot | commands.AutoShardedBot) -> BotContext:
    context = getattr(bot, "curious", None)
    if not isinstance(context, BotContext):
        raise TypeError("the CuriousCore cogs need a bot made by create_bot")
    return context


async def _on_ready(bot: AnyBot) -> None:
    context = bot.curious
    if not context.caught_up:  # READY repeats after a reconnect; once per process is enough
        context.caught_up = True
        context.work.spawn(catch_up(bot), name="discord-catch-up")
        context.work.spawn(
            follow_pushes(
                context.services.chat,
                PLATFORM,
                functools.partial(push, bot),
                context.work,
                interval=context.options.push_interval_seconds,
            ),
            name="discord-pushes",
        )
        context.work.spawn(context.archiver.run(context.work), name="discord-archiver")


async def prepare(bot: AnyBot) -> None:
    """Runs after login, before the gateway connects: gateway address, cogs, command sync."""
    context = bot.curious
    if context.api_url:
        await use_gateway_of_api(bot)
    for extension in EXTENSIONS:
        await bot.load_extension(extension)
    bot.tree.on_error = _on_tree_error  # type: ignore[method-assign]

    async def on_ready() -> None:
        await _on_ready(bot)

    bot.add_listener(on_ready)
    for guild_id in context.options.sync_guilds:
        guild = discord.Object(id=guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
    synced = await bot.tree.sync()
    log.info("discord commands synced: %s", ", ".join(sorted(c.name for c in synced)))


async def _on_tree_error(
    interaction: discord.Interaction, error: discord.app_commands.AppCommandError
) -> None:
    await report_error(interaction, error)
