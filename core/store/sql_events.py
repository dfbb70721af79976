"""The event-store half of the SQL store: appends, reads, idempotency keys and snapshots.

**Global order without a global lock (PostgreSQL).** An append takes a lock on its own stream
only, so appends to different sessions commit in parallel and in any order. To keep ``read_all``
gap-free for projections, an event's ``position`` is derived from the id of the transaction that
wrote it: ``(pg_current_xact_id() << 20) + n``. ``read_all`` returns only positions below
``pg_snapshot_xmin(pg_current_snapshot()) << 20``: every transaction with an id below that xmin
has finished (committed or rolled back), and every transaction still running or yet to come has
an id at or above it, so nothing can later appear below the bound a reader has passed. SQLite has
one writer at a time, so its autoincrement positions are already in commit order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, exc, func, insert, literal_column, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.base import (
    AppendResult,
    ConcurrencyError,
    IdempotencyKeyReused,
    NewEvent,
    ReadModelChanges,
    Snapshot,
    StoredEvent,
    XpAlreadyGranted,
)
from core.store.integrity import (
    chain_hashes,
)
from core.store.json_codec import dump_json, load_json
from core.store.sql_base import SqlStoreBase
from core.store.sql_group import AppendRequest, GroupCommitter, Outcome
from core.store.sql_heads import POSITION_SHIFT, SqlChainWriter
from core.store.sql_reviews import write_review_changes
from core.store.tables import (
    game_events,
    idempotency_keys,
    session_index,
    session_snapshots,
    xp_grants,
)

_SAFE_BOUND = f"(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << {POSITION_SHIFT})"
# How long read_all waits for transactions older than a committed event to finish, so that a
# projection reading right after a write sees it (a long-running transaction only delays it).
READ_ALL_WAIT_SECONDS = 5.0


class SqlEventStore(SqlChainWriter):
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
    ) -> AppendResult:
        """Append ``events`` after ``expected_version`` in one transaction with ``changes``; see
        ``EventStore``.

        A racing writer that slips past the version check hits the unique (stream, version) or
        idempotency key constraint; that is reported as :class:`ConcurrencyError` or as the
        duplicate result, never as a database error.

        **Group commit.** On SQLite, concurrent appends (to any streams) are queued and one writer
        task commits them together: one ``BEGIN IMMEDIATE … COMMIT`` for the group, each append in
        its own savepoint with its own version check, idempotency result and failure (a refused
        append rolls back to its savepoint and fails alone). On PostgreSQL every append is its own
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
            if self._group is None:
                self._group = GroupCommitter(self._commit_group)
            return await self._group.submit(request)
        return await self._append_alone(request)

    async def _append_alone(self, request: AppendRequest) -> AppendResult:
        """One append in a transaction of its own."""
        try:
            async with self._transaction(write=True) as connection:
                return await self._append_in(connection, request)
        except exc.IntegrityError:
            # The transaction is rolled back; look at what the winning writer left behind.
            async with self._transaction() as connection:
                try:
                    return await self._explain_lost_race(connection, request)
                except _NotALostRace:
                    pass
            raise

    async def _commit_group(self, requests: Sequence[AppendRequest]) -> list[Outcome]:
        """SQLite group commit: every append in its own savepoint, one transaction for all."""
        if len(requests) == 1:
            try:
                return [await self._append_alone(requests[0])]
            except (ConcurrencyError, XpAlreadyGranted, IdempotencyKeyReused) as refused:
                return [refused]
        outcomes: list[Outcome] = []
        async with self._transaction(write=True) as connection:
            for request in requests:
                savepoint = await connection.begin_nested()
                try:
                    result = await self._append_in(connection, request)
                except (ConcurrencyError, XpAlreadyGranted, IdempotencyKeyReused) as refused:
                    await savepoint.rollback()
                    outcomes.append(refused)
                except exc.IntegrityError as error:
                    await savepoint.rollback()
                    try:
                        outcomes.append(await self._explain_lost_race(connection, request))
                    except ConcurrencyError as refused:
                        outcomes.append(refused)
                    except _NotALostRace:
                        outcomes.append(error)
                except (exc.OperationalError, exc.InterfaceError):
                    raise  # the connection or the transaction is broken: the whole group fails
                except Exception as error:  # this append's own failure; the others go on
                    await savepoint.rollback()
                    outcomes.append(error)
                else:
                    await savepoint.commit()
                    outcomes.append(result)
        return outcomes

    async def _append_in(self, connection: AsyncConnection, request: AppendRequest) -> AppendResult:
        """The append itself, inside the caller's transaction (or savepoint)."""
        stream_id, expected_version = request.stream_id, request.expected_version
        idempotency_key, request_digest = request.idempotency_key, request.request_digest
        key = self._chain_keys.current
        rows: list[dict[str, Any]] = [
            {
                "session_id": stream_id,
                "sequence_number": expected_version + offset,
                "event_type": event.type,
                "schema_version": event.schema_version,
                "data": dump_json(event.data),
                "recorded_at": request.recorded_at,
                "key_id": key.key_id if key else None,
            }
            for offset, event in enumerate(request.events, 1)
        ]
        # Hash what will be read back (the canonical text, decoded), not the caller's objects.
        chained = [
            (event.type, event.schema_version, load_json(row["data"]))
            for event, row in zip(request.events, rows, strict=True)
        ]
        result = AppendResult(
            expected_version + 1,
            expected_version + len(request.events),
            request_digest=request_digest,
        )
        await self._lock_stream(connection, stream_id)
        # Version first, key second: under READ COMMITTED a twin that committed before the
        # version read is then visible to the key read, so a retry is reported as a duplicate
        # rather than a clash.
        actual, previous = await _stream_tip(connection, stream_id)
        if idempotency_key is not None:
            seen = await _find_idempotent(connection, stream_id, idempotency_key)
            if seen is not None:
                return _duplicate(stream_id, idempotency_key, seen, request_digest)
        if actual != expected_version:
            raise ConcurrencyError(stream_id, expected_version, actual)
        hashes = chain_hashes(stream_id, expected_version + 1, chained, previous, key)
        positions = await self._positions(connection, len(rows))
        for index, (row, event_hash) in enumerate(zip(rows, hashes, strict=True)):
            row["event_hash"] = event_hash
            if positions is not None:
                row["position"] = positions[index]
        await connection.execute(insert(game_events), rows)
        await self._record_head(connection, stream_id, result.last_version, hashes[-1])
        if idempotency_key is not None:
            await connection.execute(
                insert(idempotency_keys).values(
                    session_id=stream_id,
                    key=idempotency_key,
                    first_version=result.first_version,
                    last_version=result.last_version,
                    created_at=request.recorded_at,
                    request_digest=request_digest,
                )
            )
        if request.changes is not None:
            await self._write_changes(connection, request.changes)
        return result

    async def _explain_lost_race(
        self, connection: AsyncConnection, request: AppendRequest
    ) -> AppendResult:
        """After an integrity error: return the twin's result (same idempotency key) or raise
        :class:`ConcurrencyError`; return nothing else (the caller re-raises the error when the
        version did not move: not a lost race, something else is wrong with the rows)."""
        stream_id, key = request.stream_id, request.idempotency_key
        if key is not None:
            seen = await _find_idempotent(connection, stream_id, key)
            if seen is not None:
                return _duplicate(stream_id, key, seen, request.request_digest)
        actual = await _stream_version(connection, stream_id)
        if actual != request.expected_version:
            raise ConcurrencyError(stream_id, request.expected_version, actual) from None
        raise _NotALostRace

    async def _write_changes(self, connection: AsyncConnection, changes: ReadModelChanges) -> None:
        """Write the read-model rows an append carries; refuse an XP grant already held."""
        if changes.summary is not None:
            values = asdict(changes.summary)  # the dataclass fields are the column names
            await connection.execute(self._upsert_by_session(session_index, values), values)
        if changes.snapshot is not None:
            await _write_snapshot(self, connection, changes.snapshot)
        grant = changes.xp_grant
        if grant is not None:
            claimed = await connection.execute(
                self._insert(xp_grants)
                .values(
                    learner_id=grant.learner_id,
                    challenge_id=grant.challenge_id,
                    session_id=grant.session_id,
                    xp=grant.xp,
                    granted_at=grant.granted_at,
                )
                .on_conflict_do_nothing(
                    index_elements=[xp_grants.c.learner_id, xp_grants.c.challenge_id]
                )
            )
            if claimed.rowcount != 1:
                raise XpAlreadyGranted(grant.learner_id, grant.challenge_id)
        if changes.review_items or changes.review_outcomes or changes.xp_adjustment is not None:
            await write_review_changes(
                self,
                connection,
                changes.review_items,
                changes.review_outcomes,
                changes.xp_adjustment,
            )

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the stream's events with version > ``after_version``, in order."""
        parameters = {"stream_id": stream_id, "after_version": after_version}
        async with self._read() as connection:
            rows = (await connection.execute(_READ_STREAM, parameters)).all()
        return [_stored_event(row) for row in rows]

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
            return [_stored_event(row) for row in rows]
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
        return [_stored_event(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version (0 when it has no events)."""
        async with self._read() as connection:
            return await _stream_version(connection, stream_id)

    async def list_stream_ids(self) -> list[str]:
        """Return every stream id that has events, sorted."""
        session_id = game_events.c.session_id
        query = select(session_id).group_by(session_id).order_by(self._binary(session_id))
        async with self._transaction() as connection:
            return list((await connection.scalars(query)).all())

    async def find_idempotent(self, stream_id: str, key: str) -> AppendResult | None:
        """Return the result of the append that used ``key`` on this stream, if any."""
        async with self._read() as connection:
            return await _find_idempotent(connection, stream_id, key)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` as the stream's latest (replacing an older one)."""
        async with self._transaction(write=True) as connection:
            await _write_snapshot(self, connection, snapshot)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """Return the stream's latest snapshot, if any."""
        async with self._read() as connection:
            row = (await connection.execute(_LOAD_SNAPSHOT, {"stream_id": stream_id})).first()
        if row is None:
            return None
        return Snapshot(
            row.session_id, row.sequence_number, row.schema_version, load_json(row.state)
        )

    async def delete_snapshots(self) -> int:
        """Delete every snapshot; return how many were deleted."""
        async with self._transaction(write=True) as connection:
            result = await connection.execute(delete(session_snapshots))
        return int(result.rowcount)


# The hot reads, built once (with bound parameters) rather than per call: building a statement
# and its cache key on each request was a measurable share of a request's CPU.
_READ_STREAM = (
    select(game_events)
    .where(game_events.c.session_id == bindparam("stream_id"))
    .where(game_events.c.sequence_number > bindparam("after_version"))
    .order_by(game_events.c.sequence_number)
)
_LOAD_SNAPSHOT = select(session_snapshots).where(
    session_snapshots.c.session_id == bindparam("stream_id")
)
_STREAM_TIP = (
    select(game_events.c.sequence_number, game_events.c.event_hash)
    .where(game_events.c.session_id == bindparam("stream_id"))
    .order_by(game_events.c.sequence_number.desc())
    .limit(1)
)
_FIND_IDEMPOTENT = select(
    idempotency_keys.c.first_version,
    idempotency_keys.c.last_version,
    idempotency_keys.c.request_digest,
).where(
    idempotency_keys.c.session_id == bindparam("stream_id"),
    idempotency_keys.c["key"] == bindparam("key"),
)


async def _write_snapshot(
    store: SqlStoreBase, connection: AsyncConnection, snapshot: Snapshot
) -> None:
    values = {
        "session_id": snapshot.stream_id,
        "sequence_number": snapshot.version,
        "schema_version": snapshot.schema_version,
        "state": dump_json(snapshot.state),
        "created_at": _utc_now(),
    }
    await connection.execute(store._upsert_by_session(session_snapshots, values), values)


def _duplicate(
    stream_id: str, key: str, seen: AppendResult, request_digest: str | None
) -> AppendResult:
    if (
        seen.request_digest is not None
        and request_digest is not None
        and seen.request_digest != request_digest
    ):
        raise IdempotencyKeyReused(stream_id, key)
    return AppendResult(seen.first_version, seen.last_version, True, seen.request_digest)


async def _stream_version(connection: AsyncConnection, stream_id: str) -> int:
    query = select(func.coalesce(func.max(game_events.c.sequence_number), 0)).where(
        game_events.c.session_id == stream_id
    )
    return int((await connection.execute(query)).scalar_one())


async def _stream_tip(connection: AsyncConnection, stream_id: str) -> tuple[int, str | None]:
    """The stream's version and its last event's hash (0 and None when it has no events), in one
    round trip."""
    row = (await connection.execute(_STREAM_TIP, {"stream_id": stream_id})).first()
    return (0, None) if row is None else (int(row.sequence_number), row.event_hash)


async def _find_idempotent(
    connection: AsyncConnection, stream_id: str, key: str
) -> AppendResult | None:
    parameters = {"stream_id": stream_id, "key": key}
    row = (await connection.execute(_FIND_IDEMPOTENT, parameters)).first()
    if row is None:
        return None
    return AppendResult(row.first_version, row.last_version, request_digest=row.request_digest)


def _stored_event(row: Row[Any]) -> StoredEvent:
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


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


class _NotALostRace(Exception):
    """An integrity error that no concurrent writer explains."""
