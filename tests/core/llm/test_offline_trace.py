"""The offline provider's trace: its prompt hash is what ``json.dumps`` of ``asdict(request)``
hashed before the payload was read field by field (it is recorded in events: never changes)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pytest

from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, RubricCriterion
from core.llm.offline import OfflineProvider, _request_payload, prompt_hash


def _recorded_hash(request: object) -> str:
    """How the hash was computed when it was first recorded."""
    encoded = json.dumps(asdict(request), sort_keys=True, ensure_ascii=False, default=str)  # type: ignore[call-overload]
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:32]


class _Text(str):
    """A str subclass: not a plain scalar, so the request goes the ``asdict`` way."""


RUBRIC = (RubricCriterion("r1", "Names the café's rôle", 3, ("a", "b"), ("c",)),)
REQUESTS = [
    NarrationRequest("Fonctions", "warm", None, "Étape « un »", 'body\n\t"q"', None, "1/3"),
    NarrationRequest("T", "plain", "persona", "S", None, "Authored ✓ \u2028", ""),
    NarrationRequest("T", "plain", None, "S", None, _Text("sub"), ""),
    HintRequest("T", "S", "choice", "Pick", ("a", "ü"), (), 1, ("h",), ("0",), ("key",)),
    HintRequest("T", "S", "chat", "Explain", (), RUBRIC, 0, (), (), ()),
    EvaluationRequest("Explain", RUBRIC, None, "answer ü", 4, 2),
    EvaluationRequest(
        "Explain", (), "ref", "answer", 4, 2, ("p",), ("f",), 0.25, 3, (("x", True),)
    ),
    EvaluationRequest("Explain", (), "ref", "answer", 4, 2, (), (), 1e-7, 10**30),
]


@pytest.mark.parametrize("request_", REQUESTS)
def test_the_prompt_hash_is_the_one_recorded_before(request_: object) -> None:
    assert prompt_hash(_request_payload(request_)) == _recorded_hash(request_)


def test_a_flat_request_is_read_field_by_field_and_a_nested_one_by_asdict() -> None:
    flat = _request_payload(REQUESTS[0])
    assert flat == asdict(REQUESTS[0])  # type: ignore[call-overload]
    nested = _request_payload(REQUESTS[4])
    assert isinstance(nested, dict) and nested["rubric"] == (asdict(RUBRIC[0]),)


async def test_the_provider_records_that_hash() -> None:
    provider = OfflineProvider()
    narration = await provider.narrate(REQUESTS[0])  # type: ignore[arg-type]
    assert narration.trace is not None
    assert narration.trace.prompt_hash == _recorded_hash(REQUESTS[0])
    hint = await provider.hint(REQUESTS[4])  # type: ignore[arg-type]
    assert hint.trace is not None and hint.trace.prompt_hash == _recorded_hash(REQUESTS[4])
    verdict = await provider.evaluate(REQUESTS[6])  # type: ignore[arg-type]
    assert verdict.trace is not None and verdict.trace.prompt_hash == _recorded_hash(REQUESTS[6])


async def test_a_narrations_hash_is_remembered_by_value_and_stays_the_recorded_one() -> None:
    provider, provisional = OfflineProvider(), OfflineProvider(provisional=True)
    for request in REQUESTS[:3]:
        again = NarrationRequest(*(getattr(request, n) for n in request.__slots__))  # type: ignore[union-attr]
        for source in (provider, provisional, provider):
            for asked in (request, again):
                result = await source.narrate(asked)  # type: ignore[arg-type]
                assert result.trace is not None
                assert result.trace.prompt_hash == _recorded_hash(request)
                assert result.trace.provisional is (source is provisional)
    moved = NarrationRequest("Fonctions", "warm", None, "Étape « un »", 'body\n\t"q"', None, "2/3")
    narrated = await provider.narrate(moved)
    assert narrated.trace is not None and narrated.trace.prompt_hash == _recorded_hash(moved)


async def test_values_equal_but_written_differently_are_never_taken_for_each_other() -> None:
    """``1 == True``, but JSON writes ``1`` and ``true``: such a request is hashed each time."""
    provider = OfflineProvider()
    for summary in (1, True, 1.0, "1"):
        request = NarrationRequest("T", "plain", None, "S", None, None, summary)  # type: ignore[arg-type]
        narrated = await provider.narrate(request)
        assert narrated.trace is not None
        assert narrated.trace.prompt_hash == _recorded_hash(request)
