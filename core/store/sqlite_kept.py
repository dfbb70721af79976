"""SQLite's raw connections kept checked out between statements, instead of a pool trip each.

Every raw read and every write transaction of a request used to check a connection out of
SQLAlchemy's pool and back (``core.store.sql_raw.checked_out``): a ``_ConnectionFairy`` with its
weak-reference finalizer, the queue, the reset-on-return ``ROLLBACK`` and two greenlet hops, which
together cost more CPU than the SQLite statement they carried (a keyed read from the page cache).
On SQLite every statement runs inline on the event loop (``core.store.sqlite_inline``), so a
connection is rarely held across a suspension and a couple of them serve the whole process: this
keeps the few that were used, checked out, and hands them to the next raw user.

What the pool guaranteed still holds: a connection is used by one holder at a time (the list only
holds idle ones); one that comes back from a failed or cancelled block, or still inside a
transaction, is not kept but closed into the pool, whose reset rolls it back as before; the
connections beyond ``keep`` go back to the pool; :meth:`KeptConnections.close` returns them all
before the engine is disposed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine.interfaces import PoolProxiedConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from core.store.sql_raw import Row, SqliteRaw, pool_connection
from core.store.sqlite_inline import InlineConnection

# Idle connections kept at most; more are only in use while a busy wait (another process holds
# the write lock) keeps several statements suspended at once.
KEEP = 4


@dataclass(frozen=True, slots=True)
class _Kept:
    raw: SqliteRaw
    fairy: PoolProxiedConnection  # the pool's handle, closed to give the connection back
    inline: InlineConnection


class KeptConnections:
    """Idle raw SQLite connections of ``engine``'s pool, kept checked out (see the module)."""

    def __init__(self, engine: AsyncEngine, *, keep: int = KEEP) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[_Kept] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[SqliteRaw]:
        """A raw connection outside any transaction, for one holder until the block ends."""
        kept = self._idle.pop() if self._idle else await self._check_out()
        try:
            yield kept.raw
        except BaseException:
            await _give_back(kept)  # the pool's reset rolls back whatever the block left open
            raise
        await self._put_back(kept)

    async def fetchrow(self, kind: str, text: str, args: Sequence[Any]) -> Row | None:
        """``fetchrow`` on :meth:`connection`'s connection, without its context manager: the
        access check's read runs on every authenticated request, and the generator machinery
        of ``connection()`` (and of the store's ``_raw_read`` around it) cost about half as
        much CPU as the statement (benchmarks/README.md, "Session 5, round 2")."""
        kept = self._idle.pop() if self._idle else await self._check_out()
        try:
            row = await kept.raw.fetchrow(kind, text, args)
        except BaseException:
            await _give_back(kept)
            raise
        await self._put_back(kept)
        return row

    async def _put_back(self, kept: _Kept) -> None:
        if len(self._idle) < self._keep and not kept.inline.in_transaction:
            self._idle.append(kept)
        else:
            await _give_back(kept)

    async def _check_out(self) -> _Kept:
        fairy = await pool_connection(self._engine)
        driver = fairy.driver_connection
        assert isinstance(driver, InlineConnection)
        return _Kept(SqliteRaw(None, fairy, driver), fairy, driver)

    async def close(self) -> None:
        """Return every kept connection to the pool (before the engine is disposed)."""
        idle, self._idle = self._idle, []
        for kept in idle:
            await _give_back(kept)

    def __len__(self) -> int:
        return len(self._idle)


async def _give_back(kept: _Kept) -> None:
    await greenlet_spawn(kept.fairy.close)
