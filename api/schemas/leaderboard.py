"""The leaderboard."""

from __future__ import annotations

from api.schemas.common import Out


class LeaderboardEntryOut(Out):
    rank: int
    learner_id: str
    display_name: str
    xp: int
    level: int
    completed: int
