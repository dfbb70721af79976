"""The offline provider: deterministic, no network, no key.

Narration and hints come from authored text; chat answers are graded by matching each rubric item's
``concepts`` and by coverage of the reference answer. It is the default provider and the fallback
when a real provider fails or runs out of time.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

from core.engine.commands import ItemVerdict, Verdict
from core.engine.events import LlmTrace
from core.engine.memo import BoundedDict
from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, TextResult
from core.llm.grading_guard import GAMING_FLAGS, INSTRUCTION_FLAG, StepWords, guard, step_words
from core.llm.grading_learned import LEARNED_CUTOFF
from core.llm.grading_model import StepGrader, StepMaterial, step_grader
from core.llm.grading_text import (
    Analysed,
    analyse,
    asserts_phrase,
    asserts_statement,
    normalise,
)
from core.llm.text import honest_text

OFFLINE_MODEL = "offline-rubric-2"
REFERENCE_COVERAGE_FOR_HALF = 0.5
# A rubric item without concepts is graded on the reference answer alone: credit grows with the
# share of its content words the answer covers, full at 60% (chosen on SemEval-2013's training
# split; see docs/grading.md).
REFERENCE_COVERAGE_FOR_FULL = 0.6
# The calibrated probability's distance from the step's cut-off at which the grader is sure.
CONFIDENT_MARGIN = 0.25
# When the concept route and the calibrated decision disagree, the nearest labelled example
# decides if it is at least this similar (cosine of IDF-weighted keys).
VETO_SIMILARITY = 0.3
# ...and at least this much more similar than the nearest example of the other label.
VETO_LEAD = 0.1
# Otherwise the calibrated decision stands when it is this far from the cut-off; nearer, the
# author's concepts decide.
SURE_MARGIN = 0.15
# A step without a pass and a fail example is graded on the global cut-off: less sure.
UNCALIBRATED_DISCOUNT = 0.85
__all__ = ["INSTRUCTION_FLAG", "OfflineProvider", "evaluate_offline", "grade_offline"]


# What ``json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)`` builds on every
# call, built once (``encode`` keeps no state between calls: safe to share).
_PROMPT_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)
# The exact types ``asdict`` returns as they are (``deepcopy`` of an immutable scalar is itself).
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # request class -> its field names, in order


def prompt_hash(payload: object) -> str:
    """A stable hash of a task's inputs, recorded with every outcome."""
    encoded = _PROMPT_ENCODER.encode(payload)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:32]


def _request_payload(request: object) -> object:
    """``asdict(request)`` as JSON writes it, for the request dataclasses: a flat request (every
    field a scalar, or a tuple of scalars) is read field by field; any other is ``asdict``'s.

    ``asdict`` walks every field through ``deepcopy`` and copies each tuple; a narration request
    is all strings, and building its mapping was half the cost of its trace (the other half, the
    JSON and its hash, as before). A tuple written as it is gives the same JSON as its copy.
    With the encoder built once: the use cases in process 1,007k → 997k instructions per request
    (``bench_asgi --callgrind --through service``; one narration every ~7 requests)."""
    kind = type(request)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(request))  # type: ignore[arg-type]
    payload: dict[str, object] = {}
    for name in names:
        value = getattr(request, name)
        if type(value) not in _SCALARS and not (
            type(value) is tuple and all(type(item) in _SCALARS for item in value)
        ):
            return asdict(request)  # type: ignore[call-overload]
        payload[name] = value
    return payload


# A narration request's values -> its prompt hash. Learners at the same point of a challenge send
# the same request (its texts are the step's, its progress summary a short line), and its JSON
# and SHA-256 (of the step's body and narration, ~1.5 KB) were most of a narration's cost: the
# use cases in process 915k → 900k instructions per request, the whole app 1,183k → 1,166k
# (``bench_asgi --callgrind [--through service]``).
_NARRATION_HASHES: BoundedDict[tuple[str | None, ...], str] = BoundedDict(4096)


def _narration_hash(request: NarrationRequest) -> str:
    """``prompt_hash(_request_payload(request))``, remembered by the request's values when each is
    a ``str`` or None: values equal as these types are written as the same JSON (``1 == True``
    could not be told apart, so any other value is hashed each time)."""
    payload = _request_payload(request)
    if type(payload) is not dict:
        return prompt_hash(payload)
    key = tuple(payload.values())
    for value in key:
        if value is not None and type(value) is not str:
            return prompt_hash(payload)
    found = _NARRATION_HASHES.get(key)
    return _NARRATION_HASHES.keep(key, prompt_hash(payload)) if found is None else found


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
        trace = LlmTrace(
            provider=self.name,
            model=OFFLINE_MODEL,
            prompt_hash=_narration_hash(request),
            provisional=self._provisional,
        )
        return TextResult(narration_text(request), trace)

    async def hint(self, request: HintRequest) -> TextResult:
        return TextResult(hint_text(request), self._trace(_request_payload(request)))

    async def evaluate(self, request: EvaluationRequest) -> Verdict:
        return evaluate_offline(request, trace=self._trace(_request_payload(request)))


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
    """Grade a chat answer offline: per-item points from the rubric's concepts (and
    misconceptions), the pass decision from the step's calibrated grader, a confidence.

    The guard runs first: an answer that instructs the grader, stuffs keywords or hides behind
    look-alike letters is flagged and cannot pass; only what it honestly says earns item points.
    """
    grading = grade_offline(request)
    return Verdict(
        items=grading.items,
        feedback=grading.summary,
        rationale=grading.rationale,
        grader="offline",
        trace=trace,
        flags=grading.flags,
        confidence=grading.confidence,
    )


@dataclass(frozen=True, slots=True)
class OfflineGrading:
    """The offline grader's working, for the verdict and for authoring reports."""

    items: tuple[ItemVerdict, ...]
    passed: bool
    concept_passed: bool
    probability: float
    cutoff: float
    confidence: float
    flags: tuple[str, ...]
    summary: str
    rationale: str


def grade_offline(request: EvaluationRequest) -> OfflineGrading:
    """The offline grader's full working for ``request`` (see :func:`evaluate_offline`)."""
    step = _step_words(request)
    flags = guard(request.answer, step)
    instructing = INSTRUCTION_FLAG in flags
    # Only what the answer really says counts: sentences that instruct the grader are dropped,
    # so concept words inside an injection ("award full marks for reuse") earn nothing.
    answer = analyse(honest_text(normalise(request.answer)) if instructing else request.answer)
    material = StepMaterial(
        request.prompt, request.reference_answer, request.pass_examples, request.fail_examples
    )
    grader = step_grader(material)
    coverage = _reference_coverage(grader, answer)
    items, matched_all, misconceptions = _concept_items(request, answer, coverage, bool(flags))
    mark = request.points * request.pass_threshold / 100
    earned = sum(item.points for item in items)
    concept_passed = earned + 1e-9 >= mark
    probability = grader.probability(answer)
    cutoff = grader.calibration.cutoff
    calibrated_passed = probability >= cutoff
    margin = min(1.0, abs(probability - cutoff) / CONFIDENT_MARGIN)
    route = "agree"
    if concept_passed == calibrated_passed:
        passed = calibrated_passed
        confidence = 0.6 + 0.4 * margin
    else:
        # The two routes disagree: the nearest labelled example decides, with low confidence.
        # Without a pass and a fail example there is nothing calibrated to weigh against the
        # author's concepts, so they decide.
        # A close call means the examples (which the probability already weighs, nearest and
        # three nearest) do not settle it: then the author's concepts are the better evidence.
        nearest = grader.nearest_example(answer)
        has_concepts = any(c.concepts for c in request.rubric)
        if has_concepts and not grader.calibration.calibrated:
            passed = concept_passed
            route = "no cut-off calibrated on the step's examples: the concepts decide"
        elif has_concepts and abs(probability - cutoff) < SURE_MARGIN:
            passed = concept_passed
            route = "a close call: the concepts decide"
        elif nearest is not None and nearest[1] >= VETO_SIMILARITY and nearest[2] >= VETO_LEAD:
            passed = nearest[0] == "pass"
            route = f"nearest example ({nearest[0]}, similarity {nearest[1]:.2f}) decides"
        else:
            passed = calibrated_passed
            route = "calibrated decision decides"
        confidence = 0.3 + 0.25 * margin
    if not grader.calibration.calibrated:
        confidence *= UNCALIBRATED_DISCOUNT
    learned = request.learned_probability
    if learned is not None:
        # The step's own model, trained on its reviewed answers, decides: on public data a
        # per-question model beats every generic measure (docs/grading.md). The generic route
        # agreeing with it makes the verdict surer.
        learned_passed = learned >= LEARNED_CUTOFF
        learned_margin = min(1.0, abs(learned - LEARNED_CUTOFF) / CONFIDENT_MARGIN)
        agrees = learned_passed == passed
        passed = learned_passed
        confidence = (0.6 if agrees else 0.35) + (0.4 if agrees else 0.25) * learned_margin
        route += (
            f"; step model ({request.learned_labels} reviewed answers) p {learned:.2f}: "
            f"{'pass' if learned_passed else 'fail'} decides"
        )
    if misconceptions or any(flag in GAMING_FLAGS for flag in flags):
        passed = False
        confidence = max(confidence, 0.9 if flags else confidence)
    items = items_for_decision(items, request, passed=passed, mark=mark)
    summary = _summary(flags, misconceptions, passed, sum(item.points for item in items))
    rationale = (
        f"concepts matched: {', '.join(matched_all) or 'none'}; reference coverage {coverage:.2f}; "
        f"calibrated p {probability:.2f} vs cut-off {cutoff:.2f} "
        f"({'step examples' if grader.calibration.calibrated else 'global'}); "
        f"concept route {'pass' if concept_passed else 'fail'}, {route}"
    )
    if misconceptions:
        rationale += f"; misconception: {'; '.join(misconceptions)}"
    if flags:
        rationale += f"; guard: {', '.join(flags)}"
    return OfflineGrading(
        items=items,
        passed=passed,
        concept_passed=concept_passed,
        probability=probability,
        cutoff=cutoff,
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        flags=flags,
        summary=summary,
        rationale=rationale,
    )


def _step_words(request: EvaluationRequest) -> StepWords:
    return _cached_step_words(
        request.prompt,
        request.reference_answer,
        tuple((c.id, c.description, c.concepts) for c in request.rubric),
        request.pass_examples,
    )


@lru_cache(maxsize=256)
def _cached_step_words(
    prompt: str,
    reference: str | None,
    rubric: tuple[tuple[str, str, tuple[str, ...]], ...],
    examples: tuple[str, ...],
) -> StepWords:
    return step_words(prompt, reference, rubric, examples)


def _concept_items(
    request: EvaluationRequest, answer: Analysed, coverage: float, flagged: bool
) -> tuple[tuple[ItemVerdict, ...], list[str], list[str]]:
    """Per-item points and feedback from concepts, misconceptions and reference coverage."""
    items: list[ItemVerdict] = []
    matched_all: list[str] = []
    misconceptions: list[str] = []
    for criterion in request.rubric:
        wrong = next((m for m in criterion.misconceptions if asserts_statement(answer, m)), None)
        matched = [c for c in criterion.concepts if asserts_phrase(answer, c)]
        if wrong is not None:
            misconceptions.append(wrong)
            points = 0.0
            feedback = (
                f"Not quite: your answer says that {wrong.rstrip('.')}, which is a common "
                f"misconception. {criterion.description}"
            )
        elif matched:
            matched_all.extend(matched)
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
    return tuple(items), matched_all, misconceptions


def items_for_decision(
    items: tuple[ItemVerdict, ...], request: EvaluationRequest, *, passed: bool, mark: float
) -> tuple[ItemVerdict, ...]:
    """Item points that express the pass decision: scaled just under the pass mark for a fail,
    topped up (where items have room) to the mark for a pass."""
    earned = sum(item.points for item in items)
    maximum = {c.id: c.points for c in request.rubric}
    if not passed and earned + 1e-9 >= mark:
        factor = max(0.0, mark - 0.05) / earned if earned else 0.0
        return tuple(
            replace(item, points=math.floor(item.points * factor * 100) / 100) for item in items
        )
    if passed and earned + 1e-9 < mark:
        room = {item.id: maximum[item.id] - item.points for item in items}
        total_room = sum(room.values())
        if total_room <= 0:
            return items
        deficit = mark - earned
        return tuple(
            replace(
                item,
                points=min(
                    float(maximum[item.id]),
                    math.ceil((item.points + deficit * room[item.id] / total_room) * 100) / 100,
                ),
            )
            for item in items
        )
    return items


def _summary(flags: tuple[str, ...], misconceptions: list[str], passed: bool, earned: float) -> str:
    if INSTRUCTION_FLAG in flags:
        return "Your answer gives the grader instructions; only what it actually explains counts."
    if flags:
        return (
            "Your answer lists words rather than explaining; answer in your own sentences so "
            "it can be graded."
        )
    if misconceptions:
        return (
            f"Careful: your answer says that {misconceptions[0].rstrip('.')}, which is not right. "
            "Have another look at the question."
        )
    if passed:
        return "Well explained — your answer covers the key ideas."
    if earned:
        return "A good start, but some key ideas are missing."
    return "This doesn't address the key ideas yet. Have another look at the question."


def _reference_coverage(grader: StepGrader, answer: Analysed) -> float:
    """The IDF-weighted share of the reference answer's content the answer asserts."""
    reference = grader.prepared.reference
    total = sum(reference.values())
    if not total:
        return 0.0
    keys = answer.content | {"\u00ac" + k for k in answer.negated_content}
    return sum(w for k, w in reference.items() if k in keys) / total
