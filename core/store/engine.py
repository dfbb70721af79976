"""Async engines for SQLite and PostgreSQL, and the translation of connectivity failures.

Shared by :class:`core.store.sql.SqlStore` and :func:`core.store.migrate.migrate` so that both
open connections the same way: SQLite in WAL mode with a busy timeout, foreign keys on and
SQLAlchemy (not the sqlite3 module) issuing ``BEGIN``; PostgreSQL through a pre-pinged pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.store import sqlite_inline
from core.store.base import SchemaNotMigrated, StoreUnavailable

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}

# Execution option read by the SQLite "begin" hook: writers start with BEGIN IMMEDIATE.
_SQLITE_IMMEDIATE = "curiouscore_sqlite_begin_immediate"
# Execution option read by the same hook: a lone read statement, no BEGIN at all.
_SQLITE_LONE_READ = "curiouscore_sqlite_lone_read"

# SQLSTATE classes (and codes) that mean "the server cannot serve us", not "the query is wrong":
# 08 connection exception, 28 invalid authorization, 3D unknown database, 53 insufficient
# resources (too many connections), 57P0x shutdown / cannot connect now.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "28", "3D", "53", "57P")


def async_url(url: str | URL) -> URL:
    """Given a database URL, return it with the async driver this package uses.

    ``sqlite://`` and ``postgresql://`` become ``sqlite+aiosqlite://`` and
    ``postgresql+asyncpg://``; anything else other than those two is rejected with ``ValueError``.
    """
    parsed = make_url(url)
    parsed = parsed.set(drivername=_ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
    if parsed.drivername not in _ASYNC_DRIVERS.values():
        raise ValueError(
            f"unsupported database driver {parsed.drivername!r}; "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return parsed


def create_store_engine(
    url: str | URL,
    *,
    pooled: bool = True,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_pre_ping: bool = True,
    pool_timeout: float = 30.0,
    connect_timeout: float = 10.0,
    sqlite_busy_timeout_ms: int = 5000,
) -> AsyncEngine:
    """Given a database URL, return an async engine configured for the store.

    Pool options apply to PostgreSQL; SQLite file databases keep SQLAlchemy's default pool.
    ``pooled=False`` gives a one-off engine (``NullPool``) for migrations. No connection is
    opened here.
    """
    sa_url = async_url(url)
    if sa_url.get_backend_name() == "sqlite":
        # Statements run on the event loop, busy waits in a thread (core/store/sqlite_inline.py).
        options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
        engine = create_async_engine(
            sa_url.set(drivername=sqlite_inline.DRIVER),
            connect_args={"busy_timeout_ms": sqlite_busy_timeout_ms},
            **options,
        )
        _configure_sqlite(engine)
        return engine
    pool_options: dict[str, Any] = (
        {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_pre_ping": pool_pre_ping,
            "pool_timeout": pool_timeout,
        }
        if pooled
        else {"poolclass": NullPool}
    )
    if pooled and pool_pre_ping:
        # SQLAlchemy's own pre-ping costs three round trips (BEGIN, ping, ROLLBACK) on *every*
        # checkout, i.e. on every transaction; ping only the connections that sat idle instead.
        pool_options["pool_pre_ping"] = False
    engine = create_async_engine(sa_url, connect_args={"timeout": connect_timeout}, **pool_options)
    if pooled and pool_pre_ping:
        _ping_idle_connections(engine)
    return engine


# A pooled PostgreSQL connection idle for longer than this is pinged before use (POOL_PRE_PING).
PING_IDLE_SECONDS = 1.0
# Where a pooled connection's record keeps when it was last given back.
_IDLE_SINCE = "curiouscore_idle_since"


def mark_idle_since(info: dict[Any, Any], since: float) -> None:
    """Record in a pooled connection's ``info`` that it has been idle since ``since``
    (``time.monotonic()``): a connection kept out of the pool while idle (the raw path's,
    ``core.store.postgres_kept``) goes back as idle as it was, to be pinged when it is due."""
    info[_IDLE_SINCE] = since


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """``POOL_PRE_PING``, for connections that sat idle in the pool for ``PING_IDLE_SECONDS``.

    A connection the server dropped (a restart, an idle timeout, a failover) is found on checkout
    and replaced, as with SQLAlchemy's pre-ping; one returned a moment ago under load is used at
    once. The window left: a connection that died within the last second fails its statement;
    the raw path's reads and appends go on on a fresh connection (and skip this ping altogether:
    ``core.store.postgres_kept.NO_IDLE_PING``), the rest fail with ``StoreUnavailable`` (503).
    """

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return  # new, or back in the pool a moment ago
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") from error

    event.listen(engine.sync_engine, "checkin", on_checkin)
    event.listen(engine.sync_engine, "checkout", on_checkout)


def writer(engine: AsyncEngine) -> AsyncEngine:
    """Return a view of ``engine`` (same pool) whose transactions take SQLite's write lock at BEGIN.

    A deferred SQLite transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between (the busy timeout does not apply), so every
    read-then-write transaction must begin IMMEDIATE. PostgreSQL ignores the option.
    """
    return engine.execution_options(**{_SQLITE_IMMEDIATE: True})


def lone_reader(engine: AsyncEngine) -> AsyncEngine:
    """Return a view of ``engine`` (same pool) for single-statement reads without ``BEGIN`` /
    ``COMMIT``: PostgreSQL in autocommit; SQLite without the ``BEGIN`` our hook would issue (not
    through SQLite's isolation level, whose reset on check-in would let the driver begin on its own).
    """
    if engine.url.get_backend_name() == "sqlite":
        return engine.execution_options(**{_SQLITE_LONE_READ: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _configure_sqlite(engine: AsyncEngine) -> None:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # None stops the driver from issuing its own BEGIN; _on_begin issues it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Switching a new file to WAL needs a lock other processes opening it at the same
            # moment may hold: like every statement, it waits for it off the loop.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", _on_begin)


def _on_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get(_SQLITE_LONE_READ, False):
        return  # a lone statement: SQLite runs it in its own implicit transaction
    if options.get(_SQLITE_IMMEDIATE, False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def is_connectivity_error(error: BaseException) -> bool:
    """Return whether ``error`` means the database cannot be reached (rather than a bad query)."""
    if isinstance(error, OSError):  # refused, unresolvable host, timeouts (TimeoutError is one)
        return True
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = getattr(error.orig, "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
    return False


@contextmanager
def unavailable_on_connectivity_errors(url: URL) -> Iterator[None]:
    """Turn connectivity failures inside the block into :class:`StoreUnavailable`.

    The message names the database with its password hidden, and any trace of the password in the
    driver's own message is masked too.
    """
    try:
        yield
    except (OSError, exc.DBAPIError, exc.TimeoutError) as error:
        replacement = unavailable_error(url, error)
        if replacement is None:
            raise
        raise replacement from error


def unavailable_error(url: URL, error: BaseException) -> StoreUnavailable | None:
    """What :func:`unavailable_on_connectivity_errors` raises instead of ``error`` (None: ``error``
    itself): for the hot path's context managers, which translate on exit without a generator."""
    if isinstance(error, exc.TimeoutError):
        # The pool had no free connection within POOL_TIMEOUT: the database is saturated, which
        # is a 503 with Retry-After for the client, not a server error.
        target = url.render_as_string(hide_password=True)
        return StoreUnavailable(
            f"database {target} is busy: no free pooled connection in time ({error.args[0]})"
        )
    if not isinstance(error, OSError | exc.DBAPIError):
        return None
    if is_missing_table_error(error):
        target = url.render_as_string(hide_password=True)
        return SchemaNotMigrated(
            f"database {target} has no CuriousCore schema yet; run: curiouscore db migrate"
        )
    if not is_connectivity_error(error):
        return None
    return StoreUnavailable(describe_unavailable(url, error))


def is_missing_table_error(error: BaseException) -> bool:
    """Return whether ``error`` says a table does not exist (the schema was never migrated)."""
    if not isinstance(error, exc.DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) == "42P01":  # PostgreSQL undefined_table
        return True
    return "no such table" in str(error.orig)


def describe_unavailable(url: URL, error: BaseException) -> str:
    """Return a one-line, password-free explanation of why ``url`` could not be used."""
    cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
    reason = f"{type(cause).__name__}: {cause}".strip()
    target = url.render_as_string(hide_password=True)
    message = f"database {target} is unavailable ({reason})"
    if url.password:
        password = str(url.password)
        for form in {password, quote(password, safe="")}:
            message = message.replace(form, "***")
    return message
