"""The SQLAlchemy (async) :class:`~core.store.base.Store` for SQLite and PostgreSQL.

Construct it with a URL (no I/O happens until the first call) and ``await store.close()`` when
done; the schema must already exist (see :func:`core.store.migrate.migrate`, or
:func:`core.store.factory.open_store`, which migrates SQLite itself). The queries live in
``sql_events`` (event streams, snapshots) and ``sql_read_models`` (content, learners, XP).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import URL

from core.store.engine import create_store_engine
from core.store.integrity import ChainKeys
from core.store.sql_accounts import SqlAccounts
from core.store.sql_archive import SqlArchive
from core.store.sql_chat import SqlChat
from core.store.sql_events import SqlEventStore
from core.store.sql_projections import SqlProjections
from core.store.sql_rate_counters import SqlRateCounters
from core.store.sql_read_models import SqlReadModels
from core.store.sql_reviews import SqlReviews
from core.store.sql_usage import SqlUsage
from core.store.sql_warm import SqlWarmUp
from core.store.tables import game_events


class SqlStore(
    SqlWarmUp,
    SqlEventStore,
    SqlReadModels,
    SqlAccounts,
    SqlUsage,
    SqlChat,
    SqlArchive,
    SqlProjections,
    SqlRateCounters,
    SqlReviews,
):
    """Every store protocol on SQLite (``sqlite+aiosqlite://``) or PostgreSQL (``+asyncpg``).

    Pool options apply to PostgreSQL (and to the ``read_url`` replica's own pool, which serves
    session lists, the leaderboard, XP totals and ``read_all`` for analytics). Appends to different
    streams run in parallel on PostgreSQL (a lock per stream, no global one); ``read_all`` still
    never skips an event that commits late (see ``sql_events``). ``serialize_appends`` (PostgreSQL
    only) puts back the old global append lock, for comparison in benchmarks. ``chain_keys`` are
    the event HMAC keys (``EVENT_HMAC_KEY``). Connectivity failures raise
    :class:`~core.store.base.StoreUnavailable`.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_pre_ping: bool = True,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        sqlite_busy_timeout_ms: int = 5000,
        serialize_appends: bool = False,
        read_url: str | URL | None = None,
        chain_keys: ChainKeys | None = None,
    ) -> None:
        engine = create_store_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=pool_pre_ping,
            pool_timeout=pool_timeout,
            connect_timeout=connect_timeout,
            sqlite_busy_timeout_ms=sqlite_busy_timeout_ms,
        )
        replica = None
        if read_url is not None:
            replica = create_store_engine(
                read_url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=pool_pre_ping,
                pool_timeout=pool_timeout,
                connect_timeout=connect_timeout,
                sqlite_busy_timeout_ms=sqlite_busy_timeout_ms,
            )
        super().__init__(
            engine, serialize_appends=serialize_appends, replica=replica, chain_keys=chain_keys
        )

    @property
    def url(self) -> URL:
        """The database URL (render it with ``hide_password=True`` before logging)."""
        return self._engine.url

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the database cannot be reached, and
        :class:`SchemaNotMigrated` when it answers but was never migrated."""
        async with self._transaction() as connection:
            await connection.execute(select(game_events.c.position).limit(1))

    async def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        await self._close_kept()
        if self._replica is not self._engine:
            await self._replica.dispose()
        await self._engine.dispose()
