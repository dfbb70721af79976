"""A request's digest is stored with its idempotency key and compared with a retry's, possibly
computed by another process or release: it must stay the SHA-256 of the same canonical text."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.service import idempotency
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


def test_a_remembered_digest_is_the_digest_of_exactly_those_values() -> None:
    """Digests are remembered by their values with their types: ``1``, ``True``, ``1.0`` and
    ``"1"`` are equal or alike but written differently, so each keeps its own digest."""
    answers: list[Any] = [1, True, 1.0, "1", 0, False, 0.0, -0.0, None, "", 10**40, (1,), [1]]
    for _ in range(2):  # the second round finds what the first remembered
        for answer in answers:
            digest = request_digest("answer", step_id="s", answer=answer)
            assert digest == reference("answer", step_id="s", answer=answer), answer
        assert request_digest("continue", step_id="s") == reference("continue", step_id="s")
        assert request_digest("start") == reference("start")


def test_long_texts_and_other_types_are_digested_each_time() -> None:
    long = "x" * 5000
    assert request_digest("answer", step_id="s", answer=long) == reference(
        "answer", step_id="s", answer=long
    )
    assert request_digest("answer", step_id="s", answer=long + "y") == reference(
        "answer", step_id="s", answer=long + "y"
    )
    assert all(len(str(key)) < 2000 for key in idempotency._DIGESTS)
