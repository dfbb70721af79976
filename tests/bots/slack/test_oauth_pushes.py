"""OAuth (multi-workspace) installs get what no bot action caused too: a teacher's review is posted
in the thread with that workspace's bot token from the installation store, while the bot runs and
at its next start, never twice; a workspace that uninstalled the app is skipped with a log line."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from bots.slack.installations import sql_stores
from core.store import open_store
from tests.api.conftest import make_services
from tests.bots.slack.conftest import USER, close_harness, open_harness
from tests.bots.slack.fake_slack import TEAM, FakeSlack
from tests.bots.slack.test_delivery import play, shown, to_the_chat_step
from tests.bots.slack.test_pushes import followed_to_the_end, queued, review, reviews
from tests.waiting import until

CLIENT_ID = "111.222"
OAUTH = {"slack_bot_token": None, "slack_client_id": CLIENT_ID, "slack_client_secret": "shh"}
TOKEN = "xoxb-team-token"
OTHER_TOKEN = "xoxb-other-workspace-token"
SKIPPED = f"Slack app not installed in workspace {TEAM}"


async def install(url: str, team: str, token: str) -> None:
    installations, _, engine = sql_stores(url, CLIENT_ID)
    try:
        await installations.async_save(
            Installation(
                app_id="A0APP",
                team_id=team,
                user_id="U0ADMIN",
                bot_token=token,
                bot_id="B0BOT",
                bot_user_id="U0BOT",
                bot_scopes="chat:write,commands",
                installed_at=time.time(),
            )
        )
    finally:
        await engine.dispose()


async def uninstall(url: str, team: str) -> None:
    installations, _, engine = sql_stores(url, CLIENT_ID)
    try:
        await installations.async_delete_all(enterprise_id=None, team_id=team)
    finally:
        await engine.dispose()


def tokens_of(fake: FakeSlack, comment: str) -> list[str]:
    """The Authorization header of every Slack call that showed ``comment``."""
    return [
        c.headers.get("Authorization", "")
        for c in fake.calls
        if c.method.startswith("chat.") and comment in json.dumps(c.params.get("blocks"))
    ]


async def skipped(caplog: pytest.LogCaptureFixture, count: int) -> None:
    await until(
        lambda: sum(SKIPPED in r.getMessage() for r in caplog.records) >= count,
        f"{count} skips to be logged",
        within=30,
    )


async def test_an_oauth_workspace_gets_reviews_while_running_and_after_a_restart(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'oauth-pushes.db'}"
    settings = {"database_url": url, **OAUTH}
    store = await open_store(url)  # migrates the file, installation tables included
    await install(url, TEAM, TOKEN)
    await install(url, "T0OTHER", OTHER_TOKEN)
    first = await open_harness(
        fake_slack, store, push_interval=0.1, review_sample_rate=1.0, **settings
    )
    try:
        thread_ts = await play(first)
        session_id = await to_the_chat_step(first, thread_ts)
        await first.reply("Functions get reused and named", thread_ts)
        await fake_slack.wait_for(lambda fake: "Passed!" in shown(fake))
        # 1. Reviewed while the bot runs: posted in the thread with this workspace's token.
        review_id = await queued(first.services, session_id)
        await review(first.services, review_id, "No example given", passed=False)
        await fake_slack.wait_for(lambda fake: reviews(fake, "No example given") == 1)
        assert tokens_of(fake_slack, "No example given") == [f"Bearer {TOKEN}"]
    finally:
        await close_harness(first)

    # 2. Reviewed again while the bot is down: posted when it starts, once, with the token.
    down = await make_services(await open_store(url))
    await review(down, review_id, "On reflection, fine", passed=True)
    await down.close()
    second = await open_harness(fake_slack, await open_store(url), push_interval=0.1, **settings)
    try:
        await fake_slack.wait_for(lambda fake: reviews(fake, "On reflection") == 1)
        await followed_to_the_end(second.services)
    finally:
        await close_harness(second)
    assert tokens_of(fake_slack, "On reflection") == [f"Bearer {TOKEN}"]
    assert reviews(fake_slack, "No example given") == 1
    thread = [c for c in fake_slack.calls if c.params.get("thread_ts") == thread_ts]
    assert {c.headers.get("Authorization") for c in thread} == {f"Bearer {TOKEN}"}


async def test_a_workspace_that_uninstalled_is_skipped_at_start_and_on_pushes(
    fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bots.slack.app")
    url = f"sqlite+aiosqlite:///{tmp_path / 'uninstalled.db'}"
    settings = {"database_url": url, **OAUTH}
    store = await open_store(url)
    await install(url, TEAM, TOKEN)
    first = await open_harness(fake_slack, store, push_interval=0.1, **settings)
    try:
        thread_ts = await play(first)
        session_id = await to_the_chat_step(first, thread_ts)  # moved on without the bot
        await followed_to_the_end(first.services)
    finally:
        await close_harness(first)
    posted = len(fake_slack.calls)

    # Uninstalled while the bot was down, and the session moved on meanwhile: neither the
    # start-up catch-up nor the follower can post there; each says so once and carries on.
    await uninstall(url, TEAM)
    down = await make_services(await open_store(url))
    actor = await down.chat.actor("slack", f"{TEAM}:{USER}", "ada")
    await down.game.submit_answer(actor, session_id, "explain", "Functions get reused and named")
    await down.close()
    second = await open_harness(fake_slack, await open_store(url), push_interval=0.1, **settings)
    try:
        await skipped(caplog, 2)  # one by the catch-up at start, one by the follower
        await followed_to_the_end(second.services)
    finally:
        await close_harness(second)
    assert len(fake_slack.calls) == posted
    assert sum(SKIPPED in r.getMessage() for r in caplog.records) == 2
