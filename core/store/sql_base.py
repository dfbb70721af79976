"""What the SQL store's parts share: the engine, transactions and dialect differences."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.store.base import Learner
from core.store.engine import (
    lone_reader,
    unavailable_error,
    unavailable_on_connectivity_errors,
    writer,
)
from core.store.integrity import ChainKeys, RegistryHead, StreamHead
from core.store.postgres_kept import NO_IDLE_PING, Kept, KeptPostgres
from core.store.registry_buckets import RegistryBuckets
from core.store.sql_group import GroupCommitter
from core.store.sql_raw import LOST_CONNECTION, RawConnection, Row, Sql, raw_connection
from core.store.sqlite_kept import KeptConnections

# How long a learner row read by the access check answers ``get_learner`` (see _seen_learner).
LEARNER_ROW_SECONDS = 1.0
LEARNER_ROWS = 10_000


class SqlStoreBase:
    """Holds the engine; subclasses add the queries (see :class:`core.store.sql.SqlStore`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        serialize_appends: bool,
        replica: AsyncEngine | None = None,
        chain_keys: ChainKeys | None = None,
    ) -> None:
        self._engine = engine
        # EVENT_HMAC_KEY / EVENT_HMAC_KEYS: the current key signs, every key verifies.
        self._chain_keys = chain_keys or ChainKeys()
        # DATABASE_READ_URL: read-model queries that tolerate replication lag go here; writes and
        # the reads a write depends on never do.
        self._replica = replica or engine
        self._writer = writer(engine)
        # Single-statement reads: no BEGIN / COMMIT round trips (see ``_read``).
        self._lone_reads = lone_reader(engine)
        self._is_postgres = engine.url.get_backend_name() == "postgresql"
        self._serialize_appends = serialize_appends and self._is_postgres
        # SQLite has one writer at a time and makes the others sleep-and-retry (busy timeout),
        # which under concurrent load adds long stalls; within a process, queue writers instead.
        self._sqlite_writers = None if self._is_postgres else asyncio.Lock()
        # SQLite: the group committer of appends (core.store.sql_group), made at the first append.
        self._group: GroupCommitter | None = None
        # SQLite: raw connections stay checked out between uses (core.store.sqlite_kept).
        self._kept = None if self._is_postgres else KeptConnections(engine)
        self._upserts: dict[tuple[str, tuple[str, ...]], Any] = {}
        # PostgreSQL appends chain optimistically from what this process last saw (sql_append):
        # each stream's head, each registry bucket's tail, one new stream per bucket at a time.
        self._heads: dict[str, StreamHead] = {}
        self._tails: dict[int, RegistryHead] = {}
        self._bucket_locks: dict[int, asyncio.Lock] = {}
        self._buckets = RegistryBuckets()  # which bucket a new stream joins (registry_buckets)
        # PostgreSQL: the tails are read once, before the first create (sql_append._seed_tails).
        self._tails_seeded = False
        self._tails_seeding = asyncio.Lock()
        # The registry directory's bucket count, which registrations attest once this process
        # has made or found it (sql_append._ensure_directory); None before: the older format.
        self._directory: int | None = None
        # PostgreSQL: the raw path's connections, kept checked out between statements, at most
        # the pool's steady size (core.store.postgres_kept).
        self._raw_kept = KeptPostgres(engine) if self._is_postgres else None
        # Learner rows the access check read in the last LEARNER_ROW_SECONDS (see _seen_learner).
        self._learner_rows: dict[str, tuple[float, Learner]] = {}

    def _remember_learner(self, learner: Learner) -> None:
        """Keep the learner row the access check just read (at most ``LEARNER_ROWS`` of them)."""
        rows = self._learner_rows
        rows.pop(learner.learner_id, None)
        rows[learner.learner_id] = (time.monotonic(), learner)
        if len(rows) > LEARNER_ROWS:
            del rows[next(iter(rows))]

    def _seen_learner(self, learner_id: str) -> Learner | None:
        """The learner's row as this process's access check read it in the last
        ``LEARNER_ROW_SECONDS``, if it did.

        Every authenticated request reads the learner's row for its token check; a session
        creation then asked for the same row to know the learner exists, a round trip more on
        the request that already had the most. Learners are never deleted and their names never
        change, and a role change made here forgets the row, so all this can give that a read
        would not is a role changed within that second (by another process, or racing the access
        check's read): the role the request's access check has just acted on.
        """
        seen = self._learner_rows.get(learner_id)
        if seen is None or time.monotonic() - seen[0] > LEARNER_ROW_SECONDS:
            return None
        return seen[1]

    @property
    def chain_keys(self) -> ChainKeys:
        """The event HMAC keys this store signs and verifies with."""
        return self._chain_keys

    @asynccontextmanager
    async def _transaction(
        self, *, write: bool = False, replica: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """Yield a connection in a transaction that commits on success; ``write`` for writers,
        ``replica`` for a read that may be served by the read replica (when one is configured).

        Connectivity failures, here or in the block, become ``StoreUnavailable``.
        """
        engine = self._replica if replica and not write else self._engine
        turn: AbstractAsyncContextManager[object] = (
            self._sqlite_writers if write and self._sqlite_writers is not None else nullcontext()
        )
        if engine is self._engine:
            await self._lend_kept()
        async with turn:
            with unavailable_on_connectivity_errors(engine.url):
                async with (self._writer if write else engine).begin() as connection:
                    yield connection

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """Yield a connection for **one** read statement, outside any explicit transaction.

        A lone ``SELECT`` is its own transaction on both databases, so wrapping it in
        ``BEGIN … COMMIT`` only adds two round trips (two thread hops on SQLite) per read; the hot
        reads of every request (token state, stream, idempotency key, challenge, learner) use this.
        Several statements that must agree with each other still go through ``_transaction``.
        """
        await self._lend_kept()
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._lone_reads.connect() as connection:
                yield connection

    async def _close_kept(self) -> None:
        """Return the raw path's kept connections to the pool (before the engine is disposed)."""
        if self._kept is not None:
            await self._kept.close()
        if self._raw_kept is not None:
            await self._raw_kept.close()

    async def _lend_kept(self) -> None:
        """Before a SQLAlchemy checkout of the primary's pool: an idle connection the raw path
        keeps goes back to the pool when the pool has none (``KeptPostgres.lend_to_pool``).

        Every SQLAlchemy checkout of the store's engine goes through ``_transaction``, ``_read``
        or ``_raw_connection``, which call this: a new one must too."""
        if self._raw_kept is not None:
            await self._raw_kept.lend_to_pool()

    def _raw_read(self) -> AbstractAsyncContextManager[RawConnection]:
        """Like :meth:`_read`, but yield the driver connection for raw statements
        (``core.store.sql_raw``): one statement, in its own implicit transaction."""
        if self._raw_kept is not None:
            return KeptRead(self._raw_kept)
        return self._sqlite_raw_read()

    async def _fetch(self, statement: Sql, args: Sequence[Any]) -> list[Row]:
        """The rows of one raw read ``statement``; on PostgreSQL, read once more on a fresh
        connection when the connection died under it (``LOST_CONNECTION``: a read is safe to
        repeat). A second failure, or any other error, fails the read as before."""
        return await self._read_raw(_rows, statement, args)

    async def _fetchrow(self, statement: Sql, args: Sequence[Any]) -> Row | None:
        """:meth:`_fetch` for a statement of one row (or None)."""
        return await self._read_raw(_row, statement, args)

    async def _read_raw(self, read: _Read[_T], statement: Sql, args: Sequence[Any]) -> _T:
        if self._raw_kept is None:
            async with self._sqlite_raw_read() as raw:
                return await read(raw, statement.kind, statement.sqlite, args)
        reading = KeptRead(self._raw_kept, NO_IDLE_PING)
        async with reading as raw:
            try:
                return await read(raw, statement.kind, statement.postgres, args)
            except LOST_CONNECTION:
                raw = await reading.renew()
                return await read(raw, statement.kind, statement.postgres, args)

    @asynccontextmanager
    async def _sqlite_raw_read(self) -> AsyncIterator[RawConnection]:
        with unavailable_on_connectivity_errors(self._engine.url):
            assert self._kept is not None
            async with self._kept.connection() as raw:
                yield raw

    @asynccontextmanager
    async def _raw_transaction(self, *, with_core: bool = False) -> AsyncIterator[RawConnection]:
        """A write transaction on the driver connection, committed on success (``BEGIN IMMEDIATE``
        on SQLite, in this process's writer queue; an asyncpg transaction on PostgreSQL).

        ``with_core``: the block also runs SQLAlchemy statements on ``raw.connection``. That
        connection comes from the lone-statement view, so SQLAlchemy begins nothing of its own
        on it and its statements join this transaction. Without it the connection is checked out
        of the pool directly, which costs less.
        """
        turn: AbstractAsyncContextManager[object] = (
            self._sqlite_writers if self._sqlite_writers is not None else nullcontext()
        )
        async with turn:
            with unavailable_on_connectivity_errors(self._engine.url):
                async with self._raw_connection(with_core) as raw:
                    await raw.begin()
                    try:
                        yield raw
                    except BaseException:
                        await raw.rollback()
                        raise
                    await raw.commit()

    @asynccontextmanager
    async def _raw_connection(self, with_core: bool) -> AsyncIterator[RawConnection]:
        if not with_core:
            async with self._raw_read() as raw:
                yield raw
            return
        await self._lend_kept()
        async with self._lone_reads.connect() as connection:
            yield raw_connection(connection, postgres=self._is_postgres)

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """Return an INSERT that supports ON CONFLICT on this dialect."""
        return postgresql.insert(table) if self._is_postgres else sqlite.insert(table)

    def _upsert_by_session(self, table: Table, values: dict[str, Any]) -> Any:
        """INSERT … ON CONFLICT (session_id) DO UPDATE of the other columns in ``values``; run it
        as ``connection.execute(statement, values)``.

        Built once per table and column set: building the ``excluded`` alias (a copy of every
        column) on each append was a measurable share of a request's CPU.
        """
        key = (table.name, tuple(values))
        statement = self._upserts.get(key)
        if statement is None:
            insert = self._insert(table)
            statement = insert.on_conflict_do_update(
                index_elements=[table.c.session_id],
                set_={name: insert.excluded[name] for name in key[1] if name != "session_id"},
            )
            self._upserts[key] = statement
        return statement

    def _binary(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """Return ``column`` ordered by code point, as SQLite and the in-memory store order it.

        A PostgreSQL database created with a linguistic collation would otherwise disagree.
        """
        return column.collate("C") if self._is_postgres else column


_T = TypeVar("_T")
# One raw read: the connection, the statement's kind (for the counters), its text and arguments.
_Read = Callable[[RawConnection, str, str, Sequence[Any]], Awaitable[_T]]


def _rows(raw: RawConnection, kind: str, text: str, args: Sequence[Any]) -> Awaitable[list[Row]]:
    return raw.fetch(kind, text, args)


def _row(raw: RawConnection, kind: str, text: str, args: Sequence[Any]) -> Awaitable[Row | None]:
    return raw.fetchrow(kind, text, args)


class KeptRead:
    """A kept raw PostgreSQL connection for the block (see ``SqlStoreBase._raw_read``): taken
    from :class:`~core.store.postgres_kept.KeptPostgres`, given back on exit, connectivity errors
    turned into ``StoreUnavailable``.

    A class, not ``asynccontextmanager``s stacked three deep as before: every request goes
    through here once or twice, and their generators' frames and exit stacks cost more than the
    checkout they wrapped.
    """

    __slots__ = ("_kept", "_ping_after", "_pool")

    _kept: Kept | None  # None: renew gave it back, and failed to take another

    def __init__(self, pool: KeptPostgres, ping_after: float | None = None) -> None:
        """``ping_after``: ``KeptPostgres.take``'s (``NO_IDLE_PING`` for a block that calls
        :meth:`renew` when its connection dies under it)."""
        self._pool = pool
        self._ping_after = ping_after

    async def __aenter__(self) -> RawConnection:
        kept = self._pool.take_idle(self._ping_after)
        if kept is not None:
            self._kept = kept
            return kept.raw
        try:
            kept = await self._pool.take(self._ping_after)
        except (OSError, exc.DBAPIError, exc.TimeoutError) as error:
            replacement = unavailable_error(self._pool.url, error)
            if replacement is None:
                raise
            raise replacement from error
        self._kept = kept
        return kept.raw

    async def renew(self) -> RawConnection:
        """The block's connection died under a statement (``LOST_CONNECTION``; ``PostgresRaw``
        invalidated it): give it back and take another, for the block to go on with.

        Fresh, not just another idle one: giving back a connection that failed for connectivity
        makes every idle one due for a ping (``KeptPostgres.give_back``), so :meth:`take` pings
        the one it hands out, or opens a new one. Failing that, the block fails, unavailable."""
        kept, self._kept = self._kept, None
        assert kept is not None
        await self._pool.give_back(kept)
        kept = await self._pool.take()
        self._kept = kept
        return kept.raw

    async def __aexit__(
        self, _type: type[BaseException] | None, error: BaseException | None, _tb: object
    ) -> None:
        kept = self._kept
        if error is None and kept is not None and self._pool.keep(kept):
            return
        if kept is not None:
            # A block cancelled mid-statement may leave the statement running: not kept.
            await self._pool.give_back(kept, cancelled=isinstance(error, asyncio.CancelledError))
        if error is not None:
            replacement = unavailable_error(self._pool.url, error)
            if replacement is not None:
                raise replacement from error
