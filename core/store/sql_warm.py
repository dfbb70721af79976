"""Warming a PostgreSQL store before a server reports ready (``WARM_UP_SECONDS``).

A process that has just started has nothing open: the pool opened its connections one by one
during the first burst of requests (a PostgreSQL backend forked, authenticated and set up by
SQLAlchemy's asyncpg dialect for each), each connection prepared every hot statement on its first
use of it (a Parse/Describe round trip more), each backend compiled ``curiouscore_append`` on its
first call, and the first create read every registry bucket's tail. All of that landed on the
first requests, which then queued behind each other: with 50 learners creating at once on a fresh
server, the first round's creates made nearly all of the create p99 (benchmarks/README.md).

:meth:`SqlWarmUp.warm_up` does it before the server listens: it holds the pool's ``POOL_SIZE``
connections at once (so that many are opened, and stay kept by the raw path:
``core.store.postgres_kept``), runs each hot statement once
on each of them with arguments that match nothing, so asyncpg prepares and caches it there, calls
the append function in a way that writes nothing (an expected version of -1 is a ``conflict``
whatever the stream holds), and reads the registry tails the first create would read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.store.sql_accounts import _TOKEN_STATE
from core.store.sql_append import APPEND_ARGUMENTS, TIP
from core.store.sql_events import (
    _FIND_IDEMPOTENT,
    _LOAD_SNAPSHOT,
    _READ_STREAM,
    _READ_STREAM_FOR,
    _STREAM_VERSION,
    SqlEventStore,
)
from core.store.sql_raw import RawConnection, Sql
from core.store.sql_read_models import _LATEST_VERSION_OF, _LEARNER

# No session, learner or challenge has an empty id: the statements below match no row.
_NOBODY = ""
# The hot path's reads, with arguments that match nothing.
_HOT_READS: tuple[tuple[Sql, tuple[Any, ...]], ...] = (
    (_TOKEN_STATE, (_NOBODY,)),
    (_READ_STREAM, (_NOBODY, 0)),
    (_READ_STREAM_FOR, (_NOBODY, 0, _NOBODY, 0, _NOBODY)),
    (_LOAD_SNAPSHOT, (_NOBODY,)),
    (TIP, (_NOBODY, _NOBODY)),
    (_FIND_IDEMPOTENT, (_NOBODY, _NOBODY)),
    (_STREAM_VERSION, (_NOBODY,)),
    (_LATEST_VERSION_OF, (_NOBODY,)),
    (_LEARNER, (_NOBODY,)),
)
# An expected version of -1 is a conflict with any stream (it has no head, so "expected 0"; or a
# head, whose version is >= 1): with every other argument NULL (no claim, no key; a NULL
# p_serialize takes the stream's own lock) curiouscore_append returns then, having written nothing.
_NO_APPEND_EXPECTED = -1


class SqlWarmUp(SqlEventStore):
    """``warm_up`` (see the module docstring)."""

    async def warm_up(self) -> int:
        """Open the pool's ``POOL_SIZE`` connections, prepare the hot statements on each and read
        the registry tails; return how many connections were warmed (0 on SQLite, whose
        connections are opened on the event loop in microseconds and cache their statements).

        Connectivity failures raise ``StoreUnavailable``, a database without the schema
        ``SchemaNotMigrated``; callers bound the time (``core.bootstrap.warm_up``)."""
        if self._raw_kept is None:  # SQLite
            return 0
        size = self._raw_kept.size
        held = 0
        everyone_holds = asyncio.Event()

        async def warm_one() -> None:
            nonlocal held
            async with self._raw_read() as raw:
                await self._warm_statements(raw)
                held += 1
                if held == size:
                    everyone_holds.set()
                # Held until every connection is open: given back at once, it would be the one
                # the next statement reuses, and no other would be opened.
                await everyone_holds.wait()

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(size):
                    group.create_task(warm_one())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        async with self._raw_read() as raw:
            await self._seed_tails(raw)
        return size

    async def _warm_statements(self, raw: RawConnection) -> None:
        """Run every hot statement once on ``raw``, so its driver prepares and caches them."""
        for statement, args in _HOT_READS:
            await raw.fetch("warm_up", statement.postgres, args)
        nothing = [_NOBODY, _NO_APPEND_EXPECTED, *[None] * (APPEND_ARGUMENTS - 2)]
        await self._call(raw, nothing)  # a "conflict": nothing written, nothing to read back
