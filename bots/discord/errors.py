"""The one place errors become what a learner reads: a short, friendly, ephemeral message."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from core.errors import (
    DomainError,
    InvalidAnswer,
    NoHintsLeft,
    SessionNotActive,
    SessionNotFound,
    StepNotCurrent,
)

log = logging.getLogger(__name__)

STEP_CLOSED = "That step is closed; the current step is further down the thread."
NOT_YOURS = "That session is not yours (or no longer exists). Start your own with `/play`."
SESSION_OVER = "This session is over. Start a new one with `/play`."
NO_HINTS = "There are no hints left for this step."
UNEXPECTED = "Something went wrong on our side. Nothing you sent was lost; please try again."
TOO_SLOW = "Discord took too long to reach us; please try again."


class NotHere(DomainError):
    """A command used outside the place it works in (e.g. /hint outside a session thread)."""

    code = "not_here"


# What the bot needs in a channel to run sessions there (README: the invite URL's permissions).
NEEDED = (
    "view_channel",
    "send_messages",
    "send_messages_in_threads",
    "create_public_threads",
    "embed_links",
    "read_message_history",
    "manage_threads",
)


def missing_permissions(granted: discord.Permissions | None) -> list[str]:
    """The needed permissions ``granted`` lacks, as Discord names them in its settings."""
    if granted is None:
        return []
    return [
        name.replace("_", " ").title().replace("In ", "in ")
        for name in NEEDED
        if not getattr(granted, name)
    ]


def forbidden_message(granted: discord.Permissions | None) -> str:
    missing = missing_permissions(granted)
    if missing:
        return (
            "I'm missing a permission in this channel: "
            + ", ".join(f"**{name}**" for name in missing)
            + ". A server admin can grant it in the channel's settings (Permissions)."
        )
    return (
        "Discord refused me access (403): a server admin should check that I can see this "
        "channel and its threads and send messages in them."
    )


def friendly_message(error: BaseException, granted: discord.Permissions | None = None) -> str:
    """The learner-facing text for ``error``; never a stack trace or a provider's message."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error
    if isinstance(error, discord.Forbidden):
        return forbidden_message(granted)
    if isinstance(error, StepNotCurrent):
        return STEP_CLOSED
    if isinstance(error, SessionNotActive):
        return SESSION_OVER
    if isinstance(error, SessionNotFound):
        return NOT_YOURS
    if isinstance(error, NoHintsLeft):
        return NO_HINTS
    if isinstance(error, InvalidAnswer | DomainError):
        return error.message
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use that command here."
    return UNEXPECTED


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the learner, privately; log what they must not see."""
    message = friendly_message(error, getattr(interaction, "app_permissions", None))
    if message == UNEXPECTED:
        log.error("discord interaction failed", exc_info=error)
    else:
        log.info("discord interaction refused: %s", type(error).__name__)
    await send_private(interaction, message)


ALREADY_ACKNOWLEDGED = 40060  # Discord's code for a second response to one interaction


async def acknowledge(
    interaction: discord.Interaction, *, ephemeral: bool = False, thinking: bool = False
) -> bool:
    """Defer ``interaction``; False when Discord says it was already acknowledged (a repeated
    delivery of the same interaction, e.g. replayed after a gateway resume)."""
    try:
        await interaction.response.defer(ephemeral=ephemeral, thinking=thinking)
    except discord.HTTPException as error:
        if error.code == ALREADY_ACKNOWLEDGED:
            return False
        raise
    return True


async def report_message_error(message: discord.Message, error: BaseException) -> None:
    """The same translation for a plain thread message (there is no ephemeral reply there)."""
    text = friendly_message(error)
    if text == UNEXPECTED:
        log.error("discord message failed", exc_info=error)
    await message.reply(text, mention_author=False, allowed_mentions=discord.AllowedMentions.none())


async def send_private(interaction: discord.Interaction, message: str) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
    except discord.HTTPException:
        # The interaction expired or was answered elsewhere; the log has the cause.
        log.warning("could not deliver an error message to interaction %s", interaction.id)
