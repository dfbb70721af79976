"""SQLAlchemy Core table definitions for :class:`core.store.sql.SqlStore`.

The names (tables, columns, indexes, constraints) are promised by the deployment guide; the schema
itself is created by the Alembic migrations in ``core/store/migrations``, which must match this
module (a test compares them). Timestamps are ISO-8601 UTC strings, JSON columns hold text written
by :func:`core.store.json_codec.dump_json`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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
KEY_ID_LENGTH = 32
DIGEST_LENGTH = 64

# 0009: 64-bit on PostgreSQL, where an event's position is derived from its transaction id (see
# core/store/sql_events.py); SQLite's INTEGER is 64-bit already and must stay INTEGER to remain
# the rowid alias AUTOINCREMENT needs.
Position = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

game_events = Table(
    "game_events",
    metadata,
    Column("position", Position, nullable=False, autoincrement=True),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("sequence_number", Integer, nullable=False),
    Column("event_type", String(ID_LENGTH), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("recorded_at", String(TIMESTAMP_LENGTH), nullable=False),
    # 0005: sha256 chained to the previous event of the session (core/store/integrity.py);
    # NULL for events written before the chain existed.
    Column("event_hash", String(64), nullable=True),
    # 0009: id of the HMAC key of event_hash (EVENT_HMAC_KEY); NULL for an unkeyed SHA-256.
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    PrimaryKeyConstraint("position", name="pk_game_events"),
    # Every lookup by session, and every read in order within one, goes through this index (0018
    # dropped ix_game_events_session_id and ix_game_events_sequence_number, which only cost writes).
    UniqueConstraint(
        "session_id", "sequence_number", name="uq_game_events_session_id_sequence_number"
    ),
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
    # 0018 dropped ix_session_snapshots_session_id, which duplicated the primary key.
    PrimaryKeyConstraint("session_id", name="pk_session_snapshots"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("key", String(ID_LENGTH), nullable=False),
    Column("first_version", Integer, nullable=False),
    Column("last_version", Integer, nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    # 0009: SHA-256 of the request the key was first used with (NULL for older keys).
    Column("request_digest", String(DIGEST_LENGTH), nullable=True),
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
    # 0008: bumped on sign-out, refresh-token reuse and role changes; access tokens carry the
    # version they were issued at and stop working once it moves on.
    Column("token_version", Integer, nullable=False, server_default="0"),
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

# -- 0002: accounts, chat identities and the LLM usage ledger --------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("email", String(320), nullable=False),
    Column("password_hash", String(ID_LENGTH), nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("learner_id", name="pk_accounts"),
    UniqueConstraint("email", name="uq_accounts_email"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(128), nullable=False),
    Column("family_id", String(ID_LENGTH), nullable=False),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("issued_at", String(TIMESTAMP_LENGTH), nullable=False),
    Column("expires_at", String(TIMESTAMP_LENGTH), nullable=False),
    Column("spent_at", String(TIMESTAMP_LENGTH), nullable=True),
    Column("revoked_at", String(TIMESTAMP_LENGTH), nullable=True),
    PrimaryKeyConstraint("token_hash", name="pk_refresh_tokens"),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_learner_id", "learner_id"),
)

learner_identities = Table(
    "learner_identities",
    metadata,
    Column("platform", String(32), nullable=False),
    Column("external_id", String(ID_LENGTH), nullable=False),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("display_name", String(ID_LENGTH), nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("platform", "external_id", name="pk_learner_identities"),
    Index("ix_learner_identities_learner_id", "learner_id"),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code_hash", String(128), nullable=False),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("expires_at", String(TIMESTAMP_LENGTH), nullable=False),
    Column("used_at", String(TIMESTAMP_LENGTH), nullable=True),
    PrimaryKeyConstraint("code_hash", name="pk_link_codes"),
)

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("id", Integer, nullable=False, autoincrement=True),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=True),
    Column("day", String(10), nullable=False),
    Column("task", String(32), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("model", String(ID_LENGTH), nullable=False),
    Column("tokens_in", Integer, nullable=False),
    Column("tokens_out", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("provisional", Boolean, nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("id", name="pk_llm_usage"),
    Index("ix_llm_usage_learner_id_day", "learner_id", "day"),
    Index("ix_llm_usage_day", "day"),
    sqlite_autoincrement=True,
)

# -- 0003: chat threads and delivery de-duplication (Discord and Slack) ---------------------------

chat_threads = Table(
    "chat_threads",
    metadata,
    Column("platform", String(32), nullable=False),
    Column("scope_id", String(ID_LENGTH), nullable=False),
    Column("thread_id", String(ID_LENGTH), nullable=False),
    Column("channel_id", String(ID_LENGTH), nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    # 0010: what the thread shows (the transcript up to delivered_seq, and the step).
    Column("delivered_seq", Integer, nullable=False, server_default="0"),
    Column("shown", String(ID_LENGTH), nullable=False, server_default=""),
    # 0015: when the finished session's thread is due to be archived (None: not scheduled).
    Column("archive_at", String(TIMESTAMP_LENGTH), nullable=True),
    PrimaryKeyConstraint("platform", "scope_id", "thread_id", name="pk_chat_threads"),
    UniqueConstraint("session_id", name="uq_chat_threads_session_id"),
    Index("ix_chat_threads_archive_at", "platform", "archive_at"),
)

chat_deliveries = Table(
    "chat_deliveries",
    metadata,
    Column("platform", String(32), nullable=False),
    Column("delivery_id", String(ID_LENGTH), nullable=False),
    Column("received_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("platform", "delivery_id", name="pk_chat_deliveries"),
)

# -- 0004: Slack OAuth installations and one-time OAuth states (multi-workspace installs) ---------

slack_installations = Table(
    "slack_installations",
    metadata,
    Column("enterprise_id", String(ID_LENGTH), nullable=False),
    Column("team_id", String(ID_LENGTH), nullable=False),
    Column("user_id", String(ID_LENGTH), nullable=False),
    Column("installed_at", String(TIMESTAMP_LENGTH), nullable=False),
    Column("data", Text, nullable=False),
    PrimaryKeyConstraint("enterprise_id", "team_id", "user_id", name="pk_slack_installations"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("state", String(ID_LENGTH), nullable=False),
    Column("expires_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("state", name="pk_slack_oauth_states"),
)

# -- 0005: sessions copied to cold storage by `curiouscore db archive` (events are kept) ----------

archived_sessions = Table(
    "archived_sessions",
    metadata,
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("archive", String(ID_LENGTH), nullable=False),
    Column("events", Integer, nullable=False),
    Column("last_hash", String(64), nullable=True),
    Column("archived_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("session_id", name="pk_archived_sessions"),
)

# -- 0006: projection checkpoints (a projection's folded state and the position it reached) -------

projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String(ID_LENGTH), nullable=False),
    Column("position", Position, nullable=False),
    Column("state", Text, nullable=False),
    Column("updated_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("name", name="pk_projection_checkpoints"),
)

# -- 0008: shared rate-limit counters and per-account token versions ------------------------------

rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    # An opaque key (callers hash emails and addresses) and the fixed window it counts in.
    Column("key", String(ID_LENGTH), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
    # Unix seconds after which the row no longer matters (two windows past its start).
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("key", "bucket", name="pk_rate_limit_counters"),
    Index("ix_rate_limit_counters_expires_at", "expires_at"),
)

# -- 0009: stream heads and registration chains (core/store/integrity.py) -------------------------

stream_heads = Table(
    "stream_heads",
    metadata,
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_hash", String(DIGEST_LENGTH), nullable=True),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    Column("bucket", Integer, nullable=False),
    Column("registered_seq", Integer, nullable=False),
    Column("registered_key_id", String(KEY_ID_LENGTH), nullable=True),
    Column("registration_mac", String(DIGEST_LENGTH), nullable=False),
    Column("head_mac", String(DIGEST_LENGTH), nullable=False),
    PrimaryKeyConstraint("session_id", name="pk_stream_heads"),
    UniqueConstraint("bucket", "registered_seq", name="uq_stream_heads_bucket_registered_seq"),
)

stream_registry = Table(
    "stream_registry",
    metadata,
    Column("bucket", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("last_mac", String(DIGEST_LENGTH), nullable=True),
    Column("key_id", String(KEY_ID_LENGTH), nullable=True),
    Column("mac", String(DIGEST_LENGTH), nullable=False),
    PrimaryKeyConstraint("bucket", name="pk_stream_registry"),
)

# -- 0014: the review queue (issue 14) and XP adjustments ----------------------------------------

review_queue = Table(
    "review_queue",
    metadata,
    Column("review_id", String(ID_LENGTH), nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("challenge_id", String(ID_LENGTH), nullable=False),
    Column("challenge_version", Integer, nullable=False),
    Column("step_id", String(ID_LENGTH), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("answer", Text, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("verdict", Text, nullable=False),
    Column("created_at", String(TIMESTAMP_LENGTH), nullable=False),
    Column("reviewer_id", String(ID_LENGTH), nullable=True),
    Column("reviewed_at", String(TIMESTAMP_LENGTH), nullable=True),
    Column("review", Text, nullable=True),
    PrimaryKeyConstraint("review_id", name="pk_review_queue"),
    Index("ix_review_queue_challenge_id_created_at", "challenge_id", "created_at"),
)

xp_adjustments = Table(
    "xp_adjustments",
    metadata,
    Column("id", Integer, nullable=False, autoincrement=True),
    Column("learner_id", String(ID_LENGTH), nullable=False),
    Column("challenge_id", String(ID_LENGTH), nullable=False),
    Column("session_id", String(ID_LENGTH), nullable=False),
    Column("xp_change", Integer, nullable=False),
    Column("xp_after", Integer, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("adjusted_at", String(TIMESTAMP_LENGTH), nullable=False),
    PrimaryKeyConstraint("id", name="pk_xp_adjustments"),
    Index("ix_xp_adjustments_learner_id", "learner_id"),
    sqlite_autoincrement=True,
)
