"""``curiouscore serve`` for real, in HTTP mode: a uvicorn process on loopback serving /slack/events,
talking to the fake Slack Web API through SLACK_API_URL."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

from tests.api.test_real_server import free_port
from tests.bots.slack.conftest import CHANNEL, SIGNING_SECRET, USER, signature_headers
from tests.bots.slack.fake_slack import TEAM, FakeSlack
from tests.waiting import until


async def test_serve_answers_slack_in_http_mode(fake_slack: FakeSlack, tmp_path: Path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_"))
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
            "ENV": "development",
            "SLACK_BOT_TOKEN": "xoxb-served",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
        }
    )
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:

            async def healthy() -> bool:
                assert server.returncode is None, "serve exited early"
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await until(healthy, "serve to come up", within=30)
            form = urllib.parse.urlencode(
                {
                    "team_id": TEAM,
                    "channel_id": CHANNEL,
                    "user_id": USER,
                    "user_name": "ada",
                    "command": "/curiouscore",
                    "text": "play python-functions",
                    "response_url": fake_slack.response_url("served"),
                    "trigger_id": "t",
                }
            )
            started = time.monotonic()
            response = await http.post(
                "/slack/events",
                content=form,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    **signature_headers(form),
                },
            )
            assert response.status_code == 200
            assert time.monotonic() - started < 3  # acknowledged before the work
            forged = await http.post(
                "/slack/events",
                content=form,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    **signature_headers(form, secret="wrong"),
                },
            )
            assert forged.status_code == 401
        posts = await fake_slack.wait_calls("chat.postMessage", 1, within=20)
        assert "Step 1/" in str(posts[0].params["blocks"])
        assert posts[0].headers["Authorization"] == "Bearer xoxb-served"
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.communicate(), 15)
        except TimeoutError:
            server.kill()
            await server.communicate()
