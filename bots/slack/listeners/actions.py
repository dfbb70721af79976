"""Button presses in a step message (ids ``cc:<session>:<step>:<action>[:<arg>]``)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bots.common.ids import ComponentId, decode
from bots.slack.conversation import Click, Conversation
from bots.slack.listeners.context import ephemeral_reply, slack_user
from bots.slack.listeners.errors import reporting

OURS = re.compile(r"^cc:")


def checked_choices(body: dict[str, Any], component: ComponentId) -> tuple[int, ...]:
    """The boxes ticked in the step's checkbox groups (read from the message's ``state``)."""
    picked: list[int] = []
    values = (body.get("state") or {}).get("values") or {}
    for block in values.values():
        for action_id, state in block.items():
            toggle = decode(action_id)
            if toggle is None or toggle.action != "toggle":
                continue
            if (toggle.session_id, toggle.step_id) != (component.session_id, component.step_id):
                continue
            for option in state.get("selected_options") or ():
                value = str(option.get("value", ""))
                if value.isdigit():
                    picked.append(int(value))
    return tuple(sorted(set(picked)))


def register(app: AsyncApp, conversation: Conversation) -> None:
    @app.action(OURS)
    async def step_action(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        action = body["actions"][0]
        component = decode(str(action.get("action_id", "")))
        if component is None or component.action == "toggle":
            return  # ticking a box only changes the message's state until Submit
        container = body.get("container") or {}
        channel_id = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        message = body.get("message") or {}
        who = slack_user(context, body, str((body.get("user") or {}).get("username") or ""))
        click = Click(
            component=component,
            channel_id=channel_id,
            message_ts=str(container.get("message_ts") or message.get("ts") or ""),
            action_ts=str(action.get("action_ts") or ""),
            choices=checked_choices(body, component),
            blocks=tuple(b for b in message.get("blocks") or () if isinstance(b, dict)),
        )
        thread_ts = message.get("thread_ts")
        reply = ephemeral_reply(
            conversation.poster,
            context,
            channel_id,
            who.user_id,
            str(thread_ts) if thread_ts else None,
        )
        async with conversation.work.running(), reporting(body, context):
            await conversation.click(client, who, click, reply)
