"""The event-store half of the SQL store: appends, reads, idempotency keys and snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, delete, exc, func, insert, literal, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.base import AppendResult, ConcurrencyError, NewEvent, Snapshot, StoredEvent
from core.store.integrity import chain_hashes
from core.store.json_codec import dump_json, load_json
from core.store.sql_base import SqlStoreBase
from core.store.tables import game_events, idempotency_keys, session_snapshots

# Key of the transaction-scoped PostgreSQL advisory lock that serialises appends (see append).
APPEND_LOCK_KEY = 0x43435F4150  # "CC_AP"
_APPEND_LOCK = literal(APPEND_LOCK_KEY, BigInteger)


class SqlEventStore(SqlStoreBase):
    """:class:`~core.store.base.EventStore` on the ``game_events`` table and its companions."""

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        idempotency_key: str | None = None,
        recorded_at: str,
    ) -> AppendResult:
        """Append ``events`` after ``expected_version`` in one transaction; see ``EventStore``.

        A racing writer that slips past the version check hits the unique (stream, version) or
        idempotency key constraint; that is reported as :class:`ConcurrencyError` or as the
        duplicate result, never as a database error.
        """
        if not events:
            raise ValueError("append needs at least one event")
        rows = [
            {
                "session_id": stream_id,
                "sequence_number": expected_version + offset,
                "event_type": event.type,
                "schema_version": event.schema_version,
                "data": dump_json(event.data),
                "recorded_at": recorded_at,
            }
            for offset, event in enumerate(events, 1)
        ]
        # Hash what will be read back (the canonical text, decoded), not the caller's objects.
        chained = [
            (event.type, event.schema_version, load_json(dump_json(event.data))) for event in events
        ]
        result = AppendResult(expected_version + 1, expected_version + len(events))
        try:
            async with self._transaction(write=True) as connection:
                if self._serialize_appends:
                    await connection.execute(select(func.pg_advisory_xact_lock(_APPEND_LOCK)))
                # Version first, key second: under READ COMMITTED a twin that committed before
                # the version read is then visible to the key read, so a retry is reported as a
                # duplicate rather than a clash even without the append lock.
                actual = await _stream_version(connection, stream_id)
                if idempotency_key is not None:
                    seen = await _find_idempotent(connection, stream_id, idempotency_key)
                    if seen is not None:
                        return AppendResult(seen.first_version, seen.last_version, duplicate=True)
                if actual != expected_version:
                    raise ConcurrencyError(stream_id, expected_version, actual)
                previous = await _event_hash(connection, stream_id, expected_version)
                hashes = chain_hashes(stream_id, expected_version + 1, chained, previous)
                for row, event_hash in zip(rows, hashes, strict=True):
                    row["event_hash"] = event_hash
                await connection.execute(insert(game_events), rows)
                if idempotency_key is not None:
                    await connection.execute(
                        insert(idempotency_keys).values(
                            session_id=stream_id,
                            key=idempotency_key,
                            first_version=result.first_version,
                            last_version=result.last_version,
                            created_at=recorded_at,
                        )
                    )
        except exc.IntegrityError:
            # The transaction is rolled back; look at what the winning writer left behind.
            async with self._transaction() as connection:
                if idempotency_key is not None:
                    seen = await _find_idempotent(connection, stream_id, idempotency_key)
                    if seen is not None:
                        return AppendResult(seen.first_version, seen.last_version, duplicate=True)
                actual = await _stream_version(connection, stream_id)
            if actual == expected_version:
                raise  # not a lost race: something else is wrong with the rows
            raise ConcurrencyError(stream_id, expected_version, actual) from None
        return result

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the stream's events with version > ``after_version``, in order."""
        query = (
            select(game_events)
            .where(game_events.c.session_id == stream_id)
            .where(game_events.c.sequence_number > after_version)
            .order_by(game_events.c.sequence_number)
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_stored_event(row) for row in rows]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Return up to ``limit`` events of every stream with position > ``after_position``."""
        query = (
            select(game_events)
            .where(game_events.c.position > after_position)
            .order_by(game_events.c.position)
            .limit(max(limit, 0))
        )
        async with self._transaction(replica=True) as connection:
            rows = (await connection.execute(query)).all()
        return [_stored_event(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version (0 when it has no events)."""
        async with self._transaction() as connection:
            return await _stream_version(connection, stream_id)

    async def list_stream_ids(self) -> list[str]:
        """Return every stream id that has events, sorted."""
        session_id = game_events.c.session_id
        query = select(session_id).group_by(session_id).order_by(self._binary(session_id))
        async with self._transaction() as connection:
            return list((await connection.scalars(query)).all())

    async def find_idempotent(self, stream_id: str, key: str) -> AppendResult | None:
        """Return the result of the append that used ``key`` on this stream, if any."""
        async with self._transaction() as connection:
            return await _find_idempotent(connection, stream_id, key)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` as the stream's latest (replacing an older one)."""
        values = {
            "session_id": snapshot.stream_id,
            "sequence_number": snapshot.version,
            "schema_version": snapshot.schema_version,
            "state": dump_json(snapshot.state),
            "created_at": _utc_now(),
        }
        statement = self._insert(session_snapshots).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[session_snapshots.c.session_id],
            set_={name: statement.excluded[name] for name in values if name != "session_id"},
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """Return the stream's latest snapshot, if any."""
        query = select(session_snapshots).where(session_snapshots.c.session_id == stream_id)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
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


async def _stream_version(connection: AsyncConnection, stream_id: str) -> int:
    query = select(func.coalesce(func.max(game_events.c.sequence_number), 0)).where(
        game_events.c.session_id == stream_id
    )
    return int((await connection.execute(query)).scalar_one())


async def _event_hash(connection: AsyncConnection, stream_id: str, version: int) -> str | None:
    if version < 1:
        return None
    query = select(game_events.c.event_hash).where(
        game_events.c.session_id == stream_id, game_events.c.sequence_number == version
    )
    return (await connection.execute(query)).scalar_one_or_none()


async def _find_idempotent(
    connection: AsyncConnection, stream_id: str, key: str
) -> AppendResult | None:
    query = select(idempotency_keys.c.first_version, idempotency_keys.c.last_version).where(
        idempotency_keys.c.session_id == stream_id, idempotency_keys.c["key"] == key
    )
    row = (await connection.execute(query)).first()
    return None if row is None else AppendResult(row.first_version, row.last_version)


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
    )


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()
