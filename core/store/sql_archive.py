"""The archive half of the SQL store: which sessions may go to cold storage, the register of those
that went, and putting archived streams back (``curiouscore db archive`` / ``db restore``).

Nothing here deletes an event: archiving only records that a verified copy exists elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from core.store.base import StoredEvent
from core.store.json_codec import dump_json
from core.store.sql_heads import SqlChainWriter
from core.store.tables import archived_sessions, game_events, session_index

FINISHED_STATUSES = ("completed", "abandoned")


class ArchiveMismatch(Exception):
    """A stream in the database and the same stream in an archive disagree."""


@dataclass(frozen=True, slots=True)
class ArchivedSession:
    """A session whose events were copied, verified, to ``archive`` (a file of a manifest)."""

    session_id: str
    archive: str
    events: int
    last_hash: str | None
    archived_at: str


class SqlArchive(SqlChainWriter):
    """Archive queries of :class:`~core.store.sql.SqlStore`."""

    async def archive_candidates(self, cutoff: str, limit: int) -> list[str]:
        """Return up to ``limit`` finished (completed or abandoned) sessions last updated before
        ``cutoff`` (ISO-8601 UTC) that are not archived yet, oldest first."""
        query = (
            select(session_index.c.session_id)
            .where(session_index.c.status.in_(FINISHED_STATUSES))
            .where(session_index.c.updated_at < cutoff)
            .where(session_index.c.session_id.not_in(select(archived_sessions.c.session_id)))
            .order_by(session_index.c.updated_at, self._binary(session_index.c.session_id))
            .limit(max(limit, 0))
        )
        async with self._transaction() as connection:
            return list((await connection.scalars(query)).all())

    async def mark_archived(self, records: Sequence[ArchivedSession]) -> None:
        """Record ``records`` in the archive register (a session already there keeps its row)."""
        if not records:
            return
        values = [
            {
                "session_id": r.session_id,
                "archive": r.archive,
                "events": r.events,
                "last_hash": r.last_hash,
                "archived_at": r.archived_at,
            }
            for r in records
        ]
        statement = self._insert(archived_sessions).values(values).on_conflict_do_nothing()
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def archived(self) -> list[ArchivedSession]:
        """Return the archive register, by session id."""
        query = select(archived_sessions).order_by(self._binary(archived_sessions.c.session_id))
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [
            ArchivedSession(r.session_id, r.archive, r.events, r.last_hash, r.archived_at)
            for r in rows
        ]

    async def import_stream(self, events: Sequence[StoredEvent]) -> int:
        """Put an archived stream back as it was (versions, hashes, times); return how many events
        were added. Events already present are checked, not duplicated, so this is idempotent;
        raises :class:`ArchiveMismatch` when the stored stream differs from ``events``."""
        if not events:
            return 0
        stream_id = events[0].stream_id
        query = (
            select(game_events.c.sequence_number, game_events.c.event_hash)
            .where(game_events.c.session_id == stream_id)
            .order_by(game_events.c.sequence_number)
        )
        async with self._transaction(write=True) as connection:
            present = {
                row.sequence_number: row.event_hash for row in await connection.execute(query)
            }
            missing = []
            for event in events:
                if event.version not in present:
                    missing.append(event)
                elif present[event.version] != event.event_hash:
                    raise ArchiveMismatch(
                        f"session {stream_id} version {event.version} differs from the archive"
                    )
            if missing and present and missing[0].version != max(present) + 1:
                raise ArchiveMismatch(f"session {stream_id} has a gap the archive cannot fill")
            if missing:
                await self._lock_stream(connection, stream_id)
                positions = await self._positions(connection, len(missing))
                rows: list[dict[str, Any]] = [
                    {
                        "session_id": e.stream_id,
                        "sequence_number": e.version,
                        "event_type": e.type,
                        "schema_version": e.schema_version,
                        "data": dump_json(e.data),
                        "recorded_at": e.recorded_at,
                        "event_hash": e.event_hash,
                        "key_id": e.key_id,
                    }
                    for e in missing
                ]
                if positions is not None:
                    for row, position in zip(rows, positions, strict=True):
                        row["position"] = position
                await connection.execute(insert(game_events), rows)
                await self._record_head(
                    connection, stream_id, missing[-1].version, missing[-1].event_hash
                )
        return len(missing)
