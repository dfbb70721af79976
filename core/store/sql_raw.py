"""The hot statements on the driver connection itself (``sqlite3`` or asyncpg), not SQLAlchemy Core.

SQLAlchemy Core's execution of one statement (compile-cache lookup, execution context, result
processing, the async adapter's greenlet hop) cost 0.1-0.2 ms of CPU, more than SQLite takes to
answer a keyed read and more than asyncpg takes to send one; every request ran about a dozen. The
statements of every request (token check, stream read, idempotency key, append and the read models
it carries) are therefore plain SQL text run on the driver connection of a connection SQLAlchemy's
pool handed out, through ``sqlite3``'s statement cache or asyncpg's prepared-statement cache.
SQLAlchemy keeps the pool, migrations and every cold query.

**Transactions.** A raw connection is checked out of SQLAlchemy's pool directly (``pool_connection``)
and kept checked out between statements (``core.store.sqlite_kept``, ``core.store.postgres_kept``),
so SQLAlchemy begins nothing on it: a read is one statement in its own implicit transaction, and a
write transaction is begun and ended here (``BEGIN IMMEDIATE`` on SQLite, an asyncpg transaction
on PostgreSQL). The rare write that also runs SQLAlchemy statements (the review-queue rows an
append may carry) takes its connection from the store's "lone statement" view of the engine
instead (PostgreSQL in autocommit, SQLite without the ``BEGIN`` hook; ``core.store.engine``): in
that mode neither SQLAlchemy's asyncpg adapter nor our SQLite hook begins a transaction, so those
statements join ours.

**Errors.** A driver error is raised as the SQLAlchemy exception SQLAlchemy would have raised for it
(``IntegrityError``, ``OperationalError``, ``InterfaceError``, ``ProgrammingError``, ``DBAPIError``,
with the driver's error as ``orig``), so the store's existing handling applies unchanged: unique
violations become ``ConcurrencyError`` / duplicates / ``XpAlreadyGranted``, connectivity failures
``StoreUnavailable`` and a missing table ``SchemaNotMigrated`` (``core.store.engine``). A PostgreSQL
connection that failed for connectivity is invalidated, so the pool never hands it out again.

**A connection that died under a statement** (``LOST_CONNECTION``: the server restarted or failed
over, ``pg_terminate_backend``, a proxy dropped it) is not the request's fault: the store's reads
run once more on a fresh connection (``SqlStoreBase._fetch``) and an append finds out whether it
committed before it is sent again (``core.store.sql_append``).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine.interfaces import PoolProxiedConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import greenlet_spawn

from core.store.engine import is_connectivity_error, is_missing_table_error
from core.store.sqlite_inline import InlineConnection, run_inline

# Statements run on the raw path since the process started, by kind: benchmarks and tests read
# it (SQLAlchemy's own cursor events do not see these statements).
STATEMENTS: Counter[str] = Counter()

Row = Sequence[Any]

_NUMBERED = re.compile(r"\$(\d+)")

# What a PostgreSQL statement raises when its connection died under it, as ``PostgresRaw``
# translates it (``_postgres_error``: asyncpg's ``PostgresConnectionError``, ``InterfaceError``
# with its ``ConnectionDoesNotExistError``, ``InternalClientError``, or any error that left the
# connection closed, such as the "terminating connection" notice) or a reset socket. Not a statement's
# own error, and not a timeout (``TimeoutError`` is an ``OSError``, not a ``ConnectionError``): one
# that may mean an overloaded server is not sent again at once.
LOST_CONNECTION: tuple[type[BaseException], ...] = (exc.InterfaceError, ConnectionError)


@dataclass(frozen=True, slots=True)
class Sql:
    """A statement's text for PostgreSQL (``$1`` parameters) and for SQLite (``?1``)."""

    kind: str
    postgres: str
    sqlite: str


def sql(kind: str, postgres: str, *, sqlite: str | None = None) -> Sql:
    """Given PostgreSQL text with ``$n`` parameters, return the statement for both databases
    (SQLite numbers its parameters ``?n``); pass ``sqlite`` when its text differs otherwise."""
    return Sql(kind, postgres, sqlite if sqlite is not None else _NUMBERED.sub(r"?\1", postgres))


class RawConnection:
    """A pooled connection's driver connection; every statement returns rows as sequences.

    ``fairy`` is the pool's handle on it; ``sa_connection`` the SQLAlchemy connection holding it,
    when there is one (write transactions), for the cold statements that join the transaction.
    """

    is_postgres: bool

    def __init__(self, sa_connection: AsyncConnection | None, fairy: PoolProxiedConnection) -> None:
        self._sa_connection = sa_connection
        self._fairy = fairy

    @property
    def connection(self) -> AsyncConnection:
        """The SQLAlchemy connection this driver connection belongs to (write transactions)."""
        if self._sa_connection is None:
            raise RuntimeError("a raw read has no SQLAlchemy connection")
        return self._sa_connection

    @property
    def info(self) -> dict[Any, Any]:
        """The pooled connection's info dict (it outlives transactions and checkouts)."""
        return self._fairy.info

    async def invalidate(self) -> None:
        """Make the pool discard this connection (it failed for connectivity)."""
        with suppress(Exception):  # already closed: nothing more to release
            if self._sa_connection is not None:
                await self._sa_connection.invalidate()
            else:
                await greenlet_spawn(self._fairy.invalidate)

    def text(self, statement: Sql) -> str:
        return statement.postgres if self.is_postgres else statement.sqlite

    async def fetch(self, kind: str, text: str, args: Sequence[Any]) -> list[Row]:
        raise NotImplementedError

    async def fetchrow(self, kind: str, text: str, args: Sequence[Any]) -> Row | None:
        raise NotImplementedError

    async def execute(self, kind: str, text: str, args: Sequence[Any]) -> int:
        """Run a statement; return how many rows it changed."""
        raise NotImplementedError

    async def executemany(self, kind: str, text: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def begin(self) -> None:
        raise NotImplementedError

    async def commit(self) -> None:
        raise NotImplementedError

    async def rollback(self) -> None:
        """Roll the transaction back; an error doing so (the connection is gone) is dropped, as
        the error that made the caller roll back is the one to report."""
        raise NotImplementedError


class SqliteRaw(RawConnection):
    """The ``sqlite3`` connection behind the inline dialect (``core.store.sqlite_inline``); a
    statement that finds the database locked by another process waits in a worker thread."""

    is_postgres = False

    def __init__(
        self,
        sa_connection: AsyncConnection | None,
        fairy: PoolProxiedConnection,
        inline: InlineConnection,
    ) -> None:
        super().__init__(sa_connection, fairy)
        self._inline = inline
        self._db = inline.sqlite3_connection

    async def _run(self, kind: str, call: Callable[..., Any], *args: Any) -> Any:
        STATEMENTS[kind] += 1
        try:
            return await run_inline(self._inline, call, *args)
        except sqlite3.Error as error:
            raise _sqlite_error(error) from error

    def _fetchall(self, text: str, args: Sequence[Any]) -> list[Row]:
        return self._db.execute(text, args).fetchall()

    def _fetchone(self, text: str, args: Sequence[Any]) -> Row | None:
        row: Row | None = self._db.execute(text, args).fetchone()
        return row

    def _rowcount(self, text: str, args: Sequence[Any]) -> int:
        return self._db.execute(text, args).rowcount

    async def fetch(self, kind: str, text: str, args: Sequence[Any]) -> list[Row]:
        rows: list[Row] = await self._run(kind, self._fetchall, text, args)
        return rows

    async def fetchrow(self, kind: str, text: str, args: Sequence[Any]) -> Row | None:
        row: Row | None = await self._run(kind, self._fetchone, text, args)
        return row

    async def execute(self, kind: str, text: str, args: Sequence[Any]) -> int:
        count: int = await self._run(kind, self._rowcount, text, args)
        return count

    async def executemany(self, kind: str, text: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._run(kind, self._db.executemany, text, rows)

    async def begin(self) -> None:
        # IMMEDIATE: take the write lock now (a deferred transaction that reads and then writes
        # fails at once when another connection wrote in between; see core.store.engine.writer).
        await self._run("begin", self._db.execute, "BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self._run("commit", self._db.execute, "COMMIT")

    async def rollback(self) -> None:
        STATEMENTS["rollback"] += 1
        with suppress(sqlite3.Error):
            self._db.rollback()  # a no-op when no transaction is open

    async def savepoint(self) -> None:
        await self._run("savepoint", self._db.execute, "SAVEPOINT curiouscore_append")

    async def release(self) -> None:
        await self._run("savepoint", self._db.execute, "RELEASE SAVEPOINT curiouscore_append")

    async def rollback_to_savepoint(self) -> None:
        await self._run("savepoint", self._db.execute, "ROLLBACK TO SAVEPOINT curiouscore_append")
        await self.release()


class PostgresRaw(RawConnection):
    """asyncpg's own connection (its prepared-statement cache), with transactions of our own."""

    is_postgres = True

    def __init__(
        self, sa_connection: AsyncConnection | None, fairy: PoolProxiedConnection, driver: Any
    ) -> None:
        super().__init__(sa_connection, fairy)
        self.driver = driver
        self._transaction: Any = None

    async def _failed(self, error: BaseException) -> BaseException:
        """Translate ``error``; invalidate the pooled connection when the server is unreachable."""
        translated = _postgres_error(error, self.driver.is_closed())
        if is_connectivity_error(translated) and not is_missing_table_error(translated):
            self._transaction = None
            await self.invalidate()
        return translated

    async def fetch(self, kind: str, text: str, args: Sequence[Any]) -> list[Row]:
        STATEMENTS[kind] += 1
        try:
            rows: list[Row] = await self.driver.fetch(text, *args)
        except Exception as error:
            raise await self._failed(error) from error
        return rows

    async def fetchrow(self, kind: str, text: str, args: Sequence[Any]) -> Row | None:
        STATEMENTS[kind] += 1
        try:
            row: Row | None = await self.driver.fetchrow(text, *args)
        except Exception as error:
            raise await self._failed(error) from error
        return row

    async def execute(self, kind: str, text: str, args: Sequence[Any]) -> int:
        STATEMENTS[kind] += 1
        try:
            status: str = await self.driver.execute(text, *args)
        except Exception as error:
            raise await self._failed(error) from error
        # "INSERT 0 1", "UPDATE 1", …: the last word is the row count.
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    async def executemany(self, kind: str, text: str, rows: Sequence[Sequence[Any]]) -> None:
        STATEMENTS[kind] += 1
        try:
            await self.driver.executemany(text, rows)
        except Exception as error:
            raise await self._failed(error) from error

    async def begin(self) -> None:
        STATEMENTS["begin"] += 1
        try:
            transaction = self.driver.transaction()
            await transaction.start()
        except Exception as error:
            raise await self._failed(error) from error
        self._transaction = transaction

    async def commit(self) -> None:
        STATEMENTS["commit"] += 1
        transaction, self._transaction = self._transaction, None
        try:
            await transaction.commit()
        except Exception as error:
            raise await self._failed(error) from error

    async def rollback(self) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None or self.driver.is_closed():
            return
        STATEMENTS["rollback"] += 1
        try:
            await transaction.rollback()
        except Exception:
            # Whatever went wrong, the connection may still be inside the transaction: it must
            # not go back to the pool (SQLAlchemy's reset on return knows nothing of it).
            await self.invalidate()


def raw_connection(connection: AsyncConnection, *, postgres: bool) -> RawConnection:
    """Return the driver connection behind ``connection`` (checked out, not in a transaction of
    SQLAlchemy's: one from the store's lone-statement view)."""
    fairy = connection.sync_connection.connection  # type: ignore[union-attr]
    return _wrap(connection, fairy, postgres)


async def pool_connection(engine: AsyncEngine) -> PoolProxiedConnection:
    """A connection of ``engine``'s pool, its driver's errors on opening translated as SQLAlchemy
    translates them (``DBAPIError`` and its subclasses); give it back with ``fairy.close``."""
    dialect = engine.dialect
    try:
        return await engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            None, None, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error


def _wrap(
    sa_connection: AsyncConnection | None, fairy: PoolProxiedConnection, postgres: bool
) -> RawConnection:
    driver = fairy.driver_connection
    if postgres:
        return PostgresRaw(sa_connection, fairy, driver)
    assert isinstance(driver, InlineConnection)
    return SqliteRaw(sa_connection, fairy, driver)


_SQLITE_ERRORS: tuple[tuple[type[sqlite3.Error], type[exc.DBAPIError]], ...] = (
    (sqlite3.IntegrityError, exc.IntegrityError),
    (sqlite3.OperationalError, exc.OperationalError),
    (sqlite3.ProgrammingError, exc.ProgrammingError),
    (sqlite3.InterfaceError, exc.InterfaceError),
    (sqlite3.DatabaseError, exc.DatabaseError),
)


def _sqlite_error(error: sqlite3.Error) -> exc.DBAPIError:
    for driver_class, translated in _SQLITE_ERRORS:
        if isinstance(error, driver_class):
            return translated(None, None, error)
    return exc.DBAPIError(None, None, error)


def _postgres_error(error: BaseException, closed: bool) -> BaseException:
    """The SQLAlchemy exception SQLAlchemy's asyncpg dialect raises for ``error`` (an ``OSError``,
    such as a refused or reset connection, stays itself: ``core.store.engine`` handles it).

    Unlike SQLAlchemy, a client-side protocol error (``InternalClientError``: the server's
    "terminating connection" notice arrived while a statement was being sent) or any error after
    which the connection is closed counts as connectivity: the connection is unusable, and a
    retry on a new one will do.
    """
    import asyncpg  # the PostgreSQL extra; only PostgreSQL stores get here

    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError(None, None, error)
    if isinstance(
        error,
        asyncpg.PostgresConnectionError | asyncpg.InterfaceError | asyncpg.InternalClientError,
    ):
        return exc.InterfaceError(None, None, error)
    if closed and not isinstance(error, OSError):
        return exc.InterfaceError(None, None, error)
    if isinstance(error, asyncpg.SyntaxOrAccessError):
        return exc.ProgrammingError(None, None, error)
    if isinstance(error, asyncpg.PostgresError):
        return exc.DBAPIError(None, None, error)
    return error
