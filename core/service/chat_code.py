"""Code typed into a chat thread (Discord, Slack): the first fenced block, as the learner wrote it.

The rule for both bots (``ChatService.act`` applies it to a code step's answer): the first ``` block
of the message, else the whole message (e.g. the Discord modal). Slack's ``text`` has no newline
after the opening fence (```def f():…```); Discord writes a language tag after it (```py). Both are
undone here, so the sandbox sees exactly the code in the block. Slack's entities are decoded by its
adapter before (``bots/slack/mrkdwn.message_text``, once); ``slack=True`` is for raw Slack text.
"""

from __future__ import annotations

import re

LANGUAGE_TAGS = frozenset({"python", "py", "python3", "sql", "sqlite", "text"})
_FENCED = re.compile(r"```(.*?)```", re.S)
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: "&amp;lt;" is "&lt;"


def code_from_chat(text: str, *, slack: bool = False) -> str:
    """Return the code in a chat message: its first ``` block, else the whole message."""
    if slack:
        for entity, char in _SLACK_ENTITIES:
            text = text.replace(entity, char)
    match = _FENCED.search(text)
    if match is None:
        body = text.strip()
        if len(body) > 1 and body.startswith("`") and body.endswith("`"):
            body = body[1:-1]
        return body
    body = match.group(1)
    first, newline, rest = body.partition("\n")
    if newline and (not first.strip() or first.strip().lower() in LANGUAGE_TAGS):
        body = rest  # a language tag (or nothing) on the fence line
    return body.rstrip()
