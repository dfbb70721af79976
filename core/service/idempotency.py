"""Idempotency keys name one request: the digest stored with a key tells a retry from a reuse."""

from __future__ import annotations

import hashlib

from core.engine.memo import BoundedDict
from core.store.json_codec import canonical_dumper

# Built once, on json's C encoder (``json.dumps`` with options builds an encoder on every call,
# half the cost of a small request's digest; ``JSONEncoder.encode`` a C encoder object).
_canonical = canonical_dumper(repr)

# The digests of recent requests, by their values (``_key``): most learner actions repeat one
# another's arguments (the step's id, a choice), and the canonical text and its SHA-256 were
# ~22k instructions a digest under callgrind (~7k remembered). The use cases in process 893k → 882k
# instructions per request, the whole app 1,158k → 1,149k (``bench_asgi --callgrind``).
_DIGESTS: BoundedDict[tuple[object, ...], str] = BoundedDict(4096)
# Values whose type and value decide their JSON: equal values of one of these types are written
# alike (a float is not: ``0.0 == -0.0``), and a key keeps each value's type (``1 == True``).
_KEYED = frozenset({str, int, bool, type(None)})
_LONGEST_KEPT = 256  # characters of a text argument (a chat answer can be long: not kept)


def request_digest(operation: str, **fields: object) -> str:
    """Given a use case's name and its arguments, return the SHA-256 of their canonical JSON.

    The same request always gives the same digest, across processes and restarts.
    """
    key = _key(operation, fields)
    if key is None:
        return _digest(operation, fields)
    found = _DIGESTS.get(key)
    return _DIGESTS.keep(key, _digest(operation, fields)) if found is None else found


def _digest(operation: str, fields: dict[str, object]) -> str:
    text = _canonical({"operation": operation, **fields})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key(operation: str, fields: dict[str, object]) -> tuple[object, ...] | None:
    """The request's values with their types, or None when one of them is not a short text, a
    whole number, a boolean or None (such a request is digested each time)."""
    if type(operation) is not str or len(operation) > _LONGEST_KEPT:
        return None
    key: list[object] = [operation]
    for name, value in fields.items():
        kind = type(value)
        if kind not in _KEYED or (kind is str and len(value) > _LONGEST_KEPT):  # type: ignore[arg-type]
            return None
        key += (name, kind, value)
    return tuple(key)
