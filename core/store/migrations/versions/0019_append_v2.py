"""PostgreSQL: ``curiouscore_append_v2``, cheaper to call and to run than ``curiouscore_append``.

Counted with callgrind (instructions per append, replaying the issue flow's five appends per
session, ``docs/event-log.md``), the 0018 function cost 740,000-749,000 instructions in the
backend (bind, run and commit) and its call ~707,000 in our process (the whole ``append``, of
which asyncpg's encoding of the arguments ~83,000); with this one 636,000-645,000 (-13 %) and
~595,000 (-16 %). The new function keeps the checks, their order, their outcomes and the rows it
writes; what changed is how the arguments arrive, the key's statement and how the result leaves:

* **The events' four arrays arrive as four texts**, each the values joined by U+001F (the unit
  separator), and are split by ``string_to_array``. asyncpg's array encoder tests every element
  against the ``Iterable``/``Sized``/``Mapping`` ABCs (to find nested arrays): ~70,000 of our
  process's instructions per append for a dozen strings, against a ``str.join``. No value can
  hold the separator: the data is canonical JSON text (which escapes every control character),
  the digests are hex, the schema versions digits, and the client refuses an event type holding
  one (the split would then not give one value per event; the unnested row would be NULL in a
  NOT NULL column and fail anyway).
* **The session index row arrives as its twelve typed columns**, not as JSON that
  ``jsonb_populate_record`` parsed (``jsonb_in``: ~43,000 backend instructions per append), which
  also spares our process encoding it.
* **The idempotency key is written by its own statement, only when there is one**, not by a
  member of the events' data-modifying ``WITH``, which every append opened and set up, with a key
  or not (three of the issue flow's five appends have none): ~10,000 instructions per append.
* **The result is a named composite type**, ``curiouscore_append_result``, with 0018's sixteen
  columns in 0018's order: for a function with ``OUT`` parameters PostgreSQL builds the result's
  row type again on every call (the ``FunctionScan`` start-up): ~35,000 instructions per call.

Measured and not kept (no gain): the stream lock taken by an assignment (a plpgsql "simple
expression") instead of ``PERFORM`` (no difference); the head written by one more member of the
events' ``WITH`` (an upsert) instead of its own ``UPDATE`` (~15,000 instructions more).

**A new name, not a replacement**, so a rolling deploy needs no restart: processes running code
from before this revision keep calling ``curiouscore_append`` (0018's, untouched), new ones call
``curiouscore_append_v2``; both take the same locks and write the same rows, so they can append
to the same streams at once. The old function can be dropped by a later revision once no process
runs code from before 0019 (docs/deploy.md). The downgrade drops the new function and its type.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0018's OUT columns, in their order (core/store/sql_append.py reads them by position).
RESULT_TYPE = """
CREATE TYPE curiouscore_append_result AS (
    outcome text,
    version integer,
    event_hash text,
    key_id text,
    bucket integer,
    registered_seq integer,
    registered_key_id text,
    registration_mac text,
    head_mac text,
    first_version integer,
    last_version integer,
    request_digest text,
    tail_seq integer,
    tail_last_mac text,
    tail_key_id text,
    tail_mac text
)
"""

# Outcomes: those of 0018 (and 0017, 0016), unchanged.
APPEND_FUNCTION = """
CREATE FUNCTION curiouscore_append_v2(
    p_stream text,
    p_expected integer,
    p_key text,
    p_digest text,
    p_serialize boolean,
    p_prev_hash text,
    p_prev_registration text,
    p_types text,
    p_schemas text,
    p_datas text,
    p_hashes text,
    p_recorded_at text,
    p_key_id text,
    p_head_mac text,
    p_bucket integer,
    p_tail_seq integer,
    p_tail_last_mac text,
    p_empty_tail_mac text,
    p_registration_mac text,
    p_tail_mac text,
    p_s_session text,
    p_s_learner text,
    p_s_challenge text,
    p_s_challenge_version integer,
    p_s_status text,
    p_s_step_index integer,
    p_s_total_steps integer,
    p_s_score double precision,
    p_s_max_score double precision,
    p_s_passed boolean,
    p_s_created_at text,
    p_s_updated_at text,
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
    p_token_version integer
) RETURNS curiouscore_append_result
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    r curiouscore_append_result;
    v_xid bigint;
    v_hashes text[];
    v_count integer;
    v_head stream_heads%ROWTYPE;
    v_tail stream_registry%ROWTYPE;
BEGIN
    -- Each statement below reads a snapshot taken when it starts (VOLATILE, READ COMMITTED), so
    -- the tip read after the lock sees the commit of the lock's previous holder.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'curiouscore_append_v2 needs READ COMMITTED, not %',
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
        r.outcome := 'revoked';
        RETURN r;
    END IF;
    IF p_key IS NOT NULL THEN
        SELECT k.first_version, k.last_version, k.request_digest
            INTO r.first_version, r.last_version, r.request_digest
            FROM idempotency_keys AS k WHERE k.session_id = p_stream AND k."key" = p_key;
        IF FOUND THEN
            r.outcome := 'duplicate';
            RETURN r;
        END IF;
    END IF;
    SELECT * INTO v_head FROM stream_heads AS h WHERE h.session_id = p_stream;
    IF FOUND THEN
        IF v_head.version <> p_expected THEN
            r := ROW('conflict', v_head.version, v_head.event_hash, v_head.key_id, v_head.bucket,
                     v_head.registered_seq, v_head.registered_key_id, v_head.registration_mac,
                     v_head.head_mac, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            RETURN r;
        END IF;
        IF v_head.event_hash IS DISTINCT FROM p_prev_hash
           OR v_head.registration_mac IS DISTINCT FROM p_prev_registration THEN
            r := ROW('stale', v_head.version, v_head.event_hash, v_head.key_id, v_head.bucket,
                     v_head.registered_seq, v_head.registered_key_id, v_head.registration_mac,
                     v_head.head_mac, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            RETURN r;
        END IF;
    ELSIF p_expected <> 0 THEN
        r.version := 0;
        r.outcome := 'conflict';
        RETURN r;
    ELSIF p_registration_mac IS NULL THEN
        r.version := 0;
        r.outcome := 'stale';  -- the caller chained from a head the stream no longer has
        RETURN r;
    ELSE
        SELECT * INTO v_tail FROM stream_registry AS t WHERE t.bucket = p_bucket FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO stream_registry AS t (bucket, seq, last_mac, key_id, mac)
                VALUES (p_bucket, 0, NULL, NULL, p_empty_tail_mac)
                ON CONFLICT (bucket) DO NOTHING;
            SELECT * INTO v_tail FROM stream_registry AS t WHERE t.bucket = p_bucket FOR UPDATE;
        END IF;
        IF v_tail.seq <> p_tail_seq OR v_tail.last_mac IS DISTINCT FROM p_tail_last_mac THEN
            r.tail_seq := v_tail.seq;
            r.tail_last_mac := v_tail.last_mac;
            r.tail_key_id := v_tail.key_id;
            r.tail_mac := v_tail.mac;
            r.outcome := 'registry';
            RETURN r;
        END IF;
    END IF;
    IF p_xp_learner IS NOT NULL THEN
        INSERT INTO xp_grants (learner_id, challenge_id, session_id, xp, granted_at)
            VALUES (p_xp_learner, p_xp_challenge, p_xp_session, p_xp, p_xp_at)
            ON CONFLICT (learner_id, challenge_id) DO NOTHING;
        IF NOT FOUND THEN
            r.outcome := 'xp';
            RETURN r;
        END IF;
    END IF;
    v_xid := pg_current_xact_id()::text::bigint;
    v_hashes := string_to_array(p_hashes, E'\\x1f');
    v_count := cardinality(v_hashes);
    -- One statement writes the events and the session index row.
    WITH events AS (
        INSERT INTO game_events (position, session_id, sequence_number, event_type,
                                 schema_version, data, recorded_at, event_hash, key_id)
            SELECT (v_xid << 20) + u.n, p_stream, p_expected + u.n::integer, u.t, u.s, u.d,
                   p_recorded_at, u.h, p_key_id
            FROM unnest(string_to_array(p_types, E'\\x1f'),
                        string_to_array(p_schemas, E'\\x1f')::integer[],
                        string_to_array(p_datas, E'\\x1f'), v_hashes)
                 WITH ORDINALITY AS u(t, s, d, h, n)
    )
    INSERT INTO session_index AS i (session_id, learner_id, challenge_id, challenge_version,
                                    status, step_index, total_steps, score, max_score,
                                    passed, created_at, updated_at)
        SELECT p_s_session, p_s_learner, p_s_challenge, p_s_challenge_version, p_s_status,
               p_s_step_index, p_s_total_steps, p_s_score, p_s_max_score, p_s_passed,
               p_s_created_at, p_s_updated_at
        WHERE p_s_session IS NOT NULL
        ON CONFLICT (session_id) DO UPDATE SET
            learner_id = excluded.learner_id, challenge_id = excluded.challenge_id,
            challenge_version = excluded.challenge_version, status = excluded.status,
            step_index = excluded.step_index, total_steps = excluded.total_steps,
            score = excluded.score, max_score = excluded.max_score,
            passed = excluded.passed, created_at = excluded.created_at,
            updated_at = excluded.updated_at;
    -- Its own statement, when there is a key (a member of the WITH above, it was opened and
    -- set up by every append, with a key or not: ~14,000 instructions more per append).
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (session_id, "key", first_version, last_version, created_at,
                                      request_digest)
            VALUES (p_stream, p_key, p_expected + 1, p_expected + v_count, p_recorded_at,
                    p_digest);
    END IF;
    IF v_head.session_id IS NOT NULL THEN
        UPDATE stream_heads AS h
            SET version = p_expected + v_count, event_hash = v_hashes[v_count],
                key_id = p_key_id, head_mac = p_head_mac
            WHERE h.session_id = p_stream;
    ELSE
        INSERT INTO stream_heads (session_id, version, event_hash, key_id, bucket, registered_seq,
                                  registered_key_id, registration_mac, head_mac)
            VALUES (p_stream, v_count, v_hashes[v_count], p_key_id, p_bucket, p_tail_seq + 1,
                    p_key_id, p_registration_mac, p_head_mac);
        UPDATE stream_registry AS t
            SET seq = p_tail_seq + 1, last_mac = p_registration_mac, key_id = p_key_id,
                mac = p_tail_mac
            WHERE t.bucket = p_bucket;
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
    r.first_version := p_expected + 1;
    r.last_version := p_expected + v_count;
    r.outcome := 'written';
    RETURN r;
END
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RESULT_TYPE)
        op.execute(APPEND_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS curiouscore_append_v2")
        op.execute("DROP TYPE IF EXISTS curiouscore_append_result")
