"""Admin analytics: completions, pass rates, most-failed steps, daily active learners, XP, LLM cost."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, ServicesDep
from api.schemas.admin import AnalyticsOut
from api.schemas.common import errors

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/analytics", response_model=AnalyticsOut, responses=errors(401, 403, 503))
async def analytics(actor: ActorDep, services: ServicesDep) -> AnalyticsOut:
    return AnalyticsOut.model_validate(await services.analytics.report(actor))
