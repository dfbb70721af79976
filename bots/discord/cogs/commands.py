"""Slash commands: /challenges, /play, /hint, /status, /leaderboard, /link, /abandon.

Each one defers first (Discord allows 3 seconds), then calls one service function, then renders.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bots.discord.bot import PLATFORM, BotContext, context_of
from bots.discord.errors import NotHere, acknowledge
from bots.discord.render import (
    autocomplete_choices,
    challenges_embed,
    leaderboard_embed,
    profile_embed,
    session_messages,
    status_embed,
)
from bots.discord.text import clip, untrusted
from bots.discord.threads import (
    NO_PINGS,
    THREAD_NAME_LIMIT,
    post,
)
from core.service.actor import Actor
from core.service.chat import ChatAction, TurnResult
from core.store.chat import ChatThread

log = logging.getLogger(__name__)


class SessionCommands(commands.Cog):
    def __init__(self, bot: commands.Bot, context: BotContext) -> None:
        self.bot = bot
        self.context = context
        self.services = context.services

    # -- catalogue and learners ----------------------------------------------------------------

    @app_commands.command(name="challenges", description="List the challenges you can play.")
    async def challenges(self, interaction: discord.Interaction) -> None:
        if not await acknowledge(interaction, thinking=True):
            return
        summaries = await self.services.catalog.summaries()
        await interaction.followup.send(
            embed=challenges_embed(summaries), allowed_mentions=NO_PINGS
        )

    @app_commands.command(name="leaderboard", description="The learners with the most XP.")
    async def leaderboard(self, interaction: discord.Interaction) -> None:
        if not await acknowledge(interaction, thinking=True):
            return
        entries = await self.services.learners.leaderboard(10)
        await interaction.followup.send(embed=leaderboard_embed(entries), allowed_mentions=NO_PINGS)

    @app_commands.command(name="link", description="Link this Discord account to your web account.")
    @app_commands.describe(
        code="The one-time code from the web app (Profile → Link a chat account)."
    )
    async def link(self, interaction: discord.Interaction, code: str) -> None:
        if not await acknowledge(interaction, ephemeral=True, thinking=True):
            return
        if not await self._first(interaction):
            return
        learner = await self.services.accounts.link(PLATFORM, str(interaction.user.id), code)
        await interaction.followup.send(
            f"Linked: you now play as **{untrusted(learner.display_name)}**, "
            "with the same XP and history on the web and here.",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    # -- sessions -------------------------------------------------------------------------------

    @app_commands.command(name="play", description="Start (or resume) a challenge in a thread.")
    @app_commands.describe(challenge="The challenge to play.")
    async def play(self, interaction: discord.Interaction, challenge: str) -> None:
        if not await acknowledge(interaction, ephemeral=True, thinking=True):
            return
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            channel = channel.parent
        if interaction.guild is None or not isinstance(channel, discord.TextChannel):
            raise NotHere(
                "Use /play in a text channel of a server: each session gets a thread there."
            )
        if not await self._first(interaction):
            return
        actor = await self._actor(interaction)
        start = await self.services.chat.play(actor, challenge)
        view = start.view
        if start.thread is not None:
            resumed = self.bot.get_partial_messageable(int(start.thread.thread_id))
            try:
                await post(resumed, session_messages(view))
            except (discord.NotFound, discord.Forbidden) as error:
                # The thread was deleted (or we lost access): the session continues in a new one.
                log.info("session thread %s is gone (%s)", start.thread.thread_id, error.status)
            else:
                await self.context.deliverer.catch_up(resumed, view.session_id)
                await interaction.followup.send(
                    f"You already have **{untrusted(view.title)}** in progress: carry on in "
                    f"<#{start.thread.thread_id}>.",
                    ephemeral=True,
                )
                return
        private = self.context.options.private_in(interaction.guild.id)
        thread = await channel.create_thread(
            name=clip(f"{view.title} · {interaction.user.display_name}", THREAD_NAME_LIMIT),
            type=discord.ChannelType.private_thread
            if private
            else discord.ChannelType.public_thread,
            invitable=not private,  # only moderators add people to a private session
            auto_archive_duration=1440,
        )
        await thread.add_user(interaction.user)
        binding = ChatThread(
            platform=PLATFORM,
            scope_id=str(interaction.guild.id),
            thread_id=str(thread.id),
            channel_id=str(channel.id),
            session_id=view.session_id,
            learner_id=actor.learner_id,
            created_at=view.updated_at,
        )
        await self.services.chat.open_thread(actor, start, binding)
        if start.thread is not None:
            await post(thread, session_messages(view))  # what the lost thread was showing
        await self.context.deliverer.catch_up(thread, view.session_id)
        verb = "Resumed" if start.resumed else "Started"
        await interaction.followup.send(
            f"{verb} **{untrusted(view.title)}** in {thread.mention}.", ephemeral=True
        )

    @play.autocomplete("challenge")
    async def play_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        summaries = await self.services.catalog.summaries()
        return [
            app_commands.Choice(name=name, value=value)
            for name, value in autocomplete_choices(summaries, current)
        ]

    @app_commands.command(name="hint", description="Take a hint on the current step.")
    async def hint(self, interaction: discord.Interaction) -> None:
        # Deferred privately so a refusal ("not your session", "no hints left") stays private;
        # the hint itself is then posted in the thread.
        if not await acknowledge(interaction, ephemeral=True, thinking=True):
            return
        if not await self._first(interaction):
            return
        actor, bound = await self._session_here(interaction)
        turn = await self.services.chat.act(
            actor, bound.session_id, ChatAction("hint"), idempotency_key=str(interaction.id)
        )
        await self._deliver_here(interaction, turn)

    @app_commands.command(name="status", description="Your progress here, or your profile.")
    async def status(self, interaction: discord.Interaction) -> None:
        if not await acknowledge(interaction, ephemeral=True, thinking=True):
            return
        actor = await self._actor(interaction)
        bound = await self._binding(interaction)
        if bound is None:
            profile = await self.services.learners.profile(actor)
            await interaction.followup.send(embed=profile_embed(profile), ephemeral=True)
            return
        view = await self.services.game.get_view(actor, bound.session_id)
        await interaction.followup.send(embed=status_embed(view), ephemeral=True)

    @app_commands.command(
        name="abandon", description="Give up a session (this thread's, or one you name)."
    )
    @app_commands.describe(challenge="The challenge to give up (default: this thread's session).")
    async def abandon(self, interaction: discord.Interaction, challenge: str | None = None) -> None:
        if not await acknowledge(interaction, ephemeral=True, thinking=True):
            return
        if not await self._first(interaction):
            return
        actor = await self._actor(interaction)
        bound = None if challenge else await self._binding(interaction)
        if bound is not None:
            session_id = bound.session_id
        else:
            # From anywhere (even after the thread was deleted): the open session named.
            session_id = await self.services.chat.open_session(actor, challenge)
        turn = await self.services.chat.act(
            actor, session_id, ChatAction("abandon"), idempotency_key=str(interaction.id)
        )
        thread = turn.thread
        if thread is not None:
            channel = self.bot.get_partial_messageable(int(thread.thread_id))
            try:
                await self.context.deliverer.deliver(channel, turn)
            except discord.HTTPException as error:
                log.info("abandoned session's thread is gone: %s", error.status)
            else:
                await self.context.archiver.schedule(thread.session_id)
        await interaction.followup.send(
            f"You gave up **{untrusted(turn.view.title)}**.", ephemeral=True
        )

    @abandon.autocomplete("challenge")
    async def abandon_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        summaries = await self.services.catalog.summaries()
        return [
            app_commands.Choice(name=name, value=value)
            for name, value in autocomplete_choices(summaries, current)
        ]

    # -- helpers --------------------------------------------------------------------------------

    async def _deliver_here(self, interaction: discord.Interaction, turn: TurnResult) -> None:
        """Post a privately deferred command's results in its thread for everyone, then close the
        private "thinking…" with a short note (errors before this point stay private)."""
        channel = interaction.channel
        if isinstance(channel, discord.abc.Messageable):
            await self.context.deliverer.deliver(channel, turn)
        await interaction.followup.send("Done — see the thread.", ephemeral=True)

    async def _first(self, interaction: discord.Interaction) -> bool:
        """False for a repeated delivery of the same interaction: it must append nothing."""
        return await self.services.chat.first_delivery(PLATFORM, str(interaction.id))

    async def _actor(self, interaction: discord.Interaction) -> Actor:
        user = interaction.user
        return await self.services.chat.actor(PLATFORM, str(user.id), user.display_name)

    async def _binding(self, interaction: discord.Interaction) -> ChatThread | None:
        if interaction.guild_id is None or interaction.channel_id is None:
            return None
        return await self.services.chat.session_in_thread(
            PLATFORM, str(interaction.guild_id), str(interaction.channel_id)
        )

    async def _session_here(self, interaction: discord.Interaction) -> tuple[Actor, ChatThread]:
        bound = await self._binding(interaction)
        if bound is None:
            raise NotHere("Use this inside a session thread (start one with /play).")
        return await self._actor(interaction), bound


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(SessionCommands(bot, context_of(bot)))
