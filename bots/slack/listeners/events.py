"""Events: thread replies (chat answers), app mentions (commands) and the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.commands import parse
from bots.slack.conversation import Conversation
from bots.slack.listeners.commands import run_command
from bots.slack.listeners.context import ephemeral_reply, slack_user
from bots.slack.listeners.errors import reporting
from bots.slack.mrkdwn import from_slack, message_text


def register(app: AsyncApp, conversation: Conversation) -> None:
    @app.event("message")
    async def thread_message(
        body: dict[str, Any],
        event: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        thread_ts = event.get("thread_ts")
        text = message_text(event)
        if (
            not thread_ts
            or thread_ts == event.get("ts")
            or event.get("subtype")
            or event.get("bot_id")
            or (context.bot_user_id and f"<@{context.bot_user_id}>" in str(event.get("text")))
        ):
            return  # not a reply, an edit, a bot, or a mention (the mention listener takes it)
        who = slack_user(context, body)
        channel = str(event.get("channel") or "")
        async with conversation.work.running(), reporting(body, context):
            await conversation.thread_reply(
                client,
                who,
                thread_ts=str(thread_ts),
                text=text,
                event_id=str(body.get("event_id") or ""),
                reply=ephemeral_reply(
                    conversation.poster, context, channel, who.user_id, str(thread_ts)
                ),
            )

    @app.event("app_mention")
    async def mention(
        body: dict[str, Any],
        event: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        event_id = str(body.get("event_id") or "")
        who = slack_user(context, body)
        channel = str(event.get("channel") or "")
        thread_ts = event.get("thread_ts")
        async with conversation.work.running(), reporting(body, context):
            if event_id and not await conversation.first_delivery(event_id):
                return
            await run_command(
                conversation,
                client,
                who,
                parse(from_slack(str(event.get("text") or ""))),
                channel_id=channel,
                reply=ephemeral_reply(
                    conversation.poster,
                    context,
                    channel,
                    who.user_id,
                    str(thread_ts) if thread_ts else None,
                ),
                thread_ts=str(thread_ts) if thread_ts else None,
            )

    @app.event("app_home_opened")
    async def home(
        event: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        if event.get("tab", "home") != "home":
            return
        async with reporting(body, context):
            await conversation.publish_home(client, slack_user(context, body))
