"""Idempotency keys name one request: the digest stored with a key tells a retry from a reuse."""

from __future__ import annotations

import hashlib

from core.store.json_codec import canonical_dumper

# Built once, on json's C encoder (``json.dumps`` with options builds an encoder on every call,
# half the cost of a small request's digest; ``JSONEncoder.encode`` a C encoder object).
_canonical = canonical_dumper(repr)


def request_digest(operation: str, **fields: object) -> str:
    """Given a use case's name and its arguments, return the SHA-256 of their canonical JSON.

    The same request always gives the same digest, across processes and restarts.
    """
    text = _canonical({"operation": operation, **fields})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
