"""Learners, XP, levels and the leaderboard (read models over the event log)."""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.scoring import level_bounds, level_for
from core.errors import LearnerNotFound
from core.service.actor import Actor
from core.service.clock import Clock
from core.store.base import Learner, SessionSummary, Store, XpGrant


@dataclass(frozen=True, slots=True)
class Profile:
    learner_id: str
    display_name: str
    role: str
    xp: int
    level: int
    completed: tuple[XpGrant, ...]
    sessions: tuple[SessionSummary, ...]

    @property
    def level_start_xp(self) -> int:
        return level_bounds(self.level)[0]

    @property
    def next_level_xp(self) -> int:
        return level_bounds(self.level)[1]


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    rank: int
    learner_id: str
    display_name: str
    xp: int
    level: int
    completed: int


class LearnerService:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def ensure_learner(
        self, learner_id: str, display_name: str, role: str = "learner"
    ) -> Learner:
        """Return the learner, provisioning it on first contact."""
        existing = await self._store.get_learner(learner_id)
        if existing is not None:
            return existing
        learner = Learner(learner_id, display_name, role, self._clock.now())
        await self._store.add_learner(learner)
        return learner

    async def profile(self, actor: Actor) -> Profile:
        """Given an actor, return their XP, level, completed challenges and sessions."""
        learner = await self._store.get_learner(actor.learner_id)
        if learner is None:
            raise LearnerNotFound(f"learner {actor.learner_id!r} does not exist")
        xp, grants = await self._store.learner_xp(actor.learner_id)
        sessions = await self._store.list_sessions(actor.learner_id)
        return Profile(
            learner_id=learner.learner_id,
            display_name=learner.display_name,
            role=learner.role,
            xp=xp,
            level=level_for(xp),
            completed=tuple(grants),
            sessions=tuple(sessions),
        )

    async def leaderboard(self, limit: int = 10) -> list[LeaderboardEntry]:
        """The top learners by XP, without local terminal players who never linked a web account
        (anyone can call themselves anything on their own machine)."""
        asked = limit + 5
        while True:
            fetched = await self._store.leaderboard(asked)
            rows = [row for row in fetched if not is_local_player(row.learner_id)][:limit]
            if len(rows) >= limit or len(fetched) < asked:
                break
            asked *= 2
        return [
            LeaderboardEntry(
                rank, row.learner_id, row.display_name, row.xp, level_for(row.xp), row.completed
            )
            for rank, row in enumerate(rows, start=1)
        ]


LOCAL_PLATFORM = "terminal"


def is_local_player(learner_id: str) -> bool:
    """Whether ``learner_id`` is a terminal player's own, unlinked learner."""
    return learner_id.startswith(f"{LOCAL_PLATFORM}:")
