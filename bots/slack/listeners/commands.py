"""``/curiouscore <command>``: acknowledge at once, then work, then reply ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack import render_home
from bots.slack.commands import Command, parse
from bots.slack.conversation import Conversation, Reply, SlackUser
from bots.slack.listeners.context import respond_reply, slack_user
from bots.slack.listeners.errors import reporting
from bots.slack.mrkdwn import from_slack


async def run_command(
    conversation: Conversation,
    client: AsyncWebClient,
    who: SlackUser,
    command: Command,
    *,
    channel_id: str,
    reply: Reply,
    thread_ts: str | None = None,
) -> None:
    """The commands slash and mention share."""
    if command.name == "play":
        await conversation.play(client, who, channel_id, command.arg, reply)
    elif command.name == "list":
        await conversation.catalogue(reply)
    elif command.name == "status":
        await conversation.status(client, who, reply)
    elif command.name == "hint":
        await conversation.hint_latest(client, who, reply, thread_ts)
    elif command.name in ("abandon", "restart"):
        await conversation.abandon(client, who, command.arg, reply, thread_ts)
        if command.name == "restart":
            await conversation.play(client, who, channel_id, command.arg, reply)
    elif command.name == "leaderboard":
        await conversation.leaderboard(reply)
    elif command.name == "link":
        await conversation.link(who, command.arg, reply)
    else:
        await reply(render_home.help_message(command.raw if command.name == "unknown" else None))


def register(app: AsyncApp, conversation: Conversation, name: str) -> None:
    @app.command(name)
    async def curiouscore(
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        async with conversation.work.running(), reporting(body, context):
            await run_command(
                conversation,
                client,
                slack_user(context, body, str(body.get("user_name") or "")),
                parse(from_slack(str(body.get("text") or ""))),
                channel_id=str(body.get("channel_id") or ""),
                reply=respond_reply(respond),
            )
