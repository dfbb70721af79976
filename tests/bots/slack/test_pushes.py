"""What no bot action caused still reaches the thread: a teacher's review made through the review
service (as the web API does) is posted while the bot runs, and after a restart when it was down,
never twice."""

from __future__ import annotations

import json
from pathlib import Path

from core.bootstrap import Services
from core.service.actor import Actor
from core.service.chat import push_checkpoint
from core.store import open_store
from tests.api.conftest import make_services
from tests.bots.slack.conftest import close_harness, open_harness
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.test_delivery import play, shown, to_the_chat_step
from tests.waiting import until

TEACHER = Actor("teacher-1", "reviewer")


async def queued(services: Services, session_id: str) -> str:
    """The review id of the session's chat grade (every grade is queued: sample rate 1.0)."""
    assert services.review is not None
    items = await services.review.queue(TEACHER, challenge_id="quiz", step_id="explain")
    return next(q.review_id for q in items if q.session_id == session_id)


async def review(services: Services, review_id: str, comment: str, passed: bool) -> None:
    assert services.review is not None
    await services.review.review(TEACHER, review_id, passed=passed, comment=comment, replace=True)


def reviews(fake: FakeSlack, comment: str) -> int:
    return shown(fake).count(comment)


async def followed_to_the_end(services: Services, platform: str = "slack") -> None:
    """Wait until the ``platform`` bot's follower has read the whole log (a condition, not a sleep)."""
    end = (await services.store.read_all(0, 100_000))[-1].position

    async def caught_up() -> bool:
        checkpoint = await services.store.load_checkpoint(push_checkpoint(platform))
        return checkpoint is not None and checkpoint.position >= end

    await until(caught_up, "the follower to reach the end of the log", within=30)


async def test_a_review_reaches_the_thread_while_running_and_after_a_restart(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pushes.db'}"
    first = await open_harness(
        fake_slack, await open_store(url), push_interval=0.1, review_sample_rate=1.0
    )
    try:
        thread_ts = await play(first)
        session_id = await to_the_chat_step(first, thread_ts)
        await first.reply("Functions get reused and named", thread_ts)  # offline: instant
        await fake_slack.wait_for(lambda fake: "Passed!" in shown(fake))
        # 1. A teacher reviews while the bot runs: posted in the thread, with the new points.
        review_id = await queued(first.services, session_id)
        await review(first.services, review_id, "No example given", passed=False)
        await fake_slack.wait_for(lambda fake: reviews(fake, "No example given") == 1)
        posted = shown(fake_slack)
        assert "Reviewed by a teacher" in posted and "points (not passed)" in posted
    finally:
        await close_harness(first)

    # 2. Reviewed again while the bot is down: posted when it starts, once.
    down = await make_services(await open_store(url))
    await review(down, review_id, "On reflection, fine", passed=True)
    await down.close()
    assert reviews(fake_slack, "On reflection") == 0
    second = await open_harness(fake_slack, await open_store(url), push_interval=0.1)
    try:
        await fake_slack.wait_for(lambda fake: reviews(fake, "On reflection") == 1)
        await followed_to_the_end(second.services)
    finally:
        await close_harness(second)
    assert reviews(fake_slack, "No example given") == 1
    assert reviews(fake_slack, "On reflection") == 1
    last = [c for c in fake_slack.of("chat.postMessage") if c.params.get("thread_ts") == thread_ts]
    assert "20/20 points (passed)" in json.dumps(last[-1].params.get("blocks"))
