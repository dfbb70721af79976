"""The narrow persistence interface the service relies on.

Three implementations share it (in-memory, SQLite, PostgreSQL) and one contract test suite checks
them all. Events are appended to a session's stream with the version the writer expects the stream
to be at; a clash raises :class:`ConcurrencyError`. Everything else here is a read model or a cache
that can be rebuilt from the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.engine.frozen import quick_init
from core.store.accounts import AccountStore, TokenState
from core.store.chat import ChatStore
from core.store.integrity import RegistryHead, StreamHead
from core.store.projections import ProjectionStore
from core.store.reviews import ReviewItem, ReviewOutcome, ReviewStore, XpAdjustment
from core.store.usage import UsageStore


class StoreError(Exception):
    """Base class for store failures the service knows how to handle."""


class ConcurrencyError(StoreError):
    """Another writer appended to the stream first: the expected version is stale."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, not {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class XpAlreadyGranted(StoreError):
    """An append carried an XP grant but the learner already holds one for that challenge.

    Nothing was written: the caller decides again knowing the XP was already granted, so the
    ``SessionCompleted`` event it stores tells the truth.
    """

    def __init__(self, learner_id: str, challenge_id: str) -> None:
        super().__init__(f"learner {learner_id!r} already has XP for {challenge_id!r}")
        self.learner_id = learner_id
        self.challenge_id = challenge_id


class IdempotencyKeyReused(StoreError):
    """An idempotency key already used on the stream came back with a different request."""

    def __init__(self, stream_id: str, key: str) -> None:
        super().__init__(f"idempotency key already used on {stream_id!r} for another request")
        self.stream_id = stream_id
        self.key = key


class AccessRevoked(StoreError):
    """A statement carrying an :class:`AccessClaim` found that the claim's token version is no
    longer the learner's (or the learner is gone): it did nothing and returned nothing."""

    def __init__(self, learner_id: str) -> None:
        super().__init__(f"the access token of learner {learner_id!r} is no longer current")
        self.learner_id = learner_id


class StoreUnavailable(StoreError):
    """The database cannot be reached."""


class SchemaNotMigrated(StoreUnavailable):
    """The database answers but has no CuriousCore tables (or an older schema)."""


@quick_init
@dataclass(frozen=True, slots=True)
class AccessClaim:
    """What a well-signed access token says: its subject, role and token version, **not yet
    checked** against the learner's current token version (docs/security.md).

    It is not an actor: the session use cases that take one hand it to the store, whose statement
    for the request (the append, the stream read) checks it first and refuses with
    :class:`AccessRevoked` when the learner's token version moved on, so the check costs no round
    trip of its own. A claim whose version is current carries the current role too (a role change
    moves the version).
    """

    learner_id: str
    role: str
    token_version: int

    def holds(self, state: TokenState | None) -> bool:
        """Whether the claim is current given the learner's ``state`` (None: no such learner).
        The role is compared as well as the version, so a role changed without moving the
        version (which nothing in CuriousCore does) still ends the claim."""
        return state is not None and state.version == self.token_version and state.role == self.role


@quick_init
@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be stored: its stable name, schema version and JSON-able data."""

    type: str
    data: dict[str, Any]
    schema_version: int = 1


@quick_init
@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: ``version`` counts from 1 within its stream, ``position`` is global.

    ``event_hash`` chains it to the previous event of its stream (see ``core.store.integrity``);
    None for events stored before the chain existed.
    """

    stream_id: str
    version: int
    position: int
    type: str
    schema_version: int
    data: dict[str, Any]
    recorded_at: str
    event_hash: str | None = None
    # 0009: the id of the HMAC key of ``event_hash`` (None: unkeyed SHA-256, or no hash).
    key_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class AppendResult:
    """The versions an append occupied; ``duplicate`` when an idempotency key had been seen.

    ``request_digest`` is what the key was stored with (None for keys stored without one).
    """

    first_version: int
    last_version: int
    duplicate: bool = False
    request_digest: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Snapshot:
    """A cached fold of a stream up to ``version``; deleting it changes nothing but speed."""

    stream_id: str
    version: int
    schema_version: int
    state: dict[str, Any]


@quick_init
@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    """One stored version of a challenge definition (the validated file, as JSON)."""

    challenge_id: str
    version: int
    content_hash: str
    definition: dict[str, Any]
    created_at: str


@quick_init
@dataclass(frozen=True, slots=True)
class Learner:
    """A learner (or author/admin) known to the platform."""

    learner_id: str
    display_name: str
    role: str
    created_at: str


@quick_init
@dataclass(frozen=True, slots=True)
class SessionSummary:
    """The session index row: a projection used to list a learner's sessions."""

    session_id: str
    learner_id: str
    challenge_id: str
    challenge_version: int
    status: str
    step_index: int
    total_steps: int
    score: float
    max_score: float
    passed: bool | None
    created_at: str
    updated_at: str


@quick_init
@dataclass(frozen=True, slots=True)
class XpGrant:
    """XP granted once per learner and challenge, on the first passing completion."""

    learner_id: str
    challenge_id: str
    session_id: str
    xp: int
    granted_at: str


@quick_init
@dataclass(frozen=True, slots=True)
class ReadModelChanges:
    """Read-model rows written in the same transaction as the events they derive from.

    ``xp_grant`` is a claim: when the learner already holds a grant for the challenge the whole
    append is refused with :class:`XpAlreadyGranted` and nothing is written.
    """

    summary: SessionSummary | None = None
    snapshot: Snapshot | None = None
    xp_grant: XpGrant | None = None
    # Issue 14: grades entering the review queue, reviews resolving it, and a change to a grant.
    review_items: tuple[ReviewItem, ...] = ()
    review_outcomes: tuple[ReviewOutcome, ...] = ()
    xp_adjustment: XpAdjustment | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    learner_id: str
    display_name: str
    xp: int
    completed: int


class EventStore(Protocol):
    """Append-only event streams with optimistic concurrency, snapshots and idempotency keys."""

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
        """Append ``events`` after ``expected_version``, atomically, with ``changes``.

        ``access``: the append is the learner's, on an access token not yet checked; before
        anything else (the idempotency key included) it raises :class:`AccessRevoked` when the
        claim's token version is not the learner's current one, and then writes nothing.

        Raises :class:`ConcurrencyError` when the stream is not at ``expected_version``. When
        ``idempotency_key`` was already used on this stream, appends nothing and returns the original
        result with ``duplicate=True`` (checked before the version, so a retry never conflicts);
        when it was used with another ``request_digest``, raises :class:`IdempotencyKeyReused`.
        ``changes`` (session summary, snapshot, XP grant) commit with the events or not at all;
        an XP grant the learner already has raises :class:`XpAlreadyGranted`. The stream's head
        and registration (``core.store.integrity``) are updated in the same transaction.
        """
        ...

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """Return the stream's events with version > ``after_version``, in order."""
        ...

    async def read_stream_for(
        self, access: AccessClaim, stream_id: str, after_version: int = 0
    ) -> list[StoredEvent]:
        """:meth:`read_stream` for the claim's learner, checked in the same statement: raises
        :class:`AccessRevoked` (and returns nothing) when the claim's token version is not the
        learner's current one."""
        ...

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Return up to ``limit`` events of every stream with position > ``after_position``."""
        ...

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version (0 when it has no events)."""
        ...

    async def list_stream_ids(self) -> list[str]:
        """Return every stream id that has events."""
        ...

    async def find_idempotent(self, stream_id: str, key: str) -> AppendResult | None:
        """Return the result of the append that used ``key`` on this stream, if any."""
        ...

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot`` as the stream's latest (replacing an older one)."""
        ...

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """Return the stream's latest snapshot, if any."""
        ...

    async def delete_snapshots(self) -> int:
        """Delete every snapshot; return how many were deleted."""
        ...

    async def stream_heads(self) -> dict[str, StreamHead]:
        """Return every recorded stream head by stream id (for ``db verify``)."""
        ...

    async def registry_heads(self) -> dict[int, RegistryHead]:
        """Return the tail of every registration chain by bucket, and the registry directory
        (bucket ``-N``, see ``core.store.integrity``), for ``db verify``."""
        ...


class ContentStore(Protocol):
    """Versioned challenge definitions: a changed file becomes a new version, nothing is deleted."""

    async def put_challenge_version(self, record: ChallengeRecord) -> None:
        """Store a new version; an existing (challenge_id, version) raises ``ValueError``."""
        ...

    async def get_challenge_version(
        self, challenge_id: str, version: int
    ) -> ChallengeRecord | None: ...

    async def latest_challenge_version(self, challenge_id: str) -> ChallengeRecord | None: ...

    async def list_latest_challenges(self) -> list[ChallengeRecord]:
        """Return the latest version of every challenge, ordered by id."""
        ...

    async def latest_challenge_versions(self, challenge_id: str | None = None) -> dict[str, int]:
        """Return each challenge's latest version number (only ``challenge_id``'s when given),
        without reading or parsing the definitions."""
        ...


class LearnerStore(Protocol):
    """Learners, the session index and XP grants (read models the service keeps up to date)."""

    async def add_learner(self, learner: Learner) -> None: ...

    async def get_learner(self, learner_id: str) -> Learner | None: ...

    async def upsert_session_summary(self, summary: SessionSummary) -> None: ...

    async def get_session_summary(self, session_id: str) -> SessionSummary | None: ...

    async def list_sessions(self, learner_id: str) -> list[SessionSummary]:
        """Return the learner's sessions, most recently updated first."""
        ...

    async def grant_xp(self, grant: XpGrant) -> bool:
        """Record ``grant`` unless this learner already has one for the challenge; True if recorded."""
        ...

    async def has_xp_grant(self, learner_id: str, challenge_id: str) -> bool: ...

    async def learner_xp(self, learner_id: str) -> tuple[int, list[XpGrant]]:
        """Return the learner's total XP and grants (oldest first)."""
        ...

    async def leaderboard(self, limit: int = 10) -> list[LeaderboardRow]:
        """Return the top learners by XP (ties by earlier first grant, then id)."""
        ...

    async def all_session_summaries(self) -> list[SessionSummary]:
        """Return every session-index row, by session id (for ``db verify``)."""
        ...

    async def read_challenge_streams(
        self, challenge_id: str, after_session_id: str = "", sessions: int = 100
    ) -> list[StoredEvent]:
        """Return every event of the next ``sessions`` sessions of ``challenge_id`` (any version)
        in the session index with an id above ``after_session_id``, by session id then version
        (item analysis reads a challenge's streams in such pages, never the whole log)."""
        ...

    async def all_xp_grants(self) -> list[XpGrant]:
        """Return every XP grant, by learner then challenge (for ``db verify``)."""
        ...


class Store(
    EventStore,
    ContentStore,
    LearnerStore,
    AccountStore,
    UsageStore,
    ChatStore,
    ProjectionStore,
    ReviewStore,
    Protocol,
):
    """Everything the service needs from persistence, plus lifecycle."""

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the database cannot be reached."""
        ...

    async def close(self) -> None: ...
