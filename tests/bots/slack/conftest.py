"""The Slack bot under test: the real bolt app in HTTP mode, mounted on the real FastAPI app, talking
to a local fake Slack Web API; requests are signed exactly as Slack signs them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from api.app import create_app
from bots.slack.app import SlackBot, build_bot
from bots.slack.http import SlackEndpoint
from core.bootstrap import Services
from tests.api.conftest import make_services
from tests.bots.slack.fake_slack import TEAM, FakeSlack

SIGNING_SECRET = "fake-signing-secret-0123456789"
USER = "U0ADA"
OTHER_USER = "U0BOB"
CHANNEL = "C0GENERAL"


def signature_headers(
    body: str, *, secret: str = SIGNING_SECRET, ts: int | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class SlackHarness:
    services: Services
    fake: FakeSlack
    http: httpx.AsyncClient
    bot: SlackBot
    team: str = TEAM
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post(self, body: str, content_type: str, **headers: str) -> httpx.Response:
        signed = signature_headers(body)
        signed.update(headers)
        return await self.http.post(
            "/slack/events", content=body, headers={"Content-Type": content_type, **signed}
        )

    async def command(self, text: str, user: str = USER, channel: str = CHANNEL) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": self.team,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "ada" if user == USER else "bob",
            "command": "/curiouscore",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": self.fake.response_url(str(next(self._ids))),
            "trigger_id": f"trigger-{next(self._ids)}",
        }
        return await self.post(urllib.parse.urlencode(form), "application/x-www-form-urlencoded")

    async def click(
        self,
        action_id: str,
        *,
        message_ts: str,
        thread_ts: str | None,
        user: str = USER,
        state: dict[str, Any] | None = None,
    ) -> httpx.Response:
        n = next(self._ids)
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "username": "ada", "team_id": TEAM},
            "api_app_id": "A0APP",
            "token": "legacy",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": CHANNEL,
                "is_ephemeral": False,
                "thread_ts": thread_ts,
            },
            "trigger_id": f"trigger-{n}",
            "channel": {"id": CHANNEL, "name": "general"},
            "message": {
                "type": "message",
                "ts": message_ts,
                "thread_ts": thread_ts,
                "blocks": self.fake.posted.get(message_ts, []),
            },
            "state": {"values": state or {}},
            "response_url": self.fake.response_url(f"action-{n}"),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": f"block-{n}",
                    "type": "button",
                    "value": action_id,
                    "action_ts": f"1700000100.{n:06d}",
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        n = next(self._ids)
        return json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM,
                "api_app_id": "A0APP",
                "event": event,
                "type": "event_callback",
                "event_id": event_id or f"Ev{n:08d}",
                "event_time": int(time.time()),
                "authorizations": [
                    {"team_id": TEAM, "user_id": "U0BOT", "is_bot": True, "enterprise_id": None}
                ],
            }
        )

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, **headers: str
    ) -> httpx.Response:
        return await self.post(self.event_body(event, event_id), "application/json", **headers)

    async def reply(
        self,
        text: str,
        thread_ts: str,
        user: str = USER,
        event_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        **headers: str,
    ) -> httpx.Response:
        n = next(self._ids)
        return await self.event(
            {
                "type": "message",
                "channel": CHANNEL,
                "user": user,
                "text": text,
                **({"blocks": blocks} if blocks is not None else {}),
                "ts": f"1700000200.{n:06d}",
                "thread_ts": thread_ts,
                "event_ts": f"1700000200.{n:06d}",
                "channel_type": "channel",
            },
            event_id,
            **headers,
        )


def slack_settings(fake: FakeSlack, **changes: Any) -> dict[str, Any]:
    return {
        "slack_bot_token": "xoxb-test-token",
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.api_url,
        **changes,
    }


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


async def open_harness(
    fake: FakeSlack, store: Any = None, *, push_interval: float = 2.0, **changes: Any
) -> SlackHarness:
    services = await make_services(store, **slack_settings(fake, **changes))
    bot = await build_bot(services, message_interval=0, push_interval=push_interval)
    endpoint = SlackEndpoint()
    endpoint.attach(bot)
    app = create_app(services, mounts=[("/slack", endpoint)])
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=10
    )
    return SlackHarness(services, fake, http, bot)


async def close_harness(harness: SlackHarness) -> None:
    await harness.http.aclose()
    await harness.bot.aclose()
    await harness.services.close()


@pytest.fixture
async def slack(fake_slack: FakeSlack) -> AsyncIterator[SlackHarness]:
    harness = await open_harness(fake_slack)
    yield harness
    await close_harness(harness)
