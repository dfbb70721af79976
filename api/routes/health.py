"""``/health``: is the process up, and can it reach its database?"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep
from api.fast_route import PrefixRoute
from api.schemas.health import HealthOut
from core.store.base import StoreUnavailable

router = APIRouter(tags=["operations"], route_class=PrefixRoute)
log = logging.getLogger(__name__)
PING_TIMEOUT_SECONDS = 5.0

try:
    VERSION = version("curiouscore")
except PackageNotFoundError:  # running from a tree that was never installed
    VERSION = "0+unknown"


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database cannot be reached"}},
)
async def health(runtime: RuntimeDep) -> JSONResponse:
    connected = False
    if runtime.services is not None:
        try:
            await asyncio.wait_for(runtime.services.store.ping(), PING_TIMEOUT_SECONDS)
            connected = True
        except (StoreUnavailable, TimeoutError, OSError) as error:
            log.warning("health check: database unavailable: %s", error)
    body = HealthOut(
        status="healthy" if connected else "unhealthy",
        database="connected" if connected else "unavailable",
        timestamp=datetime.now(UTC).isoformat(timespec="milliseconds"),
        version=VERSION,
    )
    return JSONResponse(body.model_dump(), status_code=200 if connected else 503)


@router.get("/livez", summary="Liveness: the process answers (no database involved)")
async def livez() -> dict[str, str]:
    return {"status": "alive"}
