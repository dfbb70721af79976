"""The one place where errors become what a Slack user reads: friendly, never a stack trace."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bots.slack.mrkdwn import escape
from core.errors import (
    ChallengeNotFound,
    DomainError,
    SessionNotActive,
    SessionNotFound,
    StepNotCurrent,
)
from core.store.base import StoreUnavailable

STEP_CLOSED = "That step is closed: carry on with the latest message in the thread."
NOT_YOURS = "That session isn't yours. Start your own with `/curiouscore play <challenge>`."
NOT_IN_CHANNEL = (
    "I'm not a member of this channel: invite me with `/invite @CuriousCore` (or a workspace "
    "admin can add the `chat:write.public` scope), then try again."
)
ARCHIVED = "This channel is archived: start the session in another channel (or unarchive it)."
CHANNEL_GONE = "I can't see this channel (deleted or private): use a channel I've been invited to."
# A session thread that can no longer be posted to: the session moves to a new thread.
THREAD_GONE = ("not_in_channel", "channel_not_found", "is_archived", "thread_not_found")
UNAVAILABLE = "CuriousCore can't reach its database right now. Please try again in a minute."
UNEXPECTED = "Something went wrong on our side. Please try again in a moment."


def friendly_message(error: BaseException) -> str:
    """Given any error a listener raised, return safe mrkdwn for the user who caused it."""
    if isinstance(error, StepNotCurrent | SessionNotActive):
        return STEP_CLOSED
    if isinstance(error, SessionNotFound):
        return NOT_YOURS
    if isinstance(error, ChallengeNotFound):
        return f"{escape(error.message)}. See `/curiouscore list`."
    if isinstance(error, DomainError):
        message = error.message
        return escape(message[:1].upper() + message[1:])
    if isinstance(error, StoreUnavailable):
        return UNAVAILABLE
    if isinstance(error, SlackApiError):
        code = slack_error_code(error)
        if code == "not_in_channel":
            return NOT_IN_CHANNEL
        if code == "is_archived":
            return ARCHIVED
        if code == "channel_not_found":
            return CHANNEL_GONE
        if code == "missing_scope":
            needed = _field(error, "needed")
            scope = f"the `{needed}` scope" if needed else "a scope it lacks"
            return f"This Slack app needs {scope}: ask a workspace admin to reinstall it with it."
    return UNEXPECTED


def _field(error: SlackApiError, name: str) -> str | None:
    data = getattr(error.response, "data", None)
    value = data.get(name) if isinstance(data, dict) else None
    return str(value) if value else None


def slack_error_code(error: SlackApiError) -> str | None:
    """Slack's ``error`` field (``not_in_channel``, …), if the response had a JSON body."""
    data = getattr(error.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code) if code else None
