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
