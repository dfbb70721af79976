"""Item analysis after release: how each step of a challenge works on real learners.

Folded from the event log, per challenge version and step (classical test theory, kept simple):

* **difficulty** — the share of learners who reached the step and passed it on their first attempt;
* **discrimination** — that share among learners who went on to pass the challenge minus the share
  among those who completed it without passing (−1…1; near 0 or negative: the step does not separate
  stronger from weaker learners, or works against them);
* how often each **wrong choice** was picked, the **hit rate** of each rubric item (full points),
  the **median attempts and hints**, and **drop-off** (sessions that stopped at the step for good).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.engine import ChallengeSpec
from core.engine.events import (
    AnswerGraded,
    AnswerSubmitted,
    Event,
    HintGiven,
    SessionAbandoned,
    SessionCompleted,
    SessionCreated,
    StepClosed,
    StepEntered,
    UnknownEvent,
    decode,
)
from core.errors import Forbidden
from core.service.actor import Actor
from core.service.catalog import Catalog
from core.store.base import LearnerStore

SESSIONS_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class ChoiceCount:
    index: int
    text: str
    correct: bool
    picked: int


@dataclass(frozen=True, slots=True)
class RubricHit:
    """How often a rubric item got its full points: ``hit_rate`` is ``full / graded`` (None
    when never graded)."""

    item_id: str
    graded: int
    full: int
    hit_rate: float | None = None

    @staticmethod
    def of(item_id: str, graded: int, full: int) -> RubricHit:
        return RubricHit(item_id, graded, full, full / graded if graded else None)


@dataclass(frozen=True, slots=True)
class StepStats:
    step_id: str
    index: int
    title: str
    kind: str
    reached: int
    answered: int
    first_try_passed: int
    difficulty: float | None
    discrimination: float | None
    median_attempts: float | None
    median_hints: float | None
    dropped: int
    choices: tuple[ChoiceCount, ...] = ()
    rubric: tuple[RubricHit, ...] = ()


@dataclass(frozen=True, slots=True)
class VersionStats:
    version: int
    sessions: int
    completed: int
    passed: int
    steps: tuple[StepStats, ...]


@dataclass(frozen=True, slots=True)
class ItemAnalysis:
    challenge_id: str
    versions: tuple[VersionStats, ...]

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per version and step, for tables and CSV."""
        return [
            {
                "version": version.version,
                "step": step.step_id,
                "kind": step.kind,
                "reached": step.reached,
                "difficulty": step.difficulty,
                "discrimination": step.discrimination,
                "median_attempts": step.median_attempts,
                "median_hints": step.median_hints,
                "dropped": step.dropped,
            }
            for version in self.versions
            for step in version.steps
        ]


@dataclass(slots=True)
class _Session:
    version: int
    entered: list[str] = field(default_factory=list)
    first_try: dict[str, bool] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    hints: Counter[str] = field(default_factory=Counter)
    picks: list[tuple[str, Any]] = field(default_factory=list)
    items: list[tuple[str, str, bool]] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)
    completed: bool = False
    passed: bool = False
    abandoned: bool = False


def analyse(
    challenge_id: str, streams: Iterable[Sequence[Event]], specs: dict[int, ChallengeSpec]
) -> ItemAnalysis:
    """Given every session stream of ``challenge_id`` (decoded events) and the spec of each
    version, return the item analysis. Pure: the same events always give the same figures."""
    sessions: dict[int, list[_Session]] = defaultdict(list)
    for events in streams:
        session = _fold(challenge_id, events)
        if session is not None:
            sessions[session.version].append(session)
    versions = []
    for version in sorted(sessions):
        spec = specs.get(version)
        if spec is None:
            continue
        played = sessions[version]
        versions.append(
            VersionStats(
                version=version,
                sessions=len(played),
                completed=sum(s.completed for s in played),
                passed=sum(s.passed for s in played),
                steps=tuple(_step_stats(spec, index, played) for index in range(len(spec.steps))),
            )
        )
    return ItemAnalysis(challenge_id, tuple(versions))


async def item_analysis(
    store: LearnerStore,
    challenge_id: str,
    specs_for: Callable[[int], Awaitable[ChallengeSpec]],
) -> ItemAnalysis:
    """Read the streams of ``challenge_id``'s sessions in pages (the session index lists them, so
    other challenges' events are never read) and analyse them; ``specs_for(version)`` is an async
    function returning the spec of a stored version (e.g. ``Catalog.spec`` bound to the id)."""
    streams: dict[str, list[Event]] = defaultdict(list)
    after = ""
    while page := await store.read_challenge_streams(challenge_id, after, SESSIONS_PER_PAGE):
        for stored in page:
            try:
                event = decode(stored.type, stored.schema_version, stored.data)
            except UnknownEvent:
                continue
            streams[stored.stream_id].append(event)
        after = page[-1].stream_id
    versions = {
        e.challenge_version
        for events in streams.values()
        for e in events
        if isinstance(e, SessionCreated)
    }
    specs = {version: await specs_for(version) for version in sorted(versions)}
    return analyse(challenge_id, streams.values(), specs)


# Who may read item analysis: the people who write and run the challenges.
ANALYSIS_ROLES = frozenset({"author", "admin"})


async def item_analysis_for(
    actor: Actor, store: LearnerStore, catalog: Catalog, challenge_id: str
) -> ItemAnalysis:
    """Given an author or admin and a published challenge, return its item analysis (every
    version played so far). Others get ``Forbidden``; an unknown challenge ``ChallengeNotFound``."""
    if actor.role not in ANALYSIS_ROLES:
        raise Forbidden("item analysis is for authors and admins only")
    await catalog.latest_spec(challenge_id)

    async def spec(version: int) -> ChallengeSpec:
        return await catalog.spec(challenge_id, version)

    return await item_analysis(store, challenge_id, spec)


def _fold(challenge_id: str, events: Sequence[Event]) -> _Session | None:
    session: _Session | None = None
    for event in events:
        if isinstance(event, SessionCreated):
            if event.challenge_id != challenge_id:
                return None
            session = _Session(event.challenge_version)
        elif session is None:
            continue
        elif isinstance(event, StepEntered):
            session.entered.append(event.step_id)
        elif isinstance(event, AnswerSubmitted):
            session.picks.append((event.step_id, event.answer))
        elif isinstance(event, AnswerGraded):
            session.first_try.setdefault(event.step_id, event.passed and event.attempt == 1)
            session.attempts[event.step_id] = event.attempt
            for item in event.items:
                full = item.points + 1e-9 >= item.max_points
                session.items.append((event.step_id, item.id, full))
        elif isinstance(event, HintGiven):
            session.hints[event.step_id] += 1
        elif isinstance(event, StepClosed):
            session.closed.add(event.step_id)
        elif isinstance(event, SessionCompleted):
            session.completed, session.passed = True, event.passed
        elif isinstance(event, SessionAbandoned):
            session.abandoned = True
    return session


def _step_stats(spec: ChallengeSpec, index: int, played: list[_Session]) -> StepStats:
    step = spec.steps[index]
    reached = [s for s in played if step.id in s.entered]
    answered = [s for s in reached if step.id in s.first_try]
    first = [s for s in answered if s.first_try[step.id]]
    passers = [s for s in answered if s.completed and s.passed]
    others = [s for s in answered if s.completed and not s.passed]
    discrimination = None
    if passers and others:
        discrimination = _share(passers, step.id) - _share(others, step.id)
    dropped = sum(
        1
        for s in reached
        if not s.completed and s.entered[-1] == step.id and step.id not in s.closed
    )
    picks: Counter[int] = Counter()
    for session in reached:
        for step_id, answer in session.picks:
            if step_id != step.id:
                continue
            chosen = (
                [answer] if isinstance(answer, int) and not isinstance(answer, bool) else answer
            )
            if isinstance(chosen, list | tuple):
                picks.update(i for i in chosen if isinstance(i, int))
    choices = tuple(
        ChoiceCount(i, choice.text, choice.correct, picks[i])
        for i, choice in enumerate(step.choices)
    )
    graded: Counter[str] = Counter()
    full: Counter[str] = Counter()
    for session in reached:
        for step_id, item_id, hit in session.items:
            if step_id == step.id:
                graded[item_id] += 1
                full[item_id] += hit
    rubric = tuple(RubricHit.of(item.id, graded[item.id], full[item.id]) for item in step.rubric)
    return StepStats(
        step_id=step.id,
        index=index,
        title=step.title,
        kind=step.kind.value,
        reached=len(reached),
        answered=len(answered),
        first_try_passed=len(first),
        difficulty=len(first) / len(answered) if answered else None,
        discrimination=round(discrimination, 4) if discrimination is not None else None,
        median_attempts=_median([s.attempts[step.id] for s in answered]),
        median_hints=_median([s.hints[step.id] for s in reached]) if reached else None,
        dropped=dropped,
        choices=choices,
        rubric=rubric,
    )


def _share(sessions: list[_Session], step_id: str) -> float:
    return sum(s.first_try[step_id] for s in sessions) / len(sessions)


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None
