"""The review queue and XP adjustments on SQL (tables from migration 0014)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.json_codec import dump_json, load_json
from core.store.reviews import ReviewItem, ReviewOutcome, XpAdjustment
from core.store.sql_base import SqlStoreBase
from core.store.tables import review_queue, xp_adjustments, xp_grants


class SqlReviews(SqlStoreBase):
    """:class:`~core.store.reviews.ReviewStore` on SQLite or PostgreSQL."""

    async def review_queue(
        self, *, challenge_id: str | None = None, step_id: str | None = None, limit: int = 50
    ) -> list[ReviewItem]:
        query = select(review_queue).where(review_queue.c.reviewed_at.is_(None))
        if challenge_id is not None:
            query = query.where(review_queue.c.challenge_id == challenge_id)
        if step_id is not None:
            query = query.where(review_queue.c.step_id == step_id)
        return await self._items(query.limit(max(limit, 0)))

    async def get_review_item(self, review_id: str) -> ReviewItem | None:
        query = select(review_queue).where(review_queue.c.review_id == review_id)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _item(row)

    async def reviewed_items(self, challenge_id: str) -> list[ReviewItem]:
        return await self._items(
            select(review_queue).where(
                review_queue.c.challenge_id == challenge_id,
                review_queue.c.reviewed_at.is_not(None),
            )
        )

    async def xp_adjustments(self, learner_id: str) -> list[XpAdjustment]:
        return await self._adjustments(xp_adjustments.c.learner_id == learner_id)

    async def all_review_items(self) -> list[ReviewItem]:
        return await self._items(select(review_queue))

    async def _items(self, query: Select[Any]) -> list[ReviewItem]:
        """The rows ``query`` selects, oldest first (ties by id, the same on every database)."""
        query = query.order_by(
            self._binary(review_queue.c.created_at), self._binary(review_queue.c.review_id)
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_item(row) for row in rows]

    async def all_xp_adjustments(self) -> list[XpAdjustment]:
        return await self._adjustments()

    async def _adjustments(self, *where: ColumnElement[bool]) -> list[XpAdjustment]:
        query = select(xp_adjustments).where(*where).order_by(xp_adjustments.c.id)
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [
            XpAdjustment(
                row.learner_id,
                row.challenge_id,
                row.session_id,
                row.xp_change,
                row.xp_after,
                row.reason,
                row.adjusted_at,
            )
            for row in rows
        ]


async def write_review_changes(
    store: SqlStoreBase,
    connection: AsyncConnection,
    items: tuple[ReviewItem, ...],
    outcomes: tuple[ReviewOutcome, ...],
    adjustment: XpAdjustment | None,
) -> None:
    """Queue, resolve and adjust, inside the append's transaction."""
    for item in items:
        await connection.execute(
            store._insert(review_queue)
            .values(
                review_id=item.review_id,
                session_id=item.session_id,
                learner_id=item.learner_id,
                challenge_id=item.challenge_id,
                challenge_version=item.challenge_version,
                step_id=item.step_id,
                attempt=item.attempt,
                answer=item.answer,
                reason=item.reason,
                verdict=dump_json(item.verdict),
                created_at=item.created_at,
            )
            .on_conflict_do_nothing(index_elements=[review_queue.c.review_id])
        )
    for outcome in outcomes:
        await connection.execute(
            update(review_queue)
            .where(review_queue.c.review_id == outcome.review_id)
            .values(
                reviewer_id=outcome.reviewer_id,
                reviewed_at=outcome.reviewed_at,
                review=dump_json(outcome.review),
            )
        )
    if adjustment is not None:
        held = (
            xp_grants.c.learner_id == adjustment.learner_id,
            xp_grants.c.challenge_id == adjustment.challenge_id,
            xp_grants.c.session_id == adjustment.session_id,
        )
        if adjustment.xp_after > 0:
            await connection.execute(update(xp_grants).where(*held).values(xp=adjustment.xp_after))
        else:
            await connection.execute(delete(xp_grants).where(*held))
        await connection.execute(
            insert(xp_adjustments).values(
                learner_id=adjustment.learner_id,
                challenge_id=adjustment.challenge_id,
                session_id=adjustment.session_id,
                xp_change=adjustment.xp_change,
                xp_after=adjustment.xp_after,
                reason=adjustment.reason,
                adjusted_at=adjustment.adjusted_at,
            )
        )


def _item(row: Row[Any]) -> ReviewItem:
    return ReviewItem(
        review_id=row.review_id,
        session_id=row.session_id,
        learner_id=row.learner_id,
        challenge_id=row.challenge_id,
        challenge_version=row.challenge_version,
        step_id=row.step_id,
        attempt=row.attempt,
        answer=row.answer,
        reason=row.reason,
        verdict=load_json(row.verdict),
        created_at=row.created_at,
        reviewer_id=row.reviewer_id,
        reviewed_at=row.reviewed_at,
        review=None if row.review is None else load_json(row.review),
    )
