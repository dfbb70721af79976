"""An append in as few round trips as is sound, on the driver connection (``core.store.sql_raw``).

**PostgreSQL: one call, in autocommit.** ``curiouscore_append_v2`` (migration 0019; before it
``curiouscore_append`` of migrations 0016-0018, which takes the same steps) takes the
stream lock, checks the learner's access token when the append is a learner's (0017: before
anything else, see "The access check" below), reads the tip (head and idempotency key), checks it,
and writes everything (events, head, key, a new stream's registration, read models, XP) in
**one** round trip, where there were five (``BEGIN``; lock; tip; one write statement; ``COMMIT``)
and, before 0017, the access check's read ahead of them. Each round trip re-entered a busy event
loop's queue, and the stream lock (a new stream's registry bucket row too) was held across them
all; now the server holds them only while it runs the function.

The digests need the previous event's digest and the head's registration, which only Python can
MAC (the key never reaches the database). The append chains **optimistically** from the head this
process last saw for the stream (kept per process, keyed by stream; the head it wrote itself,
usually) and, for a new stream, from the tail this process last saw of the registry bucket it
chose (``core.store.registry_buckets``). The function compares that with the tip it reads under
the lock and refuses with the actual tip when they differ: the append chains again from it and
calls again, or raises ``ConcurrencyError`` when the stream is at another version than expected, as
before. A stale or missing cache entry costs a retry (or a tip read first), never a wrong chain.
New streams of one bucket are chained one at a time within the process, so they do not refuse
each other, and a create takes a bucket none of the process's creates holds, so they rarely wait;
a create refused because another process registered in its bucket moves to another bucket, which
this process then avoids for a while, so processes settle on different buckets. A process reads
every bucket's tail once, before its first create, having made the registry directory if the
database has none (``core.store.integrity``; a SELECT when it has).

Why the single call keeps the guarantees under concurrency:

* **The tip is read after the lock, in the same call.** The function is ``VOLATILE``: under READ
  COMMITTED each of its statements reads a snapshot taken when *that statement* starts, so the tip
  read after the lock is granted sees the commit of the lock's previous holder (the function
  refuses to run under another isolation level). The idempotency key is read after the lock too:
  a retry whose twin committed first is reported as a duplicate, never as a clash.
* **All or nothing.** The call is one statement in its own implicit transaction: the writes
  commit together when it returns, and none is made unless every check passed (an XP claim that
  finds the grant held returns before anything else is written). A constraint violation (a writer
  that slipped past the lock) fails the statement and rolls everything back; it is reported as
  ``ConcurrencyError`` or the duplicate by the caller, as before.
* **Gap-free positions.** The function numbers its events from its own transaction id, as the
  statements did (see ``sql_events``).
* **The tip comes from ``stream_heads``, not ``game_events``.** Every writer of ``game_events``
  (this append, ``import_stream``) moves the stream's head in the same transaction, and migration
  0009 backfilled the heads of older streams. A stream with events but no head was tampered with
  (``db verify`` reports it): an append to it fails with ``ConcurrencyError`` (the unique
  (stream, version) constraint) instead of registering the stream a second time.

**A connection that dies under the call** (``sql_raw.LOST_CONNECTION``: a PostgreSQL restart or
failover, ``pg_terminate_backend``, a proxy dropping it) leaves the append's fate unknown: the call
may have committed on the server before its answer was lost. Calling again blindly would either
apply the action twice (had it chained again from the head it finds) or report a conflict for an
action that took effect. But the append knows what it asked for: the head it would write (its
version and last event's digest, computed before the call). So the append takes a fresh
connection (``KeptRead.renew``) and reads the tip there (one round trip):

* **the tip is the head it would have written:** it committed, with everything the call carries
  (idempotency key, read models, XP, a new stream's registration): its result is returned as the
  call's would have been, and the process's caches move as after any write (the stream's head; a
  create's bucket tail, settled before the bucket's lock is released);
* **otherwise** it is called once more, as it was. The function's checks under the stream lock
  make that safe whatever the tip shows: still at the expected version, it did not commit, and
  now does (or is refused as stale, and chains again); moved on, the usual answers
  (``duplicate`` for its idempotency key, ``conflict``). A ``conflict`` whose tip is the head it
  would have written means it committed after all, after the tip was read (the dead backend was
  still finishing): returned as written.

A failure of that read or of the second call fails the append as before (``StoreUnavailable``,
HTTP 503; nothing is half-written, and the learner can retry). The success path is unchanged (a
``try`` around the call); an append in a transaction of its own (review rows) is not settled.

**The access check** (``access``: an :class:`~core.store.base.AccessClaim`, issue 17) is the
function's first step after the lock: a claim whose token version (or role) is not the learners
row's gets the outcome ``revoked`` and nothing else, not even the replay of an idempotency key;
the caller raises :class:`~core.store.base.AccessRevoked`. The tip read ahead of the call does
not check it, so a replay it finds is handed to the function to report, never reported from the
tip. On SQLite the claim is checked by a read of its own just before the append is queued.

An append that also writes review-queue rows (rare: through SQLAlchemy) calls the same function
inside a transaction of its own, which those rows join.

**SQLite**, inside the group commit's ``BEGIN IMMEDIATE`` (and savepoint): the tip, then one
statement per table written; it has one writer at a time, so the tip it reads is the tip.
"""

# The statements here are built from fixed table and column names and placeholders only; every
# value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from typing import Any

from sqlalchemy import exc

from core.store.base import (
    AccessClaim,
    AccessRevoked,
    AppendResult,
    ConcurrencyError,
    IdempotencyKeyReused,
    ReadModelChanges,
    SchemaNotMigrated,
    SessionSummary,
    Snapshot,
    XpAlreadyGranted,
)
from core.store.integrity import (
    ChainKey,
    RegistryHead,
    StreamHead,
    chain_hashes_encoded,
    directory_rows,
    new_head,
    registry_head_mac,
)
from core.store.json_codec import dump_json, hashable_text
from core.store.postgres_kept import NO_IDLE_PING
from core.store.registry_buckets import CHOSEN_BUCKETS
from core.store.sql_base import KeptRead
from core.store.sql_group import AppendRequest
from core.store.sql_heads import POSITION_SHIFT, SqlChainWriter
from core.store.sql_raw import LOST_CONNECTION, RawConnection, Sql, sql
from core.store.sql_reviews import write_review_changes

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
    "SELECT bucket, seq, last_mac, key_id, mac FROM stream_registry WHERE bucket = $1",
)
_REGISTRY_TAILS = "SELECT bucket, seq, last_mac, key_id, mac FROM stream_registry"
# The registry directory (core.store.integrity), the one row below bucket 0.
_DIRECTORY = sql(
    "directory", "SELECT min(bucket) FROM stream_registry WHERE bucket < 0 HAVING count(*) > 0"
)
_REGISTRY_START = sql(
    "registry",
    "INSERT INTO stream_registry (bucket, seq, last_mac, key_id, mac)"
    " VALUES ($1, 0, NULL, NULL, $2) ON CONFLICT (bucket) DO NOTHING",
)
# Migration 0019's function; its outcome and the tip it refused on, in one row (see there).
# The events' types, schema versions, data and digests travel as four texts, each the values
# joined by EVENT_SEPARATOR (asyncpg's array encoder tests every element against three ABCs:
# ~70,000 instructions per append), and the session index row as its columns (not JSON the
# server parses); see migration 0019.
# Called as a scalar (its result, a curiouscore_append_result, is one composite column asyncpg
# decodes into a record), not ``SELECT * FROM`` it: as a table function it was planned as a
# FunctionScan whose start-up (the 44 arguments set up as a table function's, the result row
# type built, a tuplestore to run it into) cost the backend ~45,000 instructions per append,
# 659,000 -> 614,000 with the issue flow's appends (benchmarks/bench_append_call.py, a private
# PostgreSQL under valgrind; docs/event-log.md). Our process's count is unchanged (570,000).
APPEND_ARGUMENTS = 44
_APPEND = (
    "SELECT curiouscore_append_v2("
    + ", ".join(f"${n}" for n in range(1, APPEND_ARGUMENTS + 1))
    + ")"
)
# U+001F, the unit separator: canonical JSON escapes every control character, digests are hex.
EVENT_SEPARATOR = "\x1f"
_NO_SUMMARY = (None,) * len(fields(SessionSummary))
_EVENT_COLUMNS = (
    "session_id, sequence_number, event_type, schema_version, data, recorded_at, event_hash, key_id"
)
_SQLITE_EVENTS = f"INSERT INTO game_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
# PostgreSQL's "undefined_function": the database predates migration 0019.
_UNDEFINED_FUNCTION = "42883"
# How many times an append chains again after the function refused its optimistic tip (each time
# another process moved the stream's head or the bucket's tail in between) before giving up.
MAX_CHAIN_ATTEMPTS = 8
# Stream heads kept per process (the least recently used dropped first).
HEAD_CACHE_SIZE = 10_000
# Gives back the append's connection, dead, and takes a fresh one (``KeptRead.renew``).
Renew = Callable[[], Awaitable[RawConnection]]


_SUMMARY_COLUMNS = tuple(field.name for field in fields(SessionSummary))
_SUMMARY_FIELDS = attrgetter(*_SUMMARY_COLUMNS)
_SCORE, _MAX_SCORE, _PASSED = (_SUMMARY_COLUMNS.index(n) for n in ("score", "max_score", "passed"))
_HEAD_COLUMNS = tuple(field.name for field in fields(StreamHead))
_HEAD_VALUES = attrgetter(*_HEAD_COLUMNS)


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


def summary_row(summary: SessionSummary) -> tuple[Any, ...]:
    """``summary``'s column values in ``_SUMMARY_COLUMNS``' order, typed as asyncpg wants them
    (the dataclass fields are the column names; ``asdict``'s deep copy costs more than the
    rest)."""
    values = list(_SUMMARY_FIELDS(summary))
    values[_SCORE] = float(values[_SCORE])
    values[_MAX_SCORE] = float(values[_MAX_SCORE])
    if values[_PASSED] is not None:
        values[_PASSED] = bool(values[_PASSED])
    return tuple(values)


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


# SQLite's write statements, built once (the texts the per-append builders made; see _raw_write).
_SQLITE_HEAD_UPDATE = (
    "UPDATE stream_heads SET version = ?, event_hash = ?, key_id = ?, head_mac = ?"
    " WHERE session_id = ?"
)
_SQLITE_HEAD_INSERT = (
    f"INSERT INTO stream_heads ({', '.join(_HEAD_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _HEAD_COLUMNS)})"
)
_SQLITE_REGISTRY_UPDATE = (
    "UPDATE stream_registry SET seq = ?, last_mac = ?, key_id = ?, mac = ? WHERE bucket = ?"
)
_SQLITE_KEY = (
    'INSERT INTO idempotency_keys (session_id, "key", first_version, last_version, created_at,'
    " request_digest) VALUES (?, ?, ?, ?, ?, ?)"
)
_SQLITE_SUMMARY = upsert_by_session(Params(False), "session_index", dict.fromkeys(_SUMMARY_COLUMNS))
_SQLITE_SNAPSHOT = upsert_by_session(
    Params(False),
    "session_snapshots",
    dict.fromkeys(("session_id", "sequence_number", "schema_version", "state", "created_at")),
)


class SqlAppender(SqlChainWriter):
    """The append itself (see the module docstring)."""

    # -- PostgreSQL: one call of curiouscore_append_v2 ---------------------------------------

    async def _append_postgres(
        self, request: AppendRequest, access: AccessClaim | None = None
    ) -> AppendResult:
        """Append ``request`` with one call of ``curiouscore_append_v2`` in autocommit, or in a
        transaction of its own when it carries review rows (written through SQLAlchemy, they join
        it); the function checks ``access`` first."""
        encoded = EncodedAppend.of(request)
        if not writes_reviews(request):
            assert self._raw_kept is not None
            reading = KeptRead(self._raw_kept, NO_IDLE_PING)  # it settles a lost connection
            async with reading as raw:
                result, written = await self._chain_and_call(
                    raw, request, encoded, access, reading.renew
                )
        else:
            async with self._raw_transaction(with_core=True) as raw:
                result, written = await self._chain_and_call(raw, request, encoded, access)
                if not result.duplicate:
                    await self._write_reviews(raw, request)
        if written is not None:  # committed: the next append to the stream chains from it
            self._remember_head(written)
        return result

    async def _chain_and_call(
        self,
        raw: RawConnection,
        request: AppendRequest,
        encoded: EncodedAppend,
        access: AccessClaim | None,
        renew: Renew | None = None,
    ) -> tuple[AppendResult, StreamHead | None]:
        """Chain ``request`` from the tip this process expects and call the function, again from
        the actual tip when it refuses a stale one; return the result and the head it wrote.

        ``renew`` (autocommit only) replaces ``raw`` when it dies under a statement (see
        :meth:`_settle`); inside a transaction (None) the append fails with it."""
        stream_id, expected = request.stream_id, request.expected_version
        head = self._heads.get(stream_id)
        if (head.version if head is not None else 0) != expected:
            # Not the head this process last saw at that version: read the tip (without the
            # lock, so only a guess, which the function checks under it).
            try:
                tip = await raw.fetchrow("tip", TIP.postgres, (stream_id, request.idempotency_key))
            except LOST_CONNECTION:
                if renew is None:
                    raise
                raw = await renew()  # nothing sent yet: read it again on a fresh connection
                tip = await raw.fetchrow("tip", TIP.postgres, (stream_id, request.idempotency_key))
            assert tip is not None
            replay = tip[8] is not None
            if replay and access is None:
                assert request.idempotency_key is not None
                seen = AppendResult(tip[8], tip[9], request_digest=tip[10])
                return duplicate_result(
                    stream_id, request.idempotency_key, seen, request.request_digest
                ), None
            head = None if tip[0] is None else self._remember_head(StreamHead(stream_id, *tip[:8]))
            actual = 0 if head is None else head.version
            # A learner's replay is the function's to report, once it has checked the claim
            # (it looks the key up before the version).
            if actual != expected and not replay:
                raise ConcurrencyError(stream_id, expected, actual)
        bucket: int | None = None
        moved = False
        for _ in range(MAX_CHAIN_ATTEMPTS):
            if head is None:
                if not self._tails_seeded:
                    await self._seed_tails(raw)
                if bucket is None:
                    bucket = self._buckets.choose(self._bucket_busy)
                # One new stream of a bucket at a time here, each chaining from the one before.
                # Taken holding a pooled connection: waiting for a pool that is exhausted while
                # holding the bucket would queue its creates behind each other's pool waits.
                # (Sending the next create before this one's answer, chained after the tail it
                # will write, was tried: connections reach the bucket row out of order under
                # load, and the refusals that cascade from that made a burst of creates slower.)
                async with self._bucket_locks.setdefault(bucket, asyncio.Lock()):
                    tail = self._tails.get(bucket) or _empty_tail(bucket)
                    args, written, new_tail = self._chained(request, encoded, None, tail, access)
                    # Settled under the bucket's lock when the connection dies: the tail this
                    # process keeps for the bucket is then the one the create left, or not.
                    row, raw = await self._call_settling(raw, args, renew, request, written)
                    if row[0] == "registry":
                        self._tails[bucket] = RegistryHead(bucket, *row[12:16])
                        # Another process registers here: leave the bucket to it, once. (Written
                        # after the refusal, this process's create would make that process's
                        # next one refused in turn, until both avoided every bucket.) A create
                        # refused again stays where it now knows the tail, so it gets through.
                        if not moved:
                            self._buckets.refused(bucket)
                            bucket, moved = None, True
                        continue
                    if row[0] == "written":
                        assert new_tail is not None
                        self._tails[bucket] = new_tail
            else:
                args, written, _ = self._chained(request, encoded, head, None, access)
                row, raw = await self._call_settling(raw, args, renew, request, written)
            outcome = row[0]
            if outcome == "revoked":
                assert access is not None
                raise AccessRevoked(access.learner_id)
            if outcome == "written":
                return AppendResult(row[9], row[10], request_digest=request.request_digest), written
            if outcome == "duplicate":
                assert request.idempotency_key is not None
                seen = AppendResult(row[9], row[10], request_digest=row[11])
                return duplicate_result(
                    stream_id, request.idempotency_key, seen, request.request_digest
                ), None
            if outcome == "xp":
                grant = request.changes.xp_grant if request.changes is not None else None
                assert grant is not None
                raise XpAlreadyGranted(grant.learner_id, grant.challenge_id)
            head = None if row[4] is None else self._remember_head(StreamHead(stream_id, *row[1:9]))
            if outcome == "conflict":
                raise ConcurrencyError(stream_id, expected, row[1])
            assert outcome == "stale", outcome
        # Other processes kept moving the tip between our attempts: let the caller decide again.
        raise ConcurrencyError(stream_id, expected, expected)

    def _bucket_busy(self, bucket: int) -> bool:
        """Whether one of this process's creates holds ``bucket`` (another would queue on it)."""
        lock = self._bucket_locks.get(bucket)
        return lock is not None and lock.locked()

    def _chained(
        self,
        request: AppendRequest,
        encoded: EncodedAppend,
        head: StreamHead | None,
        tail: RegistryHead | None,
        access: AccessClaim | None,
    ) -> tuple[list[Any], StreamHead, RegistryHead | None]:
        """The function's arguments chaining ``request`` from ``head`` (a new stream: registered
        after ``tail``), checking ``access``, and the head (and tail) it writes when it says
        ``written``."""
        stream_id, expected = request.stream_id, request.expected_version
        key: ChainKey | None = self._chain_keys.current
        key_id = key.key_id if key else None
        previous = None if head is None else head.event_hash
        hashes = chain_hashes_encoded(stream_id, expected + 1, encoded.chained, previous, key)
        written, new_tail = new_head(
            key,
            stream_id,
            expected + len(hashes),
            hashes[-1],
            registered=tail if head is None else None,
            existing=head,
            buckets=self._directory,
        )
        registration: list[Any] = [None] * 6
        if new_tail is not None:
            assert tail is not None
            registration = [
                new_tail.bucket,
                tail.seq,
                tail.last_mac,
                _empty_tail(new_tail.bucket).mac,
                new_tail.last_mac,
                new_tail.mac,
            ]
        args = [
            stream_id,
            expected,
            request.idempotency_key,
            request.request_digest,
            self._serialize_appends,
            previous,
            None if head is None else head.registration_mac,
            encoded.types,
            encoded.schemas,
            encoded.datas,
            EVENT_SEPARATOR.join(hashes),
            request.recorded_at,
            key_id,
            written.head_mac,
            *registration,
            *encoded.read_models,
            *((None,) * 3 if access is None else access_arguments(access)),
        ]
        return args, written, new_tail

    async def _call(self, raw: RawConnection, args: list[Any]) -> Any:
        """Call the function with ``args``; return its result's columns (a record)."""
        try:
            row = await raw.fetchrow("append", _APPEND, args)
        except exc.DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == _UNDEFINED_FUNCTION:
                target = self._engine.url.render_as_string(hide_password=True)
                raise SchemaNotMigrated(
                    f"database {target} has no curiouscore_append_v2 function of migration 0019"
                    " yet; run: curiouscore db migrate"
                ) from error
            raise
        assert row is not None
        return row[0]

    async def _call_settling(
        self,
        raw: RawConnection,
        args: list[Any],
        renew: Renew | None,
        request: AppendRequest,
        written: StreamHead,
    ) -> tuple[Any, RawConnection]:
        """Call the function with ``args`` on ``raw``; when the connection dies under the call,
        :meth:`_settle` it with ``renew`` (None: inside a transaction, the append fails with it).
        Return the call's result and the connection the caller goes on with."""
        try:
            return await self._call(raw, args), raw
        except LOST_CONNECTION:
            if renew is None:
                raise
            return await self._settle(renew, args, request, written)

    async def _settle(
        self, renew: Renew, args: list[Any], request: AppendRequest, written: StreamHead
    ) -> tuple[Any, RawConnection]:
        """The connection died under the call of ``args`` (chained to write ``written``), which
        may or may not have committed: find out on a fresh connection from ``renew``, and call
        once more only if it did not. Return the call's result (the one the function gave, had
        it committed) and the connection the caller goes on with. See "A connection that dies
        under the call" in the module docstring."""
        raw = await renew()
        tip = await raw.fetchrow("tip", TIP.postgres, (request.stream_id, request.idempotency_key))
        assert tip is not None
        if tip[0] == written.version and tip[1] == written.event_hash:
            return self._written_row(request, written), raw
        row = await self._call(raw, args)
        if row[0] == "conflict" and row[1] == written.version and row[2] == written.event_hash:
            # It committed after all, once the tip was read (its backend was still finishing).
            return self._written_row(request, written), raw
        return row, raw

    @staticmethod
    def _written_row(request: AppendRequest, written: StreamHead) -> tuple[Any, ...]:
        """The function's result for the call that wrote ``written`` (as its caller reads it)."""
        first = request.expected_version + 1
        return ("written", *_HEAD_VALUES(written)[1:], first, written.version, None)

    async def _seed_tails(self, raw: RawConnection) -> None:
        """Before this process's first create: every bucket's tail, in one read on ``raw``
        (another connection could wait for a pool whose connections are all held by creates
        waiting here). A process that chained its first creates from empty tails would have its
        first create in each bucket refused once: a round trip more, under the bucket's lock, with
        the bucket's other creates of a start-up burst queued behind it.

        First the registry directory is made (or found): on ``raw`` in autocommit, as a create's
        call runs (only an append writing review rows, never a create, runs in a transaction).
        Made in a transaction left open, its rows would hold up other processes' creates until
        it ended, and a rollback would take it away while this process attests it."""
        async with self._tails_seeding:
            if self._tails_seeded:
                return
            self._directory = await self._ensure_directory(raw)
            rows = await raw.fetch("registry", _REGISTRY_TAILS, ())
            for row in rows:
                if row[0] >= 0:  # not the directory
                    self._tails.setdefault(row[0], RegistryHead(*row))
            self._tails_seeded = True

    async def _sqlite_directory(self) -> None:
        """SQLite, before this process's first append: the registry directory, made or found in
        a transaction of its own (inside the group's, a rollback would take it away unseen)."""
        async with self._tails_seeding:
            if self._directory is None:
                async with self._raw_transaction() as raw:
                    directory = await self._ensure_directory(raw)
                self._directory = directory

    async def _ensure_directory(self, raw: RawConnection) -> int:
        """Make the registry directory and its empty tails on ``raw`` unless it exists, and
        return its bucket count (see ``core.store.integrity``). Two processes making it at once
        both write the same rows, each ``ON CONFLICT``; an empty tail a creation that rolled back
        left unkeyed is keyed with the others, which a create chaining from it does not notice
        (the function compares the tail's length and last MAC only)."""
        found = await raw.fetchrow("directory", raw.text(_DIRECTORY), ())
        if found is not None:
            return -int(found[0])
        rows = directory_rows(self._chain_keys.current, CHOSEN_BUCKETS)
        values = [value for row in rows for value in (row.bucket, row.key_id, row.mac)]
        await raw.execute("directory", raw.text(_make_directory(len(rows))), values)
        return CHOSEN_BUCKETS

    def _remember_head(self, head: StreamHead) -> StreamHead:
        """Keep ``head`` as the stream's latest known head (at most ``HEAD_CACHE_SIZE``)."""
        heads = self._heads
        heads.pop(head.session_id, None)
        heads[head.session_id] = head
        if len(heads) > HEAD_CACHE_SIZE:
            del heads[next(iter(heads))]
        return head

    async def _write_reviews(self, raw: RawConnection, request: AppendRequest) -> None:
        """The review rows ``request`` carries: rare and cold, so SQLAlchemy, on ``raw``'s
        connection, inside its transaction."""
        changes = request.changes
        assert changes is not None
        await write_review_changes(
            self,
            raw.connection,
            changes.review_items,
            changes.review_outcomes,
            changes.xp_adjustment,
        )

    # -- SQLite: the tip, then a statement per table, inside the group's transaction ---------

    async def _append_raw(
        self, raw: RawConnection, request: AppendRequest, created_at: str
    ) -> AppendResult:
        """Append ``request`` inside ``raw``'s transaction (or savepoint) on SQLite;
        ``created_at`` dates a snapshot it carries."""
        stream_id, expected_version = request.stream_id, request.expected_version
        idempotency_key, request_digest = request.idempotency_key, request.request_digest
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
        chained = chained_events(request, datas)
        previous = None if existing is None else existing.event_hash
        hashes = chain_hashes_encoded(stream_id, expected_version + 1, chained, previous, key)
        result = AppendResult(
            expected_version + 1,
            expected_version + len(request.events),
            request_digest=request_digest,
        )
        registered = None
        if existing is None:
            registered = await self._raw_registry_tail(raw, self._buckets.choose())
        head, new_tail = new_head(
            key,
            stream_id,
            result.last_version,
            hashes[-1],
            registered=registered,
            existing=existing,
            buckets=self._directory,
        )
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
        await self._raw_write(raw, head, new_tail, request, result, created_at)
        if writes_reviews(request):
            await self._write_reviews(raw, request)
        return result

    async def _raw_write(
        self,
        raw: RawConnection,
        head: StreamHead,
        new_tail: RegistryHead | None,
        request: AppendRequest,
        result: AppendResult,
        created_at: str,
    ) -> None:
        """Write the head, the key and the read models, one statement each (SQLite).

        The statements' texts are built once (``_SQLITE_*``, the texts ``Params`` and
        ``upsert_by_session`` build): building them on every append (a closure, a ``Params`` and
        an f-string per statement, the upserts' column lists joined again, ``asdict``'s deep copy
        of a new stream's head) cost more Python than running them."""
        if new_tail is None:
            await raw.execute(
                "head",
                _SQLITE_HEAD_UPDATE,
                (head.version, head.event_hash, head.key_id, head.head_mac, head.session_id),
            )
        else:
            await raw.execute("head", _SQLITE_HEAD_INSERT, _HEAD_VALUES(head))
            await raw.execute(
                "registry",
                _SQLITE_REGISTRY_UPDATE,
                (new_tail.seq, new_tail.last_mac, new_tail.key_id, new_tail.mac, new_tail.bucket),
            )
        if request.idempotency_key is not None:
            await raw.execute(
                "key",
                _SQLITE_KEY,
                (
                    request.stream_id,
                    request.idempotency_key,
                    result.first_version,
                    result.last_version,
                    request.recorded_at,
                    request.request_digest,
                ),
            )
        changes = request.changes
        if changes is not None and changes.summary is not None:
            await raw.execute("summary", _SQLITE_SUMMARY, summary_row(changes.summary))
        if changes is not None and changes.snapshot is not None:
            snapshot = changes.snapshot
            await raw.execute(
                "snapshot",
                _SQLITE_SNAPSHOT,
                (
                    snapshot.stream_id,
                    snapshot.version,
                    snapshot.schema_version,
                    dump_json(snapshot.state),
                    created_at,
                ),
            )
        if changes is not None and changes.xp_grant is not None:
            q = Params(False)
            if await raw.execute("xp", claim_xp(q, changes), q.values) != 1:
                raise XpAlreadyGranted(changes.xp_grant.learner_id, changes.xp_grant.challenge_id)

    async def _raw_registry_tail(self, raw: RawConnection, bucket: int) -> RegistryHead:
        """The tail of ``bucket``'s registration chain (SQLite: the write lock covers it)."""
        await raw.execute("registry", raw.text(_REGISTRY_START), (bucket, _empty_tail(bucket).mac))
        row = await raw.fetchrow("registry", raw.text(_REGISTRY_TAIL), (bucket,))
        assert row is not None
        return RegistryHead(*row)


@dataclass(slots=True)
class EncodedAppend:
    """What an append sends whatever tip it chains from: the events' canonical text (and, for
    the digests, the canonical text of what a reader gets back: the same text, almost always)
    and the read models' arguments."""

    types: str
    schemas: str
    datas: str
    chained: list[tuple[str, int, str]]
    read_models: list[Any]

    @classmethod
    def of(cls, request: AppendRequest, created_at: str | None = None) -> EncodedAppend:
        """``created_at`` dates a snapshot the append carries (when not given, now: the clock
        is read only for an append that carries one)."""
        if len(request.events) >= 1 << POSITION_SHIFT:
            raise ValueError(f"at most {(1 << POSITION_SHIFT) - 1} events per append")
        events = request.events
        types = EVENT_SEPARATOR.join([event.type for event in events])
        if types.count(EVENT_SEPARATOR) != len(events) - 1:
            raise ValueError("an event type holds U+001F, the separator of the append's events")
        datas = [dump_json(event.data) for event in events]
        chained = chained_events(request, datas)
        schemas = EVENT_SEPARATOR.join([str(event.schema_version) for event in events])
        changes = request.changes
        summary: tuple[Any, ...] = _NO_SUMMARY
        snapshot = grant = None
        if changes is not None:
            if changes.summary is not None:
                summary = summary_row(changes.summary)
            snapshot, grant = changes.snapshot, changes.xp_grant
        if snapshot is not None and snapshot.stream_id != request.stream_id:
            raise ValueError("an append carries a snapshot of its own stream only")
        read_models = [
            *summary,
            *(
                (None,) * 4
                if snapshot is None
                else (
                    snapshot.version,
                    snapshot.schema_version,
                    dump_json(snapshot.state),
                    utc_now() if created_at is None else created_at,
                )
            ),
            *(
                (None,) * 5
                if grant is None
                else (
                    grant.learner_id,
                    grant.challenge_id,
                    grant.session_id,
                    grant.xp,
                    grant.granted_at,
                )
            ),
        ]
        return cls(types, schemas, EVENT_SEPARATOR.join(datas), chained, read_models)


def chained_events(request: AppendRequest, datas: list[str]) -> list[tuple[str, int, str]]:
    """What the digests of ``request``'s events cover, given their data's canonical text: what
    will be read back (the text, decoded; see ``hashable_text``), not the caller's objects."""
    return [
        (event.type, event.schema_version, hashable_text(event.data, data))
        for event, data in zip(request.events, datas, strict=True)
    ]


def access_arguments(access: AccessClaim) -> tuple[str, str, int]:
    """The function's ``p_learner_id``, ``p_role`` and ``p_token_version``: the claim it checks
    before anything else (NULLs: an append that is not a learner's, not checked)."""
    return access.learner_id, access.role, access.token_version


# Built once per bucket (a frozen record; unkeyed, so the same in every process): every create
# compared its bucket's empty tail, a MAC of its own, ~3,500 instructions per append of the issue
# flow (a create is one append in five; benchmarks/bench_append_call.py).
@cache
def _empty_tail(bucket: int) -> RegistryHead:
    """The tail of a bucket nobody registered in yet (its row is created unkeyed)."""
    return RegistryHead(bucket, 0, None, None, registry_head_mac(None, bucket, 0, None))


@cache
def _make_directory(rows: int) -> Sql:
    """The insert of the registry directory's ``rows`` (itself and its empty tails): a row
    there already is kept, unless it is an empty tail left unkeyed and these are keyed."""
    values = ", ".join(f"(${3 * n + 1}, 0, NULL, ${3 * n + 2}, ${3 * n + 3})" for n in range(rows))
    return sql(
        "directory",
        f"INSERT INTO stream_registry (bucket, seq, last_mac, key_id, mac) VALUES {values}"
        " ON CONFLICT (bucket) DO UPDATE SET key_id = excluded.key_id, mac = excluded.mac"
        " WHERE stream_registry.seq = 0 AND stream_registry.key_id IS NULL"
        " AND excluded.key_id IS NOT NULL",
    )


def writes_reviews(request: AppendRequest) -> bool:
    """Whether ``request`` writes review rows (through SQLAlchemy, in the append's transaction)."""
    changes = request.changes
    return changes is not None and bool(
        changes.review_items or changes.review_outcomes or changes.xp_adjustment is not None
    )


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


def utc_now() -> str:
    return datetime.now(UTC).isoformat()
