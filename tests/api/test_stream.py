"""``GET /api/sessions/{id}/stream`` over a real HTTP server (uvicorn on loopback, in this event
loop): the view is pushed on every change (an answer, a teacher's review), only to the session's
learner or an admin, with heartbeats, and the stream ends on sign-out."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

import api.routes.stream as stream_route
from api.app import create_app
from core.bootstrap import Services
from tests.api.conftest import admin, make_services, new_session, register


@dataclass
class Sse:
    event: str
    data: Any
    id: str | None = None


@dataclass
class Reader:
    """Reads an SSE response line by line; comments (heartbeats) are counted, not returned."""

    response: httpx.Response
    lines: AsyncIterator[str] = field(init=False)
    comments: int = 0

    def __post_init__(self) -> None:
        self.lines = self.response.aiter_lines()

    async def next(self, within: float = 20) -> Sse:
        return await asyncio.wait_for(self._next(), within)

    async def comment(self) -> str:
        """The next comment line (a heartbeat); fails on an event before it."""
        async for line in self.lines:
            if line.startswith(":"):
                self.comments += 1
                return line
            assert not line.startswith(("event", "data")), f"an event came first: {line}"
        raise EOFError("the stream ended")

    async def _next(self) -> Sse:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if not line:
                if "event" in fields or "data" in fields:
                    return Sse(
                        fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")
                    )
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Services]]:
    services = await make_services(review_sample_rate=1.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}", services
    server.should_exit = True
    await task
    await services.close()


async def to_chat(http: httpx.AsyncClient, headers: dict[str, str], sid: str) -> None:
    for path, body in [
        ("continue", {"step_id": "welcome"}),
        ("answer", {"step_id": "pick", "answer": 0}),
        ("answer", {"step_id": "several", "answer": [0, 2]}),
        ("answer", {"step_id": "truth", "answer": True}),
    ]:
        response = await http.post(f"/api/sessions/{sid}/{path}", json=body, headers=headers)
        assert response.status_code == 200, response.text


async def test_the_view_is_pushed_on_each_change_until_sign_out(served, monkeypatch):
    monkeypatch.setattr(stream_route, "HEARTBEAT_SECONDS", 0.2)
    base, services = served
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ada = await register(http)
        sid = (await new_session(http, ada))["session_id"]
        async with http.stream("GET", f"/api/sessions/{sid}/stream", headers=ada.headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            reader = Reader(r)
            first = await reader.next()
            assert first.event == "view" and first.data["session_id"] == sid
            assert first.id == str(first.data["version"])

            await to_chat(http, ada.headers, sid)
            pushed = await reader.next()
            while pushed.data["ui_mode"] != "CHAT":  # one event per change, or fewer (coalesced)
                assert int(pushed.id) > int(first.id)
                pushed = await reader.next()
            answer = {"step_id": "explain", "answer": "Reuse a named block of code."}
            assert (
                await http.post(f"/api/sessions/{sid}/answer", json=answer, headers=ada.headers)
            ).status_code == 200
            done = await reader.next()
            while done.data["ui_mode"] != "COMPLETED":
                done = await reader.next()

            # A teacher's review reaches the learner's open stream too.
            root = await admin(http, services)
            [item] = (await http.get("/api/review/queue", headers=root.headers)).json()["items"]
            review = {"passed": False, "items": {"reuse": 0, "names": 5}, "comment": "Why?"}
            applied = await http.post(
                f"/api/review/{item['review_id']}", json=review, headers=root.headers
            )
            assert applied.status_code == 200, applied.text
            reviewed = await reader.next()
            assert reviewed.data["transcript"][-1]["kind"] == "review"

            # Heartbeats keep the connection alive while nothing changes.
            await asyncio.wait_for(reader.comment(), 10)

            signed_out = await http.post(
                "/api/auth/logout", json={"refresh_token": ada.refresh_token}
            )
            assert signed_out.status_code == 204
            end = await reader.next()
            assert end.event == "end"
            with pytest.raises(EOFError):
                await reader.next()


async def test_only_the_learner_or_an_admin_may_subscribe(served):
    base, services = served
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        ada = await register(http)
        eve = await register(http, "eve@example.com", "Eve")
        sid = (await new_session(http, ada))["session_id"]
        url = f"/api/sessions/{sid}/stream"
        assert (await http.get(url)).status_code == 401
        assert (await http.get(url, headers=eve.headers)).status_code == 404
        assert (await http.get("/api/sessions/nope/stream", headers=ada.headers)).status_code == 404
        root = await admin(http, services)
        async with http.stream("GET", url, headers=root.headers) as r:
            assert r.status_code == 200
            assert (await Reader(r).next()).data["session_id"] == sid
