"""HTTP mode: ``/slack/events``, ``/slack/install`` and ``/slack/oauth_redirect``.

``SlackEndpoint`` is a plain ASGI app (no web framework, so the bots stay free of the web stack):
the server mounts it at ``/slack`` on the FastAPI app, and ``attach`` hands it the bot once the
services exist. Bolt checks every request's signature and refuses timestamps older than 5 minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bots.slack.app import EVENTS_PATH, SlackBot

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def dispatch(
    bot: SlackBot | None,
    method: str,
    path: str,
    query: str,
    headers: dict[str, list[str]],
    body: str,
) -> BoltResponse:
    """One HTTP request to the bolt app (or its OAuth flow); a plain response when neither fits."""
    if bot is None:
        return BoltResponse(status=503, body="the Slack bot is starting")
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    request = AsyncBoltRequest(body=body, query=query, headers=bolt_headers)
    flow = bot.app.oauth_flow
    if method == "GET" and flow is not None:
        if path == flow.install_path:
            return await flow.handle_installation(request)
        if path == flow.redirect_uri_path:
            return await flow.handle_callback(request)
    if method == "POST" and path == EVENTS_PATH:
        return await bot.app.async_dispatch(request)
    return BoltResponse(status=404, body="not found")


class SlackEndpoint:
    """The ASGI app behind ``/slack``; answers 503 until a bot is attached."""

    def __init__(self) -> None:
        self.bot: SlackBot | None = None

    def attach(self, bot: SlackBot | None) -> None:
        self.bot = bot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await _send(send, BoltResponse(status=413, body="request too large"))
                return
            if not message.get("more_body"):
                break
        headers: dict[str, list[str]] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        response = await dispatch(
            self.bot,
            str(scope.get("method", "GET")),
            str(scope.get("path", "")),
            bytes(scope.get("query_string", b"")).decode("latin-1"),
            headers,
            body.decode("utf-8", errors="replace"),
        )
        await _send(send, response)


async def _send(send: Send, response: BoltResponse) -> None:
    body = response.body.encode("utf-8")
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, values in response.headers.items()
        if name.lower() != "content-length"
        for value in values
    ]
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def aiohttp_app(endpoint: SlackEndpoint) -> web.Application:
    """The same routes on aiohttp, for ``curiouscore bots slack`` in HTTP mode without the API."""

    async def handle(request: web.Request) -> web.StreamResponse:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        response = await dispatch(
            endpoint.bot,
            request.method,
            request.path,
            request.query_string,
            headers,
            await request.text(),
        )
        out = web.Response(status=response.status, body=response.body.encode("utf-8"))
        for name, values in response.headers.items():
            if name.lower() != "content-length":
                for value in values:
                    out.headers.add(name, value)
        return out

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/slack/{tail:.*}", handle)
    return app
