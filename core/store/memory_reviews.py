"""The review queue and XP adjustments in process memory (see ``core.store.reviews``)."""

from __future__ import annotations

from dataclasses import replace

from core.store.base import ReadModelChanges, XpGrant
from core.store.reviews import ReviewItem, XpAdjustment


class InMemoryReviews:
    """:class:`~core.store.reviews.ReviewStore` in memory; the append writes through
    :meth:`_write_review_changes`, as the SQL store's append calls ``write_review_changes``."""

    _grants: dict[tuple[str, str], XpGrant]  # the XP ledger, held by the store

    def __init__(self) -> None:
        self._reviews: dict[str, ReviewItem] = {}
        self._adjustments: list[XpAdjustment] = []

    def _write_review_changes(self, changes: ReadModelChanges) -> None:
        """Queue, resolve and adjust, with the append."""
        for item in changes.review_items:
            self._reviews.setdefault(item.review_id, item)
        for outcome in changes.review_outcomes:
            queued = self._reviews.get(outcome.review_id)
            if queued is not None:
                self._reviews[outcome.review_id] = outcome.resolve(queued)
        adjustment = changes.xp_adjustment
        if adjustment is None:
            return
        key = (adjustment.learner_id, adjustment.challenge_id)
        held = self._grants.get(key)
        if held is not None and held.session_id == adjustment.session_id:
            if adjustment.xp_after > 0:
                self._grants[key] = replace(held, xp=adjustment.xp_after)
            else:
                del self._grants[key]
        self._adjustments.append(adjustment)

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
        return sorted(self._reviews.values(), key=lambda item: (item.created_at, item.review_id))

    async def all_xp_adjustments(self) -> list[XpAdjustment]:
        return list(self._adjustments)
