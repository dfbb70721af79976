"""The review queue and XP adjustments in process memory (see ``core.store.reviews``)."""

from __future__ import annotations

from dataclasses import replace

from core.store.reviews import ReviewItem, ReviewOutcome, XpAdjustment


class InMemoryReviews:
    """:class:`~core.store.reviews.ReviewStore` in memory; the append writes through the helpers."""

    def __init__(self) -> None:
        self._reviews: dict[str, ReviewItem] = {}
        self._adjustments: list[XpAdjustment] = []

    def _queue_reviews(self, items: tuple[ReviewItem, ...]) -> None:
        for item in items:
            self._reviews.setdefault(item.review_id, item)

    def _resolve_reviews(self, outcomes: tuple[ReviewOutcome, ...]) -> None:
        for outcome in outcomes:
            item = self._reviews.get(outcome.review_id)
            if item is not None:
                self._reviews[outcome.review_id] = replace(
                    item,
                    reviewer_id=outcome.reviewer_id,
                    reviewed_at=outcome.reviewed_at,
                    review=outcome.review,
                )

    async def review_queue(
        self, *, challenge_id: str | None = None, step_id: str | None = None, limit: int = 50
    ) -> list[ReviewItem]:
        rows = [
            item
            for item in self._reviews.values()
            if item.review is None
            and (challenge_id is None or item.challenge_id == challenge_id)
            and (step_id is None or item.step_id == step_id)
        ]
        rows.sort(key=lambda item: (item.created_at, item.review_id))
        return rows[: max(limit, 0)]

    async def get_review_item(self, review_id: str) -> ReviewItem | None:
        return self._reviews.get(review_id)

    async def reviewed_items(self, challenge_id: str) -> list[ReviewItem]:
        rows = [
            item
            for item in self._reviews.values()
            if item.review is not None and item.challenge_id == challenge_id
        ]
        return sorted(rows, key=lambda item: (item.created_at, item.review_id))

    async def xp_adjustments(self, learner_id: str) -> list[XpAdjustment]:
        return [a for a in self._adjustments if a.learner_id == learner_id]

    async def all_review_items(self) -> list[ReviewItem]:
        return sorted(self._reviews.values(), key=lambda item: item.review_id)

    async def all_xp_adjustments(self) -> list[XpAdjustment]:
        return list(self._adjustments)
