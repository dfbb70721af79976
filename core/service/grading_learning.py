"""The grader that learns from reviews (issue 14): reviewed answers become a step's labels, a
per-step model is trained on them off the request path, and grading uses the latest one.

Labels are the reviewed rows of the review queue (``ReviewStore.reviewed_items``): the answer and
the reviewer's pass/fail, for the step and the challenge version it was graded under. A step's
model is trained on the labels of one challenge version (an edited step starts again) and cached in
the process, keyed by (challenge, step, version, label count). It is not persisted: training 30–100
answers takes tens of milliseconds, so a process that starts without a model trains one in the
background on the first grade of the step.

Retraining is scheduled after every review (``schedule``) and, in the embedded default, runs as a
background task in this process. :func:`retrain_step_model` is the plain async function a job-queue
worker calls instead.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.llm.base import EvaluationRequest
from core.llm.grading_learned import DEMONSTRATIONS, Labelled, StepModel, available, train
from core.store.reviews import ReviewItem, ReviewStore

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

ModelKey = tuple[str, str, int, int]  # challenge id, step id, challenge version, label count


@dataclass(frozen=True, slots=True)
class TrainedStep:
    """What a retrain produced for a step (``model`` None: too few labels, or one label only)."""

    challenge_id: str
    step_id: str
    version: int
    labels: int
    model: StepModel | None

    @property
    def key(self) -> ModelKey:
        return (self.challenge_id, self.step_id, self.version, self.labels)


def step_labels(rows: Sequence[ReviewItem], step_id: str, version: int) -> list[Labelled]:
    """The step's labelled answers under ``version``, oldest review first (a replaced review
    counts once, with its latest label)."""
    return [
        Labelled(row.answer, bool(row.review["passed"]))
        for row in rows
        if row.review is not None and row.step_id == step_id and row.challenge_version == version
    ]


class LearnedGrading:
    """Per-step models trained on reviewed answers, cached in the process."""

    def __init__(self, reviews: ReviewStore, *, min_labels: int) -> None:
        self._reviews = reviews
        self.min_labels = min_labels
        self._models: dict[tuple[str, str, int], TrainedStep] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._again: set[tuple[str, str]] = set()
        self._tried: set[tuple[str, str, int]] = set()

    @property
    def enabled(self) -> bool:
        return self.min_labels > 0 and available()

    def current(self, challenge_id: str, step_id: str, version: int) -> TrainedStep | None:
        """The latest trained model of the step under ``version`` (None: none yet)."""
        return self._models.get((challenge_id, step_id, version))

    async def retrain(self, challenge_id: str, step_id: str) -> TrainedStep | None:
        """Load the step's labels and train its model for the newest version that has labels
        (in a thread); the result replaces the cached one. None when the step has no labels."""
        rows = await self._reviews.reviewed_items(challenge_id)
        versions = [r.challenge_version for r in rows if r.step_id == step_id and r.review]
        if not versions:
            return None
        version = max(versions)
        labels = step_labels(rows, step_id, version)
        cached = self.current(challenge_id, step_id, version)
        if cached is not None and cached.labels == len(labels):
            return cached
        model = await asyncio.to_thread(train, labels, min_labels=self.min_labels)
        trained = TrainedStep(challenge_id, step_id, version, len(labels), model)
        self._models[(challenge_id, step_id, version)] = trained
        return trained

    def schedule(self, challenge_id: str, step_id: str) -> None:
        """Retrain the step in the background (one run at a time per step; a request while one
        runs starts another after it, so the newest labels are always used)."""
        if not self.enabled:
            return
        key = (challenge_id, step_id)
        running = self._tasks.get(key)
        if running is not None and not running.done():
            self._again.add(key)
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(self._run(key))

    async def _run(self, key: tuple[str, str]) -> None:
        while True:
            self._again.discard(key)
            try:
                await self.retrain(*key)
            except Exception:  # a failed retrain keeps the previous model; never the request's
                log.exception("retraining the step model of %s/%s failed", *key)
            if key not in self._again:
                return

    async def settle(self) -> None:
        """Wait for the scheduled retrains (tests; shutdown)."""
        while pending := [t for t in self._tasks.values() if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def augment(
        self, request: EvaluationRequest, challenge_id: str, step_id: str, version: int
    ) -> EvaluationRequest:
        """``request`` with the step model's probability and its most similar reviewed answers,
        when the step has a model; otherwise unchanged (and, the first time, a retrain scheduled
        so a process started after the reviews learns too)."""
        if not self.enabled:
            return request
        trained = self.current(challenge_id, step_id, version)
        if trained is None:
            if (challenge_id, step_id, version) not in self._tried:
                self._tried.add((challenge_id, step_id, version))
                self.schedule(challenge_id, step_id)
            return request
        if trained.model is None:
            return request
        probability, similar = trained.model.assess(request.answer, DEMONSTRATIONS)
        return replace(
            request,
            learned_probability=round(probability, 4),
            learned_labels=trained.labels,
            reviewed_examples=tuple((label.answer, label.passed) for label in similar),
        )


async def retrain_step_model(services: Any, challenge_id: str, step_id: str) -> TrainedStep | None:
    """Retrain one step's model from its reviewed answers (the job a queue worker runs)."""
    learning: LearnedGrading = services.learning
    return await learning.retrain(challenge_id, step_id)


TREND_WINDOW = 10  # reviews per point of a step's agreement trend


def agreement_trend(
    pairs: Sequence[tuple[bool, bool]], window: int = TREND_WINDOW
) -> tuple[float, ...]:
    """Pass/fail agreement between grader and reviewer over consecutive windows of ``window``
    reviews in grading order (a last, shorter window counts when it has half a window): how the
    agreement moves as the step learns from its reviews."""
    trend = []
    for start in range(0, len(pairs), window):
        chunk = pairs[start : start + window]
        if len(chunk) * 2 >= window:
            trend.append(round(sum(1 for a, b in chunk if a == b) / len(chunk), 4))
    return tuple(trend)
