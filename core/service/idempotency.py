"""Idempotency keys name one request: the digest stored with a key tells a retry from a reuse."""

from __future__ import annotations

import hashlib
import json

# Built once: ``json.dumps`` with options builds an encoder on every call, half the cost of a
# small request's digest.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
)


def request_digest(operation: str, **fields: object) -> str:
    """Given a use case's name and its arguments, return the SHA-256 of their canonical JSON.

    The same request always gives the same digest, across processes and restarts.
    """
    text = _CANONICAL.encode({"operation": operation, **fields})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
