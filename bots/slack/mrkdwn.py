"""Slack ``mrkdwn`` text: escaping untrusted text and keeping within Block Kit's size limits."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

SECTION_LIMIT = 3000
PLAIN_TEXT_LIMIT = 75  # button labels
ELLIPSIS = "…"

# Broadcasts typed without angle brackets still notify in some clients; a zero-width joiner after
# the "@" keeps the word readable but inert.
_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Make learner or LLM text safe for mrkdwn: no links, mentions or ``<!here>`` broadcasts.

    Slack's own control characters are ``&``, ``<`` and ``>``; once escaped, ``<!channel>`` and
    ``<@U123>`` are shown as text and never notify anyone.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060\\1", escaped)


# Slack wraps what it recognises in angle brackets: <https://x|label>, <mailto:a@b|a@b>.
_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_FENCE_LANGUAGE = re.compile(r"(?m)^(\s*```)[\w+#.-]+[ \t]*$")


def from_slack(text: str) -> str:
    """Given message text as Slack delivers it, return what the user typed.

    Slack escapes ``&``, ``<`` and ``>`` as entities and wraps links in angle brackets; both are
    undone here, once, so the stored answer is the learner's own text (``if x < 0 & y``) and is
    escaped exactly once on the way out.
    """

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        bare = target.split(":", 1)[1].removeprefix("//").rstrip("/")
        if not label or label in (target, bare):
            return label or target.removeprefix("mailto:")
        return f"{label} ({target})"

    unwrapped = _LINK.sub(link, text)
    return unwrapped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_text(event: Mapping[str, Any]) -> str:
    """What the user typed in a message event: from its ``rich_text`` blocks when it has them
    (exact: code blocks arrive unescaped, with their line breaks), else from ``text``."""
    typed = rich_text(event.get("blocks") or ())
    return typed if typed is not None else from_slack(str(event.get("text") or ""))


def rich_text(blocks: Sequence[Any]) -> str | None:
    """``rich_text`` blocks as plain text, a code block as a ``` fence on its own lines (None when
    there are none). Links give the text shown, mentions stay ``<@U…>`` (never resolved here)."""
    parts: list[str] = []
    found = False
    for block in blocks:
        if not isinstance(block, Mapping) or block.get("type") != "rich_text":
            continue
        found = True
        for element in block.get("elements") or ():
            parts.append(_rich_element(element))
    return "".join(parts).strip("\n") if found else None


def _rich_element(element: Any) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    inner = "".join(_rich_inline(e) for e in element.get("elements") or ())
    if kind == "rich_text_preformatted":
        return f"\n```\n{inner}\n```\n"
    if kind == "rich_text_list":
        items = [
            "".join(_rich_inline(e) for e in item.get("elements") or ())
            for item in element.get("elements") or ()
            if isinstance(item, Mapping)
        ]
        return "".join(f"- {item}\n" for item in items)
    if kind == "rich_text_quote":
        return "".join(f"> {line}\n" for line in inner.split("\n"))
    return inner


def _rich_inline(element: Any) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "text":
        text = str(element.get("text") or "")
        return f"`{text}`" if (element.get("style") or {}).get("code") else text
    if kind == "link":
        return str(element.get("text") or element.get("url") or "")
    if kind == "emoji":
        return f":{element.get('name', '')}:"
    if kind == "user":
        return f"<@{element.get('user_id', '')}>"
    if kind == "channel":
        return f"<#{element.get('channel_id', '')}>"
    if kind == "broadcast":
        return f"@{element.get('range', '')}"
    return str(element.get("text") or "")


def strip_fence_languages(text: str) -> str:
    """Slack shows a fence's language tag (```` ```python ````) as a stray first line: drop it."""
    return _FENCE_LANGUAGE.sub(r"\1", text)


def plain(text: str, limit: int = PLAIN_TEXT_LIMIT) -> str:
    """Untrusted text for a ``plain_text`` field (a button label): one line, at most ``limit``."""
    # plain_text is never parsed, but angle brackets are swapped anyway so that no label can even
    # look like a mention or a link.
    line = " ".join(text.split()).replace("<", "‹").replace(">", "›")
    line = _BROADCAST.sub("@\u2060\\1", line)
    return clip(line, limit) or "…"


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split escaped text into pieces of at most ``limit`` characters, at line breaks if it can.

    Never splits inside an ``&amp;``-style entity, so each piece stays valid mrkdwn.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
            amp = rest.rfind("&", max(0, cut - 5), cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return pieces
