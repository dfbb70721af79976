"""SQLite for the async engine without a thread per connection: statements run on the event loop.

SQLAlchemy's ``aiosqlite`` driver sends every call (execute, fetch, commit, …) to a thread of its
own and back, two context switches and a wake-up of the event loop each; a learner's action is a
dozen such calls, and the hops, not SQLite, were most of its cost. SQLite itself answers a keyed
read or a small write from the page cache in microseconds, less than one hop, so this dialect runs
the standard library's ``sqlite3`` directly inside SQLAlchemy's greenlet (the loop's thread).

One thing must not happen on the loop: waiting for another *process* that holds the write lock
(the busy timeout). So connections run with ``busy_timeout=0`` on the loop; a statement that finds
the database locked (``SQLITE_BUSY``, which means it did nothing) is run again in a worker thread
with the configured busy timeout, and the loop serves other requests meanwhile. Within this process
the store's single writer task (group commit) already keeps writers from contending.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util import await_

DRIVER = "sqlite+curiouscore"
T = TypeVar("T")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "database is locked" in str(error)


class _Locked:
    """The type of :data:`LOCKED`."""


LOCKED = _Locked()  # a statement found the database locked by another process


class InlineConnection:
    """A ``sqlite3`` connection whose busy waits happen off the event loop (see the module)."""

    def __init__(self, connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
        self._connection = connection
        self.busy_timeout_ms = busy_timeout_ms

    def _run(self, call: Callable[[], T]) -> T:
        result = self.try_on_loop(call)
        if isinstance(result, _Locked):
            return await_(asyncio.to_thread(self.wait_off_loop, call))
        return result

    def try_on_loop(self, call: Callable[[], T]) -> T | _Locked:
        """``call()`` here and now, or :data:`LOCKED` when it found the database locked (which
        means it did nothing) and may wait for it off the loop."""
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or self.busy_timeout_ms <= 0:
                raise
        return LOCKED

    def wait_off_loop(self, call: Callable[[], T]) -> T:
        """``call()`` with the busy timeout, in a worker thread."""
        self._connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        try:
            return call()
        finally:
            self._connection.execute("PRAGMA busy_timeout=0")

    @property
    def sqlite3_connection(self) -> sqlite3.Connection:
        """The ``sqlite3`` connection itself (for :func:`run_inline`)."""
        return self._connection

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (asked each time a kept connection comes back: through
        ``__getattr__`` it cost a failed attribute lookup first)."""
        return self._connection.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._connection.cursor())

    def commit(self) -> None:
        self._run(self._connection.commit)

    def rollback(self) -> None:
        self._connection.rollback()

    def close(self) -> None:
        self._connection.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_connection", "busy_timeout_ms"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._connection, name, value)


async def run_inline(connection: InlineConnection, call: Callable[..., T], *args: Any) -> T:
    """Run ``call(*args)`` (a call on ``connection.sqlite3_connection``) on the event loop, from
    plain async code rather than SQLAlchemy's greenlet; when it finds the database locked, run it
    again in a worker thread with the busy timeout, as :meth:`InlineConnection._run` does."""
    # try_on_loop written out: this runs for every raw statement (a dozen a request), and its
    # closure and extra call per statement are avoidable.
    try:
        return call(*args)
    except sqlite3.OperationalError as error:
        if not _is_busy(error) or connection.busy_timeout_ms <= 0:
            raise
    return await asyncio.to_thread(connection.wait_off_loop, lambda: call(*args))


class InlineCursor:
    """A ``sqlite3`` cursor whose statements go through :meth:`InlineConnection._run`; like
    SQLAlchemy's async adapters it reads a statement's rows at once, so a result stays readable
    after its connection went back to the pool."""

    arraysize = 1

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._owner = connection
        self._cursor = cursor
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, statement: str, parameters: Any = ()) -> InlineCursor:
        self._finish(self._owner._run(lambda: self._cursor.execute(statement, parameters)))
        return self

    def executemany(self, statement: str, parameters: Any) -> InlineCursor:
        self._finish(self._owner._run(lambda: self._cursor.executemany(statement, parameters)))
        return self

    def _finish(self, cursor: sqlite3.Cursor) -> None:
        self.description = cursor.description
        self._rows = deque(cursor.fetchall()) if cursor.description else deque()
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        await_(_ran())

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def close(self) -> None:
        self._rows.clear()
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's async results; the rows are already read."""


async def _ran() -> None:
    """Awaited once per statement: SQLAlchemy's async engine checks that a statement's execution
    awaited something (to catch a sync driver by mistake); this completes at once, without a trip
    through the event loop."""


class InlineDbapi:
    """The ``sqlite3`` module, with ``connect`` returning :class:`InlineConnection`."""

    paramstyle = "qmark"

    def __init__(self) -> None:
        for name in dir(sqlite3):
            if not name.startswith("_") and name not in ("connect",):
                setattr(self, name, getattr(sqlite3, name))

    def connect(self, *args: Any, busy_timeout_ms: int = 5000, **kwargs: Any) -> InlineConnection:
        kwargs["check_same_thread"] = False  # the busy fallback runs a call in a worker thread
        connection = sqlite3.connect(*args, **kwargs)
        connection.execute("PRAGMA busy_timeout=0")
        return InlineConnection(connection, busy_timeout_ms)


class SQLiteDialect_curiouscore(SQLiteDialect_pysqlite):
    """``sqlite+curiouscore://``: pysqlite run inline on the event loop (see the module)."""

    driver = "curiouscore"
    supports_statement_cache = True
    is_async = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return InlineDbapi()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def get_driver_connection(self, connection: Any) -> Any:
        return connection


registry.register("sqlite.curiouscore", __name__, "SQLiteDialect_curiouscore")
