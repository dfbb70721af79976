"""The app's one error handler: log the cause, tell the user something friendly and ephemeral.

Only verified requests get here (``bots/slack/http.py`` refuses the rest before bolt), and a
``response_url`` is only called on Slack's own hosts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.slack.errors import friendly_message
from bots.slack.render_home import notice
from bots.slack.verification import response_url_allowed
from core.errors import DomainError

log = logging.getLogger(__name__)


def _where(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(channel, user, thread_ts) of the request that failed, whatever its kind."""
    event = body.get("event") or {}
    channel = (
        body.get("channel_id")
        or (body.get("container") or {}).get("channel_id")
        or (body.get("channel") or {}).get("id")
        or event.get("channel")
    )
    user = body.get("user_id") or (body.get("user") or {}).get("id") or event.get("user")
    thread_ts = (body.get("message") or {}).get("thread_ts") or event.get("thread_ts")
    return channel, user, thread_ts


async def report(error: Exception, body: dict[str, Any], context: AsyncBoltContext) -> None:
    """The one translation of an error for Slack: log the cause, tell the user something friendly."""
    if isinstance(error, DomainError):
        log.info("request refused: %s", error.code)
    else:
        log.error("Slack listener failed", exc_info=error)
    message = notice(friendly_message(error))
    body = body or {}
    channel, user, thread_ts = _where(body)
    response_url = body.get("response_url")
    client = context.client
    try:
        if response_url and client is not None:
            # HTTP mode has refused such bodies already; Socket Mode bodies get the same rule.
            if not response_url_allowed(response_url, client.base_url):
                log.warning("not answering a response_url off Slack's hosts")
                return
            await AsyncWebhookClient(response_url).send(
                text=message.text,
                blocks=message.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
        elif channel and user and client is not None:
            await client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
            )
    except (SlackApiError, SlackClientError, aiohttp.ClientError) as failure:
        # Telling the user failed too (e.g. we were removed from the channel): log only.
        log.warning("could not report an error to the Slack user: %s", failure)


@asynccontextmanager
async def reporting(body: dict[str, Any], context: AsyncBoltContext) -> AsyncIterator[None]:
    """Run a listener's work after ``ack()``, sending any error to :func:`report`.

    Bolt's own error path would race the acknowledgement (an error raised within ~10 ms of
    ``ack()`` turns the already-sent 200 into a timeout), so work after ``ack()`` reports here.
    """
    try:
        yield
    except Exception as error:
        await report(error, body, context)


def register(app: AsyncApp) -> None:
    """Errors before ``ack()`` (middleware, parsing) reach the same translation."""
    app.error(report)
