"""``GET /api/sessions/{id}/stream``: the session view pushed over Server-Sent Events whenever it
changes (a grade a worker recorded, a teacher's review, a hint), instead of waiting on a POST.

Auth is the usual ``Authorization: Bearer`` header: the SPA reads the stream with ``fetch()`` and
a ReadableStream (``static/js/stream.js``), not ``EventSource``, which cannot send headers (and a
token in the URL would end up in logs). Only the session's learner, or an admin reading, may
subscribe. The token is checked again on every wake-up and heartbeat: a sign-out, a revoked or
an expired token ends the stream with an ``end`` event (the client then refreshes and reconnects).
The stream also listens on the learner's own topic, on which the account service publishes when
their access tokens stop working (sign-out, refresh-token reuse, a role change), so those end it
at once, whichever process it is served by, rather than at the next heartbeat.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import ActorDep, RuntimeDep, ServicesDep, bearer
from api.rendering import render_view
from api.runtime import Runtime
from api.schemas.common import errors
from core.bootstrap import Services
from core.errors import DomainError, Unauthorized
from core.service.actor import Actor
from core.service.session_changes import learner_topic

router = APIRouter(prefix="/api/sessions", tags=["sessions"])

HEARTBEAT_SECONDS = 15.0


@router.get(
    "/{session_id}/stream",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`view` events (the session view as JSON, id = its version), "
            "`end` when the sign-in ends; comments as heartbeats.",
        },
        **errors(401, 404, 422, 503),
    },
    response_class=EventSourceResponse,
)
async def stream_session(
    session_id: Annotated[str, Path(min_length=1, max_length=255)],
    actor: ActorDep,
    services: ServicesDep,
    runtime: RuntimeDep,
    token: Annotated[str | None, Depends(bearer)],
) -> EventSourceResponse:
    await services.game.read_view(actor, session_id)  # 404 unless theirs (or an admin's read)
    assert token is not None  # ActorDep refused a request without one
    events = _events(services, runtime, actor, token, session_id)
    return EventSourceResponse(
        events, ping=HEARTBEAT_SECONDS, headers={"X-Accel-Buffering": "no"}, send_timeout=30
    )


async def _events(
    services: Services, runtime: Runtime, actor: Actor, token: str, session_id: str
) -> AsyncIterator[ServerSentEvent]:
    assert services.changes is not None
    sent = -1
    async with services.changes.subscription(
        session_id, learner_topic(actor.learner_id)
    ) as changes:
        while True:
            try:
                # expired since? signed out since?
                await services.accounts.check_access(runtime.tokens.verify(token))
                view = await services.game.read_view(actor, session_id)
            except Unauthorized as error:
                yield ServerSentEvent(json.dumps({"detail": str(error)}), event="end")
                return
            except DomainError:
                yield ServerSentEvent(json.dumps({"detail": "this session is gone"}), event="end")
                return
            if view.version != sent:
                sent = view.version
                yield ServerSentEvent(
                    json.dumps(render_view(view), ensure_ascii=False), event="view", id=str(sent)
                )
            await changes.wait(HEARTBEAT_SECONDS)
