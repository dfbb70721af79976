"""Nothing a learner has not seen is lost: restarts during grading, "Grading…", duplicates."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bots.common.ids import ComponentId, encode
from bots.discord.delivery import GRADING
from core.bootstrap import Services
from tests.bots.discord.conftest import (
    TIMEOUT,
    bot_options,
    running_bot,
    sqlite_services,
)
from tests.bots.discord.fake_discord import USER_ID, FakeDiscord
from tests.bots.discord.test_client import send, settle, slash, start_play
from tests.bots.slow_llm import slow_grader

CHAT_ANSWER = "Functions get reused and named"


async def walk_to_the_chat_step(services: Services, fake: FakeDiscord, thread: dict[str, Any]):
    """Answer the first four steps (through the service: the bot catches up); the session id."""
    bound = await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
    assert bound is not None
    actor = await services.chat.actor("discord", str(USER_ID), "ada")
    await services.game.continue_gate(actor, bound.session_id, "welcome")
    await services.game.submit_answer(actor, bound.session_id, "pick", 0)
    await services.game.submit_answer(actor, bound.session_id, "several", (0, 2))
    await services.game.submit_answer(actor, bound.session_id, "truth", True)
    return bound.session_id


def modal_submission(
    fake: FakeDiscord, thread: dict[str, Any], session_id: str, text: str
) -> dict[str, Any]:
    """The Answer form of the chat step, submitted (as if opened from the step's message)."""
    message = fake.channel_messages(int(thread["id"]))[-1]
    data = {
        "custom_id": encode(ComponentId(session_id, "explain", "answer")),
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": text}]}
        ],
    }
    return fake.interaction(5, data, channel=thread, message=message)


def feedback_titles(fake: FakeDiscord, thread_id: int) -> list[str]:
    return [
        e.get("title", "")
        for m in fake.channel_messages(thread_id)
        for e in m["embeds"]
        if "points" in e.get("title", "")
    ]


async def test_a_restart_while_a_chat_answer_is_graded_still_delivers_the_feedback(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    path = str(tmp_path / "discord.db")
    first = await sqlite_services(path)
    grader = slow_grader(first)  # the LLM never answers; the process goes down meanwhile
    try:
        async with running_bot(first, fake, bot_options(drain_seconds=0.2)):
            thread, _ = await start_play(fake)
            await settle(fake, 0.2)
            thread_id = int(thread["id"])
            session_id = await walk_to_the_chat_step(first, fake, thread)
            # The thread shows step 2's feedback; the step moves on without the bot.
            await send(fake, modal_submission(fake, thread, session_id, CHAT_ANSWER))
            await asyncio.wait_for(grader.started.wait(), TIMEOUT)
            await fake.wait_for(
                lambda: any(m["content"] == GRADING for m in fake.channel_messages(thread_id)),
                TIMEOUT,
                "the grading notice",
            )
    finally:
        await first.close()
    assert not any("20/20" in t for t in feedback_titles(fake, thread_id))

    second = await sqlite_services(path, publish=False)
    try:
        events = await second.store.read_stream(session_id)
        assert events[-1].type == "AnswerSubmitted"  # graded by nobody yet
        async with running_bot(second, fake):
            await fake.wait_for(
                lambda: any("20/20" in t for t in feedback_titles(fake, thread_id)),
                TIMEOUT,
                "the feedback after the restart",
            )
            await settle(fake, 0.3)
    finally:
        await second.close()
    titles = feedback_titles(fake, thread_id)
    assert sum("20/20" in t for t in titles) == 1  # delivered once
    final = fake.channel_messages(thread_id)[-1]["embeds"][-1]["title"]
    assert final.startswith("🏆 Passed")


async def test_grading_shows_at_once_and_is_replaced_by_the_feedback(
    services: Services, fake: FakeDiscord
) -> None:
    grader = slow_grader(services)
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])
        session_id = await walk_to_the_chat_step(services, fake, thread)
        await send(fake, modal_submission(fake, thread, session_id, "Functions get reused"))
        await fake.wait_for(
            lambda: any(m["content"] == GRADING for m in fake.channel_messages(thread_id)),
            TIMEOUT,
            "the grading notice",
        )
        notice = next(m for m in fake.channel_messages(thread_id) if m["content"] == GRADING)
        # A second answer while the first is graded: no second evaluation of the same attempt.
        second = await send(fake, modal_submission(fake, thread, session_id, "named reuse"))
        await fake.wait_for(lambda: fake.callbacks(second), TIMEOUT, "the second ack")
        await settle(fake, 0.3)
        assert grader.calls == 1
        grader.release.set()
        await fake.wait_for(
            lambda: fake.calls("PATCH", rf"/channels/{thread_id}/messages/{notice['id']}"),
            TIMEOUT,
            "the notice replaced by the feedback",
        )
        await settle(fake, 0.3)
    edit = fake.calls("PATCH", rf"/channels/{thread_id}/messages/{notice['id']}")[0].body
    assert edit["embeds"][0]["title"] == "❌ Not yet · 10/20 points"
    stored = await services.store.read_stream(session_id)
    graded = [e for e in stored if e.type == "AnswerGraded" and e.data["step_id"] == "explain"]
    assert len(graded) == 2 and grader.calls == 2  # two answers, two evaluations


async def test_a_deleted_thread_is_replaced_by_a_new_one_on_play(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        session_id = (
            await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
        ).session_id  # type: ignore[union-attr]
        fake.deleted.add(int(thread["id"]))  # a moderator deletes the thread
        followups = len(fake.followups())
        await send(fake, slash(fake, "play", challenge="quiz"))
        await fake.wait_for(lambda: len(fake.followups()) > followups, TIMEOUT, "the reply")
        await settle(fake, 0.3)
    assert len(fake.threads()) == 2
    new = fake.threads()[-1]
    moved = await services.chat.thread_for_session(session_id)
    assert moved is not None and moved.thread_id == new["id"]  # the same session, continued
    assert (
        "Started" in fake.followups()[-1]["content"] or "Resumed" in fake.followups()[-1]["content"]
    )
    step = fake.channel_messages(int(new["id"]))[-1]
    assert step["embeds"][0]["title"].startswith("Step 1/5")


async def test_a_missing_permission_is_named(services: Services, fake: FakeDiscord) -> None:
    import discord

    fake.no_thread_permission = True
    granted = discord.Permissions(2248473465835073)
    granted.create_public_threads = False
    granted.manage_threads = True
    async with running_bot(services, fake):
        payload = slash(fake, "play", challenge="quiz")
        payload["app_permissions"] = str(granted.value)
        await send(fake, payload)
        await fake.wait_for(lambda: fake.followups(), TIMEOUT, "the error")
    reply = fake.followups()[-1]["content"]
    assert "**Create Public Threads**" in reply and reply.count("**") == 2


async def test_abandon_works_from_anywhere_even_after_the_thread_was_deleted(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        session_id = (
            await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
        ).session_id  # type: ignore[union-attr]
        fake.deleted.add(int(thread["id"]))
        followups = len(fake.followups())
        await send(fake, slash(fake, "abandon", challenge="quiz"))  # in the channel, not a thread
        await fake.wait_for(lambda: len(fake.followups()) > followups, TIMEOUT, "the reply")
    assert "gave up" in fake.followups()[-1]["content"]
    events = await services.store.read_stream(session_id)
    assert events[-1].type == "SessionAbandoned"
