"""Human review of chat grades (issue 14): the queue, a review, and grader–reviewer agreement.

Reviewers, authors and admins may review; anyone else gets ``Forbidden``. A review is a
``GradeReviewed`` event in the session's stream, recorded by the reviewer and decided by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.engine.challenge import StepSpec
from core.engine.commands import ItemVerdict, ReviewGrade
from core.errors import AlreadyReviewed, ChallengeNotFound, Forbidden, InvalidInput, ReviewNotFound
from core.service.actor import Actor
from core.service.catalog import Catalog
from core.service.clock import Clock
from core.service.review_stats import StepAgreement, step_agreements
from core.service.sessions import GameService
from core.store.base import Store

MAX_QUEUE_LIMIT = 200
MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class QueuedGrade:
    """A grade awaiting review, as a reviewer sees it (never the learner's identity)."""

    review_id: str
    session_id: str
    challenge_id: str
    step_id: str
    attempt: int
    answer: str
    reason: str
    verdict: dict[str, Any]
    created_at: str
    # The step as it was graded (the session's challenge version): title, prompt, points, the pass
    # threshold, the rubric's descriptions and the reference answer. Reviewers are staff.
    step: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AppliedReview:
    """What a review changed: the attempt's verdict, the step, the total and the result."""

    review_id: str
    session_id: str
    step_id: str
    attempt: int
    passed: bool
    score: float
    max_score: int
    items: tuple[dict[str, Any], ...]
    comment: str
    step_score: float
    step_passed: bool
    session_score: float
    result_passed: bool | None
    xp_granted: int | None


class ReviewService:
    """The review queue, reviews and agreement statistics."""

    def __init__(
        self, *, store: Store, game: GameService, clock: Clock, catalog: Catalog | None = None
    ) -> None:
        self._store = store
        self._game = game
        self._clock = clock
        self._catalog = catalog

    async def queue(
        self,
        actor: Actor,
        *,
        challenge_id: str | None = None,
        step_id: str | None = None,
        limit: int = 50,
    ) -> list[QueuedGrade]:
        """Grades awaiting review, oldest first, optionally for one challenge and step."""
        _require_reviewer(actor)
        if not 1 <= limit <= MAX_QUEUE_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_QUEUE_LIMIT}")
        rows = await self._store.review_queue(
            challenge_id=challenge_id, step_id=step_id, limit=limit
        )
        return [
            QueuedGrade(
                r.review_id,
                r.session_id,
                r.challenge_id,
                r.step_id,
                r.attempt,
                r.answer,
                r.reason,
                r.verdict,
                r.created_at,
                step=await self._step_context(r.challenge_id, r.challenge_version, r.step_id),
            )
            for r in rows
        ]

    async def _step_context(
        self, challenge_id: str, version: int, step_id: str
    ) -> dict[str, Any] | None:
        """What a reviewer needs to judge an answer to ``step_id``; None when it is unknown."""
        if self._catalog is None:
            return None
        try:
            spec = await self._catalog.spec(challenge_id, version)
        except ChallengeNotFound:
            return None
        step = next((s for s in spec.steps if s.id == step_id), None)
        return None if step is None else step_context(step)

    async def review(
        self,
        actor: Actor,
        review_id: str,
        *,
        passed: bool,
        items: dict[str, float] | None = None,
        comment: str = "",
        replace: bool = False,
    ) -> AppliedReview:
        """Record ``actor``'s review of a queued grade and return what it changed; a second review
        of the same grade is ``AlreadyReviewed`` (409) unless ``replace``."""
        _require_reviewer(actor)
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(
                f"the comment is {len(comment)} characters; the limit is {MAX_COMMENT}"
            )
        row = await self._store.get_review_item(review_id)
        if row is None:
            raise ReviewNotFound(f"there is no queued grade {review_id!r}")
        if row.review is not None and not replace:
            raise AlreadyReviewed(
                'this grade is already reviewed; send "replace": true to replace that review'
            )
        command = ReviewGrade(
            at=self._clock.now(),
            step_id=row.step_id,
            attempt=row.attempt,
            passed=passed,
            items=None
            if items is None
            else tuple(ItemVerdict(item_id, points) for item_id, points in items.items()),
            comment=comment,
            replace=replace,
        )
        loaded = await self._game.review_grade(actor, row.session_id, command)
        state = loaded.state
        closed = next((s for s in state.closed_steps if s.step_id == row.step_id), None)
        if closed is not None:
            grades, step_score, step_passed = closed.grades, closed.score, closed.passed
        else:  # the learner is still on the step, and the review did not make it pass
            assert state.current is not None and state.current.step_id == row.step_id
            grades, step_score, step_passed = state.current.grades, state.current.best_score, False
        grade = next(g for g in grades if g.attempt == row.attempt)
        return AppliedReview(
            review_id=review_id,
            session_id=row.session_id,
            step_id=row.step_id,
            attempt=row.attempt,
            passed=grade.passed,
            score=grade.score,
            max_score=grade.max_points,
            items=tuple(
                {"id": i.id, "points": i.points, "max_points": i.max_points} for i in grade.items
            ),
            comment=command.comment.strip(),
            step_score=step_score,
            step_passed=step_passed,
            session_score=state.score,
            result_passed=state.result.passed if state.result is not None else None,
            xp_granted=state.result.xp_granted if state.result is not None else None,
        )

    async def stats(self, actor: Actor, challenge_id: str) -> list[StepAgreement]:
        """Per step and rubric item of ``challenge_id``: reviews, agreement, kappa, labels."""
        _require_reviewer(actor)
        return step_agreements(await self._store.reviewed_items(challenge_id))


def step_context(step: StepSpec) -> dict[str, Any]:
    """A chat step's text and rubric, as the review page shows them."""
    return {
        "title": step.title,
        "prompt": step.prompt or "",
        "points": step.points,
        "pass_threshold": step.pass_threshold,
        "rubric": [
            {"id": item.id, "description": item.description, "points": item.points}
            for item in step.rubric
        ],
        "reference_answer": step.reference_answer or "",
    }


def _require_reviewer(actor: Actor) -> None:
    if not actor.can_review:
        raise Forbidden("only reviewers, authors and admins may review grades")
