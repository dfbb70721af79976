"""The event-store half of the SQL store: appends, reads, idempotency keys and snapshots.

**Global order without a global lock (PostgreSQL).** An append takes a lock on its own stream
only, so appends to different sessions commit in parallel and in any order. To keep ``read_all``
gap-free for projections, an event's ``position`` is derived from the id of the transaction that
wrote it: ``(pg_current_xact_id() << 20) + n``. ``read_all`` returns only positions below
``pg_snapshot_xmin(pg_current_snapshot()) << 20``: every transaction with an id below that xmin
has finished (committed or rolled back), and every transaction still running or yet to come has
an id at or above it, so nothing can later appear below the bound a reader has passed. SQLite has
one writer at a time, so its autoincrement positions are already in commit order.

**The hot path skips SQLAlchemy Core.** Appends (``core.store.sql_append``) and the reads of every
request (stream, snapshot, idempotency key, stream version) run as SQL text on the driver
connection (``core.store.sql_raw``); ``read_all``, listings and the rest stay on Core.

**The access check rides along (issue 17).** A learner's append or stream read on an access
token not checked yet (an :class:`~core.store.base.AccessClaim`) checks it in the statement
itself: the append function before anything else (``sql_append``), the stream read by joining
the events to the learners row's check, so a request costs one round trip, not two. A SQLite
append checks it with a read of its own just before it is queued for the group commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exc, literal_column, select
from sqlalchemy.engine import Row

from core.store.base import (
    AccessClaim,
    AccessRevoked,
    AppendResult,
    ConcurrencyError,
    IdempotencyKeyReused,
    NewEvent,
    ReadModelChanges,
    Snapshot,
    StoredEvent,
    XpAlreadyGranted,
)
from core.store.engine import unavailable_on_connectivity_errors
from core.store.json_codec import load_json
from core.store.sql_append import (
    Params,
    SqlAppender,
    duplicate_result,
    snapshot_values,
    upsert_by_session,
    utc_now,
    writes_reviews,
)
from core.store.sql_group import AppendRequest, GroupCommitter, Outcome
from core.store.sql_heads import POSITION_SHIFT
from core.store.sql_raw import RawConnection, SqliteRaw, sql
from core.store.sql_raw import Row as RawRow
from core.store.tables import (
    game_events,
    session_snapshots,
)

_SAFE_BOUND = f"(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << {POSITION_SHIFT})"
# How long read_all waits for transactions older than a committed event to finish, so that a
# projection reading right after a write sees it (a long-running transaction only delays it).
READ_ALL_WAIT_SECONDS = 5.0


class SqlEventStore(SqlAppender):
    """:class:`~core.store.base.EventStore` on the ``game_events`` table and its companions."""

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        idempotency_key: str | None = None,
        recorded_at: str,
        request_digest: str | None = None,
        changes: ReadModelChanges | None = None,
        access: AccessClaim | None = None,
    ) -> AppendResult:
        """Append ``events`` after ``expected_version`` in one transaction with ``changes``; see
        ``EventStore`` (and the module docstring for ``access``).

        A racing writer that slips past the version check hits the unique (stream, version) or
        idempotency key constraint; that is reported as :class:`ConcurrencyError` or as the
        duplicate result, never as a database error.

        **Group commit.** On SQLite, concurrent appends (to any streams) are queued and one writer
        task commits them together: one ``BEGIN IMMEDIATE … COMMIT`` for the group, each append with
        its own version check, idempotency result and failure (a group with a refused append is
        written again with each append in its own savepoint: the refused one rolls back to it
        and fails alone). On PostgreSQL every append is its own
        transaction on its own pooled connection, so as many run at once as the pool holds
        (``POOL_SIZE`` + ``MAX_OVERFLOW``), and the server's WAL writer flushes concurrent commits
        together.
        """
        if not events:
            raise ValueError("append needs at least one event")
        request = AppendRequest(
            stream_id,
            list(events),
            expected_version,
            idempotency_key,
            recorded_at,
            request_digest,
            changes,
        )
        if not self._is_postgres:
            if access is not None:
                await self._check_access(access)
            if self._directory is None:
                await self._sqlite_directory()
            if self._group is None:
                self._group = GroupCommitter(self._commit_group)
            return await self._group.submit(request)
        return await self._append_alone(request, access)

    async def _append_alone(
        self, request: AppendRequest, access: AccessClaim | None = None
    ) -> AppendResult:
        """One append in a transaction of its own (PostgreSQL: one call, see ``sql_append``,
        which checks ``access``; SQLite's callers have checked it)."""
        try:
            if self._is_postgres:
                return await self._append_postgres(request, access)
            async with self._raw_transaction(with_core=writes_reviews(request)) as raw:
                return await self._append_raw(raw, request, utc_now())
        except exc.IntegrityError:
            # The transaction is rolled back; look at what the winning writer left behind.
            async with self._raw_read() as raw:
                try:
                    return await self._explain_lost_race(raw, request)
                except _NotALostRace:
                    pass
            raise

    async def _commit_group(self, requests: Sequence[AppendRequest]) -> list[Outcome]:
        """SQLite group commit, one transaction for all: at once when no append fails (the
        common case), else again with every append in its own savepoint (see ``sql_group``)."""
        if len(requests) == 1:
            try:
                return [await self._append_alone(requests[0])]
            except (ConcurrencyError, XpAlreadyGranted, IdempotencyKeyReused) as refused:
                return [refused]
        created_at = utc_now()
        with_core = any(writes_reviews(r) for r in requests)
        try:
            async with self._raw_transaction(with_core=with_core) as raw:
                return [await self._append_raw(raw, request, created_at) for request in requests]
        except (exc.OperationalError, exc.InterfaceError):
            raise  # the connection or the transaction is broken: the whole group fails
        except Exception:  # noqa: S110 (an append failed: all rolled back, each again alone)
            pass
        return await self._commit_group_apart(requests, created_at, with_core)

    async def _commit_group_apart(
        self, requests: Sequence[AppendRequest], created_at: str, with_core: bool
    ) -> list[Outcome]:
        """The group in one transaction, every append in its own savepoint: a refused or failed
        append rolls back to it and fails alone."""
        outcomes: list[Outcome] = []
        async with self._raw_transaction(with_core=with_core) as raw:
            assert isinstance(raw, SqliteRaw)
            for request in requests:
                await raw.savepoint()
                try:
                    result = await self._append_raw(raw, request, created_at)
                except (ConcurrencyError, XpAlreadyGranted, IdempotencyKeyReused) as refused:
                    await raw.rollback_to_savepoint()
                    outcomes.append(refused)
                except exc.IntegrityError as error:
                    await raw.rollback_to_savepoint()
                    try:
                        outcomes.append(await self._explain_lost_race(raw, request))
                    except ConcurrencyError as refused:
                        outcomes.append(refused)
                    except _NotALostRace:
                        outcomes.append(error)
                except (exc.OperationalError, exc.InterfaceError):
                    raise  # the connection or the transaction is broken: the whole group fails
                except Exception as error:  # this append's own failure; the others go on
                    await raw.rollback_to_savepoint()
                    outcomes.append(error)
                else:
                    await raw.release()
                    outcomes.append(result)
        return outcomes

    async def _explain_lost_race(self, raw: RawConnection, request: AppendRequest) -> AppendResult:
        """After an integrity error: return the twin's result (same idempotency key) or raise
        :class:`ConcurrencyError`; return nothing else (the caller re-raises the error when the
        version did not move: not a lost race, something else is wrong with the rows)."""
        stream_id, key = request.stream_id, request.idempotency_key
        if key is not None:
            seen = await _find_idempotent(raw, stream_id, key)
            if seen is not None:
                return duplicate_result(stream_id, key, seen, request.request_digest)
        actual = await _stream_version(raw, stream_id)
        if actual != request.expected_version:
            raise ConcurrencyError(stream_id, request.expected_version, actual) from None
        raise _NotALostRace

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the stream's events with version > ``after_version``, in order."""
        rows = await self._fetch(_READ_STREAM, (stream_id, after_version))
        return [_raw_event(row) for row in rows]

    async def read_stream_for(
        self, access: AccessClaim, stream_id: str, after_version: int = 0
    ) -> list[StoredEvent]:
        """:meth:`read_stream` and the claim's check in one statement (see ``EventStore``)."""
        rows = await self._fetch(_READ_STREAM_FOR, (stream_id, after_version, *_claimed(access)))
        # The first column says whether the claim holds; a row of NULL events stands for none.
        if not rows[0][0]:
            raise AccessRevoked(access.learner_id)
        return [_raw_event(row[1:]) for row in rows if row[1] is not None]

    async def _check_access(self, access: AccessClaim) -> None:
        """Raise :class:`AccessRevoked` unless the claim holds (SQLite appends: one keyed read,
        straight onto a kept connection, as ``get_token_state`` reads)."""
        kept = self._kept
        assert kept is not None  # SQLite
        try:
            row = await kept.fetchrow("token_state", _ACCESS.sqlite, _claimed(access))
        except Exception:
            # translated as _raw_read translates it (the engine's URL is only looked up now)
            with unavailable_on_connectivity_errors(self._engine.url):
                raise
        if row is None:
            raise AccessRevoked(access.learner_id)

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Return up to ``limit`` events of every stream with position > ``after_position``.

        Gap-free: an event not returned now never appears later below the last one returned (on
        PostgreSQL only events below the oldest running transaction's bound are returned; see the
        module docstring). Waits briefly for such transactions when newer events are committed.
        """
        query = (
            select(game_events)
            .where(game_events.c.position > after_position)
            .order_by(game_events.c.position)
            .limit(max(limit, 0))
        )
        if not self._is_postgres:
            async with self._transaction(replica=True) as connection:
                rows = (await connection.execute(query)).all()
            return [stored_event(row) for row in rows]
        bounded = query.where(game_events.c.position < literal_column(_SAFE_BOUND))
        later = select(game_events.c.position).where(
            game_events.c.position > after_position,
            game_events.c.position >= literal_column(_SAFE_BOUND),
        )
        deadline = time.monotonic() + READ_ALL_WAIT_SECONDS
        while True:
            async with self._transaction(replica=True) as connection:
                rows = (await connection.execute(bounded)).all()
                if len(rows) >= limit or time.monotonic() >= deadline:
                    break
                if (await connection.execute(later.limit(1))).first() is None:
                    break
            await asyncio.sleep(0.005)
        return [stored_event(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version (0 when it has no events)."""
        return _version(await self._fetchrow(_STREAM_VERSION, (stream_id,)))

    async def list_stream_ids(self) -> list[str]:
        """Return every stream id that has events, sorted."""
        session_id = game_events.c.session_id
        query = select(session_id).group_by(session_id).order_by(self._binary(session_id))
        async with self._transaction() as connection:
            return list((await connection.scalars(query)).all())

    async def find_idempotent(self, stream_id: str, key: str) -> AppendResult | None:
        """Return the result of the append that used ``key`` on this stream, if any."""
        return _idempotent(await self._fetchrow(_FIND_IDEMPOTENT, (stream_id, key)))

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` as the stream's latest (replacing an older one)."""
        p = Params(self._is_postgres)
        statement = upsert_by_session(p, "session_snapshots", snapshot_values(snapshot, utc_now()))
        async with self._raw_transaction() as raw:
            await raw.execute("snapshot", statement, p.values)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """Return the stream's latest snapshot, if any."""
        row = await self._fetchrow(_LOAD_SNAPSHOT, (stream_id,))
        return None if row is None else Snapshot(stream_id, row[0], row[1], load_json(row[2]))

    async def delete_snapshots(self) -> int:
        """Delete every snapshot; return how many were deleted."""
        async with self._transaction(write=True) as connection:
            result = await connection.execute(delete(session_snapshots))
        return int(result.rowcount)


# The hot reads, as SQL text for the driver connection (core/store/sql_raw.py).
_READ_STREAM = sql(
    "read_stream",
    "SELECT position, session_id, sequence_number, event_type, schema_version, data, recorded_at,"
    " event_hash, key_id FROM game_events WHERE session_id = $1 AND sequence_number > $2"
    " ORDER BY sequence_number",
)
# One row at least: whether the claim holds (its learner's row has its token version and role),
# then the events (NULLs when there are none, or when it does not hold: none are returned then).
_READ_STREAM_FOR_TEXT = (
    "SELECT a.holds, e.position, e.session_id, e.sequence_number, e.event_type,"
    " e.schema_version, e.data, e.recorded_at, e.event_hash, e.key_id"
    " FROM (SELECT EXISTS (SELECT 1 FROM learners AS l WHERE l.learner_id = $3"
    " AND l.token_version = $4 AND l.role = $5) AS holds{fence}) AS a"
    " LEFT JOIN game_events AS e ON a.holds AND e.session_id = $1 AND e.sequence_number > $2"
    " ORDER BY e.sequence_number"
)
# PostgreSQL: OFFSET 0 keeps the check a subquery of its own, evaluated once (pulled up, it is
# evaluated for each use of ``holds``). SQLite evaluates it once anyway and wants no OFFSET alone.
_READ_STREAM_FOR = sql(
    "read_stream",
    _READ_STREAM_FOR_TEXT.format(fence=" OFFSET 0"),
    sqlite=sql("read_stream", _READ_STREAM_FOR_TEXT.format(fence="")).sqlite,
)
_ACCESS = sql(
    "token_state",
    "SELECT 1 FROM learners WHERE learner_id = $1 AND token_version = $2 AND role = $3",
)
_LOAD_SNAPSHOT = sql(
    "load_snapshot",
    "SELECT sequence_number, schema_version, state FROM session_snapshots WHERE session_id = $1",
)
_FIND_IDEMPOTENT = sql(
    "find_idempotent",
    "SELECT first_version, last_version, request_digest FROM idempotency_keys"
    ' WHERE session_id = $1 AND "key" = $2',
)
_STREAM_VERSION = sql(
    "stream_version",
    "SELECT coalesce(max(sequence_number), 0) FROM game_events WHERE session_id = $1",
)


def _claimed(access: AccessClaim) -> tuple[str, int, str]:
    return access.learner_id, access.token_version, access.role


async def _stream_version(raw: RawConnection, stream_id: str) -> int:
    return _version(await raw.fetchrow("stream_version", raw.text(_STREAM_VERSION), (stream_id,)))


async def _find_idempotent(raw: RawConnection, stream_id: str, key: str) -> AppendResult | None:
    return _idempotent(
        await raw.fetchrow("find_idempotent", raw.text(_FIND_IDEMPOTENT), (stream_id, key))
    )


def _version(row: RawRow | None) -> int:
    """A stream's version from ``_STREAM_VERSION``'s row (always one: 0 for no events)."""
    assert row is not None
    return int(row[0])


def _idempotent(row: RawRow | None) -> AppendResult | None:
    """The result an idempotency key recorded, from ``_FIND_IDEMPOTENT``'s row (if any)."""
    return None if row is None else AppendResult(row[0], row[1], request_digest=row[2])


def stored_event(row: Row[Any]) -> StoredEvent:
    return StoredEvent(
        stream_id=row.session_id,
        version=row.sequence_number,
        position=row.position,
        type=row.event_type,
        schema_version=row.schema_version,
        data=load_json(row.data),
        recorded_at=row.recorded_at,
        event_hash=row.event_hash,
        key_id=row.key_id,
    )


def _raw_event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(
        stream_id=row[1],
        version=row[2],
        position=row[0],
        type=row[3],
        schema_version=row[4],
        data=load_json(row[5]),
        recorded_at=row[6],
        event_hash=row[7],
        key_id=row[8],
    )


class _NotALostRace(Exception):
    """An integrity error that no concurrent writer explains."""
