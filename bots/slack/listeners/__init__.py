"""Listener registration, kept apart from the listeners themselves (bolt's starter-template shape)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bots.slack.conversation import Conversation
from bots.slack.listeners import actions, commands, errors, events


def register(app: AsyncApp, conversation: Conversation, *, command: str = "/curiouscore") -> None:
    commands.register(app, conversation, command)
    actions.register(app, conversation)
    events.register(app, conversation)
    errors.register(app)
