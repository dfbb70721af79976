"""Discord's size limits, enforced on what is about to be sent: anything over a limit is split.

Per embed: 4,096 characters of description, 25 fields, 6,000 characters in all; per message: 10
embeds and 6,000 characters across them. A message over any of these is refused by Discord with
a 400, which would leave the learner without feedback that the engine has already recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import discord

from bots.discord.render import Outgoing
from bots.discord.text import CONTENT_LIMIT, DESCRIPTION_LIMIT, split_text

EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
FIELDS_PER_EMBED = 25


def split_embed(embed: discord.Embed) -> list[discord.Embed]:
    """``embed`` as one or more embeds, each within Discord's per-embed limits.

    The first keeps the title; a long description continues in further embeds, then the fields
    follow, packed in order; the footer goes on the last one.
    """
    if (
        len(embed) <= EMBED_TOTAL_LIMIT
        and len(embed.fields) <= FIELDS_PER_EMBED
        and len(embed.description or "") <= DESCRIPTION_LIMIT
    ):
        return [embed]
    footer = embed.footer.text or ""
    room = EMBED_TOTAL_LIMIT - len(footer)
    parts: list[discord.Embed] = []
    title = embed.title or ""
    for number, chunk in enumerate(
        split_text(embed.description or "", min(DESCRIPTION_LIMIT, room - len(title))) or [""]
    ):
        if number == 0 or chunk:
            parts.append(
                discord.Embed(
                    title=title if number == 0 else None,
                    description=chunk or None,
                    colour=embed.colour,
                )
            )
    for field in embed.fields:
        name, value = field.name or "\u200b", field.value or "\u200b"
        current = parts[-1]
        if len(current.fields) >= FIELDS_PER_EMBED or len(current) + len(name) + len(value) > room:
            current = discord.Embed(colour=embed.colour)
            parts.append(current)
        current.add_field(name=name, value=value, inline=bool(field.inline))
    if footer:
        parts[-1].set_footer(text=footer)
    return parts


def within_limits(messages: Iterable[Outgoing]) -> list[Outgoing]:
    """The same messages, split wherever one would exceed a Discord limit; order is kept, the
    text goes on the first part and the components on the last."""
    fitted: list[Outgoing] = []
    for message in messages:
        embeds = [part for embed in message.embeds for part in split_embed(embed)]
        groups = _group(embeds)
        if len(groups) <= 1:
            fitted.append(
                message
                if len(embeds) == len(message.embeds)
                else Outgoing(message.content, tuple(embeds), message.rows)
            )
            continue
        for number, group in enumerate(groups):
            fitted.append(
                Outgoing(
                    content=message.content if number == 0 else None,
                    embeds=tuple(group),
                    rows=message.rows if number == len(groups) - 1 else (),
                )
            )
    return fitted


def _group(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    groups: list[list[discord.Embed]] = []
    total = 0
    for embed in embeds:
        if (
            not groups
            or len(groups[-1]) >= EMBEDS_PER_MESSAGE
            or total + len(embed) > EMBED_TOTAL_LIMIT
        ):
            groups.append([])
            total = 0
        groups[-1].append(embed)
        total += len(embed)
    return groups


def combined(messages: Sequence[Outgoing], *, keep_apart: str | None = None) -> list[Outgoing]:
    """Fewer messages for the same thread: each message absorbs the ones after it while the order
    on screen is kept (text above embeds, components last) and every limit holds.

    A message whose text is ``keep_apart`` (e.g. the "Grading…" notice, edited later) stays alone.
    """
    merged: list[Outgoing] = []
    for message in messages:
        last = merged[-1] if merged else None
        apart = (
            keep_apart is not None and keep_apart in (last.content, message.content)
            if last
            else False
        )
        if last is None or apart or last.rows:
            merged.append(message)
            continue
        content = last.content
        if message.content is not None:
            joined = f"{last.content}\n{message.content}" if last.content else message.content
            if last.embeds or len(joined) > CONTENT_LIMIT:
                merged.append(message)
                continue
            content = joined
        embeds = (*last.embeds, *message.embeds)
        if len(embeds) > EMBEDS_PER_MESSAGE or sum(len(e) for e in embeds) > EMBED_TOTAL_LIMIT:
            merged.append(message)
            continue
        merged[-1] = Outgoing(content, embeds, message.rows)
    return merged
