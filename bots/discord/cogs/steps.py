"""Buttons, selects, the Answer modal and (with the message-content intent) thread messages.

Every component carries ``cc:<session>:<step>:<action>[:<arg>]``, so one listener routes clicks on
messages from any earlier run of the bot: nothing has to be registered again after a restart.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bots.common.controls import chat_action
from bots.common.ids import ComponentId, decode, encode
from bots.discord.bot import PLATFORM, BotContext, context_of
from bots.discord.components import apply_selection, disabled
from bots.discord.errors import acknowledge, report_error, report_message_error, send_private
from core.engine.view import UiMode
from core.errors import SessionNotActive
from core.service.actor import Actor
from core.service.chat import ButtonStep, ChatAction

log = logging.getLogger(__name__)

ANSWER_FIELD = "answer"
ANSWER_MAX = 4000  # Discord's text input limit (the engine accepts up to 5,000)
PICK_FIRST = "Choose at least one answer in the menu, then press Submit."


class AnswerModal(discord.ui.Modal, title="Your answer"):
    """The answer form of a chat or code step (multi-line); its submission is routed by custom id
    like any component."""

    answer: discord.ui.TextInput[AnswerModal] = discord.ui.TextInput(
        label="Answer",
        custom_id=ANSWER_FIELD,
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=ANSWER_MAX,
    )

    def __init__(self, custom_id: str, *, code: bool = False) -> None:
        super().__init__(
            title="Your code" if code else "Your answer", custom_id=custom_id, timeout=900
        )
        if code:
            self.answer.label = "Code (a ``` block or just the code)"


class StepInteractions(commands.Cog):
    def __init__(self, context: BotContext) -> None:
        self.context = context
        self.services = context.services

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type not in (
            discord.InteractionType.component,
            discord.InteractionType.modal_submit,
        ):
            return
        data: dict[str, Any] = dict(interaction.data or {})
        raw = data.get("custom_id")
        parsed = decode(raw) if isinstance(raw, str) else None
        if parsed is None:
            return
        async with self.context.work.running():
            try:
                await self._route(interaction, parsed, data)
            except Exception as error:  # one handler turns every failure into a friendly message
                await report_error(interaction, error)

    async def _route(
        self, interaction: discord.Interaction, parsed: ComponentId, data: dict[str, Any]
    ) -> None:
        # Answers that need no database are given at once, as the interaction's own response.
        if parsed.action in ("modal", "toggle"):
            # Answered at once (no deferral), so checked before: only the learner may use them.
            await self.services.chat.require_learner(
                await self._actor(interaction), parsed.session_id
            )
        if parsed.action == "modal":
            answer_id = encode(ComponentId(parsed.session_id, parsed.step_id, "answer"))
            await interaction.response.send_modal(AnswerModal(answer_id, code=parsed.arg == "code"))
            return
        if parsed.action == "toggle":
            # The selection lives in the message itself, shared by everyone who sees it.
            await self._toggle(interaction, [str(v) for v in data.get("values", [])])
            return
        if parsed.action == "submit" and not parsed.arg:
            await send_private(interaction, PICK_FIRST)
            return
        if not await acknowledge(interaction):
            return
        chat = self.services.chat
        if not await chat.first_delivery(PLATFORM, str(interaction.id)):
            return
        text = _text_input(data.get("components", []), ANSWER_FIELD)
        action = chat_action(parsed, text=text)
        if action is None:
            return
        key = str(interaction.id)
        turn = await chat.act(
            await self._actor(interaction), parsed.session_id, action, idempotency_key=key
        )
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return
        await self.context.deliverer.deliver(channel, turn)
        if turn.grading:
            turn = await self.context.deliverer.catch_up(channel, parsed.session_id)
        step = turn.view.step
        if step is None or step.id != parsed.step_id:
            await self._close_buttons(interaction)
        if turn.view.ui_mode in (UiMode.COMPLETED, UiMode.ABANDONED):
            await self.context.archiver.schedule(parsed.session_id)

    async def _actor(self, interaction: discord.Interaction) -> Actor:
        user = interaction.user
        return await self.services.chat.actor(PLATFORM, str(user.id), user.display_name)

    async def _toggle(self, interaction: discord.Interaction, values: list[str]) -> None:
        if interaction.message is None:
            return
        view = discord.ui.View.from_message(interaction.message, timeout=None)
        await interaction.response.edit_message(view=apply_selection(view, values))
        view.stop()

    async def _close_buttons(self, interaction: discord.Interaction) -> None:
        """Grey out the answered step's components (an edit: throttled per thread)."""
        message = interaction.message
        if message is None or not message.components or interaction.channel_id is None:
            return
        view = disabled(discord.ui.View.from_message(message, timeout=None))

        async def edit() -> None:
            await interaction.edit_original_response(view=view)
            view.stop()

        try:
            await self.context.throttle.run(interaction.channel_id, edit)
        except discord.HTTPException as error:
            # Cosmetic only: the answer is recorded, and old buttons say "that step is closed".
            log.warning("could not disable old components: %s", error.status)

    # -- plain thread messages (needs the message-content intent) -------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        async with self.context.work.running():
            await self._message(message)

    async def _message(self, message: discord.Message) -> None:
        if (
            not self.context.options.message_content
            or message.author.bot
            or message.guild is None
            or not message.content.strip()
        ):
            return
        bound = await self.services.chat.session_in_thread(
            PLATFORM, str(message.guild.id), str(message.channel.id)
        )
        if bound is None:
            return
        author = message.author
        actor = await self.services.chat.actor(PLATFORM, str(author.id), author.display_name)
        if actor.learner_id != bound.learner_id:
            return
        try:
            if not await self.services.chat.first_delivery(PLATFORM, f"message:{message.id}"):
                return
            # The whole message: core takes the code block out of it (code steps) and the engine,
            # not the adapter, refuses one over its limit.
            try:
                turn = await self.services.chat.act(
                    actor,
                    bound.session_id,
                    ChatAction("reply", text=message.content),
                    idempotency_key=f"message:{message.id}",
                )
            except (ButtonStep, SessionNotActive):
                return  # talk in the thread, not an answer
            await self.context.deliverer.deliver(message.channel, turn)
            if turn.grading:
                async with message.channel.typing():
                    turn = await self.context.deliverer.catch_up(message.channel, bound.session_id)
            if turn.view.ui_mode is UiMode.COMPLETED:
                await self.context.archiver.schedule(bound.session_id)
        except Exception as error:  # the same single translation as for interactions
            await report_message_error(message, error)


def _text_input(components: list[Any], custom_id: str) -> str | None:
    """The value of a modal text input, wherever it sits (action rows or labels)."""
    for component in components:
        if not isinstance(component, dict):
            continue
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"])
        nested = component.get("components") or (
            [component["component"]] if "component" in component else []
        )
        found = _text_input(nested, custom_id)
        if found is not None:
            return found
    return None


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(StepInteractions(context_of(bot)))
