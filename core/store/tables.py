"""SQLAlchemy Core table definitions for :class:`core.store.sql.SqlStore`.

The names (tables, columns, indexes, constraints) are promised by the deployment guide; the schema
itself is created by the Alembic migrations in ``core/store/migrations``, which must match this
module (a test compares them). Timestamps are ISO-8601 UTC strings, JSON columns hold text written
by :func:`core.store.json_codec.dump_json`.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

ID_LENGTH = 255
TIMESTAMP_LENGTH = 64

metadata = MetaData()

game_events = Table(
    "game_events",
    metadata,
    Column("position", Integer, nullable=False, autoincrement=True),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("sequence_number", Integer, nullable=False),
    Column("event_type", String(ID_LENGTH), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("recorded_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("position", name="pk_game_events"),
    UniqueConstraint(
        "session_id", "sequence_number", name="uq_game_events_session_id_sequence_number"
    ),
    Index("ix_game_events_session_id", "session_id"),
    Index("ix_game_events_sequence_number", "sequence_number"),
    # AUTOINCREMENT stops SQLite from ever reusing a position, so positions only grow.
    sqlite_autoincrement=True,
)

session_snapshots = Table(
    "session_snapshots",
    metadata,
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("sequence_number", Integer, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("session_id", name="pk_session_snapshots"),
    Index("ix_session_snapshots_session_id", "session_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("key", String(ID_LENGTH), nullable=False),
    Column("first_version", Integer, nullable=False),
    Column("last_version", Integer, nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("session_id", "key", name="pk_idempotency_keys"),
)

challenge_versions = Table(
    "challenge_versions",
    metadata,
    Column("challenge_id", String(ID_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(ID_LENGTH), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("challenge_id", "version", name="pk_challenge_versions"),
)

learners = Table(
    "learners",
    metadata,
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("display_name", String(ID_LENGTH), nullable=False),
    Column("role", String(ID_LENGTH), nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("learner_id", name="pk_learners"),
)

session_index = Table(
    "session_index",
    metadata,
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("challenge_id", String(ID_LENGTH), nullable=False),
    Column("challenge_version", Integer, nullable=False),
    Column("status", String(ID_LENGTH), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("total_steps", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("passed", Boolean, nullable=True),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    Column("updated_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("session_id", name="pk_session_index"),
    Index("ix_session_index_learner_id", "learner_id"),
)

xp_grants = Table(
    "xp_grants",
    metadata,
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("challenge_id", String(ID_LENGTH), nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("xp", Integer, nullable=False),
    Column("granted_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("learner_id", "challenge_id", name="pk_xp_grants"),
)
