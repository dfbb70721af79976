"""The review queue and XP adjustments (issue 14): read models written with the events they derive
from (``AnswerGraded`` enters the queue, ``GradeReviewed`` resolves it and may adjust XP), so each
can be rebuilt from the log. Reviewed rows are the step's labelled answers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A chat grade sent to review; ``review`` and its fields are set once a person reviewed it.

    ``verdict`` is the grader's: passed, score, max_score, confidence, grader and items.
    ``learner_id`` is kept for the read model's rebuild, never shown to reviewers.
    """

    review_id: str
    session_id: str
    learner_id: str
    challenge_id: str
    challenge_version: int
    step_id: str
    attempt: int
    answer: str
    reason: str
    verdict: dict[str, Any]
    created_at: str
    reviewer_id: str | None = None
    reviewed_at: str | None = None
    review: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """A person's review of a queued grade: ``review`` holds passed, score, items and comment."""

    review_id: str
    reviewer_id: str
    reviewed_at: str
    review: dict[str, Any]

    def resolve(self, item: ReviewItem) -> ReviewItem:
        """The queued ``item`` once this review is applied to it."""
        return replace(
            item, reviewer_id=self.reviewer_id, reviewed_at=self.reviewed_at, review=self.review
        )


@dataclass(frozen=True, slots=True)
class XpAdjustment:
    """A change to a grant a session already holds, after a review changed its result.

    The grant becomes ``xp_after`` (removed when 0); the adjustment row keeps the history.
    """

    learner_id: str
    challenge_id: str
    session_id: str
    xp_change: int
    xp_after: int
    reason: str
    adjusted_at: str


class ReviewStore(Protocol):
    async def review_queue(
        self, *, challenge_id: str | None = None, step_id: str | None = None, limit: int = 50
    ) -> list[ReviewItem]:
        """Return grades awaiting review, oldest first."""
        ...

    async def get_review_item(self, review_id: str) -> ReviewItem | None: ...

    async def reviewed_items(self, challenge_id: str) -> list[ReviewItem]:
        """Return the challenge's reviewed grades (its labelled answers), oldest first."""
        ...

    async def xp_adjustments(self, learner_id: str) -> list[XpAdjustment]:
        """Return the learner's XP adjustments, oldest first."""
        ...

    async def all_review_items(self) -> list[ReviewItem]:
        """Return every row of the review queue, reviewed or not, oldest first (``db verify``)."""
        ...

    async def all_xp_adjustments(self) -> list[XpAdjustment]:
        """Return every XP adjustment, oldest first (for ``db verify``)."""
        ...
