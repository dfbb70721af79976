"""Top learners by XP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.common import errors
from api.schemas.leaderboard import LeaderboardEntryOut

router = APIRouter(prefix="/api/leaderboard", tags=["leaderboard"], route_class=PrefixRoute)


@router.get("", response_model=list[LeaderboardEntryOut], responses=errors(422, 503))
async def leaderboard(
    services: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> list[LeaderboardEntryOut]:
    entries = await services.learners.leaderboard(limit)
    return [LeaderboardEntryOut.model_validate(entry) for entry in entries]
