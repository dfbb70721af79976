"""The SQLAlchemy (async) :class:`~core.store.base.Store` for SQLite and PostgreSQL.

Construct it with a URL (no I/O happens until the first call) and ``await store.close()`` when
done; the schema must already exist (see :func:`core.store.migrate.migrate`, or
:func:`core.store.factory.open_store`, which migrates SQLite itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Table, delete, exc, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.base import (
    AppendResult,
    ChallengeRecord,
    ConcurrencyError,
    LeaderboardRow,
    Learner,
    NewEvent,
    SessionSummary,
    Snapshot,
    StoredEvent,
    XpGrant,
)
from core.store.engine import create_store_engine, unavailable_on_connectivity_errors, writer
from core.store.json_codec import dump_json, load_json
from core.store.tables import (
    challenge_versions,
    game_events,
    idempotency_keys,
    learners,
    session_index,
    session_snapshots,
    xp_grants,
)

# Key of the transaction-scoped PostgreSQL advisory lock that serialises appends (see append).
APPEND_LOCK_KEY = 0x43435F4150  # "CC_AP"
_APPEND_LOCK = literal(APPEND_LOCK_KEY, BigInteger)


class SqlStore:
    """Every store protocol on SQLite (``sqlite+aiosqlite://``) or PostgreSQL (``+asyncpg``).

    ``serialize_appends`` (PostgreSQL only) takes a global advisory lock inside each append so that
    event positions become visible in increasing order and :meth:`read_all` never skips an event
    that commits late; turn it off only if nothing relies on ``read_all`` for projections.
    Connectivity failures raise :class:`~core.store.base.StoreUnavailable`.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_pre_ping: bool = True,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        sqlite_busy_timeout_ms: int = 5000,
        serialize_appends: bool = True,
    ) -> None:
        self._engine = create_store_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=pool_pre_ping,
            pool_timeout=pool_timeout,
            connect_timeout=connect_timeout,
            sqlite_busy_timeout_ms=sqlite_busy_timeout_ms,
        )
        self._writer = writer(self._engine)
        self._url = self._engine.url
        self._is_postgres = self._url.get_backend_name() == "postgresql"
        self._serialize_appends = serialize_appends and self._is_postgres

    @property
    def url(self) -> URL:
        """The database URL (render it with ``hide_password=True`` before logging)."""
        return self._url

    @asynccontextmanager
    async def _transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        with unavailable_on_connectivity_errors(self._url):
            async with (self._writer if write else self._engine).begin() as connection:
                yield connection

    # -- events ---------------------------------------------------------------------------------

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
        result = AppendResult(expected_version + 1, expected_version + len(events))
        try:
            async with self._transaction(write=True) as connection:
                if self._serialize_appends:
                    await connection.execute(select(func.pg_advisory_xact_lock(_APPEND_LOCK)))
                if idempotency_key is not None:
                    seen = await _find_idempotent(connection, stream_id, idempotency_key)
                    if seen is not None:
                        return AppendResult(seen.first_version, seen.last_version, duplicate=True)
                actual = await _stream_version(connection, stream_id)
                if actual != expected_version:
                    raise ConcurrencyError(stream_id, expected_version, actual)
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
        async with self._transaction() as connection:
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

    # -- content --------------------------------------------------------------------------------

    async def put_challenge_version(self, record: ChallengeRecord) -> None:
        """Store a new version; an existing (challenge_id, version) raises ``ValueError``."""
        statement = insert(challenge_versions).values(
            challenge_id=record.challenge_id,
            version=record.version,
            content_hash=record.content_hash,
            definition=dump_json(record.definition),
            created_at=record.created_at,
        )
        try:
            async with self._transaction(write=True) as connection:
                await connection.execute(statement)
        except exc.IntegrityError:
            raise ValueError(
                f"challenge {record.challenge_id!r} v{record.version} already exists"
            ) from None

    async def get_challenge_version(
        self, challenge_id: str, version: int
    ) -> ChallengeRecord | None:
        """Return that version of the challenge, if stored."""
        query = select(challenge_versions).where(
            challenge_versions.c.challenge_id == challenge_id,
            challenge_versions.c.version == version,
        )
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _challenge(row)

    async def latest_challenge_version(self, challenge_id: str) -> ChallengeRecord | None:
        """Return the challenge's highest stored version, if any."""
        query = (
            select(challenge_versions)
            .where(challenge_versions.c.challenge_id == challenge_id)
            .order_by(challenge_versions.c.version.desc())
            .limit(1)
        )
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _challenge(row)

    async def list_latest_challenges(self) -> list[ChallengeRecord]:
        """Return the latest version of every challenge, ordered by id."""
        latest = (
            select(
                challenge_versions.c.challenge_id,
                func.max(challenge_versions.c.version).label("version"),
            )
            .group_by(challenge_versions.c.challenge_id)
            .subquery()
        )
        query = (
            select(challenge_versions)
            .join(
                latest,
                (challenge_versions.c.challenge_id == latest.c.challenge_id)
                & (challenge_versions.c.version == latest.c.version),
            )
            .order_by(self._binary(challenge_versions.c.challenge_id))
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_challenge(row) for row in rows]

    # -- learners and read models ---------------------------------------------------------------

    async def add_learner(self, learner: Learner) -> None:
        """Store a new learner; an existing ``learner_id`` raises ``ValueError``."""
        statement = insert(learners).values(
            learner_id=learner.learner_id,
            display_name=learner.display_name,
            role=learner.role,
            created_at=learner.created_at,
        )
        try:
            async with self._transaction(write=True) as connection:
                await connection.execute(statement)
        except exc.IntegrityError:
            raise ValueError(f"learner {learner.learner_id!r} already exists") from None

    async def get_learner(self, learner_id: str) -> Learner | None:
        """Return the learner, if known."""
        query = select(learners).where(learners.c.learner_id == learner_id)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return Learner(row.learner_id, row.display_name, row.role, row.created_at)

    async def upsert_session_summary(self, summary: SessionSummary) -> None:
        """Insert or replace the session's index row."""
        values = asdict(summary)  # the dataclass fields are the column names
        statement = self._insert(session_index).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[session_index.c.session_id],
            set_={name: statement.excluded[name] for name in values if name != "session_id"},
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def get_session_summary(self, session_id: str) -> SessionSummary | None:
        """Return the session's index row, if any."""
        query = select(session_index).where(session_index.c.session_id == session_id)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _summary(row)

    async def list_sessions(self, learner_id: str) -> list[SessionSummary]:
        """Return the learner's sessions, most recently updated first (ties by session id)."""
        query = (
            select(session_index)
            .where(session_index.c.learner_id == learner_id)
            .order_by(
                self._binary(session_index.c.updated_at).desc(),
                self._binary(session_index.c.session_id),
            )
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_summary(row) for row in rows]

    async def grant_xp(self, grant: XpGrant) -> bool:
        """Record ``grant`` unless this learner already has one for the challenge; True if recorded."""
        statement = (
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
        async with self._transaction(write=True) as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def has_xp_grant(self, learner_id: str, challenge_id: str) -> bool:
        """Return whether the learner already earned XP for the challenge."""
        query = select(xp_grants.c.xp).where(
            xp_grants.c.learner_id == learner_id, xp_grants.c.challenge_id == challenge_id
        )
        async with self._transaction() as connection:
            return (await connection.execute(query)).first() is not None

    async def learner_xp(self, learner_id: str) -> tuple[int, list[XpGrant]]:
        """Return the learner's total XP and grants (oldest first, ties by challenge id)."""
        query = (
            select(xp_grants)
            .where(xp_grants.c.learner_id == learner_id)
            .order_by(self._binary(xp_grants.c.granted_at), self._binary(xp_grants.c.challenge_id))
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        grants = [
            XpGrant(row.learner_id, row.challenge_id, row.session_id, row.xp, row.granted_at)
            for row in rows
        ]
        return sum(grant.xp for grant in grants), grants

    async def leaderboard(self, limit: int = 10) -> list[LeaderboardRow]:
        """Return the top learners by XP (ties by earlier first grant, then id).

        Only known learners with at least one grant are listed.
        """
        xp = func.sum(xp_grants.c.xp).label("xp")
        first_grant = func.min(xp_grants.c.granted_at)
        query = (
            select(
                learners.c.learner_id,
                learners.c.display_name,
                xp,
                func.count().label("completed"),
            )
            .join(xp_grants, xp_grants.c.learner_id == learners.c.learner_id)
            .group_by(learners.c.learner_id, learners.c.display_name)
            .order_by(xp.desc(), self._binary(first_grant), self._binary(learners.c.learner_id))
            .limit(max(limit, 0))
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [
            LeaderboardRow(row.learner_id, row.display_name, int(row.xp), int(row.completed))
            for row in rows
        ]

    # -- lifecycle ------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the database cannot be reached."""
        async with self._transaction() as connection:
            await connection.execute(select(1))

    async def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        await self._engine.dispose()

    # -- dialect helpers ------------------------------------------------------------------------

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        return postgresql.insert(table) if self._is_postgres else sqlite.insert(table)

    def _binary(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # Sort strings by code point on every backend (SQLite's default already does); a
        # PostgreSQL database created with a linguistic collation would otherwise disagree.
        return column.collate("C") if self._is_postgres else column


async def _stream_version(connection: AsyncConnection, stream_id: str) -> int:
    query = select(func.coalesce(func.max(game_events.c.sequence_number), 0)).where(
        game_events.c.session_id == stream_id
    )
    return int((await connection.execute(query)).scalar_one())


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
    )


def _challenge(row: Row[Any]) -> ChallengeRecord:
    return ChallengeRecord(
        challenge_id=row.challenge_id,
        version=row.version,
        content_hash=row.content_hash,
        definition=load_json(row.definition),
        created_at=row.created_at,
    )


def _summary(row: Row[Any]) -> SessionSummary:
    return SessionSummary(
        **{field.name: getattr(row, field.name) for field in fields(SessionSummary)}
    )


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()
