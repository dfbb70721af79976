"""Human review of chat grades (issue 14): reviewers, authors and admins; learners get 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import ActorDep, ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.common import errors
from api.schemas.review import (
    AppliedReviewOut,
    QueuedGradeOut,
    ReviewIn,
    ReviewQueueOut,
    ReviewStatsOut,
    StepAgreementOut,
)
from core.bootstrap import Services
from core.service.review import ReviewService
from core.store.base import StoreUnavailable

router = APIRouter(prefix="/api/review", tags=["review"], route_class=PrefixRoute)

Id = Annotated[str | None, Query(min_length=1, max_length=255)]


def _review(services: Services) -> ReviewService:
    if services.review is None:
        raise StoreUnavailable("the services are not ready yet")
    return services.review


@router.get("/queue", response_model=ReviewQueueOut, responses=errors(401, 403, 422, 503))
async def queue(
    actor: ActorDep,
    services: ServicesDep,
    challenge_id: Id = None,
    step_id: Id = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReviewQueueOut:
    rows = await _review(services).queue(
        actor, challenge_id=challenge_id, step_id=step_id, limit=limit
    )
    return ReviewQueueOut(items=[QueuedGradeOut.model_validate(row) for row in rows])


@router.get("/stats", response_model=ReviewStatsOut, responses=errors(401, 403, 422, 503))
async def stats(
    actor: ActorDep,
    services: ServicesDep,
    challenge_id: Annotated[str, Query(min_length=1, max_length=255)],
) -> ReviewStatsOut:
    steps = await _review(services).stats(actor, challenge_id)
    return ReviewStatsOut(
        challenge_id=challenge_id, steps=[StepAgreementOut.model_validate(s) for s in steps]
    )


@router.post(
    "/{review_id}",
    response_model=AppliedReviewOut,
    responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
)
async def review(
    review_id: Annotated[str, Path(min_length=1, max_length=255)],
    body: ReviewIn,
    actor: ActorDep,
    services: ServicesDep,
) -> AppliedReviewOut:
    applied = await _review(services).review(
        actor,
        review_id,
        passed=body.passed,
        items=body.items,
        comment=body.comment,
        replace=body.replace,
    )
    return AppliedReviewOut.model_validate(applied)
