"""The public challenge catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.challenges import ChallengeDetailOut, ChallengeOut, challenge_detail, challenge_out
from api.schemas.common import errors

router = APIRouter(prefix="/api/challenges", tags=["challenges"], route_class=PrefixRoute)

ChallengeId = Annotated[str, Path(min_length=1, max_length=255)]


@router.get("", response_model=list[ChallengeOut], responses=errors(503))
async def list_challenges(services: ServicesDep) -> list[ChallengeOut]:
    return [challenge_out(summary) for summary in await services.catalog.summaries()]


@router.get("/{challenge_id}", response_model=ChallengeDetailOut, responses=errors(404, 422, 503))
async def get_challenge(challenge_id: ChallengeId, services: ServicesDep) -> ChallengeDetailOut:
    return challenge_detail(await services.catalog.latest_spec(challenge_id))
