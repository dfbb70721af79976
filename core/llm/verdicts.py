"""Turning a provider's structured output into a :class:`Verdict`, strictly.

A verdict must match the schema: one entry per rubric item, known ids only, points that are finite
numbers within [0, the item's maximum], a confidence within [0, 1] when given. Anything else is a
:class:`GraderError` (never clamped into a pass). The guard runs on every answer: one that instructs
the grader, stuffs keywords or hides behind look-alike letters is flagged and, on every item, scores
no more than the offline grader finds in what it honestly says, which never passes (an LLM's "pass"
does not override the guard). The verdict's confidence is the model's own, halved when the offline
grader reaches the other pass/fail decision.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any

from core.engine.commands import ItemVerdict, Verdict
from core.engine.events import LlmTrace
from core.llm.base import EvaluationRequest
from core.llm.errors import GraderError
from core.llm.grading_guard import GAMING_FLAGS
from core.llm.offline import (
    INSTRUCTION_FLAG,
    OfflineGrading,
    grade_offline,
    items_for_decision,
)

MAX_ITEM_FEEDBACK = 400
MAX_FEEDBACK = 800
MAX_RATIONALE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
INSTRUCTION_NOTE = (
    "Your answer contains instructions for the grader; only what it actually explains counts."
)
STUFFING_NOTE = "Your answer lists words rather than explaining; only explanations earn points."
# GRADING_REVIEW_BELOW's default: a grade less sure than this is marked needs_review.
REVIEW_BELOW = 0.6
# A model that does not state its confidence is taken to be this sure.
DEFAULT_MODEL_CONFIDENCE = 0.8
DISAGREEMENT_FACTOR = 0.5


def load_json_object(text: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object (a fenced ```json block is tolerated)."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.removeprefix("json").strip()
    try:
        data = json.loads(stripped)
    except ValueError:
        raise GraderError("the verdict is not valid JSON") from None
    if not isinstance(data, dict):
        raise GraderError("the verdict is not a JSON object")
    return data


def parse_verdict(
    data: object, request: EvaluationRequest, *, grader: str, trace: LlmTrace
) -> Verdict:
    """Validate ``data`` against the verdict schema for ``request``'s rubric; raise
    :class:`GraderError` (carrying ``trace``) when it does not fit. The model's own
    ``instruction_attempt`` becomes a flag; :func:`check_llm_verdict` does the rest."""
    try:
        verdict = _parse(data, request, grader=grader, trace=trace)
    except GraderError as error:
        raise GraderError(str(error), trace=trace) from None
    if _flagged(data):
        verdict = replace(verdict, flags=(*verdict.flags, INSTRUCTION_FLAG))
    return verdict


def check_llm_verdict(verdict: Verdict, request: EvaluationRequest) -> Verdict:
    """Put an LLM's verdict through the guard and weigh it against the offline grader (run by
    the orchestrator after the call, outside its deadline)."""
    offline = grade_offline(request)
    verdict = defend_against_instructions(
        verdict, request, model_flagged=INSTRUCTION_FLAG in verdict.flags, offline=offline
    )
    return weigh_against_offline(verdict, request, offline=offline)


def _flagged(data: object) -> bool:
    return isinstance(data, dict) and data.get("instruction_attempt") is True


def _parse(data: object, request: EvaluationRequest, *, grader: str, trace: LlmTrace) -> Verdict:
    if not isinstance(data, dict):
        raise GraderError("the verdict is not a JSON object")
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        raise GraderError("the verdict has no list of items")
    maximum = {criterion.id: criterion.points for criterion in request.rubric}
    items: dict[str, ItemVerdict] = {}
    for raw in raw_items:
        if not isinstance(raw, dict):
            raise GraderError("a verdict item is not an object")
        item_id, points = raw.get("id"), raw.get("points")
        if not isinstance(item_id, str) or item_id not in maximum:
            raise GraderError(f"the verdict names an unknown rubric item {str(item_id)[:40]!r}")
        if item_id in items:
            raise GraderError(f"the verdict grades rubric item {item_id!r} twice")
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise GraderError(f"the points for {item_id!r} are not a number")
        if not math.isfinite(points) or not 0 <= points <= maximum[item_id]:
            raise GraderError(
                f"the points for {item_id!r} are outside 0..{maximum[item_id]}: {points!r}"
            )
        feedback = _text(raw.get("feedback", ""), MAX_ITEM_FEEDBACK, f"feedback of {item_id!r}")
        items[item_id] = ItemVerdict(item_id, float(points), feedback)
    missing = [criterion.id for criterion in request.rubric if criterion.id not in items]
    if missing:
        raise GraderError(f"the verdict leaves out rubric item(s) {', '.join(missing)}")
    if "instruction_attempt" in data and not isinstance(data["instruction_attempt"], bool):
        raise GraderError("instruction_attempt is not a boolean")
    confidence = data.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
        or not 0 <= confidence <= 1
    ):
        raise GraderError(f"the verdict's confidence is not a number in 0..1: {confidence!r}")
    return Verdict(
        items=tuple(items[criterion.id] for criterion in request.rubric),
        feedback=_text(data.get("feedback"), MAX_FEEDBACK, "feedback"),
        rationale=_text(data.get("rationale", ""), MAX_RATIONALE, "rationale"),
        grader=grader,
        trace=trace,
        confidence=None if confidence is None else float(confidence),
    )


def _text(value: object, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise GraderError(f"the verdict's {what} is not text")
    cleaned = _CONTROL.sub("", value).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def defend_against_instructions(
    verdict: Verdict,
    request: EvaluationRequest,
    *,
    model_flagged: bool = False,
    offline: OfflineGrading | None = None,
) -> Verdict:
    """Run the guard on ``request``'s answer: when it (or the model) flags the answer, cap each
    item at what the honest content earns offline, which never passes. Other verdicts pass
    unchanged."""
    honest = offline or grade_offline(request)
    flags = [f for f in honest.flags if f in GAMING_FLAGS]
    if model_flagged and INSTRUCTION_FLAG not in flags:
        flags.append(INSTRUCTION_FLAG)
    if not flags:
        return verdict
    mark = request.points * request.pass_threshold / 100
    # A flagged answer never passes, even where the rules found it honest (the model flagged it).
    capped = items_for_decision(honest.items, request, passed=False, mark=mark)
    earned = {item.id: item.points for item in capped}
    items = tuple(
        replace(item, points=min(item.points, earned.get(item.id, 0.0))) for item in verdict.items
    )
    note = INSTRUCTION_NOTE if INSTRUCTION_FLAG in flags else STUFFING_NOTE
    return replace(
        verdict,
        items=items,
        flags=tuple(dict.fromkeys((*verdict.flags, *flags))),
        feedback=f"{note} {verdict.feedback}".strip(),
        rationale=f"{verdict.rationale} [capped: {', '.join(flags)}]".strip(),
    )


def weigh_against_offline(
    verdict: Verdict, request: EvaluationRequest, *, offline: OfflineGrading | None = None
) -> Verdict:
    """Set an LLM verdict's confidence: the model's own (or a default), halved when the offline
    grader reaches the other pass/fail decision."""
    offline = offline or grade_offline(request)
    mark = request.points * request.pass_threshold / 100
    passed = sum(item.points for item in verdict.items) + 1e-9 >= mark
    confidence = DEFAULT_MODEL_CONFIDENCE if verdict.confidence is None else verdict.confidence
    rationale = verdict.rationale
    if passed != offline.passed:
        confidence *= DISAGREEMENT_FACTOR
        rationale = (
            f"{rationale} [offline grader disagrees: {'pass' if offline.passed else 'fail'}, "
            f"confidence {offline.confidence:.2f}]"
        ).strip()
    return replace(verdict, confidence=round(confidence, 3), rationale=rationale)


def with_review(verdict: Verdict, review_below: float = REVIEW_BELOW) -> Verdict:
    """Mark ``verdict`` ``needs_review`` when its confidence is below ``review_below``."""
    if verdict.confidence is None:
        return verdict
    return replace(verdict, needs_review=verdict.confidence < review_below)
