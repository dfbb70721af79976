"""HTTP mode: ``/slack/events``, ``/slack/install`` and ``/slack/oauth_redirect``.

``SlackEndpoint`` is a plain ASGI app (no web framework, so the bots stay free of the web stack):
the server mounts it at ``/slack`` on the FastAPI app, and ``attach`` hands it the bot once the
services exist. Every POST to ``/slack/events`` passes :class:`bots.slack.verification.RequestGuard`
first (signature and timestamp, then a once-only claim): an unsigned, malformed, stale or replayed
request never reaches bolt, and a body naming a ``response_url`` off Slack's hosts is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bots.slack.app import EVENTS_PATH, SlackBot
from bots.slack.verification import response_url_allowed, response_urls
from core.store.base import StoreUnavailable

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
    body: bytes,
) -> BoltResponse:
    """One HTTP request to the bolt app (or its OAuth flow); a plain response when neither fits.

    ``headers`` has lower-case names; ``body`` is the raw bytes the signature covers.
    """
    if bot is None:
        return BoltResponse(status=503, body="the Slack bot is starting")
    if method == "POST" and path == EVENTS_PATH:
        return await _events(bot, query, headers, body)
    flow = bot.app.oauth_flow
    if method == "GET" and flow is not None and path in (flow.install_path, flow.redirect_uri_path):
        request = AsyncBoltRequest(body=_text(body) or "", query=query, headers=_bolt(headers))
        if path == flow.install_path:
            return await flow.handle_installation(request)
        return await flow.handle_callback(request)
    return BoltResponse(status=404, body="not found")


async def _events(
    bot: SlackBot, query: str, headers: dict[str, list[str]], body: bytes
) -> BoltResponse:
    """Verify, then claim, then hand to bolt; nothing of an unverified request is parsed or used."""
    if bot.guard is None:  # Socket Mode: nothing arrives over HTTP
        return BoltResponse(status=404, body="not found")
    refusal = bot.guard.refusal(headers, body)
    if refusal is not None:
        log.info("refused a Slack request: %s", refusal)
        return BoltResponse(status=401, body="invalid request")
    text = _text(body)
    try:
        request = AsyncBoltRequest(body=text or "", query=query, headers=_bolt(headers))
    except (ValueError, TypeError, AttributeError):  # not JSON, or JSON of another shape
        request = None
    if text is None or request is None:
        return BoltResponse(status=400, body="malformed request body")
    if not all(response_url_allowed(url, bot.slack_api_url) for url in response_urls(request.body)):
        log.warning("refused a signed Slack request whose response_url is off Slack's hosts")
        return BoltResponse(status=400, body="response_url is not on the Slack API host")
    try:
        first = await bot.guard.first_time(headers)
    except (StoreUnavailable, RedisError) as error:
        log.warning("could not record a Slack request (%s); asking Slack to retry", error)
        return BoltResponse(status=503, body="try again")
    if not first:
        log.info("dropped a replayed Slack request")
        return BoltResponse(status=200, body="")
    return await bot.app.async_dispatch(request)


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _bolt(headers: dict[str, list[str]]) -> dict[str, str | Sequence[str]]:
    # Bolt reads its own x-slack-bolt-* headers (lazy-listener switches): never from the outside.
    return {
        name: values for name, values in headers.items() if not name.startswith("x-slack-bolt-")
    }


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
            bytes(body),
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
            await request.read(),
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
