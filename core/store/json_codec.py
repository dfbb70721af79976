"""Deterministic JSON for stored event data, snapshots and challenge definitions.

Every store (in-memory included) goes through these two functions, so what a caller gets back is
exactly what a database would give: plain JSON types, never the caller's own mutable objects.
"""

from __future__ import annotations

import json
from typing import Any

# Built once: ``json.dumps`` with options builds an encoder on every call, which cost as much as
# encoding a small event's data (a request encodes several: data, chain digests, snapshot).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dump_json(value: dict[str, Any]) -> str:
    """Given a JSON-able mapping, return its canonical text (sorted keys, compact, UTF-8 kept)."""
    return _CANONICAL.encode(value)


def load_json(text: str) -> dict[str, Any]:
    """Given text written by :func:`dump_json`, return the mapping it encodes."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError(f"stored JSON is a {type(value).__name__}, expected an object")
    return value


def hashable_text(value: dict[str, Any], text: str) -> str:
    """Given a mapping and its :func:`dump_json` text, return the canonical text of what a reader
    decodes from it: ``text`` itself, unless some mapping inside has a key that is not a string.

    Such a key is written as a string but sorted as what it was (``{10: …, 9: …}`` is written 9
    first, while its decoded ``{"10": …, "9": …}`` sorts "10" first), so only then does the text
    differ from the decoded value's; an event's digest covers the decoded value (what ``db verify``
    reads back). Checking the keys costs a fraction of decoding the text and encoding it again.
    """
    return text if _string_keys(value) else dump_json(load_json(text))


def _string_keys(value: dict[str, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """Whether every mapping in ``value`` (itself included) has keys of type ``str`` only (a
    subclass's, an enum's, counts as not: the caller then takes the slow, certain way)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                return False
            if isinstance(item, _CONTAINERS) and not _string_keys(item):
                return False
        return True
    return all(not isinstance(item, _CONTAINERS) or _string_keys(item) for item in value)


_CONTAINERS = (dict, list, tuple)  # what the encoder writes as objects and arrays
