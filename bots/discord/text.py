"""Discord text rules: escaping untrusted text and splitting long text at clean boundaries."""

from __future__ import annotations

import re

import discord

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
LABEL_LIMIT = 80
OPTION_LIMIT = 100
FENCE = "```"


# escape_markdown escapes only the first masked link on a line; every bracket is escaped here.
# A bracket after an odd run of backslashes is already escaped; after an even run it is live.
_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")


def untrusted(text: str) -> str:
    """Learner or LLM text, shown literally: no Markdown, no masked links, no pings."""
    escaped = _BRACKET.sub(r"\1\\\2", discord.utils.escape_markdown(text))
    return discord.utils.escape_mentions(escaped)


# A fenced block as core writes around a program's output: ```text … ``` (longer fences when the
# output itself holds backticks).
_OUTPUT_FENCE = re.compile(r"(`{3,})[\w+-]*\n(.*?)\n\1", re.S)


def untrusted_with_code(text: str) -> str:
    """Like :func:`untrusted`, but fenced blocks (a program's output in test results) are shown as
    code blocks; their own backticks are broken up so that nothing inside can close them."""
    parts: list[str] = []
    last = 0
    for match in _OUTPUT_FENCE.finditer(text):
        parts.append(untrusted(text[last : match.start()]))
        body = match.group(2).rstrip("\n").replace("`", "`\u200b")
        parts.append(f"{FENCE}\n{body}\n{FENCE}")
        last = match.end()
    parts.append(untrusted(text[last:]))
    return "".join(parts)


def authored(text: str) -> str:
    """Challenge text keeps its Markdown; mentions are still neutralised."""
    return discord.utils.escape_mentions(text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    Cuts at a paragraph break, else a line break, else a space, else anywhere; a code fence left
    open at a cut is closed there and reopened in the next chunk, so each chunk renders on its own.
    """
    if limit < 200:
        raise ValueError("limit is too small to split cleanly")
    chunks: list[str] = []
    rest = text.strip("\n")
    reopen = ""
    while rest:
        rest = reopen + rest
        reopen = ""
        if len(rest) <= limit:
            chunks.append(rest)
            break
        # Leave room to close a fence that the cut might leave open.
        budget = limit - len(FENCE) - 1
        cut = _cut_point(rest, budget)
        chunk, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n ")
        fence = _open_fence(chunk)
        if fence is not None:
            chunk += "\n" + FENCE
            reopen = fence[:24] + "\n"
        chunks.append(chunk)
    return [chunk for chunk in chunks if chunk.strip()]


def _cut_point(text: str, budget: int) -> int:
    window = text[:budget]
    for separator in ("\n\n", "\n", " "):
        index = window.rfind(separator)
        if index > budget // 2:
            return index + len(separator)
    return budget


def _open_fence(chunk: str) -> str | None:
    """The opening line of a code fence left open in ``chunk`` (e.g. ```` ```python ````), if any."""
    opener: str | None = None
    for line in chunk.splitlines():
        stripped = line.strip()
        if stripped.startswith(FENCE):
            opener = None if opener is not None else stripped
    return opener
