"""The read-model half of the SQL store: challenge versions, learners, session index and XP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import exc, func, insert, select
from sqlalchemy.engine import Row

from core.store.base import (
    ChallengeRecord,
    LeaderboardRow,
    Learner,
    SessionSummary,
    StoredEvent,
    XpGrant,
)
from core.store.json_codec import dump_json, load_json
from core.store.sql_base import SqlStoreBase
from core.store.sql_events import stored_event
from core.store.sql_raw import sql
from core.store.tables import challenge_versions, game_events, learners, session_index, xp_grants

# Read when a session is created: SQL text for the driver connection (core/store/sql_raw.py).
_CHALLENGE_VERSION = sql(
    "challenge_version",
    "SELECT challenge_id, version, content_hash, definition, created_at FROM challenge_versions"
    " WHERE challenge_id = $1 AND version = $2",
)
_LATEST_CHALLENGE_VERSION = sql(
    "challenge_version",
    "SELECT challenge_id, version, content_hash, definition, created_at FROM challenge_versions"
    " WHERE challenge_id = $1 ORDER BY version DESC LIMIT 1",
)
_LATEST_VERSIONS = sql(
    "challenge_version",
    "SELECT challenge_id, MAX(version) FROM challenge_versions GROUP BY challenge_id",
)
_LATEST_VERSION_OF = sql(
    "challenge_version",
    "SELECT challenge_id, MAX(version) FROM challenge_versions WHERE challenge_id = $1"
    " GROUP BY challenge_id",
)
_LEARNER = sql(
    "learner",
    "SELECT learner_id, display_name, role, created_at FROM learners WHERE learner_id = $1",
)


class SqlReadModels(SqlStoreBase):
    """:class:`~core.store.base.ContentStore` and :class:`~core.store.base.LearnerStore` on SQL."""

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
        row = await self._fetchrow(_CHALLENGE_VERSION, (challenge_id, version))
        return None if row is None else _raw_challenge(row)

    async def latest_challenge_version(self, challenge_id: str) -> ChallengeRecord | None:
        """Return the challenge's highest stored version, if any."""
        row = await self._fetchrow(_LATEST_CHALLENGE_VERSION, (challenge_id,))
        return None if row is None else _raw_challenge(row)

    async def latest_challenge_versions(self, challenge_id: str | None = None) -> dict[str, int]:
        """Return each challenge's latest version number (only ``challenge_id``'s when given),
        without reading the definitions (session creation and the catalogue use their cache)."""
        if challenge_id is None:
            rows = await self._fetch(_LATEST_VERSIONS, ())
        else:
            rows = await self._fetch(_LATEST_VERSION_OF, (challenge_id,))
        return {row[0]: int(row[1]) for row in rows}

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
        """Return the learner, if known (the row this process's access check read a moment ago,
        when it did: see ``SqlStoreBase._seen_learner``)."""
        seen = self._seen_learner(learner_id)
        if seen is not None:
            return seen
        row = await self._fetchrow(_LEARNER, (learner_id,))
        return None if row is None else Learner(*row)

    async def upsert_session_summary(self, summary: SessionSummary) -> None:
        """Insert or replace the session's index row."""
        values = asdict(summary)  # the dataclass fields are the column names
        statement = self._upsert_by_session(session_index, values)
        async with self._transaction(write=True) as connection:
            await connection.execute(statement, values)

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
        async with self._transaction(replica=True) as connection:
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
        async with self._read() as connection:
            return (await connection.execute(query)).first() is not None

    async def learner_xp(self, learner_id: str) -> tuple[int, list[XpGrant]]:
        """Return the learner's total XP and grants (oldest first, ties by challenge id)."""
        query = (
            select(xp_grants)
            .where(xp_grants.c.learner_id == learner_id)
            .order_by(self._binary(xp_grants.c.granted_at), self._binary(xp_grants.c.challenge_id))
        )
        async with self._transaction(replica=True) as connection:
            rows = (await connection.execute(query)).all()
        grants = [
            XpGrant(row.learner_id, row.challenge_id, row.session_id, row.xp, row.granted_at)
            for row in rows
        ]
        return sum(grant.xp for grant in grants), grants

    async def all_session_summaries(self) -> list[SessionSummary]:
        """Return every session-index row, by session id (for ``db verify``)."""
        query = select(session_index).order_by(self._binary(session_index.c.session_id))
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_summary(row) for row in rows]

    async def read_challenge_streams(
        self, challenge_id: str, after_session_id: str = "", sessions: int = 100
    ) -> list[StoredEvent]:
        """Every event of the next ``sessions`` sessions of the challenge after
        ``after_session_id`` in the index, by session id then version: one statement."""
        session_id = self._binary(session_index.c.session_id)
        page = (
            select(session_index.c.session_id)
            .where(session_index.c.challenge_id == challenge_id, session_id > after_session_id)
            .order_by(session_id)
            .limit(max(sessions, 0))
        )
        query = (
            select(game_events)
            .where(game_events.c.session_id.in_(page.scalar_subquery()))
            .order_by(self._binary(game_events.c.session_id), game_events.c.sequence_number)
        )
        async with self._transaction(replica=True) as connection:
            rows = (await connection.execute(query)).all()
        return [stored_event(row) for row in rows]

    async def all_xp_grants(self) -> list[XpGrant]:
        """Return every XP grant, by learner then challenge (for ``db verify``)."""
        query = select(xp_grants).order_by(
            self._binary(xp_grants.c.learner_id), self._binary(xp_grants.c.challenge_id)
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [
            XpGrant(row.learner_id, row.challenge_id, row.session_id, row.xp, row.granted_at)
            for row in rows
        ]

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
        async with self._transaction(replica=True) as connection:
            rows = (await connection.execute(query)).all()
        return [
            LeaderboardRow(row.learner_id, row.display_name, int(row.xp), int(row.completed))
            for row in rows
        ]


def _raw_challenge(row: Sequence[Any]) -> ChallengeRecord:
    return ChallengeRecord(row[0], row[1], row[2], load_json(row[3]), row[4])


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
