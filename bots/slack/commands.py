"""Parsing ``/curiouscore …`` and app-mention text into a command name and its argument."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMES = ("list", "play", "status", "hint", "leaderboard", "link", "abandon", "restart", "help")
ALIASES = {"challenges": "list", "start": "play", "top": "leaderboard", "": "help"}
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    arg: str = ""
    raw: str = ""


def parse(text: str) -> Command:
    """Given the text after ``/curiouscore`` (or a mention), return the command; unknown → help."""
    cleaned = " ".join(_MENTION.sub(" ", text or "").split())
    head, _, rest = cleaned.partition(" ")
    name = ALIASES.get(head.lower(), head.lower())
    if name not in NAMES:
        return Command("unknown", cleaned, cleaned)
    return Command(name, rest.strip(), cleaned)
