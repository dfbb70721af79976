"""A teacher's review (made through the review service, as the web API does) reaches the learner's
Discord thread while the bot runs, and after a restart when the bot was down; never twice."""

from __future__ import annotations

from pathlib import Path

from tests.bots.discord.conftest import TIMEOUT, bot_options, running_bot, sqlite_services
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_client import send, settle, start_play
from tests.bots.discord.test_delivery import modal_submission, walk_to_the_chat_step
from tests.bots.slack.test_pushes import followed_to_the_end, queued, review


def reviews(fake: FakeDiscord, thread_id: int, comment: str) -> int:
    return sum(
        e.get("description") == comment and "Reviewed by a teacher" in e.get("title", "")
        for m in fake.channel_messages(thread_id)
        for e in m["embeds"]
    )


async def test_a_review_reaches_the_thread_while_running_and_after_a_restart(
    tmp_path: Path, fake: FakeDiscord
) -> None:
    path = str(tmp_path / "discord.db")
    options = bot_options(push_interval_seconds=0.1)
    first = await sqlite_services(path, review_sample_rate=1.0)
    try:
        async with running_bot(first, fake, options):
            thread, _ = await start_play(fake)
            await settle(fake, 0.2)
            thread_id = int(thread["id"])
            session_id = await walk_to_the_chat_step(first, fake, thread)
            answer = "Functions get reused and named"
            await send(fake, modal_submission(fake, thread, session_id, answer))
            await fake.wait_for(
                lambda: any(
                    "20/20" in e.get("title", "")
                    for m in fake.channel_messages(thread_id)
                    for e in m["embeds"]
                ),
                TIMEOUT,
                "the feedback",
            )
            review_id = await queued(first, session_id)
            await review(first, review_id, "No example given", passed=False)
            await fake.wait_for(
                lambda: reviews(fake, thread_id, "No example given") == 1,
                TIMEOUT,
                "the review in the thread",
            )
    finally:
        await first.close()

    down = await sqlite_services(path, publish=False)
    await review(down, review_id, "On reflection, fine", passed=True)
    await down.close()
    assert reviews(fake, thread_id, "On reflection, fine") == 0

    second = await sqlite_services(path, publish=False)
    try:
        async with running_bot(second, fake, options):
            await fake.wait_for(
                lambda: reviews(fake, thread_id, "On reflection, fine") == 1,
                TIMEOUT,
                "the review made while the bot was down",
            )
            await followed_to_the_end(second, "discord")
    finally:
        await second.close()
    assert reviews(fake, thread_id, "No example given") == 1
    assert reviews(fake, thread_id, "On reflection, fine") == 1
    titles = [e.get("title", "") for m in fake.channel_messages(thread_id) for e in m["embeds"]]
    assert any("20/20 points (passed)" in t for t in titles)
