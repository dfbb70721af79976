"""The signed-in learner: profile, XP, history, linked chat identities, link codes."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.common import errors
from api.schemas.me import LinkCodeOut, MeOut, me_out

router = APIRouter(prefix="/api/me", tags=["me"], route_class=PrefixRoute)


@router.get("", response_model=MeOut, responses=errors(401, 404, 503))
async def me(actor: ActorDep, services: ServicesDep) -> MeOut:
    return me_out(await services.accounts.profile(actor))


@router.post(
    "/link-code",
    status_code=201,
    response_model=LinkCodeOut,
    responses=errors(401, 404, 503),
    summary="A one-time code to link a Slack or Discord user to this account",
)
async def create_link_code(actor: ActorDep, services: ServicesDep) -> LinkCodeOut:
    return LinkCodeOut.model_validate(await services.accounts.create_link_code(actor))


@router.get(
    "/link-code",
    response_model=LinkCodeOut,
    responses=errors(401, 404, 503),
    summary="The same as POST: a fresh one-time link code",
)
async def get_link_code(actor: ActorDep, services: ServicesDep) -> LinkCodeOut:
    return LinkCodeOut.model_validate(await services.accounts.create_link_code(actor))
