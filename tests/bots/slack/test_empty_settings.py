"""``SLACK_APP_TOKEN=`` (empty, as compose writes an unset variable) is unset: HTTP mode stays on and
``serve`` still mounts /slack/events."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from api.app import create_app
from bots.slack.app import build_bot, socket_mode
from cli.server import slack_jobs
from core.config import Settings
from tests.api.conftest import make_services
from tests.bots.slack.conftest import CHANNEL, SIGNING_SECRET, USER, signature_headers
from tests.bots.slack.fake_slack import TEAM, FakeSlack


async def test_an_empty_slack_app_token_does_not_unmount_slack_events(
    fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # no .env file
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    settings = Settings()
    assert not socket_mode(settings)
    mounts: list = []
    slack_jobs(settings, mounts)
    assert [path for path, _ in mounts] == ["/slack"]
    endpoint = mounts[0][1]
    services = await make_services(
        None,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
    )
    bot = await build_bot(services, message_interval=0)
    endpoint.attach(bot)
    app = create_app(services, mounts=mounts)
    body = urllib.parse.urlencode(
        {
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": USER,
            "user_name": "ada",
            "command": "/curiouscore",
            "text": "list",
            "response_url": fake_slack.response_url("empty-token"),
            "trigger_id": "t",
        }
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            response = await http.post(
                "/slack/events",
                content=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    **signature_headers(body),
                },
            )
        assert response.status_code == 200
        await fake_slack.wait_calls("response_url", 1)
    finally:
        await bot.aclose()
        await services.close()
