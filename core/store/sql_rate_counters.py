"""Rate-limit counters in the database (table ``rate_limit_counters``, migration 0008), mixed into
``SqlStore``: the shared backend when no Redis is configured.

``take`` is one write transaction: an upsert that adds the hit and returns the new count, a read of
the previous window, and (when over the limit) taking the hit back. On PostgreSQL the upsert's row
lock is held until commit, so callers on the same key queue behind each other in every worker and
host; on SQLite writers are serialised anyway.
"""

from __future__ import annotations

import random

from sqlalchemy import delete, select, update

from core.store.rate_counters import Hit, bucket_of, previous_weight, retry_after, within
from core.store.sql_base import SqlStoreBase
from core.store.tables import rate_limit_counters

# Expired rows are swept by about one call in this many (the sweep is an indexed range delete).
SWEEP_EVERY = 200


class SqlRateCounters(SqlStoreBase):
    """:class:`~core.store.rate_counters.RateCounters` on SQLite or PostgreSQL."""

    async def take_rate_hit(self, key: str, *, limit: int, window: int, now: float) -> Hit:
        """Count one hit on ``key`` unless that would exceed ``limit`` per ``window`` seconds."""
        bucket = bucket_of(now, window)
        table = rate_limit_counters
        insert = self._insert(table).values(
            key=key, bucket=bucket, hits=1, expires_at=(bucket + 2) * window
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.key, table.c.bucket], set_={"hits": table.c.hits + 1}
        ).returning(table.c.hits)
        async with self._transaction(write=True) as connection:
            current = int((await connection.execute(upsert)).scalar_one())
            previous = (
                await connection.execute(
                    select(table.c.hits).where(table.c.key == key, table.c.bucket == bucket - 1)
                )
            ).scalar_one_or_none() or 0
            if within(previous, current, limit=limit, weight=previous_weight(now, window)):
                hit = Hit(True, bucket)
            else:
                await connection.execute(
                    update(table)
                    .where(table.c.key == key, table.c.bucket == bucket)
                    .values(hits=table.c.hits - 1)
                )
                wait = retry_after(previous, current - 1, limit=limit, now=now, window=window)
                hit = Hit(False, bucket, wait)
            if random.randrange(SWEEP_EVERY) == 0:  # noqa: S311 - load spreading, not security
                await connection.execute(delete(table).where(table.c.expires_at < now))
        return hit

    async def give_back_rate_hit(self, key: str, *, window: int, bucket: int) -> None:
        """Undo one hit counted in ``bucket`` (never below zero)."""
        table = rate_limit_counters
        statement = (
            update(table)
            .where(table.c.key == key, table.c.bucket == bucket, table.c.hits > 0)
            .values(hits=table.c.hits - 1)
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)
