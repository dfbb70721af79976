"""``/metrics``: the process's Prometheus registry (HTTP, sessions, LLM) as text.

With ``METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``; in production
without one, ``/metrics`` is not served on the public app at all (404).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import RuntimeDep, ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.common import errors
from core.errors import NotFound, Unauthorized

router = APIRouter(tags=["operations"], route_class=PrefixRoute)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **errors(401, 404),
    },
)
async def metrics(
    services: ServicesDep,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    token = runtime.settings.metrics_token
    if token is not None:
        scheme, _, credentials = (authorization or "").partition(" ")
        expected = token.get_secret_value().encode("utf-8")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.strip().encode("utf-8"), expected
        ):
            raise Unauthorized("send the metrics token as Authorization: Bearer …")
    elif runtime.settings.env == "production":
        raise NotFound("not found")
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)
