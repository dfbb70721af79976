"""Idempotency keys name one request: the digest stored with a key tells a retry from a reuse."""

from __future__ import annotations

import hashlib
import json


def request_digest(operation: str, **fields: object) -> str:
    """Given a use case's name and its arguments, return the SHA-256 of their canonical JSON.

    The same request always gives the same digest, across processes and restarts.
    """
    text = json.dumps(
        {"operation": operation, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
