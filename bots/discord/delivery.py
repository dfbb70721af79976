"""Delivering a turn to its thread: every transcript entry the learner has not seen, exactly once.

What a thread shows is kept in the database (``ChatThread.delivered_seq``), so after a restart or
a failed post the next delivery — or the catch-up at start — sends what follows it. A chat answer
graded by an LLM shows "Grading…" at once; the feedback then replaces that message (an offline grade
is recorded with the answer, so its feedback is in the same turn).
"""

from __future__ import annotations

import logging

import discord

from bots.common.locks import DeliveryLocks
from bots.discord.limits import combined, within_limits
from bots.discord.render import Outgoing, entry_messages, session_messages
from bots.discord.threads import NO_PINGS, post
from core.bootstrap import Services
from core.service.chat import TurnResult

log = logging.getLogger(__name__)

GRADING = "⏳ Grading your answer…"


def turn_messages(turn: TurnResult) -> list[Outgoing]:
    """The new transcript lines, then the step (or the result) when the thread does not show it;
    a retried step gets a reminder instead, and a pending grade a "Grading…" line."""
    messages = [m for entry in turn.entries for m in entry_messages(entry)]
    view = turn.view
    if turn.step_changed:
        messages.extend(session_messages(view))
    elif view.step is not None and any(e.kind == "feedback" for e in turn.entries):
        left = view.step.attempts_left
        messages.append(Outgoing(content=f"Try again: {left} attempt{'s' * (left != 1)} left."))
    if turn.grading:
        messages.append(Outgoing(content=GRADING))
    return messages


class Deliverer:
    """Posts turns to threads, one at a time per session, and records what was shown."""

    def __init__(self, services: Services) -> None:
        self._chat = services.chat
        self.locks = DeliveryLocks.for_services(services)
        self._versions: dict[str, int] = {}
        self._grading: dict[str, discord.Message] = {}

    async def deliver(self, channel: discord.abc.Messageable, turn: TurnResult) -> None:
        session_id = turn.view.session_id
        async with self.locks.hold(session_id):
            if turn.view.version < self._versions.get(session_id, 0):
                return  # a newer state of this session was delivered meanwhile
            turn = await self._chat.refresh(turn)
            if turn.nothing_new and not turn.grading:
                return
            # One message per action where the limits allow (answer, feedback, next step).
            messages = combined(within_limits(turn_messages(turn)), keep_apart=GRADING)
            grading = self._grading.pop(session_id, None)
            first = messages[0] if messages else None
            if grading is not None and first is not None and first.content != GRADING:
                if not first.rows and await _replace(grading, first):
                    messages = messages[1:]
            elif grading is not None and turn.grading:
                self._grading[session_id] = grading  # still grading: keep the one notice
                messages = [m for m in messages if m.content != GRADING]
            sent = await post(channel, messages)
            if turn.grading and sent and messages and messages[-1].content == GRADING:
                self._grading[session_id] = sent[-1]
            await self._chat.delivered(turn)
            self._versions[session_id] = turn.view.version

    async def catch_up(self, channel: discord.abc.Messageable, session_id: str) -> TurnResult:
        """Grade what is pending, then deliver everything the thread has not shown."""
        turn = await self._chat.catch_up(session_id)
        await self.deliver(channel, turn)
        return turn


async def _replace(message: discord.Message, outgoing: Outgoing) -> bool:
    """Turn the "Grading…" message into the first result message; False if it is gone."""
    try:
        await message.edit(
            content=outgoing.content or "",
            embeds=list(outgoing.embeds),
            allowed_mentions=NO_PINGS,
        )
    except discord.HTTPException as error:
        log.info("could not replace the grading notice: %s", error.status)
        return False
    return True
