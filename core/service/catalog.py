"""The challenge catalogue: publishing versions and reading them back (cached; versions are immutable).

Which version is a challenge's **latest** is the one thing that moves (a publish adds a version;
none is ever changed or deleted), and creating a session reads it. This process keeps it for
:data:`LATEST_SECONDS`, dropping it at once when it publishes the challenge itself: for at most
that long after *another* process (``curiouscore content publish``) publishes a new version, a
session created here begins on the previous latest version. That version is stored and whole
(sessions already under way are playing it), so the session is sound, merely a version older; a
challenge not found is never remembered, so a newly published one is found at once.

When the kept number runs out, the creates that arrive while it is being read again share that
one read (:class:`~core.service.single_flight.SingleFlight`): a burst of creates (50 learners
starting at once, or every create of the moment the window ends) is one round trip to the store,
not one each, each holding a pooled connection the creates' appends wait for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.content import ChallengeFile, content_hash, spec_from_definition
from core.engine.challenge import ChallengeSpec
from core.errors import ChallengeNotFound
from core.service.single_flight import SingleFlight
from core.store.base import ChallengeRecord, ContentStore


class PublishOutcome(StrEnum):
    CREATED = "created"
    NEW_VERSION = "new version"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class PublishResult:
    challenge_id: str
    version: int
    outcome: PublishOutcome


@dataclass(frozen=True, slots=True)
class ChallengeSummary:
    """What the public catalogue shows: never answers, rubrics, reference answers or examples."""

    id: str
    version: int
    title: str
    summary: str
    difficulty: str
    tags: tuple[str, ...]
    estimated_minutes: int
    xp: int
    passing_score: int
    step_count: int
    max_score: int
    step_kinds: tuple[str, ...]


# How long this process takes a challenge's latest version number as it last read it.
LATEST_SECONDS = 1.0
# Latest versions remembered at most (a catalogue's challenges; a bound, never reached in use).
LATEST_CACHE_SIZE = 10_000


class Catalog:
    """Challenge versions by id; a session always reads the version it began with."""

    def __init__(
        self, store: ContentStore, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._specs: dict[tuple[str, int], ChallengeSpec] = {}
        # challenge id -> (latest version, when read): see the module docstring.
        self._latest: dict[str, tuple[int, float]] = {}
        self._monotonic = monotonic
        # Reads of a latest version under way, shared by the callers that arrive meanwhile; keyed
        # with the count of publishes here, so a caller after a publish never takes a read begun
        # before it.
        self._latest_reads: SingleFlight[int | None] = SingleFlight()
        self._published = 0

    async def publish(self, challenge: ChallengeFile, *, at: str) -> PublishResult:
        """Store ``challenge`` unless unchanged; a changed file becomes a new version.

        The stored version is the file's ``version`` or one past the latest stored, whichever is
        greater, so editing a file without bumping its version never rewrites history.
        """
        digest = content_hash(challenge)
        latest = await self._store.latest_challenge_version(challenge.id)
        if latest is not None and latest.content_hash == digest:
            return PublishResult(challenge.id, latest.version, PublishOutcome.UNCHANGED)
        version = (
            challenge.version if latest is None else max(challenge.version, latest.version + 1)
        )
        record = ChallengeRecord(
            challenge_id=challenge.id,
            version=version,
            content_hash=digest,
            definition=challenge.model_dump(mode="json"),
            created_at=at,
        )
        await self._store.put_challenge_version(record)
        self._published += 1
        self._latest.pop(challenge.id, None)
        outcome = PublishOutcome.CREATED if latest is None else PublishOutcome.NEW_VERSION
        return PublishResult(challenge.id, version, outcome)

    async def spec(self, challenge_id: str, version: int) -> ChallengeSpec:
        """Return the spec of one stored version (cached forever: versions never change)."""
        key = (challenge_id, version)
        cached = self._specs.get(key)
        if cached is not None:
            return cached
        record = await self._store.get_challenge_version(challenge_id, version)
        if record is None:
            raise ChallengeNotFound(f"challenge {challenge_id!r} version {version} does not exist")
        spec = spec_from_definition(record.definition, record.version)
        self._specs[key] = spec
        return spec

    async def latest_spec(self, challenge_id: str) -> ChallengeSpec:
        """The spec of the challenge's latest version: the version number looked up at most once
        per :data:`LATEST_SECONDS` (see the module docstring), by one read that the callers
        arriving while it runs share, the definition parsed only the first time a version is
        used."""
        now = self._monotonic()
        cached = self._latest.get(challenge_id)
        if cached is not None and now - cached[1] < LATEST_SECONDS:
            return await self.spec(challenge_id, cached[0])
        published = self._published
        version = await self._latest_reads.run(
            (challenge_id, published), lambda: self._read_latest(challenge_id, published, now)
        )
        if version is None:
            raise ChallengeNotFound(f"there is no challenge called {challenge_id!r}")
        return await self.spec(challenge_id, version)

    async def _read_latest(self, challenge_id: str, published: int, now: float) -> int | None:
        """Read the challenge's latest version number and keep it from ``now``, unless this
        process published meanwhile (the read may predate that version)."""
        version = (await self._store.latest_challenge_versions(challenge_id)).get(challenge_id)
        if version is not None and published == self._published:
            if len(self._latest) >= LATEST_CACHE_SIZE:
                self._latest.clear()  # ids are few (a catalogue); never unbounded
            self._latest[challenge_id] = (version, now)
        return version

    async def summaries(self) -> list[ChallengeSummary]:
        """The latest version of every challenge, for the public catalogue, ordered by id."""
        versions = await self._store.latest_challenge_versions()
        return [
            summarize(await self.spec(challenge_id, versions[challenge_id]))
            for challenge_id in sorted(versions)
        ]

    async def summary(self, challenge_id: str) -> ChallengeSummary:
        return summarize(await self.latest_spec(challenge_id))


def summarize(spec: ChallengeSpec) -> ChallengeSummary:
    return ChallengeSummary(
        id=spec.id,
        version=spec.version,
        title=spec.title,
        summary=spec.summary,
        difficulty=spec.difficulty,
        tags=spec.tags,
        estimated_minutes=spec.estimated_minutes,
        xp=spec.xp,
        passing_score=spec.passing_score,
        step_count=len(spec.steps),
        max_score=spec.max_score,
        step_kinds=tuple(step.kind.value for step in spec.steps),
    )


# The order of the content model's difficulty levels (core.content.models.ChallengeFile).
DIFFICULTY_ORDER = ("beginner", "intermediate", "advanced", "expert")


def difficulty_rank(difficulty: str) -> int:
    """Given a difficulty level, return its place in :data:`DIFFICULTY_ORDER` (unknown ones last)."""
    try:
        return DIFFICULTY_ORDER.index(difficulty)
    except ValueError:
        return len(DIFFICULTY_ORDER)


def next_challenge(
    catalogue: Sequence[ChallengeSummary], passed: Collection[str], current: str
) -> ChallengeSummary | None:
    """Given the catalogue, the ids a learner has passed and the challenge just finished, return
    the challenge to suggest next: the first not yet passed after ``current`` in difficulty order
    (ties by title, then id), else the easiest one not yet passed before it; ``None`` when every
    other challenge is passed."""
    ordered = sorted(catalogue, key=lambda c: (difficulty_rank(c.difficulty), c.title, c.id))
    ids = [c.id for c in ordered]
    start = ids.index(current) + 1 if current in ids else 0
    for candidate in ordered[start:] + ordered[:start]:
        if candidate.id != current and candidate.id not in passed:
            return candidate
    return None
