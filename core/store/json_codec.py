"""Deterministic JSON for stored event data, snapshots and challenge definitions.

Every store (in-memory included) goes through these two functions, so what a caller gets back is
exactly what a database would give: plain JSON types, never the caller's own mutable objects.
"""

from __future__ import annotations

import json
from typing import Any


def dump_json(value: dict[str, Any]) -> str:
    """Given a JSON-able mapping, return its canonical text (sorted keys, compact, UTF-8 kept)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_json(text: str) -> dict[str, Any]:
    """Given text written by :func:`dump_json`, return the mapping it encodes."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError(f"stored JSON is a {type(value).__name__}, expected an object")
    return value
