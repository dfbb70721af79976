"""Admin analytics: completions, pass rates, most-failed steps, daily active learners, XP, LLM cost;
and item analysis per challenge for authors and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ActorDep, ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.admin import AnalyticsOut
from api.schemas.common import errors
from core.service.item_analysis import ItemAnalysis, item_analysis_for

router = APIRouter(prefix="/api/admin", tags=["admin"], route_class=PrefixRoute)


@router.get("/analytics", response_model=AnalyticsOut, responses=errors(401, 403, 503))
async def analytics(actor: ActorDep, services: ServicesDep) -> AnalyticsOut:
    return AnalyticsOut.model_validate(await services.analytics.report(actor))


@router.get(
    "/item-analysis/{challenge_id}",
    response_model=ItemAnalysis,
    responses=errors(401, 403, 404, 422, 503),
)
async def item_analysis(
    challenge_id: Annotated[str, Path(min_length=1, max_length=255)],
    actor: ActorDep,
    services: ServicesDep,
) -> ItemAnalysis:
    """Author or admin: per version and step, difficulty, discrimination, wrong-choice picks,
    rubric item hit rates, median attempts and hints, and drop-off (from the event log)."""
    return await item_analysis_for(actor, services.store, services.catalog, challenge_id)
