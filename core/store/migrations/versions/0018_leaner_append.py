"""Less PostgreSQL work per append: no duplicate indexes, fewer statements, lz4 snapshots.

Counted with callgrind on a PostgreSQL 15 backend (instructions, not seconds: the machine is
shared), an append of one answer to an existing session (key, summary, a snapshot every fifth
version) cost ~730,000 instructions in ``curiouscore_append`` and its commit, about a third of it
starting each statement's executor (opening and locking relations and indexes, building
expression states) rather than reading or writing rows. This revision removes what nothing
needed; the function keeps 0017's checks, their order and their outcomes:

* **Three indexes that duplicate others** (every dialect). ``ix_session_snapshots_session_id`` is
  the primary key ``pk_session_snapshots (session_id)`` again; ``ix_game_events_session_id`` is
  the leading column of the unique ``uq_game_events_session_id_sequence_number (session_id,
  sequence_number)``, which serves every lookup by session and every read in order within one;
  ``ix_game_events_sequence_number`` is read by no query (every read of ``game_events`` filters
  by session or by position). Each append wrote all of them (two b-trees per event and one per
  snapshot fewer now) and opened and locked them. The lookups the deployment guide promises stay
  indexed, by the unique index and the primary key (docs/deploy.md, "Database setup").
* **One statement for the events, the idempotency key and the session index row** (a
  data-modifying ``WITH``), where 0017 ran three; the key and the row are written only when
  given, as before. One transaction either way: all or nothing, as before.
* **lz4 for snapshot states** (PostgreSQL 14+ built with lz4): a state of ~3.6 KB, written every
  fifth version, was pglz-compressed on every write (to ~1.5 KB; ~1.7 KB with lz4, still stored
  in the row). 22,500 such states were written in 0.20-0.22 s with lz4 against 0.61-0.85 s with
  pglz, and read back faster. Values already stored keep pglz until rewritten; both are read.

Together, per call of a driver that appends one answer at a time (its own statements, ~168,000
instructions, included): 869,000-910,000 instructions against 918,000-941,000 with 0017 (two
alternating runs each; the counts move by ~20,000 with the random keys): ~4 %, which the API
benchmark on a shared, fully busy machine cannot resolve (six pairs: PostgreSQL backends
0.37-0.54 ms/request before, 0.37-0.51 after). The rest of an append is the commit's WAL
flush (kernel time, not counted there) and the statements that remain, each a few scans and
writes. Tried and not kept, as they measured no better: one statement reading the claim, the key
and the head together (the plpgsql record it filled cost what the two statements saved); an
``UPDATE`` before the ``INSERT ... ON CONFLICT`` of the index row and the snapshot; the summary
decoded as ``json`` rather than ``jsonb``, or into a plpgsql row before the insert; the events
numbered by ``generate_series`` and array subscripts instead of ``unnest`` (much slower).

The function keeps 0017's name, 33 arguments and outputs (``CREATE OR REPLACE``), so processes
still running the code of 0017 keep appending while they are replaced (docs/deploy.md). The
downgrade restores 0017's function, the three indexes and the default compression.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, column) of the indexes dropped here, as migration 0001 created them.
DROPPED_INDEXES = (
    ("ix_game_events_session_id", "game_events", "session_id"),
    ("ix_game_events_sequence_number", "game_events", "sequence_number"),
    ("ix_session_snapshots_session_id", "session_snapshots", "session_id"),
)

# Outcomes and outputs: those of 0017 (and 0016), unchanged.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION curiouscore_append(
    p_stream text,
    p_expected integer,
    p_key text,
    p_digest text,
    p_serialize boolean,
    p_prev_hash text,
    p_prev_registration text,
    p_types text[],
    p_schemas integer[],
    p_datas text[],
    p_hashes text[],
    p_recorded_at text,
    p_key_id text,
    p_head_mac text,
    p_bucket integer,
    p_tail_seq integer,
    p_tail_last_mac text,
    p_empty_tail_mac text,
    p_registration_mac text,
    p_tail_mac text,
    p_summary text,
    p_snapshot_version integer,
    p_snapshot_schema integer,
    p_snapshot_state text,
    p_snapshot_at text,
    p_xp_learner text,
    p_xp_challenge text,
    p_xp_session text,
    p_xp integer,
    p_xp_at text,
    p_learner_id text,
    p_role text,
    p_token_version integer,
    OUT outcome text,
    OUT version integer,
    OUT event_hash text,
    OUT key_id text,
    OUT bucket integer,
    OUT registered_seq integer,
    OUT registered_key_id text,
    OUT registration_mac text,
    OUT head_mac text,
    OUT first_version integer,
    OUT last_version integer,
    OUT request_digest text,
    OUT tail_seq integer,
    OUT tail_last_mac text,
    OUT tail_key_id text,
    OUT tail_mac text
) RETURNS record
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    v_xid bigint;
    v_count integer := cardinality(p_types);
    v_head stream_heads%ROWTYPE;
    v_tail stream_registry%ROWTYPE;
BEGIN
    -- Each statement below reads a snapshot taken when it starts (VOLATILE, READ COMMITTED), so
    -- the tip read after the lock sees the commit of the lock's previous holder.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'curiouscore_append needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    IF p_serialize THEN
        PERFORM pg_advisory_xact_lock(288893124944);  -- sql_heads.APPEND_LOCK_KEY
    ELSE
        -- sql_heads.STREAM_LOCK_SEED
        PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 288893129556));
    END IF;
    -- The learner's access token, checked first: a claim that is no longer current gets nothing,
    -- not even the replay of its idempotency key. Read after the lock, so a sign-out committed
    -- while this call waited for it is seen.
    IF p_learner_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM learners AS l
        WHERE l.learner_id = p_learner_id AND l.token_version = p_token_version
          AND l.role = p_role
    ) THEN
        outcome := 'revoked';
        RETURN;
    END IF;
    IF p_key IS NOT NULL THEN
        SELECT k.first_version, k.last_version, k.request_digest
            INTO first_version, last_version, request_digest
            FROM idempotency_keys AS k WHERE k.session_id = p_stream AND k."key" = p_key;
        IF FOUND THEN
            outcome := 'duplicate';
            RETURN;
        END IF;
    END IF;
    SELECT * INTO v_head FROM stream_heads AS h WHERE h.session_id = p_stream;
    IF FOUND THEN
        version := v_head.version;
        event_hash := v_head.event_hash;
        key_id := v_head.key_id;
        bucket := v_head.bucket;
        registered_seq := v_head.registered_seq;
        registered_key_id := v_head.registered_key_id;
        registration_mac := v_head.registration_mac;
        head_mac := v_head.head_mac;
        IF v_head.version <> p_expected THEN
            outcome := 'conflict';
            RETURN;
        END IF;
        IF v_head.event_hash IS DISTINCT FROM p_prev_hash
           OR v_head.registration_mac IS DISTINCT FROM p_prev_registration THEN
            outcome := 'stale';
            RETURN;
        END IF;
    ELSIF p_expected <> 0 THEN
        version := 0;
        outcome := 'conflict';
        RETURN;
    ELSIF p_registration_mac IS NULL THEN
        version := 0;
        outcome := 'stale';  -- the caller chained from a head the stream no longer has
        RETURN;
    ELSE
        SELECT * INTO v_tail FROM stream_registry AS r WHERE r.bucket = p_bucket FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO stream_registry AS r (bucket, seq, last_mac, key_id, mac)
                VALUES (p_bucket, 0, NULL, NULL, p_empty_tail_mac)
                ON CONFLICT (bucket) DO NOTHING;
            SELECT * INTO v_tail FROM stream_registry AS r WHERE r.bucket = p_bucket FOR UPDATE;
        END IF;
        IF v_tail.seq <> p_tail_seq OR v_tail.last_mac IS DISTINCT FROM p_tail_last_mac THEN
            tail_seq := v_tail.seq;
            tail_last_mac := v_tail.last_mac;
            tail_key_id := v_tail.key_id;
            tail_mac := v_tail.mac;
            outcome := 'registry';
            RETURN;
        END IF;
    END IF;
    IF p_xp_learner IS NOT NULL THEN
        INSERT INTO xp_grants (learner_id, challenge_id, session_id, xp, granted_at)
            VALUES (p_xp_learner, p_xp_challenge, p_xp_session, p_xp, p_xp_at)
            ON CONFLICT (learner_id, challenge_id) DO NOTHING;
        IF NOT FOUND THEN
            outcome := 'xp';
            RETURN;
        END IF;
    END IF;
    v_xid := pg_current_xact_id()::text::bigint;
    -- One statement writes the events, the key and the session index row.
    WITH events AS (
        INSERT INTO game_events (position, session_id, sequence_number, event_type,
                                 schema_version, data, recorded_at, event_hash, key_id)
            SELECT (v_xid << 20) + u.n, p_stream, p_expected + u.n::integer, u.t, u.s, u.d,
                   p_recorded_at, u.h, p_key_id
            FROM unnest(p_types, p_schemas, p_datas, p_hashes) WITH ORDINALITY AS u(t, s, d, h, n)
    ), replay AS (
        INSERT INTO idempotency_keys (session_id, "key", first_version, last_version,
                                      created_at, request_digest)
            SELECT p_stream, p_key, p_expected + 1, p_expected + v_count, p_recorded_at, p_digest
            WHERE p_key IS NOT NULL
    )
    INSERT INTO session_index AS i (session_id, learner_id, challenge_id, challenge_version,
                                    status, step_index, total_steps, score, max_score,
                                    passed, created_at, updated_at)
        SELECT s.session_id, s.learner_id, s.challenge_id, s.challenge_version, s.status,
               s.step_index, s.total_steps, s.score, s.max_score, s.passed, s.created_at,
               s.updated_at
        FROM jsonb_populate_record(NULL::session_index, p_summary::jsonb) AS s
        WHERE p_summary IS NOT NULL
        ON CONFLICT (session_id) DO UPDATE SET
            learner_id = excluded.learner_id, challenge_id = excluded.challenge_id,
            challenge_version = excluded.challenge_version, status = excluded.status,
            step_index = excluded.step_index, total_steps = excluded.total_steps,
            score = excluded.score, max_score = excluded.max_score,
            passed = excluded.passed, created_at = excluded.created_at,
            updated_at = excluded.updated_at;
    IF v_head.session_id IS NOT NULL THEN
        UPDATE stream_heads AS h
            SET version = p_expected + v_count, event_hash = p_hashes[v_count],
                key_id = p_key_id, head_mac = p_head_mac
            WHERE h.session_id = p_stream;
    ELSE
        INSERT INTO stream_heads (session_id, version, event_hash, key_id, bucket, registered_seq,
                                  registered_key_id, registration_mac, head_mac)
            VALUES (p_stream, v_count, p_hashes[v_count], p_key_id, p_bucket, p_tail_seq + 1,
                    p_key_id, p_registration_mac, p_head_mac);
        UPDATE stream_registry AS r
            SET seq = p_tail_seq + 1, last_mac = p_registration_mac, key_id = p_key_id,
                mac = p_tail_mac
            WHERE r.bucket = p_bucket;
    END IF;
    IF p_snapshot_version IS NOT NULL THEN
        INSERT INTO session_snapshots AS n (session_id, sequence_number, schema_version, state,
                                            created_at)
            VALUES (p_stream, p_snapshot_version, p_snapshot_schema, p_snapshot_state,
                    p_snapshot_at)
            ON CONFLICT (session_id) DO UPDATE SET
                sequence_number = excluded.sequence_number,
                schema_version = excluded.schema_version,
                state = excluded.state, created_at = excluded.created_at;
    END IF;
    first_version := p_expected + 1;
    last_version := p_expected + v_count;
    outcome := 'written';
END
$fn$
"""

# lz4 only where this server was built with it (``default_toast_compression`` lists it).
HAS_LZ4 = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"


def _function_0017() -> str:
    """0017's function, as that revision created it (its module name starts with a digit)."""
    module = importlib.import_module("core.store.migrations.versions.0017_append_checks_access")
    text: str = module.APPEND_FUNCTION
    return text


def upgrade() -> None:
    for name, table, _column in DROPPED_INDEXES:
        op.drop_index(name, table_name=table)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        if bind.exec_driver_sql(HAS_LZ4).scalar():
            op.execute("ALTER TABLE session_snapshots ALTER COLUMN state SET COMPRESSION lz4")
        op.execute(APPEND_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function_0017())
        op.execute("ALTER TABLE session_snapshots ALTER COLUMN state SET COMPRESSION default")
    for name, table, column in reversed(DROPPED_INDEXES):
        op.create_index(name, table, [column])
