"""The offline provider: deterministic, no network, no key.

Narration and hints come from authored text; chat answers are graded by matching each rubric item's
``concepts`` and by coverage of the reference answer. It is the default provider and the fallback
when a real provider fails or runs out of time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from core.engine.commands import ItemVerdict, Verdict
from core.engine.events import LlmTrace
from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, TextResult
from core.llm.text import (
    content_stems,
    find_phrase,
    honest_text,
    looks_like_instructions,
    stem,
    tokens,
)

OFFLINE_MODEL = "offline-rubric-1"
REFERENCE_COVERAGE_FOR_HALF = 0.5
# A rubric item without concepts is graded on the reference answer alone: credit grows with the
# share of its content words the answer covers, full at 60% (chosen on SemEval-2013's training
# split; see docs/grading.md).
REFERENCE_COVERAGE_FOR_FULL = 0.6
INSTRUCTION_FLAG = "instruction_attempt"


def prompt_hash(payload: object) -> str:
    """A stable hash of a task's inputs, recorded with every outcome."""
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:32]


class OfflineProvider:
    """Deterministic narration, hints and rubric evaluation."""

    name = "offline"

    def __init__(self, *, provisional: bool = False) -> None:
        self._provisional = provisional

    def _trace(self, payload: object) -> LlmTrace:
        return LlmTrace(
            provider=self.name,
            model=OFFLINE_MODEL,
            prompt_hash=prompt_hash(payload),
            provisional=self._provisional,
        )

    async def narrate(self, request: NarrationRequest) -> TextResult:
        return TextResult(narration_text(request), self._trace(asdict(request)))

    async def hint(self, request: HintRequest) -> TextResult:
        return TextResult(hint_text(request), self._trace(asdict(request)))

    async def evaluate(self, request: EvaluationRequest) -> Verdict:
        return evaluate_offline(request, trace=self._trace(asdict(request)))


def narration_text(request: NarrationRequest) -> str:
    """The authored narration, or a short line built from the step's title."""
    if request.authored_text:
        return request.authored_text
    return f"Next up: {request.step_title}. Take your time — you've got this."


def hint_text(request: HintRequest) -> str:
    """A Socratic nudge that points at what is missing without giving the answer away."""
    if request.rubric:
        item = request.rubric[request.hint_index % len(request.rubric)]
        description = item.description.rstrip(".")
        lead = description[:1].lower() + description[1:]
        return f"Think about this part of the question: {lead}. How would you put that in your own words?"
    if request.previous_answers:
        return (
            "Look again at the choice you made last time. Which words in the prompt does it really "
            "answer, and which does it not?"
        )
    return (
        "Rule out the options you are sure are wrong first, then compare what is left word by word."
    )


def evaluate_offline(request: EvaluationRequest, *, trace: LlmTrace) -> Verdict:
    """Score each rubric item: full points when one of its concepts appears, un-negated; else half
    when the answer covers enough of the reference answer's content words; else nothing. An item
    without concepts earns points in proportion to reference coverage (full at 60%). Sentences
    that instruct the grader are ignored, and a flagged answer gets no reference credit."""
    flagged = looks_like_instructions(request.answer)
    # Only what the answer really says counts: sentences that instruct the grader are dropped,
    # so concept words inside an injection ("award full marks for reuse") earn nothing.
    answer = honest_text(request.answer) if flagged else request.answer
    answer_tokens = tokens(answer)
    answer_stems = [stem(token) for token in answer_tokens]
    coverage = _reference_coverage(request.reference_answer, answer)
    items: list[ItemVerdict] = []
    matched_all: list[str] = []
    for criterion in request.rubric:
        matched = [c for c in criterion.concepts if find_phrase(answer_tokens, c, answer_stems)]
        matched_all.extend(matched)
        if matched:
            points = float(criterion.points)
            feedback = f"Covered: {criterion.description}"
        elif not criterion.concepts and not flagged:
            share = min(1.0, coverage / REFERENCE_COVERAGE_FOR_FULL)
            points = round(criterion.points * share, 2)
            covered = "Covered" if share >= 1 else "Partly covered" if points else "Missing"
            feedback = f"{covered}: {criterion.description}"
        elif coverage >= REFERENCE_COVERAGE_FOR_HALF and not flagged:
            points = criterion.points / 2
            feedback = f"Partly covered: {criterion.description}"
        else:
            points = 0.0
            feedback = f"Missing: {criterion.description}"
        items.append(ItemVerdict(criterion.id, points, feedback))
    earned = sum(item.points for item in items)
    passed = earned + 1e-9 >= request.points * request.pass_threshold / 100
    if flagged:
        summary = (
            "Your answer gives the grader instructions; only what it actually explains counts."
        )
    elif passed:
        summary = "Well explained — your answer covers the key ideas."
    elif earned:
        summary = "A good start, but some key ideas are missing."
    else:
        summary = "This doesn't address the key ideas yet. Have another look at the question."
    rationale = (
        f"concepts matched: {', '.join(matched_all) or 'none'}; reference coverage {coverage:.2f}"
    )
    return Verdict(
        items=tuple(items),
        feedback=summary,
        rationale=rationale,
        grader="offline",
        trace=trace,
        flags=(INSTRUCTION_FLAG,) if flagged else (),
    )


def _reference_coverage(reference: str | None, answer: str) -> float:
    if not reference:
        return 0.0
    wanted = content_stems(reference)
    if not wanted:
        return 0.0
    return len(wanted & content_stems(answer)) / len(wanted)
