"""Socket Mode start-up against a local fake, the choice of mode, and Slack's rate limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from bots.slack import runner
from bots.slack.app import build_bot, socket_mode
from bots.slack.poster import ChannelPacer
from core.bootstrap import ConfigurationError
from core.config import Settings
from tests.api.conftest import make_services
from tests.bots.slack.conftest import CHANNEL, USER, close_harness, open_harness, slack_settings
from tests.bots.slack.fake_slack import TEAM, FakeSlack


def test_socket_mode_is_chosen_when_an_app_token_is_set():
    assert socket_mode(Settings(slack_app_token="xapp-1", slack_bot_token="xoxb-1"))
    assert not socket_mode(Settings(slack_bot_token="xoxb-1", slack_signing_secret="s"))


async def test_http_mode_without_a_signing_secret_is_a_configuration_error(fake_slack: FakeSlack):
    services = await make_services(**slack_settings(fake_slack, slack_signing_secret=None))
    try:
        with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET"):
            await build_bot(services)
    finally:
        await services.close()


async def test_socket_mode_connects_and_handles_a_slash_command(fake_slack: FakeSlack):
    services = await make_services(
        **slack_settings(fake_slack, slack_app_token="xapp-test", slack_signing_secret=None)
    )
    task = asyncio.create_task(runner.run(services, message_interval=0))
    try:
        await fake_slack.wait_for(lambda fake: fake.socket_connected, within=10)
        (opened,) = fake_slack.of("apps.connections.open")
        assert opened.headers["Authorization"] == "Bearer xapp-test"
        await fake_slack.push(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": TEAM,
                    "channel_id": CHANNEL,
                    "user_id": USER,
                    "user_name": "ada",
                    "command": "/curiouscore",
                    "text": "play quiz",
                    "api_app_id": "A0APP",
                    "response_url": fake_slack.response_url("socket"),
                    "trigger_id": "t1",
                },
            }
        )
        await fake_slack.wait_for(
            lambda fake: any(a.get("envelope_id") == "env-1" for a in fake.socket_acks), within=10
        )
        posts = await fake_slack.wait_calls("chat.postMessage", 1)
        assert "Step 1/" in str(posts[0].params["blocks"])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await services.close()


async def test_a_429_is_retried_after_retry_after(fake_slack: FakeSlack):
    slack = await open_harness(fake_slack)
    try:
        fake_slack.rate_limits["chat.postMessage"] = 1
        started = time.monotonic()
        await slack.command("play quiz")
        posts = await fake_slack.wait_calls("chat.postMessage", 2)  # one refused, then sent
        assert time.monotonic() - started >= 1.0
        assert not posts[1].params.get("thread_ts")  # the retried parent message
        assert "Step 1/" in str(posts[1].params["blocks"])
    finally:
        await close_harness(slack)


async def test_the_pacer_spaces_messages_to_one_channel_but_not_across_channels(monkeypatch):
    clock = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("bots.slack.poster.asyncio.sleep", fake_sleep)
    pacer = ChannelPacer(1.0, monotonic=lambda: clock[0])
    for channel in ("C1", "C1", "C2", "C1"):
        await pacer.turn(channel)
    assert slept == [1.0, 1.0]
