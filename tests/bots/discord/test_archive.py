"""A finished session's thread is archived after the delay even when the bot restarts meanwhile:
the timer is in the database, not in the process."""

from __future__ import annotations

from pathlib import Path

from core.bootstrap import Services
from tests.bots.discord.conftest import TIMEOUT, bot_options, running_bot, sqlite_services
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_client import send, settle, start_play
from tests.bots.discord.test_delivery import modal_submission, walk_to_the_chat_step
from tests.waiting import until


async def archive_at(services: Services, session_id: str) -> str | None:
    thread = await services.chat.thread_for_session(session_id)
    return thread.archive_at if thread is not None else None


async def _cleared(services: Services, session_id: str) -> bool:
    return await archive_at(services, session_id) is None


def archived(fake: FakeDiscord, thread_id: int) -> bool:
    return any(
        r.body.get("archived") is True for r in fake.calls("PATCH", rf"/channels/{thread_id}")
    )


async def test_the_archive_timer_survives_a_restart(tmp_path: Path, fake: FakeDiscord) -> None:
    path = str(tmp_path / "archive.db")
    first = await sqlite_services(path)
    try:
        # A delay far longer than the test: only a timer kept over the restart can fire.
        async with running_bot(first, fake, bot_options(archive_after_seconds=3600)):
            thread, _ = await start_play(fake)
            await settle(fake, 0.2)
            thread_id = int(thread["id"])
            session_id = await walk_to_the_chat_step(first, fake, thread)
            await send(fake, modal_submission(fake, thread, session_id, "reused and named"))
            await fake.wait_for(
                lambda: any(
                    e.get("title", "").startswith("🏆")
                    for m in fake.channel_messages(thread_id)
                    for e in m["embeds"]
                ),
                TIMEOUT,
                "the result",
            )
            await until(lambda: archive_at(first, session_id), "the archive timer", TIMEOUT)
    finally:
        await first.close()
    assert not archived(fake, thread_id)

    # The next run's timer is due at once: pretend the hour has passed by moving the due time.
    second = await sqlite_services(path, publish=False)
    try:
        await second.chat.schedule_archive(session_id, 0)
        async with running_bot(second, fake, bot_options(archive_after_seconds=3600)):
            await fake.wait_for(lambda: archived(fake, thread_id), TIMEOUT, "the archive")
            await until(lambda: _cleared(second, session_id), "the timer cleared", TIMEOUT)
    finally:
        await second.close()
