"""Sessions: create, list, start, view, answer, continue, hint, abandon and the event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from api.deps import ActorDep, ClaimDep, IdempotencyKey, ServicesDep
from api.fast_route import FastRoute
from api.rendering import view_response
from api.schemas.common import errors
from api.schemas.me import SessionSummaryOut
from api.schemas.sessions import (
    AnswerIn,
    CreateSessionIn,
    EventOut,
    SessionViewOut,
    StepIn,
)

# FastRoute: the session routes are the hot path; same OpenAPI and refusals (api/fast_route.py).
# The hottest take the access token's claim (ClaimDep), checked by the request's one statement.
router = APIRouter(prefix="/api/sessions", tags=["sessions"], route_class=FastRoute)

SessionId = Annotated[str, Path(min_length=1, max_length=255)]
VIEW_ERRORS = errors(400, 401, 404, 409, 413, 422, 503)


@router.post("", status_code=201, response_model=SessionViewOut, responses=VIEW_ERRORS)
async def create_session(body: CreateSessionIn, actor: ClaimDep, services: ServicesDep) -> Response:
    return view_response(await services.game.create_session(actor, body.challenge_id), 201)


@router.get("", response_model=list[SessionSummaryOut], responses=errors(401, 503))
async def list_sessions(actor: ActorDep, services: ServicesDep) -> list[SessionSummaryOut]:
    summaries = await services.game.list_sessions(actor)
    return [SessionSummaryOut.model_validate(summary) for summary in summaries]


@router.get("/{session_id}", response_model=SessionViewOut, responses=VIEW_ERRORS)
async def get_session(session_id: SessionId, actor: ClaimDep, services: ServicesDep) -> Response:
    return view_response(await services.game.get_view(actor, session_id))


@router.post("/{session_id}/start", response_model=SessionViewOut, responses=VIEW_ERRORS)
async def start_session(session_id: SessionId, actor: ClaimDep, services: ServicesDep) -> Response:
    return view_response(await services.game.start_session(actor, session_id))


@router.post("/{session_id}/answer", response_model=SessionViewOut, responses=VIEW_ERRORS)
async def answer(
    session_id: SessionId,
    body: AnswerIn,
    actor: ClaimDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    value = tuple(body.answer) if isinstance(body.answer, list) else body.answer
    view = await services.game.submit_answer(
        actor, session_id, body.step_id, value, idempotency_key=idempotency_key
    )
    return view_response(view)


@router.post("/{session_id}/continue", response_model=SessionViewOut, responses=VIEW_ERRORS)
async def continue_gate(
    session_id: SessionId,
    body: StepIn,
    actor: ClaimDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    view = await services.game.continue_gate(
        actor, session_id, body.step_id, idempotency_key=idempotency_key
    )
    return view_response(view)


@router.post("/{session_id}/hint", response_model=SessionViewOut, responses=VIEW_ERRORS)
async def hint(
    session_id: SessionId,
    body: StepIn,
    actor: ClaimDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    view = await services.game.request_hint(
        actor, session_id, body.step_id, idempotency_key=idempotency_key
    )
    return view_response(view)


@router.post("/{session_id}/abandon", response_model=SessionViewOut, responses=VIEW_ERRORS)
async def abandon(session_id: SessionId, actor: ActorDep, services: ServicesDep) -> Response:
    return view_response(await services.game.abandon(actor, session_id))


@router.get(
    "/{session_id}/events", response_model=list[EventOut], responses=errors(401, 404, 422, 503)
)
async def session_events(
    session_id: SessionId, actor: ActorDep, services: ServicesDep
) -> list[EventOut]:
    events = await services.game.session_events(actor, session_id)
    return [
        EventOut(version=e.version, type=e.type, data=e.data, recorded_at=e.recorded_at)
        for e in events
    ]
