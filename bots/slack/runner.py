"""Running the Slack bot: ``run(services)`` for ``curiouscore bots slack``, hooks for ``serve``/``up``.

Socket Mode when ``SLACK_APP_TOKEN`` is set (development: no public URL); otherwise HTTP mode, where
``/slack/events`` (and the OAuth routes) are served — beside the API by ``serve``/``up``, or on
their own by ``curiouscore bots slack``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bots.slack.app import SlackBot, build_bot, check_settings, configured, socket_mode
from bots.slack.http import SlackEndpoint, aiohttp_app
from core.bootstrap import Services
from core.config import Settings

__all__ = ["configured", "http_job", "run", "server_hooks", "socket_mode"]

log = logging.getLogger(__name__)

Job = Callable[[Services], Coroutine[Any, Any, None]]


async def run_socket_mode(bot: SlackBot, settings: Settings) -> None:
    """Connect over Socket Mode and handle events until cancelled."""
    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("Slack bot connected in Socket Mode")
    try:
        await asyncio.Event().wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def serve_http(bot: SlackBot, settings: Settings) -> None:
    """Serve /slack/* on HOST:PORT (aiohttp) until cancelled."""
    endpoint = SlackEndpoint()
    endpoint.attach(bot)
    runner = web.AppRunner(aiohttp_app(endpoint), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.info("Slack bot listening on http://%s:%s/slack/events", settings.host, settings.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def run(services: Services, *, message_interval: float = 1.0) -> None:
    """Run the bot on its own until cancelled: Socket Mode or HTTP mode, by the settings."""
    bot = await build_bot(services, message_interval=message_interval)
    try:
        if socket_mode(services.settings):
            await run_socket_mode(bot, services.settings)
        else:
            await serve_http(bot, services.settings)
    finally:
        await bot.aclose()


def http_job(endpoint: SlackEndpoint, *, message_interval: float = 1.0) -> Job:
    """A background job for the API server: builds the bot and attaches it to ``endpoint``."""

    async def job(services: Services) -> None:
        bot = await build_bot(services, message_interval=message_interval)
        endpoint.attach(bot)
        try:
            await asyncio.Event().wait()
        finally:
            endpoint.attach(None)
            await bot.aclose()

    return job


def socket_job(*, message_interval: float = 1.0) -> Job:
    """A background job for the API server that runs the bot over Socket Mode."""

    async def job(services: Services) -> None:
        bot = await build_bot(services, message_interval=message_interval)
        try:
            await run_socket_mode(bot, services.settings)
        finally:
            await bot.aclose()

    return job


def server_hooks(settings: Settings) -> tuple[Job, SlackEndpoint | None]:
    """What ``serve``/``up`` add for Slack: a job, and in HTTP mode the endpoint to mount at /slack.

    Raises ``ConfigurationError`` before the server starts when a setting is missing.
    """
    check_settings(settings)
    if socket_mode(settings):
        return socket_job(), None
    endpoint = SlackEndpoint()
    return http_job(endpoint), endpoint
