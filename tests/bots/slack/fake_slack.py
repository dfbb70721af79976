"""A local stand-in for Slack's Web API (and response URLs, and Socket Mode) that records every call.

Runs on 127.0.0.1 with aiohttp; the real slack_sdk client reaches it through ``SLACK_API_URL``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.waiting import until

TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    # method -> how many times to answer 429 (with Retry-After) before answering normally
    rate_limits: dict[str, int] = field(default_factory=dict)
    retry_after: str = "1"
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    posted: dict[str, Any] = field(default_factory=dict)  # ts -> the blocks Slack shows
    archived: set[str] = field(default_factory=set)  # channels archived by an admin
    left: set[str] = field(default_factory=set)  # channels the bot is not a member of
    display_names: dict[str, str] = field(default_factory=dict)  # users.info answers
    url: str = ""
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, predicate: Callable[[FakeSlack], bool], within: float = 10.0) -> None:
        try:
            await until(lambda: predicate(self), "a Slack call", within)
        except AssertionError:
            summary = [(c.method, c.params.get("text")) for c in self.calls]
            raise AssertionError(f"timed out; calls so far: {summary}") from None

    async def wait_calls(self, method: str, count: int, within: float = 10.0) -> list[Call]:
        await self.wait_for(lambda fake: len(fake.of(method)) >= count, within)
        return self.of(method)

    # -- the server ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {key: str(value) for key, value in form.items()}
        params.update(dict(request.query.items()))
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params, dict(request.headers)))
        if self.rate_limits.get(method, 0) > 0:
            self.rate_limits[method] -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": self.retry_after},
            )
        answer = self._answer(method, params)
        self.calls[-1].response = answer
        return web.json_response(answer)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": "Fake",
                "team_id": TEAM,
                "user": "curiouscore",
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.update"):
            channel = str(params.get("channel"))
            if channel in self.archived:
                return {"ok": False, "error": "is_archived"}
            if channel in self.left:
                return {"ok": False, "error": "not_in_channel"}
            ts = params.get("ts") or f"1700000000.{next(self._ts):06d}"
            self.posted[ts] = params.get("blocks") or []
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
        if method == "chat.getPermalink":
            channel, ts = params.get("channel"), str(params.get("message_ts", ""))
            return {
                "ok": True,
                "channel": channel,
                "permalink": f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}",
            }
        if method == "users.info":
            user = str(params.get("user"))
            name = self.display_names.get(user)
            if name is None:
                return {"ok": False, "error": "user_not_found"}
            return {
                "ok": True,
                "user": {"id": user, "name": user.lower(), "profile": {"display_name": name}},
            }
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V1", **(params.get("view") or {})}}
        if method == "oauth.v2.access":
            return {
                "ok": True,
                "app_id": "A0APP",
                "authed_user": {"id": "U0INSTALLER"},
                "scope": "commands,chat:write",
                "token_type": "bot",
                "access_token": "xoxb-installed-token",
                "bot_user_id": BOT_USER,
                "team": {"id": "T0OTHER", "name": "Other"},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        params = dict(await request.json())
        self.calls.append(Call("response_url", params, dict(request.headers)))
        return web.Response(text="ok")

    # -- Socket Mode ----------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        self._sockets.remove(socket)
        return socket

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def push(self, envelope: dict[str, Any]) -> None:
        await self._sockets[0].send_json(envelope)
