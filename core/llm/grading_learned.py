"""A step's own grader, learned from its reviewed answers (issue 14).

Every reviewed answer is a labelled answer for its step. Once a step has ``GRADING_MIN_LABELS``
of them (both labels present), a per-step model is trained on them: tf-idf of word 1–2-grams and of
character 2–5-grams (within words, so spelling variants and inflections meet) and a class-balanced
logistic regression (scikit-learn). Its probability joins the offline decision
(``EvaluationRequest.learned_probability``) and its nearest labelled answers become graded
demonstrations for an LLM grader (``EvaluationRequest.reviewed_examples``).

Measured on SemEval-2013 Task 7 (per question, trained on the training split's answers, graded on
the unseen-answers split): weighted F1 0.77 on SciEntsBank and 0.82 on Beetle, above every generic
grader here (``benchmarks/bench_grading.py``; docs/grading.md). Training takes tens of
milliseconds for 30–100 answers, so it runs off the request path, in a thread.

scikit-learn is optional (the ``learn`` extra): without it no step model is trained and the grader
works as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.llm.grading_text import normalise

DEFAULT_MIN_LABELS = 30
# A model's probability at which it decides pass; its distance from here is its confidence.
LEARNED_CUTOFF = 0.5
# How many of the most similar labelled answers an LLM grader is shown.
DEMONSTRATIONS = 4
# Inverse regularisation strength of the logistic regression (scikit-learn's ``C``).
REGULARISATION_C = 10.0


@dataclass(frozen=True, slots=True)
class Labelled:
    """One reviewed answer: what the learner wrote and whether the reviewer passed it."""

    answer: str
    passed: bool


class StepModel:
    """A trained per-step model: a probability for an answer and its nearest labelled answers."""

    def __init__(self, pipeline: Any, labels: Sequence[Labelled], matrix: Any) -> None:
        self._pipeline = pipeline
        self._labels = tuple(labels)
        self._matrix = matrix  # the labelled answers' tf-idf rows (L2-normalised)
        self.label_count = len(labels)
        self.passes = sum(1 for label in labels if label.passed)

    def _vectorise(self, text: str) -> Any:
        """The answer's tf-idf row: each vectoriser called directly, side by side (what the
        pipeline's union computes, without its per-call job dispatch: ~1 ms less per answer)."""
        from scipy.sparse import hstack

        union = self._pipeline[0]
        return hstack(
            [vectoriser.transform([text]) for _, vectoriser in union.transformer_list]
        ).tocsr()

    def probability(self, answer: str) -> float:
        """The probability that a reviewer passes ``answer``."""
        return self.assess(answer, 0)[0]

    def similar(self, answer: str, count: int = DEMONSTRATIONS) -> tuple[Labelled, ...]:
        """The ``count`` labelled answers most similar to ``answer``."""
        return self.assess(answer, count)[1]

    def assess(
        self, answer: str, count: int = DEMONSTRATIONS
    ) -> tuple[float, tuple[Labelled, ...]]:
        """The probability that a reviewer passes ``answer`` and the ``count`` labelled answers
        most similar to it (cosine of tf-idf rows; at least one of each label when the model has
        both), from one vectorisation of the answer."""
        vector = self._vectorise(normalise(answer))
        regression = self._pipeline[-1]
        z = float((vector @ regression.coef_.T)[0, 0] + regression.intercept_[0])
        passing = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
        if list(regression.classes_).index(True) == 0:
            passing = 1.0 - passing
        if count <= 0:
            return passing, ()
        scores = (self._matrix @ vector.T).toarray().ravel()
        order = sorted(range(len(self._labels)), key=lambda i: (-scores[i], i))
        chosen = order[:count]
        for label in (True, False):
            if count >= 2 and not any(self._labels[i].passed is label for i in chosen):
                other = next((i for i in order if self._labels[i].passed is label), None)
                if other is not None:
                    chosen[-1] = other
        return passing, tuple(self._labels[i] for i in chosen)


def available() -> bool:
    """True when scikit-learn is installed (the ``learn`` extra)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def train(labels: Sequence[Labelled], *, min_labels: int = DEFAULT_MIN_LABELS) -> StepModel | None:
    """A model trained on ``labels``; None below ``min_labels``, with a single label, or without
    scikit-learn. CPU-bound: call it off the request path (e.g. ``asyncio.to_thread``)."""
    if len(labels) < max(2, min_labels) or len({label.passed for label in labels}) < 2:
        return None
    if not available():
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    pipeline = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LogisticRegression(C=REGULARISATION_C, max_iter=1000, class_weight="balanced"),
    )
    texts = [normalise(label.answer) for label in labels]
    pipeline.fit(texts, [label.passed for label in labels])
    matrix = pipeline[:-1].transform(texts)
    # Each union half is L2-normalised; rescale rows so a row's cosine with itself is 1.
    norms = [math.sqrt(float(row.multiply(row).sum())) or 1.0 for row in matrix]
    from scipy.sparse import diags

    matrix = diags([1.0 / n for n in norms]) @ matrix
    return StepModel(pipeline, labels, matrix)
