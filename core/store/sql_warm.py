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
whatever the stream holds), and reads the registry tails the first create would read (making
the registry directory first, when the database has none: ``core.store.integrity``).

That call returns before the function's writing half, whose statements PL/pgSQL plans on a
backend the first time they run: each backend's first real create paid for planning them and for
loading the written tables' and indexes' descriptions (a first create on a warmed backend took
~9 ms where the next took ~3.5, alone on this 2-core machine; with a burst of creates landing on
every backend at once, that came on top of the queue). So each connection also creates a stream
and appends to it (an idempotency key, a snapshot) and checks a claim that is not current, in a
transaction it rolls back: the plans are kept, nothing is written. The create locks its registry
bucket's tail row for as long as the transaction lasts (milliseconds), as any create does.

The pool opens connections after the warm-up too (beyond ``POOL_SIZE`` under load, up to
``MAX_OVERFLOW``, or to replace one), and which of them the raw path keeps is the pool's choice:
after the benchmark's 50 sign-ups, 5 of the 20 it kept had never run a hot statement, and each of
those backends' first create cost ~17 ms of PostgreSQL CPU instead of ~1 ms (the function
compiled, the statements prepared), all inside the first burst of creates. So once warmed, the
store warms every connection its pool opens as it opens (:meth:`SqlWarmUp.warm_new_connections`):
the request that opens one (rare, and already paying for a backend start) pays for that too, and
the request that first runs a hot statement on it does not. A failure there is logged, never
raised: the connection serves as an unwarmed one would.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from sqlalchemy import event
from sqlalchemy.util import await_only

from core.store.integrity import registry_bucket
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
from core.store.sql_raw import PostgresRaw, RawConnection, Sql
from core.store.sql_read_models import _LATEST_VERSION_OF, _LEARNER

log = logging.getLogger(__name__)

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
# The rolled-back streams of the writing half's warm-up (``SqlWarmUp._warm_writes``).
_WARM_STREAM = "warm-up-"
_WARM_AT = "1970-01-01T00:00:00.000+00:00"
# No registry tail has a negative length: the first create is refused with the actual tail.
_NO_TAIL = -1


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
        self.warm_new_connections()
        return size

    def warm_new_connections(self) -> None:
        """From now on, warm every connection the pool opens as it opens (see the module
        docstring); once per store."""
        sync_engine = self._engine.sync_engine
        if not event.contains(sync_engine, "connect", self._warm_opened):
            event.listen(sync_engine, "connect", self._warm_opened)

    def _warm_opened(self, dbapi_connection: Any, record: Any) -> None:
        """The pool's ``connect`` event (sync, inside SQLAlchemy's greenlet): warm the new
        connection's statements; log a failure and leave the connection as it is."""
        raw = _Opening(None, record, dbapi_connection.driver_connection)
        try:
            await_only(self._warm_statements(raw))
        except Exception as error:
            log.warning("could not warm a new pooled connection: %s", error)

    async def _warm_statements(self, raw: RawConnection) -> None:
        """Run every hot statement once on ``raw``, so its driver prepares and caches them."""
        for statement, args in _HOT_READS:
            await raw.fetch("warm_up", statement.postgres, args)
        nothing = [_NOBODY, _NO_APPEND_EXPECTED, *[None] * (APPEND_ARGUMENTS - 2)]
        await self._call(raw, nothing)  # a "conflict": nothing written, nothing to read back
        await self._warm_writes(raw)

    async def _warm_writes(self, raw: RawConnection) -> None:
        """Run the append function's writing half on ``raw`` in a transaction rolled back: a
        create (refused once, for the actual tail of its bucket, then written), an append to it
        with a key and a snapshot, and a claim that is not current (see the module docstring).

        The create writes no event: a transaction's events are numbered from its own id, so the
        append's first event would otherwise take the number of the create's."""
        stream = _WARM_STREAM + secrets.token_hex(8)
        await raw.begin()
        try:
            serialize = self._serialize_appends
            refused = await self._call(raw, _warm_create(stream, serialize, _NO_TAIL, None))
            if refused[0] != "registry":
                raise RuntimeError(f"the warm-up's first create was answered {refused[0]!r}")
            for arguments in (
                _warm_create(stream, serialize, refused[12], refused[13]),
                _warm_append(stream, serialize),
            ):
                answer = await self._call(raw, arguments)
                if answer[0] != "written":
                    raise RuntimeError(f"the warm-up's append was answered {answer[0]!r}")
            revoked = _warm_append(stream, serialize)
            revoked[-3:] = [_NOBODY, _NOBODY, 0]
            await self._call(raw, revoked)  # "revoked": there is no learner ""
        finally:
            await raw.rollback()


def _warm_create(stream: str, serialize: bool, tail_seq: int, tail_mac: str | None) -> list[Any]:
    """The function's arguments creating the warm-up's ``stream`` with no event, registered after
    (``tail_seq``, ``tail_mac``). MACs are placeholders: the function stores them unchecked."""
    return [
        stream, 0, None, None, serialize, None, None, "", "", "", "", _WARM_AT, None, "warm",
        registry_bucket(stream), tail_seq, tail_mac, "warm", "warm-registration", "warm",
        *_warm_index_row(stream),
        *[None] * 4,  # no snapshot
        *[None] * 8,  # no XP, no claim
    ]  # fmt: skip


def _warm_append(stream: str, serialize: bool) -> list[Any]:
    """The function's arguments appending one event to the warm-up's ``stream`` (created with
    none, by ``_warm_create``), with an idempotency key and a snapshot."""
    return [
        stream, 0, "warm-up", "warm", serialize, None, "warm-registration",
        "WarmUp", "1", "{}", "warm-hash", _WARM_AT, None, "warm",
        *[None] * 6,  # registered already
        *_warm_index_row(stream),
        1, 1, "{}", _WARM_AT,  # the snapshot
        *[None] * 8,  # no XP, no claim
    ]  # fmt: skip


def _warm_index_row(stream: str) -> list[Any]:
    """The session index row the warm-up's appends write (the ``p_s_*`` arguments)."""
    return [stream, _NOBODY, _NOBODY, 1, "created", 0, 1, 0.0, 0.0, False, _WARM_AT, _WARM_AT]


class _Opening(PostgresRaw):
    """A connection being opened by the pool, for its warm-up: one that fails is left to the
    pool (its next use finds it broken), not invalidated from inside the pool's ``connect``."""

    async def invalidate(self) -> None:
        return None
