"""Reading who and where from bolt's request bodies, and building the ``reply`` a listener uses."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bots.slack.conversation import Reply, SlackUser
from bots.slack.poster import Poster
from bots.slack.render import SlackMessage


def team_of(context: AsyncBoltContext, body: dict[str, Any]) -> str:
    team = context.team_id or body.get("team_id") or (body.get("team") or {}).get("id")
    return str(team or context.enterprise_id or "")


def slack_user(context: AsyncBoltContext, body: dict[str, Any], name: str = "") -> SlackUser:
    user = body.get("user")
    user_id = context.user_id or (user.get("id") if isinstance(user, dict) else body.get("user_id"))
    return SlackUser(team_of(context, body), str(user_id or ""), name)


def respond_reply(respond: AsyncRespond) -> Reply:
    async def reply(message: SlackMessage) -> None:
        await respond(
            text=message.text,
            blocks=message.blocks,
            response_type="ephemeral",
            replace_original=False,
        )

    return reply


def ephemeral_reply(
    poster: Poster, context: AsyncBoltContext, channel: str, user: str, thread_ts: str | None
) -> Reply:
    async def reply(message: SlackMessage) -> None:
        assert context.client is not None
        await poster.ephemeral(context.client, channel, user, message, thread_ts=thread_ts)

    return reply
