"""/slack/events refuses what Slack did not send, before anything in it is used: malformed or missing
signature headers are a 401 with nothing sent anywhere, a response_url off Slack's hosts is never
called, and a signed request replayed within the 5-minute window is processed once — across workers,
with the claims in the database or in Redis."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from redis.asyncio import Redis

from bots.slack.verification import (
    CLAIM_SECONDS,
    RedisClaims,
    RequestGuard,
    allowed_origins,
    response_url_allowed,
)
from core.store import open_store
from tests.api.conftest import reset_postgres
from tests.bots.slack.conftest import (
    CHANNEL,
    SIGNING_SECRET,
    USER,
    SlackHarness,
    close_harness,
    open_harness,
    signature_headers,
)
from tests.bots.slack.fake_slack import TEAM, FakeSlack

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


class Trap:
    """An address inside 'the private network' that records every request reaching it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def hit(request: web.Request) -> web.Response:
            self.hits.append(f"{request.method} {request.path}")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hit)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def trap() -> AsyncIterator[Trap]:
    server = Trap()
    await server.start()
    yield server
    await server.stop()


def command_body(text: str, response_url: str, channel: str = CHANNEL) -> str:
    return urllib.parse.urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "channel_id": channel,
            "user_id": USER,
            "user_name": "ada",
            "command": "/curiouscore",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": response_url,
            "trigger_id": f"trigger-{uuid.uuid4().hex}",
        }
    )


async def post(slack: SlackHarness, body: str | bytes, headers: Any) -> httpx.Response:
    return await slack.http.post(
        "/slack/events",
        content=body,
        headers=[("Content-Type", "application/x-www-form-urlencoded"), *headers],
    )


def _signed(body: str, **changes: str) -> list[tuple[str, str]]:
    headers = signature_headers(body)
    headers.update(changes)
    return list(headers.items())


MALFORMED: dict[str, Any] = {
    "timestamp abc": lambda body: _signed(body, **{"X-Slack-Request-Timestamp": "abc"}),
    "timestamp empty": lambda body: _signed(body, **{"X-Slack-Request-Timestamp": ""}),
    "timestamp 1e9": lambda body: _signed(body, **{"X-Slack-Request-Timestamp": "1e9"}),
    "timestamp with sign": lambda body: _signed(
        body, **{"X-Slack-Request-Timestamp": "+" + str(int(time.time()))}
    ),
    "timestamp huge": lambda body: _signed(body, **{"X-Slack-Request-Timestamp": "9" * 400}),
    "timestamp superscript digits": lambda body: _signed(
        body, **{"X-Slack-Request-Timestamp": "\u00b9\u00b2\u00b3".encode("latin-1")}
    ),
    "timestamp missing": lambda body: [
        (k, v) for k, v in _signed(body) if k != "X-Slack-Request-Timestamp"
    ],
    "signature missing": lambda body: [
        (k, v) for k, v in _signed(body) if k != "X-Slack-Signature"
    ],
    "signature empty": lambda body: _signed(body, **{"X-Slack-Signature": ""}),
    "signature not hex": lambda body: _signed(body, **{"X-Slack-Signature": "v0=zz"}),
    "signature v1": lambda body: _signed(body, **{"X-Slack-Signature": "v1=" + "0" * 64}),
    "both headers missing": lambda body: [],
    "timestamp repeated": lambda body: [
        *_signed(body),
        ("X-Slack-Request-Timestamp", str(int(time.time()))),
    ],
    "signature repeated": lambda body: [*_signed(body), ("X-Slack-Signature", "v0=" + "0" * 64)],
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_or_missing_signature_headers_are_401_with_nothing_sent(
    slack: SlackHarness, trap: Trap, case: str
):
    for response_url in (f"{trap.url}/internal/admin", slack.fake.response_url("x")):
        body = command_body("play nope", response_url)
        response = await post(slack, body, MALFORMED[case](body))
        assert response.status_code == 401, (case, response.text)
        assert "Something went wrong" not in response.text
    assert trap.hits == []
    assert slack.fake.calls == []  # no chat.postEphemeral, no response_url, not even auth.test


async def test_an_unsigned_body_that_is_not_even_json_is_a_401(slack: SlackHarness, trap: Trap):
    response = await slack.http.post(
        "/slack/events",
        content=b"{not json \xff",
        headers={"Content-Type": "application/json", "X-Slack-Request-Timestamp": "abc"},
    )
    assert response.status_code == 401
    assert slack.fake.calls == []


async def test_an_unsigned_event_never_posts_into_the_channel_it_names(slack: SlackHarness):
    body = slack.event_body(
        {"type": "app_mention", "channel": "C0VICTIM", "user": USER, "text": "x", "ts": "1.1"}
    )
    response = await slack.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": "abc",
            "X-Slack-Signature": "v0=abc",
        },
    )
    assert response.status_code == 401
    assert slack.fake.calls == []


async def test_a_signed_request_whose_response_url_is_off_slack_is_refused(
    slack: SlackHarness, trap: Trap
):
    # Only someone holding the signing secret can send this; still, no request forwarding.
    body = command_body("play nope", f"{trap.url}/internal")
    response = await post(slack, body, _signed(body))
    assert response.status_code == 400
    assert trap.hits == []
    assert slack.fake.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://hooks.slack.com.evil.test/x",
        "https://hooks.slack.com@evil.test/x",
        "https://evil.test\\@hooks.slack.com/x",
        "http://hooks.slack.com/commands/x",  # plain http
        "https://hooks.slack.com:8443/x",
        "file:///etc/passwd",
        "",
        None,
        42,
    ],
)
def test_only_slacks_own_hosts_are_response_urls(url: object):
    assert not response_url_allowed(url, "https://slack.com/api/")


def test_response_urls_on_slack_hooks_and_on_the_configured_api_host_are_allowed():
    assert response_url_allowed(
        "https://hooks.slack.com/commands/T1/2/abc", "https://slack.com/api/"
    )
    assert response_url_allowed(
        "https://HOOKS.slack.com:443/actions/T1/2/x", "https://slack.com/api"
    )
    local = "http://127.0.0.1:5555/api/"
    assert response_url_allowed("http://127.0.0.1:5555/respond/1", local)
    assert not response_url_allowed("http://127.0.0.1:5556/respond/1", local)
    # A gateway standing in for Slack's API does not open hooks.slack.com, and vice versa.
    assert not response_url_allowed("https://hooks.slack.com/commands/x", local)
    assert allowed_origins("not a url") == frozenset()


async def _replay_is_processed_once(first: SlackHarness, second: SlackHarness) -> None:
    """Post one signed command to ``first``, replay it to ``second``; it runs once."""
    fake = first.fake
    body = command_body("list", fake.response_url("original"))
    headers = _signed(body)
    assert (await post(first, body, headers)).status_code == 200
    await fake.wait_calls("response_url", 1)
    replayed = await asyncio.gather(*(post(second, body, headers) for _ in range(5)))
    assert [r.status_code for r in replayed] == [200] * 5
    # A fresh request afterwards is processed: once its answer is in, the replays had their turn.
    fresh = command_body("leaderboard", fake.response_url("fresh"))
    assert (await post(second, fresh, _signed(fresh))).status_code == 200
    await fake.wait_for(lambda f: "Leaderboard" in str([c.params for c in f.of("response_url")]))
    answers = [str(call.params.get("blocks")) for call in fake.of("response_url")]
    assert len(answers) == 2, answers
    assert sum("A small quiz" in answer for answer in answers) == 1


async def test_a_signed_request_replayed_within_the_window_is_processed_once(
    slack: SlackHarness,
):
    await _replay_is_processed_once(slack, slack)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_replay_to_another_worker_is_dropped_through_the_database(
    fake_slack: FakeSlack, tmp_path, kind: str
):
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'slack.db'}"
        if kind == "sqlite"
        else await reset_postgres()
    )
    if kind == "sqlite":
        await (await open_store(url)).close()  # migrate once
    first = await open_harness(fake_slack, await open_store(url), database_url=url)
    second = await open_harness(fake_slack, await open_store(url), database_url=url)
    try:
        await _replay_is_processed_once(first, second)
    finally:
        await close_harness(first)
        await close_harness(second)


async def _redis_or_skip() -> Redis:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as error:  # pragma: no cover - depends on the machine
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    return client


async def test_a_replay_to_another_worker_is_dropped_through_redis(fake_slack: FakeSlack):
    probe = await _redis_or_skip()
    await probe.aclose()
    prefix = f"test:secedge:{uuid.uuid4().hex}:"
    first = await open_harness(fake_slack, redis_url=REDIS_URL)
    second = await open_harness(fake_slack, redis_url=REDIS_URL)
    for harness in (first, second):
        assert harness.bot.guard is not None
        await harness.bot.guard.aclose()
        harness.bot.guard = RequestGuard(SIGNING_SECRET, RedisClaims.from_url(REDIS_URL, prefix))
    try:
        await _replay_is_processed_once(first, second)
        client = await _redis_or_skip()
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        assert len(keys) == 2  # the original and the fresh request
        ttl = await client.ttl(keys[0])
        assert 0 < ttl <= CLAIM_SECONDS
        await client.delete(*keys)
        await client.aclose()
    finally:
        await close_harness(first)
        await close_harness(second)


async def test_with_redis_url_set_the_claims_go_to_redis(fake_slack: FakeSlack):
    probe = await _redis_or_skip()
    await probe.aclose()
    harness = await open_harness(fake_slack, redis_url=REDIS_URL)
    try:
        assert harness.bot.guard is not None
        assert isinstance(harness.bot.guard._claims, RedisClaims)
    finally:
        await close_harness(harness)


async def test_when_the_claims_cannot_be_recorded_slack_is_asked_to_retry(slack: SlackHarness):
    assert slack.bot.guard is not None
    await slack.bot.guard.aclose()
    slack.bot.guard = RequestGuard(SIGNING_SECRET, RedisClaims.from_url("redis://127.0.0.1:1/0"))
    body = command_body("list", slack.fake.response_url("down"))
    response = await post(slack, body, _signed(body))
    assert response.status_code == 503
    assert slack.fake.calls == []


async def test_a_signed_body_of_another_shape_is_a_400(slack: SlackHarness):
    body = "[1, 2, 3]"
    response = await slack.http.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **signature_headers(body)},
    )
    assert response.status_code == 400
    assert slack.fake.calls == []
