"""The calibrated pass decision: similarity features, a small fitted combination, a per-step cut-off.

An answer is compared with the step's reference answer *and* with its labelled pass and fail
examples (IDF-weighted overlap of lemma/stem keys, negation-aware). A logistic combination of those
features, fitted on SemEval-2013 Task 7's **training split only** (``grading_model.json``, made by
``benchmarks/fit_grading.py``), gives the probability that a human would pass the answer. The
cut-off is not global: it is calibrated per step from the step's own examples, each scored
leave-one-out against the others, because a global cut-off does not transfer between steps with
short and long references.

Attribution: the coefficients and IDF table are derived from SemEval-2013 Task 7 (Dzikovska et al.
2013; Beetle and SciEntsBank training data), CC BY-SA 3.0.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from core.llm.grading_text import Analysed, analyse

GLOBAL_CUTOFF = 0.5
CUTOFF_RANGE = (0.2, 0.8)
# A step with passing examples only sets its cut-off this far below the lowest of them.
ONE_SIDED_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class StepMaterial:
    """What a step gives the grader to compare an answer with."""

    question: str
    reference: str | None
    passes: tuple[str, ...] = ()
    fails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    """The fitted combination and the IDF table it was fitted with."""

    with_examples: tuple[float, ...]
    without_examples: tuple[float, ...]
    idf: dict[str, float]
    unseen_idf: float


@lru_cache(maxsize=1)
def model() -> Model:
    """The shipped model (loaded once)."""
    raw = json.loads(resources.files("core.llm").joinpath("grading_model.json").read_text("utf-8"))
    return model_from_dict(raw)


def model_from_dict(raw: dict[str, object]) -> Model:
    """A model from its JSON form (see ``benchmarks/fit_grading.py``)."""
    idf_raw = raw["idf"]
    assert isinstance(idf_raw, dict)
    return Model(
        with_examples=tuple(float(c) for c in raw["with_examples"]),  # type: ignore[attr-defined]
        without_examples=tuple(float(c) for c in raw["without_examples"]),  # type: ignore[attr-defined]
        idf={str(k): float(v) for k, v in idf_raw.items()},
        unseen_idf=float(raw["unseen_idf"]),  # type: ignore[arg-type]
    )


def _weights(keys: frozenset[str], idf: dict[str, float], unseen: float) -> dict[str, float]:
    return {k: idf.get(k, unseen) for k in keys}


def _bag(text: Analysed, idf: dict[str, float], unseen: float) -> dict[str, float]:
    bag = _weights(text.content, idf, unseen)
    for k in text.negated_content:
        bag["\u00ac" + k] = idf.get(k, unseen)
    return bag


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(w * large[k] for k, w in small.items() if k in large)
    if not dot:
        return 0.0
    return dot / math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))


def _share(part: dict[str, float], whole: dict[str, float]) -> float:
    total = sum(whole.values())
    return sum(w for k, w in whole.items() if k in part) / total if total else 0.0


FEATURES = (
    "bias",
    "reference recall",
    "reference recall, question words demoted",
    "answer precision against reference and question",
    "reference cosine",
    "log content words",
    "nearest pass example",
    "nearest fail example",
    "mean of the 3 nearest pass examples",
    "mean of the 3 nearest fail examples",
)
NEAREST = 3  # examples averaged by the k-nearest features


@dataclass(frozen=True, slots=True)
class Prepared:
    """A step's material analysed once and reused for every answer."""

    question: dict[str, float]
    reference: dict[str, float]
    reference_demoted: dict[str, float]
    reference_analysed: Analysed | None
    passes: tuple[dict[str, float], ...]
    fails: tuple[dict[str, float], ...]


def prepare(material: StepMaterial, m: Model) -> Prepared:
    """Analyse a step's question, reference and examples."""
    question = _bag(analyse(material.question), m.idf, m.unseen_idf)
    ref = analyse(material.reference) if material.reference else None
    reference = _bag(ref, m.idf, m.unseen_idf) if ref else {}
    return Prepared(
        question=question,
        reference=reference,
        reference_demoted={k: w for k, w in reference.items() if k not in question},
        reference_analysed=ref,
        passes=tuple(_bag(analyse(t), m.idf, m.unseen_idf) for t in material.passes),
        fails=tuple(_bag(analyse(t), m.idf, m.unseen_idf) for t in material.fails),
    )


def features(answer: Analysed, step: Prepared, m: Model) -> tuple[float, ...]:
    """The feature vector of ``answer`` for a step (the order of :data:`FEATURES`)."""
    bag = _bag(answer, m.idf, m.unseen_idf)
    known = dict(step.reference)
    known.update(step.question)
    to_passes = [_cosine(bag, e) for e in step.passes]
    to_fails = [_cosine(bag, e) for e in step.fails]
    return (
        1.0,
        _share(bag, step.reference),
        _share(bag, step.reference_demoted),
        _share(known, bag),
        _cosine(bag, step.reference),
        math.log1p(len(answer.content) + len(answer.negated_content)),
        max(to_passes, default=0.0),
        max(to_fails, default=0.0),
        _mean_nearest(to_passes),
        _mean_nearest(to_fails),
    )


def _mean_nearest(similarities: list[float]) -> float:
    """The mean of the :data:`NEAREST` highest similarities (of all, when there are fewer)."""
    if not similarities:
        return 0.0
    nearest = sorted(similarities, reverse=True)[:NEAREST]
    return sum(nearest) / len(nearest)


def probability(values: tuple[float, ...], m: Model, *, with_examples: bool) -> float:
    """The fitted probability that a human passes an answer with these features."""
    if with_examples:
        z = sum(c * v for c, v in zip(m.with_examples, values, strict=True))
    else:
        base = len(m.without_examples)
        z = sum(c * v for c, v in zip(m.without_examples, values[:base], strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True, slots=True)
class Calibration:
    """A step's cut-off and how well its own examples agree with it, each held out in turn."""

    cutoff: float
    loo_agreed: int
    loo_total: int
    calibrated: bool  # False when the step lacks a pass and a fail example: global cut-off


class StepGrader:
    """The calibrated decision for one step: prepared once, then fast per answer."""

    def __init__(self, material: StepMaterial, m: Model | None = None) -> None:
        self.model = m or model()
        self.material = material
        self.prepared = prepare(material, self.model)
        self.has_examples = bool(material.passes and material.fails)
        self.calibration = self._calibrate()

    def probability(self, answer: Analysed) -> float:
        values = features(answer, self.prepared, self.model)
        return probability(values, self.model, with_examples=self.has_examples)

    def nearest_example(self, answer: Analysed) -> tuple[str, float, float] | None:
        """``("pass"|"fail", similarity, lead)`` of the most similar labelled example, where
        ``lead`` is how much more similar it is than the nearest example of the other label."""
        if not self.has_examples:
            return None
        bag = _bag(answer, self.model.idf, self.model.unseen_idf)
        best_pass = max(_cosine(bag, e) for e in self.prepared.passes)
        best_fail = max(_cosine(bag, e) for e in self.prepared.fails)
        if best_pass >= best_fail:
            return ("pass", best_pass, best_pass - best_fail)
        return ("fail", best_fail, best_fail - best_pass)

    def loo_probabilities(self) -> list[tuple[bool, float]]:
        """Each labelled example's probability, scored against the step without it."""
        scored: list[tuple[bool, float]] = []
        passes, fails = self.material.passes, self.material.fails
        for index, text in enumerate(passes):
            held = StepMaterial(
                self.material.question,
                self.material.reference,
                passes[:index] + passes[index + 1 :],
                fails,
            )
            scored.append((True, _held_out_probability(text, held, self.model)))
        for index, text in enumerate(fails):
            held = StepMaterial(
                self.material.question,
                self.material.reference,
                passes,
                fails[:index] + fails[index + 1 :],
            )
            scored.append((False, _held_out_probability(text, held, self.model)))
        return scored

    def _calibrate(self) -> Calibration:
        if not self.material.passes:
            return Calibration(GLOBAL_CUTOFF, 0, 0, calibrated=False)
        scored = self.loo_probabilities()
        if not self.has_examples:
            # Passing examples only: lower the cut-off (never raise it) until each of them, held
            # out, passes, so an author's passing answers are not failed by a global cut-off
            # fitted on other data (Mohler's lenient graders: docs/grading.md).
            lowest = min(p for _, p in scored) - ONE_SIDED_MARGIN
            cutoff = max(CUTOFF_RANGE[0], min(GLOBAL_CUTOFF, lowest))
            agreed = sum(p >= cutoff for _, p in scored)
            return Calibration(cutoff, agreed, len(scored), calibrated=True)
        cutoff = best_cutoff(scored)
        agreed = sum((p >= cutoff) == label for label, p in scored)
        return Calibration(cutoff, agreed, len(scored), calibrated=True)


def _held_out_probability(text: str, material: StepMaterial, m: Model) -> float:
    prepared = prepare(material, m)
    values = features(analyse(text), prepared, m)
    return probability(values, m, with_examples=bool(material.passes and material.fails))


def best_cutoff(scored: list[tuple[bool, float]]) -> float:
    """The cut-off that agrees with the most labels; among equals, the one in the widest gap
    (nearest the global cut-off on a tie), kept within :data:`CUTOFF_RANGE`."""
    low, high = CUTOFF_RANGE
    points = sorted({low, high, *(p for _, p in scored if low < p < high)})
    best: tuple[int, float, float, float] | None = None
    for left, right in itertools.pairwise(points):
        cutoff = (left + right) / 2
        agreed = sum((p >= cutoff) == label for label, p in scored)
        rank = (agreed, right - left, -abs(cutoff - GLOBAL_CUTOFF), cutoff)
        if best is None or rank > best:
            best = rank
    return GLOBAL_CUTOFF if best is None else best[3]


@lru_cache(maxsize=256)
def step_grader(material: StepMaterial) -> StepGrader:
    """The (cached) grader of a step's material."""
    return StepGrader(material)
