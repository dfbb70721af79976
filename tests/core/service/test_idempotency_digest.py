"""A request's digest is stored with its idempotency key and compared with a retry's, possibly
computed by another process or release: it must stay the SHA-256 of the same canonical text."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.service.idempotency import request_digest


def reference(operation: str, **fields: Any) -> str:
    """What the digest always was: ``json.dumps`` with the canonical options, ``repr`` for the
    rest."""
    text = json.dumps(
        {"operation": operation, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"step_id": "s-1", "answer": 2},
        {"step_id": 'é "q" \\ \n\u2028 🎲', "answer": "text answer ✓"},
        {"step_id": "s", "answer": [0, 2]},
        {"step_id": "s", "answer": (1, 3)},
        {"step_id": "s", "answer": True},
        {"step_id": "s", "answer": 1.5, "extra": None},
        {"step_id": "s", "answer": {3, 1}},  # no JSON type: written as its repr
        {"step_id": "s", "answer": {"b": 1, "a": [float("inf")]}},
    ],
)
def test_digest_is_the_canonical_text_hashed(fields: dict[str, Any]) -> None:
    assert request_digest("answer", **fields) == reference("answer", **fields)


def test_a_circular_value_is_refused_and_the_next_digest_is_right() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        request_digest("answer", answer=loop)
    assert request_digest("answer", answer=[1]) == reference("answer", answer=[1])
