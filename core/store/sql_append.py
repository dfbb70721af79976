"""An append in as few statements as is sound, on the driver connection (``core.store.sql_raw``).

PostgreSQL, per append: ``BEGIN``; the stream lock and the transaction id; the stream's tip (head
and idempotency key); **one** statement writing everything (events, head, key, read models, XP);
``COMMIT`` — five round trips where there were a dozen. SQLite, inside the group commit's
``BEGIN IMMEDIATE`` (and savepoint): the tip, then one statement per table written.

Why each shortcut keeps the guarantees under concurrency:

* **The tip comes from ``stream_heads``, not ``game_events``.** Every writer of ``game_events``
  (this append, ``import_stream``) moves the stream's head in the same transaction, and migration
  0009 backfilled the heads of older streams, so the head's version and hash are those of the
  stream's last event — and the head is read anyway to move it. A stream with events but no head
  was tampered with (``db verify`` reports it): an append to it now fails with
  ``ConcurrencyError`` instead of registering the stream a second time.
* **The idempotency key is read in the same statement as the head**, after the stream lock
  (PostgreSQL) or inside the write lock (SQLite): both come from one snapshot taken after every
  earlier writer of the stream committed, so a retry whose twin committed first is still reported
  as a duplicate, never as a clash; a twin committing later cannot (it waits for our lock).
* **The lock is its own statement (PostgreSQL).** Under READ COMMITTED a statement reads the
  snapshot taken when it *starts*, before a lock it waits for is granted; reading the tip in the
  lock's statement could read the state from before the previous holder's commit. The transaction
  id (for positions, see ``sql_events``) rides along with the lock: it needs no snapshot.
* **One write statement (PostgreSQL).** Data-modifying ``WITH`` parts all run, exactly once, in
  the transaction, and none reads another's output, so their order does not matter; a constraint
  violation in any of them fails the statement and the transaction rolls back, all or nothing as
  before. A racing writer that slipped past the checks still hits the unique (stream, version) or
  key constraint, reported as ``ConcurrencyError`` or the duplicate by the caller. The XP claim is
  ``ON CONFLICT DO NOTHING RETURNING``: no row back means the grant exists, and the append is
  refused (rolled back) with ``XpAlreadyGranted``.
"""

# The statements here are built from fixed table and column names and placeholders only; every
# value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from core.store.base import (
    AppendResult,
    ConcurrencyError,
    IdempotencyKeyReused,
    ReadModelChanges,
    SessionSummary,
    Snapshot,
    XpAlreadyGranted,
)
from core.store.integrity import (
    RegistryHead,
    StreamHead,
    chain_hashes,
    new_head,
    registry_bucket,
    registry_head_mac,
)
from core.store.json_codec import dump_json, load_json
from core.store.sql_group import AppendRequest
from core.store.sql_heads import APPEND_LOCK_KEY, STREAM_LOCK_SEED, SqlChainWriter, next_positions
from core.store.sql_raw import RawConnection, sql
from core.store.sql_reviews import write_review_changes

_XID = "pg_current_xact_id()::text::bigint"
_LOCK_STREAM = sql(
    "lock",
    f"SELECT pg_advisory_xact_lock(hashtextextended($1, {STREAM_LOCK_SEED}::bigint)), {_XID}",
)
_LOCK_ALL = sql("lock", f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY}::bigint), {_XID}")
# The head (NULL columns for a new stream) and the twin's key (NULL when none), in one row.
TIP = sql(
    "tip",
    "SELECT h.version, h.event_hash, h.key_id, h.bucket, h.registered_seq, h.registered_key_id,"
    " h.registration_mac, h.head_mac, k.first_version, k.last_version, k.request_digest"
    " FROM (SELECT 1 AS anchor) AS one"
    " LEFT JOIN stream_heads AS h ON h.session_id = $1"
    ' LEFT JOIN idempotency_keys AS k ON k.session_id = $1 AND k."key" = $2',
)
_REGISTRY_TAIL = sql(
    "registry",
    "SELECT bucket, seq, last_mac, key_id, mac FROM stream_registry WHERE bucket = $1 FOR UPDATE",
    sqlite="SELECT bucket, seq, last_mac, key_id, mac FROM stream_registry WHERE bucket = ?1",
)
_REGISTRY_START = sql(
    "registry",
    "INSERT INTO stream_registry (bucket, seq, last_mac, key_id, mac)"
    " VALUES ($1, 0, NULL, NULL, $2) ON CONFLICT (bucket) DO NOTHING",
)
_EVENT_COLUMNS = (
    "session_id, sequence_number, event_type, schema_version, data, recorded_at, event_hash, key_id"
)
_SQLITE_EVENTS = f"INSERT INTO game_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


_SUMMARY_COLUMNS = tuple(field.name for field in fields(SessionSummary))


class Params:
    """Collects a statement's parameters and names their placeholders (``$n`` or ``?``)."""

    __slots__ = ("postgres", "values")

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}" if self.postgres else "?"


def upsert_by_session(p: Params, table: str, values: dict[str, Any]) -> str:
    """INSERT … ON CONFLICT (session_id) DO UPDATE of the other columns in ``values``."""
    columns = ", ".join(values)
    placeholders = ", ".join(p(value) for value in values.values())
    updates = ", ".join(f"{name} = excluded.{name}" for name in values if name != "session_id")
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        f" ON CONFLICT (session_id) DO UPDATE SET {updates}"
    )


def snapshot_values(snapshot: Snapshot, created_at: str) -> dict[str, Any]:
    """The ``session_snapshots`` row of ``snapshot``."""
    return {
        "session_id": snapshot.stream_id,
        "sequence_number": snapshot.version,
        "schema_version": snapshot.schema_version,
        "state": dump_json(snapshot.state),
        "created_at": created_at,
    }


def summary_values(changes: ReadModelChanges) -> dict[str, Any]:
    """The ``session_index`` row of the append's summary (typed as asyncpg wants them)."""
    summary = changes.summary
    assert summary is not None
    # The dataclass fields are the column names (asdict's deep copy costs more than the rest).
    values = {name: getattr(summary, name) for name in _SUMMARY_COLUMNS}
    values["score"] = float(values["score"])
    values["max_score"] = float(values["max_score"])
    if values["passed"] is not None:
        values["passed"] = bool(values["passed"])
    return values


def claim_xp(p: Params, changes: ReadModelChanges) -> str:
    """INSERT of the append's XP grant that does nothing when the learner holds one already."""
    grant = changes.xp_grant
    assert grant is not None
    return (
        "INSERT INTO xp_grants (learner_id, challenge_id, session_id, xp, granted_at)"
        f" VALUES ({p(grant.learner_id)}, {p(grant.challenge_id)}, {p(grant.session_id)},"
        f" {p(grant.xp)}, {p(grant.granted_at)})"
        " ON CONFLICT (learner_id, challenge_id) DO NOTHING"
    )


class SqlAppender(SqlChainWriter):
    """The append itself (see the module docstring), inside a raw write transaction."""

    async def _append_raw(
        self, raw: RawConnection, request: AppendRequest, created_at: str
    ) -> AppendResult:
        """Append ``request`` inside ``raw``'s transaction (or savepoint); ``created_at`` dates a
        snapshot it carries."""
        stream_id, expected_version = request.stream_id, request.expected_version
        idempotency_key, request_digest = request.idempotency_key, request.request_digest
        xid = None
        if raw.is_postgres:
            if self._serialize_appends:
                locked = await raw.fetchrow("lock", _LOCK_ALL.postgres, ())
            else:
                locked = await raw.fetchrow("lock", _LOCK_STREAM.postgres, (stream_id,))
            assert locked is not None
            xid = int(locked[1])
        tip = await raw.fetchrow("tip", raw.text(TIP), (stream_id, idempotency_key))
        assert tip is not None
        if tip[8] is not None:
            assert idempotency_key is not None
            seen = AppendResult(tip[8], tip[9], request_digest=tip[10])
            return duplicate_result(stream_id, idempotency_key, seen, request_digest)
        existing = None if tip[0] is None else StreamHead(stream_id, *tip[:8])
        actual = 0 if existing is None else existing.version
        if actual != expected_version:
            raise ConcurrencyError(stream_id, expected_version, actual)
        key = self._chain_keys.current
        key_id = key.key_id if key else None
        datas = [dump_json(event.data) for event in request.events]
        # Hash what will be read back (the canonical text, decoded), not the caller's objects.
        chained = [
            (event.type, event.schema_version, load_json(data))
            for event, data in zip(request.events, datas, strict=True)
        ]
        previous = None if existing is None else existing.event_hash
        hashes = chain_hashes(stream_id, expected_version + 1, chained, previous, key)
        result = AppendResult(
            expected_version + 1,
            expected_version + len(request.events),
            request_digest=request_digest,
        )
        registered = None
        if existing is None:
            registered = await self._raw_registry_tail(raw, registry_bucket(stream_id))
        head, new_tail = new_head(
            key,
            stream_id,
            result.last_version,
            hashes[-1],
            registered=registered,
            existing=existing,
        )
        p = Params(raw.is_postgres)
        parts: list[str] = []
        if raw.is_postgres:
            assert xid is not None
            positions = next_positions(raw.info, xid, len(datas))
            parts.append(
                f"INSERT INTO game_events (position, {_EVENT_COLUMNS})"
                f" SELECT u.p, {p(stream_id, '::text')}, u.v, u.t, u.s, u.d,"
                f" {p(request.recorded_at, '::text')}, u.h, {p(key_id, '::text')}"
                f" FROM unnest({p(positions, '::bigint[]')},"
                f" {p(list(range(result.first_version, result.last_version + 1)), '::int[]')},"
                f" {p([event.type for event in request.events], '::text[]')},"
                f" {p([event.schema_version for event in request.events], '::int[]')},"
                f" {p(datas, '::text[]')}, {p(hashes, '::text[]')}) AS u(p, v, t, s, d, h)"
            )
        else:
            rows = [
                (
                    stream_id,
                    version,
                    event.type,
                    event.schema_version,
                    data,
                    request.recorded_at,
                    event_hash,
                    key_id,
                )
                for version, event, data, event_hash in zip(
                    range(result.first_version, result.last_version + 1),
                    request.events,
                    datas,
                    hashes,
                    strict=True,
                )
            ]
            await raw.executemany("events", _SQLITE_EVENTS, rows)
        await self._raw_write(raw, p, parts, head, new_tail, request, result, created_at)
        if request.changes is not None and (
            request.changes.review_items
            or request.changes.review_outcomes
            or request.changes.xp_adjustment is not None
        ):
            # Rare and cold: SQLAlchemy, on this connection, inside this transaction.
            await write_review_changes(
                self,
                raw.connection,
                request.changes.review_items,
                request.changes.review_outcomes,
                request.changes.xp_adjustment,
            )
        return result

    async def _raw_write(
        self,
        raw: RawConnection,
        p: Params,
        parts: list[str],
        head: StreamHead,
        new_tail: RegistryHead | None,
        request: AppendRequest,
        result: AppendResult,
        created_at: str,
    ) -> None:
        """Write the head, the key and the read models: as ``WITH`` parts of one statement after
        ``parts`` (PostgreSQL, sharing ``p``), or one statement each (SQLite)."""
        statements: list[tuple[str, str, Params]] = []

        def add(kind: str, build: Any) -> None:
            params = p if raw.is_postgres else Params(False)
            statements.append((kind, build(params), params))

        if new_tail is None:
            add(
                "head",
                lambda q: (
                    f"UPDATE stream_heads SET version = {q(head.version)},"
                    f" event_hash = {q(head.event_hash)}, key_id = {q(head.key_id)},"
                    f" head_mac = {q(head.head_mac)} WHERE session_id = {q(head.session_id)}"
                ),
            )
        else:
            values = asdict(head)
            add(
                "head",
                lambda q: (
                    f"INSERT INTO stream_heads ({', '.join(values)})"
                    f" VALUES ({', '.join(q(value) for value in values.values())})"
                ),
            )
            add(
                "registry",
                lambda q: (
                    f"UPDATE stream_registry SET seq = {q(new_tail.seq)},"
                    f" last_mac = {q(new_tail.last_mac)}, key_id = {q(new_tail.key_id)},"
                    f" mac = {q(new_tail.mac)} WHERE bucket = {q(new_tail.bucket)}"
                ),
            )
        if request.idempotency_key is not None:
            add(
                "key",
                lambda q: (
                    'INSERT INTO idempotency_keys (session_id, "key", first_version,'
                    " last_version, created_at, request_digest)"
                    f" VALUES ({q(request.stream_id)}, {q(request.idempotency_key)},"
                    f" {q(result.first_version)}, {q(result.last_version)},"
                    f" {q(request.recorded_at)}, {q(request.request_digest)})"
                ),
            )
        changes = request.changes
        if changes is not None and changes.summary is not None:
            summary = summary_values(changes)
            add("summary", lambda q: upsert_by_session(q, "session_index", summary))
        if changes is not None and changes.snapshot is not None:
            snapshot = snapshot_values(changes.snapshot, created_at)
            add("snapshot", lambda q: upsert_by_session(q, "session_snapshots", snapshot))
        claims_xp = changes is not None and changes.xp_grant is not None
        if raw.is_postgres:
            parts.extend(text for _, text, _ in statements)
            names = [f"w{index}" for index in range(len(parts))]
            ctes = [f"{name} AS ({text})" for name, text in zip(names, parts, strict=True)]
            final = "SELECT 1"
            if claims_xp:
                assert changes is not None
                ctes.append(f"xp AS ({claim_xp(p, changes)} RETURNING 1)")
                final = "SELECT count(*) FROM xp"
            row = await raw.fetchrow("write", f"WITH {', '.join(ctes)} {final}", p.values)
            claimed = 1 if row is None else int(row[0])
        else:
            for kind, text, params in statements:
                await raw.execute(kind, text, params.values)
            claimed = 1
            if claims_xp:
                assert changes is not None
                q = Params(False)
                claimed = await raw.execute("xp", claim_xp(q, changes), q.values)
        if claims_xp and claimed != 1:
            assert changes is not None and changes.xp_grant is not None
            raise XpAlreadyGranted(changes.xp_grant.learner_id, changes.xp_grant.challenge_id)

    async def _raw_registry_tail(self, raw: RawConnection, bucket: int) -> RegistryHead:
        """The tail of ``bucket``'s registration chain, locked until the transaction ends (the
        write lock already covers it on SQLite)."""
        empty_mac = registry_head_mac(None, bucket, 0, None)
        await raw.execute("registry", raw.text(_REGISTRY_START), (bucket, empty_mac))
        row = await raw.fetchrow("registry", raw.text(_REGISTRY_TAIL), (bucket,))
        assert row is not None
        return RegistryHead(*row)


def duplicate_result(
    stream_id: str, key: str, seen: AppendResult, request_digest: str | None
) -> AppendResult:
    """The twin's result for a retry with ``key``; ``IdempotencyKeyReused`` when the retry's
    request digest differs from the twin's."""
    if (
        seen.request_digest is not None
        and request_digest is not None
        and seen.request_digest != request_digest
    ):
        raise IdempotencyKeyReused(stream_id, key)
    return AppendResult(seen.first_version, seen.last_version, True, seen.request_digest)
