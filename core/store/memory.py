"""An in-memory :class:`~core.store.base.Store` for tests, notebooks and the terminal game.

It follows the same contract as the SQL store: data is stored as canonical JSON text (so callers
never share mutable objects with the store), and appends are serialised by a lock so that exactly
one of several writers at the same expected version wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from core.store.base import (
    AccessClaim,
    AccessRevoked,
    AppendResult,
    ChallengeRecord,
    ConcurrencyError,
    IdempotencyKeyReused,
    LeaderboardRow,
    Learner,
    NewEvent,
    ReadModelChanges,
    SessionSummary,
    Snapshot,
    StoredEvent,
    XpAlreadyGranted,
    XpGrant,
)
from core.store.chat import InMemoryChat
from core.store.integrity import (
    ChainKeys,
    RegistryHead,
    StreamHead,
    chain_hashes,
    directory_rows,
    new_head,
)
from core.store.json_codec import dump_json, load_json
from core.store.memory_accounts import InMemoryAccounts
from core.store.memory_reviews import InMemoryReviews
from core.store.projections import InMemoryProjections
from core.store.registry_buckets import CHOSEN_BUCKETS, RegistryBuckets
from core.store.usage import InMemoryUsage


@dataclass(frozen=True, slots=True)
class _EventRow:
    stream_id: str
    version: int
    position: int
    type: str
    schema_version: int
    data: str
    recorded_at: str
    event_hash: str | None
    key_id: str | None = None

    def to_event(self) -> StoredEvent:
        return StoredEvent(
            stream_id=self.stream_id,
            version=self.version,
            position=self.position,
            type=self.type,
            schema_version=self.schema_version,
            data=load_json(self.data),
            recorded_at=self.recorded_at,
            event_hash=self.event_hash,
            key_id=self.key_id,
        )


@dataclass(frozen=True, slots=True)
class _SnapshotRow:
    version: int
    schema_version: int
    state: str


@dataclass(frozen=True, slots=True)
class _ChallengeRow:
    content_hash: str
    definition: str
    created_at: str


class InMemoryStore(
    InMemoryAccounts, InMemoryUsage, InMemoryChat, InMemoryProjections, InMemoryReviews
):
    """Every store protocol in process memory; nothing survives :meth:`close`-and-reopen."""

    def __init__(self, *, chain_keys: ChainKeys | None = None) -> None:
        self._chain_keys = chain_keys or ChainKeys()
        self._heads: dict[str, StreamHead] = {}
        # The registry directory and its empty tails, made before any registration (integrity).
        self._registry = {
            row.bucket: row for row in directory_rows(self._chain_keys.current, CHOSEN_BUCKETS)
        }
        # The bucket count registrations attest (None: the format from before the directory).
        self._directory: int | None = CHOSEN_BUCKETS
        self._buckets = RegistryBuckets()
        self._lock = asyncio.Lock()
        self._events: list[_EventRow] = []
        self._streams: dict[str, list[_EventRow]] = {}
        self._idempotency: dict[tuple[str, str], AppendResult] = {}
        self._snapshots: dict[str, _SnapshotRow] = {}
        self._challenges: dict[tuple[str, int], _ChallengeRow] = {}
        self._learners: dict[str, Learner] = {}
        self._sessions: dict[str, SessionSummary] = {}
        self._grants: dict[tuple[str, str], XpGrant] = {}
        InMemoryReviews.__init__(self)

    # -- events ---------------------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        idempotency_key: str | None = None,
        recorded_at: str,
        request_digest: str | None = None,
        changes: ReadModelChanges | None = None,
        access: AccessClaim | None = None,
    ) -> AppendResult:
        """Append ``events`` after ``expected_version``; see :meth:`EventStore.append`."""
        if not events:
            raise ValueError("append needs at least one event")
        async with self._lock:
            if access is not None:
                await self._check_access(access)
            if idempotency_key is not None:
                seen = self._idempotency.get((stream_id, idempotency_key))
                if seen is not None:
                    if (
                        seen.request_digest is not None
                        and request_digest is not None
                        and seen.request_digest != request_digest
                    ):
                        raise IdempotencyKeyReused(stream_id, idempotency_key)
                    return AppendResult(
                        seen.first_version, seen.last_version, True, seen.request_digest
                    )
            stream = self._streams.get(stream_id, [])
            if len(stream) != expected_version:
                raise ConcurrencyError(stream_id, expected_version, len(stream))
            grant = changes.xp_grant if changes is not None else None
            if grant is not None and (grant.learner_id, grant.challenge_id) in self._grants:
                raise XpAlreadyGranted(grant.learner_id, grant.challenge_id)
            key = self._chain_keys.current
            # Encode everything before touching state so a bad payload leaves the stream as it was.
            payloads = [dump_json(event.data) for event in events]
            hashes = chain_hashes(
                stream_id,
                expected_version + 1,
                [
                    (e.type, e.schema_version, load_json(p))
                    for e, p in zip(events, payloads, strict=True)
                ],
                stream[-1].event_hash if stream else None,
                key,
            )
            rows = [
                _EventRow(
                    stream_id=stream_id,
                    version=expected_version + offset,
                    position=len(self._events) + offset,
                    type=event.type,
                    schema_version=event.schema_version,
                    data=payload,
                    recorded_at=recorded_at,
                    event_hash=event_hash,
                    key_id=key.key_id if key else None,
                )
                for offset, (event, payload, event_hash) in enumerate(
                    zip(events, payloads, hashes, strict=True), 1
                )
            ]
            self._events.extend(rows)
            self._streams.setdefault(stream_id, []).extend(rows)
            result = AppendResult(rows[0].version, rows[-1].version, request_digest=request_digest)
            if idempotency_key is not None:
                self._idempotency[(stream_id, idempotency_key)] = result
            self._record_head(stream_id, rows[-1].version, rows[-1].event_hash)
            if changes is not None:
                self._write_changes(changes)
            return result

    def _record_head(self, stream_id: str, version: int, event_hash: str | None) -> None:
        existing = self._heads.get(stream_id)
        bucket = None if existing is not None else self._buckets.choose()
        head, tail = new_head(
            self._chain_keys.current,
            stream_id,
            version,
            event_hash,
            registered=None if bucket is None else self._registry.get(bucket),
            existing=existing,
            bucket=bucket,
            buckets=self._directory,
        )
        self._heads[stream_id] = head
        if tail is not None:
            self._registry[tail.bucket] = tail

    def _write_changes(self, changes: ReadModelChanges) -> None:
        if changes.summary is not None:
            self._sessions[changes.summary.session_id] = changes.summary
        if changes.snapshot is not None:
            snapshot = changes.snapshot
            self._snapshots[snapshot.stream_id] = _SnapshotRow(
                snapshot.version, snapshot.schema_version, dump_json(snapshot.state)
            )
        if changes.xp_grant is not None:
            grant = changes.xp_grant
            self._grants[(grant.learner_id, grant.challenge_id)] = grant
        self._write_review_changes(changes)

    async def stream_heads(self) -> dict[str, StreamHead]:
        """Return every recorded stream head by stream id."""
        return dict(self._heads)

    async def registry_heads(self) -> dict[int, RegistryHead]:
        """Return the tail of every registration chain by bucket, and the registry directory."""
        return dict(self._registry)

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the stream's events with version > ``after_version``, in order."""
        stream = self._streams.get(stream_id, [])
        return [row.to_event() for row in stream[max(after_version, 0) :]]

    async def read_stream_for(
        self, access: AccessClaim, stream_id: str, after_version: int = 0
    ) -> list[StoredEvent]:
        """:meth:`read_stream` once the claim is checked; see :meth:`EventStore.read_stream_for`."""
        await self._check_access(access)
        return await self.read_stream(stream_id, after_version)

    async def _check_access(self, access: AccessClaim) -> None:
        if not access.holds(await self.get_token_state(access.learner_id)):
            raise AccessRevoked(access.learner_id)

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Return up to ``limit`` events of every stream with position > ``after_position``."""
        start = max(after_position, 0)
        return [row.to_event() for row in self._events[start : start + max(limit, 0)]]

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version (0 when it has no events)."""
        return len(self._streams.get(stream_id, []))

    async def list_stream_ids(self) -> list[str]:
        """Return every stream id that has events, sorted."""
        return sorted(self._streams)

    async def find_idempotent(self, stream_id: str, key: str) -> AppendResult | None:
        """Return the result of the append that used ``key`` on this stream, if any."""
        return self._idempotency.get((stream_id, key))

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` as the stream's latest (replacing an older one)."""
        self._snapshots[snapshot.stream_id] = _SnapshotRow(
            snapshot.version, snapshot.schema_version, dump_json(snapshot.state)
        )

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """Return the stream's latest snapshot, if any."""
        row = self._snapshots.get(stream_id)
        if row is None:
            return None
        return Snapshot(stream_id, row.version, row.schema_version, load_json(row.state))

    async def delete_snapshots(self) -> int:
        """Delete every snapshot; return how many were deleted."""
        count = len(self._snapshots)
        self._snapshots.clear()
        return count

    # -- content --------------------------------------------------------------------------------

    async def put_challenge_version(self, record: ChallengeRecord) -> None:
        """Store a new version; an existing (challenge_id, version) raises ``ValueError``."""
        key = (record.challenge_id, record.version)
        if key in self._challenges:
            raise ValueError(f"challenge {record.challenge_id!r} v{record.version} already exists")
        self._challenges[key] = _ChallengeRow(
            record.content_hash, dump_json(record.definition), record.created_at
        )

    async def get_challenge_version(
        self, challenge_id: str, version: int
    ) -> ChallengeRecord | None:
        """Return that version of the challenge, if stored."""
        row = self._challenges.get((challenge_id, version))
        return None if row is None else _challenge(challenge_id, version, row)

    async def latest_challenge_version(self, challenge_id: str) -> ChallengeRecord | None:
        """Return the challenge's highest stored version, if any."""
        versions = [version for (cid, version) in self._challenges if cid == challenge_id]
        if not versions:
            return None
        return await self.get_challenge_version(challenge_id, max(versions))

    async def list_latest_challenges(self) -> list[ChallengeRecord]:
        """Return the latest version of every challenge, ordered by id."""
        latest = await self.latest_challenge_versions()
        return [
            _challenge(cid, version, self._challenges[(cid, version)])
            for cid, version in sorted(latest.items())
        ]

    async def latest_challenge_versions(self, challenge_id: str | None = None) -> dict[str, int]:
        """Return each challenge's latest version number (only ``challenge_id``'s when given)."""
        latest: dict[str, int] = {}
        for cid, version in self._challenges:
            if challenge_id is None or cid == challenge_id:
                latest[cid] = max(version, latest.get(cid, version))
        return latest

    # -- learners and read models ---------------------------------------------------------------

    async def add_learner(self, learner: Learner) -> None:
        """Store a new learner; an existing ``learner_id`` raises ``ValueError``."""
        if learner.learner_id in self._learners:
            raise ValueError(f"learner {learner.learner_id!r} already exists")
        self._learners[learner.learner_id] = learner

    async def get_learner(self, learner_id: str) -> Learner | None:
        """Return the learner, if known."""
        return self._learners.get(learner_id)

    async def upsert_session_summary(self, summary: SessionSummary) -> None:
        """Insert or replace the session's index row."""
        self._sessions[summary.session_id] = summary

    async def get_session_summary(self, session_id: str) -> SessionSummary | None:
        """Return the session's index row, if any."""
        return self._sessions.get(session_id)

    async def list_sessions(self, learner_id: str) -> list[SessionSummary]:
        """Return the learner's sessions, most recently updated first (ties by session id)."""
        mine = sorted(
            (s for s in self._sessions.values() if s.learner_id == learner_id),
            key=lambda s: s.session_id,
        )
        return sorted(mine, key=lambda s: s.updated_at, reverse=True)

    async def grant_xp(self, grant: XpGrant) -> bool:
        """Record ``grant`` unless this learner already has one for the challenge; True if recorded."""
        key = (grant.learner_id, grant.challenge_id)
        if key in self._grants:
            return False
        self._grants[key] = grant
        return True

    async def has_xp_grant(self, learner_id: str, challenge_id: str) -> bool:
        """Return whether the learner already earned XP for the challenge."""
        return (learner_id, challenge_id) in self._grants

    async def learner_xp(self, learner_id: str) -> tuple[int, list[XpGrant]]:
        """Return the learner's total XP and grants (oldest first, ties by challenge id)."""
        grants = sorted(
            (g for g in self._grants.values() if g.learner_id == learner_id),
            key=lambda g: (g.granted_at, g.challenge_id),
        )
        return sum(g.xp for g in grants), grants

    async def all_session_summaries(self) -> list[SessionSummary]:
        """Return every session-index row, by session id."""
        return [self._sessions[key] for key in sorted(self._sessions)]

    async def read_challenge_streams(
        self, challenge_id: str, after_session_id: str = "", sessions: int = 100
    ) -> list[StoredEvent]:
        """Every event of the next ``sessions`` sessions of the challenge after
        ``after_session_id`` in the index, by session id then version."""
        ids = sorted(
            s.session_id
            for s in self._sessions.values()
            if s.challenge_id == challenge_id and s.session_id > after_session_id
        )
        return [event for sid in ids[: max(sessions, 0)] for event in await self.read_stream(sid)]

    async def all_xp_grants(self) -> list[XpGrant]:
        """Return every XP grant, by learner then challenge."""
        return [self._grants[key] for key in sorted(self._grants)]

    async def leaderboard(self, limit: int = 10) -> list[LeaderboardRow]:
        """Return the top learners by XP (ties by earlier first grant, then id).

        Only known learners with at least one grant are listed.
        """
        totals: dict[str, tuple[int, int, str]] = {}
        for grant in self._grants.values():
            if grant.learner_id not in self._learners:
                continue
            xp, completed, first = totals.get(grant.learner_id, (0, 0, grant.granted_at))
            totals[grant.learner_id] = (xp + grant.xp, completed + 1, min(first, grant.granted_at))
        ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[1][2], item[0]))
        return [
            LeaderboardRow(learner_id, self._learners[learner_id].display_name, xp, completed)
            for learner_id, (xp, completed, _first) in ranked[: max(limit, 0)]
        ]

    # -- lifecycle ------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Always succeeds: process memory is always reachable."""

    async def close(self) -> None:
        """Nothing to release."""


def _challenge(challenge_id: str, version: int, row: _ChallengeRow) -> ChallengeRecord:
    return ChallengeRecord(
        challenge_id=challenge_id,
        version=version,
        content_hash=row.content_hash,
        definition=load_json(row.definition),
        created_at=row.created_at,
    )
