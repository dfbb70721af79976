"""Nothing a learner has not seen is lost on Slack: restarts during grading, 429 storms, archived
channels; posts paced per channel with bursts, edits not paced with them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bots.slack.poster import ChannelPacer
from core.store import open_store
from core.store.chat import FINISHED
from tests.bots.slack.conftest import (
    CHANNEL,
    USER,
    SlackHarness,
    close_harness,
    open_harness,
)
from tests.bots.slack.fake_slack import TEAM, FakeSlack
from tests.bots.slow_llm import slow_grader
from tests.waiting import until


async def play(slack: SlackHarness, channel: str = CHANNEL) -> str:
    """``/curiouscore play quiz``; the thread's ts once step 1 is in it."""
    before = len(slack.fake.of("chat.postMessage"))
    await slack.command("play quiz", channel=channel)

    def parent(fake: FakeSlack) -> Any:
        for call in fake.of("chat.postMessage")[before:]:
            if call.response.get("ok") and not call.params.get("thread_ts"):
                return call
        return None

    await slack.fake.wait_for(lambda fake: parent(fake) is not None)
    ts = str(parent(slack.fake).response["ts"])
    await until(
        lambda: slack.services.chat.session_in_thread("slack", TEAM, ts),
        "the thread to be bound to its session",
        within=30,
    )
    return ts


async def to_the_chat_step(slack: SlackHarness, thread_ts: str) -> str:
    bound = await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)
    assert bound is not None
    actor = await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    game, session_id = slack.services.game, bound.session_id
    await game.continue_gate(actor, session_id, "welcome")
    await game.submit_answer(actor, session_id, "pick", 0)
    await game.submit_answer(actor, session_id, "several", (0, 2))
    await game.submit_answer(actor, session_id, "truth", True)
    return session_id


async def delivered_to_the_end(slack: SlackHarness, session_id: str) -> None:
    """Wait until the thread's delivery cursor records the session's end as shown: any second
    delivery would have had to happen before (deliveries are serialised per session)."""

    async def end_shown() -> bool:
        thread = await slack.services.chat.thread_for_session(session_id)
        return thread is not None and thread.shown == FINISHED

    await until(end_shown, "the end of the session to be recorded as shown", within=30)


def shown(fake: FakeSlack) -> str:
    return json.dumps(
        [
            c.params.get("blocks")
            for c in fake.calls
            if c.method.startswith("chat.") and c.response.get("ok")
        ]
    )


async def test_a_restart_while_a_reply_is_graded_still_delivers_the_feedback(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'slack.db'}"
    first = await open_harness(fake_slack, await open_store(url))
    first.bot.drain_seconds = 0.2
    grader = slow_grader(first.services)  # never answers: the process goes down meanwhile
    try:
        thread_ts = await play(first)
        session_id = await to_the_chat_step(first, thread_ts)
        await first.reply("Functions get reused and named", thread_ts)
        await asyncio.wait_for(grader.started.wait(), 10)
        await fake_slack.wait_for(lambda fake: "Grading your answer" in shown(fake))
    finally:
        await close_harness(first)
    assert "20/20" not in shown(fake_slack)

    second = await open_harness(fake_slack, await open_store(url))
    try:
        events = await second.services.store.read_stream(session_id)
        assert events[-1].type == "AnswerSubmitted"  # nobody graded it before the restart
        await fake_slack.wait_for(lambda fake: "20/20" in shown(fake))
        await fake_slack.wait_for(lambda fake: "Passed" in shown(fake))
        await delivered_to_the_end(second, session_id)
    finally:
        await close_harness(second)
    assert shown(fake_slack).count("20/20") == 1  # delivered exactly once


async def test_429s_past_the_clients_retries_still_deliver_the_step(
    fake_slack: FakeSlack,
) -> None:
    slack = await open_harness(fake_slack)
    try:
        fake_slack.retry_after = "0"
        fake_slack.rate_limits["chat.postMessage"] = 6  # the client alone gives up after 3
        thread_ts = await play(slack)
        assert thread_ts
        assert not fake_slack.of("response_url")  # no "something went wrong"
    finally:
        await close_harness(slack)


async def test_a_rate_limit_past_the_deadline_is_delivered_later(fake_slack: FakeSlack) -> None:
    slack = await open_harness(fake_slack)
    conversation = slack.bot.conversation
    conversation._poster._retry_deadline = 0.2  # type: ignore[attr-defined]
    conversation._later_seconds = 0.3  # type: ignore[attr-defined]
    try:
        thread_ts = await play(slack)
        await to_the_chat_step(slack, thread_ts)
        fake_slack.retry_after = "0"
        fake_slack.rate_limits["chat.postMessage"] = 10**6  # Slack refuses for a while
        await slack.reply("Functions get reused and named", thread_ts)
        await fake_slack.wait_for(lambda fake: len(fake.of("chat.postMessage")) > 10)
        assert "20/20" not in shown(fake_slack)
        fake_slack.rate_limits["chat.postMessage"] = 0  # and then lets posts through again
        await fake_slack.wait_for(lambda fake: "20/20" in shown(fake))
        assert not fake_slack.of("response_url")
    finally:
        await close_harness(slack)


async def test_play_after_the_threads_channel_was_archived_continues_in_a_new_thread(
    fake_slack: FakeSlack,
) -> None:
    slack = await open_harness(fake_slack)
    try:
        old_ts = await play(slack)
        bound = await slack.services.chat.session_in_thread("slack", TEAM, old_ts)
        assert bound is not None
        fake_slack.archived.add(CHANNEL)
        new_ts = await play(slack, channel="C0OTHER")
        await fake_slack.wait_for(
            lambda fake: any(c.params.get("thread_ts") == new_ts for c in fake.calls)
        )
        moved = await slack.services.chat.thread_for_session(bound.session_id)
        assert moved is not None
        assert (moved.channel_id, moved.thread_id) == ("C0OTHER", new_ts)
        step = [
            c
            for c in fake_slack.of("chat.postMessage")
            if c.params.get("thread_ts") == new_ts and "Welcome" in json.dumps(c.params)
        ]
        assert step  # the session's current step, in the new thread
        assert not fake_slack.of("response_url") or "archived" not in shown(fake_slack)
    finally:
        await close_harness(slack)


def test_posting_to_a_new_channel_is_archived_gives_the_exact_reason() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from bots.slack.errors import ARCHIVED, NOT_IN_CHANNEL, friendly_message

    def error(data: dict[str, Any]) -> SlackApiError:
        response = AsyncSlackResponse(
            client=None,  # type: ignore[arg-type]
            http_verb="POST",
            api_url="x",
            req_args={},
            data=data,
            headers={},
            status_code=200,
        )
        return SlackApiError("failed", response)

    assert friendly_message(error({"ok": False, "error": "is_archived"})) == ARCHIVED
    assert friendly_message(error({"ok": False, "error": "not_in_channel"})) == NOT_IN_CHANNEL
    scope = friendly_message(
        error({"ok": False, "error": "missing_scope", "needed": "chat:write.public"})
    )
    assert "`chat:write.public`" in scope


async def test_the_pacer_lets_a_burst_through_then_spaces_posts(monkeypatch: Any) -> None:
    clock = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("bots.slack.poster.asyncio.sleep", fake_sleep)
    pacer = ChannelPacer(1.0, monotonic=lambda: clock[0], burst=3)
    for _ in range(5):
        await pacer.turn("C1")
    assert slept == [1.0, 1.0]  # three at once, then one a second
    await pacer.turn("C2")
    assert slept == [1.0, 1.0]  # another channel has its own budget


async def test_edits_are_not_paced_with_posts(fake_slack: FakeSlack, monkeypatch: Any) -> None:
    from bots.slack.app import web_client
    from bots.slack.poster import Poster
    from bots.slack.render import SlackMessage
    from tests.api.conftest import api_settings
    from tests.bots.slack.conftest import slack_settings

    client = web_client(api_settings(**slack_settings(fake_slack)), "xoxb-test")
    poster = Poster(ChannelPacer(60.0, burst=1))
    await poster.post(client, "C1", SlackMessage("one"))
    await asyncio.wait_for(poster.update(client, "C1", "1.0", SlackMessage("edit")), 5)
    assert [c.method for c in fake_slack.calls] == ["chat.postMessage", "chat.update"]


async def test_abandon_and_restart_work_from_any_channel(fake_slack: FakeSlack) -> None:
    slack = await open_harness(fake_slack)
    try:
        thread_ts = await play(slack)
        first = await slack.services.chat.session_in_thread("slack", TEAM, thread_ts)
        assert first is not None
        fake_slack.archived.add(CHANNEL)
        await slack.command("restart quiz", channel="C0OTHER")
        await fake_slack.wait_for(
            lambda fake: any(
                c.params.get("channel") == "C0OTHER" and c.response.get("ok")
                for c in fake.of("chat.postMessage")
            )
        )

        async def abandoned() -> bool:
            events = await slack.services.store.read_stream(first.session_id)
            return events[-1].type == "SessionAbandoned"

        await until(abandoned, "the first session to be abandoned", within=30)
        actor = await slack.services.chat.actor("slack", f"{TEAM}:{USER}", "ada")
        sessions = await slack.services.game.list_sessions(actor)
        assert sorted(s.status for s in sessions) == ["abandoned", "active"]
    finally:
        await close_harness(slack)


async def test_a_learner_met_through_a_mention_gets_their_display_name_once(
    fake_slack: FakeSlack,
) -> None:
    slack = await open_harness(fake_slack)
    fake_slack.display_names["U0NEWBIE"] = "Newbie Nora"
    try:
        for n in range(2):
            await slack.event(
                {
                    "type": "app_mention",
                    "channel": CHANNEL,
                    "user": "U0NEWBIE",
                    "text": "<@U0BOT> status",
                    "ts": f"1700000400.00000{n}",
                    "event_ts": f"1700000400.00000{n}",
                }
            )
            await fake_slack.wait_calls("chat.postEphemeral", n + 1)
        actor = await slack.services.chat.actor("slack", f"{TEAM}:U0NEWBIE", "ignored")
        profile = await slack.services.learners.profile(actor)
        assert profile.display_name == "Newbie Nora"  # not the raw id
        assert len(fake_slack.of("users.info")) == 1  # cached
    finally:
        await close_harness(slack)
