"""The per-session hash chain that makes an edited, removed or reordered event detectable.

Each stored event carries ``sha256`` over the canonical JSON of its session id, version, type,
schema version, data and the previous event's hash (``None`` for the first event of a chain).
Every store computes it inside ``append``; ``db verify`` recomputes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from core.store.json_codec import dump_json


def chain_hash(
    session_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: dict[str, Any],
    previous: str | None,
) -> str:
    """Given one event and the hash of the event before it in its session, return its hash."""
    payload = {
        "data": data,
        "previous": previous,
        "schema_version": schema_version,
        "session_id": session_id,
        "type": event_type,
        "version": version,
    }
    return hashlib.sha256(dump_json(payload).encode("utf-8")).hexdigest()


def chain_hashes(
    session_id: str,
    first_version: int,
    events: Sequence[tuple[str, int, dict[str, Any]]],
    previous: str | None,
) -> list[str]:
    """Given ``(type, schema_version, data)`` triples appended from ``first_version`` on after an
    event hashed ``previous``, return their hashes in order."""
    hashes: list[str] = []
    for offset, (event_type, schema_version, data) in enumerate(events):
        previous = chain_hash(
            session_id, first_version + offset, event_type, schema_version, data, previous
        )
        hashes.append(previous)
    return hashes
