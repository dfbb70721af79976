"""Turning a provider's structured output into a :class:`Verdict`, strictly.

A verdict must match the schema: one entry per rubric item, known ids only, points that are finite
numbers within [0, the item's maximum]. Anything else is a :class:`GraderError` (never clamped into
a pass). Answers that try to instruct the grader are flagged, and on every item they score no more
than the offline evaluator finds in what they honestly say.
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
from core.llm.offline import INSTRUCTION_FLAG, evaluate_offline
from core.llm.text import looks_like_instructions

MAX_ITEM_FEEDBACK = 400
MAX_FEEDBACK = 800
MAX_RATIONALE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
INSTRUCTION_NOTE = (
    "Your answer contains instructions for the grader; only what it actually explains counts."
)


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
    :class:`GraderError` (carrying ``trace``) when it does not fit."""
    try:
        verdict = _parse(data, request, grader=grader, trace=trace)
    except GraderError as error:
        raise GraderError(str(error), trace=trace) from None
    return defend_against_instructions(verdict, request, model_flagged=_flagged(data))


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
    return Verdict(
        items=tuple(items[criterion.id] for criterion in request.rubric),
        feedback=_text(data.get("feedback"), MAX_FEEDBACK, "feedback"),
        rationale=_text(data.get("rationale", ""), MAX_RATIONALE, "rationale"),
        grader=grader,
        trace=trace,
    )


def _text(value: object, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise GraderError(f"the verdict's {what} is not text")
    cleaned = _CONTROL.sub("", value).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def defend_against_instructions(
    verdict: Verdict, request: EvaluationRequest, *, model_flagged: bool = False
) -> Verdict:
    """Flag an answer that instructs the grader and cap each item at what its honest content
    earns offline (so a persuaded grader cannot lift it). Other verdicts pass unchanged."""
    if not (model_flagged or looks_like_instructions(request.answer)):
        return verdict
    honest = evaluate_offline(request, trace=verdict.trace or LlmTrace("offline", "offline"))
    earned = {item.id: item.points for item in honest.items}
    items = tuple(
        replace(item, points=min(item.points, earned.get(item.id, 0.0))) for item in verdict.items
    )
    flags = tuple(dict.fromkeys((*verdict.flags, INSTRUCTION_FLAG)))
    return replace(
        verdict,
        items=items,
        flags=flags,
        feedback=f"{INSTRUCTION_NOTE} {verdict.feedback}".strip(),
        rationale=f"{verdict.rationale} [capped: instruction attempt]".strip(),
    )
