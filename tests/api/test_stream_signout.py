"""A sign-out ends the learner's open streams at once, not at the next heartbeat: in one process
(the embedded default), and with the stream served by one API process and the sign-out made in
another, over Redis pub/sub or PostgreSQL LISTEN/NOTIFY.

Every test sets the heartbeat to five minutes and waits at most ``PROMPTLY`` seconds for the
``end`` event, so a stream that only noticed the sign-out at its heartbeat fails the test."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import api.routes.stream as stream_route
from core.bootstrap import Services, build_services
from core.content import ChallengeFile
from core.service.clock import SystemClock
from tests.api.conftest import (
    FAST_HASHER,
    PASSWORD,
    QUIZ,
    SECRET,
    Learner,
    api_settings,
    client_for,
    new_session,
    register,
    reset_postgres,
)
from tests.api.test_real_server import free_port
from tests.api.test_stream import Reader, served, to_chat
from tests.redis_support import delete_prefix, require_redis, unique_prefix
from tests.waiting import until

LONG_HEARTBEAT = 300.0
PROMPTLY = 10.0  # far below the heartbeat: only the published change can end the stream in time

stream_fixture = served  # the in-process server of tests/api/test_stream.py


@pytest.fixture
def long_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_route, "HEARTBEAT_SECONDS", LONG_HEARTBEAT)


async def ends_promptly(reader: Reader) -> None:
    end = await reader.next(within=PROMPTLY)
    assert end.event == "end", end
    assert "log in again" in end.data["detail"]
    with pytest.raises(EOFError):
        await reader.next(within=PROMPTLY)


async def test_sign_out_ends_the_stream_at_once(stream_fixture, long_heartbeat):
    base, _ = stream_fixture
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ada = await register(http)
        eve = await register(http, "eve@example.com", "Eve")
        sid = (await new_session(http, ada))["session_id"]
        async with http.stream("GET", f"/api/sessions/{sid}/stream", headers=ada.headers) as r:
            reader = Reader(r)
            assert (await reader.next(within=PROMPTLY)).event == "view"

            # Someone else signing out wakes nobody's stream but their own: the next event on
            # Ada's is her own change.
            assert (await logout(http, eve)).status_code == 204
            await to_chat(http, ada.headers, sid)
            await at_chat(reader)

            assert (await logout(http, ada)).status_code == 204
            await ends_promptly(reader)


async def test_refresh_token_reuse_and_role_change_end_streams_at_once(
    stream_fixture, long_heartbeat
):
    base, services = stream_fixture
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ada = await register(http)
        sid = (await new_session(http, ada))["session_id"]

        # A stolen refresh token replayed: the family is revoked and every access token ends.
        async with http.stream("GET", f"/api/sessions/{sid}/stream", headers=ada.headers) as r:
            reader = Reader(r)
            assert (await reader.next(within=PROMPTLY)).event == "view"
            fresh = await http.post("/api/auth/refresh", json={"refresh_token": ada.refresh_token})
            assert fresh.status_code == 200, fresh.text
            replayed = await http.post(
                "/api/auth/refresh", json={"refresh_token": ada.refresh_token}
            )
            assert replayed.status_code == 401
            await ends_promptly(reader)

        # An administrator changes her role (the CLI's `admin promote`).
        again = await sign_in(http, ada.email)
        async with http.stream("GET", f"/api/sessions/{sid}/stream", headers=again.headers) as r:
            reader = Reader(r)
            assert (await reader.next(within=PROMPTLY)).event == "view"
            await services.accounts.promote(ada.email, "reviewer")
            await ends_promptly(reader)


async def at_chat(reader: Reader) -> None:
    """Read the views the changes pushed (one per change, or fewer) up to the chat step's."""
    pushed = await reader.next(within=PROMPTLY)
    while pushed.event == "view" and pushed.data["ui_mode"] != "CHAT":
        pushed = await reader.next(within=PROMPTLY)
    assert pushed.event == "view", pushed


async def logout(http: httpx.AsyncClient, learner: Learner) -> httpx.Response:
    return await http.post("/api/auth/logout", json={"refresh_token": learner.refresh_token})


async def sign_in(http: httpx.AsyncClient, email: str) -> Learner:
    response = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return Learner(email, body["access_token"], body["refresh_token"])


# -- two processes: the stream in a uvicorn subprocess, the sign-out in this one ----------------

SERVE_WITH_LONG_HEARTBEAT = textwrap.dedent(
    f"""
    import sys
    import uvicorn
    import api.routes.stream as stream
    stream.HEARTBEAT_SECONDS = {LONG_HEARTBEAT}
    uvicorn.run(
        "api.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
        log_level="warning",
    )
    """
)


@pytest.fixture(params=["redis", "postgres"])
async def feed_settings(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """How the two processes share change notifications: Redis pub/sub (``REDIS_URL``), or
    PostgreSQL LISTEN/NOTIFY (``PENDING_WORK=queue`` without Redis)."""
    url = await reset_postgres()
    if request.param == "redis":
        redis_url, prefix = await require_redis(), unique_prefix()
        yield {"database_url": url, "redis_url": redis_url, "redis_key_prefix": prefix}
        await delete_prefix(redis_url, prefix)
    else:
        yield {"database_url": url, "pending_work": "queue"}


@pytest.mark.postgres
@pytest.mark.redis
async def test_sign_out_in_one_process_ends_the_stream_served_by_another(
    feed_settings, tmp_path: Path
):
    here: Services = await build_services(
        api_settings(**feed_settings), clock=SystemClock(), password_hasher=FAST_HASHER
    )
    await here.catalog.publish(ChallengeFile.model_validate(QUIZ), at=here.clock.now())
    (tmp_path / "no-challenges").mkdir()
    env = {
        **os.environ,
        "ENV": "test",
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "CHALLENGES_DIR": str(tmp_path / "no-challenges"),
        **{key.upper(): str(value) for key, value in feed_settings.items()},
    }
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_WITH_LONG_HEARTBEAT, str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as there,
            client_for(here) as elsewhere,
        ):
            await until_up(there, server)
            ada = await register(there)
            sid = (await new_session(there, ada))["session_id"]
            url = f"/api/sessions/{sid}/stream"
            async with there.stream("GET", url, headers=ada.headers) as r:
                assert r.status_code == 200
                reader = Reader(r)
                assert (await reader.next(within=PROMPTLY)).event == "view"
                # A change made in this process reaches the other's stream (the feed works)...
                await to_chat(elsewhere, ada.headers, sid)
                await at_chat(reader)
                # ...and so does the sign-out.
                assert (await logout(elsewhere, ada)).status_code == 204
                await ends_promptly(reader)
    finally:
        server.terminate()
        try:
            _, stderr = await asyncio.wait_for(server.communicate(), timeout=20)
        except TimeoutError:
            server.kill()
            _, stderr = await server.communicate()
        await here.close()
    assert b"Traceback" not in stderr, stderr.decode()


async def until_up(http: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    async def up() -> bool:
        assert server.returncode is None, "the server exited"
        try:
            return (await http.get("/livez")).status_code == 200
        except httpx.TransportError:
            return False

    await until(up, "the server to answer /livez")
