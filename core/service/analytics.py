"""Admin analytics: a projection over the whole event log, caught up on demand.

Completions and pass rate per challenge, the most failed steps, daily active learners, XP granted
and LLM cost — all folded from events read in pages, so they can always be rebuilt from the log.
The fold's state and the position it reached are checkpointed in the store
(``projection_checkpoints``), so a restarted process resumes where the last report stopped.
System metrics (HTTP and LLM latency, error and success rates) are read fresh for each report,
see :mod:`core.service.system_metrics`.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from core.engine.events import (
    AnswerGraded,
    HintGiven,
    LlmTrace,
    SessionCompleted,
    SessionCreated,
    SessionStarted,
    StepClosed,
    StepNarrated,
    UnknownEvent,
    decode,
)
from core.errors import Forbidden, NotFound
from core.service.actor import Actor
from core.service.catalog import Catalog
from core.service.clock import Clock
from core.service.system_metrics import SystemStats, llm_stats, request_stats
from core.store.base import EventStore
from core.store.projections import Checkpoint, ProjectionStore
from core.store.usage import UsageStore

PAGE = 1000
TOP_FAILED_STEPS = 10
CHECKPOINT = "admin_analytics"
# Bump when the checkpointed state changes shape: an older checkpoint is then rebuilt from 0.
STATE_FORMAT = 1


class AnalyticsStore(EventStore, ProjectionStore, UsageStore, Protocol):
    """What the analytics read: the event log, their checkpoint and the LLM usage ledger."""


@dataclass(frozen=True, slots=True)
class ChallengeStats:
    challenge_id: str
    title: str
    sessions: int
    completed: int
    passed: int
    pass_rate: float | None
    average_percent: float | None
    average_minutes: float | None


@dataclass(frozen=True, slots=True)
class StepFailures:
    """A step's failed gradings (``failures``) and how often it closed as failed."""

    challenge_id: str
    challenge_title: str
    step_id: str
    step_title: str
    failures: int
    closed_failed: int


@dataclass(frozen=True, slots=True)
class DayLearners:
    day: str
    learners: int


@dataclass(frozen=True, slots=True)
class DayCost:
    day: str
    cost_usd: float
    calls: int


@dataclass(frozen=True, slots=True)
class DailyStats:
    day: str
    active_learners: int
    sessions_started: int
    completions: int
    xp_granted: int
    llm_calls: int
    llm_cost_usd: float


@dataclass(frozen=True, slots=True)
class AnalyticsReport:
    generated_at: str
    events: int
    learners: int
    sessions: int
    completions: int
    passed: int
    pass_rate: float | None
    xp_granted: int
    llm_calls: int
    llm_tokens_in: int
    llm_tokens_out: int
    llm_cost_usd: float
    challenges: tuple[ChallengeStats, ...]
    most_failed_steps: tuple[StepFailures, ...]
    daily_active_learners: tuple[DayLearners, ...]
    llm_cost_per_day: tuple[DayCost, ...]
    daily: tuple[DailyStats, ...]
    system: SystemStats


@dataclass(slots=True)
class _Session:
    learner_id: str
    challenge_id: str
    challenge_version: int
    created_at: str
    started_at: str | None = None


@dataclass(slots=True)
class _Challenge:
    title: str
    version: int
    sessions: int = 0
    completed: int = 0
    passed: int = 0
    # Sums and counts (not lists), so the checkpointed state does not grow with completions.
    percent_sum: float = 0.0
    percent_count: int = 0
    minutes_sum: float = 0.0
    minutes_count: int = 0


@dataclass(slots=True)
class _Day:
    learners: set[str] = field(default_factory=set)
    started: int = 0
    completions: int = 0
    xp: int = 0
    llm_calls: int = 0
    llm_cost: float = 0.0


class AnalyticsService:
    """Folds the event log into the admin report.

    The fold is a persisted projection: each report loads its checkpoint (state and position)
    from the store, folds only the events appended after that position (event positions commit
    in order, see ``SqlStore``) and saves the new checkpoint, so a restarted process, or another
    worker, resumes instead of replaying the log. :meth:`rebuild` starts it again from position 0.
    """

    def __init__(
        self,
        *,
        store: AnalyticsStore,
        catalog: Catalog,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._registry = registry
        self._position = 0
        self._last_read = 0
        self._catching_up = asyncio.Lock()

    @property
    def position(self) -> int:
        """The position of the last event folded into the projection (as of the last report)."""
        return self._position

    @property
    def last_read(self) -> int:
        """How many events the last report read from the log (0 when it was already caught up)."""
        return self._last_read

    async def rebuild(self) -> None:
        """Forget the projection (its checkpoint included); the next report folds the whole log."""
        async with self._catching_up:
            await self._store.delete_checkpoint(CHECKPOINT)
            self._position = 0

    async def report(self, actor: Actor) -> AnalyticsReport:
        """Given an admin actor, return the analytics over every event stored so far."""
        if not actor.is_admin:
            raise Forbidden("analytics are for admins only")
        async with self._catching_up:
            fold, position = await self._load()
            read = 0
            while page := await self._store.read_all(position, PAGE):
                for stored in page:
                    fold.add(stored.stream_id, stored.type, stored.schema_version, stored.data)
                    position = stored.position
                read += len(page)
            now = self._clock.now()
            if read:
                await self._store.save_checkpoint(
                    Checkpoint(CHECKPOINT, position, fold.to_state(), now)
                )
            self._position, self._last_read = position, read
            system = SystemStats(
                requests=request_stats(self._registry),
                llm=llm_stats(await self._store.usage_outcomes()),
            )
            return fold.report(now, await self._step_titles(fold), system)

    async def _load(self) -> tuple[_Fold, int]:
        checkpoint = await self._store.load_checkpoint(CHECKPOINT)
        if checkpoint is None or checkpoint.state.get("format") != STATE_FORMAT:
            return _Fold(), 0
        return _Fold.from_state(checkpoint.state), checkpoint.position

    async def _step_titles(self, fold: _Fold) -> dict[tuple[str, str], str]:
        titles: dict[tuple[str, str], str] = {}
        for challenge_id, challenge in fold.challenges.items():
            try:
                spec = await self._catalog.spec(challenge_id, challenge.version)
            except NotFound:
                continue
            titles.update({(challenge_id, step.id): step.title for step in spec.steps})
        return titles


class _Fold:
    def __init__(self) -> None:
        self.events = 0
        self.sessions: dict[str, _Session] = {}
        self.challenges: dict[str, _Challenge] = {}
        self.days: defaultdict[str, _Day] = defaultdict(_Day)
        self.failed_attempts: Counter[tuple[str, str]] = Counter()
        self.closed_failed: Counter[tuple[str, str]] = Counter()
        self.completions = 0
        self.passed = 0
        self.xp = 0
        self.llm_calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0

    def to_state(self) -> dict[str, Any]:
        """The fold as JSON-able data (sets and counters as sorted lists), for a checkpoint."""
        return {
            "format": STATE_FORMAT,
            "events": self.events,
            "sessions": {
                sid: [s.learner_id, s.challenge_id, s.challenge_version, s.created_at, s.started_at]
                for sid, s in self.sessions.items()
            },
            "challenges": {
                cid: [
                    c.title,
                    c.version,
                    c.sessions,
                    c.completed,
                    c.passed,
                    c.percent_sum,
                    c.percent_count,
                    c.minutes_sum,
                    c.minutes_count,
                ]
                for cid, c in self.challenges.items()
            },
            "days": {
                day: [sorted(d.learners), d.started, d.completions, d.xp, d.llm_calls, d.llm_cost]
                for day, d in self.days.items()
            },
            "failed_attempts": sorted([*key, n] for key, n in self.failed_attempts.items()),
            "closed_failed": sorted([*key, n] for key, n in self.closed_failed.items()),
            "totals": [
                self.completions,
                self.passed,
                self.xp,
                self.llm_calls,
                self.tokens_in,
                self.tokens_out,
                self.cost,
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Fold:
        """The fold saved by :meth:`to_state`."""
        fold = cls()
        fold.events = state["events"]
        fold.sessions = {sid: _Session(*values) for sid, values in state["sessions"].items()}
        fold.challenges = {cid: _Challenge(*values) for cid, values in state["challenges"].items()}
        for day, (learners, *counts) in state["days"].items():
            fold.days[day] = _Day(set(learners), *counts)
        fold.failed_attempts = Counter({(c, s): n for c, s, n in state["failed_attempts"]})
        fold.closed_failed = Counter({(c, s): n for c, s, n in state["closed_failed"]})
        (
            fold.completions,
            fold.passed,
            fold.xp,
            fold.llm_calls,
            fold.tokens_in,
            fold.tokens_out,
            fold.cost,
        ) = state["totals"]
        return fold

    def add(self, stream_id: str, name: str, schema_version: int, data: dict[str, object]) -> None:
        try:
            event = decode(name, schema_version, dict(data))
        except UnknownEvent:
            return
        self.events += 1
        if isinstance(event, SessionCreated):
            self.sessions[stream_id] = _Session(
                event.learner_id, event.challenge_id, event.challenge_version, event.at
            )
            challenge = self.challenges.setdefault(
                event.challenge_id, _Challenge(event.title, event.challenge_version)
            )
            challenge.sessions += 1
        session = self.sessions.get(stream_id)
        if session is None:
            return
        day = self.days[event.at[:10]]
        day.learners.add(session.learner_id)
        key = (session.challenge_id, getattr(event, "step_id", ""))
        match event:
            case SessionStarted():
                session.started_at = event.at
                day.started += 1
            case AnswerGraded(passed=False):
                self.failed_attempts[key] += 1
            case StepClosed(passed=False):
                self.closed_failed[key] += 1
            case SessionCompleted():
                self._completed(session, event, day)
        trace = getattr(event, "trace", None)
        # Only provider calls count: the offline provider's deterministic traces are not LLM calls
        # (the same rule as the usage ledger the admin page's System table reads).
        if (
            isinstance(event, StepNarrated | AnswerGraded | HintGiven)
            and isinstance(trace, LlmTrace)
            and trace.provider != "offline"
        ):
            self.llm_calls += 1
            self.tokens_in += trace.tokens_in
            self.tokens_out += trace.tokens_out
            self.cost += trace.cost_usd
            day.llm_calls += 1
            day.llm_cost += trace.cost_usd

    def _completed(self, session: _Session, event: SessionCompleted, day: _Day) -> None:
        challenge = self.challenges[session.challenge_id]
        challenge.completed += 1
        self.completions += 1
        day.completions += 1
        if event.passed:
            challenge.passed += 1
            self.passed += 1
        if event.max_score:
            challenge.percent_sum += 100 * event.score / event.max_score
            challenge.percent_count += 1
        began = session.started_at or session.created_at
        challenge.minutes_sum += _minutes_between(began, event.at)
        challenge.minutes_count += 1
        self.xp += event.xp_granted
        day.xp += event.xp_granted

    def report(
        self, now: str, step_titles: dict[tuple[str, str], str], system: SystemStats
    ) -> AnalyticsReport:
        keys = set(self.failed_attempts) | set(self.closed_failed)
        failures = sorted(
            (
                StepFailures(
                    challenge_id=cid,
                    challenge_title=self.challenges[cid].title,
                    step_id=sid,
                    step_title=step_titles.get((cid, sid), sid),
                    failures=self.failed_attempts[(cid, sid)],
                    closed_failed=self.closed_failed[(cid, sid)],
                )
                for cid, sid in keys
            ),
            key=lambda f: (-f.failures, -f.closed_failed, f.challenge_id, f.step_id),
        )
        days = sorted(self.days.items())
        return AnalyticsReport(
            generated_at=now,
            events=self.events,
            learners=len({s.learner_id for s in self.sessions.values()}),
            sessions=len(self.sessions),
            completions=self.completions,
            passed=self.passed,
            pass_rate=_ratio(self.passed, self.completions),
            xp_granted=self.xp,
            llm_calls=self.llm_calls,
            llm_tokens_in=self.tokens_in,
            llm_tokens_out=self.tokens_out,
            llm_cost_usd=round(self.cost, 6),
            challenges=tuple(
                ChallengeStats(
                    challenge_id=cid,
                    title=c.title,
                    sessions=c.sessions,
                    completed=c.completed,
                    passed=c.passed,
                    pass_rate=_ratio(c.passed, c.completed),
                    average_percent=_mean(c.percent_sum, c.percent_count),
                    average_minutes=_mean(c.minutes_sum, c.minutes_count),
                )
                for cid, c in sorted(self.challenges.items())
            ),
            most_failed_steps=tuple(failures[:TOP_FAILED_STEPS]),
            daily_active_learners=tuple(DayLearners(day, len(d.learners)) for day, d in days),
            llm_cost_per_day=tuple(
                DayCost(day, round(d.llm_cost, 6), d.llm_calls) for day, d in days
            ),
            daily=tuple(
                DailyStats(
                    day=day,
                    active_learners=len(d.learners),
                    sessions_started=d.started,
                    completions=d.completions,
                    xp_granted=d.xp,
                    llm_calls=d.llm_calls,
                    llm_cost_usd=round(d.llm_cost, 6),
                )
                for day, d in days
            ),
            system=system,
        )


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


def _minutes_between(start: str, end: str) -> float:
    try:
        return max(
            0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60
        )
    except ValueError:
        return 0.0
